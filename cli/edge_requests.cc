#include "cli/edge_requests.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "cli/pki_requests.h"
#include "cli/tenant_requests.h"
#include "common/status_macros.h"

namespace mandant::cli {
namespace {

absl::StatusOr<std::string> TenantArg(const Invocation& inv) {
  if (inv.args.empty()) return absl::InvalidArgumentError("missing argument TENANT");
  return TenantNameFromArg(inv.args[0]);
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t micros = absl::ToUnixMicros(t);
  ts.set_seconds(micros / 1000000);
  ts.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  if (ts.nanos() < 0) {
    ts.set_seconds(ts.seconds() - 1);
    ts.set_nanos(ts.nanos() + 1000000000);
  }
  return ts;
}

absl::StatusOr<v1::EgressAction> ParseAction(absl::string_view flag, absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "allow") return v1::EGRESS_ACTION_ALLOW;
  if (lower == "deny") return v1::EGRESS_ACTION_DENY;
  return absl::InvalidArgumentError(
      absl::StrCat(flag, " \"", text, "\" is not an action; use allow or deny"));
}

absl::StatusOr<uint32_t> ParsePort(absl::string_view rule, absl::string_view text) {
  uint32_t port = 0;
  if (!absl::SimpleAtoi(text, &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rule \"", rule, "\": port \"", text, "\" is not a number from 1 to 65535"));
  }
  return port;
}

}  // namespace

absl::StatusOr<v1::GetEdgeRequest> BuildGetEdgeRequest(const Invocation& inv) {
  MANDANT_ASSIGN_OR_RETURN(std::string tenant, TenantArg(inv));
  v1::GetEdgeRequest request;
  request.set_name(absl::StrCat(tenant, "/edge"));
  return request;
}

absl::StatusOr<v1::GetEgressPolicyRequest> BuildGetEgressPolicyRequest(const Invocation& inv) {
  MANDANT_ASSIGN_OR_RETURN(std::string tenant, TenantArg(inv));
  v1::GetEgressPolicyRequest request;
  request.set_name(absl::StrCat(tenant, "/egressPolicy"));
  return request;
}

absl::StatusOr<v1::ListEgressEventsRequest> BuildListEgressEventsRequest(const Invocation& inv,
                                                                         absl::Time now) {
  MANDANT_ASSIGN_OR_RETURN(std::string tenant, TenantArg(inv));
  v1::ListEgressEventsRequest request;
  request.set_parent(tenant);
  if (inv.Has("since")) {
    const std::string since = inv.Get("since");
    absl::Time t;
    std::string error;
    if (absl::ParseTime(absl::RFC3339_full, since, &t, &error)) {
      *request.mutable_since() = ToProto(t);
    } else {
      absl::StatusOr<absl::Duration> ago = ParseDurationFlag("--since", since);
      if (!ago.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--since \"", since,
                         "\" is neither a duration (e.g. 15m, 2h, 7d) nor an RFC 3339 time "
                         "(e.g. 2025-01-31T08:00:00Z)"));
      }
      *request.mutable_since() = ToProto(now - *ago);
    }
  }
  if (inv.Has("denied")) request.set_action(v1::EGRESS_ACTION_DENY);
  return request;
}

absl::StatusOr<v1::EgressRule> ParseEgressRuleFlag(absl::string_view text) {
  const std::vector<absl::string_view> words =
      absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (words.size() < 3 || words.size() > 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--rule \"", text,
        "\" is not \"ACTION PROTOCOL CIDR [PORT[-PORT]]\", e.g. \"allow tcp 192.0.2.0/24 443\""));
  }
  v1::EgressRule rule;
  MANDANT_ASSIGN_OR_RETURN(v1::EgressAction action, ParseAction("--rule", words[0]));
  rule.set_action(action);
  const std::string protocol = absl::AsciiStrToLower(words[1]);
  if (protocol == "tcp") {
    rule.set_protocol(v1::IP_PROTOCOL_TCP);
  } else if (protocol == "udp") {
    rule.set_protocol(v1::IP_PROTOCOL_UDP);
  } else if (protocol == "icmp") {
    rule.set_protocol(v1::IP_PROTOCOL_ICMP);
  } else if (protocol != "any") {
    return absl::InvalidArgumentError(absl::StrCat("--rule \"", text, "\": protocol \"", words[1],
                                                   "\" is not tcp, udp, icmp or any"));
  }
  rule.set_destination_cidr(std::string(words[2]));
  if (words.size() == 4) {
    const std::vector<absl::string_view> ports = absl::StrSplit(words[3], '-');
    if (ports.size() > 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("--rule \"", text, "\": \"", words[3], "\" is not PORT or PORT-PORT"));
    }
    MANDANT_ASSIGN_OR_RETURN(uint32_t from, ParsePort(text, ports[0]));
    rule.set_port_from(from);
    if (ports.size() == 2) {
      MANDANT_ASSIGN_OR_RETURN(uint32_t to, ParsePort(text, ports[1]));
      rule.set_port_to(to);
    }
  }
  return rule;
}

absl::StatusOr<v1::UpdateEgressPolicyRequest> BuildUpdateEgressPolicyRequest(
    const Invocation& inv, absl::string_view request_id) {
  MANDANT_ASSIGN_OR_RETURN(std::string tenant, TenantArg(inv));
  v1::UpdateEgressPolicyRequest request;
  v1::EgressPolicy* policy = request.mutable_policy();
  policy->set_name(absl::StrCat(tenant, "/egressPolicy"));
  if (inv.Has("default")) {
    MANDANT_ASSIGN_OR_RETURN(v1::EgressAction action, ParseAction("--default", inv.Get("default")));
    policy->set_default_action(action);
    request.mutable_update_mask()->add_paths("default_action");
  }
  const std::vector<std::string> rules = inv.GetAll("rule");
  if (!rules.empty() && inv.Has("clear-rules")) {
    return absl::InvalidArgumentError(
        "--rule and --clear-rules contradict each other: --rule already replaces every rule");
  }
  for (const std::string& text : rules) {
    MANDANT_ASSIGN_OR_RETURN(*policy->add_rules(), ParseEgressRuleFlag(text));
  }
  if (!rules.empty() || inv.Has("clear-rules")) request.mutable_update_mask()->add_paths("rules");
  if (request.update_mask().paths().empty()) {
    return absl::InvalidArgumentError(
        "nothing to change: give --default allow|deny, --rule (repeatable; all the rules, in "
        "order), or --clear-rules");
  }
  if (inv.Has("etag")) policy->set_etag(inv.Get("etag"));
  request.set_request_id(std::string(request_id));
  return request;
}

}  // namespace mandant::cli
