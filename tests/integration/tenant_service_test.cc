// TenantService against a real PostgreSQL and a real gRPC server over TLS.

#include <algorithm>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

#include "common/uuid.h"
#include "controller/store/database.h"
#include "tenants/cidr.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_controller.h"

namespace mandant {
namespace {

using controller::auth::Role;
using ::testing::ElementsAre;
using testing::GrpcIs;
using ::testing::HasSubstr;
using testing::TestController;

std::vector<std::pair<std::string, std::string>> FieldViolations(const grpc::Status& status) {
  google::rpc::Status details;
  std::vector<std::pair<std::string, std::string>> out;
  if (!details.ParseFromString(status.error_details())) return out;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&bad)) {
      for (const auto& v : bad.field_violations()) out.push_back({v.field(), v.description()});
    }
  }
  return out;
}

std::vector<std::string> Fields(const grpc::Status& status) {
  std::vector<std::string> out;
  for (const auto& [field, description] : FieldViolations(status)) out.push_back(field);
  return out;
}

class TenantServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { StartController(testing::TestPools()); }

  void StartController(controller::store::NetworkPools pools) {
    controller_.reset();
    auto c = TestController::Start(std::move(pools));
    ASSERT_OK(c);
    controller_ = *std::move(c);
    stub_ = controller_->Tenants();
    admin_ = controller_->Token(Role::kProviderAdmin, "", "operator");
  }

  grpc::Status Create(const std::string& id, v1::Tenant* out = nullptr,
                      const std::string& token = "") {
    v1::CreateTenantRequest req;
    req.set_tenant_id(id);
    req.mutable_tenant()->set_display_name(absl::StrCat("Tenant ", id));
    v1::Tenant ignored;
    return stub_->CreateTenant(TestController::Context(token.empty() ? admin_ : token).get(), req,
                               out ? out : &ignored);
  }

  int64_t CountRows(const std::string& table) {
    auto out = controller_->Sql(absl::StrCat("SELECT count(*) FROM ", table));
    EXPECT_OK(out);
    return out.ok() ? std::stoll(*out) : -1;
  }

  std::unique_ptr<TestController> controller_;
  std::unique_ptr<v1::TenantService::Stub> stub_;
  std::string admin_;
};

TEST_F(TenantServiceTest, CreateAllocatesNetworkAndDefaults) {
  v1::Tenant t;
  ASSERT_GRPC_OK(Create("acme", &t));
  EXPECT_EQ(t.name(), "tenants/acme");
  EXPECT_EQ(t.display_name(), "Tenant acme");
  EXPECT_EQ(t.state(), v1::TENANT_STATE_ACTIVE);
  EXPECT_EQ(t.generation(), 1);
  EXPECT_FALSE(t.uid().empty());
  EXPECT_FALSE(t.etag().empty());
  EXPECT_EQ(t.network().mode(), v1::NETWORK_MODE_VXLAN);
  EXPECT_EQ(t.network().vni(), 5000u);
  EXPECT_EQ(t.network().node_cidr(), "10.80.0.0/24");
  EXPECT_EQ(t.network().gateway(), "10.80.0.1");
  EXPECT_EQ(t.network().storage_cidr(), "10.90.0.0/24");
  EXPECT_EQ(t.quota().max_clusters(), 5);
  EXPECT_EQ(t.quota().max_vcpus(), 200);
  EXPECT_TRUE(t.has_create_time());

  v1::GetTenantRequest get;
  get.set_name("tenants/acme");
  v1::Tenant got;
  ASSERT_GRPC_OK(stub_->GetTenant(TestController::Context(admin_).get(), get, &got));
  EXPECT_EQ(got.SerializeAsString(), t.SerializeAsString());

  v1::Tenant second;
  ASSERT_GRPC_OK(Create("beta", &second));
  EXPECT_NE(second.network().vni(), t.network().vni());
  EXPECT_EQ(second.network().node_cidr(), "10.80.1.0/24");
}

