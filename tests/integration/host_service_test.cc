// HostService against a real PostgreSQL and a real gRPC server over TLS:
// registration and bootstrap tokens, validation, listing, cordoning,
// deletion with the revocation of the host's agent certificate.

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

#include "common/uuid.h"
#include "mandant/v1/host.grpc.pb.h"
#include "pki/certificate_info.h"
#include "pki/encoding.h"
#include "tests/support/agent_client.h"
#include "tests/support/host_test_base.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_controller.h"

namespace mandant {
namespace {

using controller::auth::Role;
using google::protobuf::util::TimeUtil;
using testing::AgentConnection;
using testing::BadRequestFields;
using testing::ConditionStatus;
using ::testing::Contains;
using testing::DeleteMachine;
using ::testing::ElementsAre;
using testing::GrpcIs;
using ::testing::HasSubstr;
using testing::PlaceMachine;
using testing::TestController;

absl::Duration Since(const google::protobuf::Timestamp& t) {
  return absl::Now() - absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t));
}

class HostServiceTest : public testing::HostTestBase {
 protected:
  v1::Hello HelloFor(const std::string& host, const std::string& underlay) {
    v1::Hello hello;
    hello.set_host(host);
    hello.set_agent_version("0.1.0");
    hello.set_underlay_address(underlay);
    hello.set_underlay_mtu(1500);
    return hello;
  }
};

TEST_F(HostServiceTest, CreateHostReturnsTheHostAndABootstrapToken) {
  v1::CreateHostResponse resp;
  grpc::Status st = CreateHost("hv1", "2001:0DB8:0000::0001", &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  const v1::Host& h = resp.host();
  EXPECT_EQ(h.name(), "hosts/hv1");
  EXPECT_EQ(h.uid().size(), 36u);
  EXPECT_EQ(h.underlay_address(), "2001:db8::1");
  EXPECT_FALSE(h.cordoned());
  EXPECT_EQ(h.generation(), 1);
  EXPECT_FALSE(h.etag().empty());
  EXPECT_EQ(ConditionStatus(h, "Enrolled"), "False");
  EXPECT_EQ(ConditionStatus(h, "Connected"), "False");
  EXPECT_EQ(ConditionStatus(h, "Ready"), "False");
  EXPECT_LT(Since(h.create_time()), absl::Minutes(1));

  // At least 128 random bits, valid for the default of 24 hours.
  EXPECT_GE(resp.bootstrap_token().token().size(), 22u);
  const absl::Duration left = -Since(resp.bootstrap_token().expire_time());
  EXPECT_GT(left, absl::Hours(24) - absl::Minutes(1));
  EXPECT_LE(left, absl::Hours(24));

  // A TTL of one hour; every host gets its own token.
  v1::CreateHostRequest req;
  req.set_host_id("hv2");
  req.mutable_host()->set_underlay_address("10.0.0.2");
  req.mutable_bootstrap_token_ttl()->set_seconds(3600);
  v1::CreateHostResponse second;
  auto ctx = TestController::Context(admin_);
  ASSERT_TRUE(hosts_->CreateHost(ctx.get(), req, &second).ok());
  const absl::Duration second_left = -Since(second.bootstrap_token().expire_time());
  EXPECT_GT(second_left, absl::Minutes(59));
  EXPECT_LE(second_left, absl::Hours(1));
  EXPECT_NE(second.bootstrap_token().token(), resp.bootstrap_token().token());

  // As GetHost shows it.
  v1::Host got = MustGetHost("hosts/hv1");
  EXPECT_EQ(got.uid(), h.uid());
  EXPECT_EQ(got.underlay_address(), "2001:db8::1");
  EXPECT_EQ(got.etag(), h.etag());
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'CreateHost' AND code = 'OK' "
                  "AND object = 'hosts/hv1' AND principal = 'provider-admin:operator'"),
            1);
}

