#include "tests/support/host_test_base.h"

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

#include "common/status_macros.h"
#include "common/uuid.h"
#include "controller/store/machine_store.h"
#include "pki/certificate_info.h"
#include "pki/encoding.h"
#include "tests/support/status_matchers.h"

namespace mandant::testing {

std::vector<std::string> BadRequestFields(const grpc::Status& status) {
  google::rpc::Status details;
  std::vector<std::string> out;
  if (!details.ParseFromString(status.error_details())) return out;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&bad)) {
      for (const auto& v : bad.field_violations()) out.push_back(v.field());
    }
  }
  return out;
}

const v1::Condition* FindCondition(const v1::Host& host, const std::string& type) {
  for (const v1::Condition& c : host.conditions()) {
    if (c.type() == type) return &c;
  }
  return nullptr;
}

std::string ConditionStatus(const v1::Host& host, const std::string& type) {
  const v1::Condition* c = FindCondition(host, type);
  if (c == nullptr) return "missing";
  return c->status() == v1::CONDITION_STATUS_TRUE    ? "True"
         : c->status() == v1::CONDITION_STATUS_FALSE ? "False"
                                                     : "Unknown";
}

std::string ConditionReason(const v1::Host& host, const std::string& type) {
  const v1::Condition* c = FindCondition(host, type);
  return c == nullptr ? "missing" : c->reason();
}

std::string SerialOf(const std::string& certificate_pem) {
  auto cert = pki::ParseCertificate(certificate_pem);
  if (!cert.ok()) return "";
  auto info = pki::DescribeCertificate(cert->get());
  return info.ok() ? info->serial_hex : "";
}

controller::store::NewMachine TestMachine(const std::string& tenant, const std::string& name,
                                          const std::string& host, int mac) {
  controller::store::NewMachine m;
  m.machine_id = NewUuid();
  m.tenant = tenant;
  m.cluster = "prod";
  m.name = name;
  m.host = host;
  m.resources.set_vcpus(2);
  m.resources.set_memory_mib(2048);
  m.resources.set_disk_gib(20);
  m.base_image = "debian-12-k8s-1.30";
  m.base_image_sha256 = std::string(64, 'a');
  m.node_mac = absl::StrCat("02:4d:00:00:00:", absl::Hex(mac, absl::kZeroPad2));
  m.seed.set_user_data("#cloud-config\n");
  return m;
}

absl::StatusOr<std::string> PlaceMachine(TestController& c, const std::string& tenant,
                                         const std::string& name, const std::string& host,
                                         int mac) {
  MANDANT_ASSIGN_OR_RETURN(pki::KeyRing keys, c.KeyRing());
  const controller::store::NewMachine m = TestMachine(tenant, name, host, mac);
  controller::store::MachineStore store;
  MANDANT_RETURN_IF_ERROR(c.server().database().Transact(
      "test", [&](controller::store::Connection& conn) -> absl::Status {
        absl::Status cluster = store.CreateCluster(conn, tenant, "prod");
        if (!cluster.ok() && !absl::IsAlreadyExists(cluster)) return cluster;
        return store.Insert(conn, m, keys.current());
      }));
  return m.machine_id;
}

absl::Status DeleteMachine(TestController& c, const std::string& machine_id) {
  controller::store::MachineStore store;
  return c.server().database().Transact(
      "test", [&](controller::store::Connection& conn) { return store.Delete(conn, machine_id); });
}

void HostTestBase::Start(std::function<void(controller::ServerOptions&)> adjust) {
  controller_.reset();
  auto c = TestController::Start(TestPools(), 8, std::move(adjust));
  ASSERT_OK(c);
  controller_ = *std::move(c);
  hosts_ = v1::HostService::NewStub(controller_->channel());
  admin_ = controller_->Token(controller::auth::Role::kProviderAdmin, "", "operator");
}

grpc::Status HostTestBase::CreateHost(const std::string& id, const std::string& underlay,
                                      v1::CreateHostResponse* out, const std::string& request_id,
                                      const std::string& token) {
  v1::CreateHostRequest req;
  req.set_host_id(id);
  req.mutable_host()->set_underlay_address(underlay);
  req.set_request_id(request_id);
  auto ctx = TestController::Context(token.empty() ? admin_ : token);
  return hosts_->CreateHost(ctx.get(), req, out);
}

v1::CreateHostResponse HostTestBase::MustCreateHost(const std::string& id,
                                                    const std::string& underlay) {
  v1::CreateHostResponse resp;
  grpc::Status st = CreateHost(id, underlay, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp;
}

std::string HostTestBase::RegisterHost(const std::string& id, const std::string& underlay) {
  return MustCreateHost(id, underlay).bootstrap_token().token();
}

std::string HostTestBase::IssueToken(const std::string& id) {
  v1::IssueBootstrapTokenRequest req;
  req.set_name(absl::StrCat("hosts/", id));
  v1::IssueBootstrapTokenResponse resp;
  auto ctx = TestController::Context(admin_);
  grpc::Status st = hosts_->IssueBootstrapToken(ctx.get(), req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp.bootstrap_token().token();
}

grpc::Status HostTestBase::GetHost(const std::string& name, v1::Host* out) {
  v1::GetHostRequest req;
  req.set_name(name);
  auto ctx = TestController::Context(admin_);
  return hosts_->GetHost(ctx.get(), req, out);
}

v1::Host HostTestBase::MustGetHost(const std::string& name) {
  v1::Host host;
  grpc::Status st = GetHost(name, &host);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return host;
}

v1::Host HostTestBase::WaitForHost(const std::string& name,
                                   const std::function<bool(const v1::Host&)>& accept,
                                   absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  v1::Host host = MustGetHost(name);
  while (!accept(host) && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    host = MustGetHost(name);
  }
  return host;
}

v1::Tenant HostTestBase::CreateTenant(const std::string& id) {
  v1::CreateTenantRequest req;
  req.set_tenant_id(id);
  req.mutable_tenant()->set_display_name(id);
  v1::Tenant t;
  auto ctx = TestController::Context(admin_);
  grpc::Status st = controller_->Tenants()->CreateTenant(ctx.get(), req, &t);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return t;
}

std::unique_ptr<AgentConnection> HostTestBase::Connect(const EnrolledAgent& agent) {
  return std::make_unique<AgentConnection>(
      MutualTlsChannel(*controller_, agent.key_pem, agent.chain()));
}

absl::Status HostTestBase::InDatabase(
    absl::FunctionRef<absl::Status(controller::store::Connection&)> body) {
  return controller_->server().database().Transact("test", body);
}

int64_t HostTestBase::Count(const std::string& sql) {
  auto out = controller_->Sql(sql);
  EXPECT_OK(out);
  int64_t n = -1;
  if (out.ok()) {
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*out), &n)) << *out;
  }
  return n;
}

std::string HostTestBase::Sql(const std::string& sql) {
  auto out = controller_->Sql(sql);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "";
}

void HostTestBase::PlaceEdge(const std::string& tenant) {
  const std::string id = Sql(absl::StrCat("SELECT id FROM tenants WHERE name = '", tenant, "'"));
  int64_t row_id = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(id), &row_id)) << id;
  absl::Status st = controller_->server().edge_reconciler().Reconcile(row_id);
  ASSERT_TRUE(st.ok()) << st;
}

}  // namespace mandant::testing
