#include "tenants/quota.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

#include "mandant/v1/tenant.pb.h"
#include "tenants/field_violations.h"

namespace mandant::tenants {
namespace {

using mandant::v1::TenantQuota;

struct QuotaField {
  absl::string_view name;
  int64_t max;
  bool (TenantQuota::*has)() const;
  int64_t (TenantQuota::*get)() const;
  int64_t QuotaLimits::*limit;
};

constexpr QuotaField kQuotaFields[] = {
    {"max_clusters", kMaxQuotaClusters, &TenantQuota::has_max_clusters, &TenantQuota::max_clusters,
     &QuotaLimits::max_clusters},
    {"max_nodes", kMaxQuotaNodes, &TenantQuota::has_max_nodes, &TenantQuota::max_nodes,
     &QuotaLimits::max_nodes},
    {"max_vcpus", kMaxQuotaVcpus, &TenantQuota::has_max_vcpus, &TenantQuota::max_vcpus,
     &QuotaLimits::max_vcpus},
    {"max_memory_mib", kMaxQuotaMemoryMib, &TenantQuota::has_max_memory_mib,
     &TenantQuota::max_memory_mib, &QuotaLimits::max_memory_mib},
    {"max_storage_gib", kMaxQuotaStorageGib, &TenantQuota::has_max_storage_gib,
     &TenantQuota::max_storage_gib, &QuotaLimits::max_storage_gib},
};

void CheckField(const QuotaField& field, const TenantQuota& quota, absl::string_view path,
                FieldViolations* out) {
  if (!(quota.*field.has)()) return;
  const int64_t value = (quota.*field.get)();
  if (value >= 0 && value <= field.max) return;
  out->Add(path.empty() ? std::string(field.name)
                        : absl::StrCat(std::string(path), ".", std::string(field.name)),
           absl::StrFormat("must be between 0 and %d, got %d", field.max, value));
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return sum;
}

}  // namespace

QuotaLimits DefaultQuota() {
  QuotaLimits limits;
  limits.max_clusters = 5;
  limits.max_nodes = 50;
  limits.max_vcpus = 200;
  limits.max_memory_mib = 819200;
  limits.max_storage_gib = 10240;
  return limits;
}

void ValidateQuota(const TenantQuota& quota, absl::string_view path, FieldViolations* out) {
  for (const QuotaField& field : kQuotaFields) CheckField(field, quota, path, out);
}

void ValidateQuotaField(const TenantQuota& quota, absl::string_view field, absl::string_view path,
                        FieldViolations* out) {
  for (const QuotaField& f : kQuotaFields) {
    if (f.name == field) CheckField(f, quota, path, out);
  }
}

QuotaLimits MergeQuota(const QuotaLimits& base, const TenantQuota& quota) {
  QuotaLimits merged = base;
  for (const QuotaField& field : kQuotaFields) {
    if ((quota.*field.has)()) merged.*field.limit = (quota.*field.get)();
  }
  return merged;
}

TenantQuota ToProto(const QuotaLimits& limits) {
  TenantQuota quota;
  quota.set_max_clusters(limits.max_clusters);
  quota.set_max_nodes(limits.max_nodes);
  quota.set_max_vcpus(limits.max_vcpus);
  quota.set_max_memory_mib(limits.max_memory_mib);
  quota.set_max_storage_gib(limits.max_storage_gib);
  return quota;
}

std::vector<std::string> CheckQuota(const QuotaLimits& limits, const QuotaUsage& usage,
                                    const QuotaUsage& delta) {
  struct Resource {
    absl::string_view name;
    int64_t limit;
    int64_t used;
    int64_t more;
  };
  const Resource resources[] = {
      {"clusters", limits.max_clusters, usage.clusters, delta.clusters},
      {"nodes", limits.max_nodes, usage.nodes, delta.nodes},
      {"vcpus", limits.max_vcpus, usage.vcpus, delta.vcpus},
      {"memory_mib", limits.max_memory_mib, usage.memory_mib, delta.memory_mib},
      {"storage_gib", limits.max_storage_gib, usage.storage_gib, delta.storage_gib},
  };
  std::vector<std::string> exceeded;
  for (const Resource& r : resources) {
    const int64_t total = SaturatingAdd(r.used, r.more);
    if (total > r.limit) {
      exceeded.push_back(absl::StrFormat("%s: %d requested, quota is %d", r.name, total, r.limit));
    }
  }
  return exceeded;
}

}  // namespace mandant::tenants
