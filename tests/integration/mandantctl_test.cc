// The mandantctl binary against a real mandantd (in-process, TLS) and
// PostgreSQL: what an operator types and reads.

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/support/agent_client.h"
#include "tests/support/host_test_base.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_controller.h"
#include "tests/support/test_tls.h"

namespace mandant {
namespace {

using controller::auth::Role;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t FileMode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

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

TEST_F(MandantctlTest, HostLifecycle) {
  // create --out-token: the token goes to a private file, and nowhere else.
  const std::string token_file = dir_ + "/hv1.token";
  auto created = Ctl({"host", "create", "hv1", "--underlay-address", "10.0.0.1", "--token-ttl",
                      "2h", "--out-token", token_file});
  ASSERT_OK(created);
  EXPECT_THAT(*created, HasSubstr("hosts/hv1"));
  EXPECT_THAT(*created, HasSubstr("written to " + token_file + " (mode 0600)"));
  const std::string token(absl::StripTrailingAsciiWhitespace(ReadFile(token_file)));
  EXPECT_THAT(token, StartsWith("mandant-bootstrap-"));
  EXPECT_EQ(FileMode(token_file), 0600u);
  EXPECT_THAT(*created, Not(HasSubstr(token)));  // stdout and stderr together

  // The file holds the real token: an agent enrolls with it.
  ASSERT_OK(testing::EnrollNewKey(*controller_, "hosts/hv1", token));

  // The same file again is refused before anything is sent.
  auto again =
      Ctl({"host", "create", "hv2", "--underlay-address", "10.0.0.2", "--out-token", token_file});
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("--force"));
  EXPECT_THAT(Ctl({"host", "get", "hv2"}),
              testing::StatusIs(absl::StatusCode::kInternal, "NOT_FOUND"));

  // Without --out-token the token is printed once, labelled.
  auto printed = Ctl({"host", "create", "hv2", "--underlay-address", "10.0.0.2"});
  ASSERT_OK(printed);
  EXPECT_THAT(*printed, HasSubstr("Bootstrap token: mandant-bootstrap-"));

  auto table = Ctl({"host", "list"});
  ASSERT_OK(table);
  EXPECT_THAT(*table, HasSubstr("NAME"));
  EXPECT_THAT(*table, HasSubstr("UNDERLAY"));
  EXPECT_THAT(*table, HasSubstr("hv1"));
  EXPECT_THAT(*table, HasSubstr("10.0.0.2"));
  auto all = Ctl({"host", "list", "--all", "--page-size", "1", "-o", "json"});
  ASSERT_OK(all);
  nlohmann::json list = nlohmann::json::parse(*all);
  ASSERT_EQ(list["hosts"].size(), 2u) << *all;
  EXPECT_EQ(list["hosts"][0]["name"], "hosts/hv1");
  EXPECT_EQ(list["hosts"][1]["name"], "hosts/hv2");

  auto got = Ctl({"host", "get", "hv1", "-o", "json"});
  ASSERT_OK(got);
  nlohmann::json h = nlohmann::json::parse(*got);
  EXPECT_EQ(h["underlay_address"], "10.0.0.1");
  EXPECT_EQ(h["cordoned"], false);
  const std::string etag = h["etag"];

  auto cordoned = Ctl({"host", "cordon", "hv1", "--reason", "disk replacement", "--etag", etag});
  ASSERT_OK(cordoned);
  EXPECT_THAT(*cordoned, HasSubstr("host \"hv1\" cordoned (disk replacement)"));
  h = nlohmann::json::parse(*Ctl({"host", "get", "hv1", "-o", "json"}));
  EXPECT_EQ(h["cordoned"], true);
  EXPECT_EQ(h["cordon_reason"], "disk replacement");
  // The etag read before the cordon no longer matches.
  auto stale = Ctl({"host", "uncordon", "hv1", "--etag", etag});
  ASSERT_FALSE(stale.ok());
  EXPECT_THAT(std::string(stale.status().message()), HasSubstr("ABORTED"));
  EXPECT_THAT(std::string(stale.status().message()), HasSubstr("mandantctl host get hv1"));

  ASSERT_OK(Ctl({"host", "uncordon", "hv1"}));
  h = nlohmann::json::parse(*Ctl({"host", "get", "hv1", "-o", "json"}));
  EXPECT_EQ(h["cordoned"], false);

