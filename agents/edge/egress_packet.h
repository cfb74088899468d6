#ifndef MANDANT_AGENTS_EDGE_EGRESS_PACKET_H_
#define MANDANT_AGENTS_EDGE_EGRESS_PACKET_H_

// The part of an egress log event that comes from tenant traffic: the
// packet an edge's nftables sent to NFLOG group 1 and the rule's log prefix.
// A pure function without I/O, so that it is unit-tested and fuzzed
// (tests/fuzz/egress_packet_fuzzer.cc): every byte of it is chosen by
// whoever sends from the tenant network.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace mandant::agent {

// The log prefixes of the edge ruleset's egress rules (docs/edge.md).
inline constexpr char kEgressAllowPrefix[] = "allow";
inline constexpr char kEgressDenyPrefix[] = "deny";

enum class EgressVerdict { kAllow, kDeny };

struct EgressPacket {
  EgressVerdict verdict = EgressVerdict::kAllow;
  // Canonical dotted quads.
  std::string source_address;
  std::string destination_address;
  // The IP protocol number (6 TCP, 17 UDP, ...).
  uint8_t protocol = 0;
  // TCP and UDP only, and only in a first (or the only) fragment; else 0.
  uint16_t destination_port = 0;
};

// Parses an IPv4 packet as NFLOG hands it over (it starts at the IP header;
// it may be cut short after the transport header by the copy range) with
// the log prefix of the rule that logged it, "allow" or "deny" (trailing
// spaces ignored). nullopt when the prefix is neither, the bytes are not an
// IPv4 header (version, header length, total length not below the header),
// or a TCP/UDP first fragment is too short for its destination port. Never
// reads outside `packet`.
std::optional<EgressPacket> ParseEgressPacket(absl::string_view prefix, absl::string_view packet);

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_EDGE_EGRESS_PACKET_H_
