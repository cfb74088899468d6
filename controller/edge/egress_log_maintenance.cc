#include "controller/edge/egress_log_maintenance.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

#include "common/logging.h"
#include "common/status_macros.h"

namespace mandant::controller {

EgressLogMaintenance::EgressLogMaintenance(Options options) : options_(std::move(options)) {
  if (absl::Status st = RunOnce(absl::Now()); !st.ok()) {
    MANDANT_LOG(warn, "egress log partitions not maintained; retrying in an interval",
                {{"error", st}});
  }
  thread_ = std::thread([this] { Run(); });
}

EgressLogMaintenance::~EgressLogMaintenance() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

absl::Status EgressLogMaintenance::RunOnce(absl::Time now) {
  std::vector<std::string> created, dropped;
  MANDANT_RETURN_IF_ERROR(
      options_.db->Transact("egress log partitions", [&](store::Connection& conn) -> absl::Status {
        MANDANT_ASSIGN_OR_RETURN(created, store_.EnsurePartitions(conn, now, kDaysAhead));
        MANDANT_ASSIGN_OR_RETURN(dropped,
                                 store_.DropPartitionsBefore(conn, now - options_.retention));
        return absl::OkStatus();
      }));
  if (!created.empty() || !dropped.empty()) {
    MANDANT_LOG(
        info, "egress log partitions maintained",
        {{"created", absl::StrJoin(created, ",")}, {"dropped", absl::StrJoin(dropped, ",")}});
  }
  return absl::OkStatus();
}

void EgressLogMaintenance::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopped), options_.interval);
      if (stop_) return;
    }
    if (absl::Status st = RunOnce(absl::Now()); !st.ok()) {
      MANDANT_LOG(warn, "egress log partitions not maintained; retrying in an interval",
                  {{"error", st}});
    }
  }
}

}  // namespace mandant::controller
