#include "tenants/tenant_validation.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "mandant/v1/tenant.pb.h"
#include "tenants/field_violations.h"

namespace mandant::tenants {
namespace {

using ::mandant::v1::CreateTenantRequest;
using ::mandant::v1::DeleteTenantRequest;
using ::mandant::v1::GetTenantRequest;
using ::mandant::v1::ListTenantsRequest;
using ::mandant::v1::UpdateTenantRequest;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kUuid[] = "123e4567-e89b-12d3-a456-426614174000";

std::vector<std::string> Fields(const FieldViolations& v) {
  std::vector<std::string> fields;
  for (const FieldViolation& f : v.violations()) fields.push_back(f.field);
  return fields;
}

// The description of the only violation on `field`, or a note saying why there
// is none.
std::string DescriptionOf(const FieldViolations& v, const std::string& field) {
  std::string found = "<no violation on " + field + ">";
  int n = 0;
  for (const FieldViolation& f : v.violations()) {
    if (f.field == field) {
      found = f.description;
      ++n;
    }
  }
  return n > 1 ? "<" + std::to_string(n) + " violations on " + field + ">" : found;
}

CreateTenantRequest ValidCreate() {
  CreateTenantRequest req;
  req.set_tenant_id("acme");
  req.mutable_tenant()->set_display_name("ACME Corp.");
  req.mutable_tenant()->mutable_quota()->set_max_vcpus(64);
  req.mutable_tenant()->mutable_network_request()->set_mode(mandant::v1::NETWORK_MODE_VXLAN);
  req.mutable_tenant()->mutable_network_request()->set_node_prefix_length(24);
  req.set_request_id(kUuid);
  return req;
}

TEST(IsCanonicalUuidTest, Forms) {
  EXPECT_TRUE(IsCanonicalUuid(kUuid));
  EXPECT_TRUE(IsCanonicalUuid("00000000-0000-0000-0000-000000000000"));
  EXPECT_TRUE(IsCanonicalUuid("123E4567-E89B-12D3-A456-426614174000"));
  EXPECT_FALSE(IsCanonicalUuid(""));
  EXPECT_FALSE(IsCanonicalUuid("123e4567e89b12d3a456426614174000"));
  EXPECT_FALSE(IsCanonicalUuid("{123e4567-e89b-12d3-a456-426614174000}"));
  EXPECT_FALSE(IsCanonicalUuid("123e4567-e89b-12d3-a456-42661417400"));
  EXPECT_FALSE(IsCanonicalUuid("123e4567-e89b-12d3-a456-4266141740000"));
  EXPECT_FALSE(IsCanonicalUuid("123e4567-e89b-12d3-a456_426614174000"));
  EXPECT_FALSE(IsCanonicalUuid("123e4567-e89b-12d3-a45-6426614174000"));
  EXPECT_FALSE(IsCanonicalUuid("g23e4567-e89b-12d3-a456-426614174000"));
  EXPECT_FALSE(IsCanonicalUuid("urn:uuid:123e4567-e89b-12d3-a456-4266"));
}

TEST(ValidateDisplayNameTest, AcceptsPrintableUnicode) {
  FieldViolations out;
  ValidateDisplayName("", "f", &out);
  ValidateDisplayName("ACME Corp. (Zürich) – 東京 🚀", "f", &out);
  ValidateDisplayName(std::string(200, 'x'), "f", &out);
  // 200 code points of two bytes each: the limit counts characters, not bytes.
  std::string umlauts;
  for (int i = 0; i < 200; ++i) umlauts += "\xc3\xbc";
  ValidateDisplayName(umlauts, "f", &out);
  EXPECT_THAT(out.violations(), IsEmpty());
}

TEST(ValidateDisplayNameTest, TooLong) {
  FieldViolations out;
  ValidateDisplayName(std::string(201, 'x'), "tenant.display_name", &out);
  EXPECT_EQ(DescriptionOf(out, "tenant.display_name"), "must be at most 200 characters, got 201");
  FieldViolations out2;
  std::string umlauts;
  for (int i = 0; i < 201; ++i) umlauts += "\xc3\xbc";
  ValidateDisplayName(umlauts, "f", &out2);
  EXPECT_EQ(DescriptionOf(out2, "f"), "must be at most 200 characters, got 201");
}

TEST(ValidateDisplayNameTest, RejectsBadUtf8) {
  for (const std::string& bad : {
           std::string("\xff"),              // never valid
           std::string("ab\xc3"),            // truncated
           std::string("\xc3\x28"),          // bad continuation
           std::string("\xc0\xaf"),          // overlong '/'
           std::string("\xe0\x80\xaf"),      // overlong
           std::string("\xf0\x80\x80\xaf"),  // overlong
           std::string("\xed\xa0\x80"),      // UTF-16 surrogate U+D800
           std::string("\xf4\x90\x80\x80"),  // above U+10FFFF
           std::string("\x80"),              // lone continuation byte
       }) {
    FieldViolations out;
    ValidateDisplayName(bad, "f", &out);
    EXPECT_THAT(DescriptionOf(out, "f"), HasSubstr("must be valid UTF-8")) << absl::CHexEscape(bad);
  }
  FieldViolations out;
  ValidateDisplayName("ok \xff", "f", &out);
  EXPECT_EQ(DescriptionOf(out, "f"), "must be valid UTF-8; invalid byte 0xff at byte offset 3");
}

TEST(ValidateDisplayNameTest, RejectsControlAndLayoutCharacters) {
  for (const std::string& bad : {std::string("a\nb"), std::string("a\tb"), std::string("a\x7f"),
                                 std::string("a\0b", 3), std::string("a\xc2\x85"),  // U+0085 NEL
                                 std::string("a\xe2\x80\xae"),     // U+202E right-to-left override
                                 std::string("a\xe2\x80\xa8"),     // U+2028 line separator
                                 std::string("a\xe2\x81\xa6")}) {  // U+2066 left-to-right isolate
    FieldViolations out;
    ValidateDisplayName(bad, "f", &out);
    EXPECT_THAT(DescriptionOf(out, "f"), HasSubstr("printable characters only"))
        << absl::CHexEscape(bad);
  }
  FieldViolations out;
  ValidateDisplayName("ab\n", "f", &out);
  EXPECT_THAT(DescriptionOf(out, "f"), HasSubstr("U+000A at character 2"));
}

TEST(ValidateCreateTenantRequestTest, ValidRequests) {
  EXPECT_THAT(Fields(ValidateCreateTenantRequest(ValidCreate(), {})), IsEmpty());
  CreateTenantRequest minimal;
  minimal.set_tenant_id("acme");
  minimal.mutable_tenant();
  EXPECT_THAT(Fields(ValidateCreateTenantRequest(minimal, {})), IsEmpty());
  CreateTenantRequest named = ValidCreate();
  named.mutable_tenant()->set_name("tenants/acme");
  EXPECT_THAT(Fields(ValidateCreateTenantRequest(named, {})), IsEmpty());
}

TEST(ValidateCreateTenantRequestTest, OutputOnlyFieldsAreIgnored) {
  CreateTenantRequest req = ValidCreate();
  mandant::v1::Tenant* t = req.mutable_tenant();
  t->set_uid("not-a-uuid");
  t->set_state(static_cast<mandant::v1::TenantState>(99));
  t->mutable_usage()->set_vcpus(-5);
  t->mutable_network()->set_node_cidr("garbage");
  t->mutable_create_time()->set_seconds(-1);
  t->set_generation(-7);
  t->set_etag("whatever");
  EXPECT_THAT(Fields(ValidateCreateTenantRequest(req, {})), IsEmpty());
}

TEST(ValidateCreateTenantRequestTest, CollectsEveryProblem) {
  CreateTenantRequest req;
  req.set_tenant_id("Bad_Id");
  req.mutable_tenant()->set_name("tenants/other");
  req.mutable_tenant()->set_display_name(std::string(201, 'x'));
  req.mutable_tenant()->mutable_quota()->set_max_clusters(-1);
  req.mutable_tenant()->mutable_quota()->set_max_nodes(10001);
  req.mutable_tenant()->mutable_network_request()->set_mode(mandant::v1::NETWORK_MODE_VLAN);
  req.mutable_tenant()->mutable_network_request()->set_node_prefix_length(8);
  req.mutable_tenant()->mutable_network_request()->set_storage_prefix_length(29);
  req.set_request_id("retry-1");
  FieldViolations v = ValidateCreateTenantRequest(req, {});
  EXPECT_THAT(Fields(v),
              UnorderedElementsAre("tenant_id", "tenant.name", "tenant.display_name",
                                   "tenant.quota.max_clusters", "tenant.quota.max_nodes",
                                   "tenant.network_request.mode",
                                   "tenant.network_request.node_prefix_length",
                                   "tenant.network_request.storage_prefix_length", "request_id"));
  absl::Status status = v.ToStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ViolationsOf(status).size(), 9u);
  EXPECT_THAT(status.message(), HasSubstr("tenant.network_request.node_prefix_length: "));
}

TEST(ValidateCreateTenantRequestTest, TenantId) {
  CreateTenantRequest req = ValidCreate();
  req.clear_tenant_id();
  EXPECT_EQ(DescriptionOf(ValidateCreateTenantRequest(req, {}), "tenant_id"), "required");
  req.set_tenant_id(std::string(41, 'a'));
  EXPECT_EQ(DescriptionOf(ValidateCreateTenantRequest(req, {}), "tenant_id"),
            "must be 2-40 characters, got 41");
  req.set_tenant_id(std::string(40, 'a'));
  EXPECT_THAT(Fields(ValidateCreateTenantRequest(req, {})), IsEmpty());
  req.set_tenant_id("9lives");
  EXPECT_THAT(DescriptionOf(ValidateCreateTenantRequest(req, {}), "tenant_id"),
              HasSubstr("must start with a lowercase letter"));
}

TEST(ValidateCreateTenantRequestTest, TenantRequired) {
  CreateTenantRequest req = ValidCreate();
  req.clear_tenant();
  EXPECT_THAT(ValidateCreateTenantRequest(req, {}).violations(),
              ElementsAre(FieldViolation{"tenant", "required"}));
}

TEST(ValidateCreateTenantRequestTest, NameMustMatchTenantId) {
  CreateTenantRequest req = ValidCreate();
  req.mutable_tenant()->set_name("tenants/beta");
  EXPECT_EQ(DescriptionOf(ValidateCreateTenantRequest(req, {}), "tenant.name"),
            "must be empty or \"tenants/\" followed by tenant_id (\"tenants/acme\"); got "
            "\"tenants/beta\"");
  req.mutable_tenant()->set_name("acme");
  EXPECT_THAT(Fields(ValidateCreateTenantRequest(req, {})), ElementsAre("tenant.name"));
}

TEST(ValidateCreateTenantRequestTest, DisplayName) {
  CreateTenantRequest req = ValidCreate();
  req.mutable_tenant()->set_display_name("bad\xc3");
  EXPECT_THAT(DescriptionOf(ValidateCreateTenantRequest(req, {}), "tenant.display_name"),
              HasSubstr("UTF-8"));
  req.mutable_tenant()->set_display_name("two\nlines");
  EXPECT_THAT(DescriptionOf(ValidateCreateTenantRequest(req, {}), "tenant.display_name"),
              HasSubstr("U+000A"));
}

TEST(ValidateCreateTenantRequestTest, NetworkMode) {
  CreateTenantRequest req = ValidCreate();
  auto* net = req.mutable_tenant()->mutable_network_request();
  net->set_mode(mandant::v1::NETWORK_MODE_UNSPECIFIED);
  EXPECT_THAT(Fields(ValidateCreateTenantRequest(req, {})), IsEmpty());

  net->set_mode(mandant::v1::NETWORK_MODE_VLAN);
  EXPECT_THAT(DescriptionOf(ValidateCreateTenantRequest(req, {}), "tenant.network_request.mode"),
              HasSubstr("VLAN mode is not enabled on this controller (no VLAN pool configured)"));
  NetworkDefaults with_vlan;
  with_vlan.vlan_enabled = true;
  EXPECT_THAT(Fields(ValidateCreateTenantRequest(req, with_vlan)), IsEmpty());

  net->set_mode(static_cast<mandant::v1::NetworkMode>(7));
  EXPECT_THAT(
      DescriptionOf(ValidateCreateTenantRequest(req, with_vlan), "tenant.network_request.mode"),
      HasSubstr("unknown value 7"));
  net->set_mode(static_cast<mandant::v1::NetworkMode>(-1));
  EXPECT_THAT(
      DescriptionOf(ValidateCreateTenantRequest(req, with_vlan), "tenant.network_request.mode"),
      HasSubstr("unknown value -1"));
}

TEST(ValidateCreateTenantRequestTest, UnknownModeSurvivesTheWire) {
  // A newer client may send a mode this server does not know; proto3 keeps
  // the number, and the validator must still reject it.
  CreateTenantRequest req = ValidCreate();
  req.mutable_tenant()->mutable_network_request()->set_mode(
      static_cast<mandant::v1::NetworkMode>(3));
  CreateTenantRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(req.SerializeAsString()));
  EXPECT_THAT(Fields(ValidateCreateTenantRequest(parsed, {})),
              ElementsAre("tenant.network_request.mode"));
}

