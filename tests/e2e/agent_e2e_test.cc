// The host agent end to end: a real mandantd and PostgreSQL, two network
// namespaces as hypervisor hosts on one underlay, a mandant-agent in each
// (libvirt's embedded QEMU driver, software emulation), and real Debian VMs
// booted from the e2e guest image. Tenant networks are proven with packets
// sent from inside the guests: tenant A's VMs on both hosts reach each other
// over VXLAN, tenant B's VM on the same addresses does not, and no frame of
// one tenant appears on the other's bridge. Then the agent is killed in the
// middle of a reconcile and restarted (the VMs keep their QEMU processes),
// and finally every machine is removed and nothing of Mandant's is left on
// the hosts.
//
// One test suite whose tests are the steps of that story, in definition
// order (gtest's default): the world (PostgreSQL, mandantd, namespaces,
// agents) is set up once in SetUpTestSuite and the VMs boot once, in the
// step that places them; later steps use what earlier ones built. Each step
// is reported on its own; a step whose prerequisite step failed or was
// skipped is skipped with that reason instead of failing in a confusing way.
// Running one step alone (--gtest_filter) skips it unless its prerequisites
// are selected too.
//
// Needs root, the libvirt-qemu user and the guest image (CTest fixture
// e2e_guest_image); skipped (CTest exit code 77) without root. Takes about
// 5-8 minutes on 2 cores.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

#include "controller/store/host_store.h"
#include "controller/store/machine_store.h"
#include "mandant/v1/host.grpc.pb.h"
#include "mandant/v1/tenant.grpc.pb.h"
#include "tenants/cidr.h"
#include "tenants/network_names.h"
#include "tests/support/netns.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_controller.h"

namespace mandant::testing {
namespace {

using controller::auth::Role;
using controller::store::MachineObservation;
using controller::store::MachineStore;
using controller::store::NewMachine;

constexpr char kImage[] = "mandant-test-guest";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Polls `done` every `poll` until it holds or `timeout` passes.
template <typename Fn>
bool WaitFor(absl::Duration timeout, Fn done, absl::Duration poll = absl::Milliseconds(500)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(poll);
  }
  return done();
}

// QEMU processes by the libvirt domain name on their command line
// ("guest=m-<machine_id>"), machine_id -> pids.
std::map<std::string, std::vector<pid_t>> QemuProcesses() {
  std::map<std::string, std::vector<pid_t>> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = readdir(proc)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    std::string cmdline = ReadAll(absl::StrCat("/proc/", pid, "/cmdline"));
    if (cmdline.find("qemu-system") == std::string::npos) continue;
    for (absl::string_view arg : absl::StrSplit(cmdline, '\0')) {
      if (absl::ConsumePrefix(&arg, "guest=m-")) {
        out[std::string(arg.substr(0, arg.find(',')))].push_back(pid);
      }
    }
  }
  closedir(proc);
  return out;
}

struct Guest {
  std::string name;
  std::string machine_id;
  std::string tenant;
  int host = 0;
  std::string mac;
  std::string address;  // with prefix, e.g. "10.80.0.11/24"
  std::string user_data;
};

// Guest user-data: a probe script written by cloud-init and run from
// runcmd. Reports go over the status channel with mandant-report.
std::string UserData(const std::string& script, const std::string& args) {
  std::string indented;
  for (absl::string_view line : absl::StrSplit(script, '\n')) {
    absl::StrAppend(&indented, "      ", line, "\n");
  }
  return absl::StrCat(
      "#cloud-config\n"
      "write_files:\n"
      "  - path: /root/probe.sh\n"
      "    permissions: '0755'\n"
      "    content: |\n",
      indented,
      "runcmd:\n"
      "  - [sh, -c, '/root/probe.sh ",
      args, " >/dev/ttyS0 2>&1 &']\n");
}

// Tenant A's guests: reach the peer, report it, then keep broadcasting into
// the tenant network (which tenant B must never see).
constexpr char kReachScript[] = R"sh(#!/bin/sh
peer=$1
bcast=$2
mandant-report cloud-init "probing $peer"
i=0
while [ $i -lt 200 ]; do
  if ping -c 1 -W 2 "$peer" >/dev/null 2>&1; then
    mandant-report ready "reached $peer"
    while true; do ping -b -c 2 -i 1 "$bcast" >/dev/null 2>&1; sleep 1; done
  fi
  i=$((i+1))
  sleep 2
