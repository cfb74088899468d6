#include "pki/asn1_time.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOkAndHolds;
using ::mandant::testing::StatusIs;

absl::Time Utc(int y, int m, int d, int hh = 0, int mm = 0, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss), absl::UTCTimeZone());
}

TEST(Asn1TimeTest, UsesUtcTimeThrough2049AndGeneralizedTimeAfter) {
  absl::StatusOr<Asn1TimePtr> t2049 = ToAsn1Time(Utc(2049, 12, 31, 23, 59, 59));
  ASSERT_OK(t2049);
  EXPECT_EQ(ASN1_STRING_type(t2049->get()), V_ASN1_UTCTIME);
  absl::StatusOr<Asn1TimePtr> t2050 = ToAsn1Time(Utc(2050, 1, 1));
  ASSERT_OK(t2050);
  EXPECT_EQ(ASN1_STRING_type(t2050->get()), V_ASN1_GENERALIZEDTIME);
  EXPECT_THAT(FromAsn1Time(t2050->get()), IsOkAndHolds(Utc(2050, 1, 1)));
}

TEST(Asn1TimeTest, RoundsDownToTheSecond) {
  const absl::Time t = Utc(2025, 3, 1, 12, 0, 0) + absl::Milliseconds(999);
  absl::StatusOr<Asn1TimePtr> asn1 = ToAsn1Time(t);
  ASSERT_OK(asn1);
  EXPECT_THAT(FromAsn1Time(asn1->get()), IsOkAndHolds(Utc(2025, 3, 1, 12, 0, 0)));
}

TEST(Asn1TimeTest, RefusesTimesX509CannotHold) {
  EXPECT_THAT(ToAsn1Time(Utc(10000, 1, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, "cannot be written"));
  EXPECT_THAT(ToAsn1Time(absl::InfiniteFuture()),
              StatusIs(absl::StatusCode::kInvalidArgument, "cannot be written"));
  EXPECT_THAT(FromAsn1Time(nullptr), StatusIs(absl::StatusCode::kInvalidArgument, "malformed"));
}

TEST(Asn1TimeTest, FormatsForMessages) {
  EXPECT_EQ(FormatCertTime(Utc(2025, 3, 1, 7, 8, 9)), "2025-03-01T07:08:09Z");
}

}  // namespace
}  // namespace mandant::pki
