#include "tenants/edge_validation.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "mandant/v1/agent.pb.h"
#include "mandant/v1/edge.pb.h"
#include "tenants/cidr.h"
#include "tenants/edge_names.h"
#include "tenants/names.h"
#include "tenants/network_names.h"
#include "tenants/tenant_validation.h"

namespace mandant::tenants {
namespace {

constexpr uint32_t kMaxPort = 65535;

std::string Field(absl::string_view prefix, absl::string_view name) {
  return prefix.empty() ? std::string(name) : absl::StrCat(prefix, ".", name);
}

std::string Indexed(absl::string_view prefix, absl::string_view name, int i) {
  return Field(prefix, absl::StrCat(name, "[", i, "]"));
}

// Ranges no edge network or resolver may touch: "this" network, loopback,
// link-local, multicast and the reserved 240.0.0.0/4 (with the broadcast).
const std::vector<Cidr>& ForbiddenRanges() {
  static const auto* kRanges =
      new std::vector<Cidr>{*Cidr::Parse("0.0.0.0/8"), *Cidr::Parse("127.0.0.0/8"),
                            *Cidr::Parse("169.254.0.0/16"), *Cidr::Parse("224.0.0.0/3")};
  return *kRanges;
}

std::optional<Cidr> ForbiddenRangeOverlapping(const Cidr& cidr) {
  for (const Cidr& range : ForbiddenRanges()) {
    if (range.Overlaps(cidr)) return range;
  }
  return std::nullopt;
}

// An IPv4 address as a /32, parsed as strictly as Cidr::Parse parses CIDRs
// (decimal octets without leading zeros, nothing else around them).
std::optional<Cidr> ParseIpv4Address(absl::string_view text) {
  if (text.empty() || absl::StrContains(text, '/')) return std::nullopt;
  absl::StatusOr<Cidr> cidr = Cidr::Parse(absl::StrCat(text, "/32"));
  if (!cidr.ok() || !cidr->is_v4()) return std::nullopt;
  return *cidr;
}

// Adds a violation unless `text` is an IPv4 address; returns it as a /32.
std::optional<Cidr> CheckIpv4Address(absl::string_view text, const std::string& field,
                                     FieldViolations* out) {
  if (text.empty()) {
    out->Add(field, "required");
    return std::nullopt;
  }
  std::optional<Cidr> address = ParseIpv4Address(text);
  if (!address.has_value()) {
    out->Add(field, absl::StrCat("must be an IPv4 address such as \"192.0.2.1\", got ",
                                 QuoteForMessage(text)));
  }
  return address;
}

// Adds a violation unless `text` is an IPv4 CIDR without host bits.
std::optional<Cidr> CheckIpv4Cidr(absl::string_view text, const std::string& field,
                                  FieldViolations* out) {
  if (text.empty()) {
    out->Add(field, "required");
    return std::nullopt;
  }
  absl::StatusOr<Cidr> cidr = Cidr::Parse(text);
  if (!cidr.ok()) {
    out->Add(field, std::string(cidr.status().message()));
    return std::nullopt;
  }
  if (!cidr->is_v4()) {
    out->Add(field, absl::StrCat("must be an IPv4 CIDR, got ", QuoteForMessage(text)));
    return std::nullopt;
  }
  return *cidr;
}

// One of the edge's two networks (node_cidr or external_cidr) and the
// addresses the spec places in it. Each address is checked to be inside the
// network and neither its network nor its broadcast address, and, by its
// kind, not to collide with others.
class AddressPlan {
 public:
  enum class Kind {
    // The edge's own (gateway, instance, VIPs, peer): unique among all.
    kEdge,
    // A machine's static lease: unique among leases and edge addresses.
    kLease,
    // A backend: a machine, so it may equal a lease, but never the edge.
    kBackend,
  };

