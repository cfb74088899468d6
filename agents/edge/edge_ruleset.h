#ifndef MANDANT_AGENTS_EDGE_EDGE_RULESET_H_
#define MANDANT_AGENTS_EDGE_EDGE_RULESET_H_

// The nftables ruleset of one tenant edge namespace: table inet mandant_edge
// with
//   input (policy drop): established/related; loopback; VRRP (IP protocol
//     112) from the peer's to this copy's instance address on "inside";
//     DHCP (from 0.0.0.0 or node_cidr), DNS and ICMP echo from node_cidr on
//     "inside"; per endpoint its port on the internal address from node_cidr
//     on "inside" and on the external address from its allowed_cidrs on
//     "outside"; then every other packet to an endpoint's addresses is
//     counted in that endpoint's named counter and dropped;
//   forward (policy drop): established/related; new connections from
//     node_cidr on "inside" to "outside" go through chain egress, where the
//     policy's rules apply in order (the first match decides) and then its
//     default: an allowed connection is logged to NFLOG group 1 with prefix
//     "allow" and accepted, a denied one logged with "deny" and dropped.
//     Nothing else passes, in particular nothing new from outside to inside;
//   postrouting (NAT): source NAT of node_cidr leaving on "outside" to the
//     egress address.
// Refused traffic is always dropped, never rejected. IPv6 is dropped
// entirely (the edge is IPv4 only).
//
// Format: nft's own script language, not libnftables JSON. The agent runs the
// text with nft_run_cmd_from_buffer in the namespace (one buffer, one kernel
// transaction, as agents/network/nftables_firewall.cc does for the host
// table): "add table; delete table; table { ... }" replaces the whole table
// atomically whether or not it existed. Text is what an operator reads in
// `nft list ruleset` and in the golden files, and every value placed in it
// is a validated address, CIDR, port or fixed name, never request text (egress
// rule descriptions are not rendered), so the script grammar cannot be
// escaped.
//
// Reading the counters back: `nft -j list counters table inet mandant_edge`
// in the namespace; each endpoint's counter is EdgeDropCounterName(cluster).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

// The table, as nft names it after "table".
inline constexpr char kEdgeTable[] = "inet mandant_edge";
// NFLOG group and prefixes of the egress log (docs/edge.md): the agent reads
// the group in each edge namespace and maps the prefix to an EgressAction.
inline constexpr int kEgressLogGroup = 1;
inline constexpr char kEgressLogAllowPrefix[] = "allow";
inline constexpr char kEgressLogDenyPrefix[] = "deny";

// The named counter of dropped packets to one endpoint's addresses:
// "drop-" + the cluster id of `cluster` ("tenants/{tenant}/clusters/{id}").
// INVALID_ARGUMENT for any other text.
absl::StatusOr<std::string> EdgeDropCounterName(absl::string_view cluster);

// The nft script. Requires tenants::ValidateEdgeSpec(spec) to pass, and
// checks it again: INVALID_ARGUMENT (nothing rendered) for an invalid spec.
// An endpoint's allowed_cidrs are rendered without those contained in
// another one (nft refuses overlapping elements in one set). Deterministic.
absl::StatusOr<std::string> RenderEdgeRuleset(const mandant::v1::EdgeSpec& spec);

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_EDGE_EDGE_RULESET_H_
