#ifndef MANDANT_TESTS_SUPPORT_POSTGRES_SERVER_H_
#define MANDANT_TESTS_SUPPORT_POSTGRES_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mandant::testing {

// How PostgresServer::Start(options) sets up its server. The defaults are
// what the integration tests use: a throw-away cluster in a temporary folder.
struct PostgresOptions {
  // The cluster's folder (PGDATA). Empty: "data" in a fresh temporary folder
  // that is removed, server stopped, on destruction. Given: initdb runs only
  // when it holds no cluster yet, an already running server is kept (its
  // configuration reloaded), and destruction leaves the server running and
  // the folder in place (the demo's .demo/pg).
  std::string data_dir;
  // Folder of the Unix socket; empty: the temporary folder.
  std::string socket_dir;
  // The server's log; empty: server.log in the temporary folder.
  std::string log_file;
  // TCP port, also the socket's number; 0 picks a free one.
  int port = 0;
  // listen_addresses; empty: the Unix socket only.
  std::string listen_address;
  // initdb's method for local (Unix socket) connections.
  std::string local_auth = "trust";
  // More postgresql.conf lines (TLS files, ...), written with the port and
  // paths to mandant-server.conf in the data folder on every start.
  std::string settings;
  // pg_hba.conf, written on every start; empty: initdb's file.
  std::string hba;
  // fsync off and similar: fast, and fine for data nobody keeps.
  bool unsafe_fast = true;
  // Creates mandant_template with every migration (CreateMigratedDatabase).
  bool migrated_template = true;
};

// A real PostgreSQL server in a temporary folder, for integration tests.
// It listens only on a Unix socket inside that folder, so parallel test
// binaries never collide. As root, the server runs as the `postgres` system
// user (PostgreSQL refuses to run as root). The binaries are taken from
// $MANDANT_PG_BINDIR or `pg_config --bindir`.
class PostgresServer {
 public:
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  // A server as `options` say; FAILED_PRECONDITION when PostgreSQL or the
  // postgres system user is missing, INTERNAL with the tool's output (and the
  // log's tail) when initdb or the start fails.
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start(const PostgresOptions& options);
  // The server of an existing data folder (options.data_dir), without
  // starting it: for asking whether it runs and stopping it.
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Attach(const PostgresOptions& options);
  ~PostgresServer();

  // Whether the server of this data folder runs (pg_ctl status).
  bool IsRunning() const;
  // Rewrites the configuration files from the options (with `settings` and
  // `hba` replaced) and makes a running server read them (pg_ctl reload).
  absl::Status Reconfigure(const std::string& settings, const std::string& hba);
  // Runs SQL as the superuser over the Unix socket as the server's owner
  // (so peer authentication works), the SQL on stdin: for statements that
  // hold secrets, which must not appear on a command line.
  absl::StatusOr<std::string> PsqlStdin(const std::string& dbname, const std::string& sql) const;
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_file() const { return log_file_; }

  // A conninfo for `dbname` as the superuser.
  std::string conninfo(const std::string& dbname) const;

  // A new, empty database with every migration applied (copied from a
  // migrated template, so it is fast). Returns its name.
  absl::StatusOr<std::string> CreateMigratedDatabase();

  // Stops the server (fast shutdown: open connections are cut).
  absl::Status Stop();
  // Starts it again on the same folder and socket.
  absl::Status Resume();
  // Runs SQL as the superuser in `dbname` and returns psql's output.
  absl::StatusOr<std::string> Psql(const std::string& dbname, const std::string& sql) const;
  // Turns TLS on and lets `user` log in over TCP on 127.0.0.1 with a
  // client certificate only (pg_hba "hostssl ... cert": the certificate's
  // CN is the role), verified against `client_ca_pem`; the server presents
  // `cert_pem` (chain) and `key_pem`. Restarts the server.
  absl::Status EnableClientCertificateAuth(const std::string& cert_pem, const std::string& key_pem,
                                           const std::string& client_ca_pem,
                                           const std::string& user);
  // The TCP port (after EnableClientCertificateAuth).
  int port() const { return port_; }
  // pg_dump of a database (plain SQL, data included), as an operator's
  // backup would hold it.
  absl::StatusOr<std::string> Dump(const std::string& dbname) const;

 private:
  PostgresServer() = default;
  std::vector<std::string> AsOwner(std::vector<std::string> argv) const;
  absl::Status Prepare(const PostgresOptions& options);
  absl::Status WriteConfig() const;

  PostgresOptions options_;
  bool persistent_ = false;
  std::string temp_dir_;  // removed on destruction; empty when persistent
  std::string dir_;       // the socket folder
  std::string data_dir_;
  std::string log_file_;
  std::string bindir_;
  int port_ = 0;
  bool running_ = false;
  bool as_postgres_user_ = false;
  int next_db_ = 0;
};

}  // namespace mandant::testing

#endif  // MANDANT_TESTS_SUPPORT_POSTGRES_SERVER_H_
