// The controller's side of the tenant edge (docs/edge.md) against a real
// PostgreSQL: addresses (the tenant's gateway, its egress address, machines'
// node addresses) allocated under the database's constraints, edge placement
// following the tenant's machines, the EdgeSpec each edge host receives, and
// EdgeService (the edge's health and the egress policy).

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "google/protobuf/empty.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "common/status_macros.h"
#include "controller/agents/host_spec.h"
#include "controller/store/edge_store.h"
#include "controller/store/host_store.h"
#include "mandant/v1/edge.grpc.pb.h"
#include "tests/support/host_test_base.h"
#include "tests/support/status_matchers.h"

namespace mandant {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

controller::EdgeSettings TestEdgeSettings() {
  controller::EdgeSettings s;
  controller::store::ExternalNetwork net;
  net.name = "internet";
  net.cidr = *tenants::Cidr::Parse("198.51.100.0/24");
  net.gateway = "198.51.100.1";
  net.first = "198.51.100.10";
  net.last = "198.51.100.13";
  net.bridge = "br-ext";
  net.hosts = {"hv1", "hv2", "hv3"};
  s.external_networks.push_back(net);
  s.dns_servers = {"192.0.2.53"};
  s.controller_cidrs = {"203.0.113.10/32"};
  // Placement runs when a test calls it, not on a timer.
  s.placement_interval = absl::Hours(1);
  return s;
}

class EdgeTest : public testing::HostTestBase {
 protected:
  void SetUp() override {
    Start([](controller::ServerOptions& o) { o.edge = TestEdgeSettings(); });
    edges_ = v1::EdgeService::NewStub(controller_->channel());
  }

