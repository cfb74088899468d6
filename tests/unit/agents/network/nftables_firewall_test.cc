// NftablesFirewall against the real kernel, in the private network namespace
// netns_main.cc enters. The table is checked through ListBridgeRules and,
// independently, through `nft -j list table inet mandant`. One test sends
// real packets between namespaces standing in for guests on two tenant
// bridges.

#include "agents/network/nftables_firewall.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/support/status_matchers.h"
#include "tests/unit/agents/network/netns.h"

namespace mandant::agent {
namespace {

using ::mandant::agent::testing::GuestNamespace;
using ::mandant::agent::testing::Ip;
using ::mandant::agent::testing::Shell;
using ::mandant::testing::IsOkAndHolds;
using ::mandant::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::Gt;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The rules of table inet mandant as "comment: iifname/oifname matches...".
std::vector<std::string> RulesFromNft() {
  absl::StatusOr<std::string> out = Shell({"nft", "-j", "list", "table", "inet", "mandant"});
  if (!out.ok()) return {absl::StrCat("error: ", out.status().message())};
  nlohmann::json doc = nlohmann::json::parse(*out);
  std::vector<std::string> rules;
  for (const auto& item : doc["nftables"]) {
    if (!item.contains("rule")) continue;
    std::string text = item["rule"].value("comment", "") + ":";
    for (const auto& e : item["rule"]["expr"]) {
      if (e.contains("match")) {
        absl::StrAppend(&text, " ", e["match"]["left"]["meta"]["key"].get<std::string>(),
                        e["match"]["op"].get<std::string>(),
                        e["match"]["right"].get<std::string>());
      } else if (e.contains("drop")) {
        absl::StrAppend(&text, " drop");
      } else if (e.contains("log")) {
        absl::StrAppend(&text, " log");
      }
    }
    rules.push_back(text);
  }
  return rules;
}

class NftablesFirewallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_UNLESS_PRIVATE_NETNS();
    absl::StatusOr<std::unique_ptr<Firewall>> fw = NftablesFirewall::Create();
    ASSERT_OK(fw);
    firewall_ = std::move(*fw);
  }
  void TearDown() override {
    if (!testing::InPrivateNetns()) return;
    (void)Shell({"nft", "flush", "ruleset"});
  }
  std::unique_ptr<Firewall> firewall_;
};

TEST_F(NftablesFirewallTest, InstallsPerBridgeRulesInBothDirections) {
  ASSERT_OK(firewall_->ReplaceBridgeRules({"mb-x0007d0", "mb-x0003e9", "mb-x0003e9"}));
  EXPECT_THAT(RulesFromNft(),
              ElementsAre("mandant log from mb-x0003e9: iifname==mb-x0003e9 oifname==mb-* "
                          "oifname!=mb-x0003e9 log",
                          "mandant drop from mb-x0003e9: iifname==mb-x0003e9 oifname==mb-* "
                          "oifname!=mb-x0003e9 drop",
                          "mandant log from mb-x0007d0: iifname==mb-x0007d0 oifname==mb-* "
                          "oifname!=mb-x0007d0 log",
                          "mandant drop from mb-x0007d0: iifname==mb-x0007d0 oifname==mb-* "
                          "oifname!=mb-x0007d0 drop",
                          "mandant log to mb-x0003e9: oifname==mb-x0003e9 iifname==mb-* "
                          "iifname!=mb-x0003e9 log",
                          "mandant drop to mb-x0003e9: oifname==mb-x0003e9 iifname==mb-* "
                          "iifname!=mb-x0003e9 drop",
                          "mandant log to mb-x0007d0: oifname==mb-x0007d0 iifname==mb-* "
                          "iifname!=mb-x0007d0 log",
                          "mandant drop to mb-x0007d0: oifname==mb-x0007d0 iifname==mb-* "
                          "iifname!=mb-x0007d0 drop"));
  absl::StatusOr<std::string> chain = Shell({"nft", "list", "chain", "inet", "mandant", "forward"});
  ASSERT_OK(chain);
  EXPECT_THAT(*chain, HasSubstr("type filter hook forward priority filter; policy accept;"));
  EXPECT_THAT(firewall_->ListBridgeRules(),
              IsOkAndHolds(ElementsAre(Field(&BridgeDrops::bridge, "mb-x0003e9"),
                                       Field(&BridgeDrops::bridge, "mb-x0007d0"))));

  // Replacing is atomic and complete: the old bridge's rules are gone.
  ASSERT_OK(firewall_->ReplaceBridgeRules({"mb-v0ffe"}));
  EXPECT_THAT(firewall_->ListBridgeRules(),
              IsOkAndHolds(ElementsAre(Field(&BridgeDrops::bridge, "mb-v0ffe"))));
  EXPECT_THAT(RulesFromNft(), Not(::testing::Contains(HasSubstr("mb-x0003e9"))));
}

