#include "tenants/field_violations.h"

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace mandant::tenants {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(FieldViolationsTest, EmptyIsOk) {
  FieldViolations violations;
  EXPECT_TRUE(violations.empty());
  EXPECT_TRUE(violations.ToStatus().ok());
  EXPECT_THAT(ViolationsOf(violations.ToStatus()), IsEmpty());
}

TEST(FieldViolationsTest, ToStatusListsEveryViolationInOrder) {
  FieldViolations violations;
  violations.Add("tenant_id", "must be 2-40 characters, got 41");
  violations.Add("tenant.quota.max_vcpus", "must be between 0 and 1000000, got -1");
  EXPECT_FALSE(violations.empty());
  ASSERT_EQ(violations.violations().size(), 2u);

  absl::Status status = violations.ToStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "tenant_id: must be 2-40 characters, got 41; "
            "tenant.quota.max_vcpus: must be between 0 and 1000000, got -1");
}

TEST(FieldViolationsTest, ToStatusRoundTripsThroughViolationsOf) {
  FieldViolations violations;
  violations.Add("a", "first");
  violations.Add("b.c", "second; with a semicolon: and colon");
  violations.Add("a", "same field again");
  EXPECT_THAT(ViolationsOf(violations.ToStatus()),
              ElementsAre(FieldViolation{"a", "first"},
                          FieldViolation{"b.c", "second; with a semicolon: and colon"},
                          FieldViolation{"a", "same field again"}));
}

TEST(FieldViolationsTest, PayloadIsAStandardBadRequest) {
  FieldViolations violations;
  violations.Add("name", "required");
  auto payload = violations.ToStatus().GetPayload("type.googleapis.com/google.rpc.BadRequest");
  ASSERT_TRUE(payload.has_value());
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(bad_request.ParseFromString(std::string(*payload)));
  ASSERT_EQ(bad_request.field_violations_size(), 1);
  EXPECT_EQ(bad_request.field_violations(0).field(), "name");
  EXPECT_EQ(bad_request.field_violations(0).description(), "required");
}

TEST(FieldViolationsTest, ViolationsOfOtherStatusesIsEmpty) {
  EXPECT_THAT(ViolationsOf(absl::OkStatus()), IsEmpty());
  EXPECT_THAT(ViolationsOf(absl::InvalidArgumentError("plain")), IsEmpty());
  absl::Status garbage = absl::InvalidArgumentError("garbage payload");
  garbage.SetPayload(kBadRequestTypeUrl, absl::Cord("\xff\xff\xff"));
  EXPECT_THAT(ViolationsOf(garbage), IsEmpty());
}

TEST(QuoteForMessageTest, EscapesAndTruncates) {
  EXPECT_EQ(QuoteForMessage("acme"), "\"acme\"");
  EXPECT_EQ(QuoteForMessage("a\"b\n"), "\"a\\\"b\\n\"");
  EXPECT_EQ(QuoteForMessage(std::string(100, 'x'), 4), "\"xxxx...\"");
  EXPECT_EQ(QuoteForMessage(std::string(64, 'x')), "\"" + std::string(64, 'x') + "\"");
}

}  // namespace
}  // namespace mandant::tenants