  // The host's desired state, as its agent would receive it.
  v1::HostSpec SpecOf(const std::string& host) {
    v1::HostSpec spec;
    controller::store::HostStore store;
    EXPECT_OK(InDatabase([&](controller::store::Connection& conn) -> absl::Status {
      MANDANT_RETURN_IF_ERROR(conn.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
      MANDANT_ASSIGN_OR_RETURN(int64_t id, store.InternalId(conn, host));
      auto keys = controller_->KeyRing();
      if (!keys.ok()) return keys.status();
      MANDANT_ASSIGN_OR_RETURN(
          spec, controller::DesiredHostSpec(conn, store, id, *keys, TestEdgeSettings()));
      return absl::OkStatus();
    }));
    return spec;
  }

  std::unique_ptr<v1::EdgeService::Stub> edges_;
};

TEST_F(EdgeTest, ATenantGetsItsGatewayAndAnEgressAddressFromTheExternalNetwork) {
  const v1::Tenant acme = CreateTenant("acme");
  const v1::Tenant beta = CreateTenant("beta");
  EXPECT_EQ(Sql("SELECT host(address) FROM tenant_node_addresses a JOIN tenants t ON "
                "t.id = a.tenant_id WHERE t.name = 'acme' AND purpose = 'GATEWAY'"),
            absl::StrCat(acme.network().gateway(), "\n"));
  // The lowest free addresses of the range, one each, never the same.
  EXPECT_EQ(Sql("SELECT t.name || ' ' || host(x.address) FROM external_addresses x "
                "JOIN tenants t ON t.id = x.tenant_id ORDER BY x.address"),
            "acme 198.51.100.10\nbeta 198.51.100.11\n");
}

TEST_F(EdgeTest, DeletingATenantFreesItsAddressesForTheNext) {
  CreateTenant("acme");
  CreateTenant("beta");
  v1::DeleteTenantRequest del;
  del.set_name("tenants/acme");
  google::protobuf::Empty empty;
  auto tenants = controller_->Tenants();
  ASSERT_GRPC_OK(
      tenants->DeleteTenant(testing::TestController::Context(admin_).get(), del, &empty));
  EXPECT_EQ(Sql("SELECT count(*) FROM external_addresses"), "1\n");
  EXPECT_EQ(Sql("SELECT count(*) FROM tenant_node_addresses"), "1\n");
  CreateTenant("gamma");
  EXPECT_EQ(Sql("SELECT host(x.address) FROM external_addresses x JOIN tenants t "
                "ON t.id = x.tenant_id WHERE t.name = 'gamma'"),
            "198.51.100.10\n");
}

TEST_F(EdgeTest, AFullExternalNetworkRefusesNewTenantsAndChangesNothing) {
  for (const char* id : {"t1", "t2", "t3", "t4"}) CreateTenant(id);
  v1::CreateTenantRequest req;
  req.set_tenant_id("t5");
  req.mutable_tenant();
  v1::Tenant out;
  auto tenants = controller_->Tenants();
  grpc::Status st =
      tenants->CreateTenant(testing::TestController::Context(admin_).get(), req, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("internet"));
  EXPECT_EQ(Sql("SELECT count(*) FROM tenants WHERE name = 't5'"), "0\n");
}

TEST_F(EdgeTest, MachinesGetTheLowestFreeNodeAddressesAndGiveThemBack) {
  const v1::Tenant acme = CreateTenant("acme");
  // hv9 is not attached to the external network: no edge copy (which
  // takes a node address of its own) is placed while the machines come.
  MustCreateHost("hv9", "10.0.0.9");
  auto a = testing::PlaceMachine(*controller_, "acme", "cp-1", "hv9", 1);
  auto b = testing::PlaceMachine(*controller_, "acme", "cp-2", "hv9", 2);
  ASSERT_OK(a);
  ASSERT_OK(b);
  const std::string prefix =
      acme.network().gateway().substr(0, acme.network().gateway().rfind('.') + 1);
  // .1 is the gateway.
  EXPECT_EQ(Sql(absl::StrCat("SELECT host(address) FROM tenant_node_addresses WHERE "
                             "machine_id = '",
                             *a, "'")),
            absl::StrCat(prefix, "2\n"));
  EXPECT_EQ(Sql(absl::StrCat("SELECT host(address) FROM tenant_node_addresses WHERE "
                             "machine_id = '",
                             *b, "'")),
            absl::StrCat(prefix, "3\n"));
  ASSERT_OK(testing::DeleteMachine(*controller_, *a));
  auto c = testing::PlaceMachine(*controller_, "acme", "cp-3", "hv9", 3);
  ASSERT_OK(c);
  EXPECT_EQ(Sql(absl::StrCat("SELECT host(address) FROM tenant_node_addresses WHERE "
                             "machine_id = '",
                             *c, "'")),
            absl::StrCat(prefix, "2\n"));
}

TEST_F(EdgeTest, ConcurrentMachinesNeverShareAnAddress) {
  CreateTenant("acme");
  MustCreateHost("hv1", "10.0.0.1");
  ASSERT_OK(testing::PlaceMachine(*controller_, "acme", "seed", "hv1", 0x40));
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(16);
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      results[i] =
          testing::PlaceMachine(*controller_, "acme", absl::StrCat("w-", i), "hv1", i + 1).status();
    });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& st : results) EXPECT_OK(st);
  EXPECT_EQ(Sql("SELECT count(DISTINCT address) FROM tenant_node_addresses "
                "WHERE purpose = 'MACHINE'"),
            "17\n");
}

TEST_F(EdgeTest, AnAddressOutsideTheNodeNetworkIsRefusedByTheDatabase) {
  CreateTenant("acme");
  auto st = controller_->Sql(
      "INSERT INTO tenant_node_addresses (tenant_id, address, purpose) "
      "SELECT id, '192.0.2.7', 'GATEWAY' FROM tenants WHERE name = 'acme'");
  EXPECT_FALSE(st.ok());
}

