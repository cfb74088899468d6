#ifndef MANDANT_CONTROLLER_EDGE_EDGE_PLACEMENT_H_
#define MANDANT_CONTROLLER_EDGE_EDGE_PLACEMENT_H_

// Where a tenant's edge runs (docs/edge.md, Placement). An edge exists while
// the tenant has a machine placed on a host. Its copies go to hosts attached
// to the external network that are not cordoned, preferring hosts with more
// of the tenant's machines, then hosts with fewer edges, then by name. Two
// copies when the tenant's machines span at least two hosts and two such
// hosts exist; otherwise one. Copies stay where they are: placement only
// adds missing copies or removes the whole edge, so an edge never moves
// under running traffic because another host became a little better.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

#include "controller/edge/edge_settings.h"
#include "controller/store/edge_store.h"
#include "controller/store/pg.h"

namespace mandant::controller {

struct EdgePlacementDecision {
  // Delete the edge with all its copies.
  bool remove = false;
  // Copies to add: (host row id, ordinal).
  std::vector<std::pair<int64_t, int>> add;
  // Set when a needed copy has no host, saying why (for the Placed and
  // Redundant conditions and the log).
  std::string shortfall;
};

// Pure. `network_configured`: the state's candidates come from a configured
// external network (false: edges cannot be placed at all).
EdgePlacementDecision DecideEdgePlacement(const store::EdgePlacementState& state,
                                          bool network_configured);

// Reads, decides and writes the placement of the tenant with row id
// `tenant_row_id`, in the caller's transaction; gives the tenant an egress
// address first when it has none (external networks configured after the
// tenant was created). Errors of the store; a retryable status when a
// concurrent placement of the same tenant won.
absl::Status ReconcileEdgePlacement(store::Connection& conn, store::EdgeStore& store,
                                    const EdgeSettings& settings, int64_t tenant_row_id);

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_EDGE_EDGE_PLACEMENT_H_
