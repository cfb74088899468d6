#ifndef MANDANT_AGENTS_NETWORK_NFTABLES_FIREWALL_H_
#define MANDANT_AGENTS_NETWORK_NFTABLES_FIREWALL_H_

#include <memory>

#include "absl/status/statusor.h"

#include "agents/network/firewall.h"

namespace mandant::agent {

// The nftables table name and family the agent owns.
inline constexpr char kFirewallTable[] = "inet mandant";

// Firewall over libnftables: each call is one nft command buffer (one kernel
// transaction) with nft's error output captured into the Status. Acts on the
// network namespace of the calling thread. Not thread-safe.
class NftablesFirewall {
 public:
  // RESOURCE_EXHAUSTED when libnftables cannot make a context.
  static absl::StatusOr<std::unique_ptr<Firewall>> Create();

  // The nft script ReplaceBridgeRules runs, for review and tests. The names
  // must already be checked.
  static std::string RulesScript(const std::vector<std::string>& bridges);
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_NETWORK_NFTABLES_FIREWALL_H_
