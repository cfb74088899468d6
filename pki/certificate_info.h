#ifndef MANDANT_PKI_CERTIFICATE_INFO_H_
#define MANDANT_PKI_CERTIFICATE_INFO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include <openssl/x509.h>

#include "pki/certificate_builder.h"
#include "pki/key.h"
#include "pki/subject_alt_names.h"

namespace mandant::pki {

// What the certificate inventory records about a certificate.
struct CertificateInfo {
  // Lower-case hex without leading zeros (pki/serial.h).
  std::string serial_hex;
  // RFC 4514.
  std::string subject;
  std::string issuer;
  SubjectAltNames subject_alt_names;
  std::vector<ExtendedKeyUsage> extended_key_usages;
  KeyInfo key;
  // pki/encoding.h PublicKeySha256Hex.
  std::string public_key_sha256;
  absl::Time not_before;
  absl::Time not_after;
  bool is_ca = false;
  // -1 when not set.
  int path_length = -1;
};

// Reads `cert`. INVALID_ARGUMENT for a certificate Mandant would not issue
// (unsupported key, SAN types other than DNS/URI/IP, malformed fields).
// Thread-safe.
absl::StatusOr<CertificateInfo> DescribeCertificate(const X509* cert);

}  // namespace mandant::pki

#endif  // MANDANT_PKI_CERTIFICATE_INFO_H_
