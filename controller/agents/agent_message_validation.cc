#include "controller/agents/agent_message_validation.h"

#include <arpa/inet.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "tenants/edge_names.h"
#include "tenants/names.h"
#include "tenants/network_names.h"
#include "tenants/tenant_validation.h"

namespace mandant::controller {
namespace {

// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

// The first violations, and how many more there were: the error travels
// in gRPC trailers and a log line, which a status with thousands of bad
// fields must not flood.
tenants::FieldViolations FirstViolations(const tenants::FieldViolations& all,
                                         absl::string_view field = "status") {
  if (all.violations().size() <= kMaxReportedViolations) return all;
  tenants::FieldViolations first;
  for (size_t i = 0; i < kMaxReportedViolations; ++i) {
    first.Add(all.violations()[i].field, all.violations()[i].description);
  }
  first.Add(
      std::string(field),
      absl::StrCat("and ", all.violations().size() - kMaxReportedViolations, " more problems"));
  return first;
}

bool IsHex64(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

// A string field of at most `max` bytes (and at least `min`) without NUL.
void CheckText(absl::string_view value, size_t min, size_t max, const std::string& field,
               tenants::FieldViolations& bad) {
  if (value.size() < min || value.size() > max) {
    bad.Add(field, absl::StrCat("must be ", min, "-", max, " bytes, got ", value.size()));
  } else if (absl::StrContains(value, absl::string_view("\0", 1))) {
    bad.Add(field, "must not contain NUL bytes");
  }
}

void CheckTimestamp(const google::protobuf::Timestamp& t, const std::string& field,
                    tenants::FieldViolations& bad) {
  if (t.seconds() < kMinTimestampSeconds || t.seconds() > kMaxTimestampSeconds || t.nanos() < 0 ||
      t.nanos() > 999999999) {
    bad.Add(field, "must be a valid timestamp between years 1 and 9999 (nanos 0-999999999)");
  }
}

// Dotted-quad IPv4 text, as the agent formats addresses (inet_ntop).
bool IsIpv4Text(absl::string_view s) {
  // inet_pton reads up to a NUL; what follows one must not slip through.
  if (s.empty() || s.size() > 15 || absl::StrContains(s, absl::string_view("\0", 1))) {
    return false;
  }
  const std::string text(s);
  in_addr addr;
  return inet_pton(AF_INET, text.c_str(), &addr) == 1;
}

void CheckEdgeNamespace(absl::string_view name, const std::string& field,
                        tenants::FieldViolations& bad) {
  const std::optional<tenants::ParsedEdgeName> parsed = tenants::ParseEdgeName(name);
  if (!parsed || parsed->object != tenants::EdgeObject::kNamespace) {
    bad.Add(field, absl::StrCat("must be an edge namespace name as in the EdgeSpec (\"",
                                tenants::kEdgeNamespacePrefix, "\" and the segment), got ",
                                tenants::QuoteForMessage(name)));
  }
}

void ValidateEdge(const v1::EdgeStatus& e, const std::string& f,
                  absl::flat_hash_set<std::string>& seen, tenants::FieldViolations& bad) {
  CheckEdgeNamespace(e.namespace_(), f + ".namespace", bad);
  if (!seen.insert(e.namespace_()).second) {
    bad.Add(f + ".namespace", absl::StrCat(tenants::QuoteForMessage(e.namespace_()),
                                           " is reported more than once; report each edge once"));
  }
  if (e.tenant().size() > kMaxTenantNameLength || !tenants::ParseTenantName(e.tenant()).ok()) {
    bad.Add(f + ".tenant", absl::StrCat("must be \"tenants/{tenant}\", got ",
                                        tenants::QuoteForMessage(e.tenant())));
  }
  if (!v1::VrrpState_IsValid(e.vrrp_state())) {
    bad.Add(f + ".vrrp_state",
            absl::StrCat("must be a known VrrpState (0-3), got ", e.vrrp_state()));
  }
  if (e.processes_size() > kMaxEdgeProcesses) {
    bad.Add(f + ".processes", absl::StrCat("must list at most ", kMaxEdgeProcesses,
                                           " processes, got ", e.processes_size()));
  } else {
    for (int i = 0; i < e.processes_size(); ++i) {
      const v1::EdgeProcess& p = e.processes(i);
      const std::string pf = absl::StrCat(f, ".processes[", i, "]");
      if (p.name() != "haproxy" && p.name() != "dnsmasq" && p.name() != "keepalived") {
        bad.Add(pf + ".name", absl::StrCat("must be haproxy, dnsmasq or keepalived, got ",
                                           tenants::QuoteForMessage(p.name())));
      }
      if (p.pid() < 0) bad.Add(pf + ".pid", absl::StrCat("must be >= 0, got ", p.pid()));
    }
  }
  if (e.endpoints_size() > kMaxEdgeEndpoints) {
    bad.Add(f + ".endpoints", absl::StrCat("must list at most ", kMaxEdgeEndpoints,
                                           " endpoints, got ", e.endpoints_size()));
  } else {
    for (int i = 0; i < e.endpoints_size(); ++i) {
      const v1::EdgeEndpointStatus& ep = e.endpoints(i);
      const std::string ef = absl::StrCat(f, ".endpoints[", i, "]");
      if (!tenants::ParseClusterName(ep.cluster())) {
        bad.Add(ef + ".cluster", absl::StrCat("must be \"tenants/{tenant}/clusters/{cluster}\", "
                                              "got ",
                                              tenants::QuoteForMessage(ep.cluster())));
      }
      if (ep.backends() < 0 || ep.backends() > kMaxEdgeBackends) {
        bad.Add(ef + ".backends",
                absl::StrCat("must be 0-", kMaxEdgeBackends, ", got ", ep.backends()));
      }
      if (ep.healthy_backends() < 0 || ep.healthy_backends() > ep.backends()) {
        bad.Add(ef + ".healthy_backends", absl::StrCat("must be 0-backends (", ep.backends(),
                                                       "), got ", ep.healthy_backends()));
      }
    }
  }
  CheckText(e.error(), 0, kMaxErrorLength, f + ".error", bad);
}

void ValidateRecord(const v1::EgressRecord& r, const std::string& f,
                    tenants::FieldViolations& bad) {
  CheckEdgeNamespace(r.namespace_(), f + ".namespace", bad);
  if (!r.has_time()) {
    bad.Add(f + ".time", "is required: when the edge saw the connection");
  } else {
    CheckTimestamp(r.time(), f + ".time", bad);
  }
  if (!IsIpv4Text(r.source_address())) {
    bad.Add(f + ".source_address", absl::StrCat("must be an IPv4 address, got ",
                                                tenants::QuoteForMessage(r.source_address())));
  }
  if (!IsIpv4Text(r.destination_address())) {
    bad.Add(f + ".destination_address",
            absl::StrCat("must be an IPv4 address, got ",
                         tenants::QuoteForMessage(r.destination_address())));
  }
  if (r.destination_port() > 65535) {
    bad.Add(f + ".destination_port", absl::StrCat("must be 0-65535, got ", r.destination_port()));
  }
  if (r.protocol_number() > 255) {
    bad.Add(f + ".protocol_number", absl::StrCat("must be 0-255, got ", r.protocol_number()));
  }
  if (r.action() != v1::EGRESS_ACTION_ALLOW && r.action() != v1::EGRESS_ACTION_DENY) {
    bad.Add(f + ".action", absl::StrCat("must be ALLOW or DENY, got ", r.action()));
  }
}

void ValidateVm(const v1::VmStatus& vm, const std::string& f,
                absl::flat_hash_set<std::string>& seen, tenants::FieldViolations& bad) {
  if (!tenants::IsCanonicalUuid(vm.machine_id())) {
    bad.Add(f + ".machine_id", absl::StrCat("must be a machine's UUID as in the HostSpec, got ",
                                            tenants::QuoteForMessage(vm.machine_id())));
  } else if (!seen.insert(absl::AsciiStrToLower(vm.machine_id())).second) {
    bad.Add(f + ".machine_id", absl::StrCat("machine ", vm.machine_id(),
                                            " is reported more than once; report each VM once"));
  }
  if (!v1::VmState_IsValid(vm.state())) {
    bad.Add(f + ".state", absl::StrCat("must be a known VmState (0-6), got ", vm.state()));
  }
  CheckText(vm.error(), 0, kMaxErrorLength, f + ".error", bad);
  if (vm.has_guest()) {
    const v1::GuestProgress& g = vm.guest();
    if (!v1::GuestPhase_IsValid(g.phase())) {
      bad.Add(f + ".guest.phase",
              absl::StrCat("must be a known GuestPhase (0-5), got ", g.phase()));
    }
    CheckText(g.message(), 0, kMaxGuestMessageLength, f + ".guest.message", bad);
    if (g.has_receive_time()) CheckTimestamp(g.receive_time(), f + ".guest.receive_time", bad);
  }
}

void ValidateNetwork(const v1::TenantNetworkStatus& n, const std::string& f,
                     absl::flat_hash_set<std::string>& seen, tenants::FieldViolations& bad) {
  if (n.bridge_name().empty() || n.bridge_name().size() > tenants::kMaxLinkNameLength) {
    bad.Add(f + ".bridge_name",
            absl::StrCat("must be a link name of 1-", tenants::kMaxLinkNameLength, " bytes, got ",
                         n.bridge_name().size()));
  } else if (!seen.insert(n.bridge_name()).second) {
    bad.Add(f + ".bridge_name",
            absl::StrCat(tenants::QuoteForMessage(n.bridge_name()),
                         " is reported more than once; report each network once"));
  }
  if (!n.tenant().empty()) {
    if (n.tenant().size() > kMaxTenantNameLength) {
      bad.Add(f + ".tenant", absl::StrCat("must be at most ", kMaxTenantNameLength, " bytes, got ",
                                          n.tenant().size()));
    } else if (!tenants::ParseTenantName(n.tenant()).ok()) {
      bad.Add(f + ".tenant", absl::StrCat("must be empty or \"tenants/{tenant}\", got ",
                                          tenants::QuoteForMessage(n.tenant())));
    }
  }
  if (!v1::NetworkMode_IsValid(n.mode())) {
    bad.Add(f + ".mode", absl::StrCat("must be a known NetworkMode, got ", n.mode()));
  }
  if (n.vni() > tenants::kMaxVni) {
    bad.Add(f + ".vni", absl::StrCat("must be 0-", tenants::kMaxVni, ", got ", n.vni()));
  }
  if (n.vlan_id() > tenants::kMaxVlanId) {
    bad.Add(f + ".vlan_id", absl::StrCat("must be 0-", tenants::kMaxVlanId, ", got ", n.vlan_id()));
  }
  if (n.mtu() < 0 || n.mtu() > 65535) {
    bad.Add(f + ".mtu", absl::StrCat("must be 0-65535, got ", n.mtu()));
  }
  if (n.peer_underlay_addresses_size() > kMaxNetworkPeers) {
    bad.Add(f + ".peer_underlay_addresses",
            absl::StrCat("must list at most ", kMaxNetworkPeers, " hosts, got ",
                         n.peer_underlay_addresses_size()));
  } else {
    for (int i = 0; i < n.peer_underlay_addresses_size(); ++i) {
      CheckText(n.peer_underlay_addresses(i), 1, kMaxAddressLength,
                absl::StrCat(f, ".peer_underlay_addresses[", i, "]"), bad);
    }
  }
  CheckText(n.error(), 0, kMaxErrorLength, f + ".error", bad);
}

}  // namespace

tenants::FieldViolations ValidateHello(const v1::Hello& hello) {
  tenants::FieldViolations bad;
  if (hello.capacity().vcpus() < 0 || hello.capacity().memory_mib() < 0 ||
      hello.capacity().disk_gib() < 0) {
    bad.Add("hello.capacity", "must not be negative");
  }
  if (hello.underlay_mtu() != 0 && (hello.underlay_mtu() < 1280 || hello.underlay_mtu() > 65535)) {
    bad.Add("hello.underlay_mtu", absl::StrCat("must be 1280-65535, got ", hello.underlay_mtu()));
  }
  CheckText(hello.agent_version(), 0, kMaxVersionLength, "hello.agent_version", bad);
  CheckText(hello.libvirt_version(), 0, kMaxVersionLength, "hello.libvirt_version", bad);
  CheckText(hello.qemu_version(), 0, kMaxVersionLength, "hello.qemu_version", bad);
  if (hello.base_images_size() > kMaxBaseImages) {
    bad.Add("hello.base_images",
            absl::StrCat("at most ", kMaxBaseImages, " images, got ", hello.base_images_size()));
    return bad;
  }
  for (int i = 0; i < hello.base_images_size(); ++i) {
    const v1::BaseImage& image = hello.base_images(i);
    bool name_ok = !image.name().empty() && image.name().size() <= kMaxBaseImageNameLength;
    for (char c : image.name()) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
        name_ok = false;
      }
    }
    if (!name_ok) {
      bad.Add(absl::StrCat("hello.base_images[", i, "].name"),
              absl::StrCat("must be 1-", kMaxBaseImageNameLength, " characters of [a-zA-Z0-9._-]"));
    }
    if (!IsHex64(image.sha256())) {
      bad.Add(absl::StrCat("hello.base_images[", i, "].sha256"),
              "must be 64 lower-case hex digits");
    }
  }
  return bad;
}

