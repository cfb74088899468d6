#ifndef MANDANT_AGENTS_NETWORK_LIBNL_NETLINK_H_
#define MANDANT_AGENTS_NETWORK_LIBNL_NETLINK_H_

#include <memory>

#include "absl/status/statusor.h"

#include "agents/network/netlink.h"

namespace mandant::agent {

// Netlink over libnl-route-3, one NETLINK_ROUTE socket per object. Acts on the
// network namespace of the thread that calls Create(). Not thread-safe (the
// socket's sequence numbers are shared); use one object per thread or lock.
class LibnlNetlink {
 public:
  // Opens and connects the socket. INTERNAL (with libnl's text) when that
  // fails; PERMISSION_DENIED is reported by the first call that needs
  // CAP_NET_ADMIN, not here.
  static absl::StatusOr<std::unique_ptr<Netlink>> Create();
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_NETWORK_LIBNL_NETLINK_H_
