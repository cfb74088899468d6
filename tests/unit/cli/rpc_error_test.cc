#include "cli/rpc_error.h"

#include <string>

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace mandant::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A grpc::Status carrying `details` the way a server attaches them: a
// serialized google.rpc.Status in error_details.
grpc::Status WithDetails(grpc::StatusCode code, const std::string& message,
                         const google::rpc::Status& details) {
  return grpc::Status(code, message, details.SerializeAsString());
}

TEST(RenderRpcErrorTest, ListsEachBadRequestFieldViolation) {
  google::rpc::BadRequest bad;
  auto* v1 = bad.add_field_violations();
  v1->set_field("tenant_id");
  v1->set_description("\"Acme\" must be a DNS label (a-z, 0-9, '-')");
  auto* v2 = bad.add_field_violations();
  v2->set_field("tenant.quota.max_nodes");
  v2->set_description("20000 is above the limit of 10000");
  google::rpc::Status details;
  details.set_code(3);
  details.set_message("2 fields are invalid");
  details.add_details()->PackFrom(bad);

  grpc::Status status =
      WithDetails(grpc::StatusCode::INVALID_ARGUMENT, "2 fields are invalid", details);
  EXPECT_EQ(RenderRpcError(status, {"mandant:8443", "MANDANT_TOKEN", ""}),
            "error: INVALID_ARGUMENT: 2 fields are invalid\n"
            "  - tenant_id: \"Acme\" must be a DNS label (a-z, 0-9, '-')\n"
            "  - tenant.quota.max_nodes: 20000 is above the limit of 10000\n");
  EXPECT_EQ(ExitCodeForRpcStatus(status), kExitServerError);
}

TEST(RenderRpcErrorTest, ListsPreconditionAndQuotaViolations) {
  google::rpc::PreconditionFailure precondition;
  auto* p = precondition.add_violations();
  p->set_type("CLUSTERS");
  p->set_subject("tenants/acme/clusters/prod");
  p->set_description("delete the tenant's clusters first");
  google::rpc::QuotaFailure quota;
  auto* q = quota.add_violations();
  q->set_subject("pool vxlan-vni");
  q->set_description("no VNI left in 10000-10999");
  google::rpc::Status details;
  details.add_details()->PackFrom(precondition);
  details.add_details()->PackFrom(quota);

  std::string text = RenderRpcError(
      WithDetails(grpc::StatusCode::FAILED_PRECONDITION, "tenant has clusters", details), {});
  EXPECT_EQ(text,
            "error: FAILED_PRECONDITION: tenant has clusters\n"
            "  - CLUSTERS tenants/acme/clusters/prod: delete the tenant's clusters first\n"
            "  - pool vxlan-vni: no VNI left in 10000-10999\n");
}

TEST(RenderRpcErrorTest, MentionsDetailsItCannotShow) {
  google::rpc::Status details;
  google::protobuf::Any* any = details.add_details();
  any->set_type_url("type.googleapis.com/google.rpc.RetryInfo");
  std::string text =
      RenderRpcError(WithDetails(grpc::StatusCode::UNAVAILABLE, "busy", details), {});
  EXPECT_THAT(text, HasSubstr("google.rpc.RetryInfo not shown"));

  std::string garbage =
      RenderRpcError(grpc::Status(grpc::StatusCode::INTERNAL, "x", "\xff\xff\xff"), {});
  EXPECT_THAT(garbage, HasSubstr("could not be decoded"));
}

TEST(RenderRpcErrorTest, UnauthenticatedHintsAtTheTokenSource) {
  grpc::Status status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
  std::string text =
      RenderRpcError(status, {"mandant:8443", "token file /home/op/t (from --token-file)", ""});
  EXPECT_THAT(text, HasSubstr("error: UNAUTHENTICATED: invalid bearer token\n"));
  EXPECT_THAT(text, HasSubstr("hint: the server did not accept the bearer token from token file "
                              "/home/op/t (from --token-file)"));
  EXPECT_EQ(ExitCodeForRpcStatus(status), kExitUnreachable);

  std::string without_token = RenderRpcError(status, {"mandant:8443", "", ""});
  EXPECT_THAT(without_token, HasSubstr("hint: no bearer token was sent"));
}

