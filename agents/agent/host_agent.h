#ifndef MANDANT_AGENTS_AGENT_HOST_AGENT_H_
#define MANDANT_AGENTS_AGENT_HOST_AGENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "agents/edge/edges.h"
#include "agents/network/tenant_networks.h"
#include "agents/vm/guest_status.h"
#include "agents/vm/vms.h"
#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

// The agent's reconcile loop: makes the host match the latest HostSpec
// (tenant networks first, then tenant edges, then VMs), reports what it
// observed, and runs
// again when the spec changes, after a failure (with exponential backoff)
// and periodically to repair drift. Until the first spec arrives it touches
// nothing: an agent restarted while mandantd is unreachable leaves every VM
// as it is. Thread-safe.
class HostAgent {
 public:
  struct Options {
    // Not owned; must outlive the HostAgent.
    TenantNetworks* networks = nullptr;
    Vms* vms = nullptr;
    // May be null (tests without edges); a spec with edges is then a host
    // error.
    Edges* edges = nullptr;
    // Receives every HostStatus; called from the loop's thread.
    std::function<void(v1::HostStatus)> report;
    absl::Duration resync_interval = absl::Seconds(30);
    absl::Duration initial_retry = absl::Seconds(1);
    absl::Duration max_retry = absl::Minutes(1);
  };

  // Starts the loop and the guest status relay. INTERNAL when the relay
  // cannot start.
  static absl::StatusOr<std::unique_ptr<HostAgent>> Start(Options options);
  ~HostAgent();

  HostAgent(const HostAgent&) = delete;
  HostAgent& operator=(const HostAgent&) = delete;

  // Hands over a new desired state; older versions than the current one are
  // ignored.
  void SetSpec(const v1::HostSpec& spec);

  // The last status reported; nullopt before the first reconcile.
  std::optional<v1::HostStatus> last_status() const;

 private:
  explicit HostAgent(Options options);
  void Run();
  // One reconcile pass; true when everything matched.
  bool Reconcile(const v1::HostSpec& spec);
  v1::HostStatus BuildStatus() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void GuestChanged();

  const Options options_;
  std::unique_ptr<GuestStatusRelay> relay_;
  mutable absl::Mutex mu_;
  std::optional<v1::HostSpec> spec_ ABSL_GUARDED_BY(mu_);
  bool spec_changed_ ABSL_GUARDED_BY(mu_) = false;
  bool guest_changed_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // The last pass's results, from which statuses are built.
  int64_t applied_version_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<v1::TenantNetworkStatus> networks_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::VmStatus> vms_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::EdgeStatus> edges_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> host_errors_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::HostStatus> last_status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_AGENT_HOST_AGENT_H_
