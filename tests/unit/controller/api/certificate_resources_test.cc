#include "controller/api/certificate_resources.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::controller::api {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Fields(const absl::Status& st) {
  std::vector<std::string> out;
  for (const auto& v : tenants::ViolationsOf(st)) out.push_back(v.field);
  return out;
}

TEST(ParsePkiScopeTest, InfrastructureAndTenants) {
  auto infra = ParsePkiScope("infrastructure", "parent");
  ASSERT_THAT(infra, IsOk());
  EXPECT_TRUE(infra->infrastructure());
  auto acme = ParsePkiScope("tenants/acme", "parent");
  ASSERT_THAT(acme, IsOk());
  EXPECT_EQ(acme->tenant, "acme");
  EXPECT_EQ(acme->name, "tenants/acme");
  EXPECT_FALSE(acme->infrastructure());
}

TEST(ParsePkiScopeTest, RefusesOthersOnTheField) {
  for (absl::string_view bad :
       {"", "tenants/", "tenants/Acme", "hosts/hv1", "infrastructure/", "tenants/acme/x"}) {
    auto st = ParsePkiScope(bad, "parent").status();
    EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument, "")) << bad;
    EXPECT_THAT(Fields(st), ElementsAre("parent")) << bad;
  }
}

TEST(ParseScopedNameTest, SplitsScopeAndId) {
  auto name =
      ParseScopedName("tenants/acme/issuers/20261126-0a1b2c3d/crl", "issuers", "/crl", "name");
  ASSERT_THAT(name, IsOk());
  EXPECT_EQ(name->scope.tenant, "acme");
  EXPECT_EQ(name->id, "20261126-0a1b2c3d");
  auto cert = ParseScopedName("infrastructure/certificates/0a1b", "certificates", "", "name");
  ASSERT_THAT(cert, IsOk());
  EXPECT_TRUE(cert->scope.infrastructure());
  EXPECT_EQ(cert->id, "0a1b");
}

TEST(ParseScopedNameTest, RefusesBadIdsAndScopes) {
  for (absl::string_view bad : {"tenants/acme/certificates/", "tenants/acme/certificates/0A1B",
                                "tenants/acme/certificates/0a1b/x", "tenants/acme/issuers/0a1b",
                                "foo/certificates/0a1b", "tenants/acme/certificates/zz"}) {
    auto st = ParseScopedName(bad, "certificates", "", "name").status();
    EXPECT_THAT(Fields(st), ElementsAre("name")) << bad;
  }
  const std::string long_id(65, 'a');
  EXPECT_THAT(ParseScopedName("infrastructure/certificates/" + long_id, "certificates", "", "n"),
              Not(IsOk()));
  EXPECT_THAT(ParseScopedName("infrastructure/certificates/" + std::string(64, 'a'), "certificates",
                              "", "n"),
              IsOk());
}

TEST(ParseScopedNameTest, EchoesTheNameQuotedAndCut) {
  const std::string hostile = "tenants/acme/certificates/\n" + std::string(500, 'x');
  auto st = ParseScopedName(hostile, "certificates", "", "name").status();
  EXPECT_THAT(st.message(), Not(HasSubstr("\n")));
  EXPECT_THAT(st.message(), HasSubstr("\\n"));
  EXPECT_THAT(st.message(), HasSubstr("...\""));
  EXPECT_LT(st.message().size(), 300u);
}

TEST(ParseScopeSingletonTest, TrustBundleAndPolicy) {
  auto bundle = ParseScopeSingleton("infrastructure/trustBundle", "trustBundle", false, "name");
  ASSERT_THAT(bundle, IsOk());
  EXPECT_TRUE(bundle->infrastructure());
  auto policy = ParseScopeSingleton("tenants/acme/issuancePolicy", "issuancePolicy", true, "n");
  ASSERT_THAT(policy, IsOk());
  EXPECT_EQ(policy->tenant, "acme");
  EXPECT_THAT(Fields(ParseScopeSingleton("infrastructure/issuancePolicy", "issuancePolicy", true,
                                         "policy.name")
                         .status()),
              ElementsAre("policy.name"));
  EXPECT_THAT(Fields(ParseScopeSingleton("tenants/acme", "trustBundle", false, "name").status()),
              ElementsAre("name"));
}

TEST(CheckEtagTest, QuotesAndCutsTheCallersEtag) {
  EXPECT_THAT(CheckEtag("issuer \"x\"", "", "abc-1"), IsOk());
  EXPECT_THAT(CheckEtag("issuer \"x\"", "abc-1", "abc-1"), IsOk());
  const absl::Status st = CheckEtag("issuer \"x\"", "\x1b[31m" + std::string(200, 'e'), "abc-2");
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kAborted, "etag \"abc-2\""));
  EXPECT_THAT(st.message(), Not(HasSubstr("\x1b")));
  EXPECT_THAT(st.message(), HasSubstr("\\x1b[31m"));
  EXPECT_LT(st.message().size(), 200u);
}

TEST(CheckRequestIdTest, QuotesTheBadId) {
  tenants::FieldViolations bad;
  CheckRequestId("123e4567-e89b-12d3-a456-426614174000", bad);
  EXPECT_TRUE(bad.empty());
  CheckRequestId("not\ta-uuid", bad);
  ASSERT_EQ(bad.violations().size(), 1u);
  EXPECT_THAT(bad.violations()[0].description, HasSubstr("\"not\\ta-uuid\""));
}