TEST(ValidateCreateTenantRequestTest, PrefixLengths) {
  NetworkDefaults net;  // 16-28, default 24
  for (int ok : {0, 16, 20, 28}) {
    CreateTenantRequest req = ValidCreate();
    req.mutable_tenant()->mutable_network_request()->set_node_prefix_length(ok);
    req.mutable_tenant()->mutable_network_request()->set_storage_prefix_length(ok);
    EXPECT_THAT(Fields(ValidateCreateTenantRequest(req, net)), IsEmpty()) << ok;
  }
  for (int bad : {-1, 1, 15, 29, 32, 129}) {
    CreateTenantRequest req = ValidCreate();
    req.mutable_tenant()->mutable_network_request()->set_node_prefix_length(bad);
    req.mutable_tenant()->mutable_network_request()->set_storage_prefix_length(bad);
    EXPECT_THAT(Fields(ValidateCreateTenantRequest(req, net)),
                ElementsAre("tenant.network_request.node_prefix_length",
                            "tenant.network_request.storage_prefix_length"))
        << bad;
  }
  CreateTenantRequest req = ValidCreate();
  req.mutable_tenant()->mutable_network_request()->set_node_prefix_length(29);
  EXPECT_EQ(DescriptionOf(ValidateCreateTenantRequest(req, net),
                          "tenant.network_request.node_prefix_length"),
            "must be between 16 and 28, or 0 for the default of 24; got 29");
  NetworkDefaults narrow{26, 20, 26, false};
  EXPECT_THAT(Fields(ValidateCreateTenantRequest(req, narrow)),
              ElementsAre("tenant.network_request.node_prefix_length"));
}

