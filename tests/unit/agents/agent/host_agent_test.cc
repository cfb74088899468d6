#include "agents/agent/host_agent.h"

#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agents/vm/command.h"
#include "agents/vm/domain_xml.h"
#include "tenants/network_names.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/agents/edge/edge_specs.h"
#include "tests/unit/agents/edge/fake_edge_runtime.h"
#include "tests/unit/agents/network/fake_netlink.h"
#include "tests/unit/agents/vm/fake_hypervisor.h"
#include "tests/unit/agents/vm/test_dir.h"

namespace mandant::agent {
namespace {

using ::mandant::agent::testing::FakeEdgeNetworking;
using ::mandant::agent::testing::FakeEdgeProcesses;
using ::mandant::agent::testing::FakeEgressWatcher;
using ::mandant::agent::testing::FakeFirewall;
using ::mandant::agent::testing::FakeHypervisor;
using ::mandant::agent::testing::FakeNetlink;
using ::mandant::agent::testing::Injection;
using ::mandant::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kA[] = "6a1e3c2e-0000-4000-8000-00000000000a";
constexpr char kOld[] = "6a1e3c2e-0000-4000-8000-0000000000ff";
constexpr char kUnderlayAddress[] = "10.99.0.1";
constexpr char kUnderlay[] = "eth1";
constexpr absl::Duration kTimeout = absl::Seconds(20);

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

v1::TenantNetworkSpec Network(uint32_t vni) {
  v1::TenantNetworkSpec spec;
  spec.set_tenant("tenants/acme");
  spec.set_mode(v1::NETWORK_MODE_VXLAN);
  spec.set_vni(vni);
  spec.set_bridge_name(tenants::TenantBridgeName(v1::NETWORK_MODE_VXLAN, vni).value());
  spec.set_link_name(tenants::TenantLinkName(v1::NETWORK_MODE_VXLAN, vni).value());
  spec.set_mtu(1450);
  spec.add_peer_underlay_addresses("10.99.0.2");
  return spec;
}

// Forwards to the fake hypervisor and notes, at each DefineDomain, whether
// the bridges the test cares about already existed in the (fake) kernel.
class OrderCheckingHypervisor final : public Hypervisor {
 public:
  OrderCheckingHypervisor(FakeHypervisor* hv, FakeNetlink* netlink, std::string bridge)
      : hv_(hv), netlink_(netlink), bridge_(std::move(bridge)) {}

  // Read only after the HostAgent is gone: the fakes are not thread-safe.
  const std::vector<bool>& bridge_present_at_define() const { return bridge_present_at_define_; }

  // agent::Hypervisor
  absl::StatusOr<std::vector<DomainInfo>> ListDomains() override { return hv_->ListDomains(); }
  absl::StatusOr<std::string> DefineDomain(absl::string_view xml) override {
    bridge_present_at_define_.push_back(netlink_->Find(bridge_) != nullptr);
    return hv_->DefineDomain(xml);
  }
  absl::Status StartDomain(absl::string_view uuid) override { return hv_->StartDomain(uuid); }
  absl::Status ShutdownDomain(absl::string_view uuid) override { return hv_->ShutdownDomain(uuid); }
  absl::Status DestroyDomain(absl::string_view uuid) override { return hv_->DestroyDomain(uuid); }
  absl::Status UndefineDomain(absl::string_view uuid) override { return hv_->UndefineDomain(uuid); }
  absl::StatusOr<HypervisorVersions> GetVersions() override { return hv_->GetVersions(); }

 private:
  FakeHypervisor* const hv_;
  FakeNetlink* const netlink_;
  const std::string bridge_;
  std::vector<bool> bridge_present_at_define_;
};

// Forwards to the fake edge networking and notes, at each EnsureVeth,
// whether the tenant bridge already existed and how many domains were
// defined: the edge pass comes after the networks and before the VMs.
class OrderCheckingEdgeNetworking final : public EdgeNetworking {
 public:
  OrderCheckingEdgeNetworking(FakeEdgeNetworking* net, FakeNetlink* netlink, FakeHypervisor* hv,
                              std::string bridge)
      : net_(net), netlink_(netlink), hv_(hv), bridge_(std::move(bridge)) {}