TEST_F(HostServiceTest, ARetryWithTheSameRequestIdReturnsTheSameToken) {
  const std::string request_id = NewUuid();
  v1::CreateHostResponse first, second;
  ASSERT_GRPC_OK(CreateHost("hv1", "10.0.0.1", &first, request_id));
  ASSERT_GRPC_OK(CreateHost("hv1", "10.0.0.1", &second, request_id));
  EXPECT_EQ(second.host().uid(), first.host().uid());
  EXPECT_EQ(second.bootstrap_token().token(), first.bootstrap_token().token());
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(second.bootstrap_token().expire_time()),
            TimeUtil::TimestampToMicroseconds(first.bootstrap_token().expire_time()));
  EXPECT_EQ(Count("SELECT count(*) FROM hosts"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM host_bootstrap_tokens"), 1);

  // The replayed token is the one that works.
  auto agent = testing::EnrollNewKey(*controller_, "hosts/hv1", second.bootstrap_token().token());
  EXPECT_OK(agent);

  // Without a request_id the same request is a new one: the id is taken.
  v1::CreateHostResponse third;
  EXPECT_THAT(CreateHost("hv1", "10.0.0.1", &third),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS, "hv1"));
}

TEST_F(HostServiceTest, BadArgumentsNameTheFieldAndWriteNothing) {
  struct Case {
    std::string host_id;
    std::string underlay;
    int64_t ttl_seconds;  // 0: unset
    std::string field;
  };
  const std::vector<Case> cases = {
      {"", "10.0.0.1", 0, "host_id"},
      {"HV_1", "10.0.0.1", 0, "host_id"},
      {"-hv1", "10.0.0.1", 0, "host_id"},
      {std::string(41, 'h'), "10.0.0.1", 0, "host_id"},
      {"hv1", "10.0.0.300", 0, "host.underlay_address"},
      {"hv1", "224.0.0.1", 0, "host.underlay_address"},
      {"hv1", "", 0, "host.underlay_address"},
      {"hv1", "10.0.0.0/24", 0, "host.underlay_address"},
      {"hv1", "0.0.0.0", 0, "host.underlay_address"},
      {"hv1", "ff02::1", 0, "host.underlay_address"},
      {"hv1", "10.0.0.1", 5 * 60, "bootstrap_token_ttl"},
      {"hv1", "10.0.0.1", 8 * 24 * 3600, "bootstrap_token_ttl"},
      {"hv1", "10.0.0.1", -3600, "bootstrap_token_ttl"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat("host_id \"", c.host_id, "\" underlay \"", c.underlay, "\" ttl ",
                              c.ttl_seconds));
    v1::CreateHostRequest req;
    req.set_host_id(c.host_id);
    req.mutable_host()->set_underlay_address(c.underlay);
    if (c.ttl_seconds != 0) req.mutable_bootstrap_token_ttl()->set_seconds(c.ttl_seconds);
    v1::CreateHostResponse resp;
    auto ctx = TestController::Context(admin_);
    grpc::Status st = hosts_->CreateHost(ctx.get(), req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
    EXPECT_THAT(BadRequestFields(st), ElementsAre(c.field)) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr(c.field));
  }
  // Every problem at once.
  v1::CreateHostRequest all;
  all.set_host_id("Bad");
  all.mutable_host()->set_underlay_address("10.0.0.300");
  all.mutable_bootstrap_token_ttl()->set_seconds(60);
  all.set_request_id("not-a-uuid");
  v1::CreateHostResponse resp;
  auto ctx = TestController::Context(admin_);
  grpc::Status st = hosts_->CreateHost(ctx.get(), all, &resp);
  EXPECT_THAT(BadRequestFields(st),
              ::testing::UnorderedElementsAre("host_id", "host.underlay_address",
                                              "bootstrap_token_ttl", "request_id"));

  EXPECT_EQ(Count("SELECT count(*) FROM hosts"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM host_bootstrap_tokens"), 0);
}

TEST_F(HostServiceTest, ATakenIdOrUnderlayAddressIsAlreadyExists) {
  MustCreateHost("hv1", "10.0.0.1");
  MustCreateHost("hv6", "2001:db8::6");
  v1::CreateHostResponse resp;
  EXPECT_THAT(CreateHost("hv1", "10.0.0.2", &resp),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS, "hv1"));
  EXPECT_THAT(CreateHost("hv2", "10.0.0.1", &resp),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS, "10.0.0.1"));
  // The same address in another spelling is the same address.
  EXPECT_THAT(CreateHost("hv3", "2001:DB8:0:0::6", &resp),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS, "2001:db8::6"));
  EXPECT_EQ(Count("SELECT count(*) FROM hosts"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM host_bootstrap_tokens"), 2);
}

TEST_F(HostServiceTest, OnlyProviderAdminsManageHosts) {
  MustCreateHost("hv1", "10.0.0.1");
  CreateTenant("acme");
  for (const std::string& token : {controller_->Token(Role::kTenantAdmin, "acme", "alice"),
                                   controller_->Token(Role::kTenantViewer, "acme", "victor")}) {
    auto ctx = TestController::Context(token);
    v1::CreateHostRequest create;
    create.set_host_id("hv2");
    create.mutable_host()->set_underlay_address("10.0.0.2");
    v1::CreateHostResponse created;
    EXPECT_THAT(hosts_->CreateHost(ctx.get(), create, &created),
                GrpcIs(grpc::StatusCode::PERMISSION_DENIED, ""));
    v1::GetHostRequest get;
    get.set_name("hosts/hv1");
    v1::Host host;
    ctx = TestController::Context(token);
    EXPECT_THAT(hosts_->GetHost(ctx.get(), get, &host),
                GrpcIs(grpc::StatusCode::PERMISSION_DENIED, ""));
    EXPECT_EQ(host.underlay_address(), "");
    v1::ListHostsRequest list;
    v1::ListHostsResponse listed;
    ctx = TestController::Context(token);
    EXPECT_THAT(hosts_->ListHosts(ctx.get(), list, &listed),
                GrpcIs(grpc::StatusCode::PERMISSION_DENIED, ""));
    EXPECT_EQ(listed.hosts_size(), 0);
    v1::IssueBootstrapTokenRequest issue;
    issue.set_name("hosts/hv1");
    v1::IssueBootstrapTokenResponse issued;
    ctx = TestController::Context(token);
    EXPECT_THAT(hosts_->IssueBootstrapToken(ctx.get(), issue, &issued),
                GrpcIs(grpc::StatusCode::PERMISSION_DENIED, ""));
    EXPECT_EQ(issued.bootstrap_token().token(), "");
    v1::CordonHostRequest cordon;
    cordon.set_name("hosts/hv1");
    ctx = TestController::Context(token);
    EXPECT_THAT(hosts_->CordonHost(ctx.get(), cordon, &host),
                GrpcIs(grpc::StatusCode::PERMISSION_DENIED, ""));
    v1::UncordonHostRequest uncordon;
    uncordon.set_name("hosts/hv1");
    ctx = TestController::Context(token);
    EXPECT_THAT(hosts_->UncordonHost(ctx.get(), uncordon, &host),
                GrpcIs(grpc::StatusCode::PERMISSION_DENIED, ""));
    v1::DeleteHostRequest del;
    del.set_name("hosts/hv1");
    google::protobuf::Empty empty;
    ctx = TestController::Context(token);
    EXPECT_THAT(hosts_->DeleteHost(ctx.get(), del, &empty),
                GrpcIs(grpc::StatusCode::PERMISSION_DENIED, ""));
  }
  // Without credentials.
  v1::GetHostRequest get;
  get.set_name("hosts/hv1");
  v1::Host host;
  auto ctx = TestController::Context("");
  EXPECT_THAT(hosts_->GetHost(ctx.get(), get, &host),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, ""));

  v1::Host unchanged = MustGetHost("hosts/hv1");
  EXPECT_FALSE(unchanged.cordoned());
  EXPECT_EQ(unchanged.generation(), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM hosts"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE code = 'PERMISSION_DENIED' "
                  "AND method IN ('CreateHost', 'IssueBootstrapToken', 'CordonHost', "
                  "'UncordonHost', 'DeleteHost')"),
            10);
}

