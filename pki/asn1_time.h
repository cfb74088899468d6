#ifndef MANDANT_PKI_ASN1_TIME_H_
#define MANDANT_PKI_ASN1_TIME_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include <openssl/asn1.h>

#include "pki/openssl_ptr.h"

namespace mandant::pki {

// Certificate and CRL times, which X.509 keeps in whole seconds (UTCTime
// through 2049, GeneralizedTime after, as RFC 5280 requires).

// Rounds `t` down to the second. INVALID_ARGUMENT for a time before year 0
// or after 9999.
absl::StatusOr<Asn1TimePtr> ToAsn1Time(absl::Time t);
// INVALID_ARGUMENT for a malformed time.
absl::StatusOr<absl::Time> FromAsn1Time(const ASN1_TIME* t);
// "2025-03-01T12:00:00Z", for messages.
std::string FormatCertTime(absl::Time t);

}  // namespace mandant::pki

#endif  // MANDANT_PKI_ASN1_TIME_H_
