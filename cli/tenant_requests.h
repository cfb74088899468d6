#ifndef MANDANT_CLI_TENANT_REQUESTS_H_
#define MANDANT_CLI_TENANT_REQUESTS_H_

// Builds TenantService requests from a parsed mandantctl command line. Pure:
// no I/O. Every error is INVALID_ARGUMENT and names the flag or argument, the
// value given and what is allowed. Ranges the server checks (id syntax, quota
// limits, prefix lengths 16-28) are left to the server, whose answer lists
// every bad field; here only what cannot be sent at all is rejected.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "cli/command_line.h"
#include "mandant/v1/tenant.pb.h"

namespace mandant::cli {

// The flags --max-clusters, --max-nodes, --max-vcpus, --max-memory-mib and
// --max-storage-gib, shared by tenant create and tenant update.
std::vector<FlagSpec> QuotaFlagSpecs();

// "tenants/acme" for the argument "acme" or "tenants/acme".
absl::StatusOr<std::string> TenantNameFromArg(absl::string_view arg);

// tenant create ID: the tenant's display name, quota and network request from
// the flags. request_id is --request-id (which must be a UUID) or, when that
// is not given, `generated_request_id`.
absl::StatusOr<v1::CreateTenantRequest> BuildCreateTenantRequest(
    const Invocation& invocation, absl::string_view generated_request_id);

absl::StatusOr<v1::GetTenantRequest> BuildGetTenantRequest(const Invocation& invocation);

// tenant list: --state, --page-size, --page-token (--all is the caller's).
absl::StatusOr<v1::ListTenantsRequest> BuildListTenantsRequest(const Invocation& invocation);

// tenant update ID: update_mask names exactly the fields whose flags were
// given ("display_name", "state", "quota.max_clusters", ...); tenant.etag is
// --etag when given (the caller fills it in otherwise). INVALID_ARGUMENT when
// no field flag was given.
absl::StatusOr<v1::UpdateTenantRequest> BuildUpdateTenantRequest(const Invocation& invocation);

absl::StatusOr<v1::DeleteTenantRequest> BuildDeleteTenantRequest(const Invocation& invocation);

// The request id of a call that changes something: --request-id when given
// (which must be a UUID; INVALID_ARGUMENT otherwise), lower-cased, else
// `generated`.
absl::StatusOr<std::string> RequestIdFromFlags(const Invocation& invocation,
                                               absl::string_view generated);

// --page-size of the list commands: a whole number from 1 to 1000.
absl::StatusOr<int32_t> PageSizeFromFlags(const Invocation& invocation);

// A random (version 4) UUID in the 8-4-4-4-12 lower-case hex form.
std::string NewRequestId();

// Whether `text` is a UUID in the 8-4-4-4-12 hex form (any case).
bool IsUuid(absl::string_view text);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_TENANT_REQUESTS_H_
