#include "controller/server.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "httplib.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/store/migrator.h"
#include "controller/store/pki_store.h"
#include "pki/encoding.h"

namespace mandant::controller {
namespace {

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& hostport,
                                                          absl::string_view key) {
  auto colon = hostport.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(hostport.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": \"", hostport, "\" is not host:port (port 0-65535)"));
  }
  std::string host = hostport.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options) {
  std::unique_ptr<Server> s(new Server());
  MANDANT_ASSIGN_OR_RETURN(s->db_, store::Database::Create(options.database));
  MANDANT_RETURN_IF_ERROR(s->db_->Run("check schema", [](store::Connection& conn) {
    return store::CheckSchema(conn, store::BuiltinMigrations()).status();
  }));
  s->authenticator_ = std::make_unique<auth::TokenAuthenticator>(s->db_.get());
  if (!options.keys) {
    return absl::FailedPreconditionError(
        "pki.kek_file: a key-encryption key is required (it opens the CA keys); see "
        "docs/operations.md");
  }
  s->issuers_ = std::make_unique<Issuers>(options.pki, *std::move(options.keys));
  s->certificate_authenticator_ =
      std::make_unique<auth::CertificateAuthenticator>(s->db_.get(), options.pki.trust_domain);
  s->deps_ = api::ServiceDeps{s->db_.get(), s->authenticator_.get(), &s->metrics_,
                              s->issuers_.get(), s->certificate_authenticator_.get()};

  // The serving certificate, and the CAs whose client certificates are
  // accepted (mTLS is optional: bearer tokens remain for the portal).
  std::string client_cas;
  MANDANT_RETURN_IF_ERROR(
      s->db_->Transact("serving identity", [&](store::Connection& conn) -> absl::Status {
        const absl::Time now = absl::Now();
        if (options.tls_cert_pem.empty() && options.tls_key_pem.empty()) {
          MANDANT_ASSIGN_OR_RETURN(
              ServingIdentity identity,
              s->issuers_->IssueServingIdentity(conn, options.server_names,
                                                options.serving_certificate_ttl, now));
          options.tls_cert_pem = identity.cert_chain_pem;
          options.tls_key_pem = std::string(identity.key_pem.view());
          s->self_issued_ = true;
          s->serving_not_after_ = identity.not_after;
          MANDANT_LOG(info, "serving certificate issued",
                      {{"names", absl::StrJoin(options.server_names, ",")},
                       {"not_after", absl::FormatTime(identity.not_after)}});
        }
        MANDANT_ASSIGN_OR_RETURN(client_cas, s->issuers_->InfrastructureBundle(conn, now));
        return absl::OkStatus();
      }));
  options.tenants.pools.external_networks = options.edge.external_networks;
  s->tenant_service_ =
      std::make_unique<api::TenantServiceImpl>(s->deps_, std::move(options.tenants));
  s->edge_service_ = std::make_unique<api::EdgeServiceImpl>(s->deps_, options.edge);
  s->certificate_service_ =
      std::make_unique<api::CertificateServiceImpl>(s->deps_, s->issuers_.get());
  s->host_service_ = std::make_unique<api::HostServiceImpl>(s->deps_, options.agents.lease);
  options.agents.conninfo = options.database.conninfo;
  options.agents.password = options.database.password;
  options.agents.edge = options.edge;
  s->agent_service_ = std::make_unique<AgentServiceImpl>(s->deps_, options.agents);
  s->edge_reconciler_ = std::make_unique<EdgeReconciler>(EdgeReconciler::Options{
      s->db_.get(), options.edge, options.database.conninfo, options.database.password});
  s->egress_log_maintenance_ = std::make_unique<EgressLogMaintenance>(
      EgressLogMaintenance::Options{s->db_.get(), options.edge.egress_log_retention});

  store::Database* db = s->db_.get();
  s->metrics_.Describe("mandant_rpc_requests_total", "gRPC calls by method and status code.");
  s->metrics_.Describe("mandant_rpc_duration_seconds", "gRPC call latency by method.");
  s->metrics_.AddGauge("mandant_db_pool_connections", "Open database connections.",
                       [db] { return db->stats().size; });
  s->metrics_.AddGauge("mandant_db_pool_in_use", "Database connections handed out.",
                       [db] { return db->stats().in_use; });
  s->metrics_.AddGauge("mandant_db_pool_waiting", "Callers waiting for a database connection.",
                       [db] { return db->stats().waiting; });
  s->metrics_.AddGauge("mandant_db_pool_max", "Configured database pool size.",
                       [db] { return db->options().pool_size; });
  s->metrics_.AddGauge("mandant_db_transaction_retries_total",
                       "Transaction attempts retried after a conflict or a lost connection.",
                       [db] { return static_cast<double>(db->stats().retries_total); });

  AgentServiceImpl* agents = s->agent_service_.get();
  s->metrics_.AddGauge("mandant_agent_streams", "Agents' streams this replica holds.",
                       [agents] { return agents->connected(); });

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  MANDANT_ASSIGN_OR_RETURN(
      s->serving_, ServingCredentials::Create(options.tls_key_pem, options.tls_cert_pem, client_cas,
                                              options.tls_refresh_seconds));
  s->server_names_ = options.server_names;
  s->serving_ttl_ = options.serving_certificate_ttl;
  s->renew_before_ = options.renew_before > absl::ZeroDuration()
                         ? options.renew_before
                         : options.serving_certificate_ttl / 3;
  s->serving_key_pem_ = options.tls_key_pem;
  s->serving_cert_pem_ = options.tls_cert_pem;
  grpc::ServerBuilder builder;
  std::vector<std::string> addresses = absl::StrSplit(options.listen, ',', absl::SkipEmpty());
  std::vector<int> ports(addresses.size(), 0);
  for (size_t i = 0; i < addresses.size(); ++i) {
    builder.AddListeningPort(addresses[i], s->serving_->credentials(), &ports[i]);
  }
  builder.RegisterService(s->tenant_service_.get());
  builder.RegisterService(s->certificate_service_.get());
  builder.RegisterService(s->host_service_.get());
  builder.RegisterService(s->edge_service_.get());
  builder.RegisterService(s->agent_service_.get());
  // A HostSpec carries every VM's seed (agent.proto).
  builder.SetMaxReceiveMessageSize(32 << 20);
  builder.SetMaxSendMessageSize(32 << 20);
  // One completion queue: the default is one per core, each with its own
  // poller threads, and on a small host they mostly wake each other.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  s->grpc_ = builder.BuildAndStart();
  if (!ports.empty()) s->port_ = ports.front();
  if (s->grpc_ == nullptr || ports.empty() ||
      std::find(ports.begin(), ports.end(), 0) != ports.end()) {
    return absl::UnavailableError(
        absl::StrCat("listen: cannot serve gRPC on ", options.listen,
                     " (address in use, not local, or bad TLS certificate/key)"));
  }
  s->grpc_->GetHealthCheckService()->SetServingStatus(true);

  if (!options.metrics_listen.empty()) {
    MANDANT_ASSIGN_OR_RETURN(auto hp, SplitHostPort(options.metrics_listen, "metrics_listen"));
    s->http_ = std::make_unique<httplib::Server>();
    Server* self = s.get();
    s->http_->Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
      res.set_content(self->metrics_.RenderPrometheus(), "text/plain; version=0.0.4");
    });
    s->http_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok\n", "text/plain");
    });
    s->http_->Get("/readyz", [self](const httplib::Request&, httplib::Response& res) {
      absl::Status st = self->db_->Ping();
      res.status = st.ok() ? 200 : 503;
      if (!st.ok()) {
        // The endpoint is public: the database's text stays in the log.
        MANDANT_LOG(warn, "not ready", {{"error", st}});
      }
      res.set_content(st.ok() ? "ok\n" : "database unavailable\n", "text/plain");
    });
    // CRL distribution points named in issued certificates: public, as
    // RFC 5280 expects, "/crl/{issuer id}.crl" (DER) or ".pem".
    s->http_->Get(R"(/crl/([0-9]{8}-[0-9a-f]{8})\.(crl|pem))",
                  [self](const httplib::Request& req, httplib::Response& res) {
                    self->ServeCrl(req.matches[1], req.matches[2] == "pem", res);
                  });
    if (hp.second == 0) {
      s->metrics_port_ = s->http_->bind_to_any_port(hp.first);
    } else if (s->http_->bind_to_port(hp.first, hp.second)) {
      s->metrics_port_ = hp.second;
    }
    if (s->metrics_port_ <= 0) {
      s->grpc_->Shutdown();
      return absl::UnavailableError(
          absl::StrCat("metrics_listen: cannot listen on ", options.metrics_listen));
    }
    s->http_thread_ = std::thread([self] { self->http_->listen_after_bind(); });
  }
  MANDANT_LOG(info, "serving", {{"grpc_port", s->port_}, {"metrics_port", s->metrics_port_}});
  {
    Server* self = s.get();
    const absl::Duration interval = options.renew_check_interval;
    s->renew_thread_ = std::thread([self, interval] { self->RenewLoop(interval); });
  }
  return s;
}

