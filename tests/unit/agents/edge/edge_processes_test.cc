// SupervisedEdgeProcesses with the real dnsmasq and haproxy, started in an
// edge namespace of the real kernel (named, under /run/netns, with a random
// "mandant-et" name) and a temporary state directory; TearDown stops what
// runs and deletes both. An agent restart is simulated by a second
// SupervisedEdgeProcesses on the same state directory.

#include "agents/edge/edge_processes.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agents/edge/edge_namespace.h"
#include "common/files.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/unit/agents/edge/edge_test_names.h"
#include "tests/unit/agents/network/netns.h"

namespace mandant::agent {
namespace {

using ::mandant::agent::testing::Shell;
using ::mandant::testing::IsOkAndHolds;
using ::mandant::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kDnsmasqConfig[] =
    "port=5353\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\n";

std::string HaproxyConfig(int port) {
  return absl::StrCat(
      "global\n  log stderr format raw local0\n"
      "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 10s\n  timeout server 10s\n"
      "frontend api\n  bind 127.0.0.1:",
      port, "\n  default_backend planes\nbackend planes\n  server cp1 127.0.0.1:1\n");
}

bool Runs(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  return stat.ok() && stat->find(") Z") == std::string::npos;
}

bool WaitGone(pid_t pid) {
  for (int i = 0; i < 500 && Runs(pid); ++i) absl::SleepFor(absl::Milliseconds(10));
  return !Runs(pid);
}

class EdgeProcessesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_UNLESS_PRIVATE_NETNS();
    netns_ = testing::TestEdgeNamespace(testing::RandomSuffix());
    absl::StatusOr<std::unique_ptr<EdgeNetworking>> net = KernelEdgeNetworking::Create();
    ASSERT_OK(net);
    net_ = std::move(*net);
    ASSERT_OK(net_->EnsureNamespace(netns_));
    absl::StatusOr<std::string> dir = mandant::testing::MakeTempDir("edge-processes");
    ASSERT_OK(dir);
    state_dir_ = *dir;
    processes_ = Make();
    ASSERT_NE(processes_, nullptr);
  }
  void TearDown() override {
    if (processes_ != nullptr) {
      EXPECT_OK(processes_->Stop(netns_));
    }
    if (net_ != nullptr) {
      EXPECT_OK(net_->DeleteNamespace(netns_));
    }
    if (!state_dir_.empty()) mandant::testing::RemoveTree(state_dir_);
  }
  std::unique_ptr<EdgeProcesses> Make() {
    SupervisedEdgeProcesses::Options options;
    options.state_dir = state_dir_;
    options.stop_timeout = absl::Seconds(3);
    absl::StatusOr<std::unique_ptr<EdgeProcesses>> p = SupervisedEdgeProcesses::Create(options);
    EXPECT_OK(p);
    return p.ok() ? std::move(*p) : nullptr;
  }
  pid_t PidOf(EdgeProcesses& p, absl::string_view name) {
    for (const v1::EdgeProcess& process : p.List(netns_)) {
      if (process.name() == name && process.running()) return process.pid();
    }
    return 0;
  }
  // Whether something listens on TCP `port` inside the namespace.
  bool Listens(int port) {
    absl::StatusOr<std::string> out =
        Shell({"ip", "netns", "exec", netns_, "ss", "-Htln", absl::StrCat("sport = :", port)});
    return out.ok() && out->find(absl::StrCat(":", port)) != std::string::npos;
  }
  bool WaitListens(int port) {
    for (int i = 0; i < 100; ++i) {
      if (Listens(port)) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  std::string netns_;
  std::string state_dir_;
  std::unique_ptr<EdgeNetworking> net_;
  std::unique_ptr<EdgeProcesses> processes_;
};

TEST_F(EdgeProcessesTest, StartsAdoptsRestartsAndStopsDnsmasq) {
  const EdgeCommand command = DefaultEdgeCommand(EdgeProgram::kDnsmasq);
  ASSERT_THAT(processes_->Ensure(netns_, EdgeProgram::kDnsmasq, kDnsmasqConfig, command),
              IsOkAndHolds(EnsureOutcome::kStarted));
  const pid_t pid = PidOf(*processes_, "dnsmasq");
  ASSERT_GT(pid, 0);
  // A daemon: in a session other than the agent's (the double fork's
  // intermediate child made it), not the agent's child, inside the edge
  // namespace.
  EXPECT_NE(getsid(pid), getsid(0));
  EXPECT_GT(getsid(pid), 0);
  absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  ASSERT_OK(stat);
  EXPECT_EQ(stat->find(absl::StrCat(") S ", getpid(), " ")), std::string::npos);
  EXPECT_THAT(Shell({"ip", "netns", "pids", netns_}), IsOkAndHolds(HasSubstr(std::to_string(pid))));
  EXPECT_THAT(processes_->Ensure(netns_, EdgeProgram::kDnsmasq, kDnsmasqConfig, command),
              IsOkAndHolds(EnsureOutcome::kUnchanged));

  // The agent restarts: the new one adopts the same process.
  processes_ = Make();
  EXPECT_THAT(processes_->Ensure(netns_, EdgeProgram::kDnsmasq, kDnsmasqConfig, command),
              IsOkAndHolds(EnsureOutcome::kAdopted));
  EXPECT_EQ(PidOf(*processes_, "dnsmasq"), pid);

  // A new configuration restarts dnsmasq.
  const std::string changed = absl::StrCat(kDnsmasqConfig, "domain-needed\n");
  EXPECT_THAT(processes_->Ensure(netns_, EdgeProgram::kDnsmasq, changed, command),
              IsOkAndHolds(EnsureOutcome::kRestarted));
  const pid_t second = PidOf(*processes_, "dnsmasq");
  EXPECT_GT(second, 0);
  EXPECT_NE(second, pid);
  EXPECT_TRUE(WaitGone(pid));

  // Dead: started again.
  ASSERT_EQ(kill(second, SIGKILL), 0);
  ASSERT_TRUE(WaitGone(second));
  std::vector<v1::EdgeProcess> listed = processes_->List(netns_);
  ASSERT_THAT(listed, SizeIs(1));
  EXPECT_FALSE(listed[0].running());
  EXPECT_THAT(processes_->Ensure(netns_, EdgeProgram::kDnsmasq, changed, command),
              IsOkAndHolds(EnsureOutcome::kStarted));
  const pid_t third = PidOf(*processes_, "dnsmasq");
  EXPECT_GT(third, 0);

  ASSERT_OK(processes_->Stop(netns_));
  EXPECT_TRUE(WaitGone(third));
  EXPECT_FALSE(std::filesystem::exists(absl::StrCat(state_dir_, "/", netns_)));
  EXPECT_THAT(processes_->List(netns_), SizeIs(0));
  EXPECT_THAT(Shell({"ip", "netns", "pids", netns_}), IsOkAndHolds(""));
}

// The namespace is deleted and made again under the same name while
// dnsmasq runs (an operator's `ip netns delete`, or another agent sharing
// /run/netns): the process left in the old namespace is stopped, not left
// running beside the new one.
TEST_F(EdgeProcessesTest, StopsTheProcessLeftInANamespaceThatWasMadeAgain) {
  const EdgeCommand command = DefaultEdgeCommand(EdgeProgram::kDnsmasq);
  ASSERT_THAT(processes_->Ensure(netns_, EdgeProgram::kDnsmasq, kDnsmasqConfig, command),
              IsOkAndHolds(EnsureOutcome::kStarted));
  const pid_t orphan = PidOf(*processes_, "dnsmasq");
  ASSERT_GT(orphan, 0);
  // The mount goes; the process keeps the old namespace alive.
  const std::string path = absl::StrCat(kNetnsRunDir, "/", netns_);
  ASSERT_OK(Shell({"umount", path}));
  ASSERT_OK(Shell({"rm", path}));
  ASSERT_OK(net_->EnsureNamespace(netns_));
  EXPECT_TRUE(Runs(orphan));

  EXPECT_THAT(processes_->Ensure(netns_, EdgeProgram::kDnsmasq, kDnsmasqConfig, command),
              IsOkAndHolds(EnsureOutcome::kRestarted));
  EXPECT_TRUE(WaitGone(orphan)) << "dnsmasq " << orphan << " runs on in the old namespace";
  const pid_t fresh = PidOf(*processes_, "dnsmasq");
  EXPECT_GT(fresh, 0);
  EXPECT_NE(fresh, orphan);
  EXPECT_THAT(Shell({"ip", "netns", "pids", netns_}),
              IsOkAndHolds(HasSubstr(std::to_string(fresh))));
}

TEST_F(EdgeProcessesTest, HaproxyReloadsInPlaceAndKeepsItsMaster) {
  const EdgeCommand command = DefaultEdgeCommand(EdgeProgram::kHaproxy);
  const int first_port = 20000 + (getpid() % 10000);
  const int second_port = first_port + 1;
  ASSERT_THAT(processes_->Ensure(netns_, EdgeProgram::kHaproxy, HaproxyConfig(first_port), command),
              IsOkAndHolds(EnsureOutcome::kStarted));
  const pid_t master = PidOf(*processes_, "haproxy");
  ASSERT_GT(master, 0);
  ASSERT_TRUE(WaitListens(first_port));

  EXPECT_THAT(
      processes_->Ensure(netns_, EdgeProgram::kHaproxy, HaproxyConfig(second_port), command),
      IsOkAndHolds(EnsureOutcome::kReloaded));
  EXPECT_TRUE(WaitListens(second_port));
  EXPECT_EQ(PidOf(*processes_, "haproxy"), master);
  EXPECT_TRUE(Runs(master));

  // After the reload (haproxy appended -sf to its arguments) a restarted
  // agent still adopts the master.
  processes_ = Make();
  EXPECT_THAT(
      processes_->Ensure(netns_, EdgeProgram::kHaproxy, HaproxyConfig(second_port), command),
      IsOkAndHolds(EnsureOutcome::kAdopted));
  EXPECT_EQ(PidOf(*processes_, "haproxy"), master);
}

TEST_F(EdgeProcessesTest, KeepsTheOldConfigurationWhenTheCheckerRefusesTheNewOne) {
  const EdgeCommand command = DefaultEdgeCommand(EdgeProgram::kHaproxy);
  const int port = 30000 + (getpid() % 10000);
  ASSERT_THAT(processes_->Ensure(netns_, EdgeProgram::kHaproxy, HaproxyConfig(port), command),
              IsOkAndHolds(EnsureOutcome::kStarted));
  const pid_t master = PidOf(*processes_, "haproxy");
  EXPECT_THAT(processes_->Ensure(netns_, EdgeProgram::kHaproxy,
                                 "frontend api\n  bind 127.0.0.1:1\n  no_such_keyword\n", command),
              StatusIs(absl::StatusCode::kInvalidArgument, "refused the new configuration"));
  EXPECT_EQ(PidOf(*processes_, "haproxy"), master);
  EXPECT_THAT(ReadFile(absl::StrCat(state_dir_, "/", netns_, "/haproxy.conf")),
              IsOkAndHolds(HaproxyConfig(port)));
  EXPECT_THAT(processes_->Ensure(netns_, EdgeProgram::kHaproxy, HaproxyConfig(port), command),
              IsOkAndHolds(EnsureOutcome::kUnchanged));
}

TEST_F(EdgeProcessesTest, ReportsAProgramThatCannotStart) {
  EdgeCommand command = DefaultEdgeCommand(EdgeProgram::kDnsmasq);
  command.check_argv.clear();
  EXPECT_THAT(processes_->Ensure(netns_, EdgeProgram::kDnsmasq, "no-such-option=1\n", command),
              StatusIs(absl::StatusCode::kUnavailable, "exited right after starting"));
  command.argv[0] = "/nonexistent/dnsmasq";
  EXPECT_THAT(processes_->Ensure(netns_, EdgeProgram::kDnsmasq, kDnsmasqConfig, command),
              StatusIs(absl::StatusCode::kInternal, "No such file"));
}

TEST_F(EdgeProcessesTest, RefusesBadArguments) {
  EdgeCommand command = DefaultEdgeCommand(EdgeProgram::kDnsmasq);
  EXPECT_THAT(processes_->Ensure("not-an-edge", EdgeProgram::kDnsmasq, "", command),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(processes_->Ensure(netns_, EdgeProgram::kDnsmasq, "", EdgeCommand{{"dnsmasq"}, {}}),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(processes_->Ensure(netns_, EdgeProgram::kDnsmasq, "",
                                 EdgeCommand{{"/usr/sbin/dnsmasq", "-k"}, {}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "{config}"));
  EXPECT_THAT(processes_->Ensure("mandant-enosuchnamespace", EdgeProgram::kDnsmasq, kDnsmasqConfig,
                                 command),
              StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_OK(processes_->Stop("mandant-enosuchnamespace"));
}

}  // namespace
}  // namespace mandant::agent
