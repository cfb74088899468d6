// The egress log and the edges' status against a real PostgreSQL and real
// agent streams (docs/edge.md, "Egress log"): events relayed by a host's
// agent are stored for the tenant whose edge is placed there and for no
// other, with the agent's clock clamped; EdgeService.ListEgressEvents pages
// through them newest first, filtered, to the tenant and the provider
// only; daily partitions are created ahead and dropped whole; and the
// edges' reports (EdgeStatus) reach GetEdge and dropped_events.

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "common/status_macros.h"
#include "controller/store/egress_log_store.h"
#include "controller/store/host_store.h"
#include "mandant/v1/edge.grpc.pb.h"
#include "tenants/edge_names.h"
#include "tests/support/agent_client.h"
#include "tests/support/host_test_base.h"
#include "tests/support/status_matchers.h"

namespace mandant {
namespace {

using controller::auth::Role;
using controller::store::EgressLogStore;
using google::protobuf::util::TimeUtil;
using testing::AgentConnection;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::TestController;

constexpr absl::Duration kWait = absl::Seconds(10);

controller::EdgeSettings TestEdgeSettings() {
  controller::EdgeSettings s;
  controller::store::ExternalNetwork net;
  net.name = "internet";
  net.cidr = *tenants::Cidr::Parse("198.51.100.0/24");
  net.gateway = "198.51.100.1";
  net.first = "198.51.100.10";
  net.last = "198.51.100.20";
  net.bridge = "br-ext";
  net.hosts = {"hv1", "hv2"};
  s.external_networks.push_back(net);
  s.placement_interval = absl::Hours(1);
  return s;
}

google::protobuf::Timestamp Proto(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t));
}

v1::EgressRecord Record(const std::string& ns, absl::Time time, const std::string& source,
                        const std::string& destination, uint32_t port,
                        v1::EgressAction action = v1::EGRESS_ACTION_ALLOW) {
  v1::EgressRecord r;
  r.set_namespace_(ns);
  *r.mutable_time() = Proto(time);
  r.set_source_address(source);
  r.set_destination_address(destination);
  r.set_destination_port(port);
  r.set_protocol_number(6);
  r.set_action(action);
  return r;
}

class EgressLogTest : public testing::HostTestBase {
 protected:
  void SetUp() override {
    Start([](controller::ServerOptions& o) { o.edge = TestEdgeSettings(); });
    edges_ = v1::EdgeService::NewStub(controller_->channel());
  }

  // The tenant's edge namespace, as the agent names it.
  static std::string Namespace(const v1::Tenant& tenant) {
    auto ns = tenants::EdgeNamespaceName(v1::NETWORK_MODE_VXLAN, tenant.network().vni());
    EXPECT_OK(ns);
    return ns.ok() ? *ns : "";
  }

  std::string MachineAddress(const std::string& machine_id) {
    return std::string(absl::StripAsciiWhitespace(Sql(absl::StrCat(
        "SELECT host(address) FROM tenant_node_addresses WHERE machine_id = '", machine_id, "'"))));
  }

  int64_t HostId(const std::string& host) {
    int64_t id = -1;
    controller::store::HostStore store;
    EXPECT_OK(InDatabase([&](controller::store::Connection& conn) -> absl::Status {
      MANDANT_ASSIGN_OR_RETURN(id, store.InternalId(conn, host));
      return absl::OkStatus();
    }));
    return id;
  }

  // Enrolls hosts/{id} (registered already), connects and says Hello.
  std::unique_ptr<AgentConnection> ConnectAgent(const std::string& id, const std::string& token,
                                                const std::string& underlay) {
    auto agent = testing::EnrollNewKey(*controller_, absl::StrCat("hosts/", id), token);
    EXPECT_OK(agent);
    if (!agent.ok()) return nullptr;
    auto stream = Connect(*agent);
    v1::Hello hello;
    hello.set_host(agent->host);
    hello.set_agent_version("0.1.0");
    hello.set_underlay_address(underlay);
    hello.set_underlay_mtu(1500);
    EXPECT_TRUE(stream->SendHello(hello));
    EXPECT_TRUE(stream->NextSpec(kWait).has_value()) << "no HostSpec for " << id;
    return stream;
  }

