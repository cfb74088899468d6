#include "tenants/names.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tenants/field_violations.h"

namespace mandant::tenants {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(CheckTenantIdTest, AcceptsDns1123LabelsStartingWithALetter) {
  EXPECT_EQ(CheckTenantId("acme"), "");
  EXPECT_EQ(CheckTenantId("ab"), "");
  EXPECT_EQ(CheckTenantId("a1"), "");
  EXPECT_EQ(CheckTenantId("acme-corp-2"), "");
  EXPECT_EQ(CheckTenantId("a--b"), "");
  EXPECT_EQ(CheckTenantId(std::string(kMaxTenantIdLength, 'a')), "");
}

TEST(CheckTenantIdTest, LengthLimits) {
  EXPECT_EQ(CheckTenantId(""), "required");
  EXPECT_EQ(CheckTenantId("a"), "must be 2-40 characters, got 1");
  EXPECT_EQ(CheckTenantId(std::string(41, 'a')), "must be 2-40 characters, got 41");
}

TEST(CheckTenantIdTest, RejectsBadCharactersNamingThem) {
  EXPECT_THAT(CheckTenantId("Acme"), HasSubstr("lowercase letters a-z, digits 0-9 and '-'"));
  EXPECT_THAT(CheckTenantId("Acme"), HasSubstr("\"A\" at position 0"));
  EXPECT_THAT(CheckTenantId("ac_me"), HasSubstr("\"_\" at position 2"));
  EXPECT_THAT(CheckTenantId("ac.me"), HasSubstr("\".\" at position 2"));
  EXPECT_THAT(CheckTenantId("ac me"), HasSubstr("\" \" at position 2"));
  EXPECT_THAT(CheckTenantId("acm\xc3\xa9"), HasSubstr("\"\\xc3\" at position 3"));
  EXPECT_THAT(CheckTenantId(std::string("ac\0me", 5)), HasSubstr("position 2"));
}

TEST(CheckTenantIdTest, MustStartWithALetterAndNotEndWithHyphen) {
  EXPECT_EQ(CheckTenantId("1acme"), "must start with a lowercase letter a-z, got \"1\"");
  EXPECT_EQ(CheckTenantId("-acme"), "must start with a lowercase letter a-z, got \"-\"");
  EXPECT_EQ(CheckTenantId("acme-"), "must not end with '-'");
}

TEST(CheckResourceIdTest, AcceptsLabelsOf1To40) {
  EXPECT_EQ(CheckResourceId("a"), "");
  EXPECT_EQ(CheckResourceId("7"), "");
  EXPECT_EQ(CheckResourceId("prod-1"), "");
  EXPECT_EQ(CheckResourceId("1st"), "");
  EXPECT_EQ(CheckResourceId(std::string(40, 'x')), "");
}

TEST(CheckResourceIdTest, Rejects) {
  EXPECT_EQ(CheckResourceId(""), "required");
  EXPECT_EQ(CheckResourceId(std::string(41, 'x')), "must be 1-40 characters, got 41");
  EXPECT_THAT(CheckResourceId("-a"), HasSubstr("must start with a lowercase letter or digit"));
  EXPECT_EQ(CheckResourceId("a-"), "must not end with '-'");
  EXPECT_THAT(CheckResourceId("Prod"), HasSubstr("\"P\" at position 0"));
}

TEST(ParseTenantNameTest, ReturnsTheId) {
  absl::StatusOr<std::string> id = ParseTenantName("tenants/acme");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "acme");
  EXPECT_EQ(TenantName("acme"), "tenants/acme");
  EXPECT_EQ(*ParseTenantName(TenantName("acme-2")), "acme-2");
}

TEST(ParseTenantNameTest, MalformedNamesAreFieldViolationsOnTheGivenField) {
  for (const char* bad : {"", "acme", "tenants/", "tenants/Acme", "tenants/acme/clusters/x",
                          "tenant/acme", "/tenants/acme", "tenants/a", " tenants/acme"}) {
    absl::StatusOr<std::string> id = ParseTenantName(bad, "tenant.name");
    ASSERT_FALSE(id.ok()) << bad;
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    std::vector<FieldViolation> violations = ViolationsOf(id.status());
    ASSERT_EQ(violations.size(), 1u) << bad;
    EXPECT_EQ(violations[0].field, "tenant.name") << bad;
    EXPECT_THAT(id.status().message(), HasSubstr("tenant.name: ")) << bad;
  }
}

TEST(ParseTenantNameTest, DefaultFieldIsName) {
  absl::StatusOr<std::string> id = ParseTenantName("acme");
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(ViolationsOf(id.status()),
              ElementsAre(FieldViolation{
                  "name", "must have the form \"tenants/{tenant_id}\", got \"acme\""}));
}

TEST(CheckTenantNameTest, Descriptions) {
  EXPECT_EQ(CheckTenantName("tenants/acme"), "");
  EXPECT_EQ(CheckTenantName(""), "required");
  EXPECT_THAT(CheckTenantName("tenants/"), HasSubstr("the tenant id is missing"));
  EXPECT_EQ(CheckTenantName("tenants/acme-"),
            "tenant id \"acme-\" in \"tenants/{tenant_id}\": must not end with '-'");
  EXPECT_THAT(CheckTenantName("tenants/acme/x"), HasSubstr("\"/\" at position 4"));
  // A hostile name is cut in the message.
  EXPECT_LT(CheckTenantName(std::string(100000, 'x')).size(), 200u);
}

TEST(ClusterNameTest, ParsesTheIds) {
  EXPECT_EQ(CheckClusterName("tenants/acme/clusters/prod"), "");
  std::optional<ParsedClusterName> parsed = ParseClusterName("tenants/acme/clusters/prod-2");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->tenant_id, "acme");
  EXPECT_EQ(parsed->cluster_id, "prod-2");
}

TEST(ClusterNameTest, RefusesEverythingElse) {
  EXPECT_EQ(CheckClusterName(""), "required");
  for (const char* name :
       {"tenants/acme", "tenants/acme/clusters/", "tenants/acme/clusters", "tenants//clusters/x",
        "tenants/acme/pools/prod", "acme/clusters/prod", "tenants/acme/clusters/prod/machines/a",
        "tenants/acme/clusters/Prod", "tenants/a/clusters/prod", "tenants/acme/clusters/-x",
        "/tenants/acme/clusters/prod"}) {
    EXPECT_NE(CheckClusterName(name), "") << name;
    EXPECT_FALSE(ParseClusterName(name).has_value()) << name;
  }
  EXPECT_EQ(CheckClusterName("tenants/acme/clusters/pr_d"),
            "cluster id \"pr_d\" in \"tenants/{tenant_id}/clusters/{cluster_id}\": must contain "
            "only lowercase letters a-z, digits 0-9 and '-'; found \"_\" at position 2");
  EXPECT_THAT(CheckClusterName("tenants/acme/pools/prod"),
              HasSubstr("must have the form \"tenants/{tenant_id}/clusters/{cluster_id}\""));
}

}  // namespace
}  // namespace mandant::tenants
