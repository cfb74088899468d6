// The mandantctl binary against a real mandantd (in-process, TLS) and
// PostgreSQL: what an operator types and reads.

#include <sys/stat.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_controller.h"
#include "tests/support/test_tls.h"

namespace mandant {
namespace {

using controller::auth::Role;
using ::testing::HasSubstr;
using ::testing::Not;

class MandantctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = testing::TestController::Start();
    ASSERT_OK(c);
    controller_ = *std::move(c);
    auto dir = testing::MakeTempDir("mandantctl-test");
    ASSERT_OK(dir);
    dir_ = *dir;
    std::ofstream(dir_ + "/ca.crt") << controller_->server_cert_pem();
    WriteToken("operator.token", controller_->Token(Role::kProviderAdmin, "", "operator"));
  }
  void TearDown() override { testing::RemoveTree(dir_); }

  void WriteToken(const std::string& name, const std::string& token) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << token << "\n";
    chmod(path.c_str(), 0600);
  }

  // Runs mandantctl with the connection flags; the status carries the output.
  absl::StatusOr<std::string> Ctl(std::vector<std::string> args,
                                  const std::string& token_file = "operator.token") {
    std::vector<std::string> argv = {MANDANTCTL_PATH,
                                     "--server",
                                     absl::StrCat("localhost:", controller_->server().port()),
                                     "--ca-file",
                                     dir_ + "/ca.crt",
                                     "--token-file",
                                     dir_ + "/" + token_file};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunCommand(argv);
  }

  std::unique_ptr<testing::TestController> controller_;
  std::string dir_;
};

TEST_F(MandantctlTest, TenantLifecycle) {
  auto created = Ctl({"tenant", "create", "acme", "--display-name", "ACME Corp"});
  ASSERT_OK(created);
  EXPECT_THAT(*created, HasSubstr("acme"));

  auto json = Ctl({"tenant", "get", "acme", "-o", "json"});
  ASSERT_OK(json);
  nlohmann::json t = nlohmann::json::parse(*json);
  EXPECT_EQ(t["name"], "tenants/acme");
  EXPECT_EQ(t["display_name"], "ACME Corp");
  EXPECT_EQ(t["network"]["node_cidr"], "10.80.0.0/24");

  ASSERT_OK(Ctl({"tenant", "create", "beta"}));
  auto table = Ctl({"tenant", "list"});
  ASSERT_OK(table);
  EXPECT_THAT(*table, HasSubstr("NAME"));
  EXPECT_THAT(*table, HasSubstr("acme"));
  EXPECT_THAT(*table, HasSubstr("beta"));

  auto updated = Ctl({"tenant", "update", "acme", "--max-clusters", "7", "-o", "yaml"});
  ASSERT_OK(updated);
  EXPECT_THAT(*updated, HasSubstr("max_clusters: \"7\""));  // proto JSON: int64 as text

  ASSERT_OK(Ctl({"tenant", "delete", "beta"}));
  EXPECT_THAT(Ctl({"tenant", "get", "beta"}),
              testing::StatusIs(absl::StatusCode::kInternal, "NOT_FOUND"));
}

TEST_F(MandantctlTest, FieldViolationsArePrintedOnePerLine) {
  auto bad = Ctl({"tenant", "create", "Bad_Name", "--node-prefix-length", "8"});
  ASSERT_FALSE(bad.ok());
  const std::string out(bad.status().message());
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(out, HasSubstr("  - tenant_id: "));
  EXPECT_THAT(out, HasSubstr("  - tenant.network_request.node_prefix_length: "));
  auto list = Ctl({"tenant", "list", "-o", "json"});
  ASSERT_OK(list);
  EXPECT_THAT(*list, Not(HasSubstr("Bad_Name")));
}

TEST_F(MandantctlTest, TenantAdminSeesOnlyItsTenant) {
  ASSERT_OK(Ctl({"tenant", "create", "acme"}));
  ASSERT_OK(Ctl({"tenant", "create", "beta"}));
  WriteToken("acme.token", controller_->Token(Role::kTenantAdmin, "acme", "alice"));
  auto list = Ctl({"tenant", "list"}, "acme.token");
  ASSERT_OK(list);
  EXPECT_THAT(*list, HasSubstr("acme"));
  EXPECT_THAT(*list, Not(HasSubstr("beta")));
  EXPECT_THAT(Ctl({"tenant", "get", "beta"}, "acme.token"),
              testing::StatusIs(absl::StatusCode::kInternal, "tenant \"beta\" not found"));
}

TEST_F(MandantctlTest, ReadableTokenFileIsRefused) {
  const std::string path = dir_ + "/loose.token";
  std::ofstream(path) << controller_->Token(Role::kProviderAdmin) << "\n";
  chmod(path.c_str(), 0644);
  auto out = Ctl({"tenant", "list"}, "loose.token");
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("chmod 600"));
}

}  // namespace
}  // namespace mandant
