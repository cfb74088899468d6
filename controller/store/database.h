#ifndef MANDANT_CONTROLLER_STORE_DATABASE_H_
#define MANDANT_CONTROLLER_STORE_DATABASE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "controller/store/pg.h"

namespace mandant::controller::store {

struct DatabaseOptions {
  std::string conninfo;
  // Sent separately from conninfo; never logged.
  std::string password;
  int pool_size = 8;
  // How long Transact waits for a free connection, and keeps retrying while
  // PostgreSQL is unreachable, before it gives up with UNAVAILABLE.
  absl::Duration acquire_timeout = absl::Seconds(10);
  // Attempts for one transaction that keeps hitting retryable conflicts.
  int max_attempts = 20;
};

struct PoolStats {
  int size = 0;     // connections open
  int in_use = 0;   // handed out now
  int waiting = 0;  // callers waiting for a connection
  int64_t opened_total = 0;
  int64_t discarded_total = 0;  // dropped after the connection was lost
  int64_t retries_total = 0;    // transaction attempts that were retried
};

// Marks a status as a conflict that running the transaction again may solve
// (for example two requests that picked the same free VNI).
absl::Status MarkRetryable(absl::Status status);
// True for serialization failures, deadlocks, exclusion conflicts and
// statuses passed through MarkRetryable.
bool IsRetryable(const absl::Status& status);

// Marks the UNAVAILABLE a transaction returns when its connection was lost
// during COMMIT: the work may or may not have been done, and the caller must
// retry with the same request_id to learn which. Callers are told so in
// words of their own (api::ForCaller), never with the database's text.
absl::Status MarkOutcomeUnknown(absl::Status status);
bool IsOutcomeUnknown(const absl::Status& status);

// A pool of PostgreSQL connections and the transaction runner on top of it.
// Thread-safe.
class Database {
 public:
  // Opens one connection to check the settings; INVALID_ARGUMENT or
  // UNAVAILABLE with libpq's message when that fails.
  static absl::StatusOr<std::unique_ptr<Database>> Create(DatabaseOptions options);
  ~Database();

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs `body` inside BEGIN ... COMMIT on one pooled connection. The body's
  // error rolls the transaction back and is returned. Retryable conflicts
  // (IsRetryable) and connections lost before COMMIT run the body again, with
  // backoff; a connection lost during COMMIT returns UNAVAILABLE ("outcome
  // unknown") without retrying, since the commit may have happened. `what`
  // names the work in error messages. The body must have no side effects
  // outside the transaction, since it may run more than once.
  absl::Status Transact(absl::string_view what, absl::FunctionRef<absl::Status(Connection&)> body);

  // Runs `body` on a pooled connection outside a transaction (single
  // read-only statements), retrying once on a lost connection.
  absl::Status Run(absl::string_view what, absl::FunctionRef<absl::Status(Connection&)> body);

  // OK when the database answers a trivial query on a pooled connection
  // (readiness); otherwise UNAVAILABLE with libpq's text, for the log only.
  absl::Status Ping();

  PoolStats stats() const;
  const DatabaseOptions& options() const { return options_; }

 private:
  explicit Database(DatabaseOptions options) : options_(std::move(options)) {}

  // Hands out an idle or new connection, waiting until the deadline.
  absl::StatusOr<std::unique_ptr<Connection>> Acquire(absl::Time deadline);
  void Release(std::unique_ptr<Connection> conn);

  const DatabaseOptions options_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t opened_total_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t discarded_total_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t retries_total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_DATABASE_H_
