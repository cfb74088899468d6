#ifndef MANDANT_TENANTS_EDGE_VALIDATION_H_
#define MANDANT_TENANTS_EDGE_VALIDATION_H_

// Shape rules of a tenant edge (docs/edge.md): the EdgeSpec the controller
// sends to an agent, and the tenant's EgressPolicy. Every value of an EdgeSpec
// ends up in a configuration file (haproxy, dnsmasq, keepalived), an nftables
// ruleset or a command line, so each is checked by type here, and the agent's
// renderers (agents/edge/) refuse a spec that does not pass. Pure functions,
// no I/O, thread-safe.

#include <cstdint>

#include "absl/strings/string_view.h"

#include "mandant/v1/agent.pb.h"
#include "mandant/v1/edge.pb.h"
#include "tenants/field_violations.h"

namespace mandant::tenants {

inline constexpr int kMaxEdgeEndpoints = 64;
inline constexpr int kMaxEdgeAllowedCidrs = 256;  // per endpoint
inline constexpr int kMaxEdgeBackends = 16;       // per endpoint
inline constexpr int kMaxEdgeDhcpHosts = 4096;
inline constexpr int kMaxEdgeDnsServers = 3;
inline constexpr int kMaxEgressRules = 256;
inline constexpr int kMaxEgressRuleDescriptionLength = 200;  // code points
inline constexpr uint32_t kMinVrrpRouterId = 1;
inline constexpr uint32_t kMaxVrrpRouterId = 255;
inline constexpr uint32_t kMinVrrpPriority = 1;
inline constexpr uint32_t kMaxVrrpPriority = 254;
// node_cidr and external_cidr need a network and a broadcast address and at
// least two usable ones (a gateway and an edge address).
inline constexpr int kMaxEdgeNetworkPrefixLength = 30;
// A DNS-1123 label: hostnames of machines, names of backends.
inline constexpr int kMaxHostnameLength = 63;

// Checks one EgressPolicy as UpdateEgressPolicy and EdgeSpec carry it, and
// returns every problem, with field paths `field_prefix` + "." + proto field
// name, e.g. "policy.rules[3].destination_cidr" for the prefix "policy".
// Output-only fields (name, generation, update_time) and etag are not looked
// at.
//   default_action: ALLOW, DENY or UNSPECIFIED (which means ALLOW);
//   rules: at most 256; each with
//     destination_cidr: an IPv4 CIDR without host bits ("0.0.0.0/0" for any);
//     protocol: a known IpProtocol;
//     port_from, port_to: 0-65535, non-zero only with TCP or UDP; port_to 0
//       means port_from alone; otherwise port_from is set and <= port_to;
//     action: ALLOW or DENY;
//     description: at most 200 code points of UTF-8 without control or
//       text-reordering characters (as a display name).
FieldViolations ValidateEgressPolicy(const mandant::v1::EgressPolicy& policy,
                                     absl::string_view field_prefix = "");

// Checks one EdgeSpec and returns every problem, with field paths
// `field_prefix` + "." + proto field name (just the name when the prefix is
// empty), e.g. "edges[0].endpoints[1].backends[2].address":
//   tenant: "tenants/{tenant_id}";
//   tenant_bridge: a Mandant bridge name (tenants/network_names.h);
//   namespace, inside_link, outside_link: exactly the names of
//     tenants/edge_names.h for the tenant bridge's segment;
//   mtu: 576-9000;
//   external_bridge: a Linux interface name of 1-15 bytes from
//     [A-Za-z0-9_.-], not starting with '-' and not a Mandant link name;
//   node_cidr, external_cidr: IPv4 CIDRs without host bits, prefix length at
//     most /30, not overlapping each other nor 0.0.0.0/8, 127.0.0.0/8,
//     169.254.0.0/16 or 224.0.0.0/3;
//   gateway_address, instance_address, vrrp.peer_addresses, each endpoint's
//     internal_address, each dhcp_hosts[].address: IPv4 addresses in
//     node_cidr, neither its network nor its broadcast address, all distinct;
//   external_gateway, egress_address, each endpoint's external_address: IPv4
//     addresses in external_cidr, neither its network nor its broadcast
//     address, all distinct;
//   endpoints: at most 64, each with
//     cluster: "tenants/{tenant_id}/clusters/{cluster_id}" of this tenant,
//       each cluster once;
//     port: 1-65535;
//     allowed_cidrs: at most 256 IPv4 CIDRs without host bits;
//     backends: at most 16, each with a name that is a DNS-1123 label of at
//       most 63 characters and an address in node_cidr (not one of the
//       edge's own addresses above), both unique within the endpoint, and a
//       port 1-65535;
//   dhcp_hosts: at most 4096, each with mac_address a locally administered
//     unicast MAC in lowercase ("02:00:0a:40:03:0b"), unique, and hostname a
//     DNS-1123 label of at most 63 characters;
//   dns_servers: at most 3 distinct IPv4 addresses, none in the ranges that
//     node_cidr may not overlap;
//   egress_policy: as ValidateEgressPolicy (an unset policy is default ALLOW
//     with no rules);
//   vrrp (when set): virtual_router_id 1-255, priority 1-254, exactly one
//     peer address (see above).
// The order of repeated fields is not checked.
FieldViolations ValidateEdgeSpec(const mandant::v1::EdgeSpec& spec,
                                 absl::string_view field_prefix = "");

}  // namespace mandant::tenants

#endif  // MANDANT_TENANTS_EDGE_VALIDATION_H_
