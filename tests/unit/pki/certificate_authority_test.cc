#include "pki/certificate_authority.h"

#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "pki/asn1_time.h"
#include "pki/certificate_info.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/pki/pki_test_util.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CertificateAuthorityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<CertificateAuthority> root = testing::MakeRoot(now_);
    ASSERT_OK(root);
    root_.emplace(*std::move(root));
    absl::StatusOr<CertificateAuthority> acme =
        testing::MakeTenantCa(*root_, "acme", "10.64.3.0/24", now_);
    ASSERT_OK(acme);
    acme_.emplace(*std::move(acme));
  }

  int Verify(X509* leaf, unsigned long flags = 0) {
    testing::VerifyOptions options;
    options.trusted = {root_->certificate()};
    options.untrusted = {acme_->certificate()};
    options.flags = flags;
    return testing::VerifyWithOpenSsl(leaf, options);
  }

  absl::Status VerifyCli(X509* leaf) {
    return testing::VerifyWithOpenSslCli(testing::Pem(leaf), {testing::Pem(root_->certificate())},
                                         {testing::Pem(acme_->certificate())});
  }

  const absl::Time now_ = absl::Now();
  std::optional<CertificateAuthority> root_;
  std::optional<CertificateAuthority> acme_;
};

TEST_F(CertificateAuthorityTest, ChainVerifiesWithOpenSslStrict) {
  absl::StatusOr<testing::Leaf> leaf = testing::IssueTestLeaf(
      *acme_,
      {{"api.acme.svc.example.net"}, {"spiffe://acme.example.net/ns/prod/sa/api"}, {"10.64.3.7"}},
      now_);
  ASSERT_OK(leaf);
  EXPECT_EQ(Verify(leaf->cert.get()), X509_V_OK)
      << testing::VerifyErrorText(Verify(leaf->cert.get()));
  EXPECT_OK(VerifyCli(leaf->cert.get()));
  EXPECT_EQ(X509_check_host(leaf->cert.get(), "api.acme.svc.example.net", 0, 0, nullptr), 1);
}

TEST_F(CertificateAuthorityTest, ChainNeedsTheIntermediate) {
  absl::StatusOr<testing::Leaf> leaf =
      testing::IssueTestLeaf(*acme_, {{"api.acme.svc.example.net"}, {}, {}}, now_);
  ASSERT_OK(leaf);
  testing::VerifyOptions options;
  options.trusted = {root_->certificate()};
  EXPECT_EQ(testing::VerifyWithOpenSsl(leaf->cert.get(), options),
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  EXPECT_THAT(testing::VerifyWithOpenSslCli(testing::Pem(leaf->cert.get()),
                                            {testing::Pem(root_->certificate())}, {}),
              StatusIs(absl::StatusCode::kInternal, "unable to get local issuer certificate"));
}

TEST_F(CertificateAuthorityTest, EveryAcceptedLeafKeyTypeVerifies) {
  for (KeyInfo type : {KeyInfo{KeyType::kEcdsaP256, 0}, KeyInfo{KeyType::kEcdsaP384, 0},
                       KeyInfo{KeyType::kEd25519, 0}, KeyInfo{KeyType::kRsa, 2048},
                       KeyInfo{KeyType::kRsa, 3072}}) {
    SCOPED_TRACE(DescribeKey(type));
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(type.type, type.rsa_bits ? type.rsa_bits : 2048);
    ASSERT_OK(key);
    LeafSpec spec;
    spec.public_key = key->get();
    spec.subject_alt_names.dns_names = {"web.acme.svc.example.net"};
    spec.extended_key_usages = {ExtendedKeyUsage::kServerAuth};
    spec.not_after = now_ + absl::Hours(1);
    absl::StatusOr<X509Ptr> cert = IssueLeaf(*acme_, spec, now_);
    ASSERT_OK(cert);
    EXPECT_EQ(Verify(cert->get()), X509_V_OK);
    EXPECT_OK(VerifyCli(cert->get()));
    absl::StatusOr<CertificateInfo> info = DescribeCertificate(cert->get());
    ASSERT_OK(info);
    EXPECT_EQ(info->key, type);
  }
}

TEST_F(CertificateAuthorityTest, EveryCaKeyTypeSignsAVerifiableChain) {
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519}) {
    SCOPED_TRACE(KeyTypeName(type));
    RootCaSpec root_spec;
    root_spec.common_name = "root";
    root_spec.key_type = type;
    absl::StatusOr<CertificateAuthority> root = CreateRootCa(root_spec, now_);
    ASSERT_OK(root);
    IntermediateCaSpec spec;
    spec.common_name = "intermediate";
    spec.key_type = type;
    absl::StatusOr<CertificateAuthority> inter = CreateIntermediateCa(*root, spec, now_);
    ASSERT_OK(inter);
    absl::StatusOr<testing::Leaf> leaf =
        testing::IssueTestLeaf(*inter, {{"a.example.org"}, {}, {}}, now_);
    ASSERT_OK(leaf);
    testing::VerifyOptions options;
    options.trusted = {root->certificate()};
    options.untrusted = {inter->certificate()};
    EXPECT_EQ(testing::VerifyWithOpenSsl(leaf->cert.get(), options), X509_V_OK);
    EXPECT_OK(testing::VerifyWithOpenSslCli(testing::Pem(leaf->cert.get()),
                                            {testing::Pem(root->certificate())},
                                            {testing::Pem(inter->certificate())}));
  }
}