TEST(ValidateCreateTenantRequestTest, QuotaIsValidated) {
  CreateTenantRequest req = ValidCreate();
  req.mutable_tenant()->mutable_quota()->set_max_vcpus(1000001);
  EXPECT_EQ(DescriptionOf(ValidateCreateTenantRequest(req, {}), "tenant.quota.max_vcpus"),
            "must be between 0 and 1000000, got 1000001");
}

TEST(ValidateCreateTenantRequestTest, RequestId) {
  CreateTenantRequest req = ValidCreate();
  req.clear_request_id();
  EXPECT_THAT(Fields(ValidateCreateTenantRequest(req, {})), IsEmpty());
  req.set_request_id("123e4567e89b12d3a456426614174000");
  EXPECT_THAT(DescriptionOf(ValidateCreateTenantRequest(req, {}), "request_id"),
              HasSubstr("8-4-4-4-12"));
}

TEST(ValidateGetTenantRequestTest, Name) {
  GetTenantRequest req;
  req.set_name("tenants/acme");
  EXPECT_THAT(Fields(ValidateGetTenantRequest(req)), IsEmpty());
  req.clear_name();
  EXPECT_THAT(ValidateGetTenantRequest(req).violations(),
              ElementsAre(FieldViolation{"name", "required"}));
  req.set_name("tenants/acme/clusters/prod");
  EXPECT_THAT(Fields(ValidateGetTenantRequest(req)), ElementsAre("name"));
  req.set_name("acme");
  EXPECT_THAT(DescriptionOf(ValidateGetTenantRequest(req), "name"),
              HasSubstr("\"tenants/{tenant_id}\""));
}

