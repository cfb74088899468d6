#include "controller/store/tenant_store.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::controller::store {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;

TEST(TenantStateTextTest, RoundTripsTheStoredStates) {
  for (v1::TenantState s : {v1::TENANT_STATE_ACTIVE, v1::TENANT_STATE_SUSPENDED}) {
    EXPECT_EQ(TenantStateFromText(TenantStateText(s)), s);
  }
  EXPECT_EQ(TenantStateText(v1::TENANT_STATE_ACTIVE), "ACTIVE");
  EXPECT_EQ(TenantStateText(v1::TENANT_STATE_SUSPENDED), "SUSPENDED");
}

TEST(TenantStateTextTest, UnknownTextIsUnspecified) {
  EXPECT_EQ(TenantStateFromText(""), v1::TENANT_STATE_UNSPECIFIED);
  EXPECT_EQ(TenantStateFromText("active"), v1::TENANT_STATE_UNSPECIFIED);
  EXPECT_EQ(TenantStateFromText("DELETED"), v1::TENANT_STATE_UNSPECIFIED);
}

TEST(NetworkModeTextTest, RoundTripsBothModes) {
  for (v1::NetworkMode m : {v1::NETWORK_MODE_VXLAN, v1::NETWORK_MODE_VLAN}) {
    EXPECT_EQ(NetworkModeFromText(NetworkModeText(m)), m);
  }
  EXPECT_EQ(NetworkModeText(v1::NETWORK_MODE_VLAN), "VLAN");
  EXPECT_EQ(NetworkModeText(v1::NETWORK_MODE_VXLAN), "VXLAN");
  // The API default (UNSPECIFIED) is stored as VXLAN, as CreateTenant means it.
  EXPECT_EQ(NetworkModeText(v1::NETWORK_MODE_UNSPECIFIED), "VXLAN");
}

TEST(TenantEtagTest, DiffersByUidAndGeneration) {
  const std::string a1 = TenantEtag("0a1b2c3d-aaaa-4bbb-8ccc-000000000001", 1);
  EXPECT_EQ(a1, "0a1b2c3d-1");
  EXPECT_NE(a1, TenantEtag("0a1b2c3d-aaaa-4bbb-8ccc-000000000001", 2));
  EXPECT_NE(a1, TenantEtag("ffff2c3d-aaaa-4bbb-8ccc-000000000001", 1));
}

TEST(ValidateNetworkPoolsTest, DefaultsAreValid) { EXPECT_THAT(ValidateNetworkPools({}), IsOk()); }

TEST(ValidateNetworkPoolsTest, OverlappingSupernetsAreRefused) {
  NetworkPools pools;
  pools.storage_supernet = pools.node_supernet;
  EXPECT_THAT(ValidateNetworkPools(pools), StatusIs(absl::StatusCode::kInvalidArgument, ""));
}

}  // namespace
}  // namespace mandant::controller::store
