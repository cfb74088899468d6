// The database pool and transaction runner (controller/store/database.h)
// under concurrency, against a real PostgreSQL: more callers than
// connections, conflicting transactions retried until each has committed
// once. The tsan variant of scripts/test runs it (label "threads").

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

#include "common/status_macros.h"
#include "controller/store/database.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_controller.h"

namespace mandant {
namespace {

using controller::store::Connection;
using controller::store::Database;
using controller::store::DatabaseOptions;
using controller::store::Rows;

class DatabasePoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::PostgresServer& pg = testing::SharedPostgres();
    auto dbname = pg.CreateMigratedDatabase();
    ASSERT_OK(dbname);
    DatabaseOptions options;
    options.conninfo = pg.conninfo(*dbname);
    options.pool_size = 3;
    options.max_attempts = 200;
    auto db = Database::Create(options);
    ASSERT_OK(db);
    db_ = *std::move(db);
    ASSERT_OK(db_->Transact("setup", [](Connection& conn) {
      return conn.Exec(
          "CREATE TABLE counter (id int PRIMARY KEY, n bigint NOT NULL); "
          "INSERT INTO counter VALUES (1, 0)");
    }));
  }

  int64_t Counter() {
    int64_t n = -1;
    EXPECT_OK(db_->Run("read", [&](Connection& conn) -> absl::Status {
      MANDANT_ASSIGN_OR_RETURN(Rows rows, conn.Query("SELECT n FROM counter WHERE id = 1"));
      n = rows.Int64(0, 0);
      return absl::OkStatus();
    }));
    return n;
  }

  std::unique_ptr<Database> db_;
};

TEST_F(DatabasePoolTest, ConflictingTransactionsFromManyThreadsEachCommitOnce) {
  constexpr int kThreads = 8;
  constexpr int kEach = 25;
  std::vector<absl::Status> failures;
  absl::Mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        // SERIALIZABLE read-modify-write: concurrent ones conflict, and the
        // runner retries them (IsRetryable) until each has committed once.
        absl::Status st = db_->Transact("increment", [](Connection& conn) -> absl::Status {
          MANDANT_RETURN_IF_ERROR(conn.Exec("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"));
          MANDANT_ASSIGN_OR_RETURN(Rows rows, conn.Query("SELECT n FROM counter WHERE id = 1"));
          const int64_t n = rows.Int64(0, 0);
          return conn.Query("UPDATE counter SET n = $1 WHERE id = 1", {std::to_string(n + 1)})
              .status();
        });
        if (!st.ok()) {
          absl::MutexLock lock(&mu);
          failures.push_back(st);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& st : failures) ADD_FAILURE() << st;
  EXPECT_EQ(Counter(), kThreads * kEach);
  const controller::store::PoolStats stats = db_->stats();
  EXPECT_LE(stats.size, 3);
  EXPECT_EQ(stats.in_use, 0);
  EXPECT_EQ(stats.waiting, 0);
  // With 8 writers on one row, some attempts must have conflicted.
  EXPECT_GT(stats.retries_total, 0);
}

TEST_F(DatabasePoolTest, ReadersAndWritersShareTheConnections) {
  std::vector<std::thread> threads;
  std::atomic<int> reads_ok{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        if (t % 2 == 0) {
          EXPECT_OK(db_->Transact("write", [](Connection& conn) {
            return conn.Query("UPDATE counter SET n = n + 1 WHERE id = 1").status();
          }));
        } else if (Counter() >= 0) {
          ++reads_ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(reads_ok.load(), 60);
  EXPECT_EQ(Counter(), 60);
  EXPECT_EQ(db_->stats().in_use, 0);
}

}  // namespace
}  // namespace mandant