  // Read only after the HostAgent is gone.
  const std::vector<bool>& bridge_present() const { return bridge_present_; }
  const std::vector<size_t>& domains_defined() const { return domains_defined_; }

  // agent::EdgeNetworking
  absl::StatusOr<std::vector<std::string>> ListNamespaces() override {
    return net_->ListNamespaces();
  }
  absl::Status EnsureNamespace(const std::string& netns) override {
    return net_->EnsureNamespace(netns);
  }
  absl::Status DeleteNamespace(const std::string& netns) override {
    return net_->DeleteNamespace(netns);
  }
  absl::Status EnsureVeth(const std::string& netns, const EdgeVeth& veth) override {
    if (veth.namespace_link == kEdgeInsideLink) {
      bridge_present_.push_back(netlink_->Find(bridge_) != nullptr);
      domains_defined_.push_back(hv_->domains.size());
    }
    return net_->EnsureVeth(netns, veth);
  }
  absl::Status SetAddresses(const std::string& netns, const std::string& link,
                            const std::vector<std::string>& wanted,
                            const std::vector<std::string>& unmanaged) override {
    return net_->SetAddresses(netns, link, wanted, unmanaged);
  }
  absl::Status SetDefaultRoute(const std::string& netns, const std::string& link,
                               const std::string& gateway) override {
    return net_->SetDefaultRoute(netns, link, gateway);
  }
  absl::Status EnableForwarding(const std::string& netns) override {
    return net_->EnableForwarding(netns);
  }
  absl::Status LoadRuleset(const std::string& netns, const std::string& ruleset,
                           RulesetFormat format) override {
    return net_->LoadRuleset(netns, ruleset, format);
  }
  absl::StatusOr<std::map<std::string, uint64_t>> ReadCounters(const std::string& netns,
                                                               const std::string& table) override {
    return net_->ReadCounters(netns, table);
  }

 private:
  FakeEdgeNetworking* const net_;
  FakeNetlink* const netlink_;
  FakeHypervisor* const hv_;
  const std::string bridge_;
  std::vector<bool> bridge_present_;
  std::vector<size_t> domains_defined_;
};

// Stands in for QEMU at a VM's status channel: binds the unix socket and
// accepts the agent's relay.
class FakeStatusChannel {
 public:
  explicit FakeStatusChannel(const std::string& path) : path_(path) {
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
        << path << ": " << strerror(errno);
    EXPECT_EQ(listen(listen_fd_, 1), 0);
  }
  ~FakeStatusChannel() {
    if (conn_fd_ >= 0) close(conn_fd_);
    close(listen_fd_);
    unlink(path_.c_str());
  }
  // Waits for the relay to connect; false after `timeout`.
  bool Accept(absl::Duration timeout) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) != 1) return false;
    conn_fd_ = accept(listen_fd_, nullptr, nullptr);
    return conn_fd_ >= 0;
  }
  bool Write(const std::string& data) {
    return write(conn_fd_, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  }

 private:
  std::string path_;
  int listen_fd_ = -1;
  int conn_fd_ = -1;
};

class HostAgentTest : public ::testing::Test {
 protected:
  HostAgentTest()
      : bridge_(Network(1001).bridge_name()),
        checking_(&hv_, &netlink_, bridge_),
        edge_processes_(&edge_net_),
        edge_checking_(&edge_net_, &netlink_, &hv_, bridge_) {}

