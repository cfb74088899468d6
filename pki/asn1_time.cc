#include "pki/asn1_time.h"

#include <ctime>

#include "absl/strings/str_cat.h"

#include "pki/openssl_error.h"

namespace mandant::pki {

absl::StatusOr<Asn1TimePtr> ToAsn1Time(absl::Time t) {
  static const absl::Time kMin = absl::FromCivil(absl::CivilSecond(0, 1, 1), absl::UTCTimeZone());
  static const absl::Time kMax =
      absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone());
  if (t < kMin || t > kMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("time ", FormatCertTime(t), " cannot be written into a certificate"));
  }
  ClearOpenSslErrors();
  Asn1TimePtr out(ASN1_TIME_set(nullptr, absl::ToTimeT(t)));
  if (out == nullptr) return OpenSslError("encoding a certificate time failed");
  return out;
}

absl::StatusOr<absl::Time> FromAsn1Time(const ASN1_TIME* t) {
  std::tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("malformed certificate time");
  }
  return absl::FromCivil(absl::CivilSecond(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                           tm.tm_min, tm.tm_sec),
                         absl::UTCTimeZone());
}

std::string FormatCertTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace mandant::pki
