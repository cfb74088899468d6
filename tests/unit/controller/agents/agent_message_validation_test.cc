#include "controller/agents/agent_message_validation.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::controller {
namespace {

using google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kMachine[] = "123e4567-e89b-12d3-a456-426614174000";

std::vector<std::string> Fields(const tenants::FieldViolations& bad) {
  std::vector<std::string> fields;
  for (const auto& v : bad.violations()) fields.push_back(v.field);
  return fields;
}

std::string Description(const tenants::FieldViolations& bad, const std::string& field) {
  for (const auto& v : bad.violations()) {
    if (v.field == field) return v.description;
  }
  return "(no violation of " + field + ")";
}

// A status as the agent sends it for one running VM on one tenant network.
v1::HostStatus GoodStatus() {
  v1::HostStatus status;
  status.set_applied_spec_version(7);
  v1::TenantNetworkStatus* n = status.add_networks();
  n->set_bridge_name("mb-x0003e9");
  n->set_tenant("tenants/acme");
  n->set_mode(v1::NETWORK_MODE_VXLAN);
  n->set_vni(1001);
  n->set_mtu(1450);
  n->add_peer_underlay_addresses("10.0.0.2");
  n->set_up(true);
  v1::VmStatus* vm = status.add_vms();
  vm->set_machine_id(kMachine);
  vm->set_state(v1::VM_STATE_RUNNING);
  vm->mutable_guest()->set_phase(v1::GUEST_PHASE_KUBEADM);
  vm->mutable_guest()->set_message("kubeadm join: waiting for the API server");
  *vm->mutable_guest()->mutable_receive_time() = TimeUtil::GetCurrentTime();
  *status.mutable_observe_time() = TimeUtil::GetCurrentTime();
  return status;
}

TEST(ValidateHostStatusTest, AcceptsWhatTheAgentSends) {
  EXPECT_THAT(Fields(ValidateHostStatus(GoodStatus())), IsEmpty());
  EXPECT_THAT(Fields(ValidateHostStatus(v1::HostStatus())), IsEmpty());
}

TEST(ValidateHostStatusTest, AcceptsEveryListAtItsBound) {
  v1::HostStatus status;
  for (int i = 0; i < kMaxStatusVms; ++i) {
    v1::VmStatus* vm = status.add_vms();
    vm->set_machine_id(absl::StrCat("123e4567-e89b-12d3-a456-", 100000000000 + i));
    vm->set_state(v1::VM_STATE_DELETING);
    vm->set_error(std::string(kMaxErrorLength, 'e'));
  }
  for (int i = 0; i < kMaxHostErrors; ++i) {
    status.add_host_errors(std::string(kMaxErrorLength, 'e'));
  }
  EXPECT_THAT(Fields(ValidateHostStatus(status)), IsEmpty());
}

TEST(ValidateHostStatusTest, RefusesTooManyVmsWithoutLookingAtThem) {
  v1::HostStatus status;
  for (int i = 0; i <= kMaxStatusVms; ++i) status.add_vms();  // no machine ids
  const tenants::FieldViolations bad = ValidateHostStatus(status);
  EXPECT_THAT(Fields(bad), ElementsAre("status.vms"));
  EXPECT_THAT(Description(bad, "status.vms"), HasSubstr("at most 1024 VMs"));
  EXPECT_THAT(Description(bad, "status.vms"), HasSubstr("got 1025"));
}

TEST(ValidateHostStatusTest, RefusesTooManyNetworksAndHostErrors) {
  v1::HostStatus status;
  for (int i = 0; i <= kMaxStatusNetworks; ++i) status.add_networks();
  for (int i = 0; i <= kMaxHostErrors; ++i) status.add_host_errors("e");
  EXPECT_THAT(Fields(ValidateHostStatus(status)),
              ElementsAre("status.networks", "status.host_errors"));
}

TEST(ValidateHostStatusTest, NamesEveryBadVmField) {
  v1::HostStatus status = GoodStatus();
  v1::VmStatus* vm = status.mutable_vms(0);
  vm->set_machine_id("../../etc/passwd");
  vm->set_state(static_cast<v1::VmState>(42));
  vm->set_error(std::string(kMaxErrorLength + 1, 'e'));
  vm->mutable_guest()->set_phase(static_cast<v1::GuestPhase>(-3));
  vm->mutable_guest()->set_message(std::string(kMaxGuestMessageLength + 1, 'm'));
  vm->mutable_guest()->mutable_receive_time()->set_nanos(-1);
  const tenants::FieldViolations bad = ValidateHostStatus(status);
  EXPECT_THAT(Fields(bad),
              ElementsAre("status.vms[0].machine_id", "status.vms[0].state", "status.vms[0].error",
                          "status.vms[0].guest.phase", "status.vms[0].guest.message",
                          "status.vms[0].guest.receive_time"));
  EXPECT_THAT(Description(bad, "status.vms[0].machine_id"), HasSubstr("\"../../etc/passwd\""));
  EXPECT_THAT(Description(bad, "status.vms[0].state"), HasSubstr("got 42"));
  EXPECT_THAT(Description(bad, "status.vms[0].error"), HasSubstr("0-4096 bytes, got 4097"));
  EXPECT_THAT(Description(bad, "status.vms[0].guest.message"), HasSubstr("0-1024 bytes"));
  // The whole status is refused, with all of it in one INVALID_ARGUMENT.
  EXPECT_THAT(bad.ToStatus(), testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                                "status.vms[0].guest.receive_time"));
}

