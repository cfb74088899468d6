#include "pki/encoding.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "common/sha256.h"
#include "pki/openssl_error.h"

namespace mandant::pki {
namespace {

// Never prompt for a PEM password on a terminal: encrypted keys are refused.
int NoPassword(char*, int, int, void*) { return 0; }

absl::StatusOr<BioPtr> ReadBio(absl::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("input is too large");
  }
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (bio == nullptr) return OpenSslError("allocating a memory BIO failed");
  return bio;
}

absl::StatusOr<BioPtr> WriteBio(bool secure) {
  BioPtr bio(BIO_new(secure ? BIO_s_secmem() : BIO_s_mem()));
  if (bio == nullptr) return OpenSslError("allocating a memory BIO failed");
  return bio;
}

absl::string_view BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return absl::string_view(data, len > 0 ? static_cast<size_t>(len) : 0);
}

// Runs `write` on a fresh memory BIO and returns what it wrote.
template <typename Write>
absl::StatusOr<std::string> Encode(absl::string_view what, Write write) {
  ClearOpenSslErrors();
  absl::StatusOr<BioPtr> bio = WriteBio(false);
  if (!bio.ok()) return bio.status();
  if (write(bio->get()) <= 0) return OpenSslError(absl::StrCat("encoding ", what, " failed"));
  return std::string(BioContents(bio->get()));
}

template <typename Write>
absl::StatusOr<SecretBytes> EncodeSecret(absl::string_view what, Write write) {
  ClearOpenSslErrors();
  absl::StatusOr<BioPtr> bio = WriteBio(true);
  if (!bio.ok()) return bio.status();
  if (write(bio->get()) <= 0) return OpenSslError(absl::StrCat("encoding ", what, " failed"));
  return SecretBytes(BioContents(bio->get()));
}

// Runs `pem` or `der` on a BIO over `data`, whichever fits its form.
template <typename T, typename Pem, typename Der>
absl::StatusOr<T> Decode(absl::string_view what, absl::string_view data, Pem pem, Der der) {
  ClearOpenSslErrors();
  if (data.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  const bool is_pem = IsPem(data);
  // PEM readers want "-----BEGIN" at the start of a line.
  absl::StatusOr<BioPtr> bio = ReadBio(is_pem ? absl::StripLeadingAsciiWhitespace(data) : data);
  if (!bio.ok()) return bio.status();
  T out(is_pem ? pem(bio->get()) : der(bio->get()));
  if (out == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat(what, " does not parse as ", is_pem ? "PEM" : "DER"));
  }
  return out;
}

// The PEM armour OpenSSL's writers produce: base64 in lines of 64
// characters, each ended by a newline.
std::string PemArmor(absl::string_view label, absl::string_view der) {
  const std::string base64 = absl::Base64Escape(der);
  std::string out;
  out.reserve(base64.size() + base64.size() / 64 + 2 * label.size() + 40);
  absl::StrAppend(&out, "-----BEGIN ", label, "-----\n");
  for (size_t i = 0; i < base64.size(); i += 64) {
    absl::StrAppend(&out, absl::string_view(base64).substr(i, 64), "\n");
  }
  absl::StrAppend(&out, "-----END ", label, "-----\n");
  return out;
}

// DER through i2d, without a BIO.
template <typename T>
absl::StatusOr<std::string> ToDer(absl::string_view what, const T* object,
                                  int (*i2d)(const T*, unsigned char**)) {
  ClearOpenSslErrors();
  unsigned char* der = nullptr;
  const int len = i2d(object, &der);
  if (len <= 0) return OpenSslError(absl::StrCat("encoding ", what, " failed"));
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace

bool IsPem(absl::string_view data) {
  return absl::StartsWith(absl::StripLeadingAsciiWhitespace(data), "-----BEGIN ");
}

// Certificates are encoded on every issuance: i2d and the armour directly
// cost about half of OpenSSL's PEM writer on a memory BIO (less for a
// freshly signed certificate, whose i2d re-encodes every field), and give
// the same bytes.
absl::StatusOr<std::string> CertificateToPem(const X509* cert) {
  absl::StatusOr<std::string> der = ToDer("a certificate", cert, i2d_X509);
  if (!der.ok()) return der.status();
  return PemArmor(PEM_STRING_X509, *der);
}

absl::StatusOr<std::string> CertificateToDer(const X509* cert) {
  return ToDer("a certificate", cert, i2d_X509);
}

absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem_or_der) {
  return Decode<X509Ptr>(
      "certificate", pem_or_der,
      [](BIO* b) { return PEM_read_bio_X509(b, nullptr, NoPassword, nullptr); },
      [](BIO* b) { return d2i_X509_bio(b, nullptr); });
}

