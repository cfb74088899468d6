#ifndef MANDANT_CONTROLLER_EDGE_EDGE_SPEC_H_
#define MANDANT_CONTROLLER_EDGE_EDGE_SPEC_H_

// The EdgeSpec of one edge copy (agent.proto), derived from its rows and
// the configuration: names from tenants/edge_names.h, the external
// network's bridge, CIDR and gateway, the resolvers, the endpoints' allowed
// CIDRs plus mandantd's own, and for a redundant edge the VRRP instance
// (router id from the segment, priority 150 for the first copy and 100 for
// the second). Pure and thread-safe.

#include "absl/status/statusor.h"

#include "controller/edge/edge_settings.h"
#include "controller/store/edge_store.h"
#include "mandant/v1/agent.pb.h"

namespace mandant::controller {

inline constexpr uint32_t kFirstEdgePriority = 150;
inline constexpr uint32_t kSecondEdgePriority = 100;

// FAILED_PRECONDITION when the edge's external network is no longer
// configured; INVALID_ARGUMENT for a segment the naming rules refuse.
absl::StatusOr<v1::EdgeSpec> BuildEdgeSpec(const store::EdgeSpecRow& row,
                                           const EdgeSettings& settings);

// The VRRP virtual router id of a tenant segment, 1-255; both copies of an
// edge use the same one. Edges of different tenants never share a network,
// so equal ids of two tenants cannot meet.
uint32_t VrrpRouterId(uint32_t segment_id);

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_EDGE_EDGE_SPEC_H_
