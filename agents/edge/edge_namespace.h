#ifndef MANDANT_AGENTS_EDGE_EDGE_NAMESPACE_H_
#define MANDANT_AGENTS_EDGE_EDGE_NAMESPACE_H_

// The kernel side of a tenant edge (docs/edge.md, "On the host"): its named
// network namespace, the two veth pairs that join it to the tenant bridge and
// the external bridge, the addresses and the default route inside it, IPv4
// forwarding and the nftables ruleset. EdgeNetworking is the interface the
// edge reconciler uses (and fakes in tests); KernelEdgeNetworking is the real
// one.
//
// Named namespaces are what `ip netns add` makes: a bind mount of a network
// namespace on /run/netns/NAME, so `ip netns exec`, `ip -n` and the edge's
// processes find it, and it lives on when no process is in it.
//
// Every method is idempotent: when the kernel already matches, it changes
// nothing. Errors name the namespace and the object:
//   INVALID_ARGUMENT   a name or address that cannot be right (not a Mandant
//                      edge namespace, not an address, ...); nothing changed;
//   NOT_FOUND          the namespace, a link or a bridge does not exist;
//   PERMISSION_DENIED  no CAP_SYS_ADMIN / CAP_NET_ADMIN;
//   INTERNAL           other kernel, libnl or libnftables failures, with
//                      their text.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mandant::agent {

// Every edge namespace's name starts with this (docs/edge.md, "Names"); the
// agent looks at no other namespace.
inline constexpr char kEdgeNamespacePrefix[] = "mandant-e";
// The namespace ends of the two veth pairs.
inline constexpr char kEdgeInsideLink[] = "inside";
inline constexpr char kEdgeOutsideLink[] = "outside";
// Where named network namespaces are mounted (iproute2's NETNS_RUN_DIR).
inline constexpr char kNetnsRunDir[] = "/run/netns";

// True for "mandant-e" followed by 1-40 characters of [a-z0-9-]: a name that
// is safe as a file name under /run/netns and in a command line.
bool IsEdgeNamespaceName(absl::string_view name);

// Runs `fn` on a short-lived thread that has joined the network namespace
// mounted at /run/netns/`netns` (setns(CLONE_NEWNET) on that thread only; no
// other thread of the process ever changes namespace). Sockets and
// nft_ctx objects created in `fn` stay bound to that namespace after it
// returns. Returns fn's status; NOT_FOUND when the namespace does not exist,
// INTERNAL when setns fails.
absl::Status RunInNetworkNamespace(const std::string& netns, absl::FunctionRef<absl::Status()> fn);

// One veth pair of an edge.
struct EdgeVeth {
  // The end in the caller's (the host's) namespace, e.g. "mei-x0003e9";
  // at most 15 bytes.
  std::string host_link;
  // The end inside the edge namespace: kEdgeInsideLink or kEdgeOutsideLink.
  std::string namespace_link;
  // The host bridge the host end is a port of, e.g. "mb-x0003e9".
  std::string bridge;
  // MTU of both ends; 0 leaves the kernel's choice (the bridge's is not
  // copied).
  int mtu = 0;
};

enum class RulesetFormat { kText, kJson };

class EdgeNetworking {
 public:
  virtual ~EdgeNetworking() = default;

  // The names of the edge namespaces (kEdgeNamespacePrefix) under
  // /run/netns, sorted. Others are never listed.
  virtual absl::StatusOr<std::vector<std::string>> ListNamespaces() = 0;

  // Creates the named namespace unless it exists, with its loopback up.
  virtual absl::Status EnsureNamespace(const std::string& netns) = 0;

  // Kills every process whose network namespace it is (SIGKILL; the edge's
  // programs should have been stopped gracefully before), then removes the
  // mount and the file, which frees the namespace and its links (the veth
  // pairs vanish with their namespace end). The namespace itself lives on
  // while a socket opened in it stays open (e.g. an egress log reader):
  // close those first. OK when it does not exist.
  virtual absl::Status DeleteNamespace(const std::string& netns) = 0;

  // Makes the veth pair exist (a host end of another kind or paired with
  // something else is replaced), with the host end a port of `veth.bridge`,
  // both ends at `veth.mtu` and up. NOT_FOUND when the bridge or the
  // namespace is missing.
  virtual absl::Status EnsureVeth(const std::string& netns, const EdgeVeth& veth) = 0;

  // Makes the addresses of `link` inside the namespace exactly `wanted`
  // ("10.64.3.2/24", IPv4 or IPv6), except for the addresses (without
  // prefix) in `unmanaged`, which are neither added nor removed (the virtual
  // addresses keepalived moves), and IPv6 link-local addresses, which the
  // kernel owns. Everything else on the link is Mandant's and removed.
  virtual absl::Status SetAddresses(const std::string& netns, const std::string& link,
                                    const std::vector<std::string>& wanted,
                                    const std::vector<std::string>& unmanaged) = 0;

  // Makes the IPv4 default route of the namespace's main table "via
  // `gateway` dev `link` onlink" (onlink: it exists even while no address of
  // the link covers the gateway, as on a VRRP standby).
  virtual absl::Status SetDefaultRoute(const std::string& netns, const std::string& link,
                                       const std::string& gateway) = 0;

  // net.ipv4.ip_forward=1 and net.ipv4.conf.{all,default}.promote_secondaries=1
  // inside the namespace (removing a network's primary address then keeps
  // the others of that network, as keepalived moving addresses needs).
  virtual absl::Status EnableForwarding(const std::string& netns) = 0;

  // Runs `ruleset` (nft commands, or nft's JSON) inside the namespace as one
  // transaction. The ruleset must be self-contained and replace what it
  // owns (e.g. "add table inet t; delete table inet t; table inet t {...}").
  // It is not run again while it is the one this object loaded last and the
  // namespace's ruleset still is what that left (so counters are kept);
  // after an agent restart it is loaded once more. INVALID_ARGUMENT with
  // nft's error text when nft refuses it; the old ruleset then stays.
  virtual absl::Status LoadRuleset(const std::string& netns, const std::string& ruleset,
                                   RulesetFormat format) = 0;

  // The named counters of nft table `table` ("inet mandant_edge") inside the
  // namespace: name -> packets counted since the table was (re)loaded.
  // NOT_FOUND when the namespace or the table does not exist.
  virtual absl::StatusOr<std::map<std::string, uint64_t>> ReadCounters(
      const std::string& netns, const std::string& table) = 0;
};

// EdgeNetworking over the kernel: the namespace is created and mounted in
// C++ (unshare on a helper thread, bind mount of that thread's namespace, as
// `ip netns add` does), links, addresses and routes over libnl-route-3
// sockets opened inside the namespace (or in the caller's for the host
// ends), the ruleset through libnftables on a thread inside the namespace.
// The host ends of veth pairs are created in the network namespace of the
// thread that calls Create().
//
// Thread-safe: calls are serialised on an internal mutex.
class KernelEdgeNetworking {
 public:
  // INTERNAL when no netlink socket can be opened.
  static absl::StatusOr<std::unique_ptr<EdgeNetworking>> Create();
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_EDGE_EDGE_NAMESPACE_H_
