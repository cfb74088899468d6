#include "tenants/edge_names.h"

#include <set>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tenants/network_names.h"

namespace mandant::tenants {
namespace {

using ::mandant::v1::NETWORK_MODE_UNSPECIFIED;
using ::mandant::v1::NETWORK_MODE_VLAN;
using ::mandant::v1::NETWORK_MODE_VXLAN;
using ::testing::HasSubstr;

TEST(EdgeNamesTest, TheExamplesOfDocsEdgeMd) {
  EXPECT_EQ(EdgeNamespaceName(NETWORK_MODE_VXLAN, 1001).value(), "mandant-ex0003e9");
  EXPECT_EQ(EdgeInsideLinkName(NETWORK_MODE_VXLAN, 1001).value(), "mei-x0003e9");
  EXPECT_EQ(EdgeOutsideLinkName(NETWORK_MODE_VXLAN, 1001).value(), "meo-x0003e9");
  EXPECT_EQ(EdgeNamespaceName(NETWORK_MODE_VLAN, 4094).value(), "mandant-ev0ffe");
  EXPECT_EQ(EdgeInsideLinkName(NETWORK_MODE_VLAN, 4094).value(), "mei-v0ffe");
  EXPECT_EQ(EdgeOutsideLinkName(NETWORK_MODE_VLAN, 4094).value(), "meo-v0ffe");
}

TEST(EdgeNamesTest, SuffixIsTheTenantBridgesSegmentSuffix) {
  for (auto mode : {NETWORK_MODE_VXLAN, NETWORK_MODE_VLAN}) {
    for (uint32_t id : {1u, 77u, 4094u}) {
      const std::string bridge = TenantBridgeName(mode, id).value();
      const std::string suffix = bridge.substr(std::string(kTenantBridgePrefix).size());
      EXPECT_EQ(EdgeNamespaceName(mode, id).value(), kEdgeNamespacePrefix + suffix);
      EXPECT_EQ(EdgeInsideLinkName(mode, id).value(), kEdgeInsideLinkPrefix + suffix);
      EXPECT_EQ(EdgeOutsideLinkName(mode, id).value(), kEdgeOutsideLinkPrefix + suffix);
    }
  }
}

TEST(EdgeNamesTest, LinksFitTheKernelLimitAndNeverLookLikeTenantLinks) {
  for (uint32_t vni : {kMinVni, kMaxVni}) {
    for (const std::string& link : {EdgeInsideLinkName(NETWORK_MODE_VXLAN, vni).value(),
                                    EdgeOutsideLinkName(NETWORK_MODE_VXLAN, vni).value()}) {
      EXPECT_LE(link.size(), kMaxLinkNameLength);
      EXPECT_FALSE(IsMandantLinkName(link)) << link;
    }
  }
}

TEST(EdgeNamesTest, DistinctForEveryVlanAndSampledVnis) {
  std::set<std::string> names;
  for (uint32_t id = kMinVlanId; id <= kMaxVlanId; ++id) {
    ASSERT_TRUE(names.insert(EdgeNamespaceName(NETWORK_MODE_VLAN, id).value()).second);
    ASSERT_TRUE(names.insert(EdgeInsideLinkName(NETWORK_MODE_VLAN, id).value()).second);
    ASSERT_TRUE(names.insert(EdgeOutsideLinkName(NETWORK_MODE_VLAN, id).value()).second);
  }
  for (uint32_t vni = 1; vni <= kMaxVni; vni = vni * 3 + 1) {
    ASSERT_TRUE(names.insert(EdgeNamespaceName(NETWORK_MODE_VXLAN, vni).value()).second) << vni;
    ASSERT_TRUE(names.insert(EdgeInsideLinkName(NETWORK_MODE_VXLAN, vni).value()).second) << vni;
    ASSERT_TRUE(names.insert(EdgeOutsideLinkName(NETWORK_MODE_VXLAN, vni).value()).second) << vni;
  }
}

TEST(EdgeNamesTest, RefusesWhatTenantBridgeNameRefuses) {
  EXPECT_EQ(EdgeNamespaceName(NETWORK_MODE_VXLAN, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(EdgeInsideLinkName(NETWORK_MODE_VLAN, 4095).status().message(),
              HasSubstr("VLAN ID 4095 is out of range; use 1-4094"));
  EXPECT_FALSE(EdgeOutsideLinkName(NETWORK_MODE_UNSPECIFIED, 5).ok());
  EXPECT_FALSE(EdgeOutsideLinkName(NETWORK_MODE_VXLAN, kMaxVni + 1).ok());
}

TEST(ParseEdgeNameTest, RoundTrips) {
  for (auto mode : {NETWORK_MODE_VXLAN, NETWORK_MODE_VLAN}) {
    for (uint32_t id : {1u, 42u, 4094u}) {
      struct Case {
        std::string name;
        EdgeObject object;
      };
      for (const Case& c :
           {Case{EdgeNamespaceName(mode, id).value(), EdgeObject::kNamespace},
            Case{EdgeInsideLinkName(mode, id).value(), EdgeObject::kInsideLink},
            Case{EdgeOutsideLinkName(mode, id).value(), EdgeObject::kOutsideLink}}) {
        std::optional<ParsedEdgeName> parsed = ParseEdgeName(c.name);
        ASSERT_TRUE(parsed.has_value()) << c.name;
        EXPECT_EQ(parsed->object, c.object) << c.name;
        EXPECT_EQ(parsed->mode, mode) << c.name;
        EXPECT_EQ(parsed->segment_id, id) << c.name;
      }
    }
  }
}

TEST(ParseEdgeNameTest, RefusesLookalikes) {
  for (const char* name : {"",
                           "mandant-e",
                           "mei-",
                           "meo-",
                           "mandant-ex3e9",
                           "mandant-ex0003E9",
                           "mandant-ex0003e9 ",
                           " mei-x0003e9",
                           "mei-x00003e9",
                           "mei-x000000",
                           "meo-v0fff",
                           "meo-v0000",
                           "mandant-ev00001",
                           "mandant-emb-x0003e9",
                           "mei-mb-x0003e9",
                           "mandant-x0003e9",
                           "mandant-e-x0003e9",
                           "mef-x0003e9",
                           "mb-x0003e9",
                           "mx-0003e9",
                           "inside",
                           "outside",
                           "mei-y0003e9"}) {
    EXPECT_FALSE(ParseEdgeName(name).has_value()) << name;
  }
  EXPECT_FALSE(ParseEdgeName(std::string("mei-x0003e9\0", 12)).has_value());
  EXPECT_FALSE(ParseEdgeName(std::string("mei-x0003\0e9", 12)).has_value());
}

}  // namespace
}  // namespace mandant::tenants
