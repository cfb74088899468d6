#include "pki/certificate_info.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include <openssl/x509v3.h>

#include "pki/asn1_time.h"
#include "pki/encoding.h"
#include "pki/openssl_error.h"
#include "pki/serial.h"

namespace mandant::pki {

absl::StatusOr<CertificateInfo> DescribeCertificate(const X509* cert) {
  if (cert == nullptr) return absl::InvalidArgumentError("no certificate");
  ClearOpenSslErrors();
  CertificateInfo info;
  absl::StatusOr<std::string> serial = SerialToHex(X509_get0_serialNumber(cert));
  if (!serial.ok()) return serial.status();
  info.serial_hex = *std::move(serial);
  info.subject = NameToString(X509_get_subject_name(cert));
  info.issuer = NameToString(X509_get_issuer_name(cert));

  int critical = -1;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, nullptr)));
  if (names == nullptr && critical != -1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "certificate subjectAltName is malformed or repeated");
  }
  absl::StatusOr<SubjectAltNames> sans = FromGeneralNames(names.get());
  if (!sans.ok()) return sans.status();
  info.subject_alt_names = *std::move(sans);

  Asn1ObjectStackPtr eku(static_cast<STACK_OF(ASN1_OBJECT)*>(
      X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  for (int i = 0; eku != nullptr && i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    const int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i));
    if (nid == NID_server_auth) info.extended_key_usages.push_back(ExtendedKeyUsage::kServerAuth);
    if (nid == NID_client_auth) info.extended_key_usages.push_back(ExtendedKeyUsage::kClientAuth);
  }

  BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert, NID_basic_constraints, nullptr, nullptr)));
  if (bc != nullptr && bc->ca) {
    info.is_ca = true;
    if (bc->pathlen != nullptr) info.path_length = static_cast<int>(ASN1_INTEGER_get(bc->pathlen));
  }

  const EVP_PKEY* key = X509_get0_pubkey(cert);
  absl::StatusOr<KeyInfo> key_info = ClassifyKey(key);
  if (!key_info.ok()) return key_info.status();
  info.key = *key_info;
  absl::StatusOr<std::string> hash = PublicKeySha256Hex(X509_get_X509_PUBKEY(cert));
  if (!hash.ok()) return hash.status();
  info.public_key_sha256 = *std::move(hash);

  absl::StatusOr<absl::Time> not_before = FromAsn1Time(X509_get0_notBefore(cert));
  if (!not_before.ok()) return not_before.status();
  absl::StatusOr<absl::Time> not_after = FromAsn1Time(X509_get0_notAfter(cert));
  if (!not_after.ok()) return not_after.status();
  info.not_before = *not_before;
  info.not_after = *not_after;
  ClearOpenSslErrors();
  return info;
}

}  // namespace mandant::pki
