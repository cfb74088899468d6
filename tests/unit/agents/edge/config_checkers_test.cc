// Runs the real programs' own configuration checkers on the rendered text:
// haproxy -c, dnsmasq --test, keepalived --config-test and nft -c. Each runs
// in a fresh network namespace (unshare(CLONE_NEWNET) in a forked child)
// that has the edge's "inside" and "outside" interfaces (a veth pair), so
// nothing reaches the host's network and nft checks its transaction against
// an empty kernel. A test is skipped when its program is not installed or
// the namespace cannot be made (not root).

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agents/edge/dnsmasq_config.h"
#include "agents/edge/edge_ruleset.h"
#include "agents/edge/haproxy_config.h"
#include "agents/edge/keepalived_config.h"
#include "mandant/v1/agent.pb.h"
#include "tests/support/subprocess.h"
#include "tests/unit/agents/edge/edge_specs.h"

namespace mandant::agent {
namespace {

using ::mandant::agent::testing::RedundantEdge;
using ::mandant::agent::testing::SingleEdge;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kHaproxy[] = "/usr/sbin/haproxy";
constexpr char kDnsmasq[] = "/usr/sbin/dnsmasq";
constexpr char kKeepalived[] = "/usr/sbin/keepalived";
constexpr char kNft[] = "/usr/sbin/nft";

struct Outcome {
  int exit_status = -1;
  std::string output;  // stdout and stderr
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `script` with /bin/sh in a fresh network namespace that has links
// "inside" and "outside" (up; a veth pair, which every kernel that runs
// edges has, unlike the dummy module). UNAVAILABLE when the namespace cannot
// be made.
absl::StatusOr<Outcome> RunInFreshNetns(const std::string& script, const std::string& log) {
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) _exit(125);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (unshare(CLONE_NEWNET) != 0) _exit(126);
    const std::string full = absl::StrCat(
        "ip link add inside type veth peer name outside && "
        "ip link set lo up && ip link set inside up && ip link set outside up && ",
        script);
    execl("/bin/sh", "sh", "-c", full.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return absl::InternalError("waitpid failed");
  Outcome outcome{WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(log)};
  if (outcome.exit_status == 126) {
    return absl::UnavailableError("unshare(CLONE_NEWNET) failed; the test needs root");
  }
  return outcome;
}

class ConfigCheckersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dir = mandant::testing::MakeTempDir("mandant-edge-check");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
  }
  void TearDown() override { mandant::testing::RemoveTree(dir_); }

  std::string Write(const std::string& name, const std::string& text, mode_t mode = 0644) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    chmod(path.c_str(), mode);
    return path;
  }

  // Runs `script` in a fresh namespace; skips the test when that is
  // impossible, expects exit status 0 and returns the output.
  std::string ExpectPasses(const std::string& script) {
    absl::StatusOr<Outcome> outcome = RunInFreshNetns(script, dir_ + "/output.log");
    if (absl::IsUnavailable(outcome.status())) {
      skipped_ = true;
      return std::string(outcome.status().message());
    }
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    if (!outcome.ok()) return "";
    EXPECT_EQ(outcome->exit_status, 0) << script << "\n" << outcome->output;
    return outcome->output;
  }

  std::string dir_;
  bool skipped_ = false;
};

#define SKIP_UNLESS_INSTALLED(program)                                              \
  do {                                                                              \
    if (access(program, X_OK) != 0) GTEST_SKIP() << program << " is not installed"; \
  } while (0)

TEST_F(ConfigCheckersTest, HaproxyAcceptsBothEdges) {
  SKIP_UNLESS_INSTALLED(kHaproxy);
  for (const v1::EdgeSpec& spec : {SingleEdge(), RedundantEdge()}) {
    HaproxyConfigOptions options;
    options.stats_socket = dir_ + "/haproxy.sock";
    absl::StatusOr<std::string> config = RenderHaproxyConfig(spec, options);
    ASSERT_TRUE(config.ok()) << config.status();
    const std::string file = Write("haproxy.cfg", *config);
    // -c parses without binding: the endpoint addresses exist nowhere here.
    const std::string output = ExpectPasses(absl::StrCat(kHaproxy, " -c -f ", file));
    if (skipped_) GTEST_SKIP() << output;
    EXPECT_THAT(output, HasSubstr("Configuration file is valid"));
    EXPECT_THAT(output, Not(HasSubstr("WARNING"))) << output;
    EXPECT_THAT(output, Not(HasSubstr("ALERT"))) << output;
  }
}

