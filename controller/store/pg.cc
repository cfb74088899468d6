#include "controller/store/pg.h"

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mandant::controller::store {
namespace {

constexpr absl::string_view kPgPayloadUrl = "type.mandant.dev/pg.error";

absl::StatusCode CodeForSqlState(absl::string_view state) {
  if (state == kUniqueViolation) return absl::StatusCode::kAlreadyExists;
  if (state == kExclusionViolation) return absl::StatusCode::kAborted;
  if (state == kSerializationFailure || state == kDeadlockDetected) {
    return absl::StatusCode::kAborted;
  }
  if (state == kForeignKeyViolation) return absl::StatusCode::kFailedPrecondition;
  if (absl::StartsWith(state, "23")) return absl::StatusCode::kFailedPrecondition;
  // Connection exceptions, operator intervention (shutdown), insufficient resources.
  if (absl::StartsWith(state, "08") || absl::StartsWith(state, "57") ||
      absl::StartsWith(state, "53")) {
    return absl::StatusCode::kUnavailable;
  }
  if (absl::StartsWith(state, "22")) return absl::StatusCode::kInvalidArgument;
  return absl::StatusCode::kInternal;
}

std::string FirstLine(absl::string_view s) {
  s = absl::StripTrailingAsciiWhitespace(s);
  auto nl = s.find('\n');
  return std::string(nl == absl::string_view::npos ? s : s.substr(0, nl));
}

}  // namespace

std::optional<PgErrorInfo> PgErrorOf(const absl::Status& status) {
  auto payload = status.GetPayload(kPgPayloadUrl);
  if (!payload) return std::nullopt;
  std::string s(*payload);
  auto sep = s.find('\0');
  PgErrorInfo info;
  info.sqlstate = s.substr(0, sep);
  if (sep != std::string::npos) info.constraint = s.substr(sep + 1);
  return info;
}

Rows::Rows(PgResultPtr result) : result_(std::move(result)) {}

absl::string_view Rows::Text(int row, int col) const {
  return absl::string_view(PQgetvalue(result_.get(), row, col),
                           PQgetlength(result_.get(), row, col));
}

int64_t Rows::Int64(int row, int col) const {
  int64_t v = 0;
  if (!absl::SimpleAtoi(Text(row, col), &v)) return 0;
  return v;
}

std::string Rows::Bytes(int row, int col) const {
  absl::string_view t = Text(row, col);
  if (absl::ConsumePrefix(&t, "\\x")) return absl::HexStringToBytes(t);
  return std::string(t);
}

int64_t Rows::affected() const {
  int64_t v = 0;
  (void)absl::SimpleAtoi(PQcmdTuples(result_.get()), &v);
  return v;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& conninfo,
                                                             const std::string& password) {
  const char* keys[] = {"dbname", "password", "connect_timeout", "application_name", nullptr};
  const char* values[] = {conninfo.c_str(), password.empty() ? nullptr : password.c_str(), "5",
                          "mandantd", nullptr};
  // expand_dbname=1 makes the first dbname entry a full conninfo string;
  // later keys override only when they are not NULL.
  PgConnPtr conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to PostgreSQL: ", FirstLine(PQerrorMessage(conn.get()))));
  }
  // Keep server notices (e.g. "relation already exists, skipping") out of stderr.
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Connection>(new Connection(std::move(conn)));
}

bool Connection::healthy() const { return PQstatus(conn_.get()) == CONNECTION_OK; }

absl::Status Connection::StatusFrom(const PGresult* result, absl::string_view sql) const {
  if (result == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL: ", FirstLine(PQerrorMessage(conn_.get()))));
  }
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* constraint = PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME);
  std::string sqlstate = state ? state : "";
  absl::StatusCode code =
      sqlstate.empty() ? (healthy() ? absl::StatusCode::kInternal : absl::StatusCode::kUnavailable)
                       : CodeForSqlState(sqlstate);
  // The primary message only: DETAIL lines may echo row values.
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  std::string message = primary ? primary : FirstLine(PQerrorMessage(conn_.get()));
  absl::Status status(code, absl::StrCat("PostgreSQL ", sqlstate.empty() ? "" : sqlstate,
                                         sqlstate.empty() ? "" : ": ", message));
  std::string payload = sqlstate;
  payload.push_back('\0');
  if (constraint) payload.append(constraint);
  status.SetPayload(kPgPayloadUrl, absl::Cord(payload));
  return status;
}

absl::StatusOr<Rows> Connection::Query(absl::string_view sql, const std::vector<Param>& params) {
  std::string key(sql);
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    std::string name = absl::StrCat("s", prepared_.size() + 1);
    PgResultPtr prep(PQprepare(conn_.get(), name.c_str(), key.c_str(), 0, nullptr));
    if (prep == nullptr || PQresultStatus(prep.get()) != PGRES_COMMAND_OK) {
      return StatusFrom(prep.get(), sql);
    }
    it = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& p : params) values.push_back(p ? p->c_str() : nullptr);
  PgResultPtr result(PQexecPrepared(conn_.get(), it->second.c_str(),
                                    static_cast<int>(values.size()), values.data(), nullptr,
                                    nullptr, 0));
  if (result == nullptr) return StatusFrom(nullptr, sql);
  ExecStatusType st = PQresultStatus(result.get());
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return StatusFrom(result.get(), sql);
  return Rows(std::move(result));
}

absl::Status Connection::Exec(absl::string_view sql) {
  PgResultPtr result(PQexec(conn_.get(), std::string(sql).c_str()));
  if (result == nullptr) return StatusFrom(nullptr, sql);
  ExecStatusType st = PQresultStatus(result.get());
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return StatusFrom(result.get(), sql);
  return absl::OkStatus();
}

std::string MicrosSql(absl::string_view column) {
  return absl::StrCat("(extract(epoch FROM ", column, ") * 1000000)::bigint");
}

std::string ByteaParam(absl::string_view bytes) {
  return absl::StrCat("\\x", absl::BytesToHexString(bytes));
}

}  // namespace mandant::controller::store