TEST_F(CertificateAuthorityTest, SignatureDigestFollowsTheIssuerKey) {
  auto signature_nid = [](const X509* cert) {
    int md = 0, pk = 0;
    OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md, &pk);
    return md;
  };
  EXPECT_EQ(signature_nid(root_->certificate()), NID_sha256);
  RootCaSpec p384;
  p384.common_name = "root";
  p384.key_type = KeyType::kEcdsaP384;
  absl::StatusOr<CertificateAuthority> root384 = CreateRootCa(p384, now_);
  ASSERT_OK(root384);
  EXPECT_EQ(signature_nid(root384->certificate()), NID_sha384);
  RootCaSpec ed;
  ed.common_name = "root";
  ed.key_type = KeyType::kEd25519;
  absl::StatusOr<CertificateAuthority> root_ed = CreateRootCa(ed, now_);
  ASSERT_OK(root_ed);
  EXPECT_EQ(X509_get_signature_nid(root_ed->certificate()), NID_ED25519);
}

TEST_F(CertificateAuthorityTest, HierarchyHasTheRightShape) {
  EXPECT_EQ(root_->path_length(), 1);
  EXPECT_EQ(acme_->path_length(), 0);
  EXPECT_EQ(root_->name_constraints(), nullptr);
  ASSERT_NE(acme_->name_constraints(), nullptr);
  int critical = -1;
  NameConstraintsPtr nc(static_cast<NAME_CONSTRAINTS*>(
      X509_get_ext_d2i(acme_->certificate(), NID_name_constraints, &critical, nullptr)));
  EXPECT_EQ(critical, 1);
  absl::StatusOr<NameConstraints> constraints = FromX509NameConstraints(nc.get());
  ASSERT_OK(constraints);
  EXPECT_EQ(*constraints, testing::TenantConstraints("acme", "10.64.3.0/24"));
  EXPECT_EQ(X509_check_issued(root_->certificate(), root_->certificate()), X509_V_OK);
  EXPECT_EQ(X509_check_issued(root_->certificate(), acme_->certificate()), X509_V_OK);
  EXPECT_EQ(acme_->subject(), "CN=Mandant tenant acme,O=Mandant");
  EXPECT_EQ(root_->not_after() - root_->not_before(), absl::Hours(24 * 365 * 10) + kBackdate);
}

TEST_F(CertificateAuthorityTest, IssueLeafRefusesNamesOutsideTheConstraints) {
  for (const SubjectAltNames& names : {
           SubjectAltNames{{"api.beta.svc.example.net"}, {}, {}},
           SubjectAltNames{{}, {"spiffe://beta.example.net/api"}, {}},
           SubjectAltNames{{}, {}, {"10.64.4.1"}},
       }) {
    absl::StatusOr<testing::Leaf> leaf = testing::IssueTestLeaf(*acme_, names, now_);
    EXPECT_THAT(leaf, StatusIs(absl::StatusCode::kInvalidArgument,
                               "is outside the issuer's name constraints"));
  }
  EXPECT_THAT(testing::IssueTestLeaf(
                  *acme_, {{"ok.acme.svc.example.net", "evil.example.com"}, {}, {}}, now_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "DNS name \"evil.example.com\" is outside the issuer's name constraints "
                       "(DNS domains: acme.svc.example.net; URI hosts: acme.example.net; IP "
                       "ranges: 10.64.3.0/24)"));
}