void Server::ServeCrl(const std::string& issuer_id, bool pem, httplib::Response& res) {
  store::PkiStore pki_store;
  std::string der;
  absl::Status st = db_->Transact("serve crl", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(store::IssuerRow stored, pki_store.GetIssuerById(conn, issuer_id));
    MANDANT_ASSIGN_OR_RETURN(store::IssuerRow row,
                             issuers_->RefreshCrl(conn, std::move(stored), absl::Now()));
    der = std::move(row.crl_der);
    return absl::OkStatus();
  });
  if (!st.ok()) {
    res.status = absl::IsNotFound(st) ? 404 : 503;
    if (!absl::IsNotFound(st)) {
      MANDANT_LOG(warn, "CRL not served", {{"issuer", issuer_id}, {"error", st}});
    }
    res.set_content(absl::IsNotFound(st) ? "no such issuer\n" : "CRL temporarily unavailable\n",
                    "text/plain");
    return;
  }
  if (!pem) {
    res.set_content(der, "application/pkix-crl");
    return;
  }
  auto crl = pki::ParseCrl(der);
  auto text = crl.ok() ? pki::CrlToPem(crl->get()) : crl.status();
  if (!text.ok()) {
    res.status = 500;
    return;
  }
  res.set_content(*text, "application/x-pem-file");
}