TEST_F(ConfigCheckersTest, DnsmasqAcceptsBothEdges) {
  SKIP_UNLESS_INSTALLED(kDnsmasq);
  for (const v1::EdgeSpec& spec : {SingleEdge(), RedundantEdge()}) {
    DnsmasqConfigOptions options;
    options.lease_file = dir_ + "/dnsmasq.leases";
    options.pid_file = dir_ + "/dnsmasq.pid";
    absl::StatusOr<std::string> config = RenderDnsmasqConfig(spec, options);
    ASSERT_TRUE(config.ok()) << config.status();
    const std::string file = Write("dnsmasq.conf", *config);
    const std::string output = ExpectPasses(absl::StrCat(kDnsmasq, " --test --conf-file=", file));
    if (skipped_) GTEST_SKIP() << output;
    EXPECT_THAT(output, HasSubstr("syntax check OK"));
  }
}

TEST_F(ConfigCheckersTest, KeepalivedAcceptsTheRedundantEdge) {
  SKIP_UNLESS_INSTALLED(kKeepalived);
  const std::string script = Write("notify", KeepalivedNotifyScript(), 0755);
  KeepalivedConfigOptions options;
  options.notify_script = script;
  options.state_file = dir_ + "/vrrp.state";
  absl::StatusOr<std::string> config = RenderKeepalivedConfig(RedundantEdge(), options);
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string file = Write("keepalived.conf", *config);
  const std::string output =
      ExpectPasses(absl::StrCat(kKeepalived, " --config-test --use-file=", file));
  if (skipped_) GTEST_SKIP() << output;
  // keepalived 2.2.7 exits 0 on warnings (e.g. an interface that does not
  // exist) and even on a missing file, so its output must be empty too.
  EXPECT_EQ(output, "");
}

TEST_F(ConfigCheckersTest, KeepalivedRefusesABrokenFile) {
  SKIP_UNLESS_INSTALLED(kKeepalived);
  // The check above is worth something only if keepalived fails on errors.
  const std::string file = Write("keepalived.conf",
                                 "vrrp_instance edge {\n    interface inside\n"
                                 "    virtual_router_id 300\n    priority 150\n}\n");
  absl::StatusOr<Outcome> outcome = RunInFreshNetns(
      absl::StrCat(kKeepalived, " --config-test --use-file=", file), dir_ + "/output.log");
  if (absl::IsUnavailable(outcome.status())) GTEST_SKIP() << outcome.status();
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_NE(outcome->exit_status, 0) << outcome->output;
}

TEST_F(ConfigCheckersTest, NftAcceptsBothRulesets) {
  SKIP_UNLESS_INSTALLED(kNft);
  for (const v1::EdgeSpec& spec : {SingleEdge(), RedundantEdge()}) {
    absl::StatusOr<std::string> ruleset = RenderEdgeRuleset(spec);
    ASSERT_TRUE(ruleset.ok()) << ruleset.status();
    const std::string file = Write("ruleset.nft", *ruleset);
    // -c checks the whole transaction against the kernel without committing;
    // then the ruleset is loaded for real (twice: it must replace itself) in
    // this throwaway namespace and listed back.
    const std::string output =
        ExpectPasses(absl::StrCat(kNft, " -c -f ", file, " && ", kNft, " -f ", file, " && ", kNft,
                                  " -f ", file, " && ", kNft, " list table inet mandant_edge"));
    if (skipped_) GTEST_SKIP() << output;
    EXPECT_THAT(output, HasSubstr("chain egress"));
    EXPECT_THAT(output, HasSubstr("snat ip to " + spec.egress_address()));
  }
}

}  // namespace
}  // namespace mandant::agent
