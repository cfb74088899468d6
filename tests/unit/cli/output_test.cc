#include "cli/output.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace mandant::cli {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// 2024-05-01T10:00:00Z
constexpr int64_t kCreated = 1714557600;

v1::Tenant Acme() {
  v1::Tenant t;
  t.set_name("tenants/acme");
  t.set_uid("6f1c3f5e-7f0a-4c39-9d1e-2b6f0b9d8a11");
  t.set_display_name("Acme Corp");
  t.set_state(v1::TENANT_STATE_ACTIVE);
  t.mutable_quota()->set_max_clusters(5);
  t.mutable_quota()->set_max_nodes(50);
  t.mutable_usage()->set_clusters(1);
  t.mutable_usage()->set_nodes(3);
  t.mutable_network()->set_mode(v1::NETWORK_MODE_VXLAN);
  t.mutable_network()->set_vni(10001);
  t.mutable_network()->set_node_cidr("10.64.3.0/24");
  t.mutable_network()->set_storage_cidr("10.65.3.0/24");
  t.mutable_network()->set_gateway("10.64.3.1");
  t.mutable_create_time()->set_seconds(kCreated);
  t.set_generation(3);
  t.set_etag("W/\"3\"");
  return t;
}

v1::Tenant Beta() {
  v1::Tenant t;
  t.set_name("tenants/beta");
  t.set_state(v1::TENANT_STATE_SUSPENDED);
  t.mutable_network()->set_mode(v1::NETWORK_MODE_VLAN);
  t.mutable_network()->set_vlan_id(120);
  t.mutable_network()->set_node_cidr("10.64.4.0/24");
  t.mutable_network()->set_storage_cidr("10.65.4.0/24");
  return t;
}

TEST(RenderTenantTableTest, AlignsColumnsAndShowsMissingValuesAsDash) {
  v1::ListTenantsResponse list;
  *list.add_tenants() = Acme();
  *list.add_tenants() = Beta();
  EXPECT_EQ(RenderTenantTable(list.tenants()),
            "NAME   DISPLAY NAME   STATE       NETWORK       NODE CIDR      STORAGE CIDR   "
            "CLUSTERS   CREATED\n"
            "acme   Acme Corp      active      vxlan 10001   10.64.3.0/24   10.65.3.0/24   "
            "1/5        2024-05-01T10:00:00Z\n"
            "beta   -              suspended   vlan 120      10.64.4.0/24   10.65.4.0/24   "
            "0/-        -\n");
}

TEST(RenderTenantTableTest, CountsUtf8CharactersNotBytesForAlignment) {
  v1::ListTenantsResponse list;
  *list.add_tenants() = Acme();
  list.mutable_tenants(0)->set_display_name("Müller GmbH");  // 11 characters, 12 bytes
  *list.add_tenants() = Beta();
  list.mutable_tenants(1)->set_display_name("Beta Ltd");
  std::string table = RenderTenantTable(list.tenants());
  EXPECT_THAT(table, HasSubstr("acme   Müller GmbH    active"));
  EXPECT_THAT(table, HasSubstr("beta   Beta Ltd       suspended"));
}

TEST(RenderTenantTableTest, NeutralizesTerminalControlCharacters) {
  v1::ListTenantsResponse list;
  *list.add_tenants() = Acme();
  list.mutable_tenants(0)->set_display_name("evil\x1b[2J\nname");
  std::string table = RenderTenantTable(list.tenants());
  EXPECT_THAT(table, HasSubstr("evil?[2J?name"));
  EXPECT_THAT(table, Not(HasSubstr("\x1b")));
}

TEST(RenderTenantTableTest, EmptyListHasOnlyTheHeader) {
  v1::ListTenantsResponse list;
  EXPECT_EQ(RenderTenantTable(list.tenants()),
            "NAME   DISPLAY NAME   STATE   NETWORK   NODE CIDR   STORAGE CIDR   CLUSTERS   "
            "CREATED\n");
}

TEST(RenderTenantDetailTest, ShowsEveryFieldAligned) {
  std::string detail = RenderTenantDetail(Acme());
  EXPECT_THAT(
      detail,
      AllOf(HasSubstr("Name:            tenants/acme\n"), HasSubstr("Display name:    Acme Corp\n"),
            HasSubstr("State:           active\n"), HasSubstr("Generation:      3\n"),
            HasSubstr("Etag:            W/\"3\"\n"),
            HasSubstr("Created:         2024-05-01T10:00:00Z\n"), HasSubstr("Updated:         -\n"),
            HasSubstr("  VNI:           10001\n"), HasSubstr("  Gateway:       10.64.3.1\n"),
            HasSubstr("  Clusters:      1 / 5\n"), HasSubstr("  Nodes:         3 / 50\n"),
            HasSubstr("  vCPUs:         0 / -\n")));
}