TEST_F(HostServiceTest, TheBootstrapTokenIsNeverStoredInClear) {
  const v1::CreateHostResponse created = [&] {
    v1::CreateHostResponse resp;
    EXPECT_TRUE(CreateHost("hv1", "10.0.0.1", &resp, NewUuid()).ok());
    return resp;
  }();
  v1::IssueBootstrapTokenRequest issue;
  issue.set_name("hosts/hv2");
  MustCreateHost("hv2", "10.0.0.2");
  issue.set_request_id(NewUuid());
  v1::IssueBootstrapTokenResponse reissued;
  auto ctx = TestController::Context(admin_);
  ASSERT_GRPC_OK(hosts_->IssueBootstrapToken(ctx.get(), issue, &reissued));

  auto dump = testing::SharedPostgres().Dump(controller_->dbname());
  ASSERT_OK(dump);
  ASSERT_THAT(*dump, HasSubstr("host_bootstrap_tokens"));
  for (const std::string& token :
       {created.bootstrap_token().token(), reissued.bootstrap_token().token()}) {
    ASSERT_FALSE(token.empty());
    // The secret part alone, whatever prefix the token has.
    const std::string secret = token.substr(token.size() - 22);
    EXPECT_EQ(dump->find(secret), std::string::npos);
    EXPECT_EQ(dump->find(absl::BytesToHexString(token)), std::string::npos);
    EXPECT_EQ(dump->find(absl::Base64Escape(token)), std::string::npos);
    std::string raw;
    if (absl::WebSafeBase64Unescape(absl::StripPrefix(token, "mandant-bootstrap-"), &raw)) {
      EXPECT_EQ(dump->find(absl::BytesToHexString(raw)), std::string::npos);
    }
  }
  // Nor does it show in a host or the logs' neighbour, the audit log.
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM audit_log WHERE message LIKE '%",
                               created.bootstrap_token().token().substr(20), "%'")),
            0);
}

