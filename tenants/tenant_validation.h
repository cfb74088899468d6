#ifndef MANDANT_TENANTS_TENANT_VALIDATION_H_
#define MANDANT_TENANTS_TENANT_VALIDATION_H_

#include "absl/strings/string_view.h"

#include "mandant/v1/tenant.pb.h"
#include "tenants/field_violations.h"

namespace mandant::tenants {

// The controller's network settings that decide which network requests are
// acceptable.
struct NetworkDefaults {
  // Used when a request leaves a prefix length at 0.
  int default_prefix_length = 24;
  // The range a request may ask for.
  int min_prefix_length = 16;
  int max_prefix_length = 28;
  // Whether a VLAN pool is configured, so that NETWORK_MODE_VLAN can be served.
  bool vlan_enabled = false;
};

inline constexpr int kMaxDisplayNameLength = 200;  // Unicode code points
inline constexpr int kMaxPageSize = 1000;
inline constexpr int kMaxPageTokenLength = 1024;

// Each validator checks the shape of one request without I/O and returns every
// problem it finds (not only the first), with field paths made of the proto
// field names joined by '.', e.g. "tenant.network_request.node_prefix_length".
// Output-only fields set by the caller are ignored, not errors.
// FieldViolations::ToStatus() turns the result into the INVALID_ARGUMENT reply.

// tenant_id (a valid tenant id), tenant (required), tenant.name (empty or
// "tenants/" + tenant_id), tenant.display_name, tenant.quota,
// tenant.network_request (mode known and available, prefix lengths 0 or
// within [min, max]), request_id (empty or a UUID).
FieldViolations ValidateCreateTenantRequest(const mandant::v1::CreateTenantRequest& req,
                                            const NetworkDefaults& net);
// name: "tenants/{tenant_id}".
FieldViolations ValidateGetTenantRequest(const mandant::v1::GetTenantRequest& req);
// page_size 0-1000, state a known TenantState, page_token at most 1024 bytes
// (its content is for the controller to check).
FieldViolations ValidateListTenantsRequest(const mandant::v1::ListTenantsRequest& req);
// tenant (required) with a valid tenant.name; update_mask (required, not empty)
// with paths among kUpdatableTenantPaths, none named twice; the fields the mask
// names: state ACTIVE or SUSPENDED, display_name and quota as on create;
// request_id as on create. Fields not named in the mask are not checked, since
// the update ignores them.
FieldViolations ValidateUpdateTenantRequest(const mandant::v1::UpdateTenantRequest& req);
// name as for Get; request_id as on create.
FieldViolations ValidateDeleteTenantRequest(const mandant::v1::DeleteTenantRequest& req);

// The update_mask paths UpdateTenant accepts.
inline constexpr absl::string_view kUpdatableTenantPaths[] = {
    "display_name",
    "state",
    "quota",
    "quota.max_clusters",
    "quota.max_nodes",
    "quota.max_vcpus",
    "quota.max_memory_mib",
    "quota.max_storage_gib",
};

// True for a UUID in the canonical 8-4-4-4-12 hex digit form, e.g.
// "123e4567-e89b-12d3-a456-426614174000". Hex digits of either case (RFC 9562
// reads them case-insensitively); callers that use it as a key should lowercase
// it. Any version and variant.
bool IsCanonicalUuid(absl::string_view s);

// Adds a violation on "request_id" unless it is empty or a canonical UUID.
void ValidateRequestId(absl::string_view request_id, FieldViolations* out);

// Adds a violation on `field` when `display_name` is longer than 200 code
// points, is not valid UTF-8, or holds control characters (C0, DEL, C1) or
// characters that reorder or break displayed text (U+2028, U+2029, bidi
// embeddings, overrides and isolates). Empty is valid.
void ValidateDisplayName(absl::string_view display_name, absl::string_view field,
                         FieldViolations* out);

}  // namespace mandant::tenants

#endif  // MANDANT_TENANTS_TENANT_VALIDATION_H_