TEST_F(TenantServiceTest, CreateHonoursPrefixLengthAndQuota) {
  v1::CreateTenantRequest req;
  req.set_tenant_id("big");
  req.mutable_tenant()->mutable_network_request()->set_node_prefix_length(20);
  req.mutable_tenant()->mutable_quota()->set_max_vcpus(64);
  v1::Tenant t;
  ASSERT_GRPC_OK(stub_->CreateTenant(TestController::Context(admin_).get(), req, &t));
  EXPECT_EQ(t.network().node_cidr(), "10.80.0.0/20");
  EXPECT_EQ(t.network().storage_cidr(), "10.90.0.0/24");
  EXPECT_EQ(t.quota().max_vcpus(), 64);
  EXPECT_EQ(t.quota().max_nodes(), 50);  // default for unset fields
  v1::Tenant next;
  ASSERT_GRPC_OK(Create("after-big", &next));
  EXPECT_EQ(next.network().node_cidr(), "10.80.16.0/24");
}

TEST_F(TenantServiceTest, DuplicateIdIsAlreadyExists) {
  ASSERT_GRPC_OK(Create("acme"));
  EXPECT_THAT(Create("acme"), GrpcIs(grpc::StatusCode::ALREADY_EXISTS, "\"acme\" already exists"));
  EXPECT_EQ(CountRows("tenants"), 1);
}

TEST_F(TenantServiceTest, InvalidRequestListsEveryBadFieldAndWritesNothing) {
  v1::CreateTenantRequest req;
  req.set_tenant_id("Bad_Name");
  req.mutable_tenant()->mutable_quota()->set_max_vcpus(-1);
  req.mutable_tenant()->mutable_network_request()->set_node_prefix_length(8);
  req.mutable_tenant()->mutable_network_request()->set_mode(static_cast<v1::NetworkMode>(42));
  req.set_request_id("not-a-uuid");
  v1::Tenant t;
  grpc::Status st = stub_->CreateTenant(TestController::Context(admin_).get(), req, &t);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<std::string> fields = Fields(st);
  std::sort(fields.begin(), fields.end());
  EXPECT_THAT(fields, ElementsAre("request_id", "tenant.network_request.mode",
                                  "tenant.network_request.node_prefix_length",
                                  "tenant.quota.max_vcpus", "tenant_id"));
  EXPECT_THAT(st.error_message(), HasSubstr("tenant_id"));
  EXPECT_EQ(CountRows("tenants"), 0);
  EXPECT_EQ(CountRows("tenant_cidrs"), 0);
}

TEST_F(TenantServiceTest, VlanModeIsRefusedWithoutVlanPool) {
  v1::CreateTenantRequest req;
  req.set_tenant_id("trunk");
  req.mutable_tenant()->mutable_network_request()->set_mode(v1::NETWORK_MODE_VLAN);
  v1::Tenant t;
  grpc::Status st = stub_->CreateTenant(TestController::Context(admin_).get(), req, &t);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Fields(st), ElementsAre("tenant.network_request.mode"));
}

TEST_F(TenantServiceTest, VlanModeAllocatesVlanIds) {
  auto pools = testing::TestPools();
  pools.vlan = controller::store::SegmentRange{100, 101};
  StartController(pools);
  v1::CreateTenantRequest req;
  req.mutable_tenant()->mutable_network_request()->set_mode(v1::NETWORK_MODE_VLAN);
  std::vector<uint32_t> ids;
  for (std::string id : {"v1", "v2"}) {
    req.set_tenant_id(id);
    v1::Tenant t;
    ASSERT_GRPC_OK(stub_->CreateTenant(TestController::Context(admin_).get(), req, &t));
    EXPECT_EQ(t.network().mode(), v1::NETWORK_MODE_VLAN);
    EXPECT_EQ(t.network().vni(), 0u);
    ids.push_back(t.network().vlan_id());
  }
  EXPECT_THAT(ids, ElementsAre(100u, 101u));
  req.set_tenant_id("v3");
  v1::Tenant t;
  EXPECT_THAT(stub_->CreateTenant(TestController::Context(admin_).get(), req, &t),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED, "network.vlan_pool"));
}