TEST_F(EdgeTest, TheEdgeFollowsTheTenantsMachines) {
  CreateTenant("acme");
  MustCreateHost("hv1", "10.0.0.1");
  MustCreateHost("hv2", "10.0.0.2");
  MustCreateHost("hv3", "10.0.0.3");
  MustCreateHost("hv9", "10.0.0.9");  // not attached to the external network

  // No machine, no edge.
  PlaceEdge("acme");
  EXPECT_EQ(Sql("SELECT count(*) FROM edge_instances"), "0\n");

  // One machine on hv2: one copy, on hv2 (it runs the tenant's machine).
  auto m1 = testing::PlaceMachine(*controller_, "acme", "cp-1", "hv2", 1);
  ASSERT_OK(m1);
  PlaceEdge("acme");
  EXPECT_EQ(Sql("SELECT h.name || ' ' || i.ordinal FROM edge_instances i JOIN hosts h "
                "ON h.id = i.host_id ORDER BY i.ordinal"),
            "hv2 0\n");

  // A machine on the unattached hv9 as well: the tenant spans two hosts, so
  // a second copy goes to the attached host with the fewest edges.
  auto m2 = testing::PlaceMachine(*controller_, "acme", "cp-2", "hv9", 2);
  ASSERT_OK(m2);
  PlaceEdge("acme");
  EXPECT_EQ(Sql("SELECT h.name || ' ' || i.ordinal FROM edge_instances i JOIN hosts h "
                "ON h.id = i.host_id ORDER BY i.ordinal"),
            "hv2 0\nhv1 1\n");
  // Placing again changes nothing.
  PlaceEdge("acme");
  EXPECT_EQ(Sql("SELECT count(*) FROM edge_instances"), "2\n");
  // Each copy has its own node address.
  EXPECT_EQ(Sql("SELECT count(*) FROM tenant_node_addresses WHERE purpose = 'EDGE'"), "2\n");

  // The last machine gone: the edge and its addresses go.
  ASSERT_OK(testing::DeleteMachine(*controller_, *m1));
  ASSERT_OK(testing::DeleteMachine(*controller_, *m2));
  PlaceEdge("acme");
  EXPECT_EQ(Sql("SELECT count(*) FROM edges"), "0\n");
  EXPECT_EQ(Sql("SELECT count(*) FROM tenant_node_addresses WHERE purpose = 'EDGE'"), "0\n");
  // The egress address stays with the tenant.
  EXPECT_EQ(Sql("SELECT count(*) FROM external_addresses"), "1\n");
}

TEST_F(EdgeTest, CordonedHostsGetNoEdge) {
  CreateTenant("acme");
  MustCreateHost("hv1", "10.0.0.1");
  MustCreateHost("hv2", "10.0.0.2");
  ASSERT_OK(controller_->Sql("UPDATE hosts SET cordoned = true WHERE name = 'hv1'").status());
  ASSERT_OK(testing::PlaceMachine(*controller_, "acme", "cp-1", "hv1", 1).status());
  PlaceEdge("acme");
  EXPECT_EQ(Sql("SELECT h.name FROM edge_instances i JOIN hosts h ON h.id = i.host_id"), "hv2\n");
}