  // A new token replaces the old one, into a new file or printed.
  const std::string new_file = dir_ + "/hv1-new.token";
  auto reissued = Ctl({"host", "token", "hv1", "--out-token", new_file});
  ASSERT_OK(reissued);
  const std::string new_token(absl::StripTrailingAsciiWhitespace(ReadFile(new_file)));
  EXPECT_THAT(new_token, StartsWith("mandant-bootstrap-"));
  EXPECT_NE(new_token, token);
  EXPECT_EQ(FileMode(new_file), 0600u);
  EXPECT_THAT(*reissued, Not(HasSubstr(new_token)));
  auto as_json = Ctl({"host", "token", "hv1", "-o", "json"});
  ASSERT_OK(as_json);
  const std::string json_text = as_json->substr(as_json->find('{'));
  nlohmann::json issued = nlohmann::json::parse(json_text.substr(0, json_text.rfind('}') + 1));
  EXPECT_THAT(std::string(issued["bootstrap_token"]["token"]), StartsWith("mandant-bootstrap-"));
  EXPECT_NE(issued["bootstrap_token"]["token"], new_token);

  // Delete is refused while a VM is placed on the host, one line per machine.
  ASSERT_OK(Ctl({"tenant", "create", "acme"}));
  auto machine = testing::PlaceMachine(*controller_, "acme", "cp-1", "hv1", 1);
  ASSERT_OK(machine);
  auto refused = Ctl({"host", "delete", "hv1"});
  ASSERT_FALSE(refused.ok());
  const std::string why(refused.status().message());
  EXPECT_THAT(why, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(why, HasSubstr("\n  - MACHINE_PLACED tenants/acme/clusters/prod/machines/cp-1: "));
  EXPECT_THAT(why, HasSubstr("mandantctl host cordon hv1"));
  ASSERT_OK(testing::DeleteMachine(*controller_, *machine));

  auto deleted = Ctl({"host", "delete", "hv1"});
  ASSERT_OK(deleted);
  EXPECT_THAT(*deleted, HasSubstr("host \"hv1\" deleted"));
  EXPECT_THAT(Ctl({"host", "get", "hv1"}),
              testing::StatusIs(absl::StatusCode::kInternal, "NOT_FOUND"));
}

TEST_F(MandantctlTest, HostsAreForProviderAdminsOnly) {
  ASSERT_OK(Ctl({"tenant", "create", "acme"}));
  WriteToken("acme.token", controller_->Token(Role::kTenantAdmin, "acme", "alice"));
  auto out = Ctl({"host", "create", "hv1", "--underlay-address", "10.0.0.1"}, "acme.token");
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(std::string(out.status().message()), Not(HasSubstr("mandant-bootstrap-")));
  EXPECT_THAT(Ctl({"host", "list"}, "acme.token"),
              testing::StatusIs(absl::StatusCode::kInternal, "PERMISSION_DENIED"));
}

TEST_F(MandantctlTest, ReadableTokenFileIsRefused) {
  const std::string path = dir_ + "/loose.token";
  std::ofstream(path) << controller_->Token(Role::kProviderAdmin) << "\n";
  chmod(path.c_str(), 0644);
  auto out = Ctl({"tenant", "list"}, "loose.token");
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("chmod 600"));
}

TEST_F(MandantctlTest, EgressPolicyAndEgressLog) {
  ASSERT_OK(Ctl({"tenant", "create", "acme"}));
  ASSERT_OK(Ctl({"tenant", "create", "beta"}));

  // The policy: rules in the --rule form, shown back in the same form.
  auto set = Ctl({"tenant", "egress-policy", "set", "acme", "--default", "deny", "--rule",
                  "allow tcp 192.0.2.0/24 443", "--rule", "allow udp 198.51.100.53/32 53"});
  ASSERT_OK(set);
  EXPECT_THAT(*set, HasSubstr("Default:"));
  EXPECT_THAT(*set, HasSubstr("1. allow tcp 192.0.2.0/24 443"));
  EXPECT_THAT(*set, HasSubstr("2. allow udp 198.51.100.53/32 53"));
  auto json = Ctl({"tenant", "egress-policy", "get", "acme", "-o", "json"});
  ASSERT_OK(json);
  nlohmann::json policy = nlohmann::json::parse(*json);
  EXPECT_EQ(policy["default_action"], "EGRESS_ACTION_DENY");
  EXPECT_EQ(policy["rules"].size(), 2u);
  // A stale etag is refused with a hint; a rule the server refuses is named.
  auto stale = Ctl(
      {"tenant", "egress-policy", "set", "acme", "--default", "allow", "--etag", "00000000-p1"});
  ASSERT_FALSE(stale.ok());
  EXPECT_THAT(stale.status().message(), HasSubstr("ABORTED"));
  EXPECT_THAT(stale.status().message(), HasSubstr("mandantctl tenant egress-policy get acme"));
  auto refused =
      Ctl({"tenant", "egress-policy", "set", "acme", "--rule", "allow tcp 192.0.2.1/24 443"});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("policy.rules[0].destination_cidr"));
  // What cannot be sent at all is refused before anything is.
  auto usage = Ctl({"tenant", "egress-policy", "set", "acme", "--rule", "permit tcp 0.0.0.0/0"});
  ASSERT_FALSE(usage.ok());
  EXPECT_THAT(usage.status().message(), HasSubstr("is not an action; use allow or deny"));
  auto cleared = Ctl({"tenant", "egress-policy", "set", "acme", "--clear-rules"});
  ASSERT_OK(cleared);
  EXPECT_THAT(*cleared, HasSubstr("the default decides"));

