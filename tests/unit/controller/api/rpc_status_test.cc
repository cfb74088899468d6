#include "controller/api/rpc_call.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
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
  absl::Status st = absl::InternalError("boom");
  st.SetPayload("type.mandant.dev/pg.error", absl::Cord("23505"));
  grpc::Status g = ToGrpcStatus(st);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(g.error_message(), "boom");
  EXPECT_TRUE(g.error_details().empty());
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace mandant::controller::api
