#ifndef MANDANT_CONTROLLER_EDGE_EGRESS_LOG_MAINTENANCE_H_
#define MANDANT_CONTROLLER_EDGE_EGRESS_LOG_MAINTENANCE_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "controller/store/database.h"
#include "controller/store/egress_log_store.h"

namespace mandant::controller {

// Keeps the egress log's daily partitions (docs/edge.md, "Egress log"):
// today's and the next kDaysAhead days' exist, and those wholly older than
// the retention are dropped, at once on construction and then every
// `interval`. Each round is one transaction that holds the partitions'
// advisory lock (controller/store/egress_log_store.h), so replicas running
// it at the same time take turns and the second finds nothing to do.
// Failures are logged and retried on the next round. Thread-safe; the
// destructor stops the thread.
class EgressLogMaintenance {
 public:
  static constexpr int kDaysAhead = 2;

  struct Options {
    store::Database* db = nullptr;
    // Events older than this go with their day's partition.
    absl::Duration retention = absl::Hours(24 * 30);
    absl::Duration interval = absl::Hours(1);
  };

  // Runs the first round on the caller's thread (its failure is logged),
  // then starts the thread.
  explicit EgressLogMaintenance(Options options);
  ~EgressLogMaintenance();

  EgressLogMaintenance(const EgressLogMaintenance&) = delete;
  EgressLogMaintenance& operator=(const EgressLogMaintenance&) = delete;

  // One round as of `now`, on the caller's thread.
  absl::Status RunOnce(absl::Time now);

 private:
  void Run();

  const Options options_;
  store::EgressLogStore store_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_EDGE_EGRESS_LOG_MAINTENANCE_H_
