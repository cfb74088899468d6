#include "tests/support/test_controller.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "controller/auth/tokens.h"
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
    controller::store::NetworkPools pools, int pool_size) {
  std::unique_ptr<TestController> t(new TestController());
  PostgresServer& pg = SharedPostgres();
  auto db = pg.CreateMigratedDatabase();
  if (!db.ok()) return db.status();
  t->dbname_ = *db;
  auto tls = MakeLocalhostCert();
  if (!tls.ok()) return tls.status();
  t->cert_pem_ = tls->cert_pem;
  controller::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_cert_pem = tls->cert_pem;
  options.tls_key_pem = tls->key_pem;
  options.database.conninfo = pg.conninfo(t->dbname_);
  options.database.pool_size = pool_size;
  options.tenants.pools = std::move(pools);
  auto server = controller::Server::Start(std::move(options));
  if (!server.ok()) return server.status();
  t->server_ = *std::move(server);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls->cert_pem;
  t->channel_ = grpc::CreateChannel(absl::StrCat("localhost:", t->server_->port()),
                                    grpc::SslCredentials(ssl));
  return t;
}

std::string TestController::Token(controller::auth::Role role, const std::string& tenant,
                                  const std::string& subject) {
  auto token = controller::auth::CreateToken(server_->database(), subject, role, tenant,
                                             absl::Hours(1));
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

std::unique_ptr<v1::TenantService::Stub> TestController::Tenants() const {
  return v1::TenantService::NewStub(channel_);
}

absl::StatusOr<std::string> TestController::Sql(const std::string& sql) const {
  return SharedPostgres().Psql(dbname_, sql);
}

}  // namespace mandant::testing