// The hand-made leaf of the issue: signed with the tenant CA's key through
// the raw builder, past every check of IssueLeaf. Verifiers must refuse it.
TEST_F(CertificateAuthorityTest, HandMadeLeafOutsideConstraintsFailsVerification) {
  struct Case {
    SubjectAltNames names;
    int error;
  };
  const Case cases[] = {
      {{{"api.beta.svc.example.net"}, {}, {}}, X509_V_ERR_PERMITTED_VIOLATION},
      {{{"xacme.svc.example.net"}, {}, {}}, X509_V_ERR_PERMITTED_VIOLATION},
      {{{}, {"spiffe://beta.example.net/api"}, {}}, X509_V_ERR_PERMITTED_VIOLATION},
      {{{}, {"spiffe://sub.acme.example.net/api"}, {}}, X509_V_ERR_PERMITTED_VIOLATION},
      {{{}, {}, {"10.64.4.1"}}, X509_V_ERR_PERMITTED_VIOLATION},
      {{{}, {}, {"fd00::1"}}, X509_V_ERR_PERMITTED_VIOLATION},
      {{{"ok.acme.svc.example.net"}, {}, {"192.168.0.1"}}, X509_V_ERR_PERMITTED_VIOLATION},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(absl::StrJoin(c.names.dns_names, ","), " ",
                              absl::StrJoin(c.names.uris, ","), " ",
                              absl::StrJoin(c.names.ip_addresses, ",")));
    absl::StatusOr<testing::Leaf> leaf = testing::HandMadeLeaf(*acme_, c.names, now_);
    ASSERT_OK(leaf);
    const int result = Verify(leaf->cert.get());
    EXPECT_EQ(result, c.error) << testing::VerifyErrorText(result);
    EXPECT_THAT(VerifyCli(leaf->cert.get()),
                StatusIs(absl::StatusCode::kInternal, "permitted subtree violation"));
  }
  // The same builder with names inside the constraints makes a good leaf, so
  // the failures above are the constraints at work.
  absl::StatusOr<testing::Leaf> good = testing::HandMadeLeaf(
      *acme_, {{"a.b.acme.svc.example.net"}, {"spiffe://acme.example.net/x"}, {"10.64.3.200"}},
      now_);
  ASSERT_OK(good);
  EXPECT_EQ(Verify(good->cert.get()), X509_V_OK);
  EXPECT_OK(VerifyCli(good->cert.get()));
}

TEST_F(CertificateAuthorityTest, HandMadeLeafWithAnEmailAddressFailsVerification) {
  absl::StatusOr<testing::Leaf> leaf =
      testing::HandMadeLeaf(*acme_, {{"ok.acme.svc.example.net"}, {}, {}}, now_);
  ASSERT_OK(leaf);
  X509* cert = leaf->cert.get();
  X509_EXTENSION* old = X509_delete_ext(cert, X509_get_ext_by_NID(cert, NID_subject_alt_name, -1));
  X509_EXTENSION_free(old);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, acme_->certificate(), cert, nullptr, nullptr, 0);
  X509ExtensionPtr san(
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name,
                          "critical,DNS:ok.acme.svc.example.net,email:boss@acme.com"));
  ASSERT_NE(san, nullptr);
  ASSERT_EQ(X509_add_ext(cert, san.get(), -1), 1);
  ASSERT_GT(X509_sign(cert, acme_->private_key(), EVP_sha256()), 0);
  absl::StatusOr<std::string> der = CertificateToDer(cert);
  ASSERT_OK(der);
  absl::StatusOr<X509Ptr> reparsed = ParseCertificate(*der);
  ASSERT_OK(reparsed);
  EXPECT_EQ(Verify(reparsed->get()), X509_V_ERR_PERMITTED_VIOLATION);
}

