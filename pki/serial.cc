#include "pki/serial.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pki/openssl_error.h"

namespace mandant::pki {

absl::StatusOr<Asn1IntegerPtr> RandomSerial() {
  ClearOpenSslErrors();
  unsigned char bytes[16];
  BignumPtr bn;
  do {
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
      return OpenSslError("generating a random serial number failed");
    }
    bn.reset(BN_bin2bn(bytes, sizeof(bytes), nullptr));
    if (bn == nullptr) return OpenSslError("generating a random serial number failed");
  } while (BN_is_zero(bn.get()));
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (serial == nullptr) return OpenSslError("encoding a serial number failed");
  return serial;
}

absl::StatusOr<std::string> SerialToHex(const ASN1_INTEGER* serial) {
  ClearOpenSslErrors();
  BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (bn == nullptr) return OpenSslError(absl::StatusCode::kInvalidArgument, "malformed serial");
  if (BN_is_negative(bn.get())) {
    return absl::InvalidArgumentError("negative serial numbers are not allowed (RFC 5280)");
  }
  if (BN_is_zero(bn.get())) return std::string("0");
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return OpenSslError("formatting a serial failed");
  std::string out(hex);
  OPENSSL_free(hex);
  const size_t first = out.find_first_not_of('0');
  return absl::AsciiStrToLower(out.substr(first));
}

absl::StatusOr<Asn1IntegerPtr> SerialFromHex(absl::string_view hex) {
  if (hex.empty() || hex.size() > 40) {
    return absl::InvalidArgumentError(
        absl::StrCat("serial \"", hex, "\" must be 1 to 40 hex digits"));
  }
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("serial \"", hex, "\" must be 1 to 40 hex digits"));
    }
  }
  ClearOpenSslErrors();
  const std::string text(hex);
  BIGNUM* raw = nullptr;
  if (BN_hex2bn(&raw, text.c_str()) == 0) return OpenSslError("parsing a serial failed");
  BignumPtr bn(raw);
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (serial == nullptr) return OpenSslError("encoding a serial number failed");
  return serial;
}

}  // namespace mandant::pki