TEST_F(EdgeTest, EdgeHostsReceiveTheEdgeSpecAndTheTenantNetwork) {
  const v1::Tenant acme = CreateTenant("acme");
  MustCreateHost("hv1", "10.0.0.1");
  MustCreateHost("hv9", "10.0.0.9");
  // The machine runs on hv9, which has no external link: the edge goes to hv1.
  controller::store::NewMachine cp = testing::TestMachine("acme", "cp-1", "hv9", 1);
  cp.role = v1::MACHINE_ROLE_CONTROL_PLANE;
  ASSERT_OK(InDatabase([&](controller::store::Connection& conn) -> absl::Status {
    controller::store::MachineStore machines;
    MANDANT_RETURN_IF_ERROR(machines.CreateCluster(conn, "acme", "prod"));
    auto keys = controller_->KeyRing();
    if (!keys.ok()) return keys.status();
    MANDANT_RETURN_IF_ERROR(machines.Insert(conn, cp, keys->current()));
    controller::store::EdgeStore edges;
    return edges
        .CreateEndpoint(conn, "acme", "prod", TestEdgeSettings().external_networks.front(), 6443,
                        {"192.0.2.0/24"})
        .status();
  }));
  PlaceEdge("acme");

  const v1::HostSpec spec = SpecOf("hv1");
  ASSERT_EQ(spec.edges_size(), 1);
  const v1::EdgeSpec& edge = spec.edges(0);
  EXPECT_EQ(edge.tenant(), "tenants/acme");
  EXPECT_EQ(edge.namespace_(),
            absl::StrCat("mandant-ex", absl::Hex(acme.network().vni(), absl::kZeroPad6)));
  // The edge host carries the tenant's network, with hv9 in its flood list.
  ASSERT_EQ(spec.networks_size(), 1);
  EXPECT_EQ(spec.networks(0).bridge_name(), edge.tenant_bridge());
  EXPECT_THAT(spec.networks(0).peer_underlay_addresses(), ElementsAre("10.0.0.9"));
  EXPECT_EQ(edge.mtu(), spec.networks(0).mtu());
  EXPECT_THAT(spec.vms(), IsEmpty());
  EXPECT_EQ(edge.node_cidr(), acme.network().node_cidr());
  EXPECT_EQ(edge.gateway_address(), acme.network().gateway());
  EXPECT_EQ(edge.external_bridge(), "br-ext");
  EXPECT_EQ(edge.external_cidr(), "198.51.100.0/24");
  EXPECT_EQ(edge.external_gateway(), "198.51.100.1");
  EXPECT_EQ(edge.egress_address(), "198.51.100.10");
  EXPECT_FALSE(edge.has_vrrp());
  EXPECT_THAT(edge.dns_servers(), ElementsAre("192.0.2.53"));
  // The control plane is the endpoint's backend and has a static lease.
  const std::string cp_address = Sql(absl::StrCat(
      "SELECT host(address) FROM tenant_node_addresses WHERE machine_id = '", cp.machine_id, "'"));
  ASSERT_EQ(edge.endpoints_size(), 1);
  const v1::EdgeEndpointSpec& ep = edge.endpoints(0);
  EXPECT_EQ(ep.cluster(), "tenants/acme/clusters/prod");
  EXPECT_EQ(ep.external_address(), "198.51.100.11");
  EXPECT_EQ(ep.port(), 6443u);
  EXPECT_THAT(ep.allowed_cidrs(), ElementsAre("192.0.2.0/24", "203.0.113.10/32"));
  ASSERT_EQ(ep.backends_size(), 1);
  EXPECT_EQ(ep.backends(0).name(), "cp-1");
  EXPECT_EQ(absl::StrCat(ep.backends(0).address(), "\n"), cp_address);
  ASSERT_EQ(edge.dhcp_hosts_size(), 1);
  EXPECT_EQ(edge.dhcp_hosts(0).mac_address(), "02:4d:00:00:00:01");
  EXPECT_EQ(absl::StrCat(edge.dhcp_hosts(0).address(), "\n"), cp_address);
  // Every address of the spec is distinct.
  std::set<std::string> addresses = {edge.gateway_address(), edge.instance_address(),
                                     ep.internal_address(), edge.dhcp_hosts(0).address()};
  EXPECT_EQ(addresses.size(), 4u);
  EXPECT_EQ(edge.egress_policy().default_action(), v1::EGRESS_ACTION_ALLOW);

  // The machine's host does not run the edge.
  EXPECT_THAT(SpecOf("hv9").edges(), IsEmpty());
}

