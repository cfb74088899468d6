#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

#include "controller/api/rpc_call.h"
#include "controller/store/database.h"
#include "tenants/field_violations.h"

namespace mandant::controller::api {
namespace {

TEST(ToGrpcStatusTest, FieldViolationsBecomeBadRequestDetails) {
  tenants::FieldViolations v;
  v.Add("tenant_id", "must be 2-40 characters");
  v.Add("tenant.quota.max_vcpus", "must be 0-1000000");
  grpc::Status st = ToGrpcStatus(v.ToStatus());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(st.error_details()));
  EXPECT_EQ(details.code(), 3);
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::BadRequest bad;
  ASSERT_TRUE(details.details(0).UnpackTo(&bad));
  ASSERT_EQ(bad.field_violations_size(), 2);
  EXPECT_EQ(bad.field_violations(1).field(), "tenant.quota.max_vcpus");
}

TEST(ToGrpcStatusTest, InternalPayloadsStayInside) {
  absl::Status st = absl::InvalidArgumentError("page_token: malformed");
  st.SetPayload("type.mandant.dev/retryable", absl::Cord("1"));
  grpc::Status g = ToGrpcStatus(st, "c-1");
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(g.error_message(), "page_token: malformed");
  EXPECT_TRUE(g.error_details().empty());
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

std::string RequestIdOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return "";
  for (const auto& any : details.details()) {
    google::rpc::RequestInfo info;
    if (any.UnpackTo(&info)) return info.request_id();
  }
  return "";
}

// The text of these codes may be a library's (libpq, OpenSSL, a path): the
// caller gets a generic message with the call id, the code stays.
TEST(ToGrpcStatusTest, InternalTextNeverReachesTheCaller) {
  for (absl::Status st : {
           absl::InternalError("stored response does not parse"),
           absl::UnknownError("unexpected"),
           absl::DataLossError("sealed key /var/lib/mandant/kek does not open"),
           absl::UnavailableError("create tenant: database unavailable: connection to server on "
                                  "socket \"/tmp/pg/.s.PGSQL.5432\" failed"),
       }) {
    grpc::Status g = ToGrpcStatus(st, "0123abcd");
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(st.code()));
    EXPECT_THAT(g.error_message(), ::testing::Not(::testing::HasSubstr(std::string(st.message()))));
    EXPECT_THAT(g.error_message(), ::testing::HasSubstr("call id 0123abcd"));
    EXPECT_EQ(RequestIdOf(g), "0123abcd");
  }
}

TEST(ToGrpcStatusTest, UnmappedSqlStateIsHiddenWhateverItsCode) {
  // A check constraint PostgreSQL reported and no handler mapped: the
  // store's FAILED_PRECONDITION still carries the SQLSTATE.
  absl::Status st = absl::FailedPreconditionError(
      "PostgreSQL 23514: new row for relation \"tenants\" violates check constraint");
  st.SetPayload("type.mandant.dev/pg.error", absl::Cord(std::string("23514\0tenants_check", 19)));
  grpc::Status g = ToGrpcStatus(st, "c-2");
  EXPECT_EQ(g.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(g.error_message(), ::testing::Not(::testing::HasSubstr("relation")));
  EXPECT_THAT(g.error_message(), ::testing::HasSubstr("call id c-2"));
}

TEST(ToGrpcStatusTest, AMessageMarkedForTheCallerPassesWhateverItsCode) {
  grpc::Status g = ToGrpcStatus(
      CallerVisible(absl::UnavailableError("no message from the agent within its lease")), "c-4");
  EXPECT_EQ(g.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(g.error_message(), "no message from the agent within its lease");
}

TEST(ToGrpcStatusTest, LostCommitTellsTheCallerToRetryWithTheSameRequestId) {
  absl::Status st = store::MarkOutcomeUnknown(
      absl::UnavailableError("create tenant: the database connection was lost during COMMIT"));
  grpc::Status g = ToGrpcStatus(st, "c-3");
  EXPECT_EQ(g.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(g.error_message(), ::testing::HasSubstr("outcome is unknown"));
  EXPECT_THAT(g.error_message(), ::testing::HasSubstr("same request_id"));
  EXPECT_THAT(g.error_message(), ::testing::Not(::testing::HasSubstr("COMMIT")));
}

}  // namespace
}  // namespace mandant::controller::api
