#ifndef MANDANT_AGENTS_NETWORK_NETLINK_H_
#define MANDANT_AGENTS_NETWORK_NETLINK_H_

// The kernel's routing netlink calls the agent needs for tenant networks, as a
// thin interface (one method per rtnetlink request) so that the network logic
// is tested against an in-memory fake. The real one is LibnlNetlink
// (libnl_netlink.h).
//
// Links are addressed by name, as `ip link` does. Every call acts on the
// network namespace of the process (of the thread that created the object).
// Errors carry the kernel's (libnl's) text and the object's name:
//   NOT_FOUND          the named link does not exist;
//   ALREADY_EXISTS     a link of that name exists (Add*);
//   INVALID_ARGUMENT   the kernel refused the parameters;
//   UNIMPLEMENTED      the kernel lacks the link type (e.g. no 802.1Q support);
//   PERMISSION_DENIED  no CAP_NET_ADMIN;
//   INTERNAL / UNAVAILABLE other netlink failures.
// Implementations need not be thread-safe; callers serialise.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mandant::agent {

// The UDP port of VXLAN (IANA); the kernel's default is the pre-IANA 8472.
inline constexpr uint16_t kVxlanPort = 4789;

enum class LinkKind { kOther, kBridge, kVxlan, kVlan };

// One link as RTM_GETLINK reports it.
struct LinkInfo {
  std::string name;
  int ifindex = 0;
  LinkKind kind = LinkKind::kOther;
  // IFLA_INFO_KIND, e.g. "veth"; empty for links without one (loopback).
  std::string kind_name;
  // IFLA_MASTER; 0 when not enslaved.
  int master_ifindex = 0;
  int mtu = 0;
  // Administratively up (IFF_UP).
  bool up = false;
  // IFLA_IFALIAS; empty when unset.
  std::string alias;
  // IFLA_GROUP.
  uint32_t group = 0;

  // kVxlan only.
  uint32_t vxlan_id = 0;
  // Local (source) address, canonical text; empty when unset.
  std::string vxlan_local;
  // IFLA_VXLAN_LINK: the underlay device; 0 when unset.
  int vxlan_link_ifindex = 0;
  uint16_t vxlan_port = 0;
  bool vxlan_learning = false;

  // kVlan only.
  uint16_t vlan_id = 0;
  // IFLA_LINK: the parent (trunk) device.
  int vlan_parent_ifindex = 0;
};

// One address as RTM_GETADDR reports it.
struct AddressInfo {
  int ifindex = 0;
  // AF_INET or AF_INET6.
  int family = 0;
  // Canonical text without prefix, e.g. "10.99.0.1".
  std::string address;
  int prefix_length = 0;
};

// Parameters common to the links the agent creates. A new link is down.
struct NewLink {
  std::string name;
  int mtu = 0;  // 0: the kernel's default
  // Set at creation (IFLA_GROUP), unlike the alias, which the kernel only
  // accepts on an existing link.
  uint32_t group = 0;
  // Enslaved at creation when not empty.
  std::string master;
};

struct NewVxlan {
  NewLink link;
  uint32_t vni = 0;
  // Source address (canonical text) and the underlay device it is on.
  std::string local_address;
  std::string underlay_device;
  uint16_t port = kVxlanPort;
  // Off: the flood list is static and MACs are learnt by the bridge.
  bool learning = false;
};

struct NewVlan {
  NewLink link;
  uint16_t vlan_id = 0;
  std::string parent_device;
};

class Netlink {
 public:
  virtual ~Netlink() = default;

  // RTM_GETLINK dump; in ifindex order.
  virtual absl::StatusOr<std::vector<LinkInfo>> ListLinks() = 0;
  // RTM_GETADDR dump of IPv4 and IPv6 addresses.
  virtual absl::StatusOr<std::vector<AddressInfo>> ListAddresses() = 0;

  // RTM_NEWLINK with NLM_F_CREATE | NLM_F_EXCL.
  virtual absl::Status AddBridge(const NewLink& bridge) = 0;
  virtual absl::Status AddVxlan(const NewVxlan& vxlan) = 0;
  virtual absl::Status AddVlan(const NewVlan& vlan) = 0;

  // RTM_NEWLINK changes of one attribute of an existing link.
  virtual absl::Status SetMtu(const std::string& name, int mtu) = 0;
  virtual absl::Status SetUp(const std::string& name, bool up) = 0;
  // Enslaves `name` to the bridge `master`.
  virtual absl::Status SetMaster(const std::string& name, const std::string& master) = 0;
  virtual absl::Status SetAlias(const std::string& name, const std::string& alias) = 0;

  // RTM_DELLINK. Deleting a bridge frees its ports; they stay.
  virtual absl::Status DeleteLink(const std::string& name) = 0;

  // VXLAN flood entries: the AF_BRIDGE FDB entries with MAC 00:00:00:00:00:00
  // on the VXLAN device `vxlan` (`bridge fdb ... self permanent`). List
  // returns their dst addresses (canonical text) sorted; Add appends one
  // (NLM_F_APPEND, several all-zero entries coexist); Delete removes exactly
  // the one with that dst.
  virtual absl::StatusOr<std::vector<std::string>> ListFloodEntries(const std::string& vxlan) = 0;
  virtual absl::Status AddFloodEntry(const std::string& vxlan, const std::string& dst) = 0;
  virtual absl::Status DeleteFloodEntry(const std::string& vxlan, const std::string& dst) = 0;
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_NETWORK_NETLINK_H_
