#ifndef MANDANT_AGENTS_NETWORK_TENANT_NETWORKS_H_
#define MANDANT_AGENTS_NETWORK_TENANT_NETWORKS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "agents/network/firewall.h"
#include "agents/network/netlink.h"
#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

// Ownership marks the agent puts on every bridge and segment link it creates.
// The alias carries the tenant ("mandant:tenants/acme") and is what the agent
// reads back; the group is set atomically at creation, so a link whose alias
// was not yet written when the agent died is still recognised as its own.
inline constexpr char kMandantAliasPrefix[] = "mandant:";
inline constexpr uint32_t kMandantLinkGroup = 0x4d4e;  // "MN"

// The underlay link holding an address.
struct Underlay {
  std::string device;
  int ifindex = 0;
  int mtu = 0;
};

// The link that carries `address` (canonical or not, IPv4 or IPv6), e.g. to
// fill TenantNetworks::Options and Hello.underlay_mtu. NOT_FOUND naming the
// address when no link has it; INVALID_ARGUMENT when it is not an address;
// netlink errors as they come.
absl::StatusOr<Underlay> FindUnderlay(Netlink& netlink, const std::string& address);

// Makes the host's tenant networks (bridge + VXLAN device or VLAN
// sub-interface, flood lists, firewall) match the desired list. Level
// triggered and idempotent: a second Reconcile with the same list and an
// unchanged kernel makes no change at all (only list calls). Retrying is the
// caller's job: call Reconcile again.
//
// What it touches: only links with a Mandant name (tenants::IsMandantLinkName)
// that carry the Mandant mark (alias "mandant:..." or, while that is missing,
// group kMandantLinkGroup). A link with a Mandant name but no mark is
// foreign: it is reported in its network's error and never changed.
// Ports of a bridge that are not Mandant links (VM taps) are left alone.
//
// Per desired network, in order: refuse it if the spec is invalid
// (tenants::ValidateTenantNetworkSpec, plus: a bridge name listed twice; peers
// of another address family than the underlay, or the underlay's own
// address); recreate the bridge or link if the kernel's differs in what
// cannot be changed in place (tenant, kind, VNI, VLAN, local address,
// underlay, port, learning); create what is missing; repair MTU, master,
// alias and up; set the flood list to exactly the peers. Owned networks that
// are not desired are deleted (segment link first, then bridge). An error in
// one network goes into its status and does not stop the others.
//
// Firewall: the rules cover every valid desired bridge plus every owned
// bridge still on the host. They are replaced before any link is created (so
// no tenant bridge ever exists unprotected) and again after orphans are
// deleted, each time only when the installed set differs. A firewall failure
// goes to host_errors.
//
// Thread-safe (calls are serialised); the Netlink and Firewall must not be
// used by anyone else meanwhile.
class TenantNetworks {
 public:
  struct Options {
    // Not owned; must outlive this object.
    Netlink* netlink = nullptr;
    Firewall* firewall = nullptr;
    // VXLAN: the local source address (canonical text) and its device.
    std::string underlay_address;
    std::string underlay_device;
    // VLAN: the trunk device the sub-interfaces sit on; empty means
    // underlay_device.
    std::string vlan_trunk_device;
  };

  struct Result {
    // The desired networks and the owned ones still on the host that are
    // not desired (being removed), ordered by bridge_name. Observed values
    // come from the kernel after the pass; `error` is empty when the network
    // matches its spec (or, for an undesired one, was removed).
    std::vector<mandant::v1::TenantNetworkStatus> networks;
    // Failures of no single network: listing links, the firewall.
    std::vector<std::string> host_errors;
  };

  explicit TenantNetworks(Options options);

  TenantNetworks(const TenantNetworks&) = delete;
  TenantNetworks& operator=(const TenantNetworks&) = delete;

  Result Reconcile(const std::vector<mandant::v1::TenantNetworkSpec>& desired)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const Options options_;
  absl::Mutex mu_;
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_NETWORK_TENANT_NETWORKS_H_