TEST_F(TenantServiceTest, CredentialsAreRequired) {
  v1::GetTenantRequest get;
  get.set_name("tenants/acme");
  v1::Tenant t;
  EXPECT_THAT(stub_->GetTenant(TestController::Context("").get(), get, &t),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, "no credentials"));
  EXPECT_THAT(stub_->GetTenant(TestController::Context("mdt_forged").get(), get, &t),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, "unknown or revoked"));
  auto ctx = TestController::Context("");
  ctx->AddMetadata("authorization", "Basic dXNlcjpwYXNz");
  EXPECT_THAT(stub_->GetTenant(ctx.get(), get, &t),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, "not a bearer token"));
}

TEST_F(TenantServiceTest, RevokedTokenStopsWorking) {
  ASSERT_GRPC_OK(Create("acme"));
  ASSERT_OK(controller_->Sql("UPDATE api_tokens SET revoke_time = now()"));
  // A fresh server has an empty token cache; the revocation is seen at once.
  std::string token = admin_;
  StartController(testing::TestPools());
  v1::GetTenantRequest get;
  get.set_name("tenants/acme");
  v1::Tenant t;
  EXPECT_THAT(stub_->GetTenant(TestController::Context(token).get(), get, &t),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, ""));
}

TEST_F(TenantServiceTest, TenantsNeverSeeEachOther) {
  ASSERT_GRPC_OK(Create("acme"));
  ASSERT_GRPC_OK(Create("beta"));
  const std::string acme_admin = controller_->Token(Role::kTenantAdmin, "acme", "alice");
  const std::string acme_viewer = controller_->Token(Role::kTenantViewer, "acme", "victor");

  v1::GetTenantRequest get;
  v1::Tenant t;
  get.set_name("tenants/acme");
  ASSERT_GRPC_OK(stub_->GetTenant(TestController::Context(acme_viewer).get(), get, &t));
  EXPECT_EQ(t.name(), "tenants/acme");

  // Another tenant's name and a missing one look exactly the same.
  get.set_name("tenants/beta");
  grpc::Status foreign = stub_->GetTenant(TestController::Context(acme_admin).get(), get, &t);
  get.set_name("tenants/nobody");
  grpc::Status missing = stub_->GetTenant(TestController::Context(acme_admin).get(), get, &t);
  EXPECT_EQ(foreign.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(foreign.error_message(), absl::StrCat("tenant \"beta\" not found"));
  EXPECT_EQ(missing.error_message(), absl::StrCat("tenant \"nobody\" not found"));

  v1::ListTenantsRequest list;
  v1::ListTenantsResponse resp;
  ASSERT_GRPC_OK(stub_->ListTenants(TestController::Context(acme_admin).get(), list, &resp));
  ASSERT_EQ(resp.tenants_size(), 1);
  EXPECT_EQ(resp.tenants(0).name(), "tenants/acme");

  // Writes: foreign is NOT_FOUND, own but not allowed is PERMISSION_DENIED.
  v1::DeleteTenantRequest del;
  google::protobuf::Empty empty;
  del.set_name("tenants/beta");
  EXPECT_THAT(stub_->DeleteTenant(TestController::Context(acme_admin).get(), del, &empty),
              GrpcIs(grpc::StatusCode::NOT_FOUND, "\"beta\" not found"));
  del.set_name("tenants/acme");
  EXPECT_THAT(stub_->DeleteTenant(TestController::Context(acme_admin).get(), del, &empty),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED, "provider admins"));
  EXPECT_THAT(Create("gamma", nullptr, acme_admin),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED, "provider admins"));

  v1::UpdateTenantRequest up;
  up.mutable_tenant()->set_name("tenants/acme");
  up.mutable_tenant()->set_display_name("ACME Corp");
  up.mutable_update_mask()->add_paths("display_name");
  EXPECT_THAT(stub_->UpdateTenant(TestController::Context(acme_viewer).get(), up, &t),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED, "viewer"));
  ASSERT_GRPC_OK(stub_->UpdateTenant(TestController::Context(acme_admin).get(), up, &t));
  EXPECT_EQ(t.display_name(), "ACME Corp");
  up.mutable_update_mask()->add_paths("quota.max_vcpus");
  up.mutable_tenant()->mutable_quota()->set_max_vcpus(10000);
  EXPECT_THAT(stub_->UpdateTenant(TestController::Context(acme_admin).get(), up, &t),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED, "provider admins"));
  up.mutable_tenant()->set_name("tenants/beta");
  EXPECT_THAT(stub_->UpdateTenant(TestController::Context(acme_admin).get(), up, &t),
              GrpcIs(grpc::StatusCode::NOT_FOUND, "\"beta\" not found"));
}