TEST(ValidateListTenantsRequestTest, Ranges) {
  ListTenantsRequest req;
  EXPECT_THAT(Fields(ValidateListTenantsRequest(req)), IsEmpty());
  req.set_page_size(1000);
  req.set_page_token(std::string(1024, 't'));
  req.set_state(mandant::v1::TENANT_STATE_SUSPENDED);
  EXPECT_THAT(Fields(ValidateListTenantsRequest(req)), IsEmpty());

  req.set_page_size(1001);
  req.set_page_token(std::string(1025, 't'));
  req.set_state(static_cast<mandant::v1::TenantState>(3));
  FieldViolations v = ValidateListTenantsRequest(req);
  EXPECT_THAT(Fields(v), UnorderedElementsAre("page_size", "page_token", "state"));
  EXPECT_EQ(DescriptionOf(v, "page_size"),
            "must be between 0 and 1000 (0 for the default), got 1001");
  EXPECT_THAT(DescriptionOf(v, "state"), HasSubstr("unknown value 3"));
  EXPECT_THAT(DescriptionOf(v, "page_token"), HasSubstr("at most 1024 bytes, got 1025"));

  req.Clear();
  req.set_page_size(-1);
  EXPECT_THAT(Fields(ValidateListTenantsRequest(req)), ElementsAre("page_size"));
}

