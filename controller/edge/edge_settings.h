#ifndef MANDANT_CONTROLLER_EDGE_EDGE_SETTINGS_H_
#define MANDANT_CONTROLLER_EDGE_EDGE_SETTINGS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

#include "controller/store/addresses.h"

namespace mandant::controller {

// The tenant edges' part of mandantd's configuration (mandantd.yaml edge.*,
// docs/operations.md; docs/edge.md for what it means).
struct EdgeSettings {
  // The provider's external networks; tenants get their egress address and
  // their edge's network from the first. Empty: no edges are placed.
  std::vector<store::ExternalNetwork> external_networks;
  // IPv4 resolvers the edges' dnsmasq forwards to (at most 3).
  std::vector<std::string> dns_servers;
  // IPv4 CIDRs mandantd connects to cluster endpoints from; allowed on every
  // endpoint's external address besides the cluster's own list.
  std::vector<std::string> controller_cidrs;
  // How long egress events are kept.
  absl::Duration egress_log_retention = absl::Hours(24 * 30);
  // How often every tenant's edge placement is checked, besides the checks
  // that machine changes trigger.
  absl::Duration placement_interval = absl::Seconds(30);

  // The network named `name`, or nullptr.
  const store::ExternalNetwork* FindNetwork(const std::string& name) const {
    for (const store::ExternalNetwork& n : external_networks) {
      if (n.name == name) return &n;
    }
    return nullptr;
  }
};

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_EDGE_EDGE_SETTINGS_H_
