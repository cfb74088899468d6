#include "agents/edge/edge_ruleset.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "agents/edge/config_checks.h"
#include "tenants/cidr.h"
#include "tenants/edge_names.h"
#include "tenants/field_violations.h"
#include "tenants/names.h"

namespace mandant::agent {
namespace {

using ::mandant::tenants::Cidr;

constexpr char kVrrpProtocol[] = "112";

std::string Quoted(absl::string_view text) { return absl::StrCat("\"", text, "\""); }

// The CIDRs of `texts` (all valid) without duplicates and without those
// contained in another one, in their first order.
std::vector<std::string> Minimal(const google::protobuf::RepeatedPtrField<std::string>& texts) {
  std::vector<Cidr> cidrs;
  for (const std::string& text : texts) cidrs.push_back(*Cidr::Parse(text));
  std::vector<std::string> out;
  for (size_t i = 0; i < cidrs.size(); ++i) {
    bool redundant = false;
    for (size_t j = 0; j < cidrs.size() && !redundant; ++j) {
      if (i == j || !cidrs[j].Contains(cidrs[i])) continue;
      // Of two equal ones, keep the first.
      redundant = cidrs[i] != cidrs[j] || j < i;
    }
    if (!redundant) out.push_back(cidrs[i].ToString());
  }
  return out;
}

// "x" or "{ x, y }".
std::string SetOf(const std::vector<std::string>& elements) {
  if (elements.size() == 1) return elements[0];
  return absl::StrCat("{ ", absl::StrJoin(elements, ", "), " }");
}

// The match part of one egress rule (valid), e.g. "ip daddr 192.0.2.0/24 tcp
// dport 443".
std::string EgressMatch(const mandant::v1::EgressRule& rule) {
  std::string match = absl::StrCat("ip daddr ", rule.destination_cidr());
  const char* l4 = nullptr;
  switch (rule.protocol()) {
    case mandant::v1::IP_PROTOCOL_TCP:
      l4 = "tcp";
      break;
    case mandant::v1::IP_PROTOCOL_UDP:
      l4 = "udp";
      break;
    case mandant::v1::IP_PROTOCOL_ICMP:
      l4 = "icmp";
      break;
    default:
      break;
  }
  if (l4 == nullptr) return match;
  if (rule.port_from() == 0) {
    absl::StrAppend(&match, " meta l4proto ", l4);
  } else if (rule.port_to() == 0 || rule.port_to() == rule.port_from()) {
    absl::StrAppend(&match, " ", l4, " dport ", rule.port_from());
  } else {
    absl::StrAppend(&match, " ", l4, " dport ", rule.port_from(), "-", rule.port_to());
  }
  return match;
}

std::string Verdict(mandant::v1::EgressAction action) {
  return action == mandant::v1::EGRESS_ACTION_DENY
             ? absl::StrCat("log prefix ", Quoted(kEgressLogDenyPrefix), " group ", kEgressLogGroup,
                            " drop")
             : absl::StrCat("log prefix ", Quoted(kEgressLogAllowPrefix), " group ",
                            kEgressLogGroup, " accept");
}

}  // namespace

absl::StatusOr<std::string> EdgeDropCounterName(absl::string_view cluster) {
  std::optional<tenants::ParsedClusterName> parsed = tenants::ParseClusterName(cluster);
  if (!parsed.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("nftables: ", tenants::QuoteForMessage(cluster),
                     " is not a cluster name: ", tenants::CheckClusterName(cluster)));
  }
  return absl::StrCat("drop-", parsed->cluster_id);
}

absl::StatusOr<std::string> RenderEdgeRuleset(const mandant::v1::EdgeSpec& spec) {
  if (absl::Status s = CheckRenderableEdgeSpec(spec, "the nftables ruleset"); !s.ok()) return s;
  const std::string inside = Quoted(tenants::kEdgeInsideInterface);
  const std::string outside = Quoted(tenants::kEdgeOutsideInterface);
  const std::string& node = spec.node_cidr();

  std::string out =
      absl::StrCat("# nftables ruleset of edge ", spec.namespace_(), " (", spec.tenant(),
                   "), rendered by mandant-agent.\n", "# Replaces table ", kEdgeTable,
                   " in one transaction.\n", "add table ", kEdgeTable, "\n",  //
                   "delete table ", kEdgeTable, "\n",                         //
                   "table ", kEdgeTable, " {\n");
  for (const mandant::v1::EdgeEndpointSpec& endpoint : spec.endpoints()) {
    absl::StrAppend(&out, "  counter ", *EdgeDropCounterName(endpoint.cluster()), " {\n  }\n");
  }

  absl::StrAppend(&out, "  chain input {\n",
                  "    type filter hook input priority filter; policy drop;\n",
                  "    ct state established,related accept\n",  //
                  "    ct state invalid drop\n",                //
                  "    iifname \"lo\" accept\n");
  if (spec.has_vrrp()) {
    for (const std::string& peer : spec.vrrp().peer_addresses()) {
      absl::StrAppend(&out, "    iifname ", inside, " ip saddr ", peer, " ip daddr ",
                      spec.instance_address(), " ip protocol ", kVrrpProtocol, " accept\n");
    }
  }
  absl::StrAppend(&out, "    iifname ", inside, " ip saddr { 0.0.0.0, ", node,
                  " } udp sport 68 udp dport 67 accept\n",  //
                  "    iifname ", inside, " ip saddr ", node,
                  " meta l4proto { tcp, udp } th dport 53 accept\n",  //
                  "    iifname ", inside, " ip saddr ", node, " icmp type echo-request accept\n");
  for (const mandant::v1::EdgeEndpointSpec& endpoint : spec.endpoints()) {
    absl::StrAppend(&out, "    iifname ", inside, " ip saddr ", node, " ip daddr ",
                    endpoint.internal_address(), " tcp dport ", endpoint.port(), " accept\n");
    if (endpoint.allowed_cidrs_size() > 0) {
      absl::StrAppend(&out, "    iifname ", outside, " ip saddr ",
                      SetOf(Minimal(endpoint.allowed_cidrs())), " ip daddr ",
                      endpoint.external_address(), " tcp dport ", endpoint.port(), " accept\n");
    }
    absl::StrAppend(&out, "    ip daddr { ", endpoint.internal_address(), ", ",
                    endpoint.external_address(), " } counter name ",
                    Quoted(*EdgeDropCounterName(endpoint.cluster())), " drop\n");
  }
  absl::StrAppend(&out, "  }\n");

  absl::StrAppend(&out, "  chain forward {\n",
                  "    type filter hook forward priority filter; policy drop;\n",
                  "    ct state established,related accept\n",  //
                  "    iifname ", inside, " oifname ", outside, " ip saddr ", node,
                  " ct state new jump egress\n",  //
                  "  }\n");

  absl::StrAppend(&out, "  chain egress {\n");
  const mandant::v1::EgressPolicy& policy = spec.egress_policy();
  for (int i = 0; i < policy.rules_size(); ++i) {
    absl::StrAppend(&out, "    ", EgressMatch(policy.rules(i)), " ",
                    Verdict(policy.rules(i).action()), " comment \"rule ", i, "\"\n");
  }
  absl::StrAppend(&out, "    ", Verdict(policy.default_action()), " comment \"default\"\n",
                  "  }\n");

  absl::StrAppend(&out, "  chain postrouting {\n",
                  "    type nat hook postrouting priority srcnat; policy accept;\n", "    oifname ",
                  outside, " ip saddr ", node, " snat ip to ", spec.egress_address(), "\n",  //
                  "  }\n", "}\n");
  return out;
}

}  // namespace mandant::agent