TEST_F(CertificateAuthorityTest, RefusesALeafThatOutlivesItsIssuer) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  LeafSpec spec;
  spec.public_key = key->get();
  spec.subject_alt_names.dns_names = {"api.acme.svc.example.net"};
  spec.extended_key_usages = {ExtendedKeyUsage::kServerAuth};
  spec.not_after = acme_->not_after() + absl::Seconds(1);
  absl::StatusOr<X509Ptr> cert = IssueLeaf(*acme_, spec, now_);
  EXPECT_THAT(cert, StatusIs(absl::StatusCode::kFailedPrecondition,
                             "would outlive its issuer \"CN=Mandant tenant acme,O=Mandant\""));
  EXPECT_THAT(cert.status().message(), HasSubstr(FormatCertTime(acme_->not_after())));
  EXPECT_THAT(cert.status().message(), HasSubstr(FormatCertTime(spec.not_after)));

  spec.not_after = acme_->not_after();
  EXPECT_OK(IssueLeaf(*acme_, spec, now_));
}

TEST_F(CertificateAuthorityTest, RefusesToIssueFromAnExpiredOrNotYetValidIssuer) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  LeafSpec spec;
  spec.public_key = key->get();
  spec.subject_alt_names.dns_names = {"api.acme.svc.example.net"};
  spec.extended_key_usages = {ExtendedKeyUsage::kServerAuth};

  const absl::Time later = acme_->not_after() + absl::Hours(1);
  spec.not_after = later + absl::Hours(1);
  EXPECT_THAT(IssueLeaf(*acme_, spec, later),
              StatusIs(absl::StatusCode::kFailedPrecondition, "expired at"));

  const absl::Time before = acme_->not_before() - absl::Hours(1);
  spec.not_after = before + absl::Hours(2);
  EXPECT_THAT(IssueLeaf(*acme_, spec, before),
              StatusIs(absl::StatusCode::kFailedPrecondition, "is not valid before"));

  IntermediateCaSpec inter;
  inter.common_name = "late";
  EXPECT_THAT(CreateIntermediateCa(*root_, inter, root_->not_after() + absl::Seconds(1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "expired at"));
}

TEST_F(CertificateAuthorityTest, RefusesAnIntermediateThatOutlivesTheRoot) {
  IntermediateCaSpec spec;
  spec.common_name = "too long";
  spec.validity = absl::Hours(24 * 365 * 11);
  EXPECT_THAT(CreateIntermediateCa(*root_, spec, now_),
              StatusIs(absl::StatusCode::kFailedPrecondition, "would outlive its issuer"));
}

TEST_F(CertificateAuthorityTest, AnIntermediateCannotSignAnotherCa) {
  IntermediateCaSpec spec;
  spec.common_name = "sub";
  EXPECT_THAT(CreateIntermediateCa(*acme_, spec, now_),
              StatusIs(absl::StatusCode::kFailedPrecondition, "path length 0"));
}

TEST_F(CertificateAuthorityTest, LeafIsBackdatedButNotBeforeItsIssuer) {
  const absl::Time early = acme_->not_before() + absl::Seconds(10);
  absl::StatusOr<testing::Leaf> leaf =
      testing::IssueTestLeaf(*acme_, {{"a.acme.svc.example.net"}, {}, {}}, early);
  ASSERT_OK(leaf);
  absl::StatusOr<CertificateInfo> info = DescribeCertificate(leaf->cert.get());
  ASSERT_OK(info);
  EXPECT_EQ(info->not_before, acme_->not_before());
  EXPECT_EQ(info->not_after, early + absl::Hours(24));

  absl::StatusOr<testing::Leaf> later =
      testing::IssueTestLeaf(*acme_, {{"a.acme.svc.example.net"}, {}, {}}, now_ + absl::Hours(1));
  ASSERT_OK(later);
  info = DescribeCertificate(later->cert.get());
  ASSERT_OK(info);
  EXPECT_EQ(info->not_before,
            absl::FromUnixSeconds(absl::ToUnixSeconds(now_ + absl::Hours(1) - kBackdate)));
}