UpdateTenantRequest ValidUpdate(std::initializer_list<const char*> paths) {
  UpdateTenantRequest req;
  req.mutable_tenant()->set_name("tenants/acme");
  req.mutable_tenant()->set_display_name("ACME");
  req.mutable_tenant()->set_state(mandant::v1::TENANT_STATE_SUSPENDED);
  req.mutable_tenant()->mutable_quota()->set_max_nodes(100);
  for (const char* p : paths) req.mutable_update_mask()->add_paths(p);
  return req;
}

TEST(ValidateUpdateTenantRequestTest, EveryAllowedPath) {
  for (absl::string_view path : kUpdatableTenantPaths) {
    UpdateTenantRequest req = ValidUpdate({});
    req.mutable_update_mask()->add_paths(std::string(path));
    EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)), IsEmpty()) << path;
  }
  UpdateTenantRequest all = ValidUpdate({"display_name", "state", "quota"});
  all.set_request_id(kUuid);
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(all)), IsEmpty());
}

TEST(ValidateUpdateTenantRequestTest, TenantAndMaskRequired) {
  UpdateTenantRequest req;
  FieldViolations v = ValidateUpdateTenantRequest(req);
  EXPECT_THAT(Fields(v), ElementsAre("tenant", "update_mask"));
  EXPECT_THAT(DescriptionOf(v, "update_mask"), HasSubstr("required"));
  EXPECT_THAT(DescriptionOf(v, "update_mask"), HasSubstr("quota.max_storage_gib"));

  req = ValidUpdate({});
  req.mutable_update_mask();  // present but empty
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)), ElementsAre("update_mask"));

  // No tenant: the fields the mask names are not checked again.
  req.clear_tenant();
  req.mutable_update_mask()->add_paths("state");
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)), ElementsAre("tenant"));
}

TEST(ValidateUpdateTenantRequestTest, TenantName) {
  UpdateTenantRequest req = ValidUpdate({"display_name"});
  req.mutable_tenant()->clear_name();
  EXPECT_EQ(DescriptionOf(ValidateUpdateTenantRequest(req), "tenant.name"), "required");
  req.mutable_tenant()->set_name("tenants/ACME");
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)), ElementsAre("tenant.name"));
}

TEST(ValidateUpdateTenantRequestTest, UnknownPathListsTheAllowedOnes) {
  for (const char* bad : {"name", "network_request", "quota.max_gpus", "tenant.display_name",
                          "displayName", "*", "", "quota."}) {
    UpdateTenantRequest req = ValidUpdate({bad});
    FieldViolations v = ValidateUpdateTenantRequest(req);
    EXPECT_THAT(Fields(v), ElementsAre("update_mask")) << bad;
    EXPECT_EQ(DescriptionOf(v, "update_mask"),
              "unknown path \"" + std::string(bad) +
                  "\"; allowed: display_name, state, quota, quota.max_clusters, quota.max_nodes, "
                  "quota.max_vcpus, quota.max_memory_mib, quota.max_storage_gib");
  }
}

