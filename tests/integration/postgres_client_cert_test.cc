// mandantd reaching PostgreSQL with an X.509 client certificate from
// Mandant's infrastructure CA (pg_hba "hostssl ... cert", libpq
// sslmode=verify-full), set up with the real admin commands: migrate,
// pki init, pki issue.

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

#include "controller/auth/tokens.h"
#include "controller/config.h"
#include "controller/server.h"
#include "controller/store/pg.h"
#include "mandant/v1/tenant.grpc.pb.h"
#include "pki/kek.h"
#include "tests/support/postgres_server.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_tls.h"

namespace mandant {
namespace {

using ::testing::HasSubstr;

class PostgresClientCertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = testing::PostgresServer::Start();
    ASSERT_OK(pg);
    pg_ = *std::move(pg);
    auto dir = testing::MakeTempDir("mandant-pgcert");
    ASSERT_OK(dir);
    dir_ = *dir;
    ASSERT_OK(pg_->Psql("postgres", "CREATE ROLE mandant LOGIN").status());
    ASSERT_OK(pg_->Psql("postgres", "CREATE DATABASE mandant OWNER mandant").status());
    ASSERT_OK(pg_->Psql("mandant", "CREATE EXTENSION btree_gist").status());

    auto kek = pki::Kek::Generate("pgcert-test");
    ASSERT_OK(kek);
    {
      std::ofstream out(dir_ + "/kek");
      out << kek->ToText().view() << "\n";
    }
    chmod((dir_ + "/kek").c_str(), 0600);

    // Bootstrap over the Unix socket (the only way in before certificates
    // exist), exactly as an operator would.
    const std::string socket_dir = pg_->conninfo("x").substr(5, pg_->conninfo("x").find(' ') - 5);
    WriteConfig(
        absl::StrCat("host=", socket_dir, " port=", pg_->port(), " dbname=mandant user=mandant"));
    ASSERT_OK(Mandantd({"migrate"}).status());
    ASSERT_OK(Mandantd({"pki", "init", "--output", dir_ + "/root.crt"}).status());
    ASSERT_OK(Mandantd({"pki", "issue", "--usage", "server", "--dns", "localhost", "--ip",
                        "127.0.0.1", "--cert_out", dir_ + "/pg.crt", "--key_out", dir_ + "/pg.key"})
                  .status());
    ASSERT_OK(Mandantd({"pki", "issue", "--usage", "client", "--common_name", "mandant",
                        "--cert_out", dir_ + "/client.crt", "--key_out", dir_ + "/client.key"})
                  .status());
    ASSERT_OK(Mandantd({"pki", "issue", "--usage", "client", "--common_name", "intruder",
                        "--cert_out", dir_ + "/other.crt", "--key_out", dir_ + "/other.key"})
                  .status());
    struct stat st;
    ASSERT_EQ(stat((dir_ + "/client.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    ASSERT_OK(pg_->EnableClientCertificateAuth(Read("pg.crt"), Read("pg.key"), Read("root.crt"),
                                               "mandant"));
  }

  void TearDown() override { testing::RemoveTree(dir_); }