TEST_F(TenantServiceTest, SuspendedTenantIsReadOnlyForItsAdmins) {
  ASSERT_GRPC_OK(Create("acme"));
  const std::string acme_admin = controller_->Token(Role::kTenantAdmin, "acme", "alice");
  v1::UpdateTenantRequest up;
  v1::Tenant t;
  up.mutable_tenant()->set_name("tenants/acme");
  up.mutable_tenant()->set_state(v1::TENANT_STATE_SUSPENDED);
  up.mutable_update_mask()->add_paths("state");
  ASSERT_GRPC_OK(stub_->UpdateTenant(TestController::Context(admin_).get(), up, &t));
  EXPECT_EQ(t.state(), v1::TENANT_STATE_SUSPENDED);

  up.Clear();
  up.mutable_tenant()->set_name("tenants/acme");
  up.mutable_tenant()->set_display_name("sneaky");
  up.mutable_update_mask()->add_paths("display_name");
  EXPECT_THAT(stub_->UpdateTenant(TestController::Context(acme_admin).get(), up, &t),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION, "suspended"));

  v1::ListTenantsRequest list;
  list.set_state(v1::TENANT_STATE_SUSPENDED);
  v1::ListTenantsResponse resp;
  ASSERT_GRPC_OK(stub_->ListTenants(TestController::Context(admin_).get(), list, &resp));
  ASSERT_EQ(resp.tenants_size(), 1);
  list.set_state(v1::TENANT_STATE_ACTIVE);
  resp.Clear();
  ASSERT_GRPC_OK(stub_->ListTenants(TestController::Context(admin_).get(), list, &resp));
  EXPECT_EQ(resp.tenants_size(), 0);
}

TEST_F(TenantServiceTest, UpdateWithStaleEtagIsAborted) {
  v1::Tenant t;
  ASSERT_GRPC_OK(Create("acme", &t));
  const std::string first_etag = t.etag();

  v1::UpdateTenantRequest up;
  up.mutable_tenant()->set_name("tenants/acme");
  up.mutable_tenant()->set_display_name("one");
  up.mutable_tenant()->set_etag(first_etag);
  up.mutable_update_mask()->add_paths("display_name");
  v1::Tenant updated;
  ASSERT_GRPC_OK(stub_->UpdateTenant(TestController::Context(admin_).get(), up, &updated));
  EXPECT_EQ(updated.generation(), 2);
  EXPECT_NE(updated.etag(), first_etag);

  up.mutable_tenant()->set_display_name("two");
  EXPECT_THAT(stub_->UpdateTenant(TestController::Context(admin_).get(), up, &t),
              GrpcIs(grpc::StatusCode::ABORTED, "changed concurrently"));
  v1::GetTenantRequest get;
  get.set_name("tenants/acme");
  ASSERT_GRPC_OK(stub_->GetTenant(TestController::Context(admin_).get(), get, &t));
  EXPECT_EQ(t.display_name(), "one");

  v1::DeleteTenantRequest del;
  del.set_name("tenants/acme");
  del.set_etag(first_etag);
  google::protobuf::Empty empty;
  EXPECT_THAT(stub_->DeleteTenant(TestController::Context(admin_).get(), del, &empty),
              GrpcIs(grpc::StatusCode::ABORTED, "changed concurrently"));
  // The caller's etag is quoted and cut in the message, never echoed raw.
  del.set_etag("\x1b[2J" + std::string(1000, 'e'));
  grpc::Status hostile = stub_->DeleteTenant(TestController::Context(admin_).get(), del, &empty);
  EXPECT_THAT(hostile, GrpcIs(grpc::StatusCode::ABORTED, "request had \"\\x1b[2Jeee"));
  EXPECT_EQ(hostile.error_message().find('\x1b'), std::string::npos);
  EXPECT_LT(hostile.error_message().size(), 300u);
  del.set_etag(updated.etag());
  ASSERT_GRPC_OK(stub_->DeleteTenant(TestController::Context(admin_).get(), del, &empty));
}

