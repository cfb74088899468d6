#ifndef MANDANT_AGENTS_EDGE_HAPROXY_CONFIG_H_
#define MANDANT_AGENTS_EDGE_HAPROXY_CONFIG_H_

// The haproxy configuration of one tenant edge: per endpoint (cluster) a TCP
// frontend on the internal and the external address and a backend with the
// cluster's control planes, health-checked with a TLS GET /readyz.
//
// How the agent runs it (HAProxy 2.6):
//   check:  haproxy -c -q -f FILE         (parses, never binds)
//   start:  haproxy -W -D -p PIDFILE -f FILE   inside the edge namespace
//   reload: write FILE, check it, then SIGUSR2 to the pid in PIDFILE.
// The configuration holds "master-worker" (the same as -W) but not "daemon":
// -D stays on the agent's command line, so the same file also runs in the
// foreground in tests. With -D and -p the pidfile holds the master's pid,
// which survives reloads: on SIGUSR2 the master re-executes itself with the
// same arguments, starts new workers that take the listening sockets over
// from the old ones through the master's socket pair (no "expose-fd" stats
// socket needed), and lets the old workers finish their connections, for at
// most kHaproxyHardStopAfter. Established connections survive a reload.
//
// Every bind uses "transparent" (IP_TRANSPARENT; haproxy binds as root in the
// namespace), so the standby copy of a redundant edge can bind the endpoint
// addresses that keepalived has not given it (yet) and serves them as soon
// as they arrive. HAProxy 2.6 has no "freebind" bind keyword (haproxy -c
// refuses it); without TPROXY rules, which the edge never has, "transparent"
// does nothing more than let the bind succeed.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

// How long old workers may keep their connections after a reload.
inline constexpr char kHaproxyHardStopAfter[] = "1h";

struct HaproxyConfigOptions {
  // The admin-level UNIX stats socket the agent reads "show stat" from (the
  // health of each backend's servers). Required; see CheckConfigPath.
  std::string stats_socket;
};

// The names of an endpoint's frontend and backend in the configuration and
// in "show stat": "fe-" and "be-" + the cluster id of `cluster`
// ("tenants/{tenant}/clusters/{cluster}"). INVALID_ARGUMENT for any other
// text.
absl::StatusOr<std::string> HaproxyFrontendName(absl::string_view cluster);
absl::StatusOr<std::string> HaproxyBackendName(absl::string_view cluster);

// The configuration text. Requires tenants::ValidateEdgeSpec(spec) to pass,
// and checks it again: INVALID_ARGUMENT (nothing rendered) for an invalid
// spec or a bad option. Only validated values reach the text: addresses,
// ports, the tenant name, cluster ids and backend names (DNS-1123 labels);
// no other text of the spec. Servers of a draining backend get weight 0.
// An endpoint without backends gets a backend without servers (connections
// are closed at once). Deterministic: the same input gives the same bytes.
absl::StatusOr<std::string> RenderHaproxyConfig(const mandant::v1::EdgeSpec& spec,
                                                const HaproxyConfigOptions& options);

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_EDGE_HAPROXY_CONFIG_H_
