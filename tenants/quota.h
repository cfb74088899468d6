#ifndef MANDANT_TENANTS_QUOTA_H_
#define MANDANT_TENANTS_QUOTA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

#include "mandant/v1/tenant.pb.h"
#include "tenants/field_violations.h"

namespace mandant::tenants {

// The upper limits of one tenant, all fields known (the API's TenantQuota has
// every field optional).
struct QuotaLimits {
  int64_t max_clusters = 0;
  int64_t max_nodes = 0;
  int64_t max_vcpus = 0;
  int64_t max_memory_mib = 0;
  int64_t max_storage_gib = 0;

  friend bool operator==(const QuotaLimits& a, const QuotaLimits& b) {
    return a.max_clusters == b.max_clusters && a.max_nodes == b.max_nodes &&
           a.max_vcpus == b.max_vcpus && a.max_memory_mib == b.max_memory_mib &&
           a.max_storage_gib == b.max_storage_gib;
  }
};

// The quota of a tenant created without one: 5 clusters, 50 nodes, 200 vCPUs,
// 819200 MiB (800 GiB) of memory, 10240 GiB of storage.
QuotaLimits DefaultQuota();

// The highest value each quota field accepts; the lowest is 0 for all.
inline constexpr int64_t kMaxQuotaClusters = 1000;
inline constexpr int64_t kMaxQuotaNodes = 10000;
inline constexpr int64_t kMaxQuotaVcpus = 1000000;
inline constexpr int64_t kMaxQuotaMemoryMib = int64_t{1} << 30;   // 1 PiB
inline constexpr int64_t kMaxQuotaStorageGib = int64_t{1} << 20;  // 1 PiB

// Checks every field set in `quota` against its range (clusters 0-1000, nodes
// 0-10000, vcpus 0-1000000, memory_mib 0-1073741824, storage_gib 0-1048576)
// and adds one violation per bad field to `out`, named `path` + "." + field
// name (e.g. "tenant.quota.max_vcpus"; just the field name when `path` is
// empty).
void ValidateQuota(const mandant::v1::TenantQuota& quota, absl::string_view path,
                   FieldViolations* out);

// Like ValidateQuota for the one field named `field` ("max_vcpus", ...), when
// set. Unknown field names are ignored. For update masks naming single fields.
void ValidateQuotaField(const mandant::v1::TenantQuota& quota, absl::string_view field,
                        absl::string_view path, FieldViolations* out);

// `base` with every field that is set in `quota` replaced by its value.
QuotaLimits MergeQuota(const QuotaLimits& base, const mandant::v1::TenantQuota& quota);

// The API form, every field set.
mandant::v1::TenantQuota ToProto(const QuotaLimits& limits);

// What a tenant uses (or, as a delta, is about to add; negative to free).
struct QuotaUsage {
  int64_t clusters = 0;
  int64_t nodes = 0;
  int64_t vcpus = 0;
  int64_t memory_mib = 0;
  int64_t storage_gib = 0;
};

// Empty when usage + delta fits within limits for every resource; otherwise
// one description per exceeded resource, in the order clusters, nodes, vcpus,
// memory_mib, storage_gib, e.g. "vcpus: 210 requested, quota is 200". With a
// zero delta this tells whether current usage fits a lowered quota. The sums
// saturate instead of overflowing.
std::vector<std::string> CheckQuota(const QuotaLimits& limits, const QuotaUsage& usage,
                                    const QuotaUsage& delta);

}  // namespace mandant::tenants

#endif  // MANDANT_TENANTS_QUOTA_H_