TEST_F(TenantServiceTest, UpdateQuotaFieldsAndRefuseBelowUsage) {
  ASSERT_GRPC_OK(Create("acme"));
  v1::UpdateTenantRequest up;
  up.mutable_tenant()->set_name("tenants/acme");
  up.mutable_tenant()->mutable_quota()->set_max_clusters(9);
  up.mutable_update_mask()->add_paths("quota.max_clusters");
  v1::Tenant t;
  ASSERT_GRPC_OK(stub_->UpdateTenant(TestController::Context(admin_).get(), up, &t));
  EXPECT_EQ(t.quota().max_clusters(), 9);
  EXPECT_EQ(t.quota().max_vcpus(), 200);

  ASSERT_OK(controller_->Sql("UPDATE tenants SET usage_vcpus = 150 WHERE name = 'acme'"));
  up.Clear();
  up.mutable_tenant()->set_name("tenants/acme");
  up.mutable_tenant()->mutable_quota()->set_max_vcpus(100);
  up.mutable_update_mask()->add_paths("quota");
  EXPECT_THAT(stub_->UpdateTenant(TestController::Context(admin_).get(), up, &t),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION, "vcpus"));

  up.mutable_update_mask()->Clear();
  up.mutable_update_mask()->add_paths("quota.max_nodes");  // named but not set
  EXPECT_THAT(stub_->UpdateTenant(TestController::Context(admin_).get(), up, &t),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "tenant.quota.max_nodes"));
}

TEST_F(TenantServiceTest, RequestIdMakesRetriesIdempotent) {
  v1::CreateTenantRequest req;
  req.set_tenant_id("acme");
  req.mutable_tenant()->set_display_name("ACME");
  req.set_request_id(NewUuid());
  v1::Tenant first, second;
  ASSERT_GRPC_OK(stub_->CreateTenant(TestController::Context(admin_).get(), req, &first));
  ASSERT_GRPC_OK(stub_->CreateTenant(TestController::Context(admin_).get(), req, &second));
  EXPECT_EQ(first.SerializeAsString(), second.SerializeAsString());
  EXPECT_EQ(CountRows("tenants"), 1);

  req.mutable_tenant()->set_display_name("different");
  EXPECT_THAT(stub_->CreateTenant(TestController::Context(admin_).get(), req, &second),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "request_id"));

  v1::DeleteTenantRequest del;
  del.set_name("tenants/acme");
  del.set_request_id(NewUuid());
  google::protobuf::Empty empty;
  ASSERT_GRPC_OK(stub_->DeleteTenant(TestController::Context(admin_).get(), del, &empty));
  ASSERT_GRPC_OK(stub_->DeleteTenant(TestController::Context(admin_).get(), del, &empty));
}

TEST_F(TenantServiceTest, ConcurrentRetriesWithOneRequestIdCreateOnce) {
  v1::CreateTenantRequest req;
  req.set_tenant_id("acme");
  req.mutable_tenant()->set_display_name("ACME");
  req.set_request_id(NewUuid());
  std::vector<std::thread> threads;
  std::vector<grpc::Status> results(8);
  std::vector<v1::Tenant> tenants(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      results[i] = stub_->CreateTenant(TestController::Context(admin_).get(), req, &tenants[i]);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    ASSERT_GRPC_OK(results[i]);
    EXPECT_EQ(tenants[i].uid(), tenants[0].uid());
  }
  EXPECT_EQ(CountRows("tenants"), 1);
}

