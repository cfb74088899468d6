#include "pki/csr.h"

#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

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

// OpenSSL 3.0 decodes the key of every SubjectPublicKeyInfo it parses, on
// the spot, through its provider decoders, and sets up the decoder chain
// afresh each time: about 200 us, more than verifying the CSR's signature.
// CSRs are therefore parsed in a library context that holds only the null
// provider, where that decoding finds no decoder and gives up at once, and
// the key is decoded once, by DecodePublicKey. Made on first use and never
// changed; null (parse in the default context, slower but the same result)
// when OpenSSL cannot make it.
OSSL_LIB_CTX* ContextWithoutDecoders() {
  static OSSL_LIB_CTX* const context = [] {
    OSSL_LIB_CTX* ctx = OSSL_LIB_CTX_new();
    if (ctx != nullptr && OSSL_PROVIDER_load(ctx, "null") == nullptr) {
      OSSL_LIB_CTX_free(ctx);
      ctx = nullptr;
    }
    ClearOpenSslErrors();
    return ctx;
  }();
  return context;
}

// The DER of a PEM or DER CSR, as DecodeCsr reads them.
class CsrDer {
 public:
  static absl::StatusOr<CsrDer> Read(absl::string_view pem_or_der) {
    if (pem_or_der.empty()) return absl::InvalidArgumentError("CSR is empty");
    CsrDer out;
    out.is_pem_ = IsPem(pem_or_der);
    if (!out.is_pem_) {
      out.der_ = pem_or_der;
      return out;
    }
    // PEM readers want "-----BEGIN" at the start of a line.
    const absl::string_view pem = absl::StripLeadingAsciiWhitespace(pem_or_der);
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    unsigned char* data = nullptr;
    long len = 0;
    char* name = nullptr;
    // Also takes "NEW CERTIFICATE REQUEST".
    if (bio == nullptr || PEM_bytes_read_bio(&data, &len, &name, PEM_STRING_X509_REQ, bio.get(),
                                             nullptr, nullptr) != 1) {
      return out.Error();
    }
    OPENSSL_free(name);
    out.pem_data_.reset(data);
    out.der_ = absl::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(len));
    return out;
  }

  absl::string_view der() const { return der_; }
  absl::Status Error() const {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat("CSR does not parse as ", is_pem_ ? "PEM" : "DER"));
  }

 private:
  struct Free {
    void operator()(unsigned char* p) const { OPENSSL_free(p); }
  };
  bool is_pem_ = false;
  std::unique_ptr<unsigned char, Free> pem_data_;
  absl::string_view der_;
};

}  // namespace

absl::StatusOr<ParsedCsr> ParseCsr(absl::string_view pem_or_der) {
  if (pem_or_der.size() > kMaxCsrSize) {
    return absl::InvalidArgumentError(absl::StrCat("CSR of ", pem_or_der.size(),
                                                   " bytes is larger than the limit of ",
                                                   kMaxCsrSize, " bytes"));
  }
  ClearOpenSslErrors();
  absl::StatusOr<CsrDer> der = CsrDer::Read(pem_or_der);
  if (!der.ok()) return der.status();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der->der().data());
  X509ReqPtr req(reinterpret_cast<X509_REQ*>(
      ASN1_item_d2i_ex(nullptr, &p, static_cast<long>(der->der().size()), ASN1_ITEM_rptr(X509_REQ),
                       ContextWithoutDecoders(), nullptr)));
  if (req == nullptr) return der->Error();
  absl::StatusOr<EvpPkeyPtr> public_key = DecodePublicKey(X509_REQ_get_X509_PUBKEY(req.get()));
  if (!public_key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("CSR ", public_key.status().message()));
  }
  EVP_PKEY* key = public_key->get();
  // In the default context: the request's own is the one without decoders.
  if (X509_REQ_verify_ex(req.get(), key, nullptr, nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "CSR signature does not verify with its public key");
  }
  absl::StatusOr<KeyInfo> info = ClassifyKey(key);
  if (!info.ok()) return absl::InvalidArgumentError(absl::StrCat("CSR: ", info.status().message()));
  if (absl::Status s = ValidatePublicKey(key, *info); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("CSR: ", s.message()));
  }
  absl::StatusOr<std::string> cn = ReadCommonName(X509_REQ_get_subject_name(req.get()));
  if (!cn.ok()) return cn.status();
  absl::StatusOr<SubjectAltNames> names = ReadSubjectAltNames(req.get());
  if (!names.ok()) return names.status();
  ParsedCsr out;
  out.public_key = *std::move(public_key);
  out.request = std::move(req);
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
