// KernelEdgeNetworking against the real kernel. The test process runs in a
// private network namespace (netns_main.cc), which holds the host ends of
// the veths and the test bridges; the edge namespaces themselves are named
// ones under /run/netns with a random "mandant-et" name, deleted in
// TearDown. Results are checked independently with `ip` and `nft`.

#include "agents/edge/edge_namespace.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"
#include "tests/unit/agents/edge/edge_test_names.h"
#include "tests/unit/agents/network/netns.h"

namespace mandant::agent {
namespace {

using ::mandant::agent::testing::Ip;
using ::mandant::agent::testing::Shell;
using ::mandant::testing::IsOkAndHolds;
using ::mandant::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Out(absl::StatusOr<std::string> out) {
  return out.ok() ? std::string(absl::StripAsciiWhitespace(*out))
                  : absl::StrCat("error: ", out.status().message());
}

class EdgeNamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_UNLESS_PRIVATE_NETNS();
    suffix_ = testing::RandomSuffix();
    netns_ = testing::TestEdgeNamespace(suffix_);
    absl::StatusOr<std::unique_ptr<EdgeNetworking>> net = KernelEdgeNetworking::Create();
    ASSERT_OK(net);
    net_ = std::move(*net);
  }
  void TearDown() override {
    if (net_ == nullptr) return;
    EXPECT_OK(net_->DeleteNamespace(netns_));
    // Whatever happened above, nothing stays behind.
    (void)Shell({"ip", "netns", "delete", netns_});
  }
  absl::StatusOr<std::string> InNs(const std::string& args) {
    return Ip(absl::StrCat("-n ", netns_, " ", args));
  }

  std::string suffix_;
  std::string netns_;
  std::unique_ptr<EdgeNetworking> net_;
};

TEST_F(EdgeNamespaceTest, CreatesListsAndDeletesANamedNamespace) {
  ASSERT_OK(net_->EnsureNamespace(netns_));
  ASSERT_OK(net_->EnsureNamespace(netns_));  // idempotent
  EXPECT_THAT(net_->ListNamespaces(), IsOkAndHolds(Contains(netns_)));
  // iproute2 sees it as one of its own, with loopback up.
  EXPECT_THAT(Out(Shell({"ip", "netns", "list"})), HasSubstr(netns_));
  EXPECT_THAT(Out(InNs("-o link show lo")), HasSubstr("UP"));
  // A process inside is killed with it.
  ASSERT_OK(
      Shell({"sh", "-c", absl::StrCat("ip netns exec ", netns_, " sleep 600 >/dev/null 2>&1 &")}));
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_THAT(Out(Shell({"ip", "netns", "pids", netns_})), Not(::testing::IsEmpty()));

  ASSERT_OK(net_->DeleteNamespace(netns_));
  EXPECT_THAT(net_->ListNamespaces(), IsOkAndHolds(Not(Contains(netns_))));
  EXPECT_THAT(Out(Shell({"ip", "netns", "list"})), Not(HasSubstr(netns_)));
  EXPECT_OK(net_->DeleteNamespace(netns_));  // gone is fine
}