TEST_F(TenantServiceTest, ConcurrentCreatesGetDistinctNetworks) {
  constexpr int kTenants = 200;
  std::vector<v1::Tenant> created(kTenants);
  std::vector<grpc::Status> results(kTenants);
  std::vector<std::thread> threads;
  for (int i = 0; i < kTenants; ++i) {
    threads.emplace_back([&, i] { results[i] = Create(absl::StrCat("t", i), &created[i]); });
  }
  for (auto& t : threads) t.join();
  std::set<uint32_t> vnis;
  std::vector<tenants::Cidr> cidrs;
  for (int i = 0; i < kTenants; ++i) {
    ASSERT_GRPC_OK(results[i]);
    vnis.insert(created[i].network().vni());
    for (const std::string& text :
         {created[i].network().node_cidr(), created[i].network().storage_cidr()}) {
      auto c = tenants::Cidr::Parse(text);
      ASSERT_OK(c);
      cidrs.push_back(*c);
    }
  }
  EXPECT_EQ(vnis.size(), static_cast<size_t>(kTenants));
  for (size_t a = 0; a < cidrs.size(); ++a) {
    for (size_t b = a + 1; b < cidrs.size(); ++b) {
      ASSERT_FALSE(cidrs[a].Overlaps(cidrs[b])) << cidrs[a] << " overlaps " << cidrs[b];
    }
  }
  EXPECT_EQ(CountRows("tenants"), kTenants);
}

TEST_F(TenantServiceTest, ExhaustedPoolsAreNamed) {
  auto pools = testing::TestPools();
  pools.vni = {7000, 7001};
  StartController(pools);
  ASSERT_GRPC_OK(Create("a1"));
  ASSERT_GRPC_OK(Create("a2"));
  grpc::Status exhausted = Create("a3");
  EXPECT_THAT(exhausted,
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED, "network.vni_pool 7000-7001"));
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(exhausted.error_details()));
  google::rpc::QuotaFailure quota;
  ASSERT_EQ(details.details_size(), 1);
  ASSERT_TRUE(details.details(0).UnpackTo(&quota));
  EXPECT_EQ(quota.violations(0).subject(), "network.vni_pool");
  EXPECT_EQ(CountRows("tenants"), 2);

  // Deleting a tenant frees its VNI and CIDRs for the next one.
  v1::DeleteTenantRequest del;
  del.set_name("tenants/a1");
  google::protobuf::Empty empty;
  ASSERT_GRPC_OK(stub_->DeleteTenant(TestController::Context(admin_).get(), del, &empty));
  v1::Tenant t;
  ASSERT_GRPC_OK(Create("a3", &t));
  EXPECT_EQ(t.network().vni(), 7000u);
  EXPECT_EQ(t.network().node_cidr(), "10.80.0.0/24");

  pools = testing::TestPools();
  pools.node_supernet = *tenants::Cidr::Parse("10.80.0.0/23");
  StartController(pools);
  ASSERT_GRPC_OK(Create("b1"));
  ASSERT_GRPC_OK(Create("b2"));
  EXPECT_THAT(Create("b3"), GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                   "network.node_supernet 10.80.0.0/23 has no free /24"));
}

TEST_F(TenantServiceTest, DeleteIsRefusedWhileClustersExist) {
  ASSERT_GRPC_OK(Create("acme"));
  ASSERT_OK(
      controller_->Sql("INSERT INTO clusters (uid, tenant_id, name) "
                       "SELECT gen_random_uuid(), id, 'prod' FROM tenants WHERE name = 'acme'"));
  v1::DeleteTenantRequest del;
  del.set_name("tenants/acme");
  google::protobuf::Empty empty;
  grpc::Status refused = stub_->DeleteTenant(TestController::Context(admin_).get(), del, &empty);
  EXPECT_THAT(refused, GrpcIs(grpc::StatusCode::FAILED_PRECONDITION, "tenants/acme/clusters/prod"));
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(refused.error_details()));
  google::rpc::PreconditionFailure failure;
  ASSERT_EQ(details.details_size(), 1);
  ASSERT_TRUE(details.details(0).UnpackTo(&failure));
  ASSERT_EQ(failure.violations_size(), 1);
  EXPECT_EQ(failure.violations(0).subject(), "tenants/acme/clusters/prod");
  EXPECT_EQ(CountRows("tenants"), 1);
  ASSERT_OK(controller_->Sql("DELETE FROM clusters"));
  ASSERT_GRPC_OK(stub_->DeleteTenant(TestController::Context(admin_).get(), del, &empty));
  EXPECT_EQ(CountRows("tenants"), 0);
  EXPECT_EQ(CountRows("tenant_cidrs"), 0);
}

