#include "controller/store/migrator.h"

#include <dirent.h>

#include <algorithm>
#include <map>
#include <regex>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "openssl/sha.h"

#include "common/files.h"
#include "common/logging.h"
#include "common/secrets.h"
#include "common/status_macros.h"

namespace mandant::controller::store {
namespace {

// An arbitrary constant shared by every mandantd: the advisory lock id.
constexpr int64_t kMigrationLockId = 0x6d616e64616e74;  // "mandant"

std::string Checksum(const std::string& sql) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(sql.data()), sql.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

absl::Status EnsureTable(Connection& conn) {
  return conn.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version integer PRIMARY KEY,"
      " name text NOT NULL,"
      " sha256 text NOT NULL,"
      " applied_at timestamptz NOT NULL DEFAULT now())");
}

struct Applied {
  std::string name;
  std::string sha256;
};

absl::StatusOr<std::map<int, Applied>> ReadApplied(Connection& conn) {
  MANDANT_ASSIGN_OR_RETURN(Rows rows,
                           conn.Query("SELECT version, name, sha256 FROM schema_migrations"));
  std::map<int, Applied> out;
  for (int i = 0; i < rows.size(); ++i) {
    out[static_cast<int>(rows.Int64(i, 0))] =
        Applied{std::string(rows.Text(i, 1)), std::string(rows.Text(i, 2))};
  }
  return out;
}

absl::Status Compare(const std::map<int, Applied>& applied,
                     const std::vector<Migration>& migrations) {
  std::map<int, const Migration*> known;
  for (const Migration& m : migrations) known[m.version] = &m;
  for (const auto& [version, a] : applied) {
    auto it = known.find(version);
    if (it == known.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the database has migration ", version, " (", a.name,
                       ") that this mandantd does not know: the database is newer than the binary; "
                       "run a mandantd of the same or a newer version"));
    }
    if (Checksum(it->second->sql) != a.sha256) {
      return absl::FailedPreconditionError(absl::StrCat(
          "migration ", version, " (", a.name,
          ") differs from the one applied to the database; migrations are forward-only and "
          "must never be edited after release"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Migration>> LoadMigrations(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open migrations folder \"", dir, "\""));
  }
  absl::Cleanup close_dir = [d] { closedir(d); };
  static const std::regex kName(R"(^(\d{4})_[a-z0-9_]+\.sql$)");
  std::vector<Migration> out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name.size() < 4 || name.substr(name.size() - 4) != ".sql") {
      continue;
    }
    std::smatch m;
    if (!std::regex_match(name, m, kName)) {
      return absl::InvalidArgumentError(
          absl::StrCat("migration file \"", name, "\" must be named NNNN_lowercase_words.sql"));
    }
    Migration mig;
    (void)absl::SimpleAtoi(m[1].str(), &mig.version);
    mig.name = name;
    MANDANT_ASSIGN_OR_RETURN(mig.sql, ReadFile(dir + "/" + name));
    out.push_back(std::move(mig));
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].version == out[i - 1].version) {
      return absl::InvalidArgumentError(absl::StrCat("migrations \"", out[i - 1].name, "\" and \"",
                                                     out[i].name, "\" have the same version"));
    }
  }
  return out;
}

absl::StatusOr<MigrationReport> Migrate(Connection& conn,
                                        const std::vector<Migration>& migrations) {
  MANDANT_RETURN_IF_ERROR(
      conn.Exec(absl::StrCat("SELECT pg_advisory_lock(", kMigrationLockId, ")")));
  absl::Cleanup unlock = [&conn] {
    (void)conn.Exec(absl::StrCat("SELECT pg_advisory_unlock(", kMigrationLockId, ")"));
  };
  MANDANT_RETURN_IF_ERROR(EnsureTable(conn));
  MANDANT_ASSIGN_OR_RETURN(auto applied, ReadApplied(conn));
  MANDANT_RETURN_IF_ERROR(Compare(applied, migrations));

  MigrationReport report;
  report.from_version = applied.empty() ? 0 : applied.rbegin()->first;
  report.to_version = report.from_version;
  for (const Migration& m : migrations) {
    if (applied.count(m.version)) continue;
    if (m.version < report.from_version) {
      return absl::FailedPreconditionError(absl::StrCat(
          "migration ", m.name, " is older than the database's version ", report.from_version,
          " but was never applied; migrations must be added with a new, higher number"));
    }
    MANDANT_RETURN_IF_ERROR(conn.Exec("BEGIN"));
    absl::Status st = conn.Exec(m.sql);
    if (st.ok()) {
      st = conn.Query("INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)",
                      {std::to_string(m.version), m.name, Checksum(m.sql)})
               .status();
    }
    if (st.ok()) st = conn.Exec("COMMIT");
    if (!st.ok()) {
      (void)conn.Exec("ROLLBACK");
      return absl::Status(st.code(), absl::StrCat("migration ", m.name, " failed: ", st.message()));
    }
    MANDANT_LOG(info, "migration applied", {{"migration", m.name}});
    report.applied.push_back(m.name);
    report.to_version = m.version;
  }
  return report;
}

absl::StatusOr<int> CheckSchema(Connection& conn, const std::vector<Migration>& migrations) {
  MANDANT_ASSIGN_OR_RETURN(Rows exists,
                           conn.Query("SELECT to_regclass('schema_migrations') IS NOT NULL"));
  if (!exists.Bool(0, 0)) {
    return absl::FailedPreconditionError(
        "the database has no Mandant schema; run \"mandantd migrate\" first");
  }
  MANDANT_ASSIGN_OR_RETURN(auto applied, ReadApplied(conn));
  MANDANT_RETURN_IF_ERROR(Compare(applied, migrations));
  for (const Migration& m : migrations) {
    if (!applied.count(m.version)) {
      return absl::FailedPreconditionError(absl::StrCat("the database lacks migration ", m.name,
                                                        "; run \"mandantd migrate\" first"));
    }
  }
  return applied.empty() ? 0 : applied.rbegin()->first;
}

}  // namespace mandant::controller::store