TEST_F(HostServiceTest, ListHostsPagesThroughAllHostsInNameOrder) {
  const std::vector<std::string> ids = {"hv3", "a1", "hv10", "b", "hv2"};
  for (size_t i = 0; i < ids.size(); ++i) {
    MustCreateHost(ids[i], absl::StrCat("10.0.0.", i + 1));
  }
  std::vector<std::string> seen;
  std::string page_token;
  for (int pages = 0; pages < 10; ++pages) {
    v1::ListHostsRequest req;
    req.set_page_size(1);
    req.set_page_token(page_token);
    v1::ListHostsResponse resp;
    auto ctx = TestController::Context(admin_);
    grpc::Status st = hosts_->ListHosts(ctx.get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_LE(resp.hosts_size(), 1);
    for (const v1::Host& h : resp.hosts()) seen.push_back(h.name());
    page_token = resp.next_page_token();
    if (page_token.empty()) break;
  }
  EXPECT_THAT(seen, ElementsAre("hosts/a1", "hosts/b", "hosts/hv10", "hosts/hv2", "hosts/hv3"));

  v1::ListHostsRequest all;
  v1::ListHostsResponse listed;
  auto ctx = TestController::Context(admin_);
  ASSERT_GRPC_OK(hosts_->ListHosts(ctx.get(), all, &listed));
  EXPECT_EQ(listed.hosts_size(), 5);
  EXPECT_EQ(listed.next_page_token(), "");

  v1::ListHostsRequest bad;
  bad.set_page_token("garbage");
  ctx = TestController::Context(admin_);
  grpc::Status st = hosts_->ListHosts(ctx.get(), bad, &listed);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(BadRequestFields(st), ElementsAre("page_token"));
  bad.Clear();
  bad.set_page_size(1001);
  ctx = TestController::Context(admin_);
  st = hosts_->ListHosts(ctx.get(), bad, &listed);
  EXPECT_THAT(BadRequestFields(st), ElementsAre("page_size"));
  // Tokens are capped like ListTenants' and are not interchangeable with them.
  bad.Clear();
  bad.set_page_token(std::string(1025, 'A'));
  ctx = TestController::Context(admin_);
  st = hosts_->ListHosts(ctx.get(), bad, &listed);
  EXPECT_THAT(st, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "at most 1024 bytes"));
  EXPECT_THAT(BadRequestFields(st), ElementsAre("page_token"));
  v1::ListTenantsRequest tenants_page;
  tenants_page.set_page_size(1);
  v1::ListTenantsResponse tenants_listed;
  for (const char* id : {"acme", "beta"}) {
    v1::CreateTenantRequest create;
    create.set_tenant_id(id);
    create.mutable_tenant()->set_display_name(id);
    v1::Tenant tenant;
    ctx = TestController::Context(admin_);
    ASSERT_GRPC_OK(controller_->Tenants()->CreateTenant(ctx.get(), create, &tenant));
  }
  ctx = TestController::Context(admin_);
  ASSERT_GRPC_OK(controller_->Tenants()->ListTenants(ctx.get(), tenants_page, &tenants_listed));
  ASSERT_FALSE(tenants_listed.next_page_token().empty());
  bad.set_page_token(tenants_listed.next_page_token());
  ctx = TestController::Context(admin_);
  EXPECT_THAT(BadRequestFields(hosts_->ListHosts(ctx.get(), bad, &listed)),
              ElementsAre("page_token"));

  v1::Host missing;
  EXPECT_THAT(GetHost("hosts/nope", &missing), GrpcIs(grpc::StatusCode::NOT_FOUND, "nope"));
  grpc::Status malformed = GetHost("hv1", &missing);
  EXPECT_EQ(malformed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(HostServiceTest, CordonAndUncordonAreConditionalOnTheEtag) {
  const v1::Host created = MustCreateHost("hv1", "10.0.0.1").host();

  v1::CordonHostRequest cordon;
  cordon.set_name("hosts/hv1");
  cordon.set_reason("disk replacement");
  cordon.set_etag(created.etag());
  v1::Host cordoned;
  auto ctx = TestController::Context(admin_);
  ASSERT_GRPC_OK(hosts_->CordonHost(ctx.get(), cordon, &cordoned));
  EXPECT_TRUE(cordoned.cordoned());
  EXPECT_EQ(cordoned.cordon_reason(), "disk replacement");
  EXPECT_EQ(cordoned.generation(), created.generation() + 1);
  EXPECT_NE(cordoned.etag(), created.etag());

  // The old etag no longer matches: nothing changes.
  cordon.set_reason("something else");
  v1::Host refused;
  ctx = TestController::Context(admin_);
  EXPECT_THAT(hosts_->CordonHost(ctx.get(), cordon, &refused),
              GrpcIs(grpc::StatusCode::ABORTED, ""));
  // What cannot be an etag is refused, quoted and cut, not echoed.
  v1::CordonHostRequest hostile = cordon;
  hostile.set_etag("\x1b[2J" + std::string(500, 'e'));
  ctx = TestController::Context(admin_);
  grpc::Status st = hosts_->CordonHost(ctx.get(), hostile, &refused);
  EXPECT_THAT(st, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "\"\\x1b[2Jeee"));
  EXPECT_THAT(BadRequestFields(st), ElementsAre("etag"));
  EXPECT_LT(st.error_message().size(), 300u);
  v1::UncordonHostRequest uncordon;
  uncordon.set_name("hosts/hv1");
  uncordon.set_etag(created.etag());
  ctx = TestController::Context(admin_);
  EXPECT_THAT(hosts_->UncordonHost(ctx.get(), uncordon, &refused),
              GrpcIs(grpc::StatusCode::ABORTED, ""));
  v1::Host now = MustGetHost("hosts/hv1");
  EXPECT_TRUE(now.cordoned());
  EXPECT_EQ(now.cordon_reason(), "disk replacement");
  EXPECT_EQ(now.etag(), cordoned.etag());

  // Cordoning again only replaces the reason.
  cordon.set_etag(now.etag());
  v1::Host recordoned;
  ctx = TestController::Context(admin_);
  ASSERT_GRPC_OK(hosts_->CordonHost(ctx.get(), cordon, &recordoned));
  EXPECT_TRUE(recordoned.cordoned());
  EXPECT_EQ(recordoned.cordon_reason(), "something else");

  uncordon.set_etag(recordoned.etag());
  v1::Host uncordoned;
  ctx = TestController::Context(admin_);
  ASSERT_GRPC_OK(hosts_->UncordonHost(ctx.get(), uncordon, &uncordoned));
  EXPECT_FALSE(uncordoned.cordoned());
  EXPECT_EQ(uncordoned.cordon_reason(), "");
  // A no-op on an uncordoned host, with or without an etag.
  uncordon.clear_etag();
  v1::Host again;
  ctx = TestController::Context(admin_);
  ASSERT_GRPC_OK(hosts_->UncordonHost(ctx.get(), uncordon, &again));
  EXPECT_FALSE(again.cordoned());
  EXPECT_EQ(again.generation(), uncordoned.generation());
  EXPECT_EQ(MustGetHost("hosts/hv1").generation(), uncordoned.generation());

  v1::CordonHostRequest missing;
  missing.set_name("hosts/nope");
  ctx = TestController::Context(admin_);
  EXPECT_THAT(hosts_->CordonHost(ctx.get(), missing, &refused),
              GrpcIs(grpc::StatusCode::NOT_FOUND, ""));
  v1::CordonHostRequest long_reason;
  long_reason.set_name("hosts/hv1");
  long_reason.set_reason(std::string(201, 'x'));
  ctx = TestController::Context(admin_);
  st = hosts_->CordonHost(ctx.get(), long_reason, &refused);
  EXPECT_THAT(BadRequestFields(st), ElementsAre("reason")) << st.error_message();
}

TEST_F(HostServiceTest, IssueBootstrapTokenReplacesTheOldToken) {
  const v1::CreateHostResponse created = MustCreateHost("hv1", "10.0.0.1");

  v1::IssueBootstrapTokenRequest req;
  req.set_name("hosts/hv1");
  req.set_etag("00000000-7");
  v1::IssueBootstrapTokenResponse issued;
  auto ctx = TestController::Context(admin_);
  EXPECT_THAT(hosts_->IssueBootstrapToken(ctx.get(), req, &issued),
              GrpcIs(grpc::StatusCode::ABORTED, ""));
  req.set_etag(created.host().etag());
  req.mutable_bootstrap_token_ttl()->set_seconds(3600);
  ctx = TestController::Context(admin_);
  ASSERT_GRPC_OK(hosts_->IssueBootstrapToken(ctx.get(), req, &issued));
  EXPECT_FALSE(issued.bootstrap_token().token().empty());
  EXPECT_NE(issued.bootstrap_token().token(), created.bootstrap_token().token());
  EXPECT_LE(-Since(issued.bootstrap_token().expire_time()), absl::Hours(1));

  // A retry with the same request_id gets the same token.
  v1::IssueBootstrapTokenRequest retried;
  retried.set_name("hosts/hv1");
  retried.set_request_id(NewUuid());
  v1::IssueBootstrapTokenResponse once, twice;
  ctx = TestController::Context(admin_);
  ASSERT_GRPC_OK(hosts_->IssueBootstrapToken(ctx.get(), retried, &once));
  ctx = TestController::Context(admin_);
  ASSERT_GRPC_OK(hosts_->IssueBootstrapToken(ctx.get(), retried, &twice));
  EXPECT_EQ(twice.bootstrap_token().token(), once.bootstrap_token().token());
  EXPECT_NE(once.bootstrap_token().token(), issued.bootstrap_token().token());
  const std::string replaced = issued.bootstrap_token().token();
  issued = once;

  // The old tokens no longer enroll; the new one does, once.
  for (const std::string& old : {created.bootstrap_token().token(), replaced}) {
    EXPECT_THAT(testing::EnrollNewKey(*controller_, "hosts/hv1", old),
                testing::StatusIs(absl::StatusCode::kUnauthenticated, ""));
  }
  EXPECT_OK(testing::EnrollNewKey(*controller_, "hosts/hv1", issued.bootstrap_token().token()));
  EXPECT_THAT(testing::EnrollNewKey(*controller_, "hosts/hv1", issued.bootstrap_token().token()),
              testing::StatusIs(absl::StatusCode::kUnauthenticated, ""));
  EXPECT_EQ(ConditionStatus(MustGetHost("hosts/hv1"), "Enrolled"), "True");

  v1::IssueBootstrapTokenRequest missing;
  missing.set_name("hosts/nope");
  ctx = TestController::Context(admin_);
  EXPECT_THAT(hosts_->IssueBootstrapToken(ctx.get(), missing, &issued),
              GrpcIs(grpc::StatusCode::NOT_FOUND, ""));
  v1::IssueBootstrapTokenRequest bad_ttl;
  bad_ttl.set_name("hosts/hv1");
  bad_ttl.mutable_bootstrap_token_ttl()->set_seconds(300);
  ctx = TestController::Context(admin_);
  grpc::Status st = hosts_->IssueBootstrapToken(ctx.get(), bad_ttl, &issued);
  EXPECT_THAT(BadRequestFields(st), ElementsAre("bootstrap_token_ttl")) << st.error_message();
  // Not a google.protobuf.Duration: nanos of the other sign, or out of range.
  for (int32_t nanos : {-5, 1000000000}) {
    bad_ttl.mutable_bootstrap_token_ttl()->set_seconds(3600);
    bad_ttl.mutable_bootstrap_token_ttl()->set_nanos(nanos);
    ctx = TestController::Context(admin_);
    st = hosts_->IssueBootstrapToken(ctx.get(), bad_ttl, &issued);
    EXPECT_THAT(st, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "not a valid duration"));
    EXPECT_THAT(BadRequestFields(st), ElementsAre("bootstrap_token_ttl"));
  }
}

