#ifndef MANDANT_AGENTS_EDGE_EDGE_PROCESSES_H_
#define MANDANT_AGENTS_EDGE_EDGE_PROCESSES_H_

// The programs of a tenant edge (docs/edge.md, "On the host", step 4):
// haproxy, dnsmasq and keepalived, each started inside the edge's network
// namespace, supervised through a pidfile, given a new configuration
// without dropping established connections where the program allows it, and
// left running when the agent exits, so that an agent restart never
// interrupts a tenant's traffic.
//
// EdgeProcesses is the interface the edge reconciler uses (and fakes in
// tests); SupervisedEdgeProcesses is the real one.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

enum class EdgeProgram { kHaproxy, kDnsmasq, kKeepalived };

// "haproxy", "dnsmasq", "keepalived" (EdgeProcess.name, file names).
absl::string_view EdgeProgramName(EdgeProgram program);

// How a program is run and checked. In every argument "{config}" is
// replaced by the path of the configuration file and "{run}" by a directory
// of the edge for the program's own pid files and sockets.
struct EdgeCommand {
  // argv[0] is the absolute path of the program; a running process is this
  // program when /proc/PID/exe is it. Must run in the foreground (the pid
  // started is the pid supervised) and must contain "{config}" (how Stop
  // recognises the edge's processes without knowing their command).
  std::vector<std::string> argv;
  // Checks a configuration and exits non-zero when it is bad; "{config}" is
  // the new configuration, not yet in place. Empty: no check.
  std::vector<std::string> check_argv;
};

// The command lines of Mandant's edges: each program in the foreground
// (haproxy as master-worker, -W), its own pid files under {run}, checked by
// `haproxy -c`, `dnsmasq --test` and `keepalived --config-test`.
EdgeCommand DefaultEdgeCommand(EdgeProgram program);

// What Ensure did.
enum class EnsureOutcome {
  kUnchanged,  // running with this configuration already
  kAdopted,    // found running (started by an earlier agent), unchanged
  kStarted,    // was not running (never, or dead: restarted)
  kReloaded,   // running; told to re-read its new configuration (same pid)
  kRestarted,  // running; stopped and started (dnsmasq, or a changed argv)
};

class EdgeProcesses {
 public:
  virtual ~EdgeProcesses() = default;

  // Makes `program` run in network namespace `netns` (under /run/netns) with
  // configuration text `config` and `command`:
  //  - a configuration that differs from the one in place is first checked
  //    (command.check_argv, run inside the namespace); when the check
  //    fails, INVALID_ARGUMENT with the first lines of the checker's output,
  //    and the old configuration and process stay as they are;
  //  - a process is adopted when the pidfile names a live process of
  //    argv[0] in that namespace whose command line starts with the
  //    (substituted) argv; otherwise, or when it died, one is started. A
  //    process the pidfile names that runs argv[0] with this edge's
  //    configuration file in another network namespace (the namespace was
  //    deleted and made again) is stopped first (kRestarted);
  //  - a new configuration reaches a running process by reload where the
  //    program supports one keeping its connections: haproxy SIGUSR2 to the
  //    master (the master keeps its pid, old workers finish their
  //    connections), keepalived SIGHUP. dnsmasq is restarted (SIGHUP
  //    re-reads only its hosts and resolv files, not its configuration;
  //    DHCP leases are static, so nothing is lost but a few hundred
  //    milliseconds of DNS);
  //  - a started process runs in a session of its own, with no parent-death
  //    signal, stdin from /dev/null and stdout/stderr appended to
  //    <program>.log in the edge's state directory; it outlives the agent.
  // INVALID_ARGUMENT for a bad namespace name or command; NOT_FOUND when
  // the namespace does not exist; UNAVAILABLE when the program exits right
  // after starting (with the end of its log); INTERNAL for file and process
  // errors.
  virtual absl::StatusOr<EnsureOutcome> Ensure(const std::string& netns, EdgeProgram program,
                                               const std::string& config,
                                               const EdgeCommand& command) = 0;

  // Ends `program` of the edge (SIGTERM, SIGKILL after the stop timeout)
  // and removes its files; OK when it does not run.
  virtual absl::Status StopProgram(const std::string& netns, EdgeProgram program) = 0;

  // Ends every program of the edge as StopProgram does and removes the
  // edge's state directory. OK when there is nothing.
  virtual absl::Status Stop(const std::string& netns) = 0;

  // The edges that have a state directory, sorted (to stop those no longer
  // wanted after an agent restart).
  virtual absl::StatusOr<std::vector<std::string>> ListEdges() = 0;

  // The edge's programs that have a pidfile, ordered by name, each with its
  // pid and whether that process runs (EdgeStatus.processes).
  virtual std::vector<v1::EdgeProcess> List(const std::string& netns) = 0;
};

// EdgeProcesses by fork and exec. Each program is started by a double fork
// (the agent never has an edge process as its child, so nothing is left to
// reap and nothing dies with the agent): the intermediate child calls
// setsid and forks, the grandchild joins the namespace (setns) and execs.
// State lives in STATE_DIR/<netns>/: <program>.conf, <program>.pid (the
// pid the agent started; the programs' own pid files are under run/),
// <program>.log.
//
// Thread-safe: calls are serialised on an internal mutex (a dnsmasq restart
// or a stop holds it for up to the stop timeout).
class SupervisedEdgeProcesses {
 public:
  struct Options {
    // Absolute, e.g. "/var/lib/mandant-agent/edges"; created when missing.
    std::string state_dir;
    // From SIGTERM to SIGKILL.
    absl::Duration stop_timeout = absl::Seconds(5);
    // A started program that exits within this time is reported as
    // UNAVAILABLE rather than left for the next Ensure to restart.
    absl::Duration start_grace = absl::Milliseconds(300);
  };

  // INVALID_ARGUMENT for a relative or empty state_dir; INTERNAL when it
  // cannot be created.
  static absl::StatusOr<std::unique_ptr<EdgeProcesses>> Create(Options options);
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_EDGE_EDGE_PROCESSES_H_
