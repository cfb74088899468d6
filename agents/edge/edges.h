#ifndef MANDANT_AGENTS_EDGE_EDGES_H_
#define MANDANT_AGENTS_EDGE_EDGES_H_

// The tenant edges of one host (docs/edge.md, "On the host"): makes the
// kernel and the edge programs match the EdgeSpecs of the host's HostSpec,
// level-triggered and idempotent (the kubelet model of DESIGN.md), and
// reports what it observed as EdgeStatus.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "agents/edge/edge_namespace.h"
#include "agents/edge/edge_processes.h"
#include "agents/edge/egress_log.h"
#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

// The keepalived notify script Edges installs in its state directory.
inline constexpr char kKeepalivedNotifyScriptName[] = "keepalived-notify.sh";

// Files of one edge under the state directory STATE_DIR/<netns>/ (shared
// with SupervisedEdgeProcesses, which keeps the programs' configurations,
// pidfiles and logs there and their own files under run/).
struct EdgeFiles {
  std::string dir;             // STATE_DIR/<netns>
  std::string run;             // <dir>/run, "{run}" of EdgeCommand
  std::string tenant;          // <dir>/tenant: the edge's tenant, for its status after the spec
  std::string haproxy_socket;  // <run>/haproxy.sock: the admin stats socket
  std::string dnsmasq_leases;  // <run>/dnsmasq.leases
  std::string dnsmasq_pid;     // <run>/dnsmasq.pid
  std::string vrrp_state;      // <run>/vrrp.state, written by the notify script
};
EdgeFiles EdgeFilesOf(const std::string& state_dir, const std::string& netns);

class Edges {
 public:
  struct Options {
    // Not owned; must outlive the Edges and not be used by anyone else.
    EdgeNetworking* networking = nullptr;
    EdgeProcesses* processes = nullptr;
    EgressWatcher* egress = nullptr;
    // Absolute, the same as SupervisedEdgeProcesses::Options::state_dir, and
    // fit for a configuration file (CheckConfigPath); created 0700 when
    // missing. At most 64 bytes, so that <state_dir>/<netns>/run/haproxy.sock
    // fits a UNIX socket path (108 bytes).
    std::string state_dir;
    // How each program is run and checked.
    std::function<EdgeCommand(EdgeProgram)> command = DefaultEdgeCommand;
    // "show stat" from an edge's haproxy stats socket; empty means
    // QueryHaproxyStat (haproxy_stats.h).
    std::function<absl::StatusOr<std::string>(const std::string& socket)> haproxy_stat;
  };

  // What one pass did and saw.
  struct Result {
    // The desired edges and the Mandant edges still on the host that are not
    // desired (removed in this pass, or the reason why not in `error`),
    // ordered by namespace.
    std::vector<v1::EdgeStatus> edges;
    // Failures of no single edge: listing namespaces, state directories.
    std::vector<std::string> host_errors;
  };

  // INVALID_ARGUMENT for a missing pointer or an unusable state_dir;
  // INTERNAL when the state directory or the notify script cannot be
  // written.
  static absl::StatusOr<std::unique_ptr<Edges>> Create(Options options);

  Edges(const Edges&) = delete;
  Edges& operator=(const Edges&) = delete;

  // One pass over the host's edges; safe to run again at any time, and
  // after a crash at any point. Call it after the tenant networks of the
  // same HostSpec were reconciled: an edge joins its tenant's bridge.
  //
  // Per desired edge, in order: refuse it (EdgeStatus.error, nothing of it
  // applied or removed) when tenants::ValidateEdgeSpec finds a problem, its
  // namespace is listed twice, or its tenant_bridge is not a network of
  // the same tenant in `bridge_tenants` (bridge -> "tenants/{tenant}", the
  // HostSpec's networks). An edge found with another tenant's name in its
  // state directory (its segment id was given to a new tenant) is removed
  // whole first. Then: the namespace with IPv4 forwarding; the
  // nftables ruleset (before any link joins it, so no packet passes
  // unfiltered); both veth pairs; for a single edge keepalived stopped and
  // every address assigned directly, for a redundant one only the instance
  // address, the virtual ones left to keepalived (unmanaged); the onlink
  // default route; the egress log watched; dnsmasq, haproxy and (redundant
  // only) keepalived with their rendered configurations, each checked by
  // its program before it replaces the running one. A step that fails ends
  // the edge's pass when later steps depend on it (namespace, ruleset,
  // links); the programs are tried each on its own.
  //
  // Edges on the host that are not desired, i.e. namespaces, state
  // directories or watched egress logs whose name tenants::ParseEdgeName
  // reads as an edge namespace, are removed completely: egress log
  // unwatched, programs stopped, state directory and namespace (with its
  // veths) deleted. Nothing else is looked at.
  //
  // Programs that run with the wanted configuration are left alone, so a
  // new agent adopts the edges an earlier one started without interrupting
  // them.
  //
  // Thread-safe; concurrent calls run one after the other.
  Result Reconcile(const std::vector<v1::EdgeSpec>& desired,
                   const absl::flat_hash_map<std::string, std::string>& bridge_tenants)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit Edges(Options options);

  // Applies one valid spec; the reason it does not match yet, or OK.
  absl::Status Apply(const v1::EdgeSpec& spec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes an undesired edge; OK when nothing of it is left.
  absl::Status Remove(const std::string& netns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The observed state of a desired edge.
  v1::EdgeStatus Observe(const v1::EdgeSpec& spec, bool applied) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::VrrpState ReadVrrpState(const std::string& netns) const;

  const Options options_;
  const std::string notify_script_;
  absl::Mutex mu_;
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_EDGE_EDGES_H_
