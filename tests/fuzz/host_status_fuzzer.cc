// Feeds arbitrary bytes, parsed as a HostStatus, a Hello and an
// EgressEventBatch, to the validators of what agents send
// (controller/agents/agent_message_validation) and checks their invariants:
//  - the violations survive ToStatus() / ViolationsOf() unchanged, each names
//    a field under "status.", "hello." or "egress_events" and says what is
//    wrong;
//  - a refused status or batch reports at most kMaxReportedViolations + 1
//    problems;
//  - an accepted status or batch is within every documented bound (counts,
//    lengths, enum values, names, addresses, no NUL bytes), so the store can
//    write it as it is.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"

#include "controller/agents/agent_message_validation.h"
#include "mandant/v1/agent.pb.h"
#include "tenants/edge_names.h"
#include "tenants/field_violations.h"
#include "tenants/names.h"

namespace mandant::controller {
namespace {

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

void CheckViolations(const tenants::FieldViolations& v, absl::string_view prefix) {
  absl::Status status = v.ToStatus();
  FUZZ_CHECK(status.ok() == v.empty());
  FUZZ_CHECK(tenants::ViolationsOf(status) == v.violations());
  for (const tenants::FieldViolation& f : v.violations()) {
    FUZZ_CHECK(absl::StartsWith(f.field, prefix));
    FUZZ_CHECK(!f.description.empty());
  }
}

bool NoNul(absl::string_view s) { return !absl::StrContains(s, absl::string_view("\0", 1)); }

void CheckAccepted(const v1::HostStatus& s) {
  FUZZ_CHECK(s.applied_spec_version() >= 0);
  FUZZ_CHECK(s.vms_size() <= kMaxStatusVms);
  for (const v1::VmStatus& vm : s.vms()) {
    FUZZ_CHECK(vm.machine_id().size() == 36);
    FUZZ_CHECK(v1::VmState_IsValid(vm.state()));
    FUZZ_CHECK(vm.error().size() <= kMaxErrorLength && NoNul(vm.error()));
    FUZZ_CHECK(v1::GuestPhase_IsValid(vm.guest().phase()));
    FUZZ_CHECK(vm.guest().message().size() <= kMaxGuestMessageLength);
    FUZZ_CHECK(NoNul(vm.guest().message()));
  }
  FUZZ_CHECK(s.networks_size() <= kMaxStatusNetworks);
  for (const v1::TenantNetworkStatus& n : s.networks()) {
    FUZZ_CHECK(!n.bridge_name().empty() && n.bridge_name().size() <= 15);
    FUZZ_CHECK(NoNul(n.bridge_name()) && NoNul(n.tenant()) && NoNul(n.error()));
    FUZZ_CHECK(n.peer_underlay_addresses_size() <= kMaxNetworkPeers);
    for (const std::string& peer : n.peer_underlay_addresses()) {
      FUZZ_CHECK(!peer.empty() && peer.size() <= kMaxAddressLength && NoNul(peer));
    }
  }
  FUZZ_CHECK(s.host_errors_size() <= kMaxHostErrors);
  for (const std::string& e : s.host_errors()) {
    FUZZ_CHECK(!e.empty() && e.size() <= kMaxErrorLength && NoNul(e));
  }
  FUZZ_CHECK(s.edges_size() <= kMaxStatusNetworks);
  for (const v1::EdgeStatus& e : s.edges()) {
    FUZZ_CHECK(tenants::ParseEdgeName(e.namespace_()).has_value());
    FUZZ_CHECK(tenants::ParseTenantName(e.tenant()).ok());
    FUZZ_CHECK(v1::VrrpState_IsValid(e.vrrp_state()));
    FUZZ_CHECK(e.processes_size() <= kMaxEdgeProcesses);
    for (const v1::EdgeProcess& p : e.processes()) FUZZ_CHECK(p.pid() >= 0 && NoNul(p.name()));
    FUZZ_CHECK(e.endpoints_size() <= kMaxEdgeEndpoints);
    for (const v1::EdgeEndpointStatus& ep : e.endpoints()) {
      FUZZ_CHECK(tenants::ParseClusterName(ep.cluster()).has_value());
      FUZZ_CHECK(0 <= ep.healthy_backends() && ep.healthy_backends() <= ep.backends() &&
                 ep.backends() <= kMaxEdgeBackends);
    }
    FUZZ_CHECK(e.error().size() <= kMaxErrorLength && NoNul(e.error()));
  }
}

bool Ipv4(const std::string& s) {
  in_addr addr;
  return NoNul(s) && inet_pton(AF_INET, s.c_str(), &addr) == 1;
}

void CheckAccepted(const v1::EgressEventBatch& b) {
  FUZZ_CHECK(b.events_size() <= kMaxEgressEventsPerBatch);
  for (const v1::EgressRecord& r : b.events()) {
    FUZZ_CHECK(tenants::ParseEdgeName(r.namespace_()).has_value());
    FUZZ_CHECK(r.has_time() && r.time().nanos() >= 0 && r.time().nanos() <= 999999999);
    FUZZ_CHECK(Ipv4(r.source_address()) && Ipv4(r.destination_address()));
    FUZZ_CHECK(r.destination_port() <= 65535 && r.protocol_number() <= 255);
    FUZZ_CHECK(r.action() == v1::EGRESS_ACTION_ALLOW || r.action() == v1::EGRESS_ACTION_DENY);
  }
}

void Fuzz(absl::string_view input) {
  v1::HostStatus status;
  if (status.ParseFromArray(input.data(), static_cast<int>(input.size()))) {
    const tenants::FieldViolations bad = ValidateHostStatus(status);
    CheckViolations(bad, "status");
    FUZZ_CHECK(bad.violations().size() <= kMaxReportedViolations + 1);
    if (bad.empty()) CheckAccepted(status);
  }
  v1::Hello hello;
  if (hello.ParseFromArray(input.data(), static_cast<int>(input.size()))) {
    CheckViolations(ValidateHello(hello), "hello.");
  }
  v1::EgressEventBatch batch;
  if (batch.ParseFromArray(input.data(), static_cast<int>(input.size()))) {
    const tenants::FieldViolations bad = ValidateEgressEventBatch(batch);
    CheckViolations(bad, "egress_events");
    FUZZ_CHECK(bad.violations().size() <= kMaxReportedViolations + 1);
    if (bad.empty()) CheckAccepted(batch);
  }
}

}  // namespace
}  // namespace mandant::controller

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // Parsing rejects invalid UTF-8 in string fields with a log line per input.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mandant::controller::Fuzz(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