TEST_F(TenantServiceTest, ListPaginatesInNameOrder) {
  for (int i = 0; i < 7; ++i) ASSERT_GRPC_OK(Create(absl::StrCat("p", i)));
  std::vector<std::string> names;
  std::string token;
  int pages = 0;
  do {
    v1::ListTenantsRequest req;
    req.set_page_size(3);
    req.set_page_token(token);
    v1::ListTenantsResponse resp;
    ASSERT_GRPC_OK(stub_->ListTenants(TestController::Context(admin_).get(), req, &resp));
    for (const auto& t : resp.tenants()) names.push_back(t.name());
    token = resp.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(names, ElementsAre("tenants/p0", "tenants/p1", "tenants/p2", "tenants/p3",
                                 "tenants/p4", "tenants/p5", "tenants/p6"));

  v1::ListTenantsRequest bad;
  bad.set_page_token("garbage!");
  v1::ListTenantsResponse resp;
  grpc::Status st = stub_->ListTenants(TestController::Context(admin_).get(), bad, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Fields(st), ElementsAre("page_token"));
  bad.set_page_token("");
  bad.set_page_size(5000);
  st = stub_->ListTenants(TestController::Context(admin_).get(), bad, &resp);
  EXPECT_THAT(Fields(st), ElementsAre("page_size"));
}

TEST_F(TenantServiceTest, MutationsAndRefusalsAreAudited) {
  ASSERT_GRPC_OK(Create("acme"));
  EXPECT_FALSE(Create("acme").ok());
  auto rows = controller_->Sql(
      "SELECT principal || ' ' || method || ' ' || object || ' ' || code FROM audit_log "
      "ORDER BY id");
  ASSERT_OK(rows);
  std::vector<std::string> lines = absl::StrSplit(*rows, '\n', absl::SkipEmpty());
  EXPECT_THAT(lines,
              ElementsAre("provider-admin:operator CreateTenant tenants/acme OK",
                          "provider-admin:operator CreateTenant tenants/acme ALREADY_EXISTS"));
  EXPECT_FALSE(controller_->Sql("DELETE FROM audit_log").ok()) << "audit_log must be append-only";
}

TEST_F(TenantServiceTest, SurvivesPostgresRestart) {
  ASSERT_GRPC_OK(Create("before"));
  testing::PostgresServer& pg = testing::SharedPostgres();
  controller::store::Database& db = controller_->server().database();
  ASSERT_OK(pg.Stop());
  const int64_t retries_before = db.stats().retries_total;
  // Sent while the server is down: the store retries until it is back.
  grpc::Status during;
  std::thread caller([&] { during = Create("during"); });
  // The request is in flight and has failed to reach PostgreSQL at least
  // twice before the server comes back: the outage and the request overlap.
  const absl::Time give_up = absl::Now() + absl::Seconds(8);
  while (db.stats().retries_total < retries_before + 2 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const int64_t retries_while_down = db.stats().retries_total - retries_before;
  const absl::Status resumed = pg.Resume();
  caller.join();
  ASSERT_OK(resumed);
  ASSERT_GE(retries_while_down, 2) << "the request never waited for the database";
  ASSERT_GRPC_OK(during);
  ASSERT_GRPC_OK(Create("after"));
  v1::ListTenantsRequest req;
  v1::ListTenantsResponse resp;
  ASSERT_GRPC_OK(stub_->ListTenants(TestController::Context(admin_).get(), req, &resp));
  std::vector<std::string> names;
  for (const auto& t : resp.tenants()) names.push_back(t.name());
  EXPECT_THAT(names, ElementsAre("tenants/after", "tenants/before", "tenants/during"));
}

}  // namespace
}  // namespace mandant
