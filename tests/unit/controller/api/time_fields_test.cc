#include "controller/api/time_fields.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mandant::controller::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
const DurationRange kTtl{absl::Minutes(5), absl::Hours(24 * 90)};

google::protobuf::Duration D(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Duration d;
  d.set_seconds(seconds);
  d.set_nanos(nanos);
  return d;
}

google::protobuf::Timestamp T(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  t.set_nanos(nanos);
  return t;
}

std::vector<std::string> Fields(const tenants::FieldViolations& bad) {
  std::vector<std::string> out;
  for (const auto& v : bad.violations()) out.push_back(v.field);
  return out;
}

TEST(CheckedDurationTest, AcceptsTheRangeInclusive) {
  tenants::FieldViolations bad;
  EXPECT_THAT(CheckedDuration(D(300), "ttl", kTtl, bad), Optional(absl::Minutes(5)));
  EXPECT_THAT(CheckedDuration(D(90 * 86400), "ttl", kTtl, bad), Optional(absl::Hours(24 * 90)));
  EXPECT_THAT(CheckedDuration(D(3600), "ttl", kTtl, bad), Optional(absl::Hours(1)));
  EXPECT_TRUE(bad.empty());
}

TEST(CheckedDurationTest, RefusesOutOfRangeWithoutOverflow) {
  for (const auto& d : {D(299), D(90 * 86400 + 1), D(0), D(-1), D(-300), D(kInt64Max), D(kInt64Min),
                        D(kInt64Max, 999999999), D(kInt64Min, -999999999)}) {
    tenants::FieldViolations bad;
    EXPECT_EQ(CheckedDuration(d, "ttl", kTtl, bad), std::nullopt) << d.DebugString();
    ASSERT_THAT(Fields(bad), ElementsAre("ttl")) << d.DebugString();
    EXPECT_THAT(bad.violations()[0].description, HasSubstr("must be 5m to 2160h"));
  }
}

TEST(CheckedDurationTest, NegativeIsRefusedEvenWhenTheRangeStartsAtZero) {
  tenants::FieldViolations bad;
  EXPECT_EQ(CheckedDuration(D(-1), "d", {absl::ZeroDuration(), absl::Hours(1)}, bad), std::nullopt);
  EXPECT_THAT(Fields(bad), ElementsAre("d"));
}

TEST(CheckedDurationTest, RefusesMalformedNanos) {
  for (const auto& d :
       {D(3600, 1000000000), D(3600, -1), D(-3600, 1), D(3600, INT32_MIN), D(3600, INT32_MAX)}) {
    tenants::FieldViolations bad;
    EXPECT_EQ(CheckedDuration(d, "ttl", kTtl, bad), std::nullopt) << d.DebugString();
    ASSERT_THAT(Fields(bad), ElementsAre("ttl"));
    EXPECT_THAT(bad.violations()[0].description, HasSubstr("not a valid duration"));
  }
}

TEST(CheckedDurationTest, FractionsOnlyWhenAllowed) {
  tenants::FieldViolations whole;
  EXPECT_EQ(CheckedDuration(D(3600, 500), "ttl", kTtl, whole), std::nullopt);
  EXPECT_THAT(whole.violations()[0].description, HasSubstr("whole seconds"));

  tenants::FieldViolations fractions;
  DurationRange any = kTtl;
  any.whole_seconds = false;
  EXPECT_THAT(CheckedDuration(D(3600, 500), "ttl", any, fractions),
              Optional(absl::Hours(1) + absl::Nanoseconds(500)));
  EXPECT_TRUE(fractions.empty());
}

TEST(DurationFormProblemTest, NamesTheProblem) {
  EXPECT_THAT(DurationFormProblem(D(1, 5)), IsEmpty());
  EXPECT_THAT(DurationFormProblem(D(-1, -5)), IsEmpty());
  EXPECT_THAT(DurationFormProblem(D(0, -5)), IsEmpty());
  EXPECT_THAT(DurationFormProblem(D(1, -5)), HasSubstr("same sign"));
  EXPECT_THAT(DurationFormProblem(D(0, 1000000000)), HasSubstr("nanos must be"));
}

TEST(CheckedTimestampTest, AcceptsFrom1970To9999) {
  tenants::FieldViolations bad;
  EXPECT_THAT(CheckedTimestamp(T(0), "t", bad), Optional(absl::UnixEpoch()));
  EXPECT_THAT(CheckedTimestamp(T(1700000000, 5), "t", bad),
              Optional(absl::FromUnixSeconds(1700000000) + absl::Nanoseconds(5)));
  EXPECT_THAT(CheckedTimestamp(T(kMaxTimestampSeconds, 999999999), "t", bad),
              Optional(absl::FromUnixSeconds(kMaxTimestampSeconds) + absl::Nanoseconds(999999999)));
  EXPECT_TRUE(bad.empty());
}

TEST(CheckedTimestampTest, RefusesOutOfRange) {
  for (const auto& t : {T(-1), T(kMaxTimestampSeconds + 1), T(kInt64Max), T(kInt64Min), T(0, -1),
                        T(0, 1000000000), T(1700000000, INT32_MIN)}) {
    tenants::FieldViolations bad;
    EXPECT_EQ(CheckedTimestamp(t, "expire_before", bad), std::nullopt) << t.DebugString();
    ASSERT_THAT(Fields(bad), ElementsAre("expire_before"));
    EXPECT_THAT(bad.violations()[0].description, HasSubstr("9999-12-31T23:59:59Z"));
  }
}

}  // namespace
}  // namespace mandant::controller::api
