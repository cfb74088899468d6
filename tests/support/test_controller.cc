#include "tests/support/test_controller.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

#include "common/status_macros.h"
#include "controller/auth/tokens.h"
#include "controller/pki/issuers.h"
#include "tests/support/test_tls.h"

namespace mandant::testing {

PostgresServer& SharedPostgres() {
  static PostgresServer* server = [] {
    auto s = PostgresServer::Start();
    if (!s.ok()) {
      fprintf(stderr, "cannot start PostgreSQL for the tests: %s\n",
              std::string(s.status().message()).c_str());
      std::abort();
    }
    PostgresServer* raw = s->release();
    std::atexit([] { delete server; });
    return raw;
  }();
  return *server;
}

controller::store::NetworkPools TestPools() {
  controller::store::NetworkPools pools;
  pools.vni = {5000, 5999};
  pools.node_supernet = *tenants::Cidr::Parse("10.80.0.0/16");
  pools.storage_supernet = *tenants::Cidr::Parse("10.90.0.0/16");
  pools.default_prefix_length = 24;
  return pools;
}

absl::StatusOr<std::unique_ptr<TestController>> TestController::Start(
    controller::store::NetworkPools pools, int pool_size,
    std::function<void(controller::ServerOptions&)> adjust) {
  std::unique_ptr<TestController> t(new TestController());
  PostgresServer& pg = SharedPostgres();
  auto db = pg.CreateMigratedDatabase();
  if (!db.ok()) return db.status();
  t->dbname_ = *db;
  controller::ServerOptions options;
  options.listen = "127.0.0.1:0";
  // No certificate given: the server issues itself one from the
  // infrastructure intermediate, as mandantd does in production.
  options.database.conninfo = pg.conninfo(t->dbname_);
  options.database.pool_size = pool_size;
  options.tenants.pools = std::move(pools);
  // A fresh KEK per controller; the PKI is initialized as `mandantd pki
  // init` does it, before the server starts.
  auto kek = pki::Kek::Generate("test-kek");
  if (!kek.ok()) return kek.status();
  t->kek_text_ = std::string(kek->ToText().view());
  MANDANT_ASSIGN_OR_RETURN(pki::KeyRing init_keys, t->KeyRing());
  MANDANT_ASSIGN_OR_RETURN(options.keys, t->KeyRing());
  {
    MANDANT_ASSIGN_OR_RETURN(auto conn,
                             controller::store::Connection::Open(options.database.conninfo, ""));
    controller::Issuers issuers(options.pki, std::move(init_keys));
    MANDANT_RETURN_IF_ERROR(conn->Exec("BEGIN"));
    MANDANT_RETURN_IF_ERROR(issuers.Init(*conn, absl::Now()).status());
    MANDANT_RETURN_IF_ERROR(conn->Exec("COMMIT"));
  }
  if (adjust) adjust(options);
  auto server = controller::Server::Start(std::move(options));
  if (!server.ok()) return server.status();
  t->server_ = *std::move(server);
  MANDANT_ASSIGN_OR_RETURN(
      t->cert_pem_,
      t->Sql("SELECT certificate_pem FROM pki_issuers WHERE kind = 'ROOT' AND state = 'ACTIVE'"));
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = t->cert_pem_;
  t->channel_ = grpc::CreateChannel(absl::StrCat("localhost:", t->server_->port()),
                                    grpc::SslCredentials(ssl));
  return t;
}

std::string TestController::Token(controller::auth::Role role, const std::string& tenant,
                                  const std::string& subject) {
  auto token =
      controller::auth::CreateToken(server_->database(), subject, role, tenant, absl::Hours(1));
  if (!token.ok()) {
    fprintf(stderr, "cannot create a token: %s\n", std::string(token.status().message()).c_str());
    std::abort();
  }
  return token->token;
}

std::unique_ptr<grpc::ClientContext> TestController::Context(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return ctx;
}

absl::StatusOr<pki::KeyRing> TestController::KeyRing() const {
  MANDANT_ASSIGN_OR_RETURN(pki::Kek kek, pki::Kek::Parse(kek_text_));
  return pki::KeyRing::Create(std::move(kek));
}

std::unique_ptr<v1::CertificateService::Stub> TestController::Certificates() const {
  return v1::CertificateService::NewStub(channel_);
}

std::unique_ptr<v1::TenantService::Stub> TestController::Tenants() const {
  return v1::TenantService::NewStub(channel_);
}

absl::StatusOr<std::string> TestController::Sql(const std::string& sql) const {
  return SharedPostgres().Psql(dbname_, sql);
}

}  // namespace mandant::testing
