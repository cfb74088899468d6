#include "controller/agents/host_spec.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "pki/sealing.h"
#include "tests/support/status_matchers.h"

namespace mandant::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::StatusIs;

constexpr char kMachineA[] = "00000000-0000-4000-8000-00000000000a";
constexpr char kMachineB[] = "00000000-0000-4000-8000-00000000000b";

class HostSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kek = pki::Kek::Generate("kek-test");
    ASSERT_OK(kek);
    auto ring = pki::KeyRing::Create(*std::move(kek));
    ASSERT_OK(ring);
    keys_.emplace(*std::move(ring));
  }

  store::PlacedMachineRow Machine(const std::string& id, const std::string& tenant,
                                  v1::NetworkMode mode, uint32_t segment) {
    store::PlacedMachineRow m;
    m.machine_id = id;
    m.tenant = tenant;
    m.cluster = "prod";
    m.name = "cp-1";
    m.resources.set_vcpus(2);
    m.base_image = "debian-12";
    m.base_image_sha256 = std::string(64, 'a');
    m.node_mac = "02:4d:00:00:00:01";
    m.mode = mode;
    m.segment_id = segment;
    v1::Seed seed;
    seed.set_user_data("#cloud-config\n");
    m.sealed_seed =
        pki::Seal(keys_->current(), seed.SerializeAsString(), store::SeedAssociatedData(id))
            .value();
    return m;
  }

  std::optional<pki::KeyRing> keys_;
};

TEST_F(HostSpecTest, NetworksGetNamesPeersAndTheSmallestMtu) {
  store::HostSpecSources sources;
  store::TenantNetworkRow beta{
      "beta", v1::NETWORK_MODE_VXLAN, 2000, {"10.0.0.2", "10.0.0.3"}, 9000};
  store::TenantNetworkRow acme{"acme", v1::NETWORK_MODE_VXLAN, 1001, {"10.0.0.9"}, 0};
  store::TenantNetworkRow trunk{"gamma", v1::NETWORK_MODE_VLAN, 4094, {"ignored"}, 1500};
  sources.networks = {beta, acme, trunk};
  auto spec = BuildHostSpec(sources, *keys_);
  ASSERT_OK(spec);
  ASSERT_EQ(spec->networks_size(), 3);
  // Ordered by bridge name: "mb-v..." (VLAN) before "mb-x..." (VXLAN).
  EXPECT_EQ(spec->networks(0).bridge_name(), "mb-v0ffe");
  EXPECT_EQ(spec->networks(0).link_name(), "mv-0ffe");
  EXPECT_EQ(spec->networks(0).vlan_id(), 4094u);
  EXPECT_EQ(spec->networks(0).mtu(), 1500);
  EXPECT_EQ(spec->networks(0).peer_underlay_addresses_size(), 0) << "no flood list on a trunk";
  EXPECT_EQ(spec->networks(1).bridge_name(), "mb-x0003e9");
  EXPECT_EQ(spec->networks(1).tenant(), "tenants/acme");
  EXPECT_EQ(spec->networks(1).vni(), 1001u);
  EXPECT_EQ(spec->networks(1).mtu(), 1450) << "no MTU reported: 1500 assumed";
  EXPECT_THAT(spec->networks(1).peer_underlay_addresses(), ElementsAre("10.0.0.9"));
  EXPECT_EQ(spec->networks(2).bridge_name(), "mb-x0007d0");
  EXPECT_EQ(spec->networks(2).mtu(), 8950);
  EXPECT_THAT(spec->networks(2).peer_underlay_addresses(), ElementsAre("10.0.0.2", "10.0.0.3"));
  EXPECT_EQ(spec->version(), 0);
}

TEST_F(HostSpecTest, AnUnderlayTooSmallForVxlanIsRefused) {
  store::HostSpecSources sources;
  sources.networks.push_back({"acme", v1::NETWORK_MODE_VXLAN, 1001, {}, 600});
  EXPECT_THAT(BuildHostSpec(sources, *keys_), StatusIs(absl::StatusCode::kInvalidArgument, ""));
}

TEST_F(HostSpecTest, VmsGetTheirTenantsBridgeAndTheirSeed) {
  store::HostSpecSources sources;
  sources.machines.push_back(Machine(kMachineA, "acme", v1::NETWORK_MODE_VXLAN, 1001));
  store::PlacedMachineRow off = Machine(kMachineB, "beta", v1::NETWORK_MODE_VLAN, 7);
  off.power_state = v1::POWER_STATE_OFF;
  sources.machines.push_back(off);
  auto spec = BuildHostSpec(sources, *keys_);
  ASSERT_OK(spec);
  ASSERT_EQ(spec->vms_size(), 2);
  const v1::VmSpec& vm = spec->vms(0);
  EXPECT_EQ(vm.machine_id(), kMachineA);
  EXPECT_EQ(vm.tenant(), "tenants/acme");
  EXPECT_EQ(vm.cluster(), "tenants/acme/clusters/prod");
  ASSERT_EQ(vm.nics_size(), 1);
  EXPECT_EQ(vm.nics(0).bridge_name(), "mb-x0003e9");
  EXPECT_EQ(vm.nics(0).mac_address(), "02:4d:00:00:00:01");
  EXPECT_EQ(vm.seed().user_data(), "#cloud-config\n");
  EXPECT_EQ(vm.power_state(), v1::POWER_STATE_ON);
  EXPECT_EQ(spec->vms(1).nics(0).bridge_name(), "mb-v0007");
  EXPECT_EQ(spec->vms(1).power_state(), v1::POWER_STATE_OFF);
}

TEST_F(HostSpecTest, ASeedOfAnotherMachineDoesNotOpen) {
  store::HostSpecSources sources;
  store::PlacedMachineRow m = Machine(kMachineA, "acme", v1::NETWORK_MODE_VXLAN, 1001);
  m.sealed_seed = Machine(kMachineB, "acme", v1::NETWORK_MODE_VXLAN, 1001).sealed_seed;
  sources.machines.push_back(m);
  EXPECT_THAT(BuildHostSpec(sources, *keys_), StatusIs(absl::StatusCode::kDataLoss, ""));
}

TEST_F(HostSpecTest, TheVersionGrowsOnlyWithTheContent) {
  store::HostSpecSources sources;
  sources.machines.push_back(Machine(kMachineA, "acme", v1::NETWORK_MODE_VXLAN, 1001));
  auto spec = BuildHostSpec(sources, *keys_);
  ASSERT_OK(spec);
  const std::string digest = HostSpecDigest(*spec);
  EXPECT_EQ(digest.size(), 32u);
  // Resealing gives other ciphertext but the same spec.
  store::HostSpecSources again;
  again.machines.push_back(Machine(kMachineA, "acme", v1::NETWORK_MODE_VXLAN, 1001));
  EXPECT_EQ(HostSpecDigest(BuildHostSpec(again, *keys_).value()), digest);
  EXPECT_EQ(NextSpecVersion(4, digest, digest), 4);
  EXPECT_EQ(NextSpecVersion(4, "", digest), 5);
  EXPECT_EQ(NextSpecVersion(0, "", digest), 1);
  spec->mutable_vms(0)->set_power_state(v1::POWER_STATE_OFF);
  EXPECT_EQ(NextSpecVersion(4, digest, HostSpecDigest(*spec)), 5);
}

}  // namespace
}  // namespace mandant::controller