  // Waits until `sql` (a count) returns `want`; the last value read.
  int64_t WaitForCount(const std::string& sql, int64_t want) {
    const absl::Time deadline = absl::Now() + kWait;
    int64_t got = Count(sql);
    while (got != want && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
      got = Count(sql);
    }
    return got;
  }

  grpc::Status List(const std::string& token, const v1::ListEgressEventsRequest& req,
                    v1::ListEgressEventsResponse* out) {
    out->Clear();
    return edges_->ListEgressEvents(TestController::Context(token).get(), req, out);
  }

  // Two tenants, each with a machine and an edge: acme on hv1, beta on hv2.
  void TwoTenantsOnTwoHosts() {
    acme_ = CreateTenant("acme");
    beta_ = CreateTenant("beta");
    token1_ = RegisterHost("hv1", "10.0.0.1");
    token2_ = RegisterHost("hv2", "10.0.0.2");
    auto a = testing::PlaceMachine(*controller_, "acme", "cp-1", "hv1", 1);
    auto b = testing::PlaceMachine(*controller_, "beta", "cp-1", "hv2", 2);
    ASSERT_OK(a);
    ASSERT_OK(b);
    acme_machine_ = *a;
    beta_machine_ = *b;
    PlaceEdge("acme");
    PlaceEdge("beta");
    ASSERT_EQ(Sql("SELECT h.name || ' ' || t.name FROM edge_instances i JOIN hosts h "
                  "ON h.id = i.host_id JOIN tenants t ON t.id = i.tenant_id ORDER BY 1"),
              "hv1 acme\nhv2 beta\n");
  }

  std::unique_ptr<v1::EdgeService::Stub> edges_;
  v1::Tenant acme_, beta_;
  std::string token1_, token2_;
  std::string acme_machine_, beta_machine_;
};