  void SetUp() override {
    image_dir_ = dir_.path() + "/images";
    state_dir_ = dir_.path() + "/state";
    std::filesystem::create_directories(image_dir_);
    const std::string base = image_dir_ + "/debian-12.qcow2";
    ASSERT_OK(RunCommand({"qemu-img", "create", "-q", "-f", "qcow2", base, "64M"}));
    // The checksum the spec carries, from coreutils rather than the code
    // under test, which compares the file against it.
    absl::StatusOr<std::string> sum = RunCommand({"sha256sum", base});
    ASSERT_OK(sum);
    ASSERT_GE(sum->size(), 64u) << *sum;
    base_sha_ = sum->substr(0, 64);

    LinkInfo lo;
    lo.name = "lo";
    lo.mtu = 65536;
    lo.up = true;
    netlink_.AddExistingLink(lo);
    LinkInfo eth;
    eth.name = kUnderlay;
    eth.kind_name = "veth";
    eth.mtu = 1500;
    eth.up = true;
    netlink_.AddExistingLink(eth);
    netlink_.AddExistingAddress(kUnderlay, AF_INET, kUnderlayAddress, 24);
    networks_ = std::make_unique<TenantNetworks>(
        TenantNetworks::Options{&netlink_, &firewall_, kUnderlayAddress, kUnderlay, ""});

    images_ = std::make_unique<BaseImages>(image_dir_);
    Vms::Options vm_options;
    vm_options.hypervisor = &checking_;
    vm_options.base_images = images_.get();
    vm_options.state_dir = state_dir_;
    absl::StatusOr<std::unique_ptr<Vms>> vms = Vms::Create(vm_options);
    ASSERT_OK(vms);
    vms_ = *std::move(vms);

    // The edge fakes know the external bridge; the tenant bridge is the
    // fake kernel's (FakeNetlink), which the order check looks at.
    edge_net_.bridges = {bridge_, "br-ext"};
    Edges::Options edge_options;
    edge_options.networking = &edge_checking_;
    edge_options.processes = &edge_processes_;
    edge_options.egress = &egress_;
    edge_options.state_dir = dir_.path() + "/edges";
    edge_options.haproxy_stat = [](const std::string&) -> absl::StatusOr<std::string> {
      return absl::UnavailableError("no haproxy in this test");
    };
    absl::StatusOr<std::unique_ptr<Edges>> edges = Edges::Create(edge_options);
    ASSERT_OK(edges);
    edges_ = *std::move(edges);

    options_.networks = networks_.get();
    options_.vms = vms_.get();
    options_.edges = edges_.get();
    options_.report = [this](v1::HostStatus status) {
      absl::MutexLock lock(&mu_);
      statuses_.push_back(std::move(status));
      report_times_.push_back(absl::Now());
    };
    options_.resync_interval = absl::Hours(1);
    options_.initial_retry = absl::Milliseconds(20);
    options_.max_retry = absl::Milliseconds(200);
  }

  void TearDown() override { agent_.reset(); }

  void Start() {
    absl::StatusOr<std::unique_ptr<HostAgent>> agent = HostAgent::Start(options_);
    ASSERT_OK(agent);
    agent_ = *std::move(agent);
  }

  v1::VmSpec Vm(const std::string& id, const std::string& image = "debian-12") {
    v1::VmSpec spec;
    spec.set_machine_id(id);
    spec.set_tenant("tenants/acme");
    spec.set_cluster("tenants/acme/clusters/prod");
    spec.set_name("node");
    spec.mutable_resources()->set_vcpus(1);
    spec.mutable_resources()->set_memory_mib(512);
    spec.mutable_resources()->set_disk_gib(1);
    spec.set_base_image(image);
    spec.set_base_image_sha256(base_sha_);
    auto* nic = spec.add_nics();
    nic->set_mac_address("02:4d:00:00:00:01");
    nic->set_bridge_name(bridge_);
    spec.mutable_seed()->set_user_data("#cloud-config\n");
    spec.mutable_seed()->set_meta_data(absl::StrCat("instance-id: ", id, "\n"));
    spec.set_power_state(v1::POWER_STATE_ON);
    return spec;
  }

  v1::HostSpec Spec(int64_t version, std::vector<v1::TenantNetworkSpec> networks,
                    std::vector<v1::VmSpec> vms, std::vector<v1::EdgeSpec> edges = {}) {
    v1::HostSpec spec;
    spec.set_version(version);
    for (auto& n : networks) *spec.add_networks() = std::move(n);
    for (auto& vm : vms) *spec.add_vms() = std::move(vm);
    for (auto& e : edges) *spec.add_edges() = std::move(e);
    return spec;
  }