done
mandant-report failed "no reply from $peer")sh";

// Tenant B's guest, on tenant A's addresses: must never get a reply.
constexpr char kLeakScript[] = R"sh(#!/bin/sh
target=$1
n=0
while true; do
  n=$((n+1))
  if ping -c 1 -W 1 "$target" >/dev/null 2>&1; then
    mandant-report failed "LEAK: reply from $target"
    exit 1
  fi
  mandant-report cloud-init "no reply from $target ($n)"
  sleep 2
done)sh";

// Everything the steps share: built by SetUpTestSuite, torn down by
// TearDownTestSuite.
struct World {
  std::string image_dir;
  std::string image_sha256;
  std::unique_ptr<NetworkNamespaces> ns;
  std::string controller_address;
  std::string root_link;
  std::unique_ptr<TestController> controller;
  std::string admin;
  std::unique_ptr<v1::HostService::Stub> hosts;
  std::unique_ptr<v1::TenantService::Stub> tenants;
  std::string work;
  std::string ca_file;
  std::map<std::string, uint32_t> tenant_vni;
  std::map<int, pid_t> agents;

  // Tenant A's node network; B's guest is deliberately put on the same
  // addresses.
  const std::string node_prefix = "10.80.0";
  const std::string bcast = node_prefix + ".255";
  Guest a1{"a1",
           "6a1e3c2e-0000-4000-8000-00000000a001",
           "acme",
           0,
           "02:4d:00:00:0a:01",
           node_prefix + ".11/24",
           UserData(kReachScript, absl::StrCat(node_prefix, ".12 ", bcast))};
  Guest a2{"a2",
           "6a1e3c2e-0000-4000-8000-00000000a002",
           "acme",
           1,
           "02:4d:00:00:0a:02",
           node_prefix + ".12/24",
           UserData(kReachScript, absl::StrCat(node_prefix, ".11 ", bcast))};
  // Tenant B, on host 1 beside a1, with a2's address: if the networks were
  // joined it would answer for a2 and reach a1.
  Guest b1{"b1",
           "6a1e3c2e-0000-4000-8000-00000000b001",
           "beta",
           0,
           "02:4d:00:00:0b:01",
           node_prefix + ".12/24",
           UserData(kLeakScript, absl::StrCat(node_prefix, ".11"))};
  // Placed while the agent is killed.
  Guest a3{"a3",
           "6a1e3c2e-0000-4000-8000-00000000a003",
           "acme",
           0,
           "02:4d:00:00:0a:03",
           node_prefix + ".13/24",
           UserData(kReachScript, absl::StrCat(node_prefix, ".11 ", bcast))};
  std::vector<const Guest*> placed;

  // Between steps.
  absl::Time placed_at;
  std::unique_ptr<PacketCapture> capture_a;  // host 1's acme bridge
  std::unique_ptr<PacketCapture> capture_b;  // host 1's beta bridge
  std::map<std::string, std::vector<pid_t>> qemu_after_restart;
};

