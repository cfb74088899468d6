#include "tenants/quota.h"

#include <cstdint>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "mandant/v1/tenant.pb.h"
#include "tenants/field_violations.h"

namespace mandant::tenants {
namespace {

using ::mandant::v1::TenantQuota;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(DefaultQuotaTest, Values) {
  QuotaLimits q = DefaultQuota();
  EXPECT_EQ(q.max_clusters, 5);
  EXPECT_EQ(q.max_nodes, 50);
  EXPECT_EQ(q.max_vcpus, 200);
  EXPECT_EQ(q.max_memory_mib, 819200);
  EXPECT_EQ(q.max_storage_gib, 10240);
}

TEST(ValidateQuotaTest, UnsetFieldsAndBoundsAreValid) {
  FieldViolations out;
  ValidateQuota(TenantQuota(), "tenant.quota", &out);
  TenantQuota zero;
  zero.set_max_clusters(0);
  zero.set_max_nodes(0);
  zero.set_max_vcpus(0);
  zero.set_max_memory_mib(0);
  zero.set_max_storage_gib(0);
  ValidateQuota(zero, "tenant.quota", &out);
  TenantQuota max;
  max.set_max_clusters(1000);
  max.set_max_nodes(10000);
  max.set_max_vcpus(1000000);
  max.set_max_memory_mib(1073741824);
  max.set_max_storage_gib(1048576);
  ValidateQuota(max, "tenant.quota", &out);
  EXPECT_THAT(out.violations(), IsEmpty());
}

TEST(ValidateQuotaTest, ReportsEveryFieldOutOfRange) {
  TenantQuota q;
  q.set_max_clusters(1001);
  q.set_max_nodes(-1);
  q.set_max_vcpus(1000001);
  q.set_max_memory_mib(1073741825);
  q.set_max_storage_gib(std::numeric_limits<int64_t>::min());
  FieldViolations out;
  ValidateQuota(q, "tenant.quota", &out);
  EXPECT_THAT(
      out.violations(),
      ElementsAre(
          FieldViolation{"tenant.quota.max_clusters", "must be between 0 and 1000, got 1001"},
          FieldViolation{"tenant.quota.max_nodes", "must be between 0 and 10000, got -1"},
          FieldViolation{"tenant.quota.max_vcpus", "must be between 0 and 1000000, got 1000001"},
          FieldViolation{"tenant.quota.max_memory_mib",
                         "must be between 0 and 1073741824, got 1073741825"},
          FieldViolation{"tenant.quota.max_storage_gib",
                         "must be between 0 and 1048576, got -9223372036854775808"}));
}

TEST(ValidateQuotaTest, EmptyPathGivesBareFieldNames) {
  TenantQuota q;
  q.set_max_nodes(10001);
  FieldViolations out;
  ValidateQuota(q, "", &out);
  ASSERT_EQ(out.violations().size(), 1u);
  EXPECT_EQ(out.violations()[0].field, "max_nodes");
}

TEST(ValidateQuotaFieldTest, ChecksOnlyTheNamedField) {
  TenantQuota q;
  q.set_max_nodes(-5);
  q.set_max_vcpus(-5);
  FieldViolations out;
  ValidateQuotaField(q, "max_vcpus", "tenant.quota", &out);
  ValidateQuotaField(q, "max_clusters", "tenant.quota", &out);
  ValidateQuotaField(q, "no_such_field", "tenant.quota", &out);
  ASSERT_EQ(out.violations().size(), 1u);
  EXPECT_EQ(out.violations()[0].field, "tenant.quota.max_vcpus");
}

TEST(MergeQuotaTest, SetFieldsOverride) {
  TenantQuota q;
  q.set_max_vcpus(64);
  q.set_max_clusters(0);  // set to zero is still set
  QuotaLimits merged = MergeQuota(DefaultQuota(), q);
  QuotaLimits expected = DefaultQuota();
  expected.max_vcpus = 64;
  expected.max_clusters = 0;
  EXPECT_EQ(merged, expected);
  EXPECT_EQ(MergeQuota(DefaultQuota(), TenantQuota()), DefaultQuota());
}

TEST(MergeQuotaTest, ToProtoRoundTrips) {
  QuotaLimits limits{1, 2, 3, 4, 5};
  TenantQuota proto = ToProto(limits);
  EXPECT_TRUE(proto.has_max_clusters());
  EXPECT_EQ(MergeQuota(QuotaLimits{}, proto), limits);
}

TEST(CheckQuotaTest, FitsExactly) {
  QuotaLimits limits = DefaultQuota();
  QuotaUsage usage{4, 40, 100, 409600, 240};
  QuotaUsage delta{1, 10, 100, 409600, 10000};
  EXPECT_THAT(CheckQuota(limits, usage, delta), IsEmpty());
}

TEST(CheckQuotaTest, ReportsEachExceededResource) {
  QuotaLimits limits = DefaultQuota();
  QuotaUsage usage{5, 10, 10, 0, 0};
  QuotaUsage delta{1, 0, 200, 0, 10241};
  EXPECT_THAT(CheckQuota(limits, usage, delta),
              ElementsAre("clusters: 6 requested, quota is 5", "vcpus: 210 requested, quota is 200",
                          "storage_gib: 10241 requested, quota is 10240"));
}

TEST(CheckQuotaTest, LoweredQuotaBelowUsage) {
  QuotaLimits lowered = DefaultQuota();
  lowered.max_nodes = 3;
  EXPECT_THAT(CheckQuota(lowered, QuotaUsage{0, 4, 0, 0, 0}, QuotaUsage{}),
              ElementsAre("nodes: 4 requested, quota is 3"));
  EXPECT_THAT(CheckQuota(lowered, QuotaUsage{0, 3, 0, 0, 0}, QuotaUsage{}), IsEmpty());
}

TEST(CheckQuotaTest, SaturatesInsteadOfOverflowing) {
  QuotaLimits limits = DefaultQuota();
  QuotaUsage usage;
  usage.vcpus = std::numeric_limits<int64_t>::max();
  QuotaUsage delta;
  delta.vcpus = 1;
  EXPECT_THAT(CheckQuota(limits, usage, delta),
              ElementsAre("vcpus: 9223372036854775807 requested, quota is 200"));
  // A release (negative delta) is not reported.
  QuotaUsage release;
  release.nodes = -10;
  EXPECT_THAT(CheckQuota(limits, QuotaUsage{0, 20, 0, 0, 0}, release), IsEmpty());
}

}  // namespace
}  // namespace mandant::tenants