TEST(ValidateHostStatusTest, RefusesAVmReportedTwice) {
  v1::HostStatus status = GoodStatus();
  *status.add_vms() = status.vms(0);
  // The same UUID in upper case is the same machine.
  status.mutable_vms(1)->set_machine_id("123E4567-E89B-12D3-A456-426614174000");
  const tenants::FieldViolations bad = ValidateHostStatus(status);
  EXPECT_THAT(Fields(bad), ElementsAre("status.vms[1].machine_id"));
  EXPECT_THAT(Description(bad, "status.vms[1].machine_id"), HasSubstr("more than once"));
}

TEST(ValidateHostStatusTest, NamesEveryBadNetworkField) {
  v1::HostStatus status = GoodStatus();
  v1::TenantNetworkStatus* n = status.mutable_networks(0);
  n->set_bridge_name("a-bridge-name-too-long");
  n->set_tenant("acme");
  n->set_mode(static_cast<v1::NetworkMode>(9));
  n->set_vni(1u << 24);
  n->set_vlan_id(4095);
  n->set_mtu(70000);
  n->add_peer_underlay_addresses(std::string(46, '1'));
  n->set_error(std::string(kMaxErrorLength + 1, 'e'));
  EXPECT_THAT(
      Fields(ValidateHostStatus(status)),
      ElementsAre("status.networks[0].bridge_name", "status.networks[0].tenant",
                  "status.networks[0].mode", "status.networks[0].vni", "status.networks[0].vlan_id",
                  "status.networks[0].mtu", "status.networks[0].peer_underlay_addresses[1]",
                  "status.networks[0].error"));
}

TEST(ValidateHostStatusTest, RefusesANetworkReportedTwiceAndTooManyPeers) {
  v1::HostStatus status = GoodStatus();
  *status.add_networks() = status.networks(0);
  for (int i = 0; i < kMaxNetworkPeers; ++i) {
    status.mutable_networks(1)->add_peer_underlay_addresses("10.0.0.3");
  }
  EXPECT_THAT(
      Fields(ValidateHostStatus(status)),
      ElementsAre("status.networks[1].bridge_name", "status.networks[1].peer_underlay_addresses"));
}

TEST(ValidateHostStatusTest, RefusesNulBytesEmptyHostErrorsAndNegativeVersions) {
  v1::HostStatus status = GoodStatus();
  status.set_applied_spec_version(-1);
  status.mutable_vms(0)->set_error(std::string("libvirt\0", 8));
  status.add_host_errors("");
  status.mutable_observe_time()->set_seconds(-62135596801);
  const tenants::FieldViolations bad = ValidateHostStatus(status);
  EXPECT_THAT(Fields(bad), ElementsAre("status.applied_spec_version", "status.vms[0].error",
                                       "status.host_errors[0]", "status.observe_time"));
  EXPECT_THAT(Description(bad, "status.vms[0].error"), HasSubstr("NUL"));
}

TEST(ValidateHostStatusTest, ReportsTheFirstProblemsAndCountsTheRest) {
  v1::HostStatus status;
  for (int i = 0; i < 100; ++i) status.add_vms()->set_machine_id("x");
  const tenants::FieldViolations bad = ValidateHostStatus(status);
  ASSERT_EQ(bad.violations().size(), kMaxReportedViolations + 1);
  EXPECT_EQ(bad.violations().back().field, "status");
  EXPECT_THAT(bad.violations().back().description, HasSubstr("and 80 more problems"));
}

