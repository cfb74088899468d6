#include "cli/edge_requests.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::cli {
namespace {

using ::mandant::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kRequestId[] = "0b7f4a7e-3c1d-4e59-8a77-5f0c2d9e1b23";

Invocation Command(std::vector<std::string> args, std::map<std::string, std::string> flags,
                   std::vector<std::string> rules = {}) {
  Invocation inv;
  inv.args = std::move(args);
  inv.flags = std::move(flags);
  if (!rules.empty()) {
    inv.flags["rule"] = rules.front();
    inv.repeated["rule"] = std::move(rules);
  }
  return inv;
}

TEST(ParseEgressRuleFlagTest, ReadsEveryForm) {
  absl::StatusOr<v1::EgressRule> r = ParseEgressRuleFlag("allow tcp 192.0.2.0/24 443");
  ASSERT_OK(r);
  EXPECT_EQ(r->action(), v1::EGRESS_ACTION_ALLOW);
  EXPECT_EQ(r->protocol(), v1::IP_PROTOCOL_TCP);
  EXPECT_EQ(r->destination_cidr(), "192.0.2.0/24");
  EXPECT_EQ(r->port_from(), 443u);
  EXPECT_EQ(r->port_to(), 0u);
  r = ParseEgressRuleFlag("  DENY  udp 10.0.0.0/8   8000-8080 ");
  ASSERT_OK(r);
  EXPECT_EQ(r->action(), v1::EGRESS_ACTION_DENY);
  EXPECT_EQ(r->protocol(), v1::IP_PROTOCOL_UDP);
  EXPECT_EQ(r->port_from(), 8000u);
  EXPECT_EQ(r->port_to(), 8080u);
  r = ParseEgressRuleFlag("deny any 0.0.0.0/0");
  ASSERT_OK(r);
  EXPECT_EQ(r->protocol(), v1::IP_PROTOCOL_UNSPECIFIED);
  EXPECT_EQ(r->port_from(), 0u);
}

TEST(ParseEgressRuleFlagTest, SaysWhatIsWrong) {
  EXPECT_THAT(ParseEgressRuleFlag("allow tcp"),
              StatusIs(absl::StatusCode::kInvalidArgument, "ACTION PROTOCOL CIDR"));
  EXPECT_THAT(ParseEgressRuleFlag("permit tcp 0.0.0.0/0"),
              StatusIs(absl::StatusCode::kInvalidArgument, "use allow or deny"));
  EXPECT_THAT(ParseEgressRuleFlag("allow sctp 0.0.0.0/0"),
              StatusIs(absl::StatusCode::kInvalidArgument, "tcp, udp, icmp or any"));
  EXPECT_THAT(ParseEgressRuleFlag("allow tcp 0.0.0.0/0 0"),
              StatusIs(absl::StatusCode::kInvalidArgument, "1 to 65535"));
  EXPECT_THAT(ParseEgressRuleFlag("allow tcp 0.0.0.0/0 1-2-3"),
              StatusIs(absl::StatusCode::kInvalidArgument, "PORT or PORT-PORT"));
  EXPECT_THAT(ParseEgressRuleFlag("allow tcp 0.0.0.0/0 80 extra"),
              StatusIs(absl::StatusCode::kInvalidArgument, "ACTION PROTOCOL CIDR"));
}

TEST(BuildUpdateEgressPolicyRequestTest, NamesExactlyWhatWasGiven) {
  absl::StatusOr<v1::UpdateEgressPolicyRequest> r = BuildUpdateEgressPolicyRequest(
      Command({"acme"}, {{"default", "deny"}, {"etag", "abc-p3"}},
              {"allow tcp 0.0.0.0/0 443", "allow udp 192.0.2.53/32 53"}),
      kRequestId);
  ASSERT_OK(r);
  EXPECT_EQ(r->policy().name(), "tenants/acme/egressPolicy");
  EXPECT_EQ(r->policy().default_action(), v1::EGRESS_ACTION_DENY);
  EXPECT_EQ(r->policy().etag(), "abc-p3");
  ASSERT_EQ(r->policy().rules_size(), 2);
  EXPECT_EQ(r->policy().rules(1).port_from(), 53u);
  EXPECT_THAT(r->update_mask().paths(), ElementsAre("default_action", "rules"));
  EXPECT_EQ(r->request_id(), kRequestId);

  r = BuildUpdateEgressPolicyRequest(Command({"tenants/acme"}, {{"clear-rules", ""}}), kRequestId);
  ASSERT_OK(r);
  EXPECT_EQ(r->policy().rules_size(), 0);
  EXPECT_THAT(r->update_mask().paths(), ElementsAre("rules"));

  EXPECT_THAT(BuildUpdateEgressPolicyRequest(Command({"acme"}, {}), kRequestId),
              StatusIs(absl::StatusCode::kInvalidArgument, "nothing to change"));
  EXPECT_THAT(BuildUpdateEgressPolicyRequest(
                  Command({"acme"}, {{"clear-rules", ""}}, {"deny any 0.0.0.0/0"}), kRequestId),
              StatusIs(absl::StatusCode::kInvalidArgument, "contradict"));
  EXPECT_THAT(BuildUpdateEgressPolicyRequest(Command({"acme"}, {{"default", "maybe"}}), kRequestId),
              StatusIs(absl::StatusCode::kInvalidArgument, "--default"));
}

TEST(BuildListEgressEventsRequestTest, SinceIsADurationBackOrATime) {
  const absl::Time now = absl::FromUnixSeconds(1738310400);  // 2025-01-31T08:00:00Z
  absl::StatusOr<v1::ListEgressEventsRequest> r =
      BuildListEgressEventsRequest(Command({"acme"}, {{"since", "15m"}, {"denied", ""}}), now);
  ASSERT_OK(r);
  EXPECT_EQ(r->parent(), "tenants/acme");
  EXPECT_EQ(r->since().seconds(), 1738310400 - 15 * 60);
  EXPECT_EQ(r->action(), v1::EGRESS_ACTION_DENY);
  r = BuildListEgressEventsRequest(Command({"acme"}, {{"since", "2025-01-30T08:00:00.5Z"}}), now);
  ASSERT_OK(r);
  EXPECT_EQ(r->since().seconds(), 1738310400 - 24 * 3600);
  EXPECT_EQ(r->since().nanos(), 500000000);
  EXPECT_EQ(r->action(), v1::EGRESS_ACTION_UNSPECIFIED);
  r = BuildListEgressEventsRequest(Command({"acme"}, {}), now);
  ASSERT_OK(r);
  EXPECT_FALSE(r->has_since());
  EXPECT_THAT(BuildListEgressEventsRequest(Command({"acme"}, {{"since", "yesterday"}}), now),
              StatusIs(absl::StatusCode::kInvalidArgument, "RFC 3339"));
}

}  // namespace
}  // namespace mandant::cli
