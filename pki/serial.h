#ifndef MANDANT_PKI_SERIAL_H_
#define MANDANT_PKI_SERIAL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include <openssl/asn1.h>

#include "pki/openssl_ptr.h"

namespace mandant::pki {

// Certificate serial numbers: 128 random bits from the OpenSSL DRBG, read as
// an unsigned integer. DER encodes an INTEGER in two's complement, so a
// value with the top bit set gets a leading zero byte and stays positive (17
// bytes, within RFC 5280's limit of 20). Zero is never returned.
// INTERNAL when the DRBG fails.
absl::StatusOr<Asn1IntegerPtr> RandomSerial();

// Lower-case hex without separators or leading zeros ("0" for zero), the
// form used in resource names. INVALID_ARGUMENT for a negative serial.
absl::StatusOr<std::string> SerialToHex(const ASN1_INTEGER* serial);

// The inverse of SerialToHex; upper-case digits are accepted. INVALID_ARGUMENT
// for anything but 1-40 hex digits.
absl::StatusOr<Asn1IntegerPtr> SerialFromHex(absl::string_view hex);

}  // namespace mandant::pki

#endif  // MANDANT_PKI_SERIAL_H_
