#include "agents/network/tenant_networks.h"

#include <sys/socket.h>

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tenants/network_names.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/agents/network/fake_netlink.h"

namespace mandant::agent {
namespace {

using ::mandant::agent::testing::CallLog;
using ::mandant::agent::testing::FakeFirewall;
using ::mandant::agent::testing::FakeNetlink;
using ::mandant::agent::testing::Injection;
using ::mandant::testing::IsOkAndHolds;
using ::mandant::testing::StatusIs;
using ::mandant::v1::TenantNetworkSpec;
using ::mandant::v1::TenantNetworkStatus;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Property;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr char kUnderlayAddress[] = "10.99.0.1";
constexpr char kUnderlay[] = "eth1";

TenantNetworkSpec Vxlan(const std::string& tenant, uint32_t vni, std::vector<std::string> peers) {
  TenantNetworkSpec spec;
  spec.set_tenant("tenants/" + tenant);
  spec.set_mode(v1::NETWORK_MODE_VXLAN);
  spec.set_vni(vni);
  spec.set_bridge_name(tenants::TenantBridgeName(v1::NETWORK_MODE_VXLAN, vni).value());
  spec.set_link_name(tenants::TenantLinkName(v1::NETWORK_MODE_VXLAN, vni).value());
  spec.set_mtu(1450);
  for (const std::string& p : peers) spec.add_peer_underlay_addresses(p);
  return spec;
}

TenantNetworkSpec Vlan(const std::string& tenant, uint32_t id) {
  TenantNetworkSpec spec;
  spec.set_tenant("tenants/" + tenant);
  spec.set_mode(v1::NETWORK_MODE_VLAN);
  spec.set_vlan_id(id);
  spec.set_bridge_name(tenants::TenantBridgeName(v1::NETWORK_MODE_VLAN, id).value());
  spec.set_link_name(tenants::TenantLinkName(v1::NETWORK_MODE_VLAN, id).value());
  spec.set_mtu(1500);
  return spec;
}

class TenantNetworksTest : public ::testing::Test {
 protected:
  TenantNetworksTest() : netlink_(&log_), firewall_(&log_) {
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
  }

  // A tenant network the agent made earlier, straight into the fake kernel.
  void AddOwnedVxlan(const std::string& tenant, uint32_t vni, int mtu = 1450) {
    TenantNetworkSpec spec = Vxlan(tenant, vni, {});
    LinkInfo bridge;
    bridge.name = spec.bridge_name();
    bridge.kind = LinkKind::kBridge;
    bridge.kind_name = "bridge";
    bridge.mtu = mtu;
    bridge.up = true;
    bridge.alias = "mandant:tenants/" + tenant;
    bridge.group = kMandantLinkGroup;
    const int bridge_index = netlink_.AddExistingLink(bridge).ifindex;
    LinkInfo vx;
    vx.name = spec.link_name();
    vx.kind = LinkKind::kVxlan;
    vx.kind_name = "vxlan";
    vx.mtu = mtu;
    vx.up = true;
    vx.alias = bridge.alias;
    vx.group = kMandantLinkGroup;
    vx.master_ifindex = bridge_index;
    vx.vxlan_id = vni;
    vx.vxlan_local = kUnderlayAddress;
    vx.vxlan_link_ifindex = netlink_.Find(kUnderlay)->ifindex;
    vx.vxlan_port = kVxlanPort;
    netlink_.AddExistingLink(vx);
    std::set<std::string> protected_bridges = firewall_.bridges();
    protected_bridges.insert(spec.bridge_name());
    firewall_.SetBridgesDirect(protected_bridges);
  }

  LinkInfo& AddTap(const std::string& name, const std::string& bridge) {
    LinkInfo tap;
    tap.name = name;
    tap.kind_name = "tun";
    tap.mtu = 1450;
    tap.up = true;
    tap.master_ifindex = netlink_.Find(bridge)->ifindex;
    return netlink_.AddExistingLink(tap);
  }

  // Runs Reconcile and checks that a second run changes nothing.
  TenantNetworks::Result ReconcileTwice(const std::vector<TenantNetworkSpec>& desired) {
    TenantNetworks::Result first = networks_->Reconcile(desired);
    const size_t logged = log_.size();
    networks_->Reconcile(desired);
    EXPECT_EQ(log_.size(), logged) << "the second pass changed something, first: "
                                   << (log_.size() > logged ? log_[logged] : "");
    return first;
  }

