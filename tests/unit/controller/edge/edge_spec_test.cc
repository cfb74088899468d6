#include "controller/edge/edge_spec.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::controller {
namespace {

using ::testing::ElementsAre;
using testing::StatusIs;

EdgeSettings Settings() {
  EdgeSettings s;
  store::ExternalNetwork net;
  net.name = "internet";
  net.cidr = *tenants::Cidr::Parse("198.51.100.0/24");
  net.gateway = "198.51.100.1";
  net.bridge = "br-ext";
  net.hosts = {"hv1"};
  s.external_networks.push_back(net);
  s.dns_servers = {"192.0.2.53", "192.0.2.54"};
  s.controller_cidrs = {"203.0.113.10/32", "192.0.2.0/24"};
  return s;
}

store::EdgeSpecRow Row() {
  store::EdgeSpecRow r;
  r.tenant = "acme";
  r.mode = v1::NETWORK_MODE_VXLAN;
  r.segment_id = 1001;
  r.node_cidr = "10.64.3.0/24";
  r.gateway_address = "10.64.3.1";
  r.instance_address = "10.64.3.2";
  r.external_network = "internet";
  r.egress_address = "198.51.100.10";
  store::EndpointRow e;
  e.cluster = "prod";
  e.internal_address = "10.64.3.3";
  e.external_address = "198.51.100.11";
  e.port = 6443;
  e.allowed_cidrs = {"192.0.2.0/24"};
  r.endpoints.push_back(e);
  return r;
}

TEST(BuildEdgeSpec, NamesAddressesAndTheConfiguredParts) {
  auto spec = BuildEdgeSpec(Row(), Settings());
  ASSERT_OK(spec);
  EXPECT_EQ(spec->tenant(), "tenants/acme");
  EXPECT_EQ(spec->namespace_(), "mandant-ex0003e9");
  EXPECT_EQ(spec->tenant_bridge(), "mb-x0003e9");
  EXPECT_EQ(spec->inside_link(), "mei-x0003e9");
  EXPECT_EQ(spec->outside_link(), "meo-x0003e9");
  EXPECT_EQ(spec->external_bridge(), "br-ext");
  EXPECT_EQ(spec->external_cidr(), "198.51.100.0/24");
  EXPECT_EQ(spec->external_gateway(), "198.51.100.1");
  EXPECT_THAT(spec->dns_servers(), ElementsAre("192.0.2.53", "192.0.2.54"));
  ASSERT_EQ(spec->endpoints_size(), 1);
  EXPECT_EQ(spec->endpoints(0).cluster(), "tenants/acme/clusters/prod");
  // The cluster's own list first, then mandantd's, each CIDR once.
  EXPECT_THAT(spec->endpoints(0).allowed_cidrs(), ElementsAre("192.0.2.0/24", "203.0.113.10/32"));
  EXPECT_FALSE(spec->has_vrrp());
}

TEST(BuildEdgeSpec, TheTwoCopiesOfARedundantEdgeShareTheRouterIdNotThePriority) {
  store::EdgeSpecRow first = Row();
  first.peer_address = "10.64.3.4";
  store::EdgeSpecRow second = Row();
  second.ordinal = 1;
  second.instance_address = "10.64.3.4";
  second.peer_address = "10.64.3.2";
  auto a = BuildEdgeSpec(first, Settings());
  auto b = BuildEdgeSpec(second, Settings());
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(a->vrrp().virtual_router_id(), b->vrrp().virtual_router_id());
  EXPECT_GE(a->vrrp().virtual_router_id(), 1u);
  EXPECT_LE(a->vrrp().virtual_router_id(), 255u);
  EXPECT_EQ(a->vrrp().priority(), kFirstEdgePriority);
  EXPECT_EQ(b->vrrp().priority(), kSecondEdgePriority);
  EXPECT_THAT(a->vrrp().peer_addresses(), ElementsAre("10.64.3.4"));
}

TEST(BuildEdgeSpec, AnExternalNetworkNoLongerConfiguredIsAnError) {
  store::EdgeSpecRow row = Row();
  row.external_network = "gone";
  EXPECT_THAT(BuildEdgeSpec(row, Settings()),
              StatusIs(absl::StatusCode::kFailedPrecondition, "gone"));
}

TEST(VrrpRouterId, StaysInRangeForEverySegment) {
  for (uint32_t segment : {1u, 254u, 255u, 256u, 16777215u}) {
    EXPECT_GE(VrrpRouterId(segment), 1u);
    EXPECT_LE(VrrpRouterId(segment), 255u);
  }
}

}  // namespace
}  // namespace mandant::controller
