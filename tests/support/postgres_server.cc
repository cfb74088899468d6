#include "tests/support/postgres_server.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "controller/store/migrator.h"
#include "controller/store/pg.h"
#include "tests/support/subprocess.h"

namespace mandant::testing {

std::vector<std::string> PostgresServer::AsOwner(std::vector<std::string> argv) const {
  if (!as_postgres_user_) return argv;
  std::vector<std::string> out = {"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  if (const char* env = std::getenv("MANDANT_PG_BINDIR"); env && *env) {
    s->bindir_ = env;
  } else {
    auto out = RunCommand({"pg_config", "--bindir"});
    if (!out.ok()) return out.status();
    s->bindir_ = std::string(absl::StripAsciiWhitespace(*out));
  }
  if (!std::filesystem::exists(s->bindir_ + "/initdb")) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no initdb in ", s->bindir_, "; install the postgresql package (scripts/install-deps)"));
  }
  auto dir = MakeTempDir("mandant-pg");
  if (!dir.ok()) return dir.status();
  s->dir_ = *dir;
  if (geteuid() == 0) {
    passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      return absl::FailedPreconditionError(
          "running as root needs the postgres system user (from the postgresql package)");
    }
    s->as_postgres_user_ = true;
    if (chown(s->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError("chown of the PostgreSQL folder failed");
    }
  }
  s->port_ = PickFreePort();
  auto init = RunCommand(s->AsOwner({s->bindir_ + "/initdb", "-D", s->dir_ + "/data", "-U",
                                     "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"}));
  if (!init.ok()) return init.status();
  {
    std::ofstream conf(s->dir_ + "/data/postgresql.conf", std::ios::app);
    conf << "listen_addresses = ''\n"
         << "unix_socket_directories = '" << s->dir_ << "'\n"
         << "port = " << s->port_ << "\n"
         << "fsync = off\nfull_page_writes = off\n"
         << "max_connections = 300\n"
         << "shared_buffers = 64MB\n";
  }
  if (absl::Status st = s->Resume(); !st.ok()) return st;
  auto template_db = s->Psql("postgres", "CREATE DATABASE mandant_template");
  if (!template_db.ok()) return template_db.status();
  auto conn = controller::store::Connection::Open(s->conninfo("mandant_template"), "");
  if (!conn.ok()) return conn.status();
  auto migrated = controller::store::Migrate(**conn, controller::store::BuiltinMigrations());
  if (!migrated.ok()) return migrated.status();
  return s;
}

PostgresServer::~PostgresServer() {
  (void)Stop();
  RemoveTree(dir_);
}

std::string PostgresServer::conninfo(const std::string& dbname) const {
  return absl::StrCat("host=", dir_, " port=", port_, " dbname=", dbname, " user=postgres");
}

absl::StatusOr<std::string> PostgresServer::CreateMigratedDatabase() {
  std::string name = absl::StrCat("test_", ++next_db_);
  auto out = Psql("postgres", absl::StrCat("CREATE DATABASE ", name, " TEMPLATE mandant_template"));
  if (!out.ok()) return out.status();
  return name;
}

absl::Status PostgresServer::Stop() {
  if (!running_) return absl::OkStatus();
  auto out =
      RunCommand(AsOwner({bindir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "stop"}));
  if (!out.ok()) return out.status();
  running_ = false;
  return absl::OkStatus();
}

absl::Status PostgresServer::Resume() {
  if (running_) return absl::OkStatus();
  auto out = RunCommand(AsOwner({bindir_ + "/pg_ctl", "-D", dir_ + "/data", "-l",
                                 dir_ + "/server.log", "-w", "-t", "60", "start"}));
  if (!out.ok()) return out.status();
  running_ = true;
  return absl::OkStatus();
}

absl::Status PostgresServer::EnableClientCertificateAuth(const std::string& cert_pem,
                                                         const std::string& key_pem,
                                                         const std::string& client_ca_pem,
                                                         const std::string& user) {
  const std::string data = dir_ + "/data";
  std::ofstream(data + "/server.crt") << cert_pem;
  std::ofstream(data + "/client-ca.crt") << client_ca_pem;
  {
    std::ofstream key(data + "/server.key");
    key << key_pem;
  }
  for (const char* f : {"/server.crt", "/client-ca.crt", "/server.key"}) {
    const std::string path = data + f;
    chmod(path.c_str(), 0600);
    if (as_postgres_user_) {
      passwd* pw = getpwnam("postgres");
      if (pw == nullptr || chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        return absl::InternalError(absl::StrCat("chown of ", path, " failed"));
      }
    }
  }
  {
    std::ofstream conf(data + "/postgresql.conf", std::ios::app);
    conf << "listen_addresses = '127.0.0.1'\n"
         << "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
         << "ssl_ca_file = 'client-ca.crt'\n";
  }
  {
    // Replaces the file: the superuser keeps its Unix socket, `user` gets
    // TLS with a certificate, and nothing else is allowed.
    std::ofstream hba(data + "/pg_hba.conf", std::ios::trunc);
    hba << "local all postgres trust\n"
        << "hostssl all " << user << " 127.0.0.1/32 cert\n";
  }
  MANDANT_RETURN_IF_ERROR(Stop());
  return Resume();
}

absl::StatusOr<std::string> PostgresServer::Dump(const std::string& dbname) const {
  return RunCommand(
      {bindir_ + "/pg_dump", "-h", dir_, "-p", std::to_string(port_), "-U", "postgres", dbname});
}

absl::StatusOr<std::string> PostgresServer::Psql(const std::string& dbname,
                                                 const std::string& sql) const {
  return RunCommand({bindir_ + "/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
                     conninfo(dbname), "-c", sql});
}

}  // namespace mandant::testing
