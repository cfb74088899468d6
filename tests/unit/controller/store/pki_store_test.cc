#include "controller/store/pki_store.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace mandant::controller::store {
namespace {

TEST(IssuerKindTextTest, RoundTripsEveryKindAndRefusesOthers) {
  for (IssuerKind k : {IssuerKind::kRoot, IssuerKind::kInfrastructure, IssuerKind::kTenant}) {
    EXPECT_EQ(IssuerKindFromText(IssuerKindText(k)), k);
  }
  EXPECT_EQ(IssuerKindText(IssuerKind::kRoot), "ROOT");
  EXPECT_EQ(IssuerKindText(IssuerKind::kInfrastructure), "INFRASTRUCTURE");
  EXPECT_EQ(IssuerKindText(IssuerKind::kTenant), "TENANT");
  EXPECT_EQ(IssuerKindFromText("root"), std::nullopt);
  EXPECT_EQ(IssuerKindFromText(""), std::nullopt);
}

TEST(IssuerStateTextTest, RoundTripsEveryStateAndRefusesOthers) {
  for (IssuerState s : {IssuerState::kPrepared, IssuerState::kActive, IssuerState::kRetired}) {
    EXPECT_EQ(IssuerStateFromText(IssuerStateText(s)), s);
  }
  EXPECT_EQ(IssuerStateText(IssuerState::kPrepared), "PREPARED");
  EXPECT_EQ(IssuerStateText(IssuerState::kActive), "ACTIVE");
  EXPECT_EQ(IssuerStateText(IssuerState::kRetired), "RETIRED");
  EXPECT_EQ(IssuerStateFromText("SUSPENDED"), std::nullopt);
}

TEST(TimestampParamTest, MicrosecondsInUtc) {
  EXPECT_EQ(TimestampParam(absl::FromUnixMicros(1700000000123456)),
            "2023-11-14T22:13:20.123456+00:00");
  EXPECT_EQ(TimestampParam(absl::UnixEpoch()), "1970-01-01T00:00:00.000000+00:00");
}

TEST(TextArrayParamTest, QuotesEveryElement) {
  EXPECT_EQ(TextArrayParam({}), "{}");
  EXPECT_EQ(TextArrayParam({"a", "b c"}), "{\"a\",\"b c\"}");
  // PostgreSQL array literal quoting: only '"' and '\' are escaped.
  EXPECT_EQ(TextArrayParam({"x\"y", "back\\slash", "{,}"}),
            "{\"x\\\"y\",\"back\\\\slash\",\"{,}\"}");
  EXPECT_EQ(TextArrayParam({""}), "{\"\"}");
}

}  // namespace
}  // namespace mandant::controller::store