TEST_F(NftablesFirewallTest, TouchesNoOtherTable) {
  ASSERT_OK(Shell({"nft", "add", "table", "inet", "operator"}));
  ASSERT_OK(Shell({"nft", "add", "chain", "inet", "operator", "fw",
                   "{ type filter hook forward priority 0; policy accept; }"}));
  ASSERT_OK(Shell(
      {"nft", "add", "rule", "inet", "operator", "fw", "iifname", "\"eth9\"", "counter", "drop"}));
  ASSERT_OK(firewall_->ReplaceBridgeRules({"mb-x000001"}));
  ASSERT_OK(firewall_->ReplaceBridgeRules({}));
  absl::StatusOr<std::string> ruleset = Shell({"nft", "list", "ruleset"});
  ASSERT_OK(ruleset);
  EXPECT_THAT(*ruleset, HasSubstr("table inet operator"));
  EXPECT_THAT(*ruleset, HasSubstr("iifname \"eth9\" counter"));
  EXPECT_THAT(*ruleset, Not(HasSubstr("mandant")));
}

TEST_F(NftablesFirewallTest, NoBridgesMeansNoTable) {
  ASSERT_OK(firewall_->ReplaceBridgeRules({}));  // no table yet: still fine
  ASSERT_OK(firewall_->ReplaceBridgeRules({"mb-x000001"}));
  ASSERT_OK(firewall_->ReplaceBridgeRules({}));
  EXPECT_THAT(Shell({"nft", "list", "tables"}), IsOkAndHolds(Not(HasSubstr("mandant"))));
  EXPECT_THAT(firewall_->ListBridgeRules(), IsOkAndHolds(IsEmpty()));
}