TEST_F(EdgeTest, ARedundantEdgeHasVrrpBetweenItsTwoCopies) {
  CreateTenant("acme");
  MustCreateHost("hv1", "10.0.0.1");
  MustCreateHost("hv2", "10.0.0.2");
  ASSERT_OK(testing::PlaceMachine(*controller_, "acme", "cp-1", "hv1", 1).status());
  ASSERT_OK(testing::PlaceMachine(*controller_, "acme", "cp-2", "hv2", 2).status());
  PlaceEdge("acme");
  const v1::HostSpec one = SpecOf("hv1");
  const v1::HostSpec two = SpecOf("hv2");
  ASSERT_EQ(one.edges_size(), 1);
  ASSERT_EQ(two.edges_size(), 1);
  const v1::EdgeSpec& a = one.edges(0);
  const v1::EdgeSpec& b = two.edges(0);
  ASSERT_TRUE(a.has_vrrp());
  ASSERT_TRUE(b.has_vrrp());
  EXPECT_EQ(a.vrrp().virtual_router_id(), b.vrrp().virtual_router_id());
  EXPECT_NE(a.vrrp().priority(), b.vrrp().priority());
  EXPECT_THAT(a.vrrp().peer_addresses(), ElementsAre(b.instance_address()));
  EXPECT_THAT(b.vrrp().peer_addresses(), ElementsAre(a.instance_address()));
  // The shared addresses are the same in both.
  EXPECT_EQ(a.gateway_address(), b.gateway_address());
  EXPECT_EQ(a.egress_address(), b.egress_address());
}

// ---------------------------------------------------------------------------
// EdgeService