  CallLog log_;
  FakeNetlink netlink_;
  FakeFirewall firewall_;
  std::unique_ptr<TenantNetworks> networks_;
};

TEST_F(TenantNetworksTest, CreatesVxlanNetworkAsSpecified) {
  TenantNetworks::Result r = ReconcileTwice({Vxlan("acme", 1001, {"10.99.0.3", "10.99.0.2"})});
  EXPECT_THAT(r.host_errors, IsEmpty());
  ASSERT_THAT(r.networks, SizeIs(1));
  const TenantNetworkStatus& st = r.networks[0];
  EXPECT_EQ(st.error(), "");
  EXPECT_EQ(st.bridge_name(), "mb-x0003e9");
  EXPECT_EQ(st.tenant(), "tenants/acme");
  EXPECT_EQ(st.mode(), v1::NETWORK_MODE_VXLAN);
  EXPECT_EQ(st.vni(), 1001u);
  EXPECT_EQ(st.mtu(), 1450);
  EXPECT_TRUE(st.up());
  EXPECT_THAT(st.peer_underlay_addresses(), ElementsAre("10.99.0.2", "10.99.0.3"));

  const LinkInfo* bridge = netlink_.Find("mb-x0003e9");
  ASSERT_NE(bridge, nullptr);
  EXPECT_EQ(bridge->kind, LinkKind::kBridge);
  EXPECT_EQ(bridge->alias, "mandant:tenants/acme");
  EXPECT_EQ(bridge->group, kMandantLinkGroup);
  EXPECT_EQ(bridge->mtu, 1450);
  EXPECT_TRUE(bridge->up);
  const LinkInfo* vx = netlink_.Find("mx-0003e9");
  ASSERT_NE(vx, nullptr);
  EXPECT_EQ(vx->kind, LinkKind::kVxlan);
  EXPECT_EQ(vx->vxlan_id, 1001u);
  EXPECT_EQ(vx->vxlan_local, kUnderlayAddress);
  EXPECT_EQ(vx->vxlan_link_ifindex, netlink_.Find(kUnderlay)->ifindex);
  EXPECT_EQ(vx->vxlan_port, 4789);
  EXPECT_FALSE(vx->vxlan_learning);
  EXPECT_EQ(vx->master_ifindex, bridge->ifindex);
  EXPECT_EQ(vx->alias, "mandant:tenants/acme");
  EXPECT_TRUE(vx->up);
  EXPECT_THAT(netlink_.Flood("mx-0003e9"), ElementsAre("10.99.0.2", "10.99.0.3"));
  EXPECT_THAT(firewall_.bridges(), ElementsAre("mb-x0003e9"));
}

TEST_F(TenantNetworksTest, FirewallIsInPlaceBeforeTheFirstBridge) {
  networks_->Reconcile({Vxlan("acme", 1001, {})});
  ASSERT_THAT(log_, Not(IsEmpty()));
  EXPECT_EQ(log_[0], "ReplaceBridgeRules mb-x0003e9");
  EXPECT_EQ(log_[1], "AddBridge mb-x0003e9");
}

TEST_F(TenantNetworksTest, CreatesVlanNetworkOnTheTrunk) {
  TenantNetworks::Result r = ReconcileTwice({Vlan("beta", 4094)});
  ASSERT_THAT(r.networks, SizeIs(1));
  EXPECT_EQ(r.networks[0].error(), "");
  EXPECT_EQ(r.networks[0].vlan_id(), 4094u);
  EXPECT_EQ(r.networks[0].mode(), v1::NETWORK_MODE_VLAN);
  EXPECT_TRUE(r.networks[0].up());
  const LinkInfo* vlan = netlink_.Find("mv-0ffe");
  ASSERT_NE(vlan, nullptr);
  EXPECT_EQ(vlan->vlan_parent_ifindex, netlink_.Find(kUnderlay)->ifindex);
  EXPECT_EQ(vlan->master_ifindex, netlink_.Find("mb-v0ffe")->ifindex);
  EXPECT_THAT(log_, Contains("AddVlan mv-0ffe id 4094 dev eth1"));
}

TEST_F(TenantNetworksTest, VlanOnAKernelWithout8021qIsAnErrorOfThatNetworkOnly) {
  netlink_.set_vlan_supported(false);
  TenantNetworks::Result r =
      networks_->Reconcile({Vlan("beta", 7), Vxlan("acme", 1001, {"10.99.0.2"})});
  ASSERT_THAT(r.networks, SizeIs(2));
  EXPECT_EQ(r.networks[0].bridge_name(), "mb-v0007");
  EXPECT_THAT(r.networks[0].error(), HasSubstr("Operation not supported"));
  EXPECT_FALSE(r.networks[0].up());
  EXPECT_EQ(r.networks[1].error(), "");
  EXPECT_TRUE(r.networks[1].up());
}

TEST_F(TenantNetworksTest, RepairsDrift) {
  AddOwnedVxlan("acme", 1001, /*mtu=*/1400);
  LinkInfo* vx = netlink_.Find("mx-0003e9");
  vx->up = false;
  vx->master_ifindex = 0;
  netlink_.Find("mb-x0003e9")->up = false;
  netlink_.SetFloodDirect("mx-0003e9", {"10.99.0.2", "10.99.0.66"});
  log_.clear();
  TenantNetworks::Result r = ReconcileTwice({Vxlan("acme", 1001, {"10.99.0.2", "10.99.0.3"})});
  EXPECT_EQ(r.networks[0].error(), "");
  EXPECT_THAT(log_, ElementsAre("SetMtu mx-0003e9 1450", "SetMtu mb-x0003e9 1450",
                                "SetMaster mx-0003e9 mb-x0003e9", "SetUp mx-0003e9 up",
                                "SetUp mb-x0003e9 up", "AddFloodEntry mx-0003e9 10.99.0.3",
                                "DeleteFloodEntry mx-0003e9 10.99.0.66"));
  EXPECT_TRUE(r.networks[0].up());
  EXPECT_EQ(r.networks[0].mtu(), 1450);
}

TEST_F(TenantNetworksTest, PeerChangesTouchOnlyTheDifference) {
  networks_->Reconcile({Vxlan("acme", 1001, {"10.99.0.2", "10.99.0.3"})});
  log_.clear();
  TenantNetworks::Result r = ReconcileTwice({Vxlan("acme", 1001, {"10.99.0.3", "10.99.0.4"})});
  EXPECT_THAT(log_, ElementsAre("AddFloodEntry mx-0003e9 10.99.0.4",
                                "DeleteFloodEntry mx-0003e9 10.99.0.2"));
  EXPECT_THAT(r.networks[0].peer_underlay_addresses(), ElementsAre("10.99.0.3", "10.99.0.4"));
  log_.clear();
  r = networks_->Reconcile({Vxlan("acme", 1001, {})});
  EXPECT_THAT(log_, ElementsAre("DeleteFloodEntry mx-0003e9 10.99.0.3",
                                "DeleteFloodEntry mx-0003e9 10.99.0.4"));
  EXPECT_THAT(netlink_.Flood("mx-0003e9"), IsEmpty());
}

TEST_F(TenantNetworksTest, RemovesOwnedNetworksNoLongerDesired) {
  AddOwnedVxlan("acme", 1001);
  AddOwnedVxlan("old", 77);
  LinkInfo& tap = AddTap("vnet7", "mb-x00004d");
  const int tap_index = tap.ifindex;
  firewall_.SetBridgesDirect({"mb-x0003e9", "mb-x00004d"});
  log_.clear();
  TenantNetworks::Result r = ReconcileTwice({Vxlan("acme", 1001, {})});
  EXPECT_THAT(log_, ElementsAre("DeleteLink mx-00004d", "DeleteLink mb-x00004d",
                                "ReplaceBridgeRules mb-x0003e9"));
  EXPECT_EQ(netlink_.Find("mb-x00004d"), nullptr);
  EXPECT_EQ(netlink_.Find("mx-00004d"), nullptr);
  // The VM's tap is not the network's: it stays, freed from the bridge.
  ASSERT_NE(netlink_.Find("vnet7"), nullptr);
  EXPECT_EQ(netlink_.Find("vnet7")->ifindex, tap_index);
  EXPECT_EQ(netlink_.Find("vnet7")->master_ifindex, 0);
  EXPECT_THAT(r.networks, ElementsAre(Property(&TenantNetworkStatus::bridge_name, "mb-x0003e9")));
  EXPECT_THAT(firewall_.bridges(), ElementsAre("mb-x0003e9"));
}

TEST_F(TenantNetworksTest, EmptySpecRemovesEverythingAndTheFirewallTable) {
  AddOwnedVxlan("acme", 1001);
  TenantNetworks::Result r = ReconcileTwice({});
  EXPECT_THAT(r.networks, IsEmpty());
  EXPECT_EQ(netlink_.Find("mb-x0003e9"), nullptr);
  EXPECT_FALSE(firewall_.table_present());
}

TEST_F(TenantNetworksTest, OrphanThatCannotBeRemovedIsReportedAndStaysProtected) {
  AddOwnedVxlan("old", 77);
  netlink_.Inject({"DeleteLink", "mb-x00004d",
                   absl::PermissionDeniedError("deleting link "
                                               "\"mb-x00004d\": "
                                               "Operation not "
                                               "permitted")});
  TenantNetworks::Result r = networks_->Reconcile({});
  ASSERT_THAT(r.networks, SizeIs(1));
  EXPECT_EQ(r.networks[0].bridge_name(), "mb-x00004d");
  EXPECT_EQ(r.networks[0].tenant(), "tenants/old");
  EXPECT_EQ(r.networks[0].vni(), 77u);
  EXPECT_THAT(r.networks[0].error(),
              HasSubstr("not in the host spec but could not be removed: deleting link "
                        "\"mb-x00004d\": Operation not permitted"));
  EXPECT_EQ(netlink_.Find("mx-00004d"), nullptr);
  EXPECT_THAT(firewall_.bridges(), ElementsAre("mb-x00004d"));
}

TEST_F(TenantNetworksTest, ForeignLinksWithMandantNamesAreReportedNeverTouched) {
  LinkInfo foreign;
  foreign.name = "mb-x0003e9";  // someone's bridge, no Mandant mark
  foreign.kind = LinkKind::kBridge;
  foreign.kind_name = "bridge";
  foreign.mtu = 9000;
  foreign.alias = "lab bridge";
  netlink_.AddExistingLink(foreign);
  LinkInfo stray;
  stray.name = "mx-000007";  // not desired, not ours: must not be deleted
  stray.kind_name = "dummy";
  netlink_.AddExistingLink(stray);
  LinkInfo eth0;
  eth0.name = "eth0";
  netlink_.AddExistingLink(eth0);

  TenantNetworks::Result r = ReconcileTwice({Vxlan("acme", 1001, {"10.99.0.2"})});
  ASSERT_THAT(r.networks, SizeIs(1));
  EXPECT_THAT(r.networks[0].error(),
              HasSubstr("bridge \"mb-x0003e9\" exists but is not Mandant's (kind bridge, alias "
                        "\"lab bridge\"); the agent never changes it"));
  EXPECT_FALSE(r.networks[0].up());
  EXPECT_EQ(r.networks[0].mtu(), 0);  // the foreign bridge's values are not reported
  for (const std::string& call : netlink_.calls()) {
    if (absl::StartsWith(call, "ReplaceBridgeRules")) continue;  // rules name it, harmlessly
    EXPECT_THAT(call, Not(HasSubstr("mb-x0003e9"))) << "touched the foreign bridge";
    EXPECT_THAT(call, Not(HasSubstr("mx-000007")));
    EXPECT_THAT(call, Not(HasSubstr("eth0")));
  }
  EXPECT_EQ(netlink_.Find("mb-x0003e9")->mtu, 9000);
  EXPECT_NE(netlink_.Find("mx-000007"), nullptr);
  EXPECT_EQ(netlink_.Find("mx-0003e9"), nullptr) << "no half network next to a foreign bridge";
}

TEST_F(TenantNetworksTest, ForeignSegmentLinkBlocksItsNetworkBeforeAnythingIsCreated) {
  LinkInfo foreign;
  foreign.name = "mx-0003e9";
  foreign.kind = LinkKind::kVxlan;
  foreign.kind_name = "vxlan";
  foreign.vxlan_id = 1001;
  netlink_.AddExistingLink(foreign);
  TenantNetworks::Result r = networks_->Reconcile({Vxlan("acme", 1001, {})});
  EXPECT_THAT(r.networks[0].error(), HasSubstr("VXLAN device \"mx-0003e9\" exists but is not"));
  EXPECT_EQ(netlink_.Find("mb-x0003e9"), nullptr);
}

TEST_F(TenantNetworksTest, OneFailingNetworkDoesNotStopTheOthers) {
  netlink_.Inject({"AddVxlan", "mx-0003e9",
                   absl::InvalidArgumentError(
                       "creating vxlan (VNI 1001) \"mx-0003e9\": Invalid input data or parameter "
                       "(libnl error 7)"),
                   1});
  netlink_.Inject({"AddFloodEntry", "mx-0007d0", absl::InternalError("fdb is full"), 1});
  TenantNetworks::Result r =
      networks_->Reconcile({Vxlan("acme", 1001, {"10.99.0.2"}), Vxlan("beta", 2000, {"10.99.0.2"}),
                            Vxlan("gamma", 3000, {"10.99.0.2"})});
  ASSERT_THAT(r.networks, SizeIs(3));
  EXPECT_THAT(r.networks[0].error(), HasSubstr("Invalid input data or parameter (libnl error 7)"));
  EXPECT_FALSE(r.networks[0].up());
  EXPECT_EQ(r.networks[1].bridge_name(), "mb-x0007d0");
  EXPECT_THAT(r.networks[1].error(), HasSubstr("fdb is full"));
  EXPECT_THAT(r.networks[1].peer_underlay_addresses(), IsEmpty());
  EXPECT_EQ(r.networks[2].error(), "");
  EXPECT_TRUE(r.networks[2].up());
  EXPECT_THAT(r.networks[2].peer_underlay_addresses(), ElementsAre("10.99.0.2"));
  EXPECT_THAT(r.host_errors, IsEmpty());
  // Every desired bridge is protected, including the ones not finished.
  EXPECT_THAT(firewall_.bridges(), ElementsAre("mb-x0003e9", "mb-x0007d0", "mb-x000bb8"));

  // The next pass finishes the job once the kernel cooperates.
  TenantNetworks::Result again =
      ReconcileTwice({Vxlan("acme", 1001, {"10.99.0.2"}), Vxlan("beta", 2000, {"10.99.0.2"}),
                      Vxlan("gamma", 3000, {"10.99.0.2"})});
  for (const TenantNetworkStatus& st : again.networks) {
    EXPECT_EQ(st.error(), "") << st.bridge_name();
    EXPECT_TRUE(st.up()) << st.bridge_name();
  }
}

TEST_F(TenantNetworksTest, MtuAboveWhatTheUnderlayCarriesIsThatNetworksError) {
  TenantNetworkSpec spec = Vxlan("acme", 1001, {});
  spec.set_mtu(1500);  // the underlay is 1500: at most 1450 fits
  TenantNetworks::Result r = networks_->Reconcile({spec});
  EXPECT_THAT(r.networks[0].error(), HasSubstr("Invalid input data"));
}

TEST_F(TenantNetworksTest, InvalidSpecIsRefusedAndItsExistingNetworkKept) {
  AddOwnedVxlan("acme", 1001);
  TenantNetworkSpec bad = Vxlan("acme", 1001, {"10.99.0.2"});
  bad.set_mtu(100);
  TenantNetworkSpec bad2 = Vxlan("beta", 2000, {"not-an-address"});
  netlink_.SetFloodDirect("mx-0003e9", {"10.99.0.9"});
  log_.clear();
  TenantNetworks::Result r = networks_->Reconcile({bad, bad2});
  ASSERT_THAT(r.networks, SizeIs(2));
  EXPECT_THAT(r.networks[0].error(), HasSubstr("spec refused: mtu: must be 576-9000, got 100"));
  // What is on the host is still reported.
  EXPECT_EQ(r.networks[0].mtu(), 1450);
  EXPECT_THAT(r.networks[0].peer_underlay_addresses(), ElementsAre("10.99.0.9"));
  EXPECT_TRUE(r.networks[0].up());
  EXPECT_THAT(r.networks[1].error(),
              HasSubstr("peer_underlay_addresses[0]: must be an IPv4 or IPv6 address"));
  EXPECT_NE(netlink_.Find("mb-x0003e9"), nullptr);
  EXPECT_EQ(netlink_.Find("mb-x0007d0"), nullptr);
  EXPECT_THAT(log_, IsEmpty());
}

TEST_F(TenantNetworksTest, PeersMustSuitTheUnderlay) {
  TenantNetworks::Result r = networks_->Reconcile(
      {Vxlan("acme", 1001, {"fd00::2"}), Vxlan("beta", 2000, {kUnderlayAddress})});
  EXPECT_THAT(r.networks[0].error(), HasSubstr("not of the underlay's address family"));
  EXPECT_THAT(r.networks[1].error(), HasSubstr("this host's own underlay address"));
  EXPECT_EQ(netlink_.mutations(), 0);
}

TEST_F(TenantNetworksTest, ABridgeNameTwiceRefusesBoth) {
  TenantNetworks::Result r =
      networks_->Reconcile({Vxlan("acme", 1001, {}), Vxlan("beta", 1001, {})});
  ASSERT_THAT(r.networks, SizeIs(1));
  EXPECT_THAT(r.networks[0].error(), HasSubstr("appears 2 times in the host spec"));
  EXPECT_EQ(netlink_.mutations(), 0);
}

TEST_F(TenantNetworksTest, SegmentThatChangedTenantIsRebuiltWithoutTheOldTenantsPorts) {
  AddOwnedVxlan("old", 1001);
  AddTap("vnet-old", "mb-x0003e9");
  TenantNetworks::Result r = ReconcileTwice({Vxlan("acme", 1001, {})});
  EXPECT_EQ(r.networks[0].error(), "");
  EXPECT_EQ(r.networks[0].tenant(), "tenants/acme");
  EXPECT_EQ(netlink_.Find("mb-x0003e9")->alias, "mandant:tenants/acme");
  EXPECT_EQ(netlink_.Find("mx-0003e9")->alias, "mandant:tenants/acme");
  EXPECT_EQ(netlink_.Find("vnet-old")->master_ifindex, 0);
  EXPECT_THAT(log_, Contains("DeleteLink mb-x0003e9"));
  EXPECT_THAT(log_, Contains("DeleteLink mx-0003e9"));
}

TEST_F(TenantNetworksTest, VxlanDeviceWithUnchangeableDifferencesIsRecreated) {
  AddOwnedVxlan("acme", 1001);
  netlink_.Find("mx-0003e9")->vxlan_learning = true;
  netlink_.Find("mx-0003e9")->vxlan_port = 8472;
  log_.clear();
  TenantNetworks::Result r = ReconcileTwice({Vxlan("acme", 1001, {})});
  EXPECT_EQ(r.networks[0].error(), "");
  EXPECT_THAT(log_, ElementsAre("DeleteLink mx-0003e9",
                                "AddVxlan mx-0003e9 vni 1001 local 10.99.0.1 dev eth1 master "
                                "mb-x0003e9",
                                "SetAlias mx-0003e9 mandant:tenants/acme", "SetUp mx-0003e9 up"));
  EXPECT_FALSE(netlink_.Find("mx-0003e9")->vxlan_learning);
  EXPECT_EQ(netlink_.Find("mx-0003e9")->vxlan_port, 4789);
}

TEST_F(TenantNetworksTest, CreationInterruptedBeforeTheAliasIsAdopted) {
  AddOwnedVxlan("acme", 1001);
  netlink_.Find("mb-x0003e9")->alias = "";  // only the group mark survived
  netlink_.Find("mx-0003e9")->alias = "";
  log_.clear();
  TenantNetworks::Result r = ReconcileTwice({Vxlan("acme", 1001, {})});
  EXPECT_EQ(r.networks[0].error(), "");
  EXPECT_THAT(log_, ElementsAre("SetAlias mb-x0003e9 mandant:tenants/acme",
                                "SetAlias mx-0003e9 mandant:tenants/acme"));
}

TEST_F(TenantNetworksTest, FirewallFailureBlocksNewBridgesButNotRepairs) {
  AddOwnedVxlan("acme", 1001, /*mtu=*/1400);
  firewall_.Inject({"ReplaceBridgeRules", "",
                    absl::InternalError("Error: Could not process rule: No such file"), 2});
  TenantNetworks::Result r =
      networks_->Reconcile({Vxlan("acme", 1001, {}), Vxlan("beta", 2000, {})});
  EXPECT_THAT(r.host_errors,
              ElementsAre(HasSubstr("firewall separating tenant bridges could not be installed: "
                                    "Error: Could not process rule"),
                          HasSubstr("could not be installed")));
  EXPECT_EQ(r.networks[0].error(), "");
  EXPECT_EQ(netlink_.Find("mb-x0003e9")->mtu, 1450);
  EXPECT_THAT(r.networks[1].error(),
              HasSubstr("bridge \"mb-x0007d0\" not created: the host firewall"));
  EXPECT_EQ(netlink_.Find("mb-x0007d0"), nullptr);

  r = ReconcileTwice({Vxlan("acme", 1001, {}), Vxlan("beta", 2000, {})});
  EXPECT_THAT(r.host_errors, IsEmpty());
  EXPECT_EQ(r.networks[1].error(), "");
  EXPECT_THAT(firewall_.bridges(), ElementsAre("mb-x0003e9", "mb-x0007d0"));
}

TEST_F(TenantNetworksTest, FirewallChangedBySomeoneElseIsRestored) {
  networks_->Reconcile({Vxlan("acme", 1001, {})});
  firewall_.SetBridgesDirect({});
  networks_->Reconcile({Vxlan("acme", 1001, {})});
  EXPECT_THAT(firewall_.bridges(), ElementsAre("mb-x0003e9"));
}

TEST_F(TenantNetworksTest, LinkListFailureIsAHostError) {
  netlink_.Inject({"ListLinks", "", absl::UnavailableError("netlink socket: Try again")});
  TenantNetworks::Result r = networks_->Reconcile({Vxlan("acme", 1001, {})});
  EXPECT_THAT(r.host_errors, ElementsAre(HasSubstr("netlink socket: Try again")));
  ASSERT_THAT(r.networks, SizeIs(1));
  EXPECT_THAT(r.networks[0].error(), HasSubstr("could not be listed"));
  EXPECT_EQ(netlink_.mutations(), 0);
  EXPECT_EQ(firewall_.replacements(), 0);
}

TEST_F(TenantNetworksTest, StatusIsOrderedByBridgeName) {
  AddOwnedVxlan("old", 5);
  netlink_.Inject({"DeleteLink", "mb-x000005", absl::InternalError("busy")});
  TenantNetworks::Result r =
      networks_->Reconcile({Vxlan("acme", 3000, {}), Vlan("beta", 9), Vxlan("gamma", 7, {})});
  std::vector<std::string> names;
  for (const TenantNetworkStatus& st : r.networks) names.push_back(st.bridge_name());
  EXPECT_THAT(names, ElementsAre("mb-v0009", "mb-x000005", "mb-x000007", "mb-x000bb8"));
}

TEST(FindUnderlayTest, FindsTheLinkHoldingTheAddress) {
  FakeNetlink netlink;
  LinkInfo lo;
  lo.name = "lo";
  lo.mtu = 65536;
  netlink.AddExistingLink(lo);
  LinkInfo eth;
  eth.name = "enp3s0";
  eth.mtu = 9000;
  const int index = netlink.AddExistingLink(eth).ifindex;
  netlink.AddExistingAddress("lo", AF_INET, "127.0.0.1", 8);
  netlink.AddExistingAddress("enp3s0", AF_INET, "192.0.2.10", 24);
  netlink.AddExistingAddress("enp3s0", AF_INET6, "2001:db8::10", 64);

  absl::StatusOr<Underlay> u = FindUnderlay(netlink, "192.0.2.10");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->device, "enp3s0");
  EXPECT_EQ(u->ifindex, index);
  EXPECT_EQ(u->mtu, 9000);
  EXPECT_THAT(FindUnderlay(netlink, "2001:DB8:0::10"),
              IsOkAndHolds(Field(&Underlay::device, "enp3s0")));
  EXPECT_THAT(FindUnderlay(netlink, "192.0.2.11"),
              StatusIs(absl::StatusCode::kNotFound,
                       "no link on this host has the underlay address 192.0.2.11"));
  EXPECT_THAT(FindUnderlay(netlink, "192.0.2.10/24"),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not an IPv4 or IPv6 address"));
  netlink.Inject({"ListAddresses", "", absl::PermissionDeniedError("no CAP_NET_ADMIN")});
  EXPECT_THAT(FindUnderlay(netlink, "192.0.2.10"),
              StatusIs(absl::StatusCode::kPermissionDenied, "no CAP_NET_ADMIN"));
}

}  // namespace
}  // namespace mandant::agent
