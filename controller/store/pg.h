#ifndef MANDANT_CONTROLLER_STORE_PG_H_
#define MANDANT_CONTROLLER_STORE_PG_H_

// A thin C++ layer over libpq: one owned connection, parameterised queries
// through prepared statements cached per connection, and PostgreSQL errors
// turned into absl::Status with the SQLSTATE and constraint kept as a payload.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include <libpq-fe.h>

namespace mandant::controller::store {

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

// SQLSTATE codes the project reacts to.
inline constexpr absl::string_view kUniqueViolation = "23505";
// Also what an INSERT into a partitioned table gets when no partition
// covers the row.
inline constexpr absl::string_view kCheckViolation = "23514";
inline constexpr absl::string_view kExclusionViolation = "23P01";
inline constexpr absl::string_view kForeignKeyViolation = "23503";
inline constexpr absl::string_view kSerializationFailure = "40001";
inline constexpr absl::string_view kDeadlockDetected = "40P01";

// What PostgreSQL said about a failed statement, attached to the Status.
struct PgErrorInfo {
  std::string sqlstate;
  std::string constraint;
};
std::optional<PgErrorInfo> PgErrorOf(const absl::Status& status);

// A statement parameter: text, or NULL when empty.
using Param = std::optional<std::string>;

// The rows of a successful statement. Values are text (libpq text format).
class Rows {
 public:
  explicit Rows(PgResultPtr result);
  int size() const { return PQntuples(result_.get()); }
  bool empty() const { return size() == 0; }
  bool IsNull(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }
  absl::string_view Text(int row, int col) const;
  int64_t Int64(int row, int col) const;
  bool Bool(int row, int col) const { return Text(row, col) == "t"; }
  // Decodes a bytea column (hex output format).
  std::string Bytes(int row, int col) const;
  // Rows changed by an INSERT/UPDATE/DELETE.
  int64_t affected() const;

 private:
  PgResultPtr result_;
};

// One PostgreSQL connection. Not thread-safe: a connection is used by one
// thread at a time (the pool hands it out exclusively).
class Connection {
 public:
  // Connects with `conninfo` (libpq keyword/value string). `password`, when
  // not empty, is passed separately so it never appears in conninfo or logs.
  // UNAVAILABLE with libpq's message when the server cannot be reached.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& conninfo,
                                                          const std::string& password);

  // Runs `sql` with $1..$n parameters as a named prepared statement, preparing
  // it on first use on this connection.
  absl::StatusOr<Rows> Query(absl::string_view sql, const std::vector<Param>& params = {});
  // Runs one or more statements without parameters (BEGIN, COMMIT, DDL).
  absl::Status Exec(absl::string_view sql);

  // False once the connection was lost; the pool then discards it.
  bool healthy() const;
  PGconn* raw() { return conn_.get(); }

 private:
  explicit Connection(PgConnPtr conn) : conn_(std::move(conn)) {}
  absl::Status StatusFrom(const PGresult* result, absl::string_view sql) const;

  PgConnPtr conn_;
  absl::flat_hash_map<std::string, std::string> prepared_;  // sql -> statement name
};

// SQL reading timestamptz `column` as microseconds since the epoch (bigint,
// NULL stays NULL), for Rows::Int64 and absl::FromUnixMicros.
std::string MicrosSql(absl::string_view column);

// Hex text for a bytea parameter: "\\x..." as PostgreSQL expects in text format.
std::string ByteaParam(absl::string_view bytes);

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_PG_H_
