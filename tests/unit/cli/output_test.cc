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

v1::Certificate ApiCertificate() {
  v1::Certificate c;
  c.set_name("tenants/acme/certificates/7f3a9c0d1e2f3a4b5c6d7e8f90a1b2c3");
  c.set_serial("7f3a9c0d1e2f3a4b5c6d7e8f90a1b2c3");
  c.set_issuer("tenants/acme/issuers/20250301-7f3a");
  c.set_tenant("tenants/acme");
  c.set_subject("CN=api.acme.svc.example.net");
  c.add_dns_names("api.acme.svc.example.net");
  c.add_uris("spiffe://acme.example.net/api");
  c.add_usages(v1::CERTIFICATE_USAGE_SERVER_AUTH);
  c.add_usages(v1::CERTIFICATE_USAGE_CLIENT_AUTH);
  c.set_key_type(v1::KEY_TYPE_RSA);
  c.set_rsa_bits(3072);
  c.mutable_not_before()->set_seconds(kCreated);
  c.mutable_not_after()->set_seconds(kCreated + 24 * 3600);
  c.set_certificate_pem("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  c.set_etag("c1");
  return c;
}

TEST(RenderCertificateTableTest, ShortSerialRevocationAndSans) {
  v1::ListCertificatesResponse list;
  *list.add_certificates() = ApiCertificate();
  v1::Certificate* revoked = list.add_certificates();
  *revoked = ApiCertificate();
  revoked->set_name("tenants/acme/certificates/1");
  revoked->set_serial("1");
  revoked->clear_uris();
  for (const char* n : {"b.acme.svc.example.net", "c.acme.svc.example.net"}) {
    revoked->add_dns_names(n);
  }
  revoked->add_ip_addresses("10.64.3.7");
  revoked->add_ip_addresses("10.64.3.8");
  revoked->mutable_revocation()->set_reason(v1::REVOCATION_REASON_SUPERSEDED);
  v1::Certificate* plain = list.add_certificates();
  plain->set_name("infrastructure/certificates/2");
  plain->set_serial("2");
  plain->mutable_revocation();
  EXPECT_EQ(RenderCertificateTable(list.certificates()),
            "NAME                                                         SERIAL         "
            "NOT AFTER              REVOKED            SANS\n"
            "tenants/acme/certificates/7f3a9c0d1e2f3a4b5c6d7e8f90a1b2c3   7f3a9c0d1e2f   "
            "2024-05-02T10:00:00Z   no                 api.acme.svc.example.net, "
            "spiffe://acme.example.net/api\n"
            "tenants/acme/certificates/1                                  1              "
            "2024-05-02T10:00:00Z   yes (superseded)   api.acme.svc.example.net, "
            "b.acme.svc.example.net, c.acme.svc.example.net, +2 more\n"
            "infrastructure/certificates/2                                2              "
            "-                      yes                -\n");
}

TEST(RenderCertificateDetailTest, ShowsEveryFieldButThePem) {
  v1::Certificate c = ApiCertificate();
  c.mutable_revocation()->set_reason(v1::REVOCATION_REASON_KEY_COMPROMISE);
  c.mutable_revocation()->mutable_revoke_time()->set_seconds(kCreated + 3600);
  std::string detail = RenderCertificateDetail(c);
  EXPECT_THAT(
      detail,
      AllOf(HasSubstr("Name:               tenants/acme/certificates/7f3a"),
            HasSubstr("Serial:             7f3a9c0d1e2f3a4b5c6d7e8f90a1b2c3\n"),
            HasSubstr("Issuer:             tenants/acme/issuers/20250301-7f3a\n"),
            HasSubstr("DNS names:          api.acme.svc.example.net\n"),
            HasSubstr("URIs:               spiffe://acme.example.net/api\n"),
            HasSubstr("IP addresses:       -\n"), HasSubstr("Usages:             server, client\n"),
            HasSubstr("Key:                RSA 3072\n"),
            HasSubstr("Not after:          2024-05-02T10:00:00Z\n"),
            HasSubstr("Revoked:            2024-05-01T11:00:00Z (key-compromise)\n")));
  EXPECT_THAT(detail, Not(HasSubstr("BEGIN CERTIFICATE")));
}

TEST(RenderIssuerTest, TableAndDetail) {
  v1::ListIssuersResponse list;
  v1::Issuer* active = list.add_issuers();
  active->set_name("tenants/acme/issuers/20250301-7f3a");
  active->set_kind(v1::ISSUER_KIND_TENANT);
  active->set_state(v1::ISSUER_STATE_ACTIVE);
  active->mutable_not_after()->set_seconds(kCreated);
  active->add_permitted_dns_domains("acme.svc.example.net");
  v1::Issuer* root = list.add_issuers();
  root->set_name("infrastructure/issuers/r1");
  root->set_kind(v1::ISSUER_KIND_ROOT);
  root->set_state(v1::ISSUER_STATE_PREPARED);
  EXPECT_EQ(RenderIssuerTable(list.issuers()),
            "NAME                                 KIND     STATE      NOT AFTER\n"
            "tenants/acme/issuers/20250301-7f3a   tenant   active     2024-05-01T10:00:00Z\n"
            "infrastructure/issuers/r1            root     prepared   -\n");
  EXPECT_THAT(
      RenderIssuerDetail(*active),
      AllOf(HasSubstr("Kind:               tenant\n"), HasSubstr("State:              active\n"),
            HasSubstr("Permitted DNS:      acme.svc.example.net\n"),
            HasSubstr("Activated:          -\n")));
}

TEST(RenderIssuancePolicyDetailTest, ListsOneItemALine) {
  v1::IssuancePolicy p;
  p.set_name("tenants/acme/issuancePolicy");
  p.add_allowed_dns_names("*.acme.svc.example.net");
  p.add_allowed_dns_names("api.acme.svc.example.net");
  p.add_allowed_key_types(v1::KEY_TYPE_ECDSA_P256);
  p.add_allowed_key_types(v1::KEY_TYPE_RSA);
  p.set_min_rsa_bits(3072);
  p.mutable_max_ttl()->set_seconds(90 * 24 * 3600);
  p.mutable_default_ttl()->set_seconds(3600);
  EXPECT_THAT(RenderIssuancePolicyDetail(p),
              AllOf(HasSubstr("Allowed DNS names:\n"
                              "  - *.acme.svc.example.net\n"
                              "  - api.acme.svc.example.net\n"
                              "Allowed URIs:        (none allowed)\n"),
                    HasSubstr("Allowed key types:   ECDSA P-256, RSA\n"),
                    HasSubstr("Min RSA bits:        3072\n"),
                    HasSubstr("Max TTL:             2160h (90 days)\n"),
                    HasSubstr("Default TTL:         1h\n")));
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

// 2024-05-01T10:00:30Z
const absl::Time kNow = absl::FromUnixSeconds(kCreated + 30);

v1::Condition Condition(const std::string& type, v1::ConditionStatus status,
                        const std::string& reason = "", const std::string& message = "") {
  v1::Condition c;
  c.set_type(type);
  c.set_status(status);
  c.set_reason(reason);
  c.set_message(message);
  c.mutable_last_transition_time()->set_seconds(kCreated);
  return c;
}

// Enrolled, connected, ready, with one VM.
v1::Host Hv1() {
  v1::Host h;
  h.set_name("hosts/hv1");
  h.set_uid("3c2b0c4e-1111-4a2b-9c3d-0e1f2a3b4c5d");
  h.set_underlay_address("10.0.0.1");
  h.mutable_capacity()->set_vcpus(16);
  h.mutable_capacity()->set_memory_mib(65536);
  h.mutable_capacity()->set_disk_gib(1000);
  h.mutable_allocated()->set_vcpus(2);
  h.mutable_allocated()->set_memory_mib(2048);
  h.mutable_allocated()->set_disk_gib(20);
  v1::HostAllocation* a = h.add_allocations();
  a->set_cluster("tenants/acme/clusters/prod");
  a->set_machine("cp-1");
  a->set_machine_id("9d8c7b6a-0000-4000-8000-000000000001");
  *a->mutable_resources() = h.allocated();
  v1::BaseImage* image = h.add_base_images();
  image->set_name("debian-12-k8s-1.30");
  image->set_sha256(std::string(64, 'a'));
  image->set_size_bytes(int64_t{3} << 29);
  h.set_agent_version("0.1.0");
  h.set_libvirt_version("9.0.0");
  h.set_qemu_version("7.2.0");
  *h.add_conditions() = Condition("Enrolled", v1::CONDITION_STATUS_TRUE);
  *h.add_conditions() = Condition("Connected", v1::CONDITION_STATUS_TRUE);
  *h.add_conditions() = Condition("Ready", v1::CONDITION_STATUS_TRUE, "SpecApplied");
  h.mutable_last_seen_time()->set_seconds(kCreated + 18);
  h.set_spec_version(4);
  h.set_applied_spec_version(3);
  h.mutable_create_time()->set_seconds(kCreated);
  h.set_generation(2);
  h.set_etag("W/\"2\"");
  return h;
}

// Registered, cordoned, never seen.
v1::Host Hv2() {
  v1::Host h;
  h.set_name("hosts/hv2");
  h.set_underlay_address("fd00::2");
  h.set_cordoned(true);
  h.set_cordon_reason("disk replacement");
  return h;
}

TEST(RenderHostTableTest, ShowsConditionsAllocationOfCapacityAndLastSeen) {
  v1::ListHostsResponse list;
  *list.add_hosts() = Hv1();
  *list.add_hosts() = Hv2();
  EXPECT_EQ(RenderHostTable(list.hosts(), kNow),
            "NAME   UNDERLAY   READY   CONNECTED   CORDONED   VMS   CPU    MEM (GiB)   "
            "AGENT VERSION   LAST SEEN\n"
            "hv1    10.0.0.1   yes     yes         no         1     2/16   2/64        "
            "0.1.0           12s ago\n"
            "hv2    fd00::2    -       -           yes        0     0/-    0/-         "
            "-               never\n");
}

TEST(RenderHostTableTest, NotReadyAndFractionalMemory) {
  v1::ListHostsResponse list;
  v1::Host h = Hv1();
  h.clear_conditions();
  *h.add_conditions() =
      Condition("Connected", v1::CONDITION_STATUS_FALSE, "UnderlayAddressMismatch");
  *h.add_conditions() = Condition("Ready", v1::CONDITION_STATUS_UNKNOWN);
  h.mutable_capacity()->set_memory_mib(64307);  // 62.8 GiB
  h.mutable_allocated()->set_memory_mib(1536);
  h.mutable_last_seen_time()->set_seconds(kCreated - 3 * 86400);
  *list.add_hosts() = h;
  const std::string table = RenderHostTable(list.hosts(), kNow);
  EXPECT_THAT(table, HasSubstr("hv1    10.0.0.1   unknown   no  "));
  EXPECT_THAT(table, HasSubstr("   1.5/62.8   "));
  EXPECT_THAT(table, HasSubstr("   3d ago\n"));
}

TEST(RenderHostDetailTest, ShowsEveryField) {
  const std::string detail = RenderHostDetail(Hv1(), kNow);
  EXPECT_THAT(
      detail,
      AllOf(HasSubstr("Name:             hosts/hv1\n"), HasSubstr("Underlay address: 10.0.0.1\n"),
            HasSubstr("Cordoned:         no\n"), HasSubstr("Agent version:    0.1.0\n"),
            HasSubstr("QEMU version:     7.2.0\n"),
            HasSubstr("Last seen:        2024-05-01T10:00:18Z (12s ago)\n"),
            HasSubstr("Spec version:     4 (applied: 3)\n"),
            HasSubstr("Etag:             W/\"2\"\n"), HasSubstr("Conditions:\n"),
            HasSubstr("  Ready:          True (SpecApplied) since "
                      "2024-05-01T10:00:00Z\n"),
            HasSubstr("  vCPUs:          2 / 16\n"), HasSubstr("  Memory (MiB):   2048 / 65536\n"),
            HasSubstr("Machines:\n  - tenants/acme/clusters/prod/machines/cp-1 (2 vCPUs, "
                      "2048 MiB, 20 GiB disk)\n"),
            HasSubstr("  - debian-12-k8s-1.30 (1.5 GiB, sha256 aaaaaaaaaaaa)\n")));
}

TEST(RenderHostDetailTest, NewHostShowsWhatIsNotReportedYet) {
  const std::string detail = RenderHostDetail(Hv2(), kNow);
  EXPECT_THAT(detail,
              AllOf(HasSubstr("Cordoned:         yes: disk replacement\n"),
                    HasSubstr("Last seen:        never\n"),
                    HasSubstr("Conditions:       (none reported)\n"),
                    HasSubstr("  vCPUs:          0 / -\n"), HasSubstr("Machines:         (none)\n"),
                    HasSubstr("Base images:      (none reported)\n")));
}

TEST(RenderHostDetailTest, NeutralizesAgentText) {
  v1::Host h = Hv1();
  h.set_agent_version("0.1\x1b]0;pwned\x07");
  h.mutable_conditions(2)->set_message("bad\nline");
  const std::string detail = RenderHostDetail(h, kNow);
  EXPECT_THAT(detail, AllOf(HasSubstr("0.1?]0;pwned?"), HasSubstr("bad?line")));
  EXPECT_THAT(detail, Not(HasSubstr("\x1b")));
}

TEST(RenderBootstrapTokenTest, ShowsTheTokenOnlyWhenItWasNotSaved) {
  v1::BootstrapToken token;
  token.set_token("mandant-bootstrap-s3cr3t");
  token.mutable_expire_time()->set_seconds(kCreated + 30 + 24 * 3600);
  EXPECT_EQ(RenderBootstrapToken("", token, "", kNow),
            "Bootstrap token: mandant-bootstrap-s3cr3t\n"
            "Token expires:   2024-05-02T10:00:30Z (in 24h)\n");
  const std::string saved = RenderBootstrapToken("hosts/hv1", token, "/etc/hv1.token", kNow);
  EXPECT_EQ(saved,
            "Host:            hosts/hv1\n"
            "Bootstrap token: written to /etc/hv1.token (mode 0600)\n"
            "Token expires:   2024-05-02T10:00:30Z (in 24h)\n");
  EXPECT_THAT(saved, Not(HasSubstr("s3cr3t")));
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