class AgentE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;  // every step skips itself
    world_ = new World;
    World& w = *world_;
    w.image_dir = std::string(absl::StripAsciiWhitespace(ReadAll(MANDANT_E2E_IMAGE_DIR_FILE)));
    if (const char* dir = getenv("MANDANT_E2E_IMAGE_DIR")) w.image_dir = dir;
    ASSERT_FALSE(w.image_dir.empty()) << "no guest image; run the e2e_guest_image fixture";
    // The checksum the spec carries, from coreutils rather than the agent's
    // own code, which checks it.
    auto sum = RunCommand({"sha256sum", absl::StrCat(w.image_dir, "/", kImage, ".qcow2")});
    ASSERT_OK(sum.status());
    ASSERT_GE(sum->size(), 64u) << *sum;
    w.image_sha256 = sum->substr(0, 64);

    auto ns = NetworkNamespaces::Create(2);
    ASSERT_OK(ns.status());
    w.ns = *std::move(ns);
    // mandantd runs in this process, in the root namespace; one more port
    // on the underlay switch lets the agents reach it.
    const std::string cidr = w.ns->UnderlayCidr();
    w.controller_address = absl::StrCat(cidr.substr(0, cidr.rfind('.')), ".250");
    w.root_link = absl::StrCat("mdtc", getpid() % 100000);
    ASSERT_OK(RunCommand({"ip", "link", "add", w.root_link, "type", "veth", "peer", "name", "pc",
                          "netns", w.ns->switch_namespace()})
                  .status());
    ASSERT_OK(RunCommand({"ip", "addr", "add", absl::StrCat(w.controller_address, "/24"), "dev",
                          w.root_link})
                  .status());
    ASSERT_OK(RunCommand({"ip", "link", "set", w.root_link, "up"}).status());
    ASSERT_OK(
        w.ns->Run(w.ns->switch_namespace(), {"ip", "link", "set", "pc", "master", "sw0", "up"})
            .status());

    auto c = TestController::Start(TestPools(), 8, [&](controller::ServerOptions& o) {
      o.listen = "0.0.0.0:0";
      o.server_names = {"localhost", "127.0.0.1", w.controller_address};
    });
    ASSERT_OK(c.status());
    w.controller = *std::move(c);
    w.admin = w.controller->Token(Role::kProviderAdmin, "", "e2e");
    w.hosts = v1::HostService::NewStub(w.controller->channel());
    w.tenants = w.controller->Tenants();

    char dir[] = "/tmp/mdt-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    w.work = dir;
    w.ca_file = w.work + "/root.pem";
    std::ofstream(w.ca_file) << w.controller->server_cert_pem();

    for (const char* t : {"acme", "beta"}) {
      v1::CreateTenantRequest req;
      req.set_tenant_id(t);
      req.mutable_tenant()->set_display_name(t);
      v1::Tenant tenant;
      ASSERT_GRPC_OK(w.tenants->CreateTenant(TestController::Context(w.admin).get(), req, &tenant));
      w.tenant_vni[t] = tenant.network().vni();
      MachineStore store;
      ASSERT_OK(w.controller->server().database().Transact(
          "cluster", [&](controller::store::Connection& conn) {
            return store.CreateCluster(conn, t, "e2e");
          }));
    }
    for (int i = 0; i < 2; ++i) {
      v1::CreateHostRequest req;
      req.set_host_id(HostId(i));
      req.mutable_host()->set_underlay_address(w.ns->UnderlayAddress(i));
      v1::CreateHostResponse resp;
      ASSERT_GRPC_OK(w.hosts->CreateHost(TestController::Context(w.admin).get(), req, &resp));
      const std::string token_file = absl::StrCat(w.work, "/token-", i);
      std::ofstream(token_file) << resp.bootstrap_token().token();
      StartAgent(i, token_file);
    }
  }

  static void TearDownTestSuite() {
    if (world_ == nullptr) return;
    World& w = *world_;
    for (auto& [i, pid] : w.agents) {
      if (w.ns) (void)w.ns->Kill(pid);
    }
    w.capture_a.reset();
    w.capture_b.reset();
    w.ns.reset();  // kills QEMU processes in the namespaces, deletes links
    w.controller.reset();
    if (!w.work.empty()) (void)RunCommand({"rm", "-rf", w.work});
    delete world_;
    world_ = nullptr;
    passed_steps_.clear();
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, QEMU)";
    ASSERT_NE(world_, nullptr);
  }

  void TearDown() override {
    if (!HasFailure() && !IsSkipped()) {
      passed_steps_.insert(::testing::UnitTest::GetInstance()->current_test_info()->name());
    }
  }

  static bool StepPassed(const std::string& step) { return passed_steps_.count(step) > 0; }

  static std::string HostId(int i) { return absl::StrCat("hv", i + 1); }
  static std::string StateDir(int i) { return absl::StrCat(world_->work, "/h", i); }
  static std::string AgentLog(int i) {
    return ReadAll(absl::StrCat(world_->work, "/agent-", i, ".log"));
  }

  static void StartAgent(int i, const std::string& token_file) {
    World& w = *world_;
    std::vector<std::string> argv = {
        MANDANT_AGENT_PATH,
        absl::StrCat("--controller=", w.controller_address, ":", w.controller->server().port()),
        absl::StrCat("--host=", HostId(i)),
        absl::StrCat("--underlay_address=", w.ns->UnderlayAddress(i)),
        absl::StrCat("--state_dir=", StateDir(i)),
        absl::StrCat("--image_dir=", w.image_dir),
        absl::StrCat("--ca_file=", w.ca_file),
        "--reserve_memory_mib=0",
        "--reserve_disk_gib=0",
        "--log_level=debug"};
    if (!token_file.empty()) argv.push_back(absl::StrCat("--token_file=", token_file));
    auto pid = w.ns->Spawn(w.ns->host(i), argv, absl::StrCat(w.work, "/agent-", i, ".log"));
    ASSERT_OK(pid.status());
    w.agents[i] = *pid;
  }

  static void KillAgent(int i) {
    ASSERT_OK(world_->ns->Kill(world_->agents[i]));
    world_->agents.erase(i);
  }

  static v1::Host Host(int i) {
    v1::GetHostRequest req;
    req.set_name(absl::StrCat("hosts/", HostId(i)));
    v1::Host host;
    grpc::Status st =
        world_->hosts->GetHost(TestController::Context(world_->admin).get(), req, &host);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return host;
  }

  static bool HostReady(int i) {
    v1::Host h = Host(i);
    for (const v1::Condition& c : h.conditions()) {
      if (c.type() == "Ready") return c.status() == v1::CONDITION_STATUS_TRUE;
    }
    return false;
  }

  static void Place(const Guest& g) {
    World& w = *world_;
    NewMachine m;
    m.machine_id = g.machine_id;
    m.tenant = g.tenant;
    m.cluster = "e2e";
    m.name = g.name;
    m.host = HostId(g.host);
    m.resources.set_vcpus(1);
    m.resources.set_memory_mib(512);
    m.resources.set_disk_gib(3);
    m.base_image = kImage;
    m.base_image_sha256 = w.image_sha256;
    m.node_mac = g.mac;
    m.seed.set_user_data(g.user_data);
    m.seed.set_meta_data(
        absl::StrCat("instance-id: ", g.machine_id, "\nlocal-hostname: ", g.name, "\n"));
    m.seed.set_network_config(
        absl::StrCat("version: 2\nethernets:\n  nic0:\n    match:\n"
                     "      macaddress: \"",
                     g.mac, "\"\n    addresses: [", g.address, "]\n"));
    auto keys = w.controller->KeyRing();
    ASSERT_OK(keys.status());
    MachineStore store;
    ASSERT_OK(w.controller->server().database().Transact(
        "place", [&](controller::store::Connection& conn) {
          return store.Insert(conn, m, keys->current());
        }));
    w.placed.push_back(&g);
  }

  static void Remove(const std::string& machine_id) {
    MachineStore store;
    ASSERT_OK(world_->controller->server().database().Transact(
        "remove",
        [&](controller::store::Connection& conn) { return store.Delete(conn, machine_id); }));
  }

  static MachineObservation Observe(const std::string& machine_id) {
    MachineStore store;
    MachineObservation o;
    EXPECT_OK(world_->controller->server().database().Run(
        "observe", [&](controller::store::Connection& conn) -> absl::Status {
          auto got = store.Observation(conn, machine_id);
          if (!got.ok()) return got.status();
          o = *std::move(got);
          return absl::OkStatus();
        }));
    return o;
  }

  static std::string Bridge(const std::string& tenant) {
    return *tenants::TenantBridgeName(v1::NETWORK_MODE_VXLAN, world_->tenant_vni[tenant]);
  }
  static std::string Link(const std::string& tenant) {
    return *tenants::TenantLinkName(v1::NETWORK_MODE_VXLAN, world_->tenant_vni[tenant]);
  }

  static World* world_;
  // Names of the steps that ran and passed, for the steps that build on them.
  static std::set<std::string> passed_steps_;
};