void Server::RenewLoop(absl::Duration interval) {
  absl::MutexLock lock(&renew_mu_);
  while (!renew_mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval)) {
    renew_mu_.Unlock();
    if (absl::Status st = RenewOnce(); !st.ok()) {
      MANDANT_LOG(warn, "serving credentials not refreshed; retrying later",
                  {{"error", st.message()}});
    }
    renew_mu_.Lock();
  }
}

absl::Status Server::RenewOnce() {
  std::string client_cas;
  bool renewed = false;
  MANDANT_RETURN_IF_ERROR(
      db_->Transact("refresh serving credentials", [&](store::Connection& conn) -> absl::Status {
        const absl::Time now = absl::Now();
        if (self_issued_ && now >= serving_not_after_ - renew_before_) {
          MANDANT_ASSIGN_OR_RETURN(
              ServingIdentity identity,
              issuers_->IssueServingIdentity(conn, server_names_, serving_ttl_, now));
          serving_key_pem_ = std::string(identity.key_pem.view());
          serving_cert_pem_ = identity.cert_chain_pem;
          serving_not_after_ = identity.not_after;
          renewed = true;
        }
        MANDANT_ASSIGN_OR_RETURN(client_cas, issuers_->InfrastructureBundle(conn, now));
        return absl::OkStatus();
      }));
  MANDANT_RETURN_IF_ERROR(serving_->Update(serving_key_pem_, serving_cert_pem_, client_cas));
  if (renewed) {
    MANDANT_LOG(info, "serving certificate renewed",
                {{"not_after", absl::FormatTime(serving_not_after_)}});
  }
  return absl::OkStatus();
}

void Server::Shutdown(absl::Duration grace) {
  if (shut_down_ || grpc_ == nullptr) return;
  shut_down_ = true;
  {
    absl::MutexLock lock(&renew_mu_);
    stopping_ = true;
  }
  if (renew_thread_.joinable()) renew_thread_.join();
  grpc_->GetHealthCheckService()->SetServingStatus(false);
  // Agents' streams never end on their own; they reconnect elsewhere.
  agent_service_->EndAllStreams();
  edge_reconciler_.reset();
  egress_log_maintenance_.reset();
  grpc_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  if (http_) http_->stop();
  if (http_thread_.joinable()) http_thread_.join();
}

void Server::Wait() {
  if (grpc_ != nullptr) grpc_->Wait();
}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

}  // namespace mandant::controller