TEST_F(HostServiceTest, DeleteHostWaitsForItsMachinesAndRevokesTheAgent) {
  const v1::CreateHostResponse created = MustCreateHost("hv1", "10.0.0.1");
  auto agent = testing::EnrollNewKey(*controller_, "hosts/hv1", created.bootstrap_token().token());
  ASSERT_OK(agent);
  auto stream = Connect(*agent);
  ASSERT_TRUE(stream->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  ASSERT_TRUE(stream->NextSpec(absl::Seconds(20)).has_value()) << "no spec after Hello";

  CreateTenant("acme");
  auto machine = PlaceMachine(*controller_, "acme", "cp-1", "hv1", 1);
  ASSERT_OK(machine);

  v1::DeleteHostRequest del;
  del.set_name("hosts/hv1");
  google::protobuf::Empty empty;
  auto ctx = TestController::Context(admin_);
  grpc::Status st = hosts_->DeleteHost(ctx.get(), del, &empty);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(st.error_details()));
  std::vector<std::string> subjects;
  for (const auto& any : details.details()) {
    google::rpc::PreconditionFailure failure;
    if (any.UnpackTo(&failure)) {
      for (const auto& v : failure.violations()) subjects.push_back(v.subject());
    }
  }
  EXPECT_THAT(subjects, ElementsAre("tenants/acme/clusters/prod/machines/cp-1"));
  const v1::Host still = MustGetHost("hosts/hv1");
  ASSERT_EQ(still.allocations_size(), 1);
  EXPECT_EQ(still.allocations(0).machine_id(), *machine);
  EXPECT_EQ(still.allocated().vcpus(), 2);
  EXPECT_FALSE(stream->WaitEnd(absl::ZeroDuration()).has_value());

  ASSERT_OK(DeleteMachine(*controller_, *machine));
  del.set_etag("00000000-9");
  ctx = TestController::Context(admin_);
  EXPECT_THAT(hosts_->DeleteHost(ctx.get(), del, &empty), GrpcIs(grpc::StatusCode::ABORTED, ""));
  del.set_etag(MustGetHost("hosts/hv1").etag());
  ctx = TestController::Context(admin_);
  ASSERT_GRPC_OK(hosts_->DeleteHost(ctx.get(), del, &empty));
  v1::Host gone;
  EXPECT_THAT(GetHost("hosts/hv1", &gone), GrpcIs(grpc::StatusCode::NOT_FOUND, ""));

  // The agent's certificate is revoked ...
  auto cert = pki::ParseCertificate(agent->enrollment.certificate_pem());
  ASSERT_OK(cert);
  auto info = pki::DescribeCertificate(cert->get());
  ASSERT_OK(info);
  v1::GetCertificateRequest get;
  get.set_name(absl::StrCat("infrastructure/certificates/", info->serial_hex));
  v1::Certificate inventory;
  ctx = TestController::Context(admin_);
  ASSERT_GRPC_OK(controller_->Certificates()->GetCertificate(ctx.get(), get, &inventory));
  EXPECT_TRUE(inventory.has_revocation());
  EXPECT_LT(Since(inventory.revocation().revoke_time()), absl::Minutes(1));

  // ... which ends its stream ...
  std::optional<grpc::Status> ended = stream->WaitEnd(absl::Seconds(10));
  ASSERT_TRUE(ended.has_value()) << "the deleted host's stream is still open";
  EXPECT_THAT(*ended, GrpcIs(grpc::StatusCode::UNAUTHENTICATED, "deleted"));

  // ... and it cannot come back.
  grpc::Status refused;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    AgentConnection again(testing::MutualTlsChannel(*controller_, agent->key_pem, agent->chain()));
    again.SendHello(HelloFor("hosts/hv1", "10.0.0.1"));
    std::optional<grpc::Status> end = again.WaitEnd(absl::Seconds(10));
    ASSERT_TRUE(end.has_value());
    refused = *end;
    if (refused.error_code() == grpc::StatusCode::UNAUTHENTICATED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (absl::Now() < deadline);
  EXPECT_THAT(refused, GrpcIs(grpc::StatusCode::UNAUTHENTICATED, "revoked"));
  EXPECT_EQ(Count("SELECT count(*) FROM host_bootstrap_tokens"), 0);

  // A new host of the same name starts clean.
  const v1::CreateHostResponse recreated = MustCreateHost("hv1", "10.0.0.1");
  EXPECT_NE(recreated.host().uid(), created.host().uid());
  EXPECT_EQ(ConditionStatus(recreated.host(), "Enrolled"), "False");
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'DeleteHost' AND code = 'OK'"), 1);
}

}  // namespace
}  // namespace mandant