TEST_F(NftablesFirewallTest, RefusesNamesThatAreNotMandantBridgesChangingNothing) {
  ASSERT_OK(firewall_->ReplaceBridgeRules({"mb-x000001"}));
  EXPECT_THAT(firewall_->ReplaceBridgeRules({"mb-x000002", "eth0\" accept; #"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not a Mandant bridge name"));
  EXPECT_THAT(firewall_->ReplaceBridgeRules({"mx-000002"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "\"mx-000002\""));
  EXPECT_THAT(firewall_->ListBridgeRules(),
              IsOkAndHolds(ElementsAre(Field(&BridgeDrops::bridge, "mb-x000001"))));
}

TEST_F(NftablesFirewallTest, TamperedRulesAreNotReportedAsInstalled) {
  ASSERT_OK(firewall_->ReplaceBridgeRules({"mb-x000001", "mb-x000002"}));
  // Someone deletes one of mb-x000001's drop rules.
  absl::StatusOr<std::string> listing =
      Shell({"nft", "-a", "list", "chain", "inet", "mandant", "forward"});
  ASSERT_OK(listing);
  const size_t at = listing->find("comment \"mandant drop to mb-x000001\" # handle ");
  ASSERT_NE(at, std::string::npos) << *listing;
  const std::string handle =
      listing->substr(at + std::string("comment \"mandant drop to mb-x000001\" # handle ").size());
  ASSERT_OK(Shell({"nft", "delete", "rule", "inet", "mandant", "forward", "handle",
                   handle.substr(0, handle.find('\n'))}));
  EXPECT_THAT(firewall_->ListBridgeRules(),
              IsOkAndHolds(ElementsAre(Field(&BridgeDrops::bridge, "mb-x000002"))));
}

// Two tenant bridges routed by the host, guests in namespaces of their own.
// Proves the rules drop and count cross-bridge traffic while traffic inside
// one bridge (port to port: how VM taps talk) still flows with the table
// loaded, and that such bridged frames reach the inet forward hook with the
// bridge's name as both iifname and oifname (br_netfilter).
TEST_F(NftablesFirewallTest, DropsAndCountsCrossBridgeTrafficOnly) {
  ASSERT_OK(Shell({"sysctl", "-qw", "net.ipv4.ip_forward=1"}));
  absl::StatusOr<std::string> nf_call =
      Shell({"cat", "/proc/sys/net/bridge/bridge-nf-call-iptables"});
  ASSERT_OK(nf_call);
  const bool br_netfilter = nf_call->find('1') != std::string::npos;

  struct Guest {
    std::unique_ptr<GuestNamespace> ns;
    std::string address;
  };
  auto attach = [&](const std::string& bridge, const std::string& port, const std::string& cidr,
                    const std::string& gateway) -> std::unique_ptr<GuestNamespace> {
    absl::StatusOr<std::unique_ptr<GuestNamespace>> g = GuestNamespace::Start();
    EXPECT_OK(g);
    if (!g.ok()) return nullptr;
    const std::string pid = std::to_string((*g)->pid());
    EXPECT_OK(Ip(absl::StrCat("link add ", port, " type veth peer name eth0 netns ", pid)));
    EXPECT_OK(Ip(absl::StrCat("link set ", port, " master ", bridge, " up")));
    EXPECT_OK((*g)->Exec({"ip", "addr", "add", cidr, "dev", "eth0"}));
    EXPECT_OK((*g)->Exec({"ip", "link", "set", "eth0", "up"}));
    EXPECT_OK((*g)->Exec({"ip", "link", "set", "lo", "up"}));
    EXPECT_OK((*g)->Exec({"ip", "route", "add", "default", "via", gateway}));
    return std::move(*g);
  };
  for (const char* args :
       {"link add mb-x000064 type bridge", "link add mb-x0000c8 type bridge",
        "addr add 10.50.0.254/24 dev mb-x000064", "addr add 10.70.0.254/24 dev mb-x0000c8",
        "link set mb-x000064 up", "link set mb-x0000c8 up"}) {
    ASSERT_OK(Ip(args));
  }
  std::unique_ptr<GuestNamespace> a1 = attach("mb-x000064", "vt-a1", "10.50.0.1/24", "10.50.0.254");
  std::unique_ptr<GuestNamespace> a2 = attach("mb-x000064", "vt-a2", "10.50.0.2/24", "10.50.0.254");
  std::unique_ptr<GuestNamespace> b1 =
      attach("mb-x0000c8", "vt-b1", "10.70.0.11/24", "10.70.0.254");
  ASSERT_TRUE(a1 && a2 && b1);
  auto ping = [](const GuestNamespace& from, const std::string& to) {
    return from.Exec({"busybox", "ping", "-c", "1", "-W", "1", to}).ok();
  };

  // Without the table the host routes between the tenants: the test can fail.
  ASSERT_TRUE(ping(*a1, "10.70.0.11")) << "no cross-bridge route; the test proves nothing";

  // A probe in a table of its own counts bridged frames inside mb-x000064.
  ASSERT_OK(Shell({"nft", "add", "table", "inet", "probe"}));
  ASSERT_OK(Shell({"nft", "add", "chain", "inet", "probe", "fw",
                   "{ type filter hook forward priority -10; policy accept; }"}));
  ASSERT_OK(Shell({"nft", "add", "rule", "inet", "probe", "fw", "iifname", "\"mb-x000064\"",
                   "oifname", "\"mb-x000064\"", "counter"}));

  ASSERT_OK(firewall_->ReplaceBridgeRules({"mb-x000064", "mb-x0000c8"}));
  EXPECT_FALSE(ping(*a1, "10.70.0.11")) << "tenant 100 reached tenant 200";
  EXPECT_FALSE(ping(*b1, "10.50.0.2")) << "tenant 200 reached tenant 100";
  EXPECT_TRUE(ping(*a1, "10.50.0.2")) << "traffic inside one tenant bridge was dropped";

  absl::StatusOr<std::vector<BridgeDrops>> drops = firewall_->ListBridgeRules();
  ASSERT_OK(drops);
  // One echo request each way was dropped, counted on the bridge it came from.
  ASSERT_EQ(drops->size(), 2u);
  EXPECT_EQ((*drops)[0].bridge, "mb-x000064");
  EXPECT_EQ((*drops)[0].packets, 1u);
  EXPECT_THAT((*drops)[0].bytes, Gt(0u));
  EXPECT_EQ((*drops)[1].bridge, "mb-x0000c8");
  EXPECT_EQ((*drops)[1].packets, 1u);

  absl::StatusOr<std::string> probe = Shell({"nft", "-j", "list", "table", "inet", "probe"});
  ASSERT_OK(probe);
  const nlohmann::json doc = nlohmann::json::parse(*probe);
  uint64_t bridged = 0;
  for (const auto& item : doc["nftables"]) {
    if (!item.contains("rule")) continue;
    for (const auto& e : item["rule"]["expr"]) {
      if (e.contains("counter")) bridged += e["counter"].value("packets", uint64_t{0});
    }
  }
  if (br_netfilter) {
    EXPECT_THAT(bridged, Gt(0u)) << "bridged frames did not show iifname = oifname = bridge";
  } else {
    EXPECT_EQ(bridged, 0u);
  }
  std::printf(
      "cross-bridge drops: mb-x000064 %llu packets, mb-x0000c8 %llu packets; bridged "
      "frames seen by the forward hook: %llu (br_netfilter %s)\n",
      static_cast<unsigned long long>((*drops)[0].packets),
      static_cast<unsigned long long>((*drops)[1].packets),
      static_cast<unsigned long long>(bridged), br_netfilter ? "on" : "off");
}

}  // namespace
}  // namespace mandant::agent
