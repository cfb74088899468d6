#ifndef MANDANT_BENCH_ENVIRONMENT_H_
#define MANDANT_BENCH_ENVIRONMENT_H_

// Where the load generator's systems run: either a private PostgreSQL plus a
// mandantd process that it starts itself, or a mandantd that already runs.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "controller/store/tenant_store.h"
#include "tests/support/postgres_server.h"

namespace mandant::bench {

struct EnvironmentOptions {
  // host:port of a running mandantd; empty starts a private one.
  std::string target;
  std::string ca_file;     // with target: the CA that signed mandantd's certificate
  std::string token_file;  // with target: a provider-admin bearer token
  // libpq conninfo of mandantd's database, for the baselines. Filled in when
  // the environment is private.
  std::string pg_conninfo;

  // For a private environment:
  std::string mandantd_path;
  int pool_size = 8;
  std::string log_level = "info";
  controller::store::NetworkPools pools;
  // Address mandantd listens on and clients connect to (127.0.0.1 for
  // "0.0.0.0").
  std::string listen_host = "127.0.0.1";
  // tls.server_names; "localhost" and "127.0.0.1" are always included.
  std::vector<std::string> server_names;
  // False: a self-signed certificate for localhost. True: mandantd issues its
  // serving certificate from Mandant's infrastructure CA, and ca_pem() is the
  // Mandant root (what agents trust).
  bool pki_serving_cert = false;
  // YAML appended to mandantd.yaml, e.g. an "agents:" section.
  std::string extra_config;
};

class Environment {
 public:
  // Starts PostgreSQL and mandantd (and waits until mandantd answers), or
  // reads the files for a running target. UNAVAILABLE or FAILED_PRECONDITION
  // with what did not start and the tail of its log.
  static absl::StatusOr<std::unique_ptr<Environment>> Start(const EnvironmentOptions& options);
  // Stops mandantd (SIGTERM, then SIGKILL after 10 s) and PostgreSQL, and
  // removes the temporary folder, for a private environment.
  ~Environment();

  bool is_private() const { return postgres_ != nullptr; }
  const std::string& address() const { return address_; }
  // The TLS name mandantd's certificate holds; empty for a target.
  const std::string& server_name() const { return server_name_; }
  const std::string& ca_pem() const { return ca_pem_; }
  const std::string& token() const { return token_; }
  // Empty when the baselines cannot run.
  const std::string& pg_conninfo() const { return pg_conninfo_; }
  // 0 when unknown (a target).
  pid_t mandantd_pid() const { return mandantd_pid_; }
  pid_t postmaster_pid() const { return postmaster_pid_; }
  // The last `bytes` of mandantd's log, private environments only.
  std::string MandantdLogTail(size_t bytes) const;
  // The private environment's temporary folder (mandantd.yaml, logs).
  const std::string& dir() const { return dir_; }
  int port() const { return port_; }

 private:
  Environment() = default;
  absl::Status StartPrivate(const EnvironmentOptions& options);
  absl::Status AwaitServing();

  std::unique_ptr<testing::PostgresServer> postgres_;
  std::string dir_;
  std::string address_;
  std::string server_name_;
  std::string ca_pem_;
  std::string token_;
  std::string pg_conninfo_;
  pid_t mandantd_pid_ = 0;
  pid_t postmaster_pid_ = 0;
  int port_ = 0;
};

}  // namespace mandant::bench

#endif  // MANDANT_BENCH_ENVIRONMENT_H_
