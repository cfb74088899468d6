#include "pki/kubernetes_pki.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <openssl/x509_vfy.h>

#include "pki/certificate_authority.h"
#include "pki/certificate_info.h"
#include "pki/encoding.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/pki/pki_test_util.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;
using ::testing::StartsWith;

class KubernetesPkiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<KubernetesPki> pki = GenerateKubernetesPki(absl::Now());
    ASSERT_OK(pki);
    pki_ = new KubernetesPki(*std::move(pki));
  }
  static void TearDownTestSuite() { delete pki_; }

  static KubernetesPki* pki_;
};

KubernetesPki* KubernetesPkiTest::pki_ = nullptr;

TEST_F(KubernetesPkiTest, CasHaveTheNamesKubeadmExpects) {
  const std::pair<const KubernetesCa*, const char*> cas[] = {
      {&pki_->cluster_ca, "CN=kubernetes"},
      {&pki_->etcd_ca, "CN=etcd-ca"},
      {&pki_->front_proxy_ca, "CN=front-proxy-ca"},
  };
  for (const auto& [ca, subject] : cas) {
    absl::StatusOr<CertificateAuthority> loaded =
        CertificateAuthority::FromPem(ca->certificate_pem, ca->private_key_pem.view());
    ASSERT_OK(loaded);
    EXPECT_EQ(loaded->subject(), subject);
    EXPECT_EQ(loaded->path_length(), 0);
    EXPECT_EQ(loaded->name_constraints(), nullptr);
    EXPECT_EQ(loaded->key_info().type, KeyType::kEcdsaP256);
    EXPECT_EQ(loaded->not_after() - loaded->not_before(), absl::Hours(24 * 365 * 10) + kBackdate);
    EXPECT_THAT(std::string(ca->private_key_pem.view()), StartsWith("-----BEGIN PRIVATE KEY-----"));
  }
}

TEST_F(KubernetesPkiTest, EachCaIsItsOwnSelfSignedRoot) {
  std::set<std::string> keys;
  for (const KubernetesCa* ca : {&pki_->cluster_ca, &pki_->etcd_ca, &pki_->front_proxy_ca}) {
    absl::StatusOr<X509Ptr> cert = ParseCertificate(ca->certificate_pem);
    ASSERT_OK(cert);
    EXPECT_EQ(X509_check_issued(cert->get(), cert->get()), X509_V_OK);
    EXPECT_EQ(X509_self_signed(cert->get(), 1), 1);
    testing::VerifyOptions options;
    options.trusted = {cert->get()};
    EXPECT_EQ(testing::VerifyWithOpenSsl(cert->get(), options), X509_V_OK);
    absl::StatusOr<CertificateInfo> info = DescribeCertificate(cert->get());
    ASSERT_OK(info);
    keys.insert(info->public_key_sha256);
  }
  EXPECT_EQ(keys.size(), 3u);
}

