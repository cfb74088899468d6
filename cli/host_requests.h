#ifndef MANDANT_CLI_HOST_REQUESTS_H_
#define MANDANT_CLI_HOST_REQUESTS_H_

// Builds HostService requests from a parsed `mandantctl host ...` command
// line. Pure: no I/O. Every error is INVALID_ARGUMENT and names the flag or
// argument, the value given and what is allowed. As for tenants, what the
// server checks (host id syntax, underlay address, token lifetime 10m-7d,
// reason length) is left to the server, whose answer lists every bad field;
// here only what cannot be sent at all is rejected.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "cli/command_line.h"
#include "mandant/v1/host.pb.h"

namespace mandant::cli {

// "hosts/hv1" for the argument "hv1" or "hosts/hv1".
absl::StatusOr<std::string> HostNameFromArg(absl::string_view arg);

// "hv1" for "hosts/hv1"; `name` unchanged when it has another form.
std::string HostIdFromName(absl::string_view name);

// Where a new bootstrap token goes: a file (--out-token) or stdout.
struct TokenDestination {
  // Empty: the token is printed once on stdout.
  std::string out_token;
  // --force: an existing file at out_token is replaced.
  bool force = false;
};

// --out-token and --force. INVALID_ARGUMENT for an empty --out-token, and for
// --force without --out-token (it would replace nothing).
absl::StatusOr<TokenDestination> TokenDestinationFromFlags(const Invocation& invocation);

// host create ID: --underlay-address (required), --token-ttl and the request
// id (--request-id, else `generated_request_id`).
absl::StatusOr<v1::CreateHostRequest> BuildCreateHostRequest(
    const Invocation& invocation, absl::string_view generated_request_id);

absl::StatusOr<v1::GetHostRequest> BuildGetHostRequest(const Invocation& invocation);

// host list: --page-size, --page-token (--all is the caller's).
absl::StatusOr<v1::ListHostsRequest> BuildListHostsRequest(const Invocation& invocation);

// host token ID: --token-ttl, --etag and the request id.
absl::StatusOr<v1::IssueBootstrapTokenRequest> BuildIssueBootstrapTokenRequest(
    const Invocation& invocation, absl::string_view generated_request_id);

// host cordon ID: --reason, --etag and the request id.
absl::StatusOr<v1::CordonHostRequest> BuildCordonHostRequest(
    const Invocation& invocation, absl::string_view generated_request_id);

// host uncordon ID: --etag and the request id.
absl::StatusOr<v1::UncordonHostRequest> BuildUncordonHostRequest(
    const Invocation& invocation, absl::string_view generated_request_id);

// host delete ID: --etag and the request id.
absl::StatusOr<v1::DeleteHostRequest> BuildDeleteHostRequest(
    const Invocation& invocation, absl::string_view generated_request_id);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_HOST_REQUESTS_H_
