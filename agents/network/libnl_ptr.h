#ifndef MANDANT_AGENTS_NETWORK_LIBNL_PTR_H_
#define MANDANT_AGENTS_NETWORK_LIBNL_PTR_H_

// One owning pointer type per libnl handle, the release function named once
// (as pki/openssl_ptr.h does for OpenSSL), and libnl's error codes as
// absl::Status. Used by the tenant networks (libnl_netlink.cc) and the edge
// namespaces (agents/edge/edge_namespace.cc).

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

namespace mandant::agent {

struct NlSockDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct NlCacheDeleter {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
struct RtnlLinkDeleter {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct RtnlNeighDeleter {
  void operator()(rtnl_neigh* n) const { rtnl_neigh_put(n); }
};
struct NlAddrDeleter {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct RtnlAddrDeleter {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct RtnlRouteDeleter {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};

using NlSockPtr = std::unique_ptr<nl_sock, NlSockDeleter>;
using NlCachePtr = std::unique_ptr<nl_cache, NlCacheDeleter>;
using RtnlLinkPtr = std::unique_ptr<rtnl_link, RtnlLinkDeleter>;
using RtnlNeighPtr = std::unique_ptr<rtnl_neigh, RtnlNeighDeleter>;
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrDeleter>;
using RtnlAddrPtr = std::unique_ptr<rtnl_addr, RtnlAddrDeleter>;
using RtnlRoutePtr = std::unique_ptr<rtnl_route, RtnlRouteDeleter>;

// A libnl return code (negative NLE_*) as a Status whose message is
// `context` + ": " + libnl's text: ALREADY_EXISTS, NOT_FOUND,
// INVALID_ARGUMENT, UNIMPLEMENTED, PERMISSION_DENIED (naming CAP_NET_ADMIN),
// UNAVAILABLE for transient errors, INTERNAL otherwise.
absl::Status NlError(int rc, absl::string_view context);

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_NETWORK_LIBNL_PTR_H_