  AddressPlan(std::optional<Cidr> network, std::string network_field)
      : network_(std::move(network)), network_field_(std::move(network_field)) {
    if (network_.has_value()) {
      network_address_ = network_->NetworkAddress();
      broadcast_address_ =
          network_->Subnet(32, network_->SubnetCount(32) - 1).value().NetworkAddress();
    }
  }

  // Checks `text` at `field`; adds what is wrong to `out`. True when it is an
  // IPv4 address (also when it breaks a rule of the network).
  bool Check(absl::string_view text, const std::string& field, Kind kind, FieldViolations* out) {
    std::optional<Cidr> address = CheckIpv4Address(text, field, out);
    if (!address.has_value()) return false;
    const std::string canonical = address->NetworkAddress();
    if (network_.has_value()) {
      if (!network_->Contains(*address)) {
        out->Add(field,
                 absl::StrCat(canonical, " is not in ", network_field_, " ", network_->ToString()));
        return true;
      }
      if (canonical == network_address_ || canonical == broadcast_address_) {
        out->Add(field, absl::StrCat(canonical, " is the ",
                                     canonical == network_address_ ? "network" : "broadcast",
                                     " address of ", network_field_, " ", network_->ToString()));
        return true;
      }
    }
    auto edge = edge_.find(canonical);
    if (edge != edge_.end()) {
      out->Add(field, absl::StrCat(canonical, " is already used by ", edge->second));
      return true;
    }
    if (kind != Kind::kBackend) {
      auto lease = leases_.find(canonical);
      if (lease != leases_.end()) {
        out->Add(field, absl::StrCat(canonical, " is already used by ", lease->second));
        return true;
      }
    }
    if (kind == Kind::kEdge) edge_.emplace(canonical, field);
    if (kind == Kind::kLease) leases_.emplace(canonical, field);
    return true;
  }

