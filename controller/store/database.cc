#include "controller/store/database.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"

#include "common/logging.h"

namespace mandant::controller::store {
namespace {

constexpr absl::string_view kRetryPayloadUrl = "type.mandant.dev/retryable";
constexpr absl::string_view kOutcomeUnknownPayloadUrl = "type.mandant.dev/outcome-unknown";

absl::Duration Backoff(int attempt) {
  thread_local std::mt19937 rng{std::random_device{}()};
  double base_ms = std::min(1000.0, 5.0 * (1 << std::min(attempt, 8)));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return absl::Milliseconds(base_ms * jitter(rng));
}

// The connection broke (server restart, network): the statement never ran
// to completion, and a new connection may succeed.
bool ConnectionLost(const absl::Status& status, const Connection& conn) {
  return !conn.healthy() || status.code() == absl::StatusCode::kUnavailable;
}

}  // namespace

absl::Status MarkRetryable(absl::Status status) {
  status.SetPayload(kRetryPayloadUrl, absl::Cord("1"));
  return status;
}

absl::Status MarkOutcomeUnknown(absl::Status status) {
  status.SetPayload(kOutcomeUnknownPayloadUrl, absl::Cord("1"));
  return status;
}

bool IsOutcomeUnknown(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable &&
         status.GetPayload(kOutcomeUnknownPayloadUrl).has_value();
}

bool IsRetryable(const absl::Status& status) {
  if (status.ok()) return false;
  if (status.GetPayload(kRetryPayloadUrl)) return true;
  auto pg = PgErrorOf(status);
  return pg && (pg->sqlstate == kSerializationFailure || pg->sqlstate == kDeadlockDetected ||
                pg->sqlstate == kExclusionViolation);
}

absl::StatusOr<std::unique_ptr<Database>> Database::Create(DatabaseOptions options) {
  if (options.pool_size < 1 || options.pool_size > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("database.pool_size must be 1-1000, got ", options.pool_size));
  }
  std::unique_ptr<Database> db(new Database(std::move(options)));
  auto conn = Connection::Open(db->options_.conninfo, db->options_.password);
  if (!conn.ok()) return conn.status();
  {
    absl::MutexLock lock(&db->mu_);
    db->open_ = 1;
    db->opened_total_ = 1;
  }
  db->Release(*std::move(conn));
  return db;
}

Database::~Database() {
  absl::MutexLock lock(&mu_);
  idle_.clear();
}

absl::StatusOr<std::unique_ptr<Connection>> Database::Acquire(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    ++waiting_;
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.pool_size;
    };
    bool ok = mu_.AwaitWithDeadline(absl::Condition(&available), deadline);
    --waiting_;
    if (!ok) {
      return absl::UnavailableError(
          absl::StrCat("no database connection free within the timeout (pool_size ",
                       options_.pool_size, ", all in use)"));
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      ++in_use_;
      return conn;
    }
    ++open_;  // reserve the slot, connect without the lock
    ++in_use_;
  }
  auto conn = Connection::Open(options_.conninfo, options_.password);
  absl::MutexLock lock(&mu_);
  if (!conn.ok()) {
    --open_;
    --in_use_;
    return conn.status();
  }
  ++opened_total_;
  return conn;
}

void Database::Release(std::unique_ptr<Connection> conn) {
  absl::MutexLock lock(&mu_);
  if (in_use_ > 0) --in_use_;
  if (conn == nullptr || !conn->healthy()) {
    --open_;
    ++discarded_total_;
    return;
  }
  idle_.push_back(std::move(conn));
}

absl::Status Database::Transact(absl::string_view what,
                                absl::FunctionRef<absl::Status(Connection&)> body) {
  const absl::Time deadline = absl::Now() + options_.acquire_timeout;
  absl::Status last;
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    if (attempt > 0) {
      {
        absl::MutexLock lock(&mu_);
        ++retries_total_;
      }
      absl::SleepFor(Backoff(attempt));
    }
    auto acquired = Acquire(deadline);
    if (!acquired.ok()) {
      last = acquired.status();
      // PostgreSQL down or restarting: keep trying until the deadline.
      if (last.code() == absl::StatusCode::kUnavailable && absl::Now() < deadline) continue;
      break;
    }
    std::unique_ptr<Connection> conn = *std::move(acquired);
    absl::Status st = conn->Exec("BEGIN");
    if (st.ok()) {
      st = body(*conn);
      if (st.ok()) {
        st = conn->Exec("COMMIT");
        if (!st.ok() && ConnectionLost(st, *conn)) {
          Release(std::move(conn));
          return MarkOutcomeUnknown(absl::UnavailableError(absl::StrCat(
              what,
              ": the database connection was lost during COMMIT; the outcome is unknown. "
              "Retry with the same request_id to get a definite answer")));
        }
        if (st.ok()) {
          Release(std::move(conn));
          return absl::OkStatus();
        }
      } else if (conn->healthy()) {
        absl::Status rb = conn->Exec("ROLLBACK");
        if (!rb.ok()) {
          MANDANT_LOG(warn, "rollback failed", {{"work", what}, {"error", rb}});
        }
      }
    }
    const bool lost = ConnectionLost(st, *conn);
    Release(std::move(conn));
    last = st;
    if (lost) {
      MANDANT_LOG(info, "database connection lost, retrying", {{"work", what}, {"error", st}});
      if (absl::Now() < deadline) continue;
      break;
    }
    if (!IsRetryable(st)) return st;
  }
  if (last.code() == absl::StatusCode::kUnavailable) {
    return absl::UnavailableError(absl::StrCat(what, ": database unavailable: ", last.message()));
  }
  // The last conflict's text is the database's and stays in the log; the
  // caller learns only that concurrent changes kept winning.
  MANDANT_LOG(warn, "transaction gave up after conflicts",
              {{"work", what}, {"attempts", options_.max_attempts}, {"error", last}});
  return absl::AbortedError(absl::StrCat(what, ": gave up after ", options_.max_attempts,
                                         " attempts that conflicted with concurrent changes; "
                                         "retry the request"));
}

absl::Status Database::Run(absl::string_view what,
                           absl::FunctionRef<absl::Status(Connection&)> body) {
  const absl::Time deadline = absl::Now() + options_.acquire_timeout;
  absl::Status st;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto acquired = Acquire(deadline);
    if (!acquired.ok()) return acquired.status();
    std::unique_ptr<Connection> conn = *std::move(acquired);
    st = body(*conn);
    const bool lost = !st.ok() && ConnectionLost(st, *conn);
    Release(std::move(conn));
    if (!lost) return st;
  }
  return absl::UnavailableError(absl::StrCat(what, ": database unavailable: ", st.message()));
}

absl::Status Database::Ping() {
  return Run("readiness", [](Connection& conn) { return conn.Query("SELECT 1").status(); });
}

PoolStats Database::stats() const {
  absl::MutexLock lock(&mu_);
  PoolStats s;
  s.size = open_;
  s.in_use = in_use_;
  s.waiting = waiting_;
  s.opened_total = opened_total_;
  s.discarded_total = discarded_total_;
  s.retries_total = retries_total_;
  return s;
}

}  // namespace mandant::controller::store
