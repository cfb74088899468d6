#ifndef MANDANT_TESTS_SUPPORT_POSTGRES_SERVER_H_
#define MANDANT_TESTS_SUPPORT_POSTGRES_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mandant::testing {

// A real PostgreSQL server in a temporary folder, for integration tests.
// It listens only on a Unix socket inside that folder, so parallel test
// binaries never collide. As root, the server runs as the `postgres` system
// user (PostgreSQL refuses to run as root). The binaries are taken from
// $MANDANT_PG_BINDIR or `pg_config --bindir`.
class PostgresServer {
 public:
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();

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
  absl::Status EnableClientCertificateAuth(const std::string& cert_pem,
                                           const std::string& key_pem,
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

  std::string dir_;
  std::string bindir_;
  int port_ = 0;
  bool running_ = false;
  bool as_postgres_user_ = false;
  int next_db_ = 0;
};

}  // namespace mandant::testing

#endif  // MANDANT_TESTS_SUPPORT_POSTGRES_SERVER_H_