TEST(ValidateHelloTest, NamesTheBadFields) {
  v1::Hello hello;
  hello.set_agent_version(std::string(kMaxVersionLength + 1, 'v'));
  hello.set_underlay_mtu(1000);
  hello.mutable_capacity()->set_vcpus(-1);
  v1::BaseImage* image = hello.add_base_images();
  image->set_name("../etc");
  image->set_sha256("ABC");
  EXPECT_THAT(Fields(ValidateHello(hello)),
              ElementsAre("hello.capacity", "hello.underlay_mtu", "hello.agent_version",
                          "hello.base_images[0].name", "hello.base_images[0].sha256"));
}

// ---------------------------------------------------------------------------
// EdgeStatus

v1::EdgeStatus GoodEdge() {
  v1::EdgeStatus e;
  e.set_namespace_("mandant-ex0003e9");
  e.set_tenant("tenants/acme");
  e.set_vrrp_state(v1::VRRP_STATE_MASTER);
  for (const char* name : {"dnsmasq", "haproxy", "keepalived"}) {
    v1::EdgeProcess* p = e.add_processes();
    p->set_name(name);
    p->set_pid(100);
    p->set_running(true);
  }
  v1::EdgeEndpointStatus* ep = e.add_endpoints();
  ep->set_cluster("tenants/acme/clusters/prod");
  ep->set_healthy_backends(2);
  ep->set_backends(3);
  ep->set_dropped_packets(5);
  e.set_egress_events_dropped(1);
  return e;
}

TEST(ValidateHostStatusTest, AcceptsTheEdgesTheAgentReports) {
  v1::HostStatus status = GoodStatus();
  *status.add_edges() = GoodEdge();
  v1::EdgeStatus* vlan = status.add_edges();
  *vlan = GoodEdge();
  vlan->set_namespace_("mandant-ev0064");
  vlan->set_tenant("tenants/beta");
  vlan->set_vrrp_state(v1::VRRP_STATE_UNSPECIFIED);
  vlan->clear_endpoints();
  EXPECT_THAT(Fields(ValidateHostStatus(status)), IsEmpty());
}

TEST(ValidateHostStatusTest, NamesEveryBadFieldOfAnEdge) {
  v1::HostStatus status;
  v1::EdgeStatus* e = status.add_edges();
  *e = GoodEdge();
  e->set_namespace_("mei-x0003e9");  // a link's name, not a namespace's
  e->set_tenant("acme");
  e->set_vrrp_state(static_cast<v1::VrrpState>(9));
  e->mutable_processes(0)->set_name("sshd");
  e->mutable_processes(1)->set_pid(-1);
  e->mutable_endpoints(0)->set_cluster("tenants/acme");
  e->mutable_endpoints(0)->set_healthy_backends(4);
  e->set_error(std::string("bad\0", 4));
  const tenants::FieldViolations bad = ValidateHostStatus(status);
  EXPECT_THAT(
      Fields(bad),
      ElementsAre("status.edges[0].namespace", "status.edges[0].tenant",
                  "status.edges[0].vrrp_state", "status.edges[0].processes[0].name",
                  "status.edges[0].processes[1].pid", "status.edges[0].endpoints[0].cluster",
                  "status.edges[0].endpoints[0].healthy_backends", "status.edges[0].error"));
  EXPECT_THAT(Description(bad, "status.edges[0].error"), HasSubstr("NUL"));
}

TEST(ValidateHostStatusTest, RefusesAnEdgeReportedTwiceAndTooManyParts) {
  v1::HostStatus status;
  *status.add_edges() = GoodEdge();
  v1::EdgeStatus* twice = status.add_edges();
  *twice = GoodEdge();
  for (int i = 0; i < kMaxEdgeProcesses; ++i) *twice->add_processes() = twice->processes(0);
  for (int i = 0; i < kMaxEdgeEndpoints; ++i) *twice->add_endpoints() = twice->endpoints(0);
  twice->mutable_endpoints(0)->set_backends(kMaxEdgeBackends + 1);
  EXPECT_THAT(Fields(ValidateHostStatus(status)),
              ElementsAre("status.edges[1].namespace", "status.edges[1].processes",
                          "status.edges[1].endpoints"));
  v1::HostStatus many;
  for (int i = 0; i <= kMaxStatusNetworks; ++i) many.add_edges();
  EXPECT_THAT(Fields(ValidateHostStatus(many)), ElementsAre("status.edges"));
}

