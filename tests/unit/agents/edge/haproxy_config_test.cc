#include "agents/edge/haproxy_config.h"

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

HaproxyConfigOptions Options(const v1::EdgeSpec& spec = SingleEdge()) {
  HaproxyConfigOptions options;
  options.stats_socket = "/var/lib/mandant-agent/edges/" + spec.namespace_() + "/haproxy.sock";
  return options;
}

TEST(RenderHaproxyConfigTest, SingleEdgeGolden) {
  absl::StatusOr<std::string> config = RenderHaproxyConfig(SingleEdge(), Options());
  ASSERT_TRUE(config.ok()) << config.status();
  ExpectMatchesGolden(*config, "single_haproxy.cfg.golden");
}

TEST(RenderHaproxyConfigTest, RedundantEdgeGolden) {
  absl::StatusOr<std::string> config =
      RenderHaproxyConfig(RedundantEdge(), Options(RedundantEdge()));
  ASSERT_TRUE(config.ok()) << config.status();
  ExpectMatchesGolden(*config, "redundant_haproxy.cfg.golden");
}

TEST(RenderHaproxyConfigTest, DrainingBackendsGetWeightZero) {
  absl::StatusOr<std::string> config = RenderHaproxyConfig(SingleEdge(), Options());
  EXPECT_THAT(config, IsOkAndHolds(HasSubstr(
                          "server cp-3 10.64.3.13:6443 check check-ssl verify none weight 0\n")));
  EXPECT_THAT(config,
              IsOkAndHolds(HasSubstr("server cp-2 10.64.3.12:6443 check check-ssl verify none\n")));
}

TEST(RenderHaproxyConfigTest, RefusesAnInvalidSpecAndBadOptions) {
  v1::EdgeSpec spec = SingleEdge();
  spec.mutable_endpoints(0)->mutable_backends(0)->set_name("cp-1\n    stats enable");
  EXPECT_THAT(RenderHaproxyConfig(spec, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument, "endpoints[0].backends[0].name"));
  HaproxyConfigOptions spaced;
  spaced.stats_socket = "/run/a socket";
  EXPECT_THAT(RenderHaproxyConfig(SingleEdge(), spaced),
              StatusIs(absl::StatusCode::kInvalidArgument, "stats_socket"));
  EXPECT_THAT(RenderHaproxyConfig(SingleEdge(), HaproxyConfigOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, "stats_socket"));
}

TEST(RenderHaproxyConfigTest, NoFreeTextOfTheSpec) {
  v1::EdgeSpec spec = RedundantEdge();
  absl::StatusOr<std::string> config = RenderHaproxyConfig(spec, Options());
  ASSERT_TRUE(config.ok());
  EXPECT_THAT(*config, Not(HasSubstr("package mirror")));
  EXPECT_THAT(*config, Not(HasSubstr("daemon")));
}

TEST(HaproxyNamesTest, FromTheClusterId) {
  EXPECT_THAT(HaproxyFrontendName("tenants/acme/clusters/prod"), IsOkAndHolds("fe-prod"));
  EXPECT_THAT(HaproxyBackendName("tenants/acme/clusters/prod"), IsOkAndHolds("be-prod"));
  EXPECT_THAT(HaproxyBackendName("tenants/acme/clusters/a b"),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not a cluster name"));
  EXPECT_THAT(HaproxyFrontendName("prod"),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not a cluster name"));
}

}  // namespace
}  // namespace mandant::agent
