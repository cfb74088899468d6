#include "controller/edge/edge_reconciler.h"

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/edge/edge_placement.h"

namespace mandant::controller {

EdgeReconciler::EdgeReconciler(Options options) : options_(std::move(options)) {
  if (!options_.conninfo.empty()) {
    store::Notifications::Options n;
    n.conninfo = options_.conninfo;
    n.password = options_.password;
    n.channel = "mandant_tenant_edge";
    n.on_notify = [this](absl::string_view payload) {
      int64_t id = 0;
      if (!absl::SimpleAtoi(payload, &id)) return;
      absl::MutexLock lock(&mu_);
      pending_.insert(id);
    };
    n.on_resync = [this] {
      absl::MutexLock lock(&mu_);
      full_pass_ = true;
    };
    notifications_ = std::make_unique<store::Notifications>(std::move(n));
  }
  thread_ = std::thread([this] { Run(); });
}

EdgeReconciler::~EdgeReconciler() {
  notifications_.reset();
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

absl::Status EdgeReconciler::Reconcile(int64_t tenant_row_id) {
  absl::Status st =
      options_.db->Transact("edge placement", [&](store::Connection& conn) -> absl::Status {
        return ReconcileEdgePlacement(conn, store_, options_.settings, tenant_row_id);
      });
  // The tenant was deleted in between: its edge went with it.
  if (absl::IsNotFound(st)) return absl::OkStatus();
  return st;
}

absl::Status EdgeReconciler::ReconcileAll() {
  std::vector<int64_t> tenants;
  MANDANT_RETURN_IF_ERROR(
      options_.db->Run("edge placement", [&](store::Connection& conn) -> absl::Status {
        MANDANT_ASSIGN_OR_RETURN(tenants, store_.TenantsToPlace(conn));
        return absl::OkStatus();
      }));
  absl::Status first;
  for (int64_t id : tenants) {
    absl::Status st = Reconcile(id);
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

void EdgeReconciler::Run() {
  absl::Time next_full = absl::InfinitePast();
  while (true) {
    bool full = false;
    absl::flat_hash_set<int64_t> tenants;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this, &next_full]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || full_pass_ || !pending_.empty() || absl::Now() >= next_full;
      };
      mu_.AwaitWithDeadline(absl::Condition(&ready), next_full);
      if (stop_) return;
      full = full_pass_ || absl::Now() >= next_full;
      full_pass_ = false;
      tenants.swap(pending_);
    }
    if (full) {
      next_full = absl::Now() + options_.settings.placement_interval;
      if (absl::Status st = ReconcileAll(); !st.ok()) {
        MANDANT_LOG(warn, "edge placement pass failed; retrying on the next pass", {{"error", st}});
      }
      continue;
    }
    for (int64_t id : tenants) {
      if (absl::Status st = Reconcile(id); !st.ok()) {
        MANDANT_LOG(warn, "edge placement failed; retrying on the next pass",
                    {{"tenant_row_id", static_cast<long long>(id)}, {"error", st}});
      }
    }
  }
}

}  // namespace mandant::controller
