#ifndef MANDANT_CONTROLLER_EDGE_EDGE_RECONCILER_H_
#define MANDANT_CONTROLLER_EDGE_EDGE_RECONCILER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

#include "controller/edge/edge_settings.h"
#include "controller/store/database.h"
#include "controller/store/edge_store.h"
#include "controller/store/notifications.h"

namespace mandant::controller {

// Keeps every tenant's edge placement (edge_placement.h) level-triggered:
// one pass over every tenant with machines or an edge at start and every
// settings.placement_interval, and a pass over one tenant whenever its
// machines change (PostgreSQL NOTIFY "mandant_tenant_edge" with the tenant's
// row id). Each tenant is placed in a transaction of its own with its row
// locked, so replicas running this at the same time place each edge once.
// Failures are logged and retried on the next pass. Thread-safe; the
// destructor stops the thread.
class EdgeReconciler {
 public:
  struct Options {
    store::Database* db = nullptr;
    EdgeSettings settings;
    // For the LISTEN connection; empty disables it (periodic passes only).
    std::string conninfo;
    std::string password;
  };

  explicit EdgeReconciler(Options options);
  ~EdgeReconciler();

  EdgeReconciler(const EdgeReconciler&) = delete;
  EdgeReconciler& operator=(const EdgeReconciler&) = delete;

  // Places every tenant now, on the caller's thread; the first error.
  absl::Status ReconcileAll();
  // Places one tenant now, on the caller's thread.
  absl::Status Reconcile(int64_t tenant_row_id);

 private:
  void Run();

  const Options options_;
  store::EdgeStore store_;
  absl::Mutex mu_;
  absl::flat_hash_set<int64_t> pending_ ABSL_GUARDED_BY(mu_);
  bool full_pass_ ABSL_GUARDED_BY(mu_) = true;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<store::Notifications> notifications_;
  std::thread thread_;
};

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_EDGE_EDGE_RECONCILER_H_
