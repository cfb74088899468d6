// Edges against in-memory fakes of the edge runtime
// (fake_edge_runtime.h): what a pass creates, changes and removes, what it
// refuses, and what it reports.

#include "agents/edge/edges.h"

#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agents/edge/dnsmasq_config.h"
#include "agents/edge/edge_ruleset.h"
#include "agents/edge/haproxy_config.h"
#include "agents/edge/haproxy_stats.h"
#include "agents/edge/keepalived_config.h"
#include "common/files.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/agents/edge/edge_specs.h"
#include "tests/unit/agents/edge/fake_edge_runtime.h"
#include "tests/unit/agents/vm/test_dir.h"

namespace mandant::agent {
namespace {

using ::mandant::agent::testing::FakeEdgeNetworking;
using ::mandant::agent::testing::FakeEdgeProcesses;
using ::mandant::agent::testing::FakeEgressWatcher;
using ::mandant::agent::testing::RedundantEdge;
using ::mandant::agent::testing::SingleEdge;
using ::mandant::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kSingle[] = "mandant-ex0003e9";
constexpr char kRedundant[] = "mandant-ev002a";

// "show stat" of the single edge's haproxy: cp-1 up, cp-2 down, cp-3
// draining (weight 0, check passing).
constexpr char kShowStat[] =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight\n"
    "fe-prod,FRONTEND,,,0,0,262120,0,0,0,0,0,0,,,,,OPEN,\n"
    "be-prod,cp-1,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1\n"
    "be-prod,cp-2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1\n"
    "be-prod,cp-3,0,0,0,0,,0,0,0,,0,,0,0,0,0,DRAIN,0\n"
    "be-prod,BACKEND,0,0,0,0,26212,0,0,0,0,0,,0,0,0,0,UP,1\n";

std::vector<v1::EdgeSpec> Specs(std::initializer_list<v1::EdgeSpec> specs) { return specs; }

class EdgesTest : public ::testing::Test {
 protected:
  EdgesTest() : net_(&journal_), processes_(&net_, &journal_), egress_(&journal_) {}

  void SetUp() override {
    state_dir_ = dir_.path() + "/edges";
    for (const v1::EdgeSpec& spec : {SingleEdge(), RedundantEdge()}) {
      net_.bridges.insert(spec.tenant_bridge());
      net_.bridges.insert(spec.external_bridge());
      bridge_tenants_[spec.tenant_bridge()] = spec.tenant();
    }
    edges_ = NewEdges();
  }

  std::unique_ptr<Edges> NewEdges() {
    Edges::Options options;
    options.networking = &net_;
    options.processes = &processes_;
    options.egress = &egress_;
    options.state_dir = state_dir_;
    options.haproxy_stat = [this](const std::string& socket) -> absl::StatusOr<std::string> {
      sockets_.push_back(socket);
      return show_stat_;
    };
    absl::StatusOr<std::unique_ptr<Edges>> edges = Edges::Create(std::move(options));
    EXPECT_OK(edges);
    return edges.ok() ? *std::move(edges) : nullptr;
  }

  Edges::Result Reconcile(const std::vector<v1::EdgeSpec>& specs) {
    return edges_->Reconcile(specs, bridge_tenants_);
  }

  EdgeFiles Files(const std::string& netns) { return EdgeFilesOf(state_dir_, netns); }

  std::string Rendered(const v1::EdgeSpec& spec, EdgeProgram program) {
    const EdgeFiles files = Files(spec.namespace_());
    absl::StatusOr<std::string> text = absl::InternalError("unknown program");
    if (program == EdgeProgram::kDnsmasq) {
      text = RenderDnsmasqConfig(spec, {files.dnsmasq_leases, files.dnsmasq_pid});
    } else if (program == EdgeProgram::kHaproxy) {
      text = RenderHaproxyConfig(spec, {files.haproxy_socket});
    } else {
      text = RenderKeepalivedConfig(
          spec, {absl::StrCat(state_dir_, "/", kKeepalivedNotifyScriptName), files.vrrp_state});
    }
    EXPECT_OK(text);
    return text.ok() ? *text : "";
  }

