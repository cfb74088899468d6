#ifndef MANDANT_CONTROLLER_STORE_MIGRATOR_H_
#define MANDANT_CONTROLLER_STORE_MIGRATOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "controller/store/pg.h"

namespace mandant::controller::store {

// One numbered schema change, e.g. migrations/0001_init.sql.
struct Migration {
  int version = 0;
  std::string name;  // file name
  std::string sql;
};

// Reads every NNNN_name.sql file in `dir`, sorted by version. INVALID_ARGUMENT
// for a misnamed file or a version used twice.
absl::StatusOr<std::vector<Migration>> LoadMigrations(const std::string& dir);

// The migrations compiled into this binary (from migrations/ at build time).
const std::vector<Migration>& BuiltinMigrations();

struct MigrationReport {
  int from_version = 0;
  int to_version = 0;
  std::vector<std::string> applied;
};

// Applies the migrations the database lacks, each in its own transaction,
// under a PostgreSQL advisory lock so that concurrent mandantd processes
// migrate once. FAILED_PRECONDITION when the database has a migration this
// binary does not know (it is newer than the binary) or when a recorded
// migration's checksum differs from the binary's.
absl::StatusOr<MigrationReport> Migrate(Connection& conn, const std::vector<Migration>& migrations);

// The newest applied version, 0 for an empty database. FAILED_PRECONDITION when
// the database is newer than `migrations` or not fully migrated: mandantd
// serve refuses to start on such a database.
absl::StatusOr<int> CheckSchema(Connection& conn, const std::vector<Migration>& migrations);

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_MIGRATOR_H_