  std::string Read(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  void WriteConfig(const std::string& conninfo) {
    std::ofstream(dir_ + "/mandantd.yaml") << "listen: \"127.0.0.1:0\"\nmetrics_listen: \"\"\n"
                                           << "database:\n  conninfo: \"" << conninfo << "\"\n"
                                           << "pki: {kek_file: \"" << dir_ << "/kek\"}\n";
  }

  absl::StatusOr<std::string> Mandantd(std::vector<std::string> args) {
    args.insert(args.begin(), MANDANTD_PATH);
    args.push_back("--config");
    args.push_back(dir_ + "/mandantd.yaml");
    return testing::RunCommand(args);
  }

  // libpq over TCP with TLS verified against Mandant's root.
  std::string TlsConninfo(const std::string& cert, const std::string& key) {
    std::string c = absl::StrCat(
        "host=localhost hostaddr=127.0.0.1 port=", pg_->port(),
        " dbname=mandant user=mandant sslmode=verify-full sslrootcert=", dir_, "/root.crt");
    if (!cert.empty())
      absl::StrAppend(&c, " sslcert=", dir_, "/", cert, " sslkey=", dir_, "/", key);
    return c;
  }

  std::unique_ptr<testing::PostgresServer> pg_;
  std::string dir_;
};

TEST_F(PostgresClientCertTest, MandantdServesWithACertificateAuthenticatedDatabase) {
  const std::string conninfo = TlsConninfo("client.crt", "client.key");
  auto conn = controller::store::Connection::Open(conninfo, "");
  ASSERT_OK(conn);
  auto ssl =
      (*conn)->Query("SELECT ssl::text, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
  ASSERT_OK(ssl);
  EXPECT_EQ(ssl->Text(0, 0), "true");
  EXPECT_EQ(ssl->Text(0, 1), "/CN=mandant");

  // The whole server on that connection: it migrates nothing, checks the
  // schema, issues itself a certificate and creates a tenant.
  WriteConfig(conninfo);
  auto config = controller::LoadConfig(dir_ + "/mandantd.yaml");
  ASSERT_OK(config);
  controller::ServerOptions options;
  options.listen = "127.0.0.1:0";
  auto db = controller::DatabaseOptionsFrom(*config);
  ASSERT_OK(db);
  options.database = *db;
  options.tenants.pools = config->pools;
  auto keys = controller::KeyRingFrom(*config);
  ASSERT_OK(keys);
  options.keys = *std::move(keys);
  auto server = controller::Server::Start(std::move(options));
  ASSERT_OK(server);
  auto token =
      controller::auth::CreateToken((*server)->database(), "operator",
                                    controller::auth::Role::kProviderAdmin, "", absl::Hours(1));
  ASSERT_OK(token);
  grpc::SslCredentialsOptions ssl_options;
  ssl_options.pem_root_certs = Read("root.crt");
  auto stub = v1::TenantService::NewStub(grpc::CreateChannel(
      absl::StrCat("localhost:", (*server)->port()), grpc::SslCredentials(ssl_options)));
  v1::CreateTenantRequest req;
  req.set_tenant_id("acme");
  req.mutable_tenant()->set_display_name("Acme");
  v1::Tenant tenant;
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", absl::StrCat("Bearer ", token->token));
  grpc::Status st = stub->CreateTenant(&ctx, req, &tenant);
  EXPECT_TRUE(st.ok()) << st.error_message();
}

TEST_F(PostgresClientCertTest, WithoutTheRightCertificateThereIsNoWayIn) {
  // No certificate, another role's certificate, no TLS at all.
  auto none = controller::store::Connection::Open(TlsConninfo("", ""), "");
  EXPECT_FALSE(none.ok());
  auto other = controller::store::Connection::Open(TlsConninfo("other.crt", "other.key"), "");
  EXPECT_FALSE(other.ok());
  EXPECT_THAT(std::string(other.status().message()),
              HasSubstr("certificate authentication failed"));
  auto plain = controller::store::Connection::Open(
      absl::StrCat("host=127.0.0.1 port=", pg_->port(),
                   " dbname=mandant user=mandant sslmode=disable"),
      "");
  EXPECT_FALSE(plain.ok());
  // mandantd trusting another root refuses the server.
  auto other_ca = testing::MakeLocalhostCert();
  ASSERT_OK(other_ca);
  std::ofstream(dir_ + "/other-root.crt") << other_ca->cert_pem;
  auto wrong_root = controller::store::Connection::Open(
      absl::StrCat("host=localhost hostaddr=127.0.0.1 port=", pg_->port(),
                   " dbname=mandant user=mandant sslmode=verify-full sslrootcert=", dir_,
                   "/other-root.crt sslcert=", dir_, "/client.crt sslkey=", dir_, "/client.key"),
      "");
  EXPECT_FALSE(wrong_root.ok());
  // The right certificate still works.
  EXPECT_OK(
      controller::store::Connection::Open(TlsConninfo("client.crt", "client.key"), "").status());
}

}  // namespace
}  // namespace mandant
