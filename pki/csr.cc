#include "pki/csr.h"

#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "pki/encoding.h"
#include "pki/openssl_error.h"

namespace mandant::pki {
namespace {

constexpr int kMaxCommonName = 64;

absl::StatusOr<std::string> ReadCommonName(const X509_NAME* subject) {
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return std::string();
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("CSR subject CN is not text");
  }
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  if (cn.size() > kMaxCommonName) {
    return absl::InvalidArgumentError(
        absl::StrCat("CSR subject CN is longer than ", kMaxCommonName, " characters"));
  }
  for (char c : cn) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("CSR subject CN contains a control character");
    }
  }
  return cn;
}

absl::StatusOr<SubjectAltNames> ReadSubjectAltNames(X509_REQ* req) {
  X509ExtensionStackPtr exts(X509_REQ_get_extensions(req));
  if (exts == nullptr) return SubjectAltNames();
  int critical = -1;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509V3_get_d2i(exts.get(), NID_subject_alt_name, &critical, nullptr)));
  if (names == nullptr) {
    if (critical == -2) {
      return absl::InvalidArgumentError("CSR requests more than one subjectAltName extension");
    }
    if (critical >= 0) {
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          "CSR subjectAltName extension does not parse");
    }
    return SubjectAltNames();
  }
  absl::StatusOr<SubjectAltNames> out = FromGeneralNames(names.get());
  if (!out.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("CSR: ", out.status().message()));
  }
  return out;
}

}  // namespace

absl::StatusOr<ParsedCsr> ParseCsr(absl::string_view pem_or_der) {
  if (pem_or_der.size() > kMaxCsrSize) {
    return absl::InvalidArgumentError(absl::StrCat("CSR of ", pem_or_der.size(),
                                                   " bytes is larger than the limit of ",
                                                   kMaxCsrSize, " bytes"));
  }
  absl::StatusOr<X509ReqPtr> req = DecodeCsr(pem_or_der);
  if (!req.ok()) return req.status();
  ClearOpenSslErrors();
  EVP_PKEY* key = X509_REQ_get0_pubkey(req->get());
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "CSR public key does not parse");
  }
  if (X509_REQ_verify(req->get(), key) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "CSR signature does not verify with its public key");
  }
  absl::StatusOr<KeyInfo> info = ClassifyKey(key);
  if (!info.ok()) return absl::InvalidArgumentError(absl::StrCat("CSR: ", info.status().message()));
  if (absl::Status s = ValidatePublicKey(key, *info); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("CSR: ", s.message()));
  }
  absl::StatusOr<std::string> cn = ReadCommonName(X509_REQ_get_subject_name(req->get()));
  if (!cn.ok()) return cn.status();
  absl::StatusOr<SubjectAltNames> names = ReadSubjectAltNames(req->get());
  if (!names.ok()) return names.status();
  ParsedCsr out;
  out.public_key = UpRef(key);
  out.request = *std::move(req);
  out.key = *info;
  out.common_name = *std::move(cn);
  out.subject_alt_names = *std::move(names);
  return out;
}

absl::StatusOr<X509ReqPtr> BuildCsr(EVP_PKEY* key, absl::string_view common_name,
                                    const SubjectAltNames& names) {
  ClearOpenSslErrors();
  if (key == nullptr) return absl::InvalidArgumentError("no key to sign the CSR with");
  X509ReqPtr req(X509_REQ_new());
  if (req == nullptr || !X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) ||
      !X509_REQ_set_pubkey(req.get(), key)) {
    return OpenSslError("building a CSR failed");
  }
  if (!common_name.empty() &&
      !X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req.get()), NID_commonName,
                                  MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(common_name.data()),
                                  static_cast<int>(common_name.size()), -1, 0)) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "CSR common name is not valid");
  }
  if (!names.empty()) {
    absl::StatusOr<GeneralNamesPtr> gens = ToGeneralNames(names);
    if (!gens.ok()) return gens.status();
    X509ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
    X509ExtensionPtr ext(X509V3_EXT_i2d(NID_subject_alt_name, 0, gens->get()));
    if (exts == nullptr || ext == nullptr || !sk_X509_EXTENSION_push(exts.get(), ext.get())) {
      return OpenSslError("building the CSR's subjectAltName failed");
    }
    ext.release();
    if (!X509_REQ_add_extensions(req.get(), exts.get())) {
      return OpenSslError("adding the CSR's extensions failed");
    }
  }
  const EVP_MD* md = EVP_sha256();
  if (absl::StatusOr<KeyInfo> info = ClassifyKey(key); info.ok()) {
    md = SignatureDigest(info->type);
  } else if (EVP_PKEY_is_a(key, "ED448")) {
    md = nullptr;
  }
  if (X509_REQ_sign(req.get(), key, md) <= 0) return OpenSslError("signing the CSR failed");
  return req;
}

}  // namespace mandant::pki