World* AgentE2eTest::world_ = nullptr;
std::set<std::string> AgentE2eTest::passed_steps_;

// Skips the current step unless `step` (an earlier TEST_F of this suite)
// passed; a step that builds on a broken world would only fail confusingly.
#define REQUIRE_STEP(step)                                                            \
  do {                                                                                \
    if (!StepPassed(#step)) {                                                         \
      GTEST_SKIP() << "needs step " #step ", which failed or was skipped; see above"; \
    }                                                                                 \
  } while (0)

TEST_F(AgentE2eTest, AgentsEnrollAndReportReady) {
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(WaitFor(absl::Seconds(90), [&] { return HostReady(i); }))
        << "host " << i << " never became Ready:\n"
        << Host(i).DebugString() << AgentLog(i);
  }
}

TEST_F(AgentE2eTest, VmsRunOnTheirHosts) {
  REQUIRE_STEP(AgentsEnrollAndReportReady);
  World& w = *world_;
  // From the spec change to the VMs running.
  w.placed_at = absl::Now();
  for (const Guest* g : {&w.a1, &w.a2, &w.b1}) Place(*g);
  for (const Guest* g : {&w.a1, &w.a2, &w.b1}) {
    EXPECT_TRUE(WaitFor(absl::Seconds(120),
                        [&] { return Observe(g->machine_id).vm_state == v1::VM_STATE_RUNNING; }))
        << g->name << " never ran: " << Observe(g->machine_id).vm_error << "\n"
        << AgentLog(g->host);
  }
  printf("[ figure ] HostSpec change -> 3 VMs defined and running (2 hosts): %.1f s\n",
         absl::ToDoubleSeconds(absl::Now() - w.placed_at));
  fflush(stdout);
}

