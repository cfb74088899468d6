#include "pki/certificate_info.h"

#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "pki/encoding.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/pki/pki_test_util.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;
using ::testing::ElementsAre;

TEST(DescribeCertificateTest, ReadsWhatTheInventoryRecords) {
  const absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  absl::StatusOr<CertificateAuthority> root = testing::MakeRoot(now);
  ASSERT_OK(root);
  absl::StatusOr<testing::Leaf> leaf = testing::IssueTestLeaf(
      *root, {{"api.example.org"}, {"spiffe://example.org/api"}, {"192.0.2.1", "2001:db8::1"}},
      now);
  ASSERT_OK(leaf);
  absl::StatusOr<CertificateInfo> info = DescribeCertificate(leaf->cert.get());
  ASSERT_OK(info);
  EXPECT_EQ(info->subject, "CN=api.example.org");
  EXPECT_EQ(info->issuer, "CN=Mandant test root,O=Mandant");
  EXPECT_EQ(info->subject_alt_names,
            (SubjectAltNames{
                {"api.example.org"}, {"spiffe://example.org/api"}, {"192.0.2.1", "2001:db8::1"}}));
  EXPECT_THAT(info->extended_key_usages,
              ElementsAre(ExtendedKeyUsage::kServerAuth, ExtendedKeyUsage::kClientAuth));
  EXPECT_EQ(info->key, (KeyInfo{KeyType::kEcdsaP256, 0}));
  EXPECT_EQ(info->not_before, now - absl::Minutes(1));
  EXPECT_EQ(info->not_after, now + absl::Hours(24));
  EXPECT_FALSE(info->is_ca);
  EXPECT_EQ(info->path_length, -1);
  // What the inventory records, computed outside this code: SHA-256 of the
  // DER SubjectPublicKeyInfo, as the openssl and sha256sum commands give it.
  absl::StatusOr<std::string> cli = testing::RunShell(
      "openssl x509 -in \"$IN\" -noout -pubkey | openssl pkey -pubin -outform der | sha256sum "
      "| cut -d' ' -f1",
      testing::Pem(leaf->cert.get()));
  ASSERT_OK(cli);
  EXPECT_EQ(info->public_key_sha256 + "\n", *cli);
  EXPECT_EQ(info->serial_hex.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(info->serial_hex.front(), '0');

  absl::StatusOr<CertificateInfo> ca = DescribeCertificate(root->certificate());
  ASSERT_OK(ca);
  EXPECT_TRUE(ca->is_ca);
  EXPECT_EQ(ca->path_length, 1);
  EXPECT_EQ(ca->subject, ca->issuer);
}

}  // namespace
}  // namespace mandant::pki