 private:
  const std::optional<Cidr> network_;
  const std::string network_field_;
  std::string network_address_;
  std::string broadcast_address_;
  std::map<std::string, std::string> edge_;    // address -> field
  std::map<std::string, std::string> leases_;  // address -> field
};

// node_cidr or external_cidr: an IPv4 CIDR with room for an edge.
std::optional<Cidr> CheckEdgeNetwork(absl::string_view text, const std::string& field,
                                     FieldViolations* out) {
  std::optional<Cidr> cidr = CheckIpv4Cidr(text, field, out);
  if (!cidr.has_value()) return std::nullopt;
  if (cidr->prefix_length() > kMaxEdgeNetworkPrefixLength) {
    out->Add(field, absl::StrFormat("must have a prefix length of at most /%d, got %s",
                                    kMaxEdgeNetworkPrefixLength, cidr->ToString()));
    return std::nullopt;
  }
  if (std::optional<Cidr> range = ForbiddenRangeOverlapping(*cidr); range.has_value()) {
    out->Add(field,
             absl::StrCat(cidr->ToString(), " overlaps the reserved range ", range->ToString()));
    return std::nullopt;
  }
  return cidr;
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

int HexValue(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

// "02:00:0a:40:03:0b": six lowercase octets, the first with the locally
// administered bit set and the multicast bit clear.
std::string CheckMacAddress(absl::string_view mac) {
  if (mac.empty()) return "required";
  constexpr absl::string_view kWant =
      "must be a locally administered unicast MAC address in lowercase, e.g. "
      "\"02:00:0a:40:03:0b\", got ";
  bool shape = mac.size() == 17;
  for (size_t i = 0; shape && i < mac.size(); ++i) {
    shape = (i % 3 == 2) ? mac[i] == ':' : IsLowerHex(mac[i]);
  }
  if (!shape) return absl::StrCat(kWant, QuoteForMessage(mac));
  const int first = HexValue(mac[0]) * 16 + HexValue(mac[1]);
  if ((first & 0x02) == 0 || (first & 0x01) != 0) return absl::StrCat(kWant, QuoteForMessage(mac));
  return "";
}

// A DNS-1123 label (RFC 1123, as Kubernetes defines it): 1-63 characters
// from [a-z0-9-], starting and ending with a letter or digit.
std::string CheckHostname(absl::string_view name) {
  if (name.empty()) return "required";
  if (name.size() > static_cast<size_t>(kMaxHostnameLength)) {
    return absl::StrFormat("must be 1-%d characters, got %d", kMaxHostnameLength, name.size());
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return absl::StrCat(
          "must be a DNS-1123 label: lowercase letters a-z, digits 0-9 and '-'; found ",
          QuoteForMessage(name.substr(i, 1)), " at position ", i);
    }
  }
  if (name.front() == '-' || name.back() == '-') {
    return "must be a DNS-1123 label: start and end with a letter or digit";
  }
  return "";
}

// The provider's bridge: a plain Linux interface name that is none of ours.
std::string CheckExternalBridge(absl::string_view name) {
  if (name.empty()) return "required";
  if (name.size() > kMaxLinkNameLength) {
    return absl::StrFormat("must be 1-%d bytes (a Linux interface name), got %d",
                           kMaxLinkNameLength, name.size());
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-')) {
      return absl::StrCat("must contain only letters, digits, '_', '.' and '-'; found ",
                          QuoteForMessage(name.substr(i, 1)), " at position ", i);
    }
  }
  if (name.front() == '-' || name == "." || name == "..") {
    return absl::StrCat("is not a usable interface name: ", QuoteForMessage(name));
  }
  if (IsMandantLinkName(name) || ParseEdgeName(name).has_value()) {
    return absl::StrCat(QuoteForMessage(name),
                        " is a Mandant link name; use the provider's external bridge");
  }
  return "";
}

void CheckPort(uint32_t port, const std::string& field, FieldViolations* out) {
  if (port < 1 || port > kMaxPort) {
    out->Add(field, absl::StrFormat("must be 1-%u, got %u", kMaxPort, port));
  }
}

void CheckCount(int count, int max, const std::string& field, FieldViolations* out) {
  if (count > max)
    out->Add(field, absl::StrFormat("must have at most %d entries, got %d", max, count));
}

void ValidateEgressRule(const mandant::v1::EgressRule& rule, const std::string& prefix,
                        FieldViolations* out) {
  CheckIpv4Cidr(rule.destination_cidr(), Field(prefix, "destination_cidr"), out);
  const bool ports_allowed = rule.protocol() == mandant::v1::IP_PROTOCOL_TCP ||
                             rule.protocol() == mandant::v1::IP_PROTOCOL_UDP;
  if (!mandant::v1::IpProtocol_IsValid(rule.protocol())) {
    out->Add(Field(prefix, "protocol"),
             absl::StrCat("must be IP_PROTOCOL_TCP, IP_PROTOCOL_UDP, IP_PROTOCOL_ICMP or "
                          "unspecified for any protocol, got ",
                          static_cast<int>(rule.protocol())));
  }
  if (!ports_allowed) {
    if (rule.port_from() != 0) {
      out->Add(Field(prefix, "port_from"),
               "must be 0: ports apply only to IP_PROTOCOL_TCP and IP_PROTOCOL_UDP");
    }
    if (rule.port_to() != 0) {
      out->Add(Field(prefix, "port_to"),
               "must be 0: ports apply only to IP_PROTOCOL_TCP and IP_PROTOCOL_UDP");
    }
  } else {
    if (rule.port_from() > kMaxPort) {
      out->Add(
          Field(prefix, "port_from"),
          absl::StrFormat("must be 1-%u, or 0 for every port; got %u", kMaxPort, rule.port_from()));
    }
    if (rule.port_to() > kMaxPort) {
      out->Add(Field(prefix, "port_to"),
               absl::StrFormat("must be 1-%u, or 0 for port_from alone; got %u", kMaxPort,
                               rule.port_to()));
    } else if (rule.port_to() != 0 && rule.port_from() == 0) {
      out->Add(Field(prefix, "port_from"), "required when port_to is set");
    } else if (rule.port_to() != 0 && rule.port_from() > rule.port_to()) {
      out->Add(Field(prefix, "port_to"), absl::StrFormat("must be at least port_from %u, got %u",
                                                         rule.port_from(), rule.port_to()));
    }
  }
  if (rule.action() != mandant::v1::EGRESS_ACTION_ALLOW &&
      rule.action() != mandant::v1::EGRESS_ACTION_DENY) {
    out->Add(Field(prefix, "action"),
             absl::StrCat("must be EGRESS_ACTION_ALLOW or EGRESS_ACTION_DENY, got ",
                          static_cast<int>(rule.action())));
  }
  ValidateDisplayName(rule.description(), Field(prefix, "description"), out);
}

void ValidateBackends(const mandant::v1::EdgeEndpointSpec& endpoint, const std::string& prefix,
                      AddressPlan* node, FieldViolations* out) {
  CheckCount(endpoint.backends_size(), kMaxEdgeBackends, Field(prefix, "backends"), out);
  std::set<std::string> names;
  std::set<std::string> addresses;
  for (int i = 0; i < endpoint.backends_size(); ++i) {
    const mandant::v1::EdgeBackend& backend = endpoint.backends(i);
    const std::string field = Indexed(prefix, "backends", i);
    if (std::string problem = CheckHostname(backend.name()); !problem.empty()) {
      out->Add(Field(field, "name"), std::move(problem));
    } else if (!names.insert(backend.name()).second) {
      out->Add(Field(field, "name"),
               absl::StrCat("\"", backend.name(), "\" is listed twice in this endpoint"));
    }
    if (node->Check(backend.address(), Field(field, "address"), AddressPlan::Kind::kBackend, out) &&
        ParseIpv4Address(backend.address()).has_value() &&
        !addresses.insert(backend.address()).second) {
      out->Add(Field(field, "address"),
               absl::StrCat(backend.address(), " is listed twice in this endpoint"));
    }
    CheckPort(backend.port(), Field(field, "port"), out);
  }
}

}  // namespace

FieldViolations ValidateEgressPolicy(const mandant::v1::EgressPolicy& policy,
                                     absl::string_view field_prefix) {
  FieldViolations out;
  if (!mandant::v1::EgressAction_IsValid(policy.default_action())) {
    out.Add(Field(field_prefix, "default_action"),
            absl::StrCat("must be EGRESS_ACTION_ALLOW, EGRESS_ACTION_DENY or unspecified (ALLOW), "
                         "got ",
                         static_cast<int>(policy.default_action())));
  }
  CheckCount(policy.rules_size(), kMaxEgressRules, Field(field_prefix, "rules"), &out);
  for (int i = 0; i < policy.rules_size(); ++i) {
    ValidateEgressRule(policy.rules(i), Indexed(field_prefix, "rules", i), &out);
  }
  return out;
}

FieldViolations ValidateEdgeSpec(const mandant::v1::EdgeSpec& spec,
                                 absl::string_view field_prefix) {
  FieldViolations out;
  const auto field = [field_prefix](absl::string_view name) { return Field(field_prefix, name); };

  if (std::string problem = CheckTenantName(spec.tenant()); !problem.empty()) {
    out.Add(field("tenant"), std::move(problem));
  }
  std::optional<ParsedLinkName> bridge = ParseTenantLinkName(spec.tenant_bridge());
  if (!bridge.has_value() || !bridge->is_bridge) {
    out.Add(field("tenant_bridge"),
            absl::StrCat("must be a Mandant tenant bridge name such as \"mb-x0003e9\", got ",
                         QuoteForMessage(spec.tenant_bridge())));
  } else {
    struct Derived {
      const char* name;
      const std::string& value;
      absl::StatusOr<std::string> want;
    };
    for (const Derived& d : {Derived{"namespace", spec.namespace_(),
                                     EdgeNamespaceName(bridge->mode, bridge->segment_id)},
                             Derived{"inside_link", spec.inside_link(),
                                     EdgeInsideLinkName(bridge->mode, bridge->segment_id)},
                             Derived{"outside_link", spec.outside_link(),
                                     EdgeOutsideLinkName(bridge->mode, bridge->segment_id)}}) {
      if (d.want.ok() && d.value != *d.want) {
        out.Add(field(d.name),
                absl::StrCat("must be \"", *d.want, "\" for tenant_bridge \"", spec.tenant_bridge(),
                             "\", got ", QuoteForMessage(d.value)));
      }
    }
  }
  if (spec.mtu() < kMinTenantNetworkMtu || spec.mtu() > kMaxTenantNetworkMtu) {
    out.Add(field("mtu"), absl::StrFormat("must be %d-%d, got %d", kMinTenantNetworkMtu,
                                          kMaxTenantNetworkMtu, spec.mtu()));
  }
  if (std::string problem = CheckExternalBridge(spec.external_bridge()); !problem.empty()) {
    out.Add(field("external_bridge"), std::move(problem));
  }

  // The two networks, then every address in them: the edge's own first, so
  // that a lease or backend on one of them is named as the one in the way.
  std::optional<Cidr> node_cidr = CheckEdgeNetwork(spec.node_cidr(), field("node_cidr"), &out);
  std::optional<Cidr> external_cidr =
      CheckEdgeNetwork(spec.external_cidr(), field("external_cidr"), &out);
  if (node_cidr.has_value() && external_cidr.has_value() && node_cidr->Overlaps(*external_cidr)) {
    out.Add(field("external_cidr"),
            absl::StrCat(external_cidr->ToString(), " overlaps node_cidr ", node_cidr->ToString()));
    external_cidr.reset();
  }
  AddressPlan node(node_cidr, "node_cidr");
  AddressPlan external(external_cidr, "external_cidr");
  using Kind = AddressPlan::Kind;
  node.Check(spec.gateway_address(), field("gateway_address"), Kind::kEdge, &out);
  node.Check(spec.instance_address(), field("instance_address"), Kind::kEdge, &out);
  external.Check(spec.external_gateway(), field("external_gateway"), Kind::kEdge, &out);
  external.Check(spec.egress_address(), field("egress_address"), Kind::kEdge, &out);

  if (spec.has_vrrp()) {
    const mandant::v1::EdgeVrrp& vrrp = spec.vrrp();
    if (vrrp.virtual_router_id() < kMinVrrpRouterId ||
        vrrp.virtual_router_id() > kMaxVrrpRouterId) {
      out.Add(field("vrrp.virtual_router_id"),
              absl::StrFormat("must be %u-%u, got %u", kMinVrrpRouterId, kMaxVrrpRouterId,
                              vrrp.virtual_router_id()));
    }
    if (vrrp.priority() < kMinVrrpPriority || vrrp.priority() > kMaxVrrpPriority) {
      out.Add(field("vrrp.priority"), absl::StrFormat("must be %u-%u, got %u", kMinVrrpPriority,
                                                      kMaxVrrpPriority, vrrp.priority()));
    }
    if (vrrp.peer_addresses_size() != 1) {
      out.Add(field("vrrp.peer_addresses"),
              absl::StrCat("must hold exactly one address (the other copy's instance_address), "
                           "got ",
                           vrrp.peer_addresses_size()));
    }
    for (int i = 0; i < vrrp.peer_addresses_size(); ++i) {
      node.Check(vrrp.peer_addresses(i), Indexed(field("vrrp"), "peer_addresses", i), Kind::kEdge,
                 &out);
    }
  }

  CheckCount(spec.endpoints_size(), kMaxEdgeEndpoints, field("endpoints"), &out);
  const absl::StatusOr<std::string> tenant_id = ParseTenantName(spec.tenant());
  std::set<std::string> clusters;
  for (int i = 0; i < spec.endpoints_size(); ++i) {
    const mandant::v1::EdgeEndpointSpec& endpoint = spec.endpoints(i);
    const std::string prefix = Indexed(field_prefix, "endpoints", i);
    std::optional<ParsedClusterName> cluster = ParseClusterName(endpoint.cluster());
    if (!cluster.has_value()) {
      out.Add(Field(prefix, "cluster"), CheckClusterName(endpoint.cluster()));
    } else if (tenant_id.ok() && cluster->tenant_id != *tenant_id) {
      out.Add(Field(prefix, "cluster"), absl::StrCat("must be a cluster of ", spec.tenant(),
                                                     ", got \"", endpoint.cluster(), "\""));
    } else if (!clusters.insert(cluster->cluster_id).second) {
      out.Add(Field(prefix, "cluster"),
              absl::StrCat("\"", endpoint.cluster(), "\" has more than one endpoint"));
    }
    node.Check(endpoint.internal_address(), Field(prefix, "internal_address"), Kind::kEdge, &out);
    external.Check(endpoint.external_address(), Field(prefix, "external_address"), Kind::kEdge,
                   &out);
    CheckPort(endpoint.port(), Field(prefix, "port"), &out);
    CheckCount(endpoint.allowed_cidrs_size(), kMaxEdgeAllowedCidrs, Field(prefix, "allowed_cidrs"),
               &out);
    for (int j = 0; j < endpoint.allowed_cidrs_size(); ++j) {
      CheckIpv4Cidr(endpoint.allowed_cidrs(j), Indexed(prefix, "allowed_cidrs", j), &out);
    }
  }

  CheckCount(spec.dhcp_hosts_size(), kMaxEdgeDhcpHosts, field("dhcp_hosts"), &out);
  std::set<std::string> macs;
  for (int i = 0; i < spec.dhcp_hosts_size(); ++i) {
    const mandant::v1::DhcpHost& host = spec.dhcp_hosts(i);
    const std::string prefix = Indexed(field_prefix, "dhcp_hosts", i);
    if (std::string problem = CheckMacAddress(host.mac_address()); !problem.empty()) {
      out.Add(Field(prefix, "mac_address"), std::move(problem));
    } else if (!macs.insert(host.mac_address()).second) {
      out.Add(Field(prefix, "mac_address"),
              absl::StrCat(host.mac_address(), " is listed twice in dhcp_hosts"));
    }
    node.Check(host.address(), Field(prefix, "address"), Kind::kLease, &out);
    if (std::string problem = CheckHostname(host.hostname()); !problem.empty()) {
      out.Add(Field(prefix, "hostname"), std::move(problem));
    }
  }

  // Backends last: they may be leases, but never one of the edge's addresses.
  for (int i = 0; i < spec.endpoints_size(); ++i) {
    ValidateBackends(spec.endpoints(i), Indexed(field_prefix, "endpoints", i), &node, &out);
  }

  CheckCount(spec.dns_servers_size(), kMaxEdgeDnsServers, field("dns_servers"), &out);
  std::set<std::string> resolvers;
  for (int i = 0; i < spec.dns_servers_size(); ++i) {
    const std::string f = Indexed(field_prefix, "dns_servers", i);
    std::optional<Cidr> address = CheckIpv4Address(spec.dns_servers(i), f, &out);
    if (!address.has_value()) continue;
    if (std::optional<Cidr> range = ForbiddenRangeOverlapping(*address); range.has_value()) {
      out.Add(f,
              absl::StrCat(spec.dns_servers(i), " is in the reserved range ", range->ToString()));
    } else if (!resolvers.insert(spec.dns_servers(i)).second) {
      out.Add(f, absl::StrCat(spec.dns_servers(i), " is listed twice"));
    }
  }

  if (spec.has_egress_policy()) {
    const FieldViolations policy =
        ValidateEgressPolicy(spec.egress_policy(), field("egress_policy"));
    for (const FieldViolation& v : policy.violations()) out.Add(v.field, v.description);
  }
  return out;
}

}  // namespace mandant::tenants