// Each host has exactly the networks of its tenants, flooding to exactly the
// peers that run them.
TEST_F(AgentE2eTest, HostsHaveExactlyTheirTenantsNetworks) {
  REQUIRE_STEP(VmsRunOnTheirHosts);
  World& w = *world_;
  auto links0 = w.ns->Links(w.ns->host(0));
  auto links1 = w.ns->Links(w.ns->host(1));
  ASSERT_OK(links0.status());
  ASSERT_OK(links1.status());
  EXPECT_TRUE(absl::StrContains(*links0, Bridge("acme")));
  EXPECT_TRUE(absl::StrContains(*links0, Bridge("beta")));
  EXPECT_TRUE(absl::StrContains(*links1, Bridge("acme")));
  EXPECT_FALSE(absl::StrContains(*links1, Bridge("beta"))) << "host 2 runs nothing of beta";
  auto fdb0a = w.ns->Fdb(w.ns->host(0), Link("acme"));
  auto fdb0b = w.ns->Fdb(w.ns->host(0), Link("beta"));
  auto fdb1a = w.ns->Fdb(w.ns->host(1), Link("acme"));
  ASSERT_OK(fdb0a.status());
  ASSERT_OK(fdb0b.status());
  ASSERT_OK(fdb1a.status());
  EXPECT_TRUE(absl::StrContains(*fdb0a, absl::StrCat("dst ", w.ns->UnderlayAddress(1))));
  EXPECT_TRUE(absl::StrContains(*fdb1a, absl::StrCat("dst ", w.ns->UnderlayAddress(0))));
  EXPECT_FALSE(absl::StrContains(*fdb0b, "dst ")) << "beta floods nowhere:\n" << *fdb0b;
}

// Packets from inside the guests: a1 (host 1) and a2 (host 2) ping each
// other across the underlay.
TEST_F(AgentE2eTest, TenantAGuestsReachEachOtherOverVxlan) {
  REQUIRE_STEP(VmsRunOnTheirHosts);
  World& w = *world_;
  // Started before the guests talk, read by the next step.
  auto capture_b = PacketCapture::Start(w.ns->host(0), Bridge("beta"));
  auto capture_a = PacketCapture::Start(w.ns->host(0), Bridge("acme"));
  ASSERT_OK(capture_b.status());
  ASSERT_OK(capture_a.status());
  w.capture_b = *std::move(capture_b);
  w.capture_a = *std::move(capture_a);
  for (const Guest* g : {&w.a1, &w.a2}) {
    ASSERT_TRUE(
        WaitFor(absl::Minutes(8),
                [&] { return Observe(g->machine_id).guest_phase == v1::GUEST_PHASE_READY; }))
        << g->name << " did not reach its peer: " << Observe(g->machine_id).guest_message;
    EXPECT_TRUE(absl::StrContains(Observe(g->machine_id).guest_message, "reached"));
  }
  printf("[ figure ] placement -> tenant A's guests reached each other over VXLAN: %.1f s\n",
         absl::ToDoubleSeconds(absl::Now() - w.placed_at));
  fflush(stdout);
}

