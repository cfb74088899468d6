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
  return Start(PostgresOptions());
}

absl::Status PostgresServer::Prepare(const PostgresOptions& options) {
  options_ = options;
  if (const char* env = std::getenv("MANDANT_PG_BINDIR"); env && *env) {
    bindir_ = env;
  } else {
    auto out = RunCommand({"pg_config", "--bindir"});
    if (!out.ok()) return out.status();
    bindir_ = std::string(absl::StripAsciiWhitespace(*out));
  }
  if (!std::filesystem::exists(bindir_ + "/initdb")) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no initdb in ", bindir_, "; install the postgresql package (scripts/install-deps)"));
  }
  persistent_ = !options.data_dir.empty();
  if (persistent_) {
    data_dir_ = options.data_dir;
    dir_ = options.socket_dir.empty() ? data_dir_ : options.socket_dir;
  } else {
    MANDANT_ASSIGN_OR_RETURN(temp_dir_, MakeTempDir("mandant-pg"));
    data_dir_ = temp_dir_ + "/data";
    dir_ = options.socket_dir.empty() ? temp_dir_ : options.socket_dir;
  }
  log_file_ = options.log_file.empty() ? dir_ + "/server.log" : options.log_file;
  port_ = options.port != 0 ? options.port : PickFreePort();
  passwd* pw = nullptr;
  if (geteuid() == 0) {
    pw = getpwnam("postgres");
    if (pw == nullptr) {
      return absl::FailedPreconditionError(
          "running as root needs the postgres system user (from the postgresql package)");
    }
    as_postgres_user_ = true;
  }
  // The server's owner needs its folders for itself.
  for (const std::string& d : {dir_, persistent_ ? data_dir_ : temp_dir_}) {
    std::error_code ec;
    std::filesystem::create_directories(d, ec);
    if (ec || chmod(d.c_str(), 0700) != 0 ||
        (pw != nullptr && chown(d.c_str(), pw->pw_uid, pw->pw_gid) != 0)) {
      return absl::InternalError(absl::StrCat("mkdir/chown/chmod of ", d, " failed"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start(
    const PostgresOptions& options) {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  MANDANT_RETURN_IF_ERROR(s->Prepare(options));
  if (!std::filesystem::exists(s->data_dir_ + "/PG_VERSION")) {
    // An initdb that was killed may have left files behind; it refuses a
    // folder that is not empty.
    if (s->persistent_) {
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(s->data_dir_, ec)) {
        std::filesystem::remove_all(entry.path(), ec);
      }
    }
    std::vector<std::string> initdb = {
        s->bindir_ + "/initdb", "-D",          s->data_dir_, "-U", "postgres", "--auth-local",
        options.local_auth,     "--auth-host", "reject",     "-E", "UTF8"};
    if (options.unsafe_fast) initdb.push_back("--no-sync");
    auto init = RunCommand(s->AsOwner(initdb));
    if (!init.ok()) return init.status();
  }
  {
    const std::string conf_path = s->data_dir_ + "/postgresql.conf";
    std::ifstream in(conf_path);
    std::string conf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    constexpr char kInclude[] = "include_if_exists = 'mandant-server.conf'";
    if (conf.find(kInclude) == std::string::npos) {
      std::ofstream(conf_path, std::ios::app) << "\n" << kInclude << "\n";
    }
  }
  MANDANT_RETURN_IF_ERROR(s->WriteConfig());
  if (s->IsRunning()) {
    s->running_ = true;
    auto out = RunCommand(s->AsOwner({s->bindir_ + "/pg_ctl", "-D", s->data_dir_, "reload"}));
    if (!out.ok()) return out.status();
  } else if (absl::Status st = s->Resume(); !st.ok()) {
    return st;
  }
  if (!options.migrated_template) return s;
  auto template_db = s->Psql("postgres", "CREATE DATABASE mandant_template");
  if (!template_db.ok()) return template_db.status();
  auto conn = controller::store::Connection::Open(s->conninfo("mandant_template"), "");
  if (!conn.ok()) return conn.status();
  auto migrated = controller::store::Migrate(**conn, controller::store::BuiltinMigrations());
  if (!migrated.ok()) return migrated.status();
  return s;
}

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Attach(
    const PostgresOptions& options) {
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError("PostgresServer::Attach needs options.data_dir");
  }
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  MANDANT_RETURN_IF_ERROR(s->Prepare(options));
  s->running_ = s->IsRunning();
  return s;
}

absl::Status PostgresServer::WriteConfig() const {
  std::string conf =
      absl::StrCat("# Written by PostgresServer on every start; edits are lost.\n",
                   "listen_addresses = '", options_.listen_address, "'\n",
                   "unix_socket_directories = '", dir_, "'\n", "port = ", port_, "\n");
  if (options_.unsafe_fast) {
    absl::StrAppend(&conf,
                    "fsync = off\nfull_page_writes = off\nmax_connections = 300\n"
                    "shared_buffers = 64MB\n");
  }
  absl::StrAppend(&conf, options_.settings);
  // Written by us (root) and handed to the owner, who must be able to read it.
  auto write = [&](const std::string& path, const std::string& text) -> absl::Status {
    {
      std::ofstream out(path + ".tmp", std::ios::trunc);
      out << text;
      if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write ", path));
    }
    if (as_postgres_user_) {
      passwd* pw = getpwnam("postgres");
      if (pw == nullptr || chown((path + ".tmp").c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        return absl::InternalError(absl::StrCat("chown of ", path, " failed"));
      }
    }
    chmod((path + ".tmp").c_str(), 0600);
    if (rename((path + ".tmp").c_str(), path.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("cannot rename ", path, ".tmp"));
    }
    return absl::OkStatus();
  };
  MANDANT_RETURN_IF_ERROR(write(data_dir_ + "/mandant-server.conf", conf));
  if (!options_.hba.empty()) {
    MANDANT_RETURN_IF_ERROR(write(data_dir_ + "/pg_hba.conf", options_.hba));
  }
  return absl::OkStatus();
}

bool PostgresServer::IsRunning() const {
  return RunCommand(AsOwner({bindir_ + "/pg_ctl", "status", "-D", data_dir_})).ok();
}

absl::Status PostgresServer::Reconfigure(const std::string& settings, const std::string& hba) {
  options_.settings = settings;
  options_.hba = hba;
  MANDANT_RETURN_IF_ERROR(WriteConfig());
  if (!running_) return absl::OkStatus();
  return RunCommand(AsOwner({bindir_ + "/pg_ctl", "-D", data_dir_, "reload"})).status();
}

absl::StatusOr<std::string> PostgresServer::PsqlStdin(const std::string& dbname,
                                                      const std::string& sql) const {
  return RunCommandWithInput(
      AsOwner({bindir_ + "/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", dir_, "-p",
               std::to_string(port_), "-U", "postgres", "-d", dbname}),
      sql);
}

PostgresServer::~PostgresServer() {
  if (persistent_) return;
  (void)Stop();
  RemoveTree(temp_dir_);
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
      RunCommand(AsOwner({bindir_ + "/pg_ctl", "-D", data_dir_, "-m", "fast", "-w", "stop"}));
  if (!out.ok()) return out.status();
  running_ = false;
  return absl::OkStatus();
}

absl::Status PostgresServer::Resume() {
  if (running_) return absl::OkStatus();
  auto out = RunCommand(
      AsOwner({bindir_ + "/pg_ctl", "-D", data_dir_, "-l", log_file_, "-w", "-t", "60", "start"}));
  if (!out.ok()) {
    std::ifstream log(log_file_);
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    return absl::InternalError(
        absl::StrCat(out.status().message(), "\nserver log ", log_file_, ":\n",
                     text.size() > 2000 ? text.substr(text.size() - 2000) : text));
  }
  running_ = true;
  return absl::OkStatus();
}

absl::Status PostgresServer::EnableClientCertificateAuth(const std::string& cert_pem,
                                                         const std::string& key_pem,
                                                         const std::string& client_ca_pem,
                                                         const std::string& user) {
  const std::string data = data_dir_;
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
