#ifndef MANDANT_AGENTS_NETWORK_FIREWALL_H_
#define MANDANT_AGENTS_NETWORK_FIREWALL_H_

// The host firewall that keeps tenants apart: nothing may be forwarded from
// one tenant bridge to another. The agent owns exactly one nftables table,
// `table inet mandant`, and touches nothing else.
//
// For each tenant bridge B the table holds, in its `forward` chain (hook
// forward, priority filter, policy accept):
//   iifname "B" oifname "mb-*" oifname != "B"  -> counted, logged (rate-limited), dropped
//   oifname "B" iifname "mb-*" iifname != "B"  -> counted, logged (rate-limited), dropped
// The second rule also catches traffic from a Mandant-named bridge the list
// does not know. "Same bridge" must be allowed explicitly because with
// br_netfilter on, frames bridged inside B (between B's ports, VM taps and the
// VXLAN device alike) pass the inet forward hook with iifname = oifname = B.
// All "from" rules come before all "to" rules, so a packet is counted once:
// on the bridge it came from, or (coming from a Mandant-named bridge not in
// the list) on the bridge it was headed to.
//
// With no tenant bridges the table is deleted, so a host without tenant
// networks carries no Mandant rules at all.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mandant::agent {

// What the rules of one bridge have dropped since they were installed.
struct BridgeDrops {
  std::string bridge;
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

class Firewall {
 public:
  virtual ~Firewall() = default;

  // Replaces the whole table in one nftables transaction with the rules for
  // `bridges` (each a Mandant bridge name, tenants::IsMandantBridgeName;
  // order and duplicates do not matter); deletes it when `bridges` is empty.
  // Either all of it takes effect or nothing does. Counters restart at 0.
  // INVALID_ARGUMENT for a name that is not a Mandant bridge name (nothing is
  // changed); INTERNAL with nftables' error text when the kernel refuses.
  virtual absl::Status ReplaceBridgeRules(const std::vector<std::string>& bridges) = 0;

  // The bridges whose rules (both directions) are installed now, sorted by
  // name, with their drop counters. Empty when the table does not exist.
  // INTERNAL when the table cannot be read.
  virtual absl::StatusOr<std::vector<BridgeDrops>> ListBridgeRules() = 0;
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_NETWORK_FIREWALL_H_