TEST(RenderRpcErrorTest, UnauthenticatedWithAClientCertificateHintsAtLogin) {
  grpc::Status status(grpc::StatusCode::UNAUTHENTICATED, "certificate revoked");
  std::string text = RenderRpcError(
      status, {"mandant:8443", "", "client certificate /h/client.crt (from config file c)"});
  EXPECT_THAT(text, HasSubstr("hint: the server did not accept the client certificate "
                              "/h/client.crt (from config file c); run 'mandantctl login'"));
  EXPECT_THAT(text, Not(HasSubstr("token")));
  EXPECT_THAT(RenderRpcError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "handshake failed"),
                             {"mandant:8443", "", "client certificate /h/client.crt"}),
              HasSubstr("or the server refused the client certificate /h/client.crt"));
}

TEST(RenderRpcErrorTest, UnavailableNamesTheServer) {
  grpc::Status status(grpc::StatusCode::UNAVAILABLE, "failed to connect to all addresses");
  EXPECT_THAT(RenderRpcError(status, {"mandant:8443", "", ""}),
              HasSubstr("hint: cannot reach the server at mandant:8443"));
  EXPECT_EQ(ExitCodeForRpcStatus(status), kExitUnreachable);
}

// mandantd answers UNAVAILABLE itself when its database is down, with the
// call id in a google.rpc.RequestInfo detail: that is no connection problem.
TEST(RenderRpcErrorTest, UnavailableFromTheServerIsNotAConnectionProblem) {
  google::rpc::RequestInfo info;
  info.set_request_id("c0ffee12");
  google::rpc::Status details;
  details.add_details()->PackFrom(info);
  grpc::Status status = WithDetails(
      grpc::StatusCode::UNAVAILABLE,
      "the service is temporarily unavailable; the server's log has the details under call id "
      "c0ffee12",
      details);
  std::string text = RenderRpcError(status, {"mandant:8443", "", ""});
  EXPECT_THAT(text, HasSubstr("hint: the server at mandant:8443 answered"));
  EXPECT_THAT(text, HasSubstr("call id c0ffee12 if it persists"));
  EXPECT_THAT(text, Not(HasSubstr("cannot reach")));
  EXPECT_THAT(text, Not(HasSubstr("not shown")));
  EXPECT_EQ(ExitCodeForRpcStatus(status), kExitServerError);
  // Whether the work was done is still unknown to the client.
  EXPECT_TRUE(OutcomeUnknown(status));
}

TEST(RenderRpcErrorTest, ServerTextCannotControlTheTerminal) {
  google::rpc::BadRequest bad;
  auto* v = bad.add_field_violations();
  v->set_field("display_name\x1b]0;owned\x07");
  v->set_description("bad\r\n");
  google::rpc::Status details;
  details.add_details()->PackFrom(bad);
  std::string text =
      RenderRpcError(WithDetails(grpc::StatusCode::INVALID_ARGUMENT, "msg\x1b[2J", details), {});
  EXPECT_THAT(text, Not(HasSubstr("\x1b")));
  EXPECT_THAT(text, Not(HasSubstr("\r")));
  EXPECT_THAT(text, HasSubstr("  - display_name?]0;owned?: bad??\n"));
}

TEST(RenderRpcErrorTest, EmptyMessageAndUnimplemented) {
  EXPECT_EQ(RenderRpcError(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, ""), {"h:1", "", ""}),
            "error: UNIMPLEMENTED\n"
            "hint: the server at h:1 does not offer this call; check that --server names a "
            "mandantd of a matching version\n");
}

TEST(ExitCodeTest, ServerErrorsAreOne) {
  for (grpc::StatusCode code : {grpc::StatusCode::NOT_FOUND, grpc::StatusCode::PERMISSION_DENIED,
                                grpc::StatusCode::ABORTED, grpc::StatusCode::ALREADY_EXISTS,
                                grpc::StatusCode::DEADLINE_EXCEEDED, grpc::StatusCode::INTERNAL}) {
    EXPECT_EQ(ExitCodeForRpcStatus(grpc::Status(code, "")), kExitServerError)
        << StatusCodeName(code);
  }
  EXPECT_EQ(ExitCodeForRpcStatus(grpc::Status::OK), kExitOk);
}

TEST(StatusCodeNameTest, CanonicalNames) {
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  // Not a code gRPC defines, but a value grpc::StatusCode can hold (its
  // enumerators -1..16 make the range -32..31); 42 would be undefined behaviour.
  EXPECT_EQ(StatusCodeName(static_cast<grpc::StatusCode>(20)), "CODE_20");
}

}  // namespace
}  // namespace mandant::cli