  // Waits for a reported status that satisfies `done` and returns it.
  std::optional<v1::HostStatus> WaitForStatus(
      const std::function<bool(const v1::HostStatus&)>& done) {
    absl::MutexLock lock(&mu_);
    size_t seen = 0;
    std::optional<v1::HostStatus> found;
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (; seen < statuses_.size() && !found; ++seen) {
        if (done(statuses_[seen])) found = statuses_[seen];
      }
      return found.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&arrived), kTimeout);
    return found;
  }

  bool WaitForReports(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return statuses_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kTimeout);
  }

  std::vector<v1::HostStatus> statuses() {
    absl::MutexLock lock(&mu_);
    return statuses_;
  }

  // A Mandant domain as a previous agent run left it.
  void AddMandantDomain(const std::string& id) {
    DomainInfo info;
    info.uuid = id;
    info.name = DomainName(id);
    info.state = DomainState::kRunning;
    info.mandant_metadata = std::string("<machine xmlns=\"") + kMandantMetadataNamespace +
                            "\"><machine-id>" + id + "</machine-id><spec-hash>old</spec-hash>" +
                            "</machine>";
    hv_.AddDomain(info);
  }

  agent::testing::TestDir dir_;
  std::string image_dir_;
  std::string state_dir_;
  std::string base_sha_;
  const std::string bridge_;
  FakeNetlink netlink_;
  FakeFirewall firewall_;
  FakeHypervisor hv_;
  OrderCheckingHypervisor checking_;
  std::unique_ptr<TenantNetworks> networks_;
  std::unique_ptr<BaseImages> images_;
  std::unique_ptr<Vms> vms_;
  FakeEdgeNetworking edge_net_;
  FakeEdgeProcesses edge_processes_;
  FakeEgressWatcher egress_;
  OrderCheckingEdgeNetworking edge_checking_;
  std::unique_ptr<Edges> edges_;
  HostAgent::Options options_;
  absl::Mutex mu_;
  std::vector<v1::HostStatus> statuses_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> report_times_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<HostAgent> agent_;
};

TEST_F(HostAgentTest, StartNeedsItsDependencies) {
  HostAgent::Options options = options_;
  options.vms = nullptr;
  EXPECT_THAT(HostAgent::Start(options), StatusIs(absl::StatusCode::kInvalidArgument, "vms"));
}

TEST_F(HostAgentTest, TouchesNothingBeforeTheFirstSpec) {
  // What an agent restarted while mandantd is down finds: a VM and a tenant
  // network of its own.
  AddMandantDomain(kOld);
  LinkInfo bridge;
  bridge.name = bridge_;
  bridge.kind = LinkKind::kBridge;
  bridge.kind_name = "bridge";
  bridge.alias = "mandant:tenants/acme";
  bridge.group = kMandantLinkGroup;
  bridge.mtu = 1450;
  bridge.up = true;
  netlink_.AddExistingLink(bridge);
  // Any pass would come quickly with these.
  options_.resync_interval = absl::Milliseconds(10);
  options_.initial_retry = absl::Milliseconds(10);
  Start();
  // A window, not a synchronization: there is no event to await when the
  // point is that nothing happens. With passes and retries due every 10 ms,
  // a wrong pass gets about 30 chances to show in 300 ms.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_FALSE(agent_->last_status().has_value());
  agent_.reset();

  EXPECT_THAT(statuses(), IsEmpty());
  EXPECT_THAT(hv_.calls, IsEmpty());
  EXPECT_TRUE(hv_.domains.count(kOld));
  EXPECT_EQ(netlink_.mutations(), 0);
  EXPECT_NE(netlink_.Find(bridge_), nullptr);
  EXPECT_EQ(firewall_.replacements(), 0);
}

