#ifndef MANDANT_CLI_EDGE_REQUESTS_H_
#define MANDANT_CLI_EDGE_REQUESTS_H_

// Builds EdgeService requests from a parsed `mandantctl tenant edge`,
// `tenant egress-log` or `tenant egress-policy ...` command line. Pure: no
// I/O. Every error is INVALID_ARGUMENT and names the flag or argument, the
// value given and what is allowed. What the server checks (CIDRs without
// host bits, port ranges per protocol, at most 256 rules) is left to the
// server, whose answer names every bad rule; here only what cannot be sent
// at all is refused.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "cli/command_line.h"
#include "mandant/v1/edge.pb.h"

namespace mandant::cli {

// tenant edge TENANT.
absl::StatusOr<v1::GetEdgeRequest> BuildGetEdgeRequest(const Invocation& invocation);

// tenant egress-policy get TENANT.
absl::StatusOr<v1::GetEgressPolicyRequest> BuildGetEgressPolicyRequest(
    const Invocation& invocation);

// tenant egress-log TENANT: --since (a duration before `now`, e.g. "15m",
// or an RFC 3339 time, e.g. "2025-01-31T08:00:00Z"), --denied.
absl::StatusOr<v1::ListEgressEventsRequest> BuildListEgressEventsRequest(
    const Invocation& invocation, absl::Time now);

// One --rule: "ACTION PROTOCOL CIDR [PORT[-PORT]]", ACTION allow or deny,
// PROTOCOL tcp, udp, icmp or any, e.g. "allow tcp 192.0.2.0/24 443" or
// "deny any 0.0.0.0/0". Words are separated by blanks; case is ignored.
absl::StatusOr<v1::EgressRule> ParseEgressRuleFlag(absl::string_view text);

// tenant egress-policy set TENANT: --default allow|deny, --rule ... (all the
// rules, in order, replacing the present ones), --clear-rules, --etag and
// the request id (`request_id`). update_mask names exactly what was given;
// at least one of --default, --rule and --clear-rules is required.
absl::StatusOr<v1::UpdateEgressPolicyRequest> BuildUpdateEgressPolicyRequest(
    const Invocation& invocation, absl::string_view request_id);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_EDGE_REQUESTS_H_
