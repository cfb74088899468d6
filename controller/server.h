#ifndef MANDANT_CONTROLLER_SERVER_H_
#define MANDANT_CONTROLLER_SERVER_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

#include "controller/agents/agent_service.h"
#include "controller/api/certificate_service.h"
#include "controller/api/edge_service.h"
#include "controller/api/host_service.h"
#include "controller/api/rpc_call.h"
#include "controller/api/tenant_service.h"
#include "controller/auth/tokens.h"
#include "controller/edge/edge_reconciler.h"
#include "controller/edge/egress_log_maintenance.h"
#include "controller/metrics.h"
#include "controller/pki/issuers.h"
#include "controller/serving_credentials.h"
#include "controller/store/database.h"

namespace httplib {
class Server;
struct Response;
}  // namespace httplib

namespace mandant::controller {

struct ServerOptions {
  // gRPC over TLS on one or more comma-separated addresses, e.g.
  // "127.0.0.1:7443,10.0.0.5:7443"; port 0 picks a free port (see
  // Server::port(), the first address's).
  std::string listen = "127.0.0.1:0";
  // The serving certificate (chain) and key from files; when both are
  // empty, mandantd issues itself one from the infrastructure issuer for
  // `server_names`, with a key that exists only in memory.
  std::string tls_cert_pem;
  std::string tls_key_pem;  // kept in memory only
  std::vector<std::string> server_names = {"localhost", "127.0.0.1"};
  absl::Duration serving_certificate_ttl = absl::Hours(24 * 30);
  // A self-issued serving certificate is renewed once less than this is
  // left (zero: a third of its lifetime), checked every
  // `renew_check_interval`; the client CAs are refreshed at each check too.
  absl::Duration renew_before = absl::ZeroDuration();
  absl::Duration renew_check_interval = absl::Minutes(10);
  // How often gRPC re-reads the serving credentials.
  unsigned tls_refresh_seconds = 60;
  // Plain HTTP for /metrics, /healthz, /readyz; empty disables it.
  std::string metrics_listen;
  store::DatabaseOptions database;
  api::TenantServiceOptions tenants;
  // Agents' leases and certificates; its conninfo and password are taken
  // from `database`.
  AgentServiceOptions agents;
  // Tenant edges; also handed to the tenant service (egress addresses) and
  // the agents' sessions (EdgeSpecs).
  EdgeSettings edge;
  PkiOptions pki;
  // The key-encryption keys that open the CA keys; required.
  std::optional<pki::KeyRing> keys;
};

// mandantd's serving part: the gRPC API, health, reflection and the metrics
// endpoint, over one database pool.
class Server {
 public:
  // Connects to the database, checks the schema is migrated to exactly this
  // binary's version and starts listening. FAILED_PRECONDITION when the schema
  // is missing, behind or ahead; UNAVAILABLE when a port cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options);
  ~Server();

  // The gRPC port actually bound.
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }

  // Stops taking new calls, lets running ones finish for up to `grace`, then
  // cancels the rest. Safe to call more than once.
  void Shutdown(absl::Duration grace);
  // Blocks until Shutdown has finished.
  void Wait();

  store::Database& database() { return *db_; }
  AgentServiceImpl& agents() { return *agent_service_; }
  EdgeReconciler& edge_reconciler() { return *edge_reconciler_; }
  Metrics& metrics() { return metrics_; }

 private:
  Server() = default;
  void ServeCrl(const std::string& issuer_id, bool pem, httplib::Response& res);
  // The renewal thread's body and one round of it.
  void RenewLoop(absl::Duration interval);
  absl::Status RenewOnce();

  Metrics metrics_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<auth::TokenAuthenticator> authenticator_;
  std::unique_ptr<auth::CertificateAuthenticator> certificate_authenticator_;
  api::ServiceDeps deps_;
  std::unique_ptr<Issuers> issuers_;
  std::unique_ptr<ServingCredentials> serving_;
  // The current serving identity; renewed in place when self-issued.
  bool self_issued_ = false;
  std::vector<std::string> server_names_;
  absl::Duration serving_ttl_;
  absl::Duration renew_before_;
  std::string serving_key_pem_;
  std::string serving_cert_pem_;
  absl::Time serving_not_after_ = absl::InfiniteFuture();
  absl::Mutex renew_mu_;
  bool stopping_ ABSL_GUARDED_BY(renew_mu_) = false;
  std::thread renew_thread_;
  std::unique_ptr<api::TenantServiceImpl> tenant_service_;
  std::unique_ptr<api::CertificateServiceImpl> certificate_service_;
  std::unique_ptr<api::HostServiceImpl> host_service_;
  std::unique_ptr<AgentServiceImpl> agent_service_;
  std::unique_ptr<api::EdgeServiceImpl> edge_service_;
  std::unique_ptr<EdgeReconciler> edge_reconciler_;
  std::unique_ptr<EgressLogMaintenance> egress_log_maintenance_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<httplib::Server> http_;
  std::thread http_thread_;
  int port_ = 0;
  int metrics_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_SERVER_H_
