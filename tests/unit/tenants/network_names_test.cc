#include "tenants/network_names.h"

#include <sys/socket.h>

#include <set>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tenants/field_violations.h"

namespace mandant::tenants {
namespace {

using ::mandant::v1::NETWORK_MODE_UNSPECIFIED;
using ::mandant::v1::NETWORK_MODE_VLAN;
using ::mandant::v1::NETWORK_MODE_VXLAN;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

TEST(TenantBridgeNameTest, ExamplesOfBothModes) {
  EXPECT_EQ(TenantBridgeName(NETWORK_MODE_VXLAN, 1001).value(), "mb-x0003e9");
  EXPECT_EQ(TenantLinkName(NETWORK_MODE_VXLAN, 1001).value(), "mx-0003e9");
  EXPECT_EQ(TenantBridgeName(NETWORK_MODE_VLAN, 4094).value(), "mb-v0ffe");
  EXPECT_EQ(TenantLinkName(NETWORK_MODE_VLAN, 4094).value(), "mv-0ffe");
}

TEST(TenantBridgeNameTest, ExtremesFitTheKernelLimit) {
  for (uint32_t vni : {kMinVni, kMaxVni}) {
    EXPECT_LE(TenantBridgeName(NETWORK_MODE_VXLAN, vni).value().size(), kMaxLinkNameLength);
    EXPECT_LE(TenantLinkName(NETWORK_MODE_VXLAN, vni).value().size(), kMaxLinkNameLength);
  }
  EXPECT_EQ(TenantBridgeName(NETWORK_MODE_VXLAN, kMaxVni).value(), "mb-xffffff");
  EXPECT_EQ(TenantBridgeName(NETWORK_MODE_VXLAN, 1).value(), "mb-x000001");
  EXPECT_EQ(TenantLinkName(NETWORK_MODE_VLAN, 1).value(), "mv-0001");
}

TEST(TenantBridgeNameTest, DistinctForEveryVlanAndSampledVnis) {
  std::set<std::string> names;
  for (uint32_t id = kMinVlanId; id <= kMaxVlanId; ++id) {
    ASSERT_TRUE(names.insert(TenantBridgeName(NETWORK_MODE_VLAN, id).value()).second);
    ASSERT_TRUE(names.insert(TenantLinkName(NETWORK_MODE_VLAN, id).value()).second);
  }
  // VNIs that share VLAN IDs' numbers must still get other names.
  for (uint32_t vni = 1; vni <= kMaxVni; vni = vni * 3 + 1) {
    ASSERT_TRUE(names.insert(TenantBridgeName(NETWORK_MODE_VXLAN, vni).value()).second) << vni;
    ASSERT_TRUE(names.insert(TenantLinkName(NETWORK_MODE_VXLAN, vni).value()).second) << vni;
  }
}

TEST(TenantBridgeNameTest, RefusesOutOfRangeAndUnspecifiedMode) {
  EXPECT_EQ(TenantBridgeName(NETWORK_MODE_VXLAN, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(TenantBridgeName(NETWORK_MODE_VXLAN, kMaxVni + 1).status().message(),
              HasSubstr("VNI 16777216 is out of range; use 1-16777215"));
  EXPECT_THAT(TenantLinkName(NETWORK_MODE_VLAN, 4095).status().message(),
              HasSubstr("VLAN ID 4095 is out of range; use 1-4094"));
  EXPECT_FALSE(TenantLinkName(NETWORK_MODE_VLAN, 0).ok());
  EXPECT_FALSE(TenantBridgeName(NETWORK_MODE_UNSPECIFIED, 5).ok());
}

TEST(ParseTenantLinkNameTest, RoundTrips) {
  for (auto mode : {NETWORK_MODE_VXLAN, NETWORK_MODE_VLAN}) {
    for (uint32_t id : {1u, 42u, 4094u}) {
      auto bridge = ParseTenantLinkName(TenantBridgeName(mode, id).value());
      ASSERT_TRUE(bridge.has_value());
      EXPECT_TRUE(bridge->is_bridge);
      EXPECT_EQ(bridge->mode, mode);
      EXPECT_EQ(bridge->segment_id, id);
      auto link = ParseTenantLinkName(TenantLinkName(mode, id).value());
      ASSERT_TRUE(link.has_value());
      EXPECT_FALSE(link->is_bridge);
      EXPECT_EQ(link->mode, mode);
      EXPECT_EQ(link->segment_id, id);
    }
  }
}

TEST(ParseTenantLinkNameTest, RefusesLookalikes) {
  for (const char* name : {"", "mb-", "mb-x", "mb-x3e9", "mb-x0003E9", "mb-x0003e9 ", "mb-x00003e9",
                           "mb-x000000", "mb-v0fff", "mb-v0000", "mx-0003e", "mv-00001", "mv-0ffg",
                           "mbr-100", "mvx-100", "eth0", "mb-y0003e9", "mtap-m4"}) {
    EXPECT_FALSE(IsMandantLinkName(name)) << name;
    EXPECT_FALSE(IsMandantBridgeName(name)) << name;
  }
  EXPECT_FALSE(IsMandantLinkName(std::string("mx-0003e9\0", 10)));
}

TEST(ParseTenantLinkNameTest, BridgeVersusSegmentLink) {
  EXPECT_TRUE(IsMandantBridgeName("mb-x0003e9"));
  EXPECT_TRUE(IsMandantBridgeName("mb-v0ffe"));
  EXPECT_FALSE(IsMandantBridgeName("mx-0003e9"));
  EXPECT_TRUE(IsMandantLinkName("mx-0003e9"));
  EXPECT_TRUE(IsMandantLinkName("mv-0ffe"));
  // The firewall's wildcard "mb-*" must cover every bridge and no segment link.
  EXPECT_EQ(TenantBridgeName(NETWORK_MODE_VLAN, 7).value().rfind(kTenantBridgePrefix, 0), 0u);
  EXPECT_NE(TenantLinkName(NETWORK_MODE_VXLAN, 7).value().rfind(kTenantBridgePrefix, 0), 0u);
}

TEST(TenantNetworkMtuTest, VxlanTakesFiftyBytesVlanNothing) {
  EXPECT_EQ(TenantNetworkMtu(NETWORK_MODE_VXLAN, 1500).value(), 1450);
  EXPECT_EQ(TenantNetworkMtu(NETWORK_MODE_VXLAN, 9000).value(), 8950);
  EXPECT_EQ(TenantNetworkMtu(NETWORK_MODE_VLAN, 1500).value(), 1500);
  EXPECT_EQ(TenantNetworkMtu(NETWORK_MODE_VLAN, 65535).value(), kMaxTenantNetworkMtu);
  EXPECT_EQ(TenantNetworkMtu(NETWORK_MODE_VXLAN, 626).value(), 576);
}

TEST(TenantNetworkMtuTest, TooSmallUnderlaySaysWhatIsNeeded) {
  absl::StatusOr<int> mtu = TenantNetworkMtu(NETWORK_MODE_VXLAN, 600);
  EXPECT_EQ(mtu.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mtu.status().message(), HasSubstr("raise the underlay MTU to at least 626"));
  EXPECT_FALSE(TenantNetworkMtu(NETWORK_MODE_UNSPECIFIED, 1500).ok());
  EXPECT_FALSE(TenantNetworkMtu(NETWORK_MODE_VLAN, -1).ok());
}

TEST(CanonicalIpAddressTest, ParsesBothFamiliesCanonically) {
  auto v4 = CanonicalIpAddress("10.0.0.2");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->family, AF_INET);
  EXPECT_EQ(v4->text, "10.0.0.2");
  auto v6 = CanonicalIpAddress("FD00:0::2");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->family, AF_INET6);
  EXPECT_EQ(v6->text, "fd00::2");
  EXPECT_FALSE(CanonicalIpAddress("").has_value());
  EXPECT_FALSE(CanonicalIpAddress("10.0.0.2/24").has_value());
  EXPECT_FALSE(CanonicalIpAddress("host.example").has_value());
  EXPECT_FALSE(CanonicalIpAddress(std::string("10.0.0.2\0", 9)).has_value());
}

v1::TenantNetworkSpec VxlanSpec() {
  v1::TenantNetworkSpec spec;
  spec.set_tenant("tenants/acme");
  spec.set_mode(NETWORK_MODE_VXLAN);
  spec.set_vni(1001);
  spec.set_bridge_name("mb-x0003e9");
  spec.set_link_name("mx-0003e9");
  spec.set_mtu(1450);
  spec.add_peer_underlay_addresses("10.99.0.2");
  spec.add_peer_underlay_addresses("10.99.0.3");
  return spec;
}

v1::TenantNetworkSpec VlanSpec() {
  v1::TenantNetworkSpec spec;
  spec.set_tenant("tenants/beta");
  spec.set_mode(NETWORK_MODE_VLAN);
  spec.set_vlan_id(4094);
  spec.set_bridge_name("mb-v0ffe");
  spec.set_link_name("mv-0ffe");
  spec.set_mtu(1500);
  return spec;
}

std::vector<std::string> FieldsOf(const FieldViolations& v) {
  std::vector<std::string> fields;
  for (const FieldViolation& f : v.violations()) fields.push_back(f.field);
  return fields;
}

TEST(ValidateTenantNetworkSpecTest, AcceptsGoodSpecs) {
  EXPECT_THAT(ValidateTenantNetworkSpec(VxlanSpec()).violations(), IsEmpty());
  EXPECT_THAT(ValidateTenantNetworkSpec(VlanSpec()).violations(), IsEmpty());
  v1::TenantNetworkSpec no_peers = VxlanSpec();
  no_peers.clear_peer_underlay_addresses();  // a tenant on one host only
  EXPECT_THAT(ValidateTenantNetworkSpec(no_peers).violations(), IsEmpty());
  v1::TenantNetworkSpec v6 = VxlanSpec();
  v6.clear_peer_underlay_addresses();
  v6.add_peer_underlay_addresses("fd00::2");
  EXPECT_THAT(ValidateTenantNetworkSpec(v6).violations(), IsEmpty());
}

TEST(ValidateTenantNetworkSpecTest, NamesMustMatchModeAndSegment) {
  v1::TenantNetworkSpec spec = VxlanSpec();
  spec.set_bridge_name("mb-x0003ea");
  spec.set_link_name("mv-0ffe");
  FieldViolations v = ValidateTenantNetworkSpec(spec, "networks[3]");
  EXPECT_THAT(FieldsOf(v), ElementsAre("networks[3].bridge_name", "networks[3].link_name"));
  EXPECT_THAT(v.violations()[0].description,
              HasSubstr("must be \"mb-x0003e9\" for this mode and segment, got \"mb-x0003ea\""));
}

TEST(ValidateTenantNetworkSpecTest, SegmentRangesPerMode) {
  v1::TenantNetworkSpec spec = VxlanSpec();
  spec.set_vni(kMaxVni + 1);
  spec.set_vlan_id(5);
  EXPECT_THAT(FieldsOf(ValidateTenantNetworkSpec(spec)), ElementsAre("vni", "vlan_id"));
  v1::TenantNetworkSpec vlan = VlanSpec();
  vlan.set_vlan_id(4095);
  vlan.set_vni(7);
  vlan.add_peer_underlay_addresses("10.0.0.1");
  EXPECT_THAT(FieldsOf(ValidateTenantNetworkSpec(vlan)),
              ElementsAre("vlan_id", "vni", "peer_underlay_addresses"));
  v1::TenantNetworkSpec none = VxlanSpec();
  none.set_mode(NETWORK_MODE_UNSPECIFIED);
  EXPECT_THAT(FieldsOf(ValidateTenantNetworkSpec(none)), ElementsAre("mode"));
}

TEST(ValidateTenantNetworkSpecTest, TenantAndMtu) {
  v1::TenantNetworkSpec spec = VxlanSpec();
  spec.set_tenant("acme");
  spec.set_mtu(575);
  EXPECT_THAT(FieldsOf(ValidateTenantNetworkSpec(spec)), ElementsAre("tenant", "mtu"));
  spec = VxlanSpec();
  spec.set_mtu(9001);
  EXPECT_THAT(ValidateTenantNetworkSpec(spec).violations(),
              ElementsAre(Field(&FieldViolation::description, "must be 576-9000, got 9001")));
  spec.set_mtu(576);
  EXPECT_TRUE(ValidateTenantNetworkSpec(spec).empty());
}

TEST(ValidateTenantNetworkSpecTest, PeersMustBeDistinctCanonicalUnicastOfOneFamily) {
  v1::TenantNetworkSpec spec = VxlanSpec();
  spec.clear_peer_underlay_addresses();
  for (const char* peer : {"10.99.0.2", "not-an-ip", "10.99.0.2", "FD00::1", "fd00::1", "239.1.1.1",
                           "0.0.0.0", "10.1.0.0/16", "10.99.0.4"}) {
    spec.add_peer_underlay_addresses(peer);
  }
  FieldViolations v = ValidateTenantNetworkSpec(spec);
  EXPECT_THAT(FieldsOf(v), ElementsAre("peer_underlay_addresses[1]", "peer_underlay_addresses[2]",
                                       "peer_underlay_addresses[3]", "peer_underlay_addresses[4]",
                                       "peer_underlay_addresses[5]", "peer_underlay_addresses[6]",
                                       "peer_underlay_addresses[7]"));
  EXPECT_THAT(v.violations()[1].description, HasSubstr("listed twice"));
  EXPECT_THAT(v.violations()[2].description, HasSubstr("canonical form \"fd00::1\""));
  EXPECT_THAT(v.violations()[3].description, HasSubstr("same address family"));
  EXPECT_THAT(v.violations()[4].description, HasSubstr("unicast"));
}

}  // namespace
}  // namespace mandant::tenants