tenants::FieldViolations ValidateHostStatus(const v1::HostStatus& status) {
  tenants::FieldViolations bad;
  if (status.applied_spec_version() < 0) {
    bad.Add("status.applied_spec_version",
            absl::StrCat("must be 0 or a HostSpec version, got ", status.applied_spec_version()));
  }
  // Counts first: a list over its bound is refused without looking at its
  // elements, so a hostile status costs no more than the bound.
  if (status.vms_size() > kMaxStatusVms) {
    bad.Add("status.vms",
            absl::StrCat("must list at most ", kMaxStatusVms, " VMs (twice the ", kMaxVmsPerHost,
                         " a host can be given), got ", status.vms_size()));
  } else {
    absl::flat_hash_set<std::string> seen;
    for (int i = 0; i < status.vms_size(); ++i) {
      ValidateVm(status.vms(i), absl::StrCat("status.vms[", i, "]"), seen, bad);
    }
  }
  if (status.networks_size() > kMaxStatusNetworks) {
    bad.Add("status.networks", absl::StrCat("must list at most ", kMaxStatusNetworks,
                                            " tenant networks, got ", status.networks_size()));
  } else {
    absl::flat_hash_set<std::string> seen;
    for (int i = 0; i < status.networks_size(); ++i) {
      ValidateNetwork(status.networks(i), absl::StrCat("status.networks[", i, "]"), seen, bad);
    }
  }
  if (status.host_errors_size() > kMaxHostErrors) {
    bad.Add("status.host_errors", absl::StrCat("must list at most ", kMaxHostErrors,
                                               " errors, got ", status.host_errors_size()));
  } else {
    for (int i = 0; i < status.host_errors_size(); ++i) {
      CheckText(status.host_errors(i), 1, kMaxErrorLength,
                absl::StrCat("status.host_errors[", i, "]"), bad);
    }
  }
  if (status.has_observe_time()) CheckTimestamp(status.observe_time(), "status.observe_time", bad);
  if (status.edges_size() > kMaxStatusNetworks) {
    bad.Add("status.edges", absl::StrCat("must list at most ", kMaxStatusNetworks, " edges, got ",
                                         status.edges_size()));
  } else {
    absl::flat_hash_set<std::string> seen;
    for (int i = 0; i < status.edges_size(); ++i) {
      ValidateEdge(status.edges(i), absl::StrCat("status.edges[", i, "]"), seen, bad);
    }
  }
  return FirstViolations(bad);
}

tenants::FieldViolations ValidateEgressEventBatch(const v1::EgressEventBatch& batch) {
  tenants::FieldViolations bad;
  if (batch.events_size() > kMaxEgressEventsPerBatch) {
    bad.Add("egress_events.events", absl::StrCat("must list at most ", kMaxEgressEventsPerBatch,
                                                 " events, got ", batch.events_size()));
    return bad;
  }
  for (int i = 0; i < batch.events_size(); ++i) {
    ValidateRecord(batch.events(i), absl::StrCat("egress_events.events[", i, "]"), bad);
  }
  return FirstViolations(bad, "egress_events");
}

}  // namespace mandant::controller
