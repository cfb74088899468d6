#ifndef MANDANT_TENANTS_EDGE_NAMES_H_
#define MANDANT_TENANTS_EDGE_NAMES_H_

// Names of a tenant edge on a host (docs/edge.md): its network namespace and
// the host ends of its two veth pairs. The controller uses them to build an
// EdgeSpec, the agent to check one and to recognise its own namespaces and
// links. Pure functions, no I/O, thread-safe.
//
// Every name is a fixed prefix plus the tenant bridge's segment suffix (the
// part of TenantBridgeName after "mb-": "x" + 6 hex digits for a VNI, "v" + 4
// for a VLAN ID), so a tenant's edge has the same names on every host, and a
// VNI and a VLAN ID of the same number never collide:
//
//   object                          name                example (VNI 1001)
//   namespace                       "mandant-e" + sfx   "mandant-ex0003e9"
//   host end of the inside veth     "mei-" + sfx        "mei-x0003e9"
//   host end of the outside veth    "meo-" + sfx        "meo-x0003e9"
//   the ends inside the namespace   "inside", "outside"
//
// Link names are at most 11 bytes (the kernel allows 15). Nothing else on a
// host may use these prefixes.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "mandant/v1/tenant.pb.h"

namespace mandant::tenants {

inline constexpr char kEdgeNamespacePrefix[] = "mandant-e";
inline constexpr char kEdgeInsideLinkPrefix[] = "mei-";
inline constexpr char kEdgeOutsideLinkPrefix[] = "meo-";
// The veth ends inside every edge namespace: towards the tenant bridge and
// towards the external bridge.
inline constexpr char kEdgeInsideInterface[] = "inside";
inline constexpr char kEdgeOutsideInterface[] = "outside";

enum class EdgeObject {
  kNamespace,
  kInsideLink,
  kOutsideLink,
};

// What an edge name denotes.
struct ParsedEdgeName {
  EdgeObject object = EdgeObject::kNamespace;
  mandant::v1::NetworkMode mode = mandant::v1::NETWORK_MODE_UNSPECIFIED;
  uint32_t segment_id = 0;  // VNI or VLAN ID
};

// The edge's names for the tenant network of (mode, segment id), e.g.
// (VXLAN, 1001) -> "mandant-ex0003e9", "mei-x0003e9", "meo-x0003e9".
// INVALID_ARGUMENT as TenantBridgeName: an unspecified mode or a segment id
// out of range.
absl::StatusOr<std::string> EdgeNamespaceName(mandant::v1::NetworkMode mode, uint32_t segment_id);
absl::StatusOr<std::string> EdgeInsideLinkName(mandant::v1::NetworkMode mode, uint32_t segment_id);
absl::StatusOr<std::string> EdgeOutsideLinkName(mandant::v1::NetworkMode mode, uint32_t segment_id);

// The inverse of the three functions above: nullopt unless `name` is exactly
// a name one of them returns (prefix, suffix as ParseTenantLinkName accepts
// it for a bridge, id in range).
std::optional<ParsedEdgeName> ParseEdgeName(absl::string_view name);

}  // namespace mandant::tenants

#endif  // MANDANT_TENANTS_EDGE_NAMES_H_