  agent::testing::TestDir dir_;
  std::string state_dir_;
  std::vector<std::string> journal_;
  FakeEdgeNetworking net_;
  FakeEdgeProcesses processes_;
  FakeEgressWatcher egress_;
  absl::flat_hash_map<std::string, std::string> bridge_tenants_;
  absl::StatusOr<std::string> show_stat_ = std::string(kShowStat);
  std::vector<std::string> sockets_;
  std::unique_ptr<Edges> edges_;
};

TEST_F(EdgesTest, CreateNeedsItsDependenciesAndAUsableStateDir) {
  Edges::Options options;
  options.state_dir = state_dir_;
  EXPECT_THAT(Edges::Create(options), StatusIs(absl::StatusCode::kInvalidArgument, "needs"));
  options.networking = &net_;
  options.processes = &processes_;
  options.egress = &egress_;
  options.state_dir = "relative/edges";
  EXPECT_THAT(Edges::Create(options), StatusIs(absl::StatusCode::kInvalidArgument, ""));
  options.state_dir = "/tmp/with space";
  EXPECT_THAT(Edges::Create(options), StatusIs(absl::StatusCode::kInvalidArgument, ""));
  options.state_dir = "/" + std::string(70, 'a');
  EXPECT_THAT(Edges::Create(options), StatusIs(absl::StatusCode::kInvalidArgument, "socket path"));
}

TEST_F(EdgesTest, CreatesEverythingForANewSingleEdge) {
  const v1::EdgeSpec spec = SingleEdge();
  Edges::Result result = Reconcile(Specs({spec}));
  ASSERT_EQ(result.edges.size(), 1u);
  EXPECT_THAT(result.host_errors, IsEmpty());
  EXPECT_EQ(result.edges[0].error(), "");

  ASSERT_EQ(net_.namespaces.count(kSingle), 1u);
  const testing::FakeEdgeNamespace& ns = net_.namespaces[kSingle];
  EXPECT_TRUE(ns.forwarding);
  EXPECT_EQ(ns.ruleset, *RenderEdgeRuleset(spec));
  ASSERT_EQ(ns.veths.size(), 2u);
  const EdgeVeth& inside = ns.veths.at("inside");
  EXPECT_EQ(inside.host_link, "mei-x0003e9");
  EXPECT_EQ(inside.bridge, "mb-x0003e9");
  EXPECT_EQ(inside.mtu, 1450);
  const EdgeVeth& outside = ns.veths.at("outside");
  EXPECT_EQ(outside.host_link, "meo-x0003e9");
  EXPECT_EQ(outside.bridge, "br-ext");
  EXPECT_EQ(outside.mtu, 0);
  // A single edge holds every address itself.
  EXPECT_THAT(ns.addresses.at("inside"),
              UnorderedElementsAre("10.64.3.2/24", "10.64.3.1/24", "10.64.3.3/24"));
  EXPECT_THAT(ns.addresses.at("outside"),
              UnorderedElementsAre("198.51.100.7/24", "198.51.100.8/24"));
  EXPECT_THAT(ns.unmanaged.at("inside"), IsEmpty());
  EXPECT_EQ(ns.default_route, "via 198.51.100.1 dev outside onlink");
  EXPECT_THAT(egress_.watched, ElementsAre(kSingle));

  // dnsmasq and haproxy with their rendered configurations; no keepalived.
  const auto& programs = processes_.edges[kSingle];
  ASSERT_EQ(programs.size(), 2u);
  EXPECT_EQ(programs.at(EdgeProgram::kDnsmasq).config, Rendered(spec, EdgeProgram::kDnsmasq));
  EXPECT_EQ(programs.at(EdgeProgram::kDnsmasq).command.argv,
            DefaultEdgeCommand(EdgeProgram::kDnsmasq).argv);
  EXPECT_EQ(programs.at(EdgeProgram::kHaproxy).config, Rendered(spec, EdgeProgram::kHaproxy));
  EXPECT_EQ(programs.at(EdgeProgram::kHaproxy).command.check_argv,
            DefaultEdgeCommand(EdgeProgram::kHaproxy).check_argv);

  // The ruleset is loaded before any link joins the namespace.
  ASSERT_GE(journal_.size(), 4u);
  EXPECT_EQ(journal_[0], absl::StrCat("net.EnsureNamespace ", kSingle));
  const auto ruleset =
      std::find(journal_.begin(), journal_.end(), absl::StrCat("net.LoadRuleset ", kSingle));
  const auto veth =
      std::find(journal_.begin(), journal_.end(), absl::StrCat("net.EnsureVeth ", kSingle));
  EXPECT_LT(ruleset, veth);
}

TEST_F(EdgesTest, ReportsProcessesBackendsDropsAndEgressDrops) {
  const v1::EdgeSpec spec = SingleEdge();
  Reconcile(Specs({spec}));
  net_.namespaces[kSingle].counters = {{"drop-prod", 42}, {"other", 7}};
  egress_.dropped[kSingle] = 5;
  Edges::Result result = Reconcile(Specs({spec}));
  ASSERT_EQ(result.edges.size(), 1u);
  const v1::EdgeStatus& status = result.edges[0];
  EXPECT_EQ(status.namespace_(), kSingle);
  EXPECT_EQ(status.tenant(), "tenants/acme");
  EXPECT_EQ(status.vrrp_state(), v1::VRRP_STATE_UNSPECIFIED);
  ASSERT_EQ(status.processes_size(), 2);
  EXPECT_EQ(status.processes(0).name(), "dnsmasq");
  EXPECT_EQ(status.processes(1).name(), "haproxy");
  EXPECT_TRUE(status.processes(1).running());
  EXPECT_EQ(status.processes(1).pid(), processes_.edges[kSingle][EdgeProgram::kHaproxy].pid);
  ASSERT_EQ(status.endpoints_size(), 1);
  EXPECT_EQ(status.endpoints(0).cluster(), "tenants/acme/clusters/prod");
  EXPECT_EQ(status.endpoints(0).backends(), 3);
  EXPECT_EQ(status.endpoints(0).healthy_backends(), 2);  // cp-1 up, cp-3 draining
  EXPECT_EQ(status.endpoints(0).dropped_packets(), 42u);
  EXPECT_EQ(status.egress_events_dropped(), 5u);
  EXPECT_THAT(sockets_, ::testing::Contains(Files(kSingle).haproxy_socket));

  // haproxy not answering: the spec's backends, none known healthy.
  show_stat_ = absl::UnavailableError("connection refused");
  result = Reconcile(Specs({spec}));
  ASSERT_EQ(result.edges[0].endpoints_size(), 1);
  EXPECT_EQ(result.edges[0].endpoints(0).backends(), 3);
  EXPECT_EQ(result.edges[0].endpoints(0).healthy_backends(), 0);
  EXPECT_EQ(result.edges[0].error(), "");
}

TEST_F(EdgesTest, RedundantEdgeLeavesTheVirtualAddressesToKeepalived) {
  const v1::EdgeSpec spec = RedundantEdge();
  // Addresses keepalived gave this copy stay.
  ASSERT_OK(net_.EnsureNamespace(kRedundant));
  Edges::Result result = Reconcile(Specs({spec}));
  ASSERT_EQ(result.edges.size(), 1u);
  EXPECT_EQ(result.edges[0].error(), "");
  const testing::FakeEdgeNamespace& ns = net_.namespaces[kRedundant];
  EXPECT_THAT(ns.addresses.at("inside"), ElementsAre(absl::StrCat(spec.instance_address(), "/22")));
  EXPECT_THAT(ns.addresses.at("outside"), IsEmpty());
  std::vector<std::string> inside_virtual = {spec.gateway_address()};
  std::vector<std::string> outside_virtual = {spec.egress_address()};
  for (const auto& e : spec.endpoints()) {
    inside_virtual.push_back(e.internal_address());
    outside_virtual.push_back(e.external_address());
  }
  EXPECT_EQ(ns.unmanaged.at("inside"), inside_virtual);
  EXPECT_EQ(ns.unmanaged.at("outside"), outside_virtual);

  const auto& programs = processes_.edges[kRedundant];
  ASSERT_EQ(programs.count(EdgeProgram::kKeepalived), 1u);
  EXPECT_EQ(programs.at(EdgeProgram::kKeepalived).config, Rendered(spec, EdgeProgram::kKeepalived));
  // The notify script the configuration names, executable, only root's.
  const std::string script = absl::StrCat(state_dir_, "/", kKeepalivedNotifyScriptName);
  EXPECT_EQ(ReadFile(script).value_or(""), KeepalivedNotifyScript());
  struct stat st {};
  ASSERT_EQ(stat(script.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  ASSERT_EQ(stat(state_dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  // No state file yet: keepalived is starting.
  EXPECT_EQ(result.edges[0].vrrp_state(), v1::VRRP_STATE_FAULT);
  const std::string state_file = Files(kRedundant).vrrp_state;
  std::filesystem::create_directories(Files(kRedundant).run);
  for (const auto& [text, state] :
       std::vector<std::pair<std::string, v1::VrrpState>>{{"MASTER\n", v1::VRRP_STATE_MASTER},
                                                          {"BACKUP\n", v1::VRRP_STATE_BACKUP},
                                                          {"FAULT\n", v1::VRRP_STATE_FAULT},
                                                          {"STOP\n", v1::VRRP_STATE_FAULT}}) {
    ASSERT_OK(WriteFileAtomically(state_file, text, 0644));
    EXPECT_EQ(Reconcile(Specs({spec})).edges[0].vrrp_state(), state) << text;
  }
  // A state file left by a dead keepalived says nothing.
  ASSERT_OK(WriteFileAtomically(state_file, "MASTER\n", 0644));
  processes_.edges[kRedundant][EdgeProgram::kKeepalived].running = false;
  processes_.fail_ensure[EdgeProgram::kKeepalived] = absl::UnavailableError("exited at once");
  result = Reconcile(Specs({spec}));
  EXPECT_EQ(result.edges[0].vrrp_state(), v1::VRRP_STATE_FAULT);
  EXPECT_THAT(result.edges[0].error(), HasSubstr("exited at once"));
}

TEST_F(EdgesTest, ASecondPassWithTheSameSpecChangesNothing) {
  Reconcile(Specs({SingleEdge(), RedundantEdge()}));
  const int net_changes = net_.changes;
  const int process_changes = processes_.changes;
  const size_t journal = journal_.size();
  Edges::Result result = Reconcile(Specs({SingleEdge(), RedundantEdge()}));
  EXPECT_EQ(net_.changes, net_changes);
  EXPECT_EQ(processes_.changes, process_changes);
  EXPECT_EQ(journal_.size(), journal);
  ASSERT_EQ(result.edges.size(), 2u);
  // Ordered by namespace.
  EXPECT_EQ(result.edges[0].namespace_(), kRedundant);
  EXPECT_EQ(result.edges[1].namespace_(), kSingle);
}

TEST_F(EdgesTest, ChangesOnlyWhatChanged) {
  v1::EdgeSpec spec = SingleEdge();
  Reconcile(Specs({spec}));
  const int dnsmasq_pid = processes_.edges[kSingle][EdgeProgram::kDnsmasq].pid;
  const int haproxy_pid = processes_.edges[kSingle][EdgeProgram::kHaproxy].pid;
  const int loads = net_.namespaces[kSingle].ruleset_loads;

  // A new control plane: haproxy reloads (same pid), nothing else moves.
  v1::EdgeBackend* backend = spec.mutable_endpoints(0)->add_backends();
  backend->set_name("cp-4");
  backend->set_address("10.64.3.14");
  backend->set_port(6443);
  journal_.clear();
  Edges::Result result = Reconcile(Specs({spec}));
  EXPECT_EQ(result.edges[0].error(), "");
  EXPECT_THAT(journal_, ElementsAre(absl::StrCat("proc.Ensure ", kSingle, " haproxy")));
  EXPECT_EQ(processes_.outcomes.back(), EnsureOutcome::kReloaded);
  EXPECT_EQ(processes_.edges[kSingle][EdgeProgram::kHaproxy].pid, haproxy_pid);
  EXPECT_EQ(processes_.edges[kSingle][EdgeProgram::kDnsmasq].pid, dnsmasq_pid);
  EXPECT_EQ(net_.namespaces[kSingle].ruleset_loads, loads);

  // A new allowed CIDR: only the ruleset.
  spec.mutable_endpoints(0)->add_allowed_cidrs("198.18.0.0/15");
  journal_.clear();
  Reconcile(Specs({spec}));
  EXPECT_THAT(journal_, ElementsAre(absl::StrCat("net.LoadRuleset ", kSingle)));

  // A new lease: dnsmasq restarts (it cannot reload its options).
  v1::DhcpHost* host = spec.add_dhcp_hosts();
  host->set_mac_address("02:00:0a:40:03:0e");
  host->set_address("10.64.3.14");
  host->set_hostname("cp-4");
  journal_.clear();
  Reconcile(Specs({spec}));
  EXPECT_THAT(journal_, ElementsAre(absl::StrCat("proc.Ensure ", kSingle, " dnsmasq")));
  EXPECT_NE(processes_.edges[kSingle][EdgeProgram::kDnsmasq].pid, dnsmasq_pid);
  EXPECT_EQ(processes_.edges[kSingle][EdgeProgram::kHaproxy].pid, haproxy_pid);
}

TEST_F(EdgesTest, ABadSpecReportsItsErrorAndAppliesNothing) {
  v1::EdgeSpec bad = SingleEdge();
  bad.set_instance_address("10.99.0.2");  // outside node_cidr
  bad.set_mtu(100);
  Edges::Result result = Reconcile(Specs({bad}));
  ASSERT_EQ(result.edges.size(), 1u);
  EXPECT_EQ(result.edges[0].namespace_(), kSingle);
  EXPECT_EQ(result.edges[0].tenant(), "tenants/acme");
  EXPECT_THAT(result.edges[0].error(), HasSubstr("instance_address"));
  EXPECT_THAT(result.edges[0].error(), HasSubstr("mtu"));
  EXPECT_THAT(result.edges[0].endpoints(), IsEmpty());
  EXPECT_THAT(journal_, IsEmpty());
  EXPECT_THAT(net_.namespaces, IsEmpty());
  EXPECT_THAT(processes_.edges, IsEmpty());
  EXPECT_FALSE(std::filesystem::exists(Files(kSingle).dir));
}

TEST_F(EdgesTest, AnEdgeOnAnotherTenantsBridgeIsRefused) {
  v1::EdgeSpec spec = SingleEdge();
  bridge_tenants_[spec.tenant_bridge()] = "tenants/evil";
  Edges::Result result = Reconcile(Specs({spec}));
  ASSERT_EQ(result.edges.size(), 1u);
  EXPECT_THAT(result.edges[0].error(), HasSubstr("belongs to tenants/evil"));
  bridge_tenants_.erase(spec.tenant_bridge());
  result = Reconcile(Specs({spec}));
  EXPECT_THAT(result.edges[0].error(), HasSubstr("not a tenant network"));
  EXPECT_THAT(journal_, IsEmpty());
}

TEST_F(EdgesTest, ARefusedSpecLeavesTheRunningEdgeAsItIs) {
  Reconcile(Specs({SingleEdge()}));
  journal_.clear();
  v1::EdgeSpec bad = SingleEdge();
  bad.set_gateway_address("not an address");
  Edges::Result result = Reconcile(Specs({bad}));
  EXPECT_THAT(result.edges[0].error(), HasSubstr("gateway_address"));
  EXPECT_THAT(journal_, IsEmpty());
  EXPECT_EQ(net_.namespaces.count(kSingle), 1u);
  // Its processes are still reported.
  EXPECT_EQ(result.edges[0].processes_size(), 2);
}

TEST_F(EdgesTest, AnEdgeOfAFormerTenantOfTheSegmentIsRemovedBeforeTheNewOneIsBuilt) {
  Reconcile(Specs({SingleEdge()}));
  const int old_dnsmasq = processes_.edges[kSingle][EdgeProgram::kDnsmasq].pid;
  // The VNI went to tenant "zeta" after acme left.
  v1::EdgeSpec spec = SingleEdge();
  spec.set_tenant("tenants/zeta");
  spec.mutable_endpoints(0)->set_cluster("tenants/zeta/clusters/prod");
  bridge_tenants_[spec.tenant_bridge()] = "tenants/zeta";
  journal_.clear();
  Edges::Result result = Reconcile(Specs({spec}));
  ASSERT_EQ(result.edges.size(), 1u);
  EXPECT_EQ(result.edges[0].error(), "");
  EXPECT_EQ(result.edges[0].tenant(), "tenants/zeta");
  ASSERT_GE(journal_.size(), 4u);
  EXPECT_EQ(journal_[0], absl::StrCat("egress.Unwatch ", kSingle));
  EXPECT_EQ(journal_[1], absl::StrCat("proc.Stop ", kSingle));
  EXPECT_EQ(journal_[2], absl::StrCat("net.DeleteNamespace ", kSingle));
  EXPECT_EQ(journal_[3], absl::StrCat("net.EnsureNamespace ", kSingle));
  EXPECT_NE(processes_.edges[kSingle][EdgeProgram::kDnsmasq].pid, old_dnsmasq);
  EXPECT_EQ(ReadFile(Files(kSingle).tenant).value_or(""), "tenants/zeta\n");
}

TEST_F(EdgesTest, ANamespaceListedTwiceIsRefused) {
  Edges::Result result = Reconcile(Specs({SingleEdge(), SingleEdge()}));
  ASSERT_EQ(result.edges.size(), 1u);
  EXPECT_THAT(result.edges[0].error(), HasSubstr("listed 2 times"));
  EXPECT_THAT(journal_, IsEmpty());
}

TEST_F(EdgesTest, AnEdgeGoneFromTheSpecIsRemovedCompletely) {
  Reconcile(Specs({SingleEdge(), RedundantEdge()}));
  ASSERT_TRUE(std::filesystem::exists(Files(kSingle).tenant));
  journal_.clear();
  Edges::Result result = Reconcile(Specs({RedundantEdge()}));
  ASSERT_EQ(result.edges.size(), 2u);
  const v1::EdgeStatus& removed = result.edges[1];
  EXPECT_EQ(removed.namespace_(), kSingle);
  EXPECT_EQ(removed.tenant(), "tenants/acme");
  EXPECT_EQ(removed.error(), "");
  EXPECT_THAT(removed.processes(), IsEmpty());
  // The egress log's socket first (it would keep the namespace), then the
  // programs, then the namespace with its veths.
  EXPECT_THAT(journal_, ElementsAre(absl::StrCat("egress.Unwatch ", kSingle),
                                    absl::StrCat("proc.Stop ", kSingle),
                                    absl::StrCat("net.DeleteNamespace ", kSingle)));
  EXPECT_EQ(net_.namespaces.count(kSingle), 0u);
  EXPECT_EQ(processes_.edges.count(kSingle), 0u);
  EXPECT_EQ(egress_.watched.count(kSingle), 0u);
  EXPECT_FALSE(std::filesystem::exists(Files(kSingle).dir));
  EXPECT_EQ(net_.namespaces.count(kRedundant), 1u);

  // Gone: no longer reported.
  result = Reconcile(Specs({RedundantEdge()}));
  ASSERT_EQ(result.edges.size(), 1u);
  EXPECT_EQ(result.edges[0].namespace_(), kRedundant);
}

TEST_F(EdgesTest, EveryTraceOfAnUndesiredEdgeIsRemoved) {
  // A namespace alone, a state directory alone, an egress log alone: what a
  // crash halfway through creating or removing an edge leaves.
  ASSERT_OK(net_.EnsureNamespace("mandant-ex000001"));
  processes_.edges["mandant-ex000002"];
  egress_.watched.insert("mandant-ev0003");
  journal_.clear();
  Edges::Result result = Reconcile({});
  ASSERT_EQ(result.edges.size(), 3u);
  for (const v1::EdgeStatus& status : result.edges) EXPECT_EQ(status.error(), "");
  EXPECT_THAT(net_.namespaces, IsEmpty());
  EXPECT_THAT(processes_.edges, IsEmpty());
  EXPECT_THAT(egress_.watched, IsEmpty());
}

TEST_F(EdgesTest, ForeignNamespacesAndDirectoriesAreNeverTouched) {
  // Edge-prefixed but not Mandant's names, and others.
  for (const char* name :
       {"mandant-etest01", "mandant-eprod", "mandant-ex0003e9-old", "blue", "mandant-x0003e9"}) {
    net_.namespaces[name];
    std::filesystem::create_directories(absl::StrCat(state_dir_, "/", name));
  }
  net_.changes = 0;
  Edges::Result result = Reconcile({});
  EXPECT_THAT(result.edges, IsEmpty());
  EXPECT_THAT(journal_, IsEmpty());
  EXPECT_EQ(net_.namespaces.size(), 5u);
  EXPECT_TRUE(std::filesystem::exists(state_dir_ + "/mandant-eprod"));
}

TEST_F(EdgesTest, ANewAgentAdoptsTheRunningEdges) {
  Reconcile(Specs({SingleEdge(), RedundantEdge()}));
  const auto programs = processes_.edges;
  const int net_changes = net_.changes;
  const int process_changes = processes_.changes;
  // The agent restarts: a new Edges over the same host.
  edges_.reset();
  edges_ = NewEdges();
  journal_.clear();
  Edges::Result result = Reconcile(Specs({SingleEdge(), RedundantEdge()}));
  EXPECT_THAT(journal_, IsEmpty());
  EXPECT_EQ(net_.changes, net_changes);
  EXPECT_EQ(processes_.changes, process_changes);
  for (const auto& [netns, by_program] : programs) {
    for (const auto& [program, process] : by_program) {
      EXPECT_EQ(processes_.edges[netns][program].pid, process.pid) << netns;
    }
  }
  for (const v1::EdgeStatus& status : result.edges) EXPECT_EQ(status.error(), "");
}

TEST_F(EdgesTest, ARedundantEdgeThatBecomesSingleStopsKeepalivedFirst) {
  v1::EdgeSpec spec = RedundantEdge();
  Reconcile(Specs({spec}));
  spec.clear_vrrp();
  journal_.clear();
  Edges::Result result = Reconcile(Specs({spec}));
  EXPECT_EQ(result.edges[0].error(), "");
  EXPECT_EQ(result.edges[0].vrrp_state(), v1::VRRP_STATE_UNSPECIFIED);
  EXPECT_EQ(processes_.edges[kRedundant].count(EdgeProgram::kKeepalived), 0u);
  const auto stop = std::find(journal_.begin(), journal_.end(),
                              absl::StrCat("proc.StopProgram ", kRedundant, " keepalived"));
  const auto addresses =
      std::find(journal_.begin(), journal_.end(), absl::StrCat("net.SetAddresses ", kRedundant));
  ASSERT_NE(stop, journal_.end());
  ASSERT_NE(addresses, journal_.end());
  EXPECT_LT(stop, addresses);
  EXPECT_THAT(net_.namespaces[kRedundant].addresses.at("inside"),
              ::testing::Contains(absl::StrCat(spec.gateway_address(), "/22")));
}

TEST_F(EdgesTest, AFailedStepIsTheEdgesErrorAndTheOthersGoOn) {
  // Without its namespace nothing else is tried.
  net_.fail["EnsureNamespace"] = absl::PermissionDeniedError("no CAP_SYS_ADMIN");
  Edges::Result result = Reconcile(Specs({SingleEdge(), RedundantEdge()}));
  ASSERT_EQ(result.edges.size(), 2u);
  for (const v1::EdgeStatus& status : result.edges) {
    EXPECT_THAT(status.error(), HasSubstr("no CAP_SYS_ADMIN"));
  }
  EXPECT_THAT(processes_.edges, IsEmpty());
  net_.fail.clear();

  // nft refuses the ruleset: no link joins an unprotected namespace.
  net_.fail["LoadRuleset"] = absl::InvalidArgumentError("nft refused the ruleset");
  result = Reconcile(Specs({SingleEdge()}));
  // The other edge's state directory from the first pass is removed.
  ASSERT_EQ(result.edges.size(), 2u);
  EXPECT_EQ(result.edges[0].namespace_(), kRedundant);
  EXPECT_EQ(result.edges[0].error(), "");
  EXPECT_THAT(result.edges[1].error(), HasSubstr("nft refused"));
  EXPECT_THAT(net_.namespaces[kSingle].veths, IsEmpty());
  net_.fail.clear();

  // One program failing does not keep the other from running.
  processes_.fail_ensure[EdgeProgram::kDnsmasq] =
      absl::InvalidArgumentError("dnsmasq refused the new configuration");
  egress_.fail_watch = absl::UnavailableError("another listener on group 1");
  result = Reconcile(Specs({SingleEdge()}));
  ASSERT_EQ(result.edges.size(), 1u);
  EXPECT_THAT(result.edges[0].error(), HasSubstr("dnsmasq refused"));
  EXPECT_THAT(result.edges[0].error(), HasSubstr("another listener"));
  EXPECT_EQ(processes_.edges[kSingle].count(EdgeProgram::kHaproxy), 1u);
}

TEST_F(EdgesTest, AnEdgeThatCannotBeRemovedIsReportedAndRetried) {
  Reconcile(Specs({SingleEdge()}));
  net_.fail["DeleteNamespace"] = absl::InternalError("device busy");
  Edges::Result result = Reconcile({});
  ASSERT_EQ(result.edges.size(), 1u);
  EXPECT_THAT(result.edges[0].error(), HasSubstr("device busy"));
  EXPECT_EQ(result.edges[0].tenant(), "tenants/acme");
  net_.fail.clear();
  result = Reconcile({});
  ASSERT_EQ(result.edges.size(), 1u);
  EXPECT_EQ(result.edges[0].error(), "");
  EXPECT_THAT(net_.namespaces, IsEmpty());
}

TEST_F(EdgesTest, ListingFailuresAreHostErrors) {
  net_.fail["ListNamespaces"] = absl::InternalError("cannot read /run/netns");
  Edges::Result result = Reconcile(Specs({SingleEdge()}));
  EXPECT_THAT(result.host_errors, ElementsAre(HasSubstr("cannot read /run/netns")));
  ASSERT_EQ(result.edges.size(), 1u);
}

TEST(HaproxyStatTest, CountsServersAndHealthyOnesPerBackend) {
  absl::StatusOr<std::map<std::string, HaproxyBackendHealth>> parsed = ParseHaproxyStat(kShowStat);
  ASSERT_OK(parsed);
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ(parsed->at("be-prod").servers, 3);
  EXPECT_EQ(parsed->at("be-prod").healthy, 2);
  EXPECT_THAT(ParseHaproxyStat("be-prod,cp-1,UP\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, "header"));
  absl::StatusOr<std::map<std::string, HaproxyBackendHealth>> going = ParseHaproxyStat(
      "# pxname,svname,status\nbe-a,s1,UP 1/3\nbe-a,s2,MAINT\nbe-a,s3,no check\n"
      "short\n");
  ASSERT_OK(going);
  EXPECT_EQ(going->at("be-a").servers, 3);
  EXPECT_EQ(going->at("be-a").healthy, 1);
}

}  // namespace
}  // namespace mandant::agent