TEST_F(EdgeNamespaceTest, RefusesNamesThatAreNotEdgeNamespaces) {
  EXPECT_THAT(net_->EnsureNamespace("foo"), StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(net_->EnsureNamespace("mandant-e../x"),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(net_->DeleteNamespace("mdt1234x0-h0"),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_FALSE(IsEdgeNamespaceName("mandant-e"));
  EXPECT_TRUE(IsEdgeNamespaceName("mandant-ex0003e9"));
}

TEST_F(EdgeNamespaceTest, BuildsTheEdgeIdempotently) {
  const std::string tenant_bridge = "tbi" + suffix_;
  const std::string external_bridge = "tbo" + suffix_;
  const std::string inside = "mei-t" + suffix_;
  const std::string outside = "meo-t" + suffix_;
  for (const std::string& b : {tenant_bridge, external_bridge}) {
    ASSERT_OK(Ip(absl::StrCat("link add ", b, " type bridge")));
    ASSERT_OK(Ip(absl::StrCat("link set ", b, " up")));
  }
  ASSERT_OK(net_->EnsureNamespace(netns_));
  const EdgeVeth in{inside, kEdgeInsideLink, tenant_bridge, 1450};
  const EdgeVeth out{outside, kEdgeOutsideLink, external_bridge, 0};

  auto build = [&] {
    ASSERT_OK(net_->EnsureVeth(netns_, in));
    ASSERT_OK(net_->EnsureVeth(netns_, out));
    ASSERT_OK(net_->SetAddresses(netns_, kEdgeInsideLink, {"10.64.3.2/24", "10.64.3.1/24"},
                                 {"10.64.3.3"}));
    ASSERT_OK(net_->SetAddresses(netns_, kEdgeOutsideLink, {"198.51.100.7/24"}, {}));
    ASSERT_OK(net_->SetDefaultRoute(netns_, kEdgeOutsideLink, "198.51.100.1"));
    ASSERT_OK(net_->EnableForwarding(netns_));
  };
  build();
  const std::string links = Out(InNs("-o link show"));
  // The host ends only: the bridges' operstate settles by itself.
  auto host_ends = [&] {
    return Out(Ip(absl::StrCat("-o link show ", inside))) +
           Out(Ip(absl::StrCat("-o link show ", outside)));
  };
  const std::string host_links = host_ends();
  const std::string addrs = Out(InNs("-o addr show"));
  const std::string routes = Out(InNs("route show"));

  EXPECT_THAT(
      Out(Ip(absl::StrCat("-o link show ", inside))),
      AllOf(HasSubstr("mtu 1450"), HasSubstr("master " + tenant_bridge), HasSubstr("state UP")));
  EXPECT_THAT(Out(Ip(absl::StrCat("-o link show ", outside))),
              AllOf(HasSubstr("master " + external_bridge), HasSubstr("state UP")));
  EXPECT_THAT(Out(InNs("-o link show inside")), AllOf(HasSubstr("mtu 1450"), HasSubstr(",UP")));
  EXPECT_THAT(Out(InNs("-o link show outside")), HasSubstr(",UP"));
  EXPECT_THAT(Out(InNs("-4 -o addr show dev inside")),
              AllOf(HasSubstr("10.64.3.1/24"), HasSubstr("10.64.3.2/24")));
  EXPECT_THAT(Out(InNs("-4 -o addr show dev outside")), HasSubstr("198.51.100.7/24"));
  EXPECT_EQ(Out(InNs("route show default")),
            "default via 198.51.100.1 dev outside proto static onlink");
  EXPECT_EQ(Out(Shell({"ip", "netns", "exec", netns_, "cat", "/proc/sys/net/ipv4/ip_forward"})),
            "1");
  // Only inside the edge: the test's own namespace stays as it was.
  EXPECT_EQ(Out(Shell({"cat", "/proc/sys/net/ipv4/ip_forward"})), "0");

  // The second run changes nothing (same ifindexes, addresses, routes).
  build();
  EXPECT_EQ(Out(InNs("-o link show")), links);
  EXPECT_EQ(host_ends(), host_links);
  EXPECT_EQ(Out(InNs("-o addr show")), addrs);
  EXPECT_EQ(Out(InNs("route show")), routes);

  // Secondary addresses survive their primary (10.64.3.2, added first), as
  // when keepalived takes away a virtual address that became primary.
  EXPECT_EQ(Out(Shell({"ip", "netns", "exec", netns_, "cat",
                       "/proc/sys/net/ipv4/conf/all/promote_secondaries"})),
            "1");
  ASSERT_OK(InNs("addr del 10.64.3.2/24 dev inside"));
  EXPECT_THAT(Out(InNs("-4 -o addr show dev inside")), HasSubstr("10.64.3.1/24"));
}

TEST_F(EdgeNamespaceTest, AddressesAreMandantsExceptTheUnmanagedOnes) {
  ASSERT_OK(net_->EnsureNamespace(netns_));
  ASSERT_OK(InNs("link add inside type bridge"));
  ASSERT_OK(InNs("link set inside up"));
  ASSERT_OK(InNs("addr add 10.9.9.9/24 dev inside"));   // not wanted: removed
  ASSERT_OK(InNs("addr add 10.64.3.3/32 dev inside"));  // keepalived's: kept
  ASSERT_OK(InNs("addr add 10.64.3.2/16 dev inside"));  // wrong prefix: replaced
  ASSERT_OK(
      net_->SetAddresses(netns_, kEdgeInsideLink, {"10.64.3.2/24", "fd00::2/64"}, {"10.64.3.3"}));
  const std::string v4 = Out(InNs("-4 -o addr show dev inside"));
  EXPECT_THAT(v4, AllOf(HasSubstr("10.64.3.2/24"), HasSubstr("10.64.3.3/32"),
                        Not(HasSubstr("10.9.9.9")), Not(HasSubstr("10.64.3.2/16"))));
  EXPECT_THAT(Out(InNs("-6 -o addr show dev inside")), HasSubstr("fd00::2/64"));

  ASSERT_OK(net_->SetAddresses(netns_, kEdgeInsideLink, {}, {}));
  EXPECT_EQ(Out(InNs("-4 -o addr show dev inside")), "");
  EXPECT_THAT(net_->SetAddresses(netns_, kEdgeInsideLink, {"10.64.3.2"}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(net_->SetAddresses(netns_, "nosuchlink", {}, {}),
              StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST_F(EdgeNamespaceTest, ReplacesALinkInTheWayOfTheVeth) {
  const std::string bridge = "tbi" + suffix_;
  const std::string host = "mei-t" + suffix_;
  ASSERT_OK(Ip(absl::StrCat("link add ", bridge, " type bridge")));
  ASSERT_OK(net_->EnsureNamespace(netns_));
  ASSERT_OK(Ip(absl::StrCat("link add ", host, " type bridge")));
  ASSERT_OK(net_->EnsureVeth(netns_, EdgeVeth{host, kEdgeInsideLink, bridge, 0}));
  EXPECT_THAT(Out(Ip(absl::StrCat("-d -o link show ", host))), HasSubstr("veth"));
  EXPECT_THAT(Out(InNs("-d -o link show inside")), HasSubstr("veth"));

  EXPECT_THAT(net_->EnsureVeth(netns_, EdgeVeth{host, kEdgeInsideLink, "nosuchbridge", 0}),
              StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(net_->EnsureVeth(netns_, EdgeVeth{host, "eth0", bridge, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
}

TEST_F(EdgeNamespaceTest, LoadsARulesetOnceAndKeepsItsCounters) {
  ASSERT_OK(net_->EnsureNamespace(netns_));
  const std::string ruleset =
      "add table inet mandant_edge\n"
      "delete table inet mandant_edge\n"
      "table inet mandant_edge {\n"
      "  chain output {\n"
      "    type filter hook output priority 0; policy accept;\n"
      "    udp dport 5353 counter\n"
      "  }\n"
      "}\n";
  ASSERT_OK(net_->LoadRuleset(netns_, ruleset, RulesetFormat::kText));
  const std::string listing =
      Out(Shell({"ip", "netns", "exec", netns_, "nft", "-a", "list", "ruleset"}));
  EXPECT_THAT(listing, HasSubstr("udp dport 5353 counter"));
  // Not in the test's own namespace.
  EXPECT_THAT(Out(Shell({"nft", "list", "ruleset"})), Not(HasSubstr("mandant_edge")));

  ASSERT_OK(net_->LoadRuleset(netns_, ruleset, RulesetFormat::kText));
  // Same handles: the table was not replaced.
  EXPECT_EQ(Out(Shell({"ip", "netns", "exec", netns_, "nft", "-a", "list", "ruleset"})), listing);

  // Someone changed the ruleset behind the agent's back: loaded again.
  ASSERT_OK(Shell({"ip", "netns", "exec", netns_, "nft", "flush", "ruleset"}));
  ASSERT_OK(net_->LoadRuleset(netns_, ruleset, RulesetFormat::kText));
  EXPECT_THAT(Out(Shell({"ip", "netns", "exec", netns_, "nft", "list", "ruleset"})),
              HasSubstr("udp dport 5353 counter"));

  // A broken ruleset is refused and the old one stays.
  EXPECT_THAT(net_->LoadRuleset(netns_, "table inet mandant_edge { chain c { nonsense } }",
                                RulesetFormat::kText),
              StatusIs(absl::StatusCode::kInvalidArgument, "nft refused"));
  EXPECT_THAT(Out(Shell({"ip", "netns", "exec", netns_, "nft", "list", "ruleset"})),
              HasSubstr("udp dport 5353 counter"));

  // JSON works too.
  ASSERT_OK(net_->LoadRuleset(
      netns_, R"({"nftables": [{"add": {"table": {"family": "inet", "name": "mandant_json"}}}]})",
      RulesetFormat::kJson));
  EXPECT_THAT(Out(Shell({"ip", "netns", "exec", netns_, "nft", "list", "tables"})),
              HasSubstr("mandant_json"));
}

}  // namespace
}  // namespace mandant::agent