TEST_F(HostAgentTest, ReconcilesNetworksThenVmsAndReportsWhatItApplied) {
  Start();
  agent_->SetSpec(Spec(3, {Network(1001)}, {Vm(kA)}));
  std::optional<v1::HostStatus> status =
      WaitForStatus([](const v1::HostStatus& s) { return s.applied_spec_version() == 3; });
  ASSERT_TRUE(status.has_value());
  EXPECT_THAT(status->host_errors(), IsEmpty());
  ASSERT_EQ(status->networks_size(), 1);
  const v1::TenantNetworkStatus& net = status->networks(0);
  EXPECT_EQ(net.bridge_name(), bridge_);
  EXPECT_EQ(net.tenant(), "tenants/acme");
  EXPECT_EQ(net.vni(), 1001u);
  EXPECT_TRUE(net.up());
  EXPECT_EQ(net.error(), "");
  EXPECT_THAT(net.peer_underlay_addresses(), ElementsAre("10.99.0.2"));
  ASSERT_EQ(status->vms_size(), 1);
  EXPECT_EQ(status->vms(0).machine_id(), kA);
  EXPECT_EQ(status->vms(0).state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(status->vms(0).error(), "");
  EXPECT_TRUE(status->has_observe_time());
  std::optional<v1::HostStatus> last = agent_->last_status();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->applied_spec_version(), 3);
  agent_.reset();

  EXPECT_THAT(checking_.bridge_present_at_define(), ElementsAre(true));
  EXPECT_THAT(hv_.calls,
              ElementsAre(absl::StrCat("DefineDomain ", kA), absl::StrCat("StartDomain ", kA)));
  EXPECT_TRUE(firewall_.bridges().count(bridge_));
  // One pass: the spec was met, so nothing was retried.
  EXPECT_EQ(statuses().size(), 1u);
}

TEST_F(HostAgentTest, IgnoresAnOlderSpecVersion) {
  options_.resync_interval = absl::Milliseconds(30);
  Start();
  agent_->SetSpec(Spec(5, {Network(1001)}, {}));
  ASSERT_TRUE(WaitForStatus([](const v1::HostStatus& s) {
                return s.applied_spec_version() == 5;
              }).has_value());
  const size_t before = statuses().size();
  agent_->SetSpec(Spec(4, {}, {}));  // late, from a stream that was replaced
  // Three resync passes later, still version 5 and its network.
  ASSERT_TRUE(WaitForReports(before + 3));
  agent_->SetSpec(Spec(6, {}, {}));
  ASSERT_TRUE(WaitForStatus([](const v1::HostStatus& s) {
    return s.applied_spec_version() == 6 && s.networks().empty();
  }));
  for (const v1::HostStatus& s : statuses()) {
    EXPECT_NE(s.applied_spec_version(), 4);
    if (s.applied_spec_version() == 5) {
      EXPECT_EQ(s.networks_size(), 1);
    }
  }
  agent_.reset();
  EXPECT_EQ(netlink_.Find(bridge_), nullptr);
}

TEST_F(HostAgentTest, RetriesAFailingNetworkWithBackoffAndReportsTheError) {
  netlink_.Inject(Injection{"AddBridge", "", absl::UnavailableError("netlink is busy"), 3});
  options_.initial_retry = absl::Milliseconds(40);
  options_.max_retry = absl::Seconds(1);
  Start();
  agent_->SetSpec(Spec(1, {Network(1001)}, {}));
  ASSERT_TRUE(WaitForStatus([](const v1::HostStatus& s) {
    return s.networks_size() == 1 && s.networks(0).error().empty() && s.networks(0).up();
  }));
  std::vector<v1::HostStatus> all;
  std::vector<absl::Time> times;
  {
    absl::MutexLock lock(&mu_);
    all = statuses_;
    times = report_times_;
  }
  ASSERT_EQ(all.size(), 4u);  // three failed passes, then one that worked
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(all[i].applied_spec_version(), 1);
    ASSERT_EQ(all[i].networks_size(), 1);
    EXPECT_THAT(all[i].networks(0).error(), HasSubstr("netlink is busy"));
  }
  // Doubling from 40 ms: the passes come at least 40, 80 and 160 ms apart.
  EXPECT_GE(times[1] - times[0], absl::Milliseconds(40));
  EXPECT_GE(times[2] - times[1], absl::Milliseconds(80));
  EXPECT_GE(times[3] - times[2], absl::Milliseconds(160));
}

