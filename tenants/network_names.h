#ifndef MANDANT_TENANTS_NETWORK_NAMES_H_
#define MANDANT_TENANTS_NETWORK_NAMES_H_

// Names and shape rules of a tenant network on a host: the Linux bridge and
// its VXLAN device or 802.1Q sub-interface. The controller uses them to build
// a TenantNetworkSpec, the agent to check one and to recognise its own links.
// Pure functions, no I/O, thread-safe.
//
// Naming scheme (at most 10 bytes, the kernel allows 15), segment ids in
// lowercase hex with a fixed width so that every name is unique and sorts by
// segment:
//
//   mode   bridge                      segment link
//   VXLAN  "mb-x" + 6 hex, "mb-x0003e9"  "mx-" + 6 hex, "mx-0003e9"  (VNI 1001)
//   VLAN   "mb-v" + 4 hex, "mb-v0ffe"    "mv-" + 4 hex, "mv-0ffe"    (VLAN 4094)
//
// Every tenant bridge starts with "mb-", which the host firewall uses as a
// wildcard ("mb-*"). Nothing else on a host may use these prefixes.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "mandant/v1/agent.pb.h"
#include "mandant/v1/tenant.pb.h"
#include "tenants/field_violations.h"

namespace mandant::tenants {

inline constexpr uint32_t kMinVni = 1;
inline constexpr uint32_t kMaxVni = 16777215;  // 24 bits
inline constexpr uint32_t kMinVlanId = 1;
inline constexpr uint32_t kMaxVlanId = 4094;
// IFNAMSIZ - 1.
inline constexpr size_t kMaxLinkNameLength = 15;
// Outer Ethernet (14) + IPv4 (20) + UDP (8) + VXLAN (8) headers.
inline constexpr int kVxlanOverhead = 50;
// The smallest MTU every IPv4 host must accept; the largest common jumbo MTU.
inline constexpr int kMinTenantNetworkMtu = 576;
inline constexpr int kMaxTenantNetworkMtu = 9000;
// Every tenant bridge name starts with this.
inline constexpr char kTenantBridgePrefix[] = "mb-";

// What a Mandant link name denotes.
struct ParsedLinkName {
  bool is_bridge = false;  // else the VXLAN device or VLAN sub-interface
  mandant::v1::NetworkMode mode = mandant::v1::NETWORK_MODE_UNSPECIFIED;
  uint32_t segment_id = 0;  // VNI or VLAN ID
};

// The bridge of a tenant network, e.g. (VXLAN, 1001) -> "mb-x0003e9".
// INVALID_ARGUMENT for an unspecified mode or a segment id out of range
// (VNI 1-16777215, VLAN ID 1-4094).
absl::StatusOr<std::string> TenantBridgeName(mandant::v1::NetworkMode mode, uint32_t segment_id);

// The VXLAN device or VLAN sub-interface, e.g. (VXLAN, 1001) -> "mx-0003e9",
// (VLAN, 4094) -> "mv-0ffe". Same errors as TenantBridgeName.
absl::StatusOr<std::string> TenantLinkName(mandant::v1::NetworkMode mode, uint32_t segment_id);

// The inverse of TenantBridgeName and TenantLinkName: nullopt unless `name` is
// exactly a name they return (prefix, lowercase hex of the fixed width, id in
// range).
std::optional<ParsedLinkName> ParseTenantLinkName(absl::string_view name);

// True for any name TenantBridgeName or TenantLinkName can return.
bool IsMandantLinkName(absl::string_view name);
// True for any name TenantBridgeName can return.
bool IsMandantBridgeName(absl::string_view name);

// The MTU of a tenant network over an underlay (or trunk) of `underlay_mtu`:
// 50 bytes less in VXLAN mode, the same in VLAN mode. INVALID_ARGUMENT when
// the mode is unspecified or the result is outside 576-9000, naming the
// underlay MTU that would be needed.
absl::StatusOr<int> TenantNetworkMtu(mandant::v1::NetworkMode mode, int underlay_mtu);

// Checks the shape of one TenantNetworkSpec and returns every problem, with
// field paths `field_prefix` + "." + proto field name (just the field name
// when the prefix is empty):
//   tenant: "tenants/{tenant_id}" with a valid id;
//   mode: VXLAN or VLAN;
//   vni: 1-16777215 in VXLAN mode, 0 in VLAN mode; vlan_id: the reverse, 1-4094;
//   bridge_name, link_name: exactly TenantBridgeName / TenantLinkName of the
//     mode and segment;
//   mtu: 576-9000;
//   peer_underlay_addresses: VXLAN only; each an address CanonicalUnderlayAddress
//     (host_validation.h) accepts, in canonical text form ("10.0.0.2",
//     "fd00::2"), all of one family, none twice.
FieldViolations ValidateTenantNetworkSpec(const mandant::v1::TenantNetworkSpec& spec,
                                          absl::string_view field_prefix = "");

// An IPv4 or IPv6 address as inet_ntop prints it, with its family (AF_INET
// or AF_INET6).
struct IpAddress {
  int family = 0;
  std::string text;
};
// `text` parsed and printed back in canonical form; nullopt when it is not an
// address (also for embedded NUL bytes). "10.0.0.02" is not an address;
// "FD00::2" becomes "fd00::2".
std::optional<IpAddress> CanonicalIpAddress(absl::string_view text);

}  // namespace mandant::tenants

#endif  // MANDANT_TENANTS_NETWORK_NAMES_H_
