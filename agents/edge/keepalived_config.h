#ifndef MANDANT_AGENTS_EDGE_KEEPALIVED_CONFIG_H_
#define MANDANT_AGENTS_EDGE_KEEPALIVED_CONFIG_H_

// The keepalived configuration of one copy of a redundant tenant edge
// (EdgeSpec.vrrp set): one VRRP instance on "inside", unicast between the
// two copies' instance addresses, that moves every shared address together:
// the gateway and the endpoints' internal addresses on "inside" (with
// node_cidr's prefix length), the egress address and the endpoints' external
// addresses on "outside" (with external_cidr's). "outside" is tracked, so a
// copy whose external link is down goes to FAULT and gives the addresses up.
// Both copies start as BACKUP and preempt (no "nopreempt"): the copy with
// the higher priority is master whenever it is healthy.
//
// VRRP state reporting: keepalived runs `notify_script state_file` on every
// transition with four more arguments (INSTANCE, the instance name, the new
// state, the priority). The script (KeepalivedNotifyScript) writes the state,
// one line "MASTER", "BACKUP", "FAULT" or "STOP", to state_file.tmp and
// renames it over state_file, so a reader sees the old or the new state,
// never a partial one. The agent maps MASTER/BACKUP/FAULT to VrrpState and a
// missing file (keepalived starting) or STOP to VRRP_STATE_FAULT.
//
// How the agent runs it (keepalived 2.2.7), inside the edge namespace:
//   check:  keepalived --config-test --use-file=FILE
//   start:  keepalived --vrrp --use-file=FILE --pid=PID --vrrp_pid=VRRP_PID
//           (per-edge pid files: several edges share a host's /run)
//   reload: SIGHUP to the pid in PID.

#include <string>

#include "absl/status/statusor.h"

#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

// The VRRP instance's name, as the notify script receives it.
inline constexpr char kVrrpInstanceName[] = "edge";

struct KeepalivedConfigOptions {
  // The executable keepalived runs on every state change, as root: the
  // agent writes KeepalivedNotifyScript() there, owned by root, mode 0755,
  // in directories only root can write (keepalived's script security
  // refuses anything else). Required; see CheckConfigPath.
  std::string notify_script;
  // Where that script writes the state. Required; see CheckConfigPath.
  std::string state_file;
};

// The configuration text. Requires tenants::ValidateEdgeSpec(spec) to pass,
// and checks it again: INVALID_ARGUMENT (nothing rendered) for an invalid
// spec or a bad option; FAILED_PRECONDITION when spec.vrrp is unset (a
// single edge holds its addresses itself and runs no keepalived). Only
// validated values reach the text: addresses, prefix lengths, VRRP numbers,
// the namespace and tenant names. Deterministic.
absl::StatusOr<std::string> RenderKeepalivedConfig(const mandant::v1::EdgeSpec& spec,
                                                   const KeepalivedConfigOptions& options);

// The notify script's text (POSIX sh), the same for every edge.
std::string KeepalivedNotifyScript();

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_EDGE_KEEPALIVED_CONFIG_H_
