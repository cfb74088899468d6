// Edges with the real runtime (KernelEdgeNetworking, SupervisedEdgeProcesses
// with the real dnsmasq and haproxy, EgressLog) for one single edge between
// two test bridges. Edges removes every Mandant edge namespace it does not
// want, so this test must not see the host's: main() moves the process into
// a private network namespace (as the other kernel tests) and a private
// mount namespace with a tmpfs of its own on /run/netns. Root only;
// skipped otherwise.

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agents/edge/edge_ruleset.h"
#include "agents/edge/edges.h"
#include "agents/edge/haproxy_stats.h"
#include "common/files.h"
#include "tests/support/skip_exit_code.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/unit/agents/edge/edge_specs.h"
#include "tests/unit/agents/network/netns.h"

namespace mandant::agent {
namespace {

using ::mandant::agent::testing::Ip;
using ::mandant::agent::testing::Shell;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Key;
using ::testing::Not;

std::string& PrivateRunNetnsProblem() {
  static std::string* problem = new std::string("main() did not set up /run/netns");
  return *problem;
}

// A mount namespace of the process's own with an empty /run/netns. Before
// any thread exists (unshare(CLONE_NEWNS) refuses threaded callers).
void EnterPrivateRunNetns() {
  if (!testing::InPrivateNetns()) {
    PrivateRunNetnsProblem() = testing::NetnsSkipReason();
    return;
  }
  if (unshare(CLONE_NEWNS) != 0) {
    PrivateRunNetnsProblem() = absl::StrCat("unshare(CLONE_NEWNS): ", std::strerror(errno));
    return;
  }
  if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    PrivateRunNetnsProblem() = absl::StrCat("making / private: ", std::strerror(errno));
    return;
  }
  std::error_code ec;
  std::filesystem::create_directories(kNetnsRunDir, ec);
  if (mount("tmpfs", kNetnsRunDir, "tmpfs", 0, "mode=0755") != 0) {
    PrivateRunNetnsProblem() =
        absl::StrCat("mounting a tmpfs on ", kNetnsRunDir, ": ", std::strerror(errno));
    return;
  }
  PrivateRunNetnsProblem().clear();
}

std::string Out(absl::StatusOr<std::string> out) {
  return out.ok() ? *out : absl::StrCat("error: ", out.status().message());
}

bool Runs(int pid) {
  absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  return stat.ok() && stat->find(") Z") == std::string::npos;
}

bool WaitGone(int pid) {
  for (int i = 0; i < 500 && Runs(pid); ++i) absl::SleepFor(absl::Milliseconds(10));
  return !Runs(pid);
}

// The real runtime, as one agent process has it.
struct Runtime {
  std::unique_ptr<EdgeNetworking> networking;
  std::unique_ptr<EdgeProcesses> processes;
  std::unique_ptr<EgressLog> egress;
  std::unique_ptr<Edges> edges;
};

class EdgesKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PrivateRunNetnsProblem().empty()) GTEST_SKIP() << PrivateRunNetnsProblem();
    for (const char* program : {"/usr/sbin/haproxy", "/usr/sbin/dnsmasq"}) {
      if (access(program, X_OK) != 0) GTEST_SKIP() << program << " is not installed";
    }
    spec_ = testing::SingleEdge();
    netns_ = spec_.namespace_();
    bridge_tenants_[spec_.tenant_bridge()] = spec_.tenant();
    for (const std::string& bridge : {spec_.tenant_bridge(), spec_.external_bridge()}) {
      ASSERT_OK(Ip(absl::StrCat("link add ", bridge, " type bridge")));
      ASSERT_OK(Ip(absl::StrCat("link set ", bridge, " up")));
    }
    absl::StatusOr<std::string> dir = mandant::testing::MakeTempDir("edges");
    ASSERT_OK(dir);
    state_dir_ = *dir;
    runtime_ = Make();
    ASSERT_NE(runtime_.edges, nullptr);
  }

  void TearDown() override {
    if (state_dir_.empty()) return;
    // Whatever happened above, nothing stays behind: a clean Edges removes
    // the edge, and the runtime itself is asked once more.
    runtime_ = Runtime();
    Runtime cleanup = Make();
    if (cleanup.edges != nullptr) cleanup.edges->Reconcile({}, {});
    if (cleanup.processes != nullptr) {
      EXPECT_OK(cleanup.processes->Stop(netns_));
    }
    if (cleanup.networking != nullptr) {
      EXPECT_OK(cleanup.networking->DeleteNamespace(netns_));
    }
    cleanup = Runtime();
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
  }

  Runtime Make() {
    Runtime r;
    absl::StatusOr<std::unique_ptr<EdgeNetworking>> net = KernelEdgeNetworking::Create();
    EXPECT_OK(net);
    if (!net.ok()) return r;
    r.networking = *std::move(net);
    SupervisedEdgeProcesses::Options process_options;
    process_options.state_dir = state_dir_;
    absl::StatusOr<std::unique_ptr<EdgeProcesses>> processes =
        SupervisedEdgeProcesses::Create(process_options);
    EXPECT_OK(processes);
    if (!processes.ok()) return r;
    r.processes = *std::move(processes);
    absl::StatusOr<std::unique_ptr<EgressLog>> egress = EgressLog::Create({});
    EXPECT_OK(egress);
    if (!egress.ok()) return r;
    r.egress = *std::move(egress);
    Edges::Options options;
    options.networking = r.networking.get();
    options.processes = r.processes.get();
    options.egress = r.egress.get();
    options.state_dir = state_dir_;
    absl::StatusOr<std::unique_ptr<Edges>> edges = Edges::Create(options);
    EXPECT_OK(edges);
    if (edges.ok()) r.edges = *std::move(edges);
    return r;
  }

  absl::StatusOr<std::string> InNs(const std::string& args) {
    return Ip(absl::StrCat("-n ", netns_, " ", args));
  }

  v1::EdgeSpec spec_;
  std::string netns_;
  absl::flat_hash_map<std::string, std::string> bridge_tenants_;
  std::string state_dir_;
  Runtime runtime_;
};