TEST(ValidateUpdateTenantRequestTest, PathNamedTwice) {
  UpdateTenantRequest req = ValidUpdate({"state", "display_name", "state"});
  FieldViolations v = ValidateUpdateTenantRequest(req);
  EXPECT_THAT(v.violations(),
              ElementsAre(FieldViolation{"update_mask", "path \"state\" is named twice"}));
}

TEST(ValidateUpdateTenantRequestTest, State) {
  UpdateTenantRequest req = ValidUpdate({"state"});
  req.mutable_tenant()->set_state(mandant::v1::TENANT_STATE_ACTIVE);
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)), IsEmpty());
  req.mutable_tenant()->set_state(mandant::v1::TENANT_STATE_UNSPECIFIED);
  EXPECT_THAT(DescriptionOf(ValidateUpdateTenantRequest(req), "tenant.state"),
              HasSubstr("got TENANT_STATE_UNSPECIFIED"));
  req.mutable_tenant()->set_state(static_cast<mandant::v1::TenantState>(42));
  EXPECT_THAT(DescriptionOf(ValidateUpdateTenantRequest(req), "tenant.state"),
              HasSubstr("got unknown value 42"));
  // Not in the mask: the update ignores it, so it is not checked.
  req.mutable_update_mask()->set_paths(0, "display_name");
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)), IsEmpty());
}

TEST(ValidateUpdateTenantRequestTest, DisplayNameOnlyWhenInMask) {
  UpdateTenantRequest req = ValidUpdate({"display_name"});
  req.mutable_tenant()->set_display_name(std::string(201, 'x'));
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)), ElementsAre("tenant.display_name"));
  req.mutable_tenant()->set_display_name("");  // clearing it is allowed
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)), IsEmpty());
  req.mutable_tenant()->set_display_name("\x01");
  req.mutable_update_mask()->set_paths(0, "state");
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)), IsEmpty());
}

TEST(ValidateUpdateTenantRequestTest, Quota) {
  UpdateTenantRequest req = ValidUpdate({"quota"});
  req.mutable_tenant()->mutable_quota()->set_max_vcpus(-1);
  req.mutable_tenant()->mutable_quota()->set_max_clusters(1001);
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)),
              ElementsAre("tenant.quota.max_clusters", "tenant.quota.max_vcpus"));

  // A single quota path checks only that field.
  req.mutable_update_mask()->set_paths(0, "quota.max_vcpus");
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)), ElementsAre("tenant.quota.max_vcpus"));
  req.mutable_update_mask()->set_paths(0, "quota.max_nodes");
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)), IsEmpty());

  // "quota" and one of its fields: each bad field reported once.
  req.mutable_update_mask()->set_paths(0, "quota");
  req.mutable_update_mask()->add_paths("quota.max_vcpus");
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)),
              ElementsAre("tenant.quota.max_clusters", "tenant.quota.max_vcpus"));
}

TEST(ValidateUpdateTenantRequestTest, CollectsEveryProblem) {
  UpdateTenantRequest req = ValidUpdate({"state", "bogus", "display_name", "quota.max_nodes"});
  req.mutable_tenant()->set_name("acme");
  req.mutable_tenant()->set_state(mandant::v1::TENANT_STATE_UNSPECIFIED);
  req.mutable_tenant()->set_display_name("\xff");
  req.mutable_tenant()->mutable_quota()->set_max_nodes(10001);
  req.set_request_id("nope");
  EXPECT_THAT(Fields(ValidateUpdateTenantRequest(req)),
              UnorderedElementsAre("tenant.name", "update_mask", "tenant.state",
                                   "tenant.display_name", "tenant.quota.max_nodes", "request_id"));
}

TEST(ValidateDeleteTenantRequestTest, NameAndRequestId) {
  DeleteTenantRequest req;
  req.set_name("tenants/acme");
  req.set_etag("\"anything\"");
  req.set_request_id(kUuid);
  EXPECT_THAT(Fields(ValidateDeleteTenantRequest(req)), IsEmpty());
  req.set_name("tenants/");
  req.set_request_id("x");
  EXPECT_THAT(Fields(ValidateDeleteTenantRequest(req)), ElementsAre("name", "request_id"));
}

}  // namespace
}  // namespace mandant::tenants