absl::StatusOr<std::vector<X509Ptr>> ParseCertificateBundle(absl::string_view pem) {
  ClearOpenSslErrors();
  absl::StatusOr<BioPtr> bio = ReadBio(pem);
  if (!bio.ok()) return bio.status();
  std::vector<X509Ptr> out;
  while (X509* cert = PEM_read_bio_X509(bio->get(), nullptr, NoPassword, nullptr)) {
    out.emplace_back(cert);
  }
  const unsigned long err = ERR_peek_last_error();
  const bool at_end = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  if (at_end || err == 0) {
    ClearOpenSslErrors();
    if (out.empty()) {
      return absl::InvalidArgumentError("certificate bundle contains no PEM certificate");
    }
    return out;
  }
  return OpenSslError(
      absl::StatusCode::kInvalidArgument,
      absl::StrCat("certificate bundle: certificate ", out.size() + 1, " does not parse"));
}

absl::StatusOr<std::string> CsrToPem(const X509_REQ* csr) {
  return Encode("a CSR", [csr](BIO* b) { return PEM_write_bio_X509_REQ(b, csr); });
}

absl::StatusOr<std::string> CsrToDer(const X509_REQ* csr) {
  return Encode("a CSR", [csr](BIO* b) { return i2d_X509_REQ_bio(b, csr); });
}

absl::StatusOr<X509ReqPtr> DecodeCsr(absl::string_view pem_or_der) {
  return Decode<X509ReqPtr>(
      "CSR", pem_or_der,
      [](BIO* b) { return PEM_read_bio_X509_REQ(b, nullptr, NoPassword, nullptr); },
      [](BIO* b) { return d2i_X509_REQ_bio(b, nullptr); });
}

absl::StatusOr<std::string> CrlToPem(const X509_CRL* crl) {
  return Encode("a CRL", [crl](BIO* b) { return PEM_write_bio_X509_CRL(b, crl); });
}

absl::StatusOr<std::string> CrlToDer(const X509_CRL* crl) {
  return Encode("a CRL", [crl](BIO* b) { return i2d_X509_CRL_bio(b, crl); });
}

absl::StatusOr<X509CrlPtr> ParseCrl(absl::string_view pem_or_der) {
  return Decode<X509CrlPtr>(
      "CRL", pem_or_der,
      [](BIO* b) { return PEM_read_bio_X509_CRL(b, nullptr, NoPassword, nullptr); },
      [](BIO* b) { return d2i_X509_CRL_bio(b, nullptr); });
}

absl::StatusOr<SecretBytes> PrivateKeyToPem(const EVP_PKEY* key) {
  return EncodeSecret("a private key", [key](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

absl::StatusOr<SecretBytes> PrivateKeyToDer(const EVP_PKEY* key) {
  return EncodeSecret("a private key", [key](BIO* b) {
    return i2d_PKCS8PrivateKey_bio(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(absl::string_view pem_or_der) {
  if (absl::StrContains(pem_or_der.substr(0, 200), "-----BEGIN ENCRYPTED PRIVATE KEY")) {
    return absl::InvalidArgumentError(
        "private key is password-encrypted; give the key unencrypted (protect the file instead)");
  }
  return Decode<EvpPkeyPtr>(
      "private key", pem_or_der,
      [](BIO* b) { return PEM_read_bio_PrivateKey(b, nullptr, NoPassword, nullptr); },
      [](BIO* b) { return d2i_PrivateKey_bio(b, nullptr); });
}

absl::StatusOr<std::string> PublicKeyToPem(const EVP_PKEY* key) {
  return Encode("a public key", [key](BIO* b) { return PEM_write_bio_PUBKEY(b, key); });
}

absl::StatusOr<std::string> PublicKeyToDer(const EVP_PKEY* key) {
  return Encode("a public key", [key](BIO* b) { return i2d_PUBKEY_bio(b, key); });
}

absl::StatusOr<EvpPkeyPtr> ParsePublicKey(absl::string_view pem_or_der) {
  return Decode<EvpPkeyPtr>(
      "public key", pem_or_der,
      [](BIO* b) { return PEM_read_bio_PUBKEY(b, nullptr, NoPassword, nullptr); },
      [](BIO* b) { return d2i_PUBKEY_bio(b, nullptr); });
}

absl::StatusOr<std::string> PublicKeySha256Hex(const EVP_PKEY* key) {
  absl::StatusOr<std::string> der = PublicKeyToDer(key);
  if (!der.ok()) return der.status();
  return Sha256Hex(*der);
}

absl::StatusOr<std::string> PublicKeySha256Hex(const X509_PUBKEY* spki) {
  ClearOpenSslErrors();
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(spki, &der);
  if (len <= 0) return OpenSslError("encoding a public key failed");
  absl::StatusOr<std::string> hash =
      Sha256Hex(absl::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
  OPENSSL_free(der);
  return hash;
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || name == nullptr) return "";
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return std::string(BioContents(bio.get()));
}

}  // namespace mandant::pki
