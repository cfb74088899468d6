#ifndef MANDANT_TESTS_SUPPORT_TEST_CONTROLLER_H_
#define MANDANT_TESTS_SUPPORT_TEST_CONTROLLER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "controller/auth/principal.h"
#include "controller/server.h"
#include "mandant/v1/certificate.grpc.pb.h"
#include "mandant/v1/tenant.grpc.pb.h"
#include "pki/kek.h"
#include "tests/support/postgres_server.h"

namespace mandant::testing {

// The PostgreSQL server shared by all tests of one test binary, started on
// first use and stopped at exit.
PostgresServer& SharedPostgres();

// The network pools tests use unless they need others: a VNI pool of 1000,
// /16 supernets (256 tenants of /24).
controller::store::NetworkPools TestPools();

// A real mandantd server (in this process, gRPC over TLS on a free port) on a
// fresh migrated database of the shared PostgreSQL server, with helpers for
// tokens and client stubs.
class TestController {
 public:
  // `adjust`, when given, changes the server options before the start.
  static absl::StatusOr<std::unique_ptr<TestController>> Start(
      controller::store::NetworkPools pools = TestPools(), int pool_size = 8,
      std::function<void(controller::ServerOptions&)> adjust = nullptr);

  // A bearer token for a new principal. `tenant` for tenant roles.
  std::string Token(controller::auth::Role role, const std::string& tenant = "",
                    const std::string& subject = "test");
  // A client context with the token and a deadline.
  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token);

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  std::unique_ptr<v1::TenantService::Stub> Tenants() const;
  std::unique_ptr<v1::CertificateService::Stub> Certificates() const;
  // A ring holding this controller's KEK (as mandantd's configuration would).
  absl::StatusOr<pki::KeyRing> KeyRing() const;

  controller::Server& server() { return *server_; }
  // The Mandant root certificate, which clients trust.
  const std::string& server_cert_pem() const { return cert_pem_; }
  const std::string& dbname() const { return dbname_; }
  // Runs SQL in this controller's database.
  absl::StatusOr<std::string> Sql(const std::string& sql) const;

 private:
  TestController() = default;
  std::string dbname_;
  std::string cert_pem_;
  // The KEK's text form; a test secret, never a real one.
  std::string kek_text_;
  std::unique_ptr<controller::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace mandant::testing

#endif  // MANDANT_TESTS_SUPPORT_TEST_CONTROLLER_H_