TEST_F(KubernetesPkiTest, NothingVerifiesAcrossPkis) {
  const absl::Time now = absl::Now();
  absl::StatusOr<CertificateAuthority> mandant_root = testing::MakeRoot(now);
  ASSERT_OK(mandant_root);
  absl::StatusOr<CertificateAuthority> cluster = CertificateAuthority::FromPem(
      pki_->cluster_ca.certificate_pem, pki_->cluster_ca.private_key_pem.view());
  ASSERT_OK(cluster);
  absl::StatusOr<X509Ptr> etcd = ParseCertificate(pki_->etcd_ca.certificate_pem);
  ASSERT_OK(etcd);

  // A cluster CA is not verifiable under the Mandant root, and a leaf of the
  // cluster CA is verifiable under neither the Mandant root nor the etcd CA.
  testing::VerifyOptions under_mandant;
  under_mandant.trusted = {mandant_root->certificate()};
  EXPECT_EQ(testing::VerifyWithOpenSsl(cluster->certificate(), under_mandant),
            X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
  EXPECT_THAT(testing::VerifyWithOpenSslCli(pki_->cluster_ca.certificate_pem,
                                            {testing::Pem(mandant_root->certificate())}, {}),
              StatusIs(absl::StatusCode::kInternal, "self-signed certificate"));
  absl::StatusOr<testing::Leaf> apiserver =
      testing::IssueTestLeaf(*cluster, {{"kubernetes.default.svc"}, {}, {}}, now);
  ASSERT_OK(apiserver);
  EXPECT_EQ(testing::VerifyWithOpenSsl(apiserver->cert.get(), under_mandant),
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  testing::VerifyOptions under_etcd;
  under_etcd.trusted = {etcd->get()};
  EXPECT_EQ(testing::VerifyWithOpenSsl(apiserver->cert.get(), under_etcd),
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  testing::VerifyOptions under_cluster;
  under_cluster.trusted = {cluster->certificate()};
  EXPECT_EQ(testing::VerifyWithOpenSsl(apiserver->cert.get(), under_cluster), X509_V_OK);
}

TEST_F(KubernetesPkiTest, CaCertHashMatchesTheOpenSslCommandLine) {
  absl::StatusOr<std::string> cli = testing::RunShell(
      "openssl x509 -pubkey -noout -in \"$IN\" | openssl pkey -pubin -outform der 2>/dev/null | "
      "sha256sum | cut -d' ' -f1",
      pki_->cluster_ca.certificate_pem);
  ASSERT_OK(cli);
  EXPECT_EQ(pki_->ca_cert_hash, absl::StrCat("sha256:", absl::StripAsciiWhitespace(*cli)));
  EXPECT_EQ(pki_->ca_cert_hash.size(), 7u + 64u);
}

TEST_F(KubernetesPkiTest, ServiceAccountKeyIsRsa2048LikeKubeadms) {
  absl::StatusOr<EvpPkeyPtr> private_key =
      ParsePrivateKey(pki_->service_account_private_key_pem.view());
  ASSERT_OK(private_key);
  absl::StatusOr<EvpPkeyPtr> public_key = ParsePublicKey(pki_->service_account_public_key_pem);
  ASSERT_OK(public_key);
  EXPECT_EQ(EVP_PKEY_eq(private_key->get(), public_key->get()), 1);
  absl::StatusOr<KeyInfo> info = ClassifyKey(public_key->get());
  ASSERT_OK(info);
  EXPECT_EQ(*info, (KeyInfo{KeyType::kRsa, 2048}));
  EXPECT_THAT(pki_->service_account_public_key_pem, StartsWith("-----BEGIN PUBLIC KEY-----"));
  absl::StatusOr<std::string> cli = testing::RunShell("openssl pkey -in \"$IN\" -pubout",
                                                      pki_->service_account_private_key_pem.view());
  ASSERT_OK(cli);
  EXPECT_EQ(*cli, pki_->service_account_public_key_pem);
}

TEST(KubernetesPkiOptionsTest, HonoursKeyTypesAndRefusesBadOnes) {
  KubernetesPkiOptions options;
  options.ca_key_type = KeyType::kEcdsaP384;
  options.service_account_key_type = KeyType::kEcdsaP256;
  absl::StatusOr<KubernetesPki> pki = GenerateKubernetesPki(absl::Now(), options);
  ASSERT_OK(pki);
  absl::StatusOr<X509Ptr> ca = ParseCertificate(pki->etcd_ca.certificate_pem);
  ASSERT_OK(ca);
  EXPECT_THAT(ClassifyKey(X509_get0_pubkey(ca->get())),
              mandant::testing::IsOkAndHolds(KeyInfo{KeyType::kEcdsaP384, 0}));
  options.service_account_key_type = KeyType::kRsa;
  options.service_account_rsa_bits = 1024;
  EXPECT_THAT(GenerateKubernetesPki(absl::Now(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, "RSA key of 1024 bits"));
}

}  // namespace
}  // namespace mandant::pki