TEST_F(EdgeTest, GetEdgeShowsPlacementAndHealthOnlyToTheTenantAndTheProvider) {
  CreateTenant("acme");
  CreateTenant("beta");
  MustCreateHost("hv1", "10.0.0.1");
  ASSERT_OK(testing::PlaceMachine(*controller_, "acme", "cp-1", "hv1", 1).status());
  PlaceEdge("acme");

  v1::GetEdgeRequest req;
  req.set_name("tenants/acme/edge");
  v1::Edge edge;
  const std::string viewer =
      controller_->Token(controller::auth::Role::kTenantViewer, "acme", "viewer");
  ASSERT_GRPC_OK(edges_->GetEdge(testing::TestController::Context(viewer).get(), req, &edge));
  EXPECT_EQ(edge.egress_address(), "198.51.100.10");
  ASSERT_EQ(edge.instances_size(), 1);
  EXPECT_EQ(edge.instances(0).host(), "hosts/hv1");
  // The host has no agent yet: the copy is down, and the edge not Ready.
  EXPECT_EQ(edge.instances(0).role(), v1::EDGE_ROLE_DOWN);
  std::vector<std::string> conditions;
  for (const v1::Condition& c : edge.conditions()) {
    conditions.push_back(absl::StrCat(c.type(), "=", v1::ConditionStatus_Name(c.status())));
  }
  EXPECT_THAT(conditions,
              ElementsAre("Placed=CONDITION_STATUS_TRUE", "Ready=CONDITION_STATUS_FALSE",
                          "Redundant=CONDITION_STATUS_FALSE"));

  // Another tenant's admin learns nothing, not even that it exists.
  const std::string other = controller_->Token(controller::auth::Role::kTenantAdmin, "beta", "b");
  grpc::Status st = edges_->GetEdge(testing::TestController::Context(other).get(), req, &edge);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  req.set_name("tenants/nope/edge");
  grpc::Status missing = edges_->GetEdge(testing::TestController::Context(other).get(), req, &edge);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(EdgeTest, TheEgressPolicyIsValidatedVersionedAndReachesTheEdge) {
  CreateTenant("acme");
  MustCreateHost("hv1", "10.0.0.1");
  ASSERT_OK(testing::PlaceMachine(*controller_, "acme", "cp-1", "hv1", 1).status());
  PlaceEdge("acme");
  const std::string admin = controller_->Token(controller::auth::Role::kTenantAdmin, "acme", "a");

  v1::GetEgressPolicyRequest get;
  get.set_name("tenants/acme/egressPolicy");
  v1::EgressPolicy initial;
  ASSERT_GRPC_OK(
      edges_->GetEgressPolicy(testing::TestController::Context(admin).get(), get, &initial));
  EXPECT_EQ(initial.default_action(), v1::EGRESS_ACTION_ALLOW);
  EXPECT_THAT(initial.rules(), IsEmpty());

  // Every bad rule is named; nothing changes.
  v1::UpdateEgressPolicyRequest bad;
  bad.mutable_policy()->set_name("tenants/acme/egressPolicy");
  v1::EgressRule* r0 = bad.mutable_policy()->add_rules();
  r0->set_destination_cidr("10.0.0.1/8");
  r0->set_action(v1::EGRESS_ACTION_DENY);
  v1::EgressRule* r1 = bad.mutable_policy()->add_rules();
  r1->set_destination_cidr("0.0.0.0/0");
  r1->set_protocol(v1::IP_PROTOCOL_ICMP);
  r1->set_port_from(80);
  r1->set_action(v1::EGRESS_ACTION_ALLOW);
  bad.mutable_update_mask()->add_paths("rules");
  v1::EgressPolicy out;
  grpc::Status st =
      edges_->UpdateEgressPolicy(testing::TestController::Context(admin).get(), bad, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<std::string> fields = testing::BadRequestFields(st);
  EXPECT_FALSE(fields.empty());
  for (const std::string& f : fields) {
    EXPECT_TRUE(absl::StartsWith(f, "policy.rules[0]") || absl::StartsWith(f, "policy.rules[1]"))
        << f;
  }
  EXPECT_EQ(Sql("SELECT generation FROM egress_policies"), "1\n");

  // A good one is stored, bumps the etag and reaches the edge host's spec.
  v1::UpdateEgressPolicyRequest good;
  good.mutable_policy()->set_name("tenants/acme/egressPolicy");
  good.mutable_policy()->set_etag(initial.etag());
  good.mutable_policy()->set_default_action(v1::EGRESS_ACTION_DENY);
  v1::EgressRule* allow = good.mutable_policy()->add_rules();
  allow->set_destination_cidr("192.0.2.0/24");
  allow->set_protocol(v1::IP_PROTOCOL_TCP);
  allow->set_port_from(443);
  allow->set_action(v1::EGRESS_ACTION_ALLOW);
  good.mutable_update_mask()->add_paths("default_action");
  good.mutable_update_mask()->add_paths("rules");
  ASSERT_GRPC_OK(
      edges_->UpdateEgressPolicy(testing::TestController::Context(admin).get(), good, &out));
  EXPECT_EQ(out.default_action(), v1::EGRESS_ACTION_DENY);
  EXPECT_NE(out.etag(), initial.etag());
  const v1::HostSpec spec = SpecOf("hv1");
  ASSERT_EQ(spec.edges_size(), 1);
  EXPECT_EQ(spec.edges(0).egress_policy().default_action(), v1::EGRESS_ACTION_DENY);
  ASSERT_EQ(spec.edges(0).egress_policy().rules_size(), 1);
  EXPECT_EQ(spec.edges(0).egress_policy().rules(0).destination_cidr(), "192.0.2.0/24");
  EXPECT_EQ(spec.edges(0).egress_policy().rules(0).port_from(), 443u);

  // The old etag no longer matches.
  st = edges_->UpdateEgressPolicy(testing::TestController::Context(admin).get(), good, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED);

  // A viewer may read but not change it; another tenant cannot see it.
  const std::string viewer = controller_->Token(controller::auth::Role::kTenantViewer, "acme");
  good.mutable_policy()->clear_etag();
  st = edges_->UpdateEgressPolicy(testing::TestController::Context(viewer).get(), good, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  CreateTenant("beta");
  const std::string other = controller_->Token(controller::auth::Role::kTenantAdmin, "beta");
  st = edges_->GetEgressPolicy(testing::TestController::Context(other).get(), get, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);

  // Changes are audited.
  EXPECT_EQ(Sql("SELECT code FROM audit_log WHERE method = 'UpdateEgressPolicy' ORDER BY id"),
            "INVALID_ARGUMENT\nOK\nABORTED\nPERMISSION_DENIED\n");
}

}  // namespace
}  // namespace mandant