// b1 (tenant B, on A's addresses, beside a1) keeps probing while a1 and a2
// are up and broadcasting: it never gets a reply, and no frame crosses
// between the tenants' bridges.
TEST_F(AgentE2eTest, TenantBGetsNoReplyAndNoFrameCrosses) {
  // Without A's guests up and broadcasting, silence would prove nothing.
  REQUIRE_STEP(TenantAGuestsReachEachOtherOverVxlan);
  World& w = *world_;
  int first_attempt = -1;
  int attempt = -1;
  ASSERT_TRUE(WaitFor(
      absl::Minutes(3),
      [&] {
        MachineObservation o = Observe(w.b1.machine_id);
        if (o.guest_phase == v1::GUEST_PHASE_FAILED) return true;
        int n = -1;
        const size_t open = o.guest_message.rfind('(');
        if (open != std::string::npos) {
          (void)absl::SimpleAtoi(
              absl::StripSuffix(absl::string_view(o.guest_message).substr(open + 1), ")"), &n);
        }
        if (n >= 0 && first_attempt < 0) first_attempt = n;
        attempt = n;
        return first_attempt >= 0 && attempt >= first_attempt + 10;
      }))
      << "b1 reports: " << Observe(w.b1.machine_id).guest_message;
  MachineObservation b = Observe(w.b1.machine_id);
  EXPECT_NE(b.guest_phase, v1::GUEST_PHASE_FAILED) << b.guest_message;
  EXPECT_FALSE(absl::StrContains(b.guest_message, "LEAK")) << b.guest_message;

  w.capture_a->Stop();
  w.capture_b->Stop();
  int a_frames_on_a = 0;
  for (const CapturedFrame& f : w.capture_a->Frames()) {
    if (f.source_mac == w.a2.mac) ++a_frames_on_a;
    EXPECT_NE(f.source_mac, w.b1.mac) << "tenant B's frame on tenant A's bridge";
  }
  // The capture works: a2's frames cross the underlay onto host 1's bridge.
  EXPECT_GT(a_frames_on_a, 0) << "no frame of a2 seen on host 1's acme bridge";
  int b_frames = 0;
  for (const CapturedFrame& f : w.capture_b->Frames()) {
    if (f.source_mac == w.b1.mac) ++b_frames;
    EXPECT_NE(f.source_mac, w.a1.mac) << "tenant A's frame on tenant B's bridge";
    EXPECT_NE(f.source_mac, w.a2.mac) << "tenant A's frame on tenant B's bridge";
  }
  EXPECT_GT(b_frames, 0) << "no frame of b1 seen on its own bridge";
  printf(
      "[ facts  ] b1 (tenant B on A's addresses) after %d probes: \"%s\"; frames of a2 on host "
      "1's acme bridge: %d, of b1 on its beta bridge: %d, of A on beta: 0\n",
      attempt - first_attempt, b.guest_message.c_str(), a_frames_on_a, b_frames);
}

// kill -9 of host 1's agent while it creates a new VM, then a restart: the
// running VMs keep their QEMU processes and the new one runs exactly once.
TEST_F(AgentE2eTest, KillMidReconcileKeepsQemuProcesses) {
  REQUIRE_STEP(VmsRunOnTheirHosts);
  World& w = *world_;
  std::map<std::string, std::vector<pid_t>> before = QemuProcesses();
  ASSERT_EQ(before[w.a1.machine_id].size(), 1u);
  ASSERT_EQ(before[w.b1.machine_id].size(), 1u);
  Place(w.a3);
  // The kill lands when the agent has begun creating a3 (its VM directory
  // exists; disk, seed, definition and start follow), not at a guessed time.
  const std::string a3_dir = absl::StrCat(StateDir(0), "/vms/", w.a3.machine_id);
  ASSERT_TRUE(WaitFor(
      absl::Seconds(60), [&] { return access(a3_dir.c_str(), F_OK) == 0; }, absl::Milliseconds(5)))
      << "host 1's agent never started on a3\n"
      << AgentLog(0);
  KillAgent(0);
  auto left = RunCommand({"ls", "-A", a3_dir});
  const std::string a3_files =
      left.ok() ? std::string(absl::StripAsciiWhitespace(*left)) : left.status().ToString();
  StartAgent(0, "");
  ASSERT_TRUE(WaitFor(
      absl::Seconds(180),
      [&] { return Observe(w.a3.machine_id).vm_state == v1::VM_STATE_RUNNING && HostReady(0); }))
      << Observe(w.a3.machine_id).vm_error << "\n"
      << AgentLog(0);
  std::map<std::string, std::vector<pid_t>> after = QemuProcesses();
  EXPECT_EQ(after[w.a1.machine_id], before[w.a1.machine_id]) << "a1's QEMU was replaced";
  EXPECT_EQ(after[w.b1.machine_id], before[w.b1.machine_id]) << "b1's QEMU was replaced";
  EXPECT_EQ(after[w.a2.machine_id], before[w.a2.machine_id]) << "a2's QEMU was replaced";
  EXPECT_EQ(after[w.a3.machine_id].size(), 1u) << "a3 must run exactly once";
  printf(
      "[ facts  ] killed with a3's directory holding [%s]; after the restart: a1 pid %d -> "
      "%d, b1 pid %d -> %d\n",
      absl::StrReplaceAll(a3_files, {{"\n", " "}}).c_str(), before[w.a1.machine_id].front(),
      after[w.a1.machine_id].front(), before[w.b1.machine_id].front(),
      after[w.b1.machine_id].front());
  fflush(stdout);
  w.qemu_after_restart = after;
}