TEST_F(HostAgentTest, RetriesAFailingVmAndReportsTheError) {
  Start();
  // The image is not there yet (it is still being copied to the host).
  agent_->SetSpec(Spec(1, {Network(1001)}, {Vm(kA, "debian-13")}));
  ASSERT_TRUE(WaitForStatus([](const v1::HostStatus& s) {
    return s.vms_size() == 1 && s.vms(0).error().find("debian-13") != std::string::npos;
  }));
  ASSERT_TRUE(WaitForReports(3));  // failed, and retried
  std::filesystem::copy_file(image_dir_ + "/debian-12.qcow2", image_dir_ + "/.partial");
  ASSERT_EQ(rename((image_dir_ + "/.partial").c_str(), (image_dir_ + "/debian-13.qcow2").c_str()),
            0);
  std::optional<v1::HostStatus> status = WaitForStatus([](const v1::HostStatus& s) {
    return s.vms_size() == 1 && s.vms(0).state() == v1::VM_STATE_RUNNING;
  });
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->vms(0).error(), "");
  EXPECT_EQ(status->applied_spec_version(), 1);
}

TEST_F(HostAgentTest, UnreachableHypervisorIsAHostErrorAndRetried) {
  hv_.errors["ListDomains"] = absl::UnavailableError("libvirtd is not running");
  Start();
  agent_->SetSpec(Spec(1, {Network(1001)}, {Vm(kA)}));
  ASSERT_TRUE(WaitForReports(3));  // the first pass and two retries
  for (const v1::HostStatus& s : statuses()) {
    EXPECT_EQ(s.applied_spec_version(), 1);
    EXPECT_THAT(s.host_errors(), ElementsAre(HasSubstr("libvirtd is not running")));
    // The networks are made regardless.
    ASSERT_EQ(s.networks_size(), 1);
    EXPECT_EQ(s.networks(0).error(), "");
  }
}

TEST_F(HostAgentTest, OverlongErrorsAreCutToWhatMandantdAccepts) {
  // 5000 bytes of two-byte characters: mandantd refuses a status with an
  // error over 4096 bytes, and a cut inside a character would not be UTF-8.
  std::string message;
  for (int i = 0; i < 2500; ++i) message += "\xC3\xA9";  // U+00E9
  hv_.errors["ListDomains"] = absl::UnavailableError(message);
  Start();
  agent_->SetSpec(Spec(1, {Network(1001)}, {Vm(kA)}));
  ASSERT_TRUE(WaitForReports(1));
  const v1::HostStatus s = statuses().front();
  ASSERT_EQ(s.host_errors_size(), 1);
  const std::string& e = s.host_errors(0);
  EXPECT_LE(e.size(), 4096u);
  EXPECT_GT(e.size(), 4000u);
  EXPECT_TRUE(absl::EndsWith(e, " [cut]")) << e.substr(e.size() - 20);
  // Whole characters only: the kept part is pairs of C3 A9 after the prefix.
  const size_t start = e.find("\xC3\xA9");
  ASSERT_NE(start, std::string::npos);
  EXPECT_EQ((e.size() - start - 6) % 2, 0u);
  EXPECT_EQ(static_cast<unsigned char>(e[e.size() - 7]), 0xA9);
}

TEST_F(HostAgentTest, RemovesAVmThatLeftTheSpec) {
  Start();
  agent_->SetSpec(Spec(1, {Network(1001)}, {Vm(kA)}));
  ASSERT_TRUE(WaitForStatus([](const v1::HostStatus& s) {
    return s.vms_size() == 1 && s.vms(0).state() == v1::VM_STATE_RUNNING;
  }));
  ASSERT_TRUE(Exists(vms_->VmDir(kA)));
  agent_->SetSpec(Spec(2, {Network(1001)}, {}));
  std::optional<v1::HostStatus> status = WaitForStatus(
      [](const v1::HostStatus& s) { return s.applied_spec_version() == 2 && s.vms().empty(); });
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->networks_size(), 1);
  agent_.reset();
  EXPECT_TRUE(hv_.domains.empty());
  EXPECT_FALSE(Exists(vms_->VmDir(kA)));
  EXPECT_NE(netlink_.Find(bridge_), nullptr);
}

