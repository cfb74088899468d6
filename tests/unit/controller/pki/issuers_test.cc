#include "controller/pki/issuers.h"

#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "pki/key.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/pki/pki_test_util.h"

namespace mandant::controller {
namespace {

using ::mandant::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::MatchesRegex;

Issuers MakeIssuers(PkiOptions options) {
  auto kek = pki::Kek::Generate("kek-test");
  EXPECT_THAT(kek, IsOk());
  auto ring = pki::KeyRing::Create(*std::move(kek));
  EXPECT_THAT(ring, IsOk());
  return Issuers(std::move(options), *std::move(ring));
}

TEST(NewIssuerIdTest, DateAndRandomPart) {
  const absl::Time now =
      absl::FromCivil(absl::CivilSecond(2026, 11, 26, 23, 59, 0), absl::UTCTimeZone());
  const std::string a = NewIssuerId(now);
  EXPECT_THAT(a, MatchesRegex("20261126-[0-9a-f]{8}"));
  // Ids of one day differ; the table's primary key relies on it.
  EXPECT_NE(a, NewIssuerId(now));
}

TEST(KeyTypeTextTest, EveryKeyType) {
  pki::KeyInfo key;
  key.type = pki::KeyType::kEcdsaP256;
  EXPECT_EQ(KeyTypeText(key), "ECDSA_P256");
  key.type = pki::KeyType::kEcdsaP384;
  EXPECT_EQ(KeyTypeText(key), "ECDSA_P384");
  key.type = pki::KeyType::kEd25519;
  EXPECT_EQ(KeyTypeText(key), "ED25519");
  key.type = pki::KeyType::kRsa;
  EXPECT_EQ(KeyTypeText(key), "RSA");
}

TEST(UsageTextTest, BothUsages) {
  EXPECT_EQ(UsageText(pki::ExtendedKeyUsage::kServerAuth), "SERVER_AUTH");
  EXPECT_EQ(UsageText(pki::ExtendedKeyUsage::kClientAuth), "CLIENT_AUTH");
}

TEST(IssuersNamesTest, TenantZonesAndIdentities) {
  PkiOptions options;
  options.dns_base_domain = "svc.example.net";
  options.spiffe_base_domain = "tenants.example.net";
  options.trust_domain = "mandant.example.net";
  Issuers issuers = MakeIssuers(options);
  EXPECT_EQ(issuers.TenantDnsZone("acme"), "acme.svc.example.net");
  EXPECT_EQ(issuers.TenantTrustDomain("acme"), "acme.tenants.example.net");
  EXPECT_EQ(issuers.AgentIdentity("hv1"), "spiffe://mandant.example.net/host/hv1");
  EXPECT_EQ(issuers.keys().current().id(), "kek-test");
}

TEST(IssuersNamesTest, CrlUrlOnlyWhenConfigured) {
  EXPECT_EQ(MakeIssuers(PkiOptions()).CrlUrl("20261126-0a1b2c3d"), "");
  PkiOptions options;
  options.crl_base_url = "http://mandant.example.net:9464/crl/";
  EXPECT_EQ(MakeIssuers(options).CrlUrl("20261126-0a1b2c3d"),
            "http://mandant.example.net:9464/crl/20261126-0a1b2c3d.crl");
}

TEST(InventoryRowTest, DescribesTheLeaf) {
  const absl::Time now = absl::Now();
  auto root = pki::testing::MakeRoot(now);
  ASSERT_THAT(root, IsOk());
  auto ca = pki::testing::MakeTenantCa(*root, "acme", "10.64.0.0/24", now);
  ASSERT_THAT(ca, IsOk());
  pki::SubjectAltNames names;
  names.dns_names = {"api.acme.svc.example.net"};
  names.ip_addresses = {"10.64.0.7"};
  auto leaf = pki::testing::IssueTestLeaf(*ca, names, now);
  ASSERT_THAT(leaf, IsOk());
  auto row = InventoryRow(leaf->cert.get(), "20261126-0a1b2c3d", "tenants/acme", "uid-1");
  ASSERT_THAT(row, IsOk());
  EXPECT_EQ(row->issuer_id, "20261126-0a1b2c3d");
  EXPECT_EQ(row->scope, "tenants/acme");
  EXPECT_EQ(row->tenant_uid, "uid-1");
  EXPECT_THAT(row->serial, MatchesRegex("[0-9a-f]+"));
  EXPECT_THAT(row->dns_names, ElementsAre("api.acme.svc.example.net"));
  EXPECT_THAT(row->ip_addresses, ElementsAre("10.64.0.7"));
  EXPECT_THAT(row->usages, ElementsAre("SERVER_AUTH", "CLIENT_AUTH"));
  EXPECT_EQ(row->key_type, "ECDSA_P256");
  EXPECT_EQ(row->public_key_sha256.size(), 64u);
  EXPECT_LT(row->not_before, row->not_after);
  EXPECT_TRUE(absl::StartsWith(row->certificate_pem, "-----BEGIN CERTIFICATE-----"));
}

}  // namespace
}  // namespace mandant::controller