TEST(ValidateHostStatusTest, RefusesMoreBackendsThanAnEndpointCanHave) {
  v1::HostStatus status;
  *status.add_edges() = GoodEdge();
  status.mutable_edges(0)->mutable_endpoints(0)->set_backends(kMaxEdgeBackends + 1);
  EXPECT_THAT(Fields(ValidateHostStatus(status)),
              ElementsAre("status.edges[0].endpoints[0].backends"));
}

// ---------------------------------------------------------------------------
// EgressEventBatch

v1::EgressRecord GoodRecord() {
  v1::EgressRecord r;
  r.set_namespace_("mandant-ex0003e9");
  *r.mutable_time() = TimeUtil::GetCurrentTime();
  r.set_source_address("10.64.3.11");
  r.set_destination_address("192.0.2.10");
  r.set_destination_port(443);
  r.set_protocol_number(6);
  r.set_action(v1::EGRESS_ACTION_ALLOW);
  return r;
}

TEST(ValidateEgressEventBatchTest, AcceptsWhatTheAgentSends) {
  v1::EgressEventBatch batch;
  for (int i = 0; i < kMaxEgressEventsPerBatch; ++i) *batch.add_events() = GoodRecord();
  v1::EgressRecord* icmp = batch.mutable_events(1);
  icmp->set_destination_port(0);
  icmp->set_protocol_number(1);
  icmp->set_action(v1::EGRESS_ACTION_DENY);
  EXPECT_THAT(Fields(ValidateEgressEventBatch(batch)), IsEmpty());
  EXPECT_THAT(Fields(ValidateEgressEventBatch(v1::EgressEventBatch())), IsEmpty());
}

TEST(ValidateEgressEventBatchTest, RefusesMoreThanABatchHolds) {
  v1::EgressEventBatch batch;
  for (int i = 0; i <= kMaxEgressEventsPerBatch; ++i) *batch.add_events() = GoodRecord();
  const tenants::FieldViolations bad = ValidateEgressEventBatch(batch);
  EXPECT_THAT(Fields(bad), ElementsAre("egress_events.events"));
  EXPECT_THAT(Description(bad, "egress_events.events"), HasSubstr("at most 1000"));
}

TEST(ValidateEgressEventBatchTest, NamesEveryBadField) {
  v1::EgressEventBatch batch;
  v1::EgressRecord* r = batch.add_events();
  *r = GoodRecord();
  r->set_namespace_("mandant-ex0003e9x");
  r->clear_time();
  r->set_source_address("10.64.3.011");
  r->set_destination_address("2001:db8::1");
  r->set_destination_port(65536);
  r->set_protocol_number(256);
  r->set_action(v1::EGRESS_ACTION_UNSPECIFIED);
  v1::EgressRecord* s = batch.add_events();
  *s = GoodRecord();
  s->mutable_time()->set_nanos(-1);
  s->set_source_address(std::string("10.64.3.11\0", 11));
  s->set_destination_address("");
  const tenants::FieldViolations bad = ValidateEgressEventBatch(batch);
  EXPECT_THAT(
      Fields(bad),
      ElementsAre(
          "egress_events.events[0].namespace", "egress_events.events[0].time",
          "egress_events.events[0].source_address", "egress_events.events[0].destination_address",
          "egress_events.events[0].destination_port", "egress_events.events[0].protocol_number",
          "egress_events.events[0].action", "egress_events.events[1].time",
          "egress_events.events[1].source_address", "egress_events.events[1].destination_address"));
  EXPECT_THAT(Description(bad, "egress_events.events[0].time"), HasSubstr("required"));
}

TEST(ValidateEgressEventBatchTest, ReportsTheFirstProblemsAndCountsTheRest) {
  v1::EgressEventBatch batch;
  for (int i = 0; i < 30; ++i) batch.add_events()->set_namespace_("nope");
  const tenants::FieldViolations bad = ValidateEgressEventBatch(batch);
  ASSERT_EQ(bad.violations().size(), kMaxReportedViolations + 1);
  EXPECT_EQ(bad.violations().back().field, "egress_events");
}

}  // namespace
}  // namespace mandant::controller