TEST_F(HostAgentTest, AVmThatCannotBeRemovedIsAHostError) {
  Start();
  agent_->SetSpec(Spec(1, {Network(1001)}, {Vm(kA)}));
  ASSERT_TRUE(WaitForStatus([](const v1::HostStatus& s) {
    return s.vms_size() == 1 && s.vms(0).state() == v1::VM_STATE_RUNNING;
  }));
  hv_.errors["UndefineDomain"] = absl::InternalError("domain is locked");
  agent_->SetSpec(Spec(2, {Network(1001)}, {}));
  std::optional<v1::HostStatus> status =
      WaitForStatus([](const v1::HostStatus& s) { return s.applied_spec_version() == 2; });
  ASSERT_TRUE(status.has_value());
  ASSERT_EQ(status->vms_size(), 1);
  EXPECT_EQ(status->vms(0).state(), v1::VM_STATE_DELETING);
  // The machine's row is gone by now: the host names the leak instead.
  EXPECT_THAT(status->host_errors(),
              ElementsAre(AllOf(HasSubstr(kA), HasSubstr("could not be removed"),
                                HasSubstr("domain is locked"))));
}

TEST_F(HostAgentTest, GuestProgressAppearsInTheNextStatus) {
  Start();
  agent_->SetSpec(Spec(1, {Network(1001)}, {Vm(kA)}));
  ASSERT_TRUE(WaitForStatus([](const v1::HostStatus& s) {
    return s.vms_size() == 1 && s.vms(0).state() == v1::VM_STATE_RUNNING;
  }));
  FakeStatusChannel channel(vms_->StatusSocketPath(kA));
  ASSERT_TRUE(channel.Accept(kTimeout));
  ASSERT_TRUE(channel.Write("{\"phase\":\"kubeadm\",\"message\":\"kubeadm join: waiting\"}\n"));
  std::optional<v1::HostStatus> status = WaitForStatus([](const v1::HostStatus& s) {
    return s.vms_size() == 1 && s.vms(0).guest().phase() == v1::GUEST_PHASE_KUBEADM;
  });
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->vms(0).guest().message(), "kubeadm join: waiting");
  EXPECT_TRUE(status->vms(0).guest().has_receive_time());
  EXPECT_EQ(status->vms(0).state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(status->applied_spec_version(), 1);
}

// Tenant acme's edge on the network of Network(1001).
v1::EdgeSpec AcmeEdge() {
  v1::EdgeSpec edge = testing::SingleEdge();
  EXPECT_EQ(edge.tenant_bridge(), Network(1001).bridge_name());
  return edge;
}

TEST_F(HostAgentTest, ReconcilesEdgesAfterNetworksAndBeforeVmsAndReportsThem) {
  Start();
  agent_->SetSpec(Spec(4, {Network(1001)}, {Vm(kA)}, {AcmeEdge()}));
  std::optional<v1::HostStatus> status =
      WaitForStatus([](const v1::HostStatus& s) { return s.applied_spec_version() == 4; });
  ASSERT_TRUE(status.has_value());
  EXPECT_THAT(status->host_errors(), IsEmpty());
  ASSERT_EQ(status->edges_size(), 1);
  const v1::EdgeStatus& edge = status->edges(0);
  EXPECT_EQ(edge.namespace_(), "mandant-ex0003e9");
  EXPECT_EQ(edge.tenant(), "tenants/acme");
  EXPECT_EQ(edge.error(), "");
  EXPECT_EQ(edge.vrrp_state(), v1::VRRP_STATE_UNSPECIFIED);
  ASSERT_EQ(edge.processes_size(), 2);
  EXPECT_EQ(edge.processes(0).name(), "dnsmasq");
  EXPECT_EQ(edge.processes(1).name(), "haproxy");
  ASSERT_EQ(edge.endpoints_size(), 1);
  EXPECT_EQ(edge.endpoints(0).backends(), 3);
  ASSERT_EQ(status->vms_size(), 1);
  EXPECT_EQ(status->vms(0).state(), v1::VM_STATE_RUNNING);
  agent_.reset();

  EXPECT_THAT(edge_checking_.bridge_present(), ElementsAre(true));
  EXPECT_THAT(edge_checking_.domains_defined(), ElementsAre(0u));
  EXPECT_EQ(edge_net_.namespaces.count("mandant-ex0003e9"), 1u);
  // The spec was met in one pass.
  EXPECT_EQ(statuses().size(), 1u);
}