TEST_F(CertificateAuthorityTest, LeafCarriesWhatWasAskedAndNothingElse) {
  absl::StatusOr<testing::Leaf> leaf = testing::IssueTestLeaf(
      *acme_, {{"a.acme.svc.example.net", "b.acme.svc.example.net"}, {}, {"10.64.3.9"}}, now_);
  ASSERT_OK(leaf);
  absl::StatusOr<CertificateInfo> info = DescribeCertificate(leaf->cert.get());
  ASSERT_OK(info);
  EXPECT_EQ(info->subject, "CN=a.acme.svc.example.net");
  EXPECT_EQ(info->issuer, acme_->subject());
  EXPECT_THAT(info->subject_alt_names.dns_names,
              ElementsAre("a.acme.svc.example.net", "b.acme.svc.example.net"));
  EXPECT_THAT(info->subject_alt_names.ip_addresses, ElementsAre("10.64.3.9"));
  EXPECT_THAT(info->extended_key_usages,
              ElementsAre(ExtendedKeyUsage::kServerAuth, ExtendedKeyUsage::kClientAuth));
  EXPECT_FALSE(info->is_ca);
  EXPECT_EQ(X509_check_ca(leaf->cert.get()), 0);
  EXPECT_EQ(X509_get_key_usage(leaf->cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
}

TEST_F(CertificateAuthorityTest, IssuesFromSeveralThreadsAtOnce) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::vector<X509Ptr>> issued(kThreads);
  std::vector<absl::Status> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<testing::Leaf> leaf = testing::IssueTestLeaf(
            *acme_, {{absl::StrCat("w", t, "-", i, ".acme.svc.example.net")}, {}, {}}, now_);
        if (!leaf.ok()) {
          errors[t] = leaf.status();
          return;
        }
        issued[t].push_back(std::move(leaf->cert));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::string> serials;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_OK(errors[t]);
    for (const X509Ptr& cert : issued[t]) {
      EXPECT_EQ(Verify(cert.get()), X509_V_OK);
      absl::StatusOr<CertificateInfo> info = DescribeCertificate(cert.get());
      ASSERT_OK(info);
      serials.insert(info->serial_hex);
    }
  }
  EXPECT_EQ(serials.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(CertificateAuthorityCreateTest, RefusesANonCaCertificateAndAForeignKey) {
  const absl::Time now = absl::Now();
  absl::StatusOr<CertificateAuthority> root = testing::MakeRoot(now);
  ASSERT_OK(root);
  absl::StatusOr<testing::Leaf> leaf =
      testing::IssueTestLeaf(*root, {{"leaf.example.org"}, {}, {}}, now);
  ASSERT_OK(leaf);
  EXPECT_THAT(CertificateAuthority::Create(std::move(leaf->cert), std::move(leaf->key)),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not a CA certificate"));

  absl::StatusOr<EvpPkeyPtr> other = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(other);
  EXPECT_THAT(CertificateAuthority::Create(UpRef(root->certificate()), *std::move(other)),
              StatusIs(absl::StatusCode::kInvalidArgument, "does not belong to CA certificate"));
}

TEST(CertificateAuthorityCreateTest, RoundTripsThroughPem) {
  const absl::Time now = absl::Now();
  absl::StatusOr<CertificateAuthority> root = testing::MakeRoot(now);
  ASSERT_OK(root);
  absl::StatusOr<std::string> cert = CertificateToPem(root->certificate());
  ASSERT_OK(cert);
  absl::StatusOr<SecretBytes> key = PrivateKeyToPem(root->private_key());
  ASSERT_OK(key);
  absl::StatusOr<CertificateAuthority> loaded = CertificateAuthority::FromPem(*cert, key->view());
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->subject(), root->subject());
  EXPECT_EQ(loaded->path_length(), 1);
  absl::StatusOr<testing::Leaf> leaf =
      testing::IssueTestLeaf(*loaded, {{"leaf.example.org"}, {}, {}}, now);
  ASSERT_OK(leaf);
  testing::VerifyOptions options;
  options.trusted = {root->certificate()};
  EXPECT_EQ(testing::VerifyWithOpenSsl(leaf->cert.get(), options), X509_V_OK);
}

TEST(CertificateAuthorityCreateTest, RefusesBadSpecs) {
  const absl::Time now = absl::Now();
  EXPECT_THAT(CreateRootCa(RootCaSpec{}, now),
              StatusIs(absl::StatusCode::kInvalidArgument, "common name"));
  RootCaSpec spec;
  spec.common_name = "root";
  spec.validity = absl::ZeroDuration();
  EXPECT_THAT(CreateRootCa(spec, now),
              StatusIs(absl::StatusCode::kInvalidArgument, "validity must be positive"));
}

}  // namespace
}  // namespace mandant::pki
