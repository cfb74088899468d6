#ifndef MANDANT_TENANTS_NAMES_H_
#define MANDANT_TENANTS_NAMES_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mandant::tenants {

inline constexpr int kMaxTenantIdLength = 40;
inline constexpr int kMinTenantIdLength = 2;
inline constexpr int kMaxResourceIdLength = 40;
inline constexpr char kTenantNamePrefix[] = "tenants/";

// Checks a tenant id: a DNS-1123 label of 2-40 characters from [a-z0-9-] that
// starts with a letter and does not end with '-'. Returns an empty string when
// valid, otherwise what is wrong and what is allowed, e.g.
// "must be 2-40 characters, got 41"; "required" for an empty id.
std::string CheckTenantId(absl::string_view id);

// Checks a cluster, pool or host id: a DNS-1123 label (Kubernetes
// definition) of 1-40 characters from [a-z0-9-] that starts and ends with a
// letter or digit. Empty string when valid, else the problem.
std::string CheckResourceId(absl::string_view id);

// Checks a tenant resource name "tenants/{tenant_id}". Empty string when
// valid, else the problem ("required" for an empty name).
std::string CheckTenantName(absl::string_view name);

// "tenants/{id}" -> id. INVALID_ARGUMENT when malformed, as a
// FieldViolations status with one violation on `field`.
absl::StatusOr<std::string> ParseTenantName(absl::string_view name,
                                            absl::string_view field = "name");

// "tenants/" + id. Does not validate id.
std::string TenantName(absl::string_view id);

// The ids in a cluster resource name "tenants/{tenant_id}/clusters/{cluster_id}".
struct ParsedClusterName {
  std::string tenant_id;
  std::string cluster_id;
};

// Checks a cluster resource name: "tenants/{tenant_id}/clusters/{cluster_id}"
// with a valid tenant id (CheckTenantId) and cluster id (CheckResourceId).
// Empty string when valid, else the problem ("required" for an empty name).
std::string CheckClusterName(absl::string_view name);

// The ids of a name CheckClusterName accepts; nullopt for any other text.
std::optional<ParsedClusterName> ParseClusterName(absl::string_view name);

}  // namespace mandant::tenants

#endif  // MANDANT_TENANTS_NAMES_H_
