#include "agents/edge/edge_ruleset.h"

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

TEST(RenderEdgeRulesetTest, SingleEdgeGolden) {
  absl::StatusOr<std::string> ruleset = RenderEdgeRuleset(SingleEdge());
  ASSERT_TRUE(ruleset.ok()) << ruleset.status();
  ExpectMatchesGolden(*ruleset, "single_ruleset.nft.golden");
}

TEST(RenderEdgeRulesetTest, RedundantEdgeGolden) {
  absl::StatusOr<std::string> ruleset = RenderEdgeRuleset(RedundantEdge());
  ASSERT_TRUE(ruleset.ok()) << ruleset.status();
  ExpectMatchesGolden(*ruleset, "redundant_ruleset.nft.golden");
}

TEST(RenderEdgeRulesetTest, AllowedCidrsWithoutContainedOnes) {
  // RedundantEdge's prod endpoint lists 198.51.100.0/24 twice and a /26 in it.
  EXPECT_THAT(RenderEdgeRuleset(RedundantEdge()),
              IsOkAndHolds(HasSubstr("ip saddr { 198.51.100.0/24, 192.0.2.7/32 } ip daddr "
                                     "203.0.113.22 tcp dport 443 accept\n")));
}

TEST(RenderEdgeRulesetTest, DefaultAllowWithoutPolicy) {
  v1::EdgeSpec spec = SingleEdge();
  ASSERT_FALSE(spec.has_egress_policy());
  EXPECT_THAT(RenderEdgeRuleset(spec),
              IsOkAndHolds(HasSubstr("  chain egress {\n    log prefix \"allow\" group 1 accept "
                                     "comment \"default\"\n  }\n")));
}

TEST(RenderEdgeRulesetTest, NeverRejectsAndNeverRendersDescriptions) {
  absl::StatusOr<std::string> ruleset = RenderEdgeRuleset(RedundantEdge());
  ASSERT_TRUE(ruleset.ok());
  EXPECT_THAT(*ruleset, Not(HasSubstr("reject")));
  EXPECT_THAT(*ruleset, Not(HasSubstr("package mirror")));
  EXPECT_THAT(*ruleset, Not(HasSubstr("NTP")));
}

TEST(RenderEdgeRulesetTest, RefusesAnInvalidSpec) {
  v1::EdgeSpec spec = RedundantEdge();
  spec.mutable_egress_policy()->mutable_rules(0)->set_destination_cidr("0.0.0.0/0 accept; flush");
  EXPECT_THAT(RenderEdgeRuleset(spec), StatusIs(absl::StatusCode::kInvalidArgument,
                                                "egress_policy.rules[0].destination_cidr"));
}

TEST(EdgeDropCounterNameTest, FromTheClusterId) {
  EXPECT_THAT(EdgeDropCounterName("tenants/acme/clusters/prod"), IsOkAndHolds("drop-prod"));
  EXPECT_THAT(EdgeDropCounterName("tenants/acme/clusters/"),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not a cluster name"));
}

}  // namespace
}  // namespace mandant::agent
