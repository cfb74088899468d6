#ifndef MANDANT_AGENTS_EDGE_HAPROXY_STATS_H_
#define MANDANT_AGENTS_EDGE_HAPROXY_STATS_H_

// What an edge's haproxy says about its backends: "show stat" on the stats
// socket that RenderHaproxyConfig configures (HaproxyConfigOptions), read
// for EdgeStatus.endpoints.

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mandant::agent {

// The servers of one haproxy backend.
struct HaproxyBackendHealth {
  int servers = 0;
  // Servers whose check passes: status "UP" (also "UP 1/3", going down but
  // not yet down) or "DRAIN" (weight 0, a draining backend, still healthy).
  int healthy = 0;
};

// Parses the CSV of "show stat" (a header line "# pxname,svname,...", one
// line per frontend, server and backend) into backend name -> its servers.
// Lines of the FRONTEND and BACKEND pseudo-servers are not servers. Lines it
// cannot read are skipped. INVALID_ARGUMENT when there is no header naming
// pxname, svname and status.
absl::StatusOr<std::map<std::string, HaproxyBackendHealth>> ParseHaproxyStat(absl::string_view csv);

// Sends "show stat" to the UNIX stream socket at `socket_path` and returns
// the whole answer (haproxy closes the connection after it). UNAVAILABLE
// when nothing listens there (haproxy not running yet), DEADLINE_EXCEEDED
// after `timeout`, INTERNAL for other socket errors.
absl::StatusOr<std::string> QueryHaproxyStat(const std::string& socket_path,
                                             absl::Duration timeout = absl::Seconds(2));

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_EDGE_HAPROXY_STATS_H_