TEST_F(HostAgentTest, AFailingEdgeIsReportedAndRetried) {
  edge_processes_.fail_ensure[EdgeProgram::kHaproxy] =
      absl::InvalidArgumentError("haproxy refused the new configuration");
  Start();
  agent_->SetSpec(Spec(1, {Network(1001)}, {}, {AcmeEdge()}));
  ASSERT_TRUE(WaitForReports(2));
  agent_.reset();
  const std::vector<v1::HostStatus> all = statuses();
  for (const v1::HostStatus& s : all) {
    ASSERT_EQ(s.edges_size(), 1);
    EXPECT_THAT(s.edges(0).error(), HasSubstr("haproxy refused"));
  }
}

TEST_F(HostAgentTest, AnEdgeThatCannotBeRemovedIsAHostError) {
  Start();
  agent_->SetSpec(Spec(1, {Network(1001)}, {}, {AcmeEdge()}));
  ASSERT_TRUE(WaitForStatus(
      [](const v1::HostStatus& s) { return s.edges_size() == 1 && s.edges(0).error().empty(); }));
  // Set between passes: the agent waits for the next spec.
  edge_net_.fail["DeleteNamespace"] = absl::InternalError("namespace is busy");
  agent_->SetSpec(Spec(2, {Network(1001)}, {}));
  std::optional<v1::HostStatus> status =
      WaitForStatus([](const v1::HostStatus& s) { return s.applied_spec_version() == 2; });
  ASSERT_TRUE(status.has_value());
  ASSERT_EQ(status->edges_size(), 1);
  EXPECT_THAT(status->edges(0).error(), HasSubstr("namespace is busy"));
  EXPECT_THAT(status->host_errors(),
              ElementsAre(AllOf(HasSubstr("mandant-ex0003e9"), HasSubstr("could not be removed"),
                                HasSubstr("namespace is busy"))));
}

TEST_F(HostAgentTest, AnEdgeLeavingTheSpecIsRemovedAndThenNoLongerReported) {
  Start();
  agent_->SetSpec(Spec(1, {Network(1001)}, {}, {AcmeEdge()}));
  ASSERT_TRUE(WaitForStatus([](const v1::HostStatus& s) { return s.edges_size() == 1; }));
  agent_->SetSpec(Spec(2, {Network(1001)}, {}));
  // Reported while being removed, then gone.
  ASSERT_TRUE(WaitForStatus([](const v1::HostStatus& s) {
    return s.applied_spec_version() == 2 && s.edges_size() == 1 && s.edges(0).error().empty();
  }));
  ASSERT_TRUE(WaitForStatus([](const v1::HostStatus& s) {
    return s.applied_spec_version() == 2 && s.edges_size() == 0 && s.host_errors_size() == 0;
  }));
  agent_.reset();
  EXPECT_THAT(edge_net_.namespaces, IsEmpty());
  EXPECT_THAT(edge_processes_.edges, IsEmpty());
}

TEST_F(HostAgentTest, ASpecWithEdgesForAnAgentWithoutEdgesIsAHostError) {
  options_.edges = nullptr;
  Start();
  agent_->SetSpec(Spec(1, {Network(1001)}, {}, {AcmeEdge()}));
  std::optional<v1::HostStatus> status =
      WaitForStatus([](const v1::HostStatus& s) { return s.applied_spec_version() == 1; });
  ASSERT_TRUE(status.has_value());
  EXPECT_THAT(status->host_errors(), ElementsAre(HasSubstr("runs none")));
  EXPECT_THAT(status->edges(), IsEmpty());
}

}  // namespace
}  // namespace mandant::agent