TEST(RenderTenantDetailTest, VlanTenantShowsItsVlanId) {
  std::string detail = RenderTenantDetail(Beta());
  EXPECT_THAT(detail, HasSubstr("  VLAN ID:       120\n"));
  EXPECT_THAT(detail, Not(HasSubstr("VNI")));
}

TEST(RenderJsonTest, UsesProtoFieldNamesAndPrintsDefaults) {
  absl::StatusOr<std::string> json = RenderJson(Acme());
  ASSERT_OK(json);
  EXPECT_THAT(*json,
              AllOf(HasSubstr("\"display_name\": \"Acme Corp\""),
                    HasSubstr("\"state\": \"TENANT_STATE_ACTIVE\""),
                    HasSubstr("\"node_cidr\": \"10.64.3.0/24\""), HasSubstr("\"vcpus\": \"0\"")));
  EXPECT_THAT(*json, Not(HasSubstr("displayName")));
  EXPECT_THAT(*json, HasSubstr("{\n  \"name\": \"tenants/acme\",\n"));
  EXPECT_EQ(json->back(), '\n');
}

TEST(JsonToYamlTest, KeepsOrderTypesAndQuotesAmbiguousStrings) {
  absl::StatusOr<std::string> yaml = JsonToYaml(
      R"({"name": "x", "count": "5", "n": 5, "flag": "true", "b": false, "empty": "",)"
      R"( "nested": {"list": [1, "two"]}, "who": "Müller", "none": null, "ts": "2024-05-01T10:00:00Z"})");
  ASSERT_OK(yaml);
  EXPECT_EQ(*yaml,
            "name: x\n"
            "count: \"5\"\n"
            "\"n\": 5\n"  // YAML 1.1 reads a bare n as false.
            "flag: \"true\"\n"
            "b: false\n"
            "empty: \"\"\n"
            "nested:\n"
            "  list:\n"
            "    - 1\n"
            "    - two\n"
            "who: Müller\n"
            "none: ~\n"
            "ts: \"2024-05-01T10:00:00Z\"\n");
}

TEST(JsonToYamlTest, RejectsInvalidJson) {
  absl::StatusOr<std::string> yaml = JsonToYaml("{\"a\": ");
  EXPECT_EQ(yaml.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RenderMessageTest, YamlOfATenant) {
  absl::StatusOr<std::string> yaml = RenderMessage(Acme(), OutputFormat::kYaml);
  ASSERT_OK(yaml);
  EXPECT_THAT(*yaml,
              AllOf(HasSubstr("name: tenants/acme\n"), HasSubstr("display_name: Acme Corp\n"),
                    HasSubstr("  vni: 10001\n"), HasSubstr("state: TENANT_STATE_ACTIVE\n")));
}

TEST(RenderMessageTest, TableHasNoGenericRendering) {
  EXPECT_EQ(RenderMessage(Acme(), OutputFormat::kTable).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseOutputFormatTest, AcceptsTheThreeFormatsInAnyCase) {
  EXPECT_EQ(*ParseOutputFormat("table"), OutputFormat::kTable);
  EXPECT_EQ(*ParseOutputFormat("JSON"), OutputFormat::kJson);
  EXPECT_EQ(*ParseOutputFormat("yaml"), OutputFormat::kYaml);
  absl::StatusOr<OutputFormat> bad = ParseOutputFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("\"xml\" is not one of table, json, yaml"));
}

TEST(SanitizeForTerminalTest, ReplacesC0DelAndC1ButKeepsUtf8) {
  EXPECT_EQ(SanitizeForTerminal("a\tb\x7f"
                                "c\xc2\x9b"
                                "d"),
            "a?b?c?d");
  EXPECT_EQ(SanitizeForTerminal("Grüße, 東京"), "Grüße, 東京");
}

TEST(TenantIdFromNameTest, StripsOnlyTheTenantPrefix) {
  EXPECT_EQ(TenantIdFromName("tenants/acme"), "acme");
  EXPECT_EQ(TenantIdFromName("tenants/acme/clusters/prod"), "tenants/acme/clusters/prod");
  EXPECT_EQ(TenantIdFromName("acme"), "acme");
}

}  // namespace
}  // namespace mandant::cli
