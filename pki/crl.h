#ifndef MANDANT_PKI_CRL_H_
#define MANDANT_PKI_CRL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pki/certificate_authority.h"
#include "pki/openssl_ptr.h"

namespace mandant::pki {

// The CRLReason codes of RFC 5280 5.3.1, with their numbers.
enum class RevocationReason {
  kUnspecified = 0,
  kKeyCompromise = 1,
  kCaCompromise = 2,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,
  // Refused by BuildCrl: Mandant has no temporary holds.
  kCertificateHold = 6,
  // Refused by BuildCrl: meaningful only in delta CRLs.
  kRemoveFromCrl = 8,
  kPrivilegeWithdrawn = 9,
  kAaCompromise = 10,
};

struct RevokedCertificate {
  // As SerialToHex writes it.
  std::string serial_hex;
  absl::Time revocation_time;
  RevocationReason reason = RevocationReason::kUnspecified;
};

struct CrlSpec {
  // The cRLNumber extension: >= 0, and larger for every new CRL of the
  // issuer (the caller keeps the count).
  int64_t crl_number = 0;
  absl::Time this_update;
  absl::Time next_update;
  std::vector<RevokedCertificate> revoked;
};

struct SignedCrl {
  X509CrlPtr crl;
  std::string der;
  std::string pem;
};

// Builds and signs a v2 CRL for `issuer`: issuer name, thisUpdate,
// nextUpdate, the revoked serials sorted, each with its revocation date and
// a reasonCode extension (left out for kUnspecified, as RFC 5280 advises),
// and the cRLNumber and authorityKeyIdentifier extensions.
// INVALID_ARGUMENT for a negative crl_number, next_update not after
// this_update, a malformed or repeated serial, or a refused reason.
// FAILED_PRECONDITION when the issuer's key usage lacks cRLSign. Thread-safe.
absl::StatusOr<SignedCrl> BuildCrl(const CertificateAuthority& issuer, const CrlSpec& spec);

}  // namespace mandant::pki

#endif  // MANDANT_PKI_CRL_H_