  // The edge: no machines yet, so not placed.
  auto edge = Ctl({"tenant", "edge", "acme"});
  ASSERT_OK(edge);
  EXPECT_THAT(*edge, HasSubstr("Placed:"));
  EXPECT_THAT(*edge, HasSubstr("NoMachines"));

  // The log, seeded straight into the table: one older allowed event, one
  // recent denied one. Both within the last hour: mandantd keeps partitions
  // from the day an hour ago onwards (agents' times are clamped to that).
  ASSERT_OK(Ctl({"host", "create", "hv1", "--underlay-address", "10.0.0.1", "--out-token",
                 dir_ + "/hv1.token"}));
  ASSERT_OK(
      controller_->Sql("INSERT INTO egress_events (tenant_id, time, host_id, source_address, "
                       "destination_address, destination_port, protocol, allowed) "
                       "SELECT t.id, now() - interval '40 minutes', h.id, '10.80.0.7'::inet, "
                       "'192.0.2.10'::inet, 443, 6, true "
                       "FROM tenants t, hosts h WHERE t.name = 'acme' AND h.name = 'hv1' UNION ALL "
                       "SELECT t.id, now() - interval '1 minute', h.id, '10.80.0.7'::inet, "
                       "'203.0.113.5'::inet, 22, 6, false "
                       "FROM tenants t, hosts h WHERE t.name = 'acme' AND h.name = 'hv1'"));
  auto log = Ctl({"tenant", "egress-log", "acme"});
  ASSERT_OK(log);
  EXPECT_THAT(*log, HasSubstr("DESTINATION"));
  EXPECT_THAT(*log, HasSubstr("192.0.2.10:443"));
  EXPECT_THAT(*log, HasSubstr("203.0.113.5:22"));
  EXPECT_LT(log->find("203.0.113.5"), log->find("192.0.2.10"));  // newest first
  auto denied = Ctl({"tenant", "egress-log", "acme", "--denied", "-o", "json"});
  ASSERT_OK(denied);
  nlohmann::json events = nlohmann::json::parse(*denied);
  ASSERT_EQ(events["events"].size(), 1u);
  EXPECT_EQ(events["events"][0]["action"], "EGRESS_ACTION_DENY");
  EXPECT_EQ(events["events"][0]["host"], "hosts/hv1");
  auto recent = Ctl({"tenant", "egress-log", "acme", "--since", "20m"});
  ASSERT_OK(recent);
  EXPECT_THAT(*recent, HasSubstr("203.0.113.5"));
  EXPECT_THAT(*recent, Not(HasSubstr("192.0.2.10")));
  auto bad_since = Ctl({"tenant", "egress-log", "acme", "--since", "yesterday"});
  ASSERT_FALSE(bad_since.ok());
  EXPECT_THAT(bad_since.status().message(), HasSubstr("RFC 3339"));

  // Another tenant's admin finds neither log nor policy.
  WriteToken("beta.token", controller_->Token(Role::kTenantAdmin, "beta", "bob"));
  EXPECT_THAT(Ctl({"tenant", "egress-log", "acme"}, "beta.token"),
              testing::StatusIs(absl::StatusCode::kInternal, "tenant \"acme\" not found"));
  EXPECT_THAT(Ctl({"tenant", "egress-policy", "get", "acme"}, "beta.token"),
              testing::StatusIs(absl::StatusCode::kInternal, "NOT_FOUND"));
  auto empty = Ctl({"tenant", "egress-log", "beta"}, "beta.token");
  ASSERT_OK(empty);
  EXPECT_THAT(*empty, HasSubstr("No egress events found."));
}

}  // namespace
}  // namespace mandant