TEST_F(EdgesKernelTest, RunsAdoptsAndRemovesASingleEdge) {
  Edges::Result result = runtime_.edges->Reconcile({spec_}, bridge_tenants_);
  EXPECT_THAT(result.host_errors, IsEmpty());
  ASSERT_EQ(result.edges.size(), 1u);
  const v1::EdgeStatus first = result.edges[0];
  ASSERT_EQ(first.error(), "");

  // The kernel, seen by iproute2 and nft rather than the code under test.
  EXPECT_THAT(Out(Shell({"ip", "netns", "list"})), HasSubstr(netns_));
  EXPECT_THAT(
      Out(InNs("-4 -o addr show dev inside")),
      AllOf(HasSubstr("10.64.3.2/24"), HasSubstr("10.64.3.1/24"), HasSubstr("10.64.3.3/24")));
  EXPECT_THAT(Out(InNs("-4 -o addr show dev outside")),
              AllOf(HasSubstr("198.51.100.7/24"), HasSubstr("198.51.100.8/24")));
  EXPECT_THAT(Out(InNs("route show default")), HasSubstr("via 198.51.100.1 dev outside"));
  EXPECT_THAT(Out(Ip("-o link show mei-x0003e9")),
              AllOf(HasSubstr("master mb-x0003e9"), HasSubstr("mtu 1450")));
  EXPECT_THAT(Out(Ip("-o link show meo-x0003e9")), HasSubstr("master br-ext"));
  EXPECT_EQ(Out(Shell({"ip", "netns", "exec", netns_, "cat", "/proc/sys/net/ipv4/ip_forward"})),
            "1\n");
  EXPECT_THAT(
      Out(Shell({"ip", "netns", "exec", netns_, "nft", "list", "table", "inet", "mandant_edge"})),
      AllOf(HasSubstr("counter drop-prod"), HasSubstr("log prefix")));
  EXPECT_THAT(runtime_.networking->ReadCounters(netns_, kEdgeTable),
              mandant::testing::IsOkAndHolds(Contains(Key("drop-prod"))));
  EXPECT_THAT(runtime_.egress->Watched(), Contains(netns_));

  // dnsmasq and haproxy run in the namespace; haproxy answers on its stats
  // socket with the endpoint's three control planes (none reachable here).
  ASSERT_EQ(first.processes_size(), 2);
  for (const v1::EdgeProcess& p : first.processes()) {
    EXPECT_TRUE(p.running()) << p.name();
    EXPECT_TRUE(Runs(p.pid())) << p.name();
    EXPECT_THAT(Out(Shell({"ip", "netns", "identify", absl::StrCat(p.pid())})), HasSubstr(netns_));
  }
  EXPECT_EQ(first.processes(0).name(), "dnsmasq");
  EXPECT_EQ(first.processes(1).name(), "haproxy");
  const EdgeFiles files = EdgeFilesOf(state_dir_, netns_);
  absl::StatusOr<std::string> stat;
  for (int i = 0; i < 100; ++i) {
    stat = QueryHaproxyStat(files.haproxy_socket);
    if (stat.ok()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_OK(stat);
  absl::StatusOr<std::map<std::string, HaproxyBackendHealth>> backends = ParseHaproxyStat(*stat);
  ASSERT_OK(backends);
  ASSERT_EQ(backends->count("be-prod"), 1u) << *stat;
  EXPECT_EQ(backends->at("be-prod").servers, 3);
  ASSERT_EQ(first.endpoints_size(), 1);
  EXPECT_EQ(first.endpoints(0).backends(), 3);
  EXPECT_EQ(first.endpoints(0).dropped_packets(), 0u);

  // A client on the external network outside the endpoint's allowed CIDRs:
  // its connection attempts are dropped and counted.
  absl::StatusOr<std::unique_ptr<testing::GuestNamespace>> client =
      testing::GuestNamespace::Start();
  ASSERT_OK(client);
  ASSERT_OK(Ip("link add mtc0 type veth peer name mtc1"));
  ASSERT_OK(Ip(absl::StrCat("link set mtc1 netns ", (*client)->pid())));
  ASSERT_OK(Ip("link set mtc0 master br-ext up"));
  ASSERT_OK((*client)->Exec({"ip", "addr", "add", "198.51.100.50/24", "dev", "mtc1"}));
  ASSERT_OK((*client)->Exec({"ip", "link", "set", "mtc1", "up"}));
  // Fails: the SYNs are dropped, never rejected.
  EXPECT_FALSE(
      (*client)->Exec({"timeout", "2", "bash", "-c", "echo > /dev/tcp/198.51.100.8/6443"}).ok());
  result = runtime_.edges->Reconcile({spec_}, bridge_tenants_);
  ASSERT_EQ(result.edges.size(), 1u);
  ASSERT_EQ(result.edges[0].endpoints_size(), 1);
  EXPECT_GE(result.edges[0].endpoints(0).dropped_packets(), 1u);
  client->reset();

  // The agent restarts: a new runtime adopts the same processes.
  runtime_ = Runtime();
  runtime_ = Make();
  ASSERT_NE(runtime_.edges, nullptr);
  result = runtime_.edges->Reconcile({spec_}, bridge_tenants_);
  ASSERT_EQ(result.edges.size(), 1u);
  EXPECT_EQ(result.edges[0].error(), "");
  ASSERT_EQ(result.edges[0].processes_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(result.edges[0].processes(i).pid(), first.processes(i).pid())
        << first.processes(i).name() << " was restarted";
    EXPECT_TRUE(result.edges[0].processes(i).running());
  }

  // Gone from the spec: nothing of it stays.
  result = runtime_.edges->Reconcile({}, {});
  ASSERT_EQ(result.edges.size(), 1u);
  EXPECT_EQ(result.edges[0].namespace_(), netns_);
  EXPECT_EQ(result.edges[0].tenant(), "tenants/acme");
  EXPECT_EQ(result.edges[0].error(), "");
  EXPECT_THAT(result.edges[0].processes(), IsEmpty());
  for (const v1::EdgeProcess& p : first.processes()) {
    EXPECT_TRUE(WaitGone(p.pid())) << p.name() << " still runs";
  }
  EXPECT_THAT(Out(Shell({"ip", "netns", "list"})), Not(HasSubstr(netns_)));
  // The kernel frees a namespace, and the veths with it, asynchronously.
  for (int i = 0; i < 500 && Ip("link show mei-x0003e9").ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_FALSE(Ip("link show mei-x0003e9").ok());
  EXPECT_FALSE(Ip("link show meo-x0003e9").ok());
  EXPECT_FALSE(std::filesystem::exists(files.dir));
  EXPECT_THAT(runtime_.egress->Watched(), IsEmpty());
  EXPECT_THAT(runtime_.edges->Reconcile({}, {}).edges, IsEmpty());
}

}  // namespace
}  // namespace mandant::agent

int main(int argc, char** argv) {
  mandant::agent::testing::EnterPrivateNetns();
  mandant::agent::EnterPrivateRunNetns();
  ::testing::InitGoogleTest(&argc, argv);
  // Exit status 77 (CTest: "Skipped") when the tests skipped themselves.
  return mandant::testing::RunAllTestsReportingSkips();
}
