// The Mandant root kept offline: exported and removed with `mandantd pki
// export-root --remove`, mandantd runs with the intermediates only, new
// tenants' CAs wait, and `mandantd pki sign-pending` signs them (and the
// root's CRL) in a ceremony.

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_controller.h"
#include "tests/unit/pki/pki_test_util.h"

namespace mandant {
namespace {

using controller::auth::Role;
using testing::GrpcIs;
using ::testing::HasSubstr;
using testing::TestController;

class OfflineRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = TestController::Start();
    ASSERT_OK(c);
    controller_ = *std::move(c);
    admin_ = controller_->Token(Role::kProviderAdmin, "", "operator");
    auto dir = testing::MakeTempDir("mandant-offline-root");
    ASSERT_OK(dir);
    dir_ = *dir;
    auto keys = controller_->KeyRing();
    ASSERT_OK(keys);
    {
      std::ofstream out(dir_ + "/kek");
      out << keys->current().ToText().view() << "\n";
    }
    chmod((dir_ + "/kek").c_str(), 0600);
    std::ofstream(dir_ + "/mandantd.yaml")
        << "database:\n  conninfo: \"" << testing::SharedPostgres().conninfo(controller_->dbname())
        << "\"\n"
        << "pki: {kek_file: \"" << dir_ << "/kek\"}\n";
  }

  void TearDown() override { testing::RemoveTree(dir_); }

  absl::StatusOr<std::string> Mandantd(std::vector<std::string> args) {
    args.insert(args.begin(), MANDANTD_PATH);
    args.push_back("--config");
    args.push_back(dir_ + "/mandantd.yaml");
    return testing::RunCommand(args);
  }

  grpc::Status CreateTenant(const std::string& id) {
    v1::CreateTenantRequest req;
    req.set_tenant_id(id);
    req.mutable_tenant()->set_display_name(id);
    v1::Tenant t;
    auto ctx = TestController::Context(admin_);
    return controller_->Tenants()->CreateTenant(ctx.get(), req, &t);
  }

  grpc::Status Issue(const std::string& tenant, v1::IssueCertificateResponse* out) {
    auto key = pki::GenerateKey(pki::KeyType::kEcdsaP256);
    EXPECT_TRUE(key.ok());
    pki::SubjectAltNames names;
    names.dns_names = {absl::StrCat("api.", tenant, ".svc.mandant.internal")};
    auto csr = pki::BuildCsr(key->get(), "", names);
    EXPECT_TRUE(csr.ok());
    v1::IssueCertificateRequest req;
    req.set_parent(absl::StrCat("tenants/", tenant));
    req.set_csr(*pki::CsrToPem(csr->get()));
    req.add_usages(v1::CERTIFICATE_USAGE_SERVER_AUTH);
    auto ctx = TestController::Context(admin_);
    return controller_->Certificates()->IssueCertificate(ctx.get(), req, out);
  }

  std::unique_ptr<TestController> controller_;
  std::string admin_;
  std::string dir_;
};

TEST_F(OfflineRootTest, TenantsWaitForTheOfflineRootAndAreSignedInACeremony) {
  ASSERT_TRUE(CreateTenant("acme").ok());
  v1::IssueCertificateResponse acme_cert;
  ASSERT_TRUE(Issue("acme", &acme_cert).ok());

  // Export and remove: the key is in a 0600 file and no longer in the database.
  const std::string root_file = dir_ + "/root.pem";
  ASSERT_OK(Mandantd({"pki", "export-root", "--output", root_file, "--remove"}).status());
  struct stat st;
  ASSERT_EQ(stat(root_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto root_row = controller_->Sql(
      "SELECT sealed_key IS NULL, certificate_pem FROM pki_issuers "
      "WHERE kind = 'ROOT' AND state = 'ACTIVE'");
  ASSERT_OK(root_row);
  EXPECT_TRUE(absl::StartsWith(*root_row, "t|"));
  EXPECT_FALSE(Mandantd({"pki", "export-root", "--output", dir_ + "/again.pem"}).ok());

  // mandantd keeps serving with the intermediates: acme issues; a new
  // tenant is created, but its CA waits for the root.
  v1::IssueCertificateResponse resp;
  EXPECT_TRUE(Issue("acme", &resp).ok());
  ASSERT_TRUE(CreateTenant("beta").ok());
  EXPECT_THAT(Issue("beta", &resp),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION, "offline Mandant root"));
  // Deleting acme records the revocation of its CA; the root's CRL follows
  // at the ceremony.
  v1::DeleteTenantRequest del;
  del.set_name("tenants/acme");
  google::protobuf::Empty empty;
  auto ctx = TestController::Context(admin_);
  ASSERT_TRUE(controller_->Tenants()->DeleteTenant(ctx.get(), del, &empty).ok());

  // The ceremony; a wrong key is refused.
  EXPECT_FALSE(Mandantd({"pki", "sign-pending", "--root_key", dir_ + "/kek"}).ok());
  auto signed_out = Mandantd({"pki", "sign-pending", "--root_key", root_file});
  ASSERT_OK(signed_out);
  EXPECT_THAT(*signed_out, HasSubstr("signed 1 pending"));

  ASSERT_TRUE(Issue("beta", &resp).ok());
  const std::string root_pem = controller_->server_cert_pem();
  EXPECT_OK(
      pki::testing::VerifyWithOpenSslCli(resp.certificate_pem(), {root_pem}, {resp.chain_pem()}));
  // The root CRL signed at the ceremony lists acme's CA.
  auto root_id =
      controller_->Sql("SELECT id FROM pki_issuers WHERE kind = 'ROOT' AND state = 'ACTIVE'");
  ASSERT_OK(root_id);
  v1::GetCrlRequest crl_req;
  crl_req.set_name(
      absl::StrCat("infrastructure/issuers/", absl::StripAsciiWhitespace(*root_id), "/crl"));
  v1::Crl crl;
  ctx = TestController::Context(admin_);
  ASSERT_TRUE(controller_->Certificates()->GetCrl(ctx.get(), crl_req, &crl).ok());
  absl::Status verified = pki::testing::VerifyWithOpenSslCli(acme_cert.chain_pem(), {root_pem}, {},
                                                             crl.crl_pem(), {"-crl_check"});
  EXPECT_FALSE(verified.ok());
  EXPECT_THAT(std::string(verified.message()), HasSubstr("revoked"));
  EXPECT_EQ(*controller_->Sql("SELECT count(*) FROM pki_pending_issuers"), "0\n");
}

}  // namespace
}  // namespace mandant