TEST(CheckTenantActiveTest, SuspendedIsAPrecondition) {
  EXPECT_THAT(CheckTenantActive({"uid", v1::TENANT_STATE_ACTIVE}, "acme"), IsOk());
  EXPECT_THAT(CheckTenantActive({"uid", v1::TENANT_STATE_SUSPENDED}, "acme"),
              StatusIs(absl::StatusCode::kFailedPrecondition, "tenant \"acme\" is suspended"));
}

TEST(EnumTextTest, EveryStoredTextHasItsEnum) {
  EXPECT_EQ(KeyTypeProto("ECDSA_P256"), v1::KEY_TYPE_ECDSA_P256);
  EXPECT_EQ(KeyTypeProto("ECDSA_P384"), v1::KEY_TYPE_ECDSA_P384);
  EXPECT_EQ(KeyTypeProto("ED25519"), v1::KEY_TYPE_ED25519);
  EXPECT_EQ(KeyTypeProto("RSA"), v1::KEY_TYPE_RSA);
  EXPECT_EQ(KeyTypeProto("DSA"), v1::KEY_TYPE_UNSPECIFIED);
  EXPECT_EQ(IssuerKindProto(store::IssuerKind::kRoot), v1::ISSUER_KIND_ROOT);
  EXPECT_EQ(IssuerKindProto(store::IssuerKind::kInfrastructure), v1::ISSUER_KIND_INFRASTRUCTURE);
  EXPECT_EQ(IssuerKindProto(store::IssuerKind::kTenant), v1::ISSUER_KIND_TENANT);
  EXPECT_EQ(IssuerStateProto(store::IssuerState::kPrepared), v1::ISSUER_STATE_PREPARED);
  EXPECT_EQ(IssuerStateProto(store::IssuerState::kActive), v1::ISSUER_STATE_ACTIVE);
  EXPECT_EQ(IssuerStateProto(store::IssuerState::kRetired), v1::ISSUER_STATE_RETIRED);
  EXPECT_EQ(UsageProto("SERVER_AUTH"), v1::CERTIFICATE_USAGE_SERVER_AUTH);
  EXPECT_EQ(UsageProto("CLIENT_AUTH"), v1::CERTIFICATE_USAGE_CLIENT_AUTH);
  EXPECT_EQ(UsageProto("CODE_SIGNING"), v1::CERTIFICATE_USAGE_UNSPECIFIED);
}

TEST(EtagTest, ChangeWithTheGeneration) {
  store::IssuerRow issuer;
  issuer.id = "20261126-0a1b2c3d";
  issuer.generation = 3;
  EXPECT_EQ(IssuerEtag(issuer), "0a1b2c3d-3");
  store::CertificateRow cert;
  cert.serial = "0123456789abcdef";
  cert.generation = 2;
  EXPECT_EQ(CertificateEtag(cert), "01234567-2");
  EXPECT_EQ(PolicyEtag(7), "p-7");
}

TEST(CertificateToProtoTest, NamesAndRevocation) {
  store::CertificateRow row;
  row.serial = "0a1b";
  row.issuer_id = "20261126-0a1b2c3d";
  row.scope = "tenants/acme";
  row.usages = {"SERVER_AUTH", "CLIENT_AUTH"};
  row.key_type = "ED25519";
  row.not_before = absl::FromUnixSeconds(1700000000);
  row.not_after = absl::FromUnixSeconds(1700086400);
  row.revoke_time = absl::FromUnixSeconds(1700001000);
  row.revoke_reason = v1::REVOCATION_REASON_KEY_COMPROMISE;
  v1::Certificate out;
  CertificateToProto(row, &out);
  EXPECT_EQ(out.name(), "tenants/acme/certificates/0a1b");
  EXPECT_EQ(out.issuer(), "tenants/acme/issuers/20261126-0a1b2c3d");
  EXPECT_EQ(out.tenant(), "tenants/acme");
  EXPECT_THAT(out.usages(),
              ElementsAre(v1::CERTIFICATE_USAGE_SERVER_AUTH, v1::CERTIFICATE_USAGE_CLIENT_AUTH));
  EXPECT_EQ(out.key_type(), v1::KEY_TYPE_ED25519);
  EXPECT_EQ(out.not_after().seconds(), 1700086400);
  EXPECT_EQ(out.revocation().revoke_time().seconds(), 1700001000);
  EXPECT_EQ(out.revocation().reason(), v1::REVOCATION_REASON_KEY_COMPROMISE);

  row.scope = "infrastructure";
  row.revoke_time.reset();
  v1::Certificate infra;
  CertificateToProto(row, &infra);
  EXPECT_EQ(infra.tenant(), "");
  EXPECT_FALSE(infra.has_revocation());
}

TEST(PolicyFromProtoTest, CopiesEveryField) {
  v1::IssuancePolicy p;
  p.set_dns_zone("acme.svc");
  p.add_allowed_dns_names("*.acme.svc");
  p.add_allowed_key_types(v1::KEY_TYPE_ED25519);
  p.add_allowed_key_types(v1::KEY_TYPE_RSA);
  p.set_min_rsa_bits(3072);
  p.mutable_max_ttl()->set_seconds(7200);
  p.mutable_default_ttl()->set_seconds(600);
  pki::IssuancePolicy out = PolicyFromProto(p);
  EXPECT_EQ(out.dns_zone, "acme.svc");
  EXPECT_THAT(out.allowed_dns_names, ElementsAre("*.acme.svc"));
  EXPECT_THAT(out.allowed_key_types, ElementsAre(pki::KeyType::kEd25519, pki::KeyType::kRsa));
  EXPECT_EQ(out.min_rsa_bits, 3072);
  EXPECT_EQ(out.max_ttl, absl::Hours(2));
  EXPECT_EQ(out.default_ttl, absl::Minutes(10));
}

}  // namespace
}  // namespace mandant::controller::api
