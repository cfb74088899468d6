#include "agents/edge/dnsmasq_config.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"
#include "tests/unit/agents/edge/edge_specs.h"
#include "tests/unit/agents/edge/golden.h"

namespace mandant::agent {
namespace {

using ::mandant::agent::testing::ExpectMatchesGolden;
using ::mandant::agent::testing::RedundantEdge;
using ::mandant::agent::testing::SingleEdge;
using ::mandant::testing::IsOkAndHolds;
using ::mandant::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

DnsmasqConfigOptions Options(const v1::EdgeSpec& spec = SingleEdge()) {
  DnsmasqConfigOptions options;
  options.lease_file = "/var/lib/mandant-agent/edges/" + spec.namespace_() + "/dnsmasq.leases";
  options.pid_file = "/var/lib/mandant-agent/edges/" + spec.namespace_() + "/dnsmasq.pid";
  return options;
}

TEST(RenderDnsmasqConfigTest, SingleEdgeGolden) {
  absl::StatusOr<std::string> config = RenderDnsmasqConfig(SingleEdge(), Options());
  ASSERT_TRUE(config.ok()) << config.status();
  ExpectMatchesGolden(*config, "single_dnsmasq.conf.golden");
}

TEST(RenderDnsmasqConfigTest, RedundantEdgeGolden) {
  absl::StatusOr<std::string> config =
      RenderDnsmasqConfig(RedundantEdge(), Options(RedundantEdge()));
  ASSERT_TRUE(config.ok()) << config.status();
  ExpectMatchesGolden(*config, "redundant_dnsmasq.conf.golden");
}

TEST(RenderDnsmasqConfigTest, NetmaskFollowsThePrefixLength) {
  v1::EdgeSpec spec = RedundantEdge();
  EXPECT_THAT(RenderDnsmasqConfig(spec, Options()),
              IsOkAndHolds(HasSubstr("dhcp-range=10.80.0.0,static,255.255.252.0,12h\n")));
  spec.set_node_cidr("10.0.0.0/8");
  EXPECT_THAT(RenderDnsmasqConfig(spec, Options()),
              IsOkAndHolds(HasSubstr("dhcp-range=10.0.0.0,static,255.0.0.0,12h\n")));
  spec.set_node_cidr("10.80.0.0/30");
  spec.clear_dhcp_hosts();
  spec.clear_endpoints();
  spec.clear_vrrp();
  EXPECT_THAT(RenderDnsmasqConfig(spec, Options()),
              IsOkAndHolds(HasSubstr("dhcp-range=10.80.0.0,static,255.255.255.252,12h\n")));
}

TEST(RenderDnsmasqConfigTest, WithoutResolversNoServerLines) {
  v1::EdgeSpec spec = SingleEdge();
  spec.clear_dns_servers();
  absl::StatusOr<std::string> config = RenderDnsmasqConfig(spec, Options());
  ASSERT_TRUE(config.ok());
  EXPECT_THAT(*config, Not(HasSubstr("server=")));
  EXPECT_THAT(*config, HasSubstr("no-resolv\n"));
}

TEST(RenderDnsmasqConfigTest, RefusesAnInvalidSpecAndBadOptions) {
  v1::EdgeSpec spec = SingleEdge();
  spec.mutable_dhcp_hosts(0)->set_hostname("cp-1\ndhcp-script=/bin/evil");
  EXPECT_THAT(RenderDnsmasqConfig(spec, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument, "dhcp_hosts[0].hostname"));
  DnsmasqConfigOptions options = Options();
  options.lease_file = "leases";
  EXPECT_THAT(RenderDnsmasqConfig(SingleEdge(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, "lease_file"));
  options = Options();
  options.pid_file = "/run/x\n";
  EXPECT_THAT(RenderDnsmasqConfig(SingleEdge(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, "pid_file"));
}

}  // namespace
}  // namespace mandant::agent