TEST_F(EgressLogTest, AgentEventsAreStoredForTheEdgesTenantOnlyWithTheirClockClamped) {
  TwoTenantsOnTwoHosts();
  if (HasFatalFailure()) return;
  auto hv1 = ConnectAgent("hv1", token1_, "10.0.0.1");
  ASSERT_NE(hv1, nullptr);
  const std::string acme_ns = Namespace(acme_);
  const std::string source = MachineAddress(acme_machine_);
  const absl::Time sent = absl::Now();

  v1::AgentMessage m;
  v1::EgressEventBatch* batch = m.mutable_egress_events();
  *batch->add_events() = Record(acme_ns, sent - absl::Seconds(5), source, "192.0.2.10", 443);
  // A clock a day behind and one a day ahead.
  *batch->add_events() = Record(acme_ns, sent - absl::Hours(24), source, "192.0.2.11", 80);
  *batch->add_events() = Record(acme_ns, sent + absl::Hours(24), "10.99.0.1", "192.0.2.12", 22,
                                v1::EGRESS_ACTION_DENY);
  // Beta's edge runs on hv2: hv1 may not speak for it.
  *batch->add_events() =
      Record(Namespace(beta_), sent, MachineAddress(beta_machine_), "192.0.2.13", 443);
  ASSERT_TRUE(hv1->Send(m));
  EXPECT_EQ(WaitForCount("SELECT count(*) FROM egress_events", 3), 3);
  // The stream goes on.
  EXPECT_FALSE(hv1->WaitEnd(absl::Milliseconds(200)).has_value());
  EXPECT_EQ(Count("SELECT count(*) FROM egress_events e JOIN tenants t ON t.id = e.tenant_id "
                  "WHERE t.name = 'acme'"),
            3);

  v1::ListEgressEventsRequest req;
  req.set_parent("tenants/acme");
  v1::ListEgressEventsResponse out;
  const std::string viewer = controller_->Token(Role::kTenantViewer, "acme", "v");
  ASSERT_GRPC_OK(List(viewer, req, &out));
  ASSERT_EQ(out.events_size(), 3);
  const absl::Time received = absl::Now();
  // Newest first: the future event clamped to its arrival, then the
  // current one, then the old one clamped to an hour back.
  EXPECT_EQ(out.events(0).destination_address(), "192.0.2.12");
  EXPECT_LE(FromProto(out.events(0).time()), received);
  EXPECT_GE(FromProto(out.events(0).time()), sent);
  EXPECT_EQ(out.events(1).destination_address(), "192.0.2.10");
  EXPECT_EQ(FromProto(out.events(1).time()),
            absl::FromUnixMicros(absl::ToUnixMicros(sent)) - absl::Seconds(5));
  EXPECT_EQ(out.events(2).destination_address(), "192.0.2.11");
  EXPECT_GE(FromProto(out.events(2).time()), sent - absl::Hours(1));
  EXPECT_LE(FromProto(out.events(2).time()), received - absl::Hours(1));
  // Machines are named when the source is one; every event names its host.
  EXPECT_EQ(out.events(1).machine(), "tenants/acme/clusters/prod/machines/cp-1");
  EXPECT_EQ(out.events(1).source_address(), source);
  EXPECT_EQ(out.events(1).protocol(), v1::IP_PROTOCOL_TCP);
  EXPECT_EQ(out.events(1).protocol_number(), 6u);
  EXPECT_EQ(out.events(1).destination_port(), 443u);
  EXPECT_EQ(out.events(1).host(), "hosts/hv1");
  EXPECT_EQ(out.events(0).machine(), "");
  EXPECT_EQ(out.events(0).action(), v1::EGRESS_ACTION_DENY);

  // Beta sees none of it, and acme's log does not exist for beta.
  req.set_parent("tenants/beta");
  ASSERT_GRPC_OK(List(admin_, req, &out));
  EXPECT_THAT(out.events(), IsEmpty());
  req.set_parent("tenants/acme");
  const std::string beta_admin = controller_->Token(Role::kTenantAdmin, "beta", "b");
  grpc::Status st = List(beta_admin, req, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  req.set_parent("tenants/ghost");
  grpc::Status ghost = List(beta_admin, req, &out);
  EXPECT_EQ(ghost.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(absl::StrReplaceAll(ghost.error_message(), {{"ghost", "acme"}}), st.error_message());
}

TEST_F(EgressLogTest, AMalformedBatchEndsTheStreamAndStoresNothing) {
  TwoTenantsOnTwoHosts();
  if (HasFatalFailure()) return;
  auto hv1 = ConnectAgent("hv1", token1_, "10.0.0.1");
  ASSERT_NE(hv1, nullptr);
  v1::AgentMessage m;
  *m.mutable_egress_events()->add_events() =
      Record(Namespace(acme_), absl::Now(), "10.0.0.300", "192.0.2.10", 443);
  *m.mutable_egress_events()->add_events() =
      Record(Namespace(acme_), absl::Now(), "10.64.0.5", "192.0.2.10", 443);
  ASSERT_TRUE(hv1->Send(m));
  std::optional<grpc::Status> end = hv1->WaitEnd(kWait);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->error_code(), grpc::StatusCode::INVALID_ARGUMENT) << end->error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM egress_events"), 0);
}

TEST_F(EgressLogTest, ListPagesNewestFirstWithStableCursorsAndFilters) {
  TwoTenantsOnTwoHosts();
  if (HasFatalFailure()) return;
  const std::string ns = Namespace(acme_);
  const absl::Time now = absl::Now();
  const absl::Time t0 = absl::FromUnixSeconds(absl::ToUnixSeconds(now)) - absl::Minutes(10);
  google::protobuf::RepeatedPtrField<v1::EgressRecord> records;
  // Five events in the same microsecond (only the id tells them apart),
  // then three later ones, every third denied.
  for (int i = 0; i < 8; ++i) {
    *records.Add() = Record(ns, i < 5 ? t0 : t0 + absl::Minutes(i), "10.64.0.99",
                            absl::StrCat("192.0.2.", 100 + i), 1000 + i,
                            i % 3 == 0 ? v1::EGRESS_ACTION_DENY : v1::EGRESS_ACTION_ALLOW);
  }
  EgressLogStore log;
  const int64_t hv1 = HostId("hv1");
  ASSERT_OK(InDatabase([&](controller::store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(auto result, log.Append(conn, hv1, records, now));
    if (result.stored != 8) return absl::InternalError(absl::StrCat(result.stored, " stored"));
    return absl::OkStatus();
  }));

  const std::string admin = controller_->Token(Role::kTenantAdmin, "acme", "a");
  v1::ListEgressEventsRequest req;
  req.set_parent("tenants/acme");
  req.set_page_size(3);
  std::vector<uint32_t> ports;
  std::set<std::string> tokens;
  v1::ListEgressEventsResponse out;
  for (int page = 0; page < 10; ++page) {
    ASSERT_GRPC_OK(List(admin, req, &out));
    for (const v1::EgressEvent& e : out.events()) ports.push_back(e.destination_port());
    if (out.next_page_token().empty()) break;
    EXPECT_TRUE(tokens.insert(out.next_page_token()).second);
    req.set_page_token(out.next_page_token());
  }
  // Newest first; the five of one microsecond newest-inserted first, each
  // exactly once across the pages.
  EXPECT_THAT(ports, ElementsAre(1007, 1006, 1005, 1004, 1003, 1002, 1001, 1000));

  // A token is bound to its filters.
  v1::ListEgressEventsRequest first;
  first.set_parent("tenants/acme");
  first.set_page_size(2);
  ASSERT_GRPC_OK(List(admin, first, &out));
  ASSERT_FALSE(out.next_page_token().empty());
  v1::ListEgressEventsRequest other = first;
  other.set_page_token(out.next_page_token());
  other.set_action(v1::EGRESS_ACTION_DENY);
  grpc::Status st = List(admin, other, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(testing::BadRequestFields(st), ElementsAre("page_token"));

  // Denied only; since the later events only; both.
  v1::ListEgressEventsRequest denied;
  denied.set_parent("tenants/acme");
  denied.set_action(v1::EGRESS_ACTION_DENY);
  ASSERT_GRPC_OK(List(admin, denied, &out));
  ports.clear();
  for (const v1::EgressEvent& e : out.events()) ports.push_back(e.destination_port());
  EXPECT_THAT(ports, ElementsAre(1006, 1003, 1000));
  v1::ListEgressEventsRequest since;
  since.set_parent("tenants/acme");
  *since.mutable_since() = Proto(t0 + absl::Minutes(6));
  ASSERT_GRPC_OK(List(admin, since, &out));
  ports.clear();
  for (const v1::EgressEvent& e : out.events()) ports.push_back(e.destination_port());
  EXPECT_THAT(ports, ElementsAre(1007, 1006));
  since.set_action(v1::EGRESS_ACTION_ALLOW);
  ASSERT_GRPC_OK(List(admin, since, &out));
  ASSERT_EQ(out.events_size(), 1);
  EXPECT_EQ(out.events(0).destination_port(), 1007u);

  // Bad filters are named.
  v1::ListEgressEventsRequest bad;
  bad.set_parent("tenants/acme");
  bad.set_page_size(1001);
  bad.mutable_since()->set_seconds(-5);
  bad.set_action(static_cast<v1::EgressAction>(7));
  st = List(admin, bad, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(testing::BadRequestFields(st), ElementsAre("since", "action", "page_size"));
}

TEST_F(EgressLogTest, PartitionsAreCreatedAheadAndDroppedWhole) {
  TwoTenantsOnTwoHosts();
  if (HasFatalFailure()) return;
  // mandantd made today's and the next two days' at start.
  const absl::Time now = absl::Now();
  for (int d = 0; d <= 2; ++d) {
    EXPECT_EQ(
        Count(absl::StrCat("SELECT count(*) FROM pg_class WHERE relname = '",
                           controller::store::EgressPartitionName(now + absl::Hours(24) * d), "'")),
        1);
  }
  const absl::Time jan10 =
      absl::FromCivil(absl::CivilSecond(2020, 1, 10, 12, 0, 0), absl::UTCTimeZone());
  EgressLogStore log;
  std::vector<std::string> created;
  ASSERT_OK(InDatabase([&](controller::store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(created, log.EnsurePartitions(conn, jan10, 2));
    return absl::OkStatus();
  }));
  EXPECT_THAT(created, ElementsAre("egress_events_20200110", "egress_events_20200111",
                                   "egress_events_20200112"));
  // A day with no partition refuses the whole batch.
  google::protobuf::RepeatedPtrField<v1::EgressRecord> records;
  *records.Add() = Record(Namespace(acme_), jan10, "10.64.0.9", "192.0.2.1", 443);
  const int64_t hv1 = HostId("hv1");
  const absl::Time jan5 = jan10 - absl::Hours(24 * 5);
  EXPECT_FALSE(InDatabase([&](controller::store::Connection& conn) {
                 return log.Append(conn, hv1, records, jan5).status();
               }).ok());
  // One event on each of the 10th, 11th and 12th.
  for (int d = 0; d < 3; ++d) {
    ASSERT_OK(InDatabase([&](controller::store::Connection& conn) {
      return log.Append(conn, hv1, records, jan10 + absl::Hours(24) * d).status();
    }));
  }
  EXPECT_EQ(Count("SELECT count(*) FROM egress_events_20200111"), 1);

  // A cutoff inside the 12th drops the 10th and 11th, not the 12th.
  std::vector<std::string> dropped;
  ASSERT_OK(InDatabase([&](controller::store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(dropped, log.DropPartitionsBefore(conn, jan10 + absl::Hours(24 + 13)));
    return absl::OkStatus();
  }));
  EXPECT_THAT(dropped, ElementsAre("egress_events_20200110", "egress_events_20200111"));
  EXPECT_EQ(Count("SELECT count(*) FROM egress_events"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM pg_class WHERE relname = 'egress_events_20200112'"), 1);
  // Today's partitions are far from any cutoff of the retention.
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM pg_class WHERE relname = '",
                               controller::store::EgressPartitionName(now), "'")),
            1);
}

TEST_F(EgressLogTest, EdgeStatusReachesGetEdgeAndDroppedEventsAreSummed) {
  TwoTenantsOnTwoHosts();
  if (HasFatalFailure()) return;
  auto hv1 = ConnectAgent("hv1", token1_, "10.0.0.1");
  ASSERT_NE(hv1, nullptr);
  v1::HostStatus status;
  *status.mutable_observe_time() = TimeUtil::GetCurrentTime();
  v1::EdgeStatus* acme = status.add_edges();
  acme->set_namespace_(Namespace(acme_));
  acme->set_tenant("tenants/acme");
  acme->set_vrrp_state(v1::VRRP_STATE_UNSPECIFIED);
  acme->set_egress_events_dropped(7);
  v1::EdgeProcess* p = acme->add_processes();
  p->set_name("haproxy");
  p->set_pid(42);
  p->set_running(true);
  // Beta's edge is on hv2; and acme's namespace under beta's name.
  v1::EdgeStatus* beta = status.add_edges();
  beta->set_namespace_(Namespace(beta_));
  beta->set_tenant("tenants/beta");
  beta->set_egress_events_dropped(1000);
  ASSERT_TRUE(hv1->SendStatus(status));
  EXPECT_EQ(WaitForCount("SELECT count(*) FROM edge_instances WHERE status_time IS NOT NULL", 1),
            1);
  EXPECT_EQ(Sql("SELECT t.name || ' ' || i.egress_events_dropped FROM edge_instances i "
                "JOIN tenants t ON t.id = i.tenant_id WHERE i.status_time IS NOT NULL"),
            "acme 7\n");

  // A second report with the namespace of acme but the tenant beta changes
  // nothing.
  v1::HostStatus lying;
  v1::EdgeStatus* e = lying.add_edges();
  e->set_namespace_(Namespace(acme_));
  e->set_tenant("tenants/beta");
  e->set_egress_events_dropped(999);
  ASSERT_TRUE(hv1->SendStatus(lying));
  ASSERT_TRUE(hv1->SendHeartbeat());
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(Count("SELECT egress_events_dropped FROM edge_instances WHERE "
                  "egress_events_dropped > 0"),
            7);

  v1::GetEdgeRequest get;
  get.set_name("tenants/acme/edge");
  v1::Edge edge;
  ASSERT_GRPC_OK(edges_->GetEdge(TestController::Context(admin_).get(), get, &edge));
  ASSERT_EQ(edge.instances_size(), 1);
  EXPECT_EQ(edge.instances(0).role(), v1::EDGE_ROLE_ACTIVE) << edge.instances(0).message();

  v1::ListEgressEventsRequest req;
  req.set_parent("tenants/acme");
  v1::ListEgressEventsResponse out;
  ASSERT_GRPC_OK(List(admin_, req, &out));
  EXPECT_EQ(out.dropped_events(), 7);
  req.set_parent("tenants/beta");
  ASSERT_GRPC_OK(List(admin_, req, &out));
  EXPECT_EQ(out.dropped_events(), 0);
}

}  // namespace
}  // namespace mandant