// Quick exits while libvirt re-attaches its VMs: the embedded driver once
// took a VM down when the process that opened its root exited a second or
// two later.
TEST_F(AgentE2eTest, QuickAgentExitsKeepVmsRunning) {
  REQUIRE_STEP(KillMidReconcileKeepsQemuProcesses);
  World& w = *world_;
  for (absl::Duration lived : {absl::Milliseconds(200), absl::Seconds(1), absl::Seconds(2)}) {
    KillAgent(0);
    StartAgent(0, "");
    // Not a synchronization: how long the agent lives before the next kill
    // is what this step varies.
    absl::SleepFor(lived);
  }
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] { return HostReady(0); })) << AgentLog(0);
  std::map<std::string, std::vector<pid_t>> quick = QemuProcesses();
  for (const Guest* g : {&w.a1, &w.a3, &w.b1}) {
    EXPECT_EQ(quick[g->machine_id], w.qemu_after_restart[g->machine_id])
        << g->name << "'s QEMU changed after quick agent exits";
    EXPECT_EQ(Observe(g->machine_id).vm_state, v1::VM_STATE_RUNNING) << g->name;
  }
}

// Removing every machine leaves nothing of Mandant's on the hosts. Runs
// whenever the agents are up, whatever the steps before it placed.
TEST_F(AgentE2eTest, RemovalLeavesNothing) {
  REQUIRE_STEP(AgentsEnrollAndReportReady);
  World& w = *world_;
  if (w.agents.count(0) == 0) StartAgent(0, "");  // a step above failed between kill and start
  for (const Guest* g : w.placed) Remove(g->machine_id);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(WaitFor(absl::Seconds(120), [&] {
      v1::Host h = Host(i);
      return HostReady(i) && h.allocations_size() == 0;
    })) << AgentLog(i);
  }
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [&] {
    auto q = QemuProcesses();
    for (const Guest* g : w.placed) {
      if (q.count(g->machine_id)) return false;
    }
    return true;
  })) << "QEMU processes left";
  ASSERT_TRUE(WaitFor(absl::Seconds(60),
                      [&] {
                        for (int i = 0; i < 2; ++i) {
                          auto links = w.ns->Links(w.ns->host(i));
                          if (!links.ok() || absl::StrContains(*links, "mb-x") ||
                              absl::StrContains(*links, "mx-")) {
                            return false;
                          }
                        }
                        return true;
                      }))
      << *w.ns->Links(w.ns->host(0)) << *w.ns->Links(w.ns->host(1));
  // A deletion that failed once (e.g. QEMU still exiting under load) is
  // retried with backoff; the host must end up empty all the same.
  auto vm_files = [&](int i) {
    auto found = RunCommand({"find", StateDir(i) + "/vms", "-mindepth", "1"});
    return found.ok() ? *found : found.status().ToString();
  };
  const absl::Time removed = absl::Now();
  ASSERT_TRUE(
      WaitFor(absl::Seconds(120), [&] { return vm_files(0).empty() && vm_files(1).empty(); }))
      << "VM files left:\n"
      << vm_files(0) << vm_files(1) << AgentLog(0) << AgentLog(1);
  printf("[ facts  ] VM directories gone %.1f s after the links\n",
         absl::ToDoubleSeconds(absl::Now() - removed));
  for (int i = 0; i < 2; ++i) {
    auto table = w.ns->Run(w.ns->host(i), {"nft", "list", "ruleset"});
    ASSERT_OK(table.status());
    EXPECT_FALSE(absl::StrContains(*table, "mb-x")) << *table;
  }
}

}  // namespace
}  // namespace mandant::testing
