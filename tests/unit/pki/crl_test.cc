#include "pki/crl.h"

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "pki/asn1_time.h"
#include "pki/certificate_info.h"
#include "pki/encoding.h"
#include "pki/serial.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/pki/pki_test_util.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;

class CrlTest : public ::testing::Test {
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

  CrlSpec Spec(std::vector<RevokedCertificate> revoked, int64_t number = 1) {
    CrlSpec spec;
    spec.crl_number = number;
    spec.this_update = now_ - absl::Minutes(1);
    spec.next_update = now_ + absl::Hours(24);
    spec.revoked = std::move(revoked);
    return spec;
  }

  SignedCrl RootCrl() {
    absl::StatusOr<SignedCrl> crl = BuildCrl(*root_, Spec({}));
    EXPECT_OK(crl);
    return *std::move(crl);
  }

  std::string Serial(X509* cert) {
    absl::StatusOr<std::string> hex = SerialToHex(X509_get0_serialNumber(cert));
    EXPECT_OK(hex);
    return hex.ok() ? *hex : "";
  }

  const absl::Time now_ = absl::Now();
  std::optional<CertificateAuthority> root_;
  std::optional<CertificateAuthority> acme_;
};

TEST_F(CrlTest, ARevokedCertificateFailsVerificationAndOthersPass) {
  absl::StatusOr<testing::Leaf> revoked =
      testing::IssueTestLeaf(*acme_, {{"old.acme.svc.example.net"}, {}, {}}, now_);
  absl::StatusOr<testing::Leaf> good =
      testing::IssueTestLeaf(*acme_, {{"new.acme.svc.example.net"}, {}, {}}, now_);
  ASSERT_OK(revoked);
  ASSERT_OK(good);
  absl::StatusOr<SignedCrl> crl = BuildCrl(
      *acme_, Spec({{Serial(revoked->cert.get()), now_, RevocationReason::kKeyCompromise}}));
  ASSERT_OK(crl);
  SignedCrl root_crl = RootCrl();

  testing::VerifyOptions options;
  options.trusted = {root_->certificate()};
  options.untrusted = {acme_->certificate()};
  options.crls = {crl->crl.get(), root_crl.crl.get()};
  options.flags = X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
  EXPECT_EQ(testing::VerifyWithOpenSsl(revoked->cert.get(), options), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(testing::VerifyWithOpenSsl(good->cert.get(), options), X509_V_OK);
  // Without CRL checking the revoked certificate would pass: the CRL is
  // what makes the difference.
  options.flags = 0;
  EXPECT_EQ(testing::VerifyWithOpenSsl(revoked->cert.get(), options), X509_V_OK);

  const std::string both = crl->pem + root_crl.pem;
  EXPECT_THAT(testing::VerifyWithOpenSslCli(
                  testing::Pem(revoked->cert.get()), {testing::Pem(root_->certificate())},
                  {testing::Pem(acme_->certificate())}, both, {"-crl_check_all"}),
              StatusIs(absl::StatusCode::kInternal, "certificate revoked"));
  EXPECT_OK(testing::VerifyWithOpenSslCli(
      testing::Pem(good->cert.get()), {testing::Pem(root_->certificate())},
      {testing::Pem(acme_->certificate())}, both, {"-crl_check_all"}));
}

TEST_F(CrlTest, ARevokedIntermediateTakesItsLeavesWithIt) {
  absl::StatusOr<testing::Leaf> leaf =
      testing::IssueTestLeaf(*acme_, {{"a.acme.svc.example.net"}, {}, {}}, now_);
  ASSERT_OK(leaf);
  absl::StatusOr<SignedCrl> root_crl = BuildCrl(
      *root_,
      Spec({{Serial(acme_->certificate()), now_, RevocationReason::kCessationOfOperation}}));
  ASSERT_OK(root_crl);
  absl::StatusOr<SignedCrl> acme_crl = BuildCrl(*acme_, Spec({}));
  ASSERT_OK(acme_crl);
  testing::VerifyOptions options;
  options.trusted = {root_->certificate()};
  options.untrusted = {acme_->certificate()};
  options.crls = {root_crl->crl.get(), acme_crl->crl.get()};
  options.flags = X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
  EXPECT_EQ(testing::VerifyWithOpenSsl(leaf->cert.get(), options), X509_V_ERR_CERT_REVOKED);
}

TEST_F(CrlTest, CrlCarriesNumberTimesReasonsAndIssuer) {
  absl::StatusOr<SignedCrl> crl =
      BuildCrl(*acme_, Spec({{"ff01", now_ - absl::Hours(2), RevocationReason::kSuperseded},
                             {"0a", now_ - absl::Hours(1), RevocationReason::kUnspecified}},
                            42));
  ASSERT_OK(crl);
  X509_CRL* c = crl->crl.get();
  EXPECT_EQ(X509_CRL_get_version(c), X509_CRL_VERSION_2);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(c), X509_get_subject_name(acme_->certificate())), 0);
  EXPECT_EQ(X509_CRL_verify(c, X509_get0_pubkey(acme_->certificate())), 1);
  EXPECT_THAT(FromAsn1Time(X509_CRL_get0_lastUpdate(c)),
              mandant::testing::IsOkAndHolds(
                  absl::FromUnixSeconds(absl::ToUnixSeconds(now_ - absl::Minutes(1)))));
  EXPECT_THAT(FromAsn1Time(X509_CRL_get0_nextUpdate(c)),
              mandant::testing::IsOkAndHolds(
                  absl::FromUnixSeconds(absl::ToUnixSeconds(now_ + absl::Hours(24)))));

  Asn1IntegerPtr number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(c, NID_crl_number, nullptr, nullptr)));
  ASSERT_NE(number, nullptr);
  EXPECT_EQ(ASN1_INTEGER_get(number.get()), 42);
  AuthorityKeyIdPtr akid(static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(c, NID_authority_key_identifier, nullptr, nullptr)));
  ASSERT_NE(akid, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(acme_->certificate())), 0);

  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(c);
  ASSERT_EQ(sk_X509_REVOKED_num(entries), 2);
  // Sorted by serial.
  const X509_REVOKED* first = sk_X509_REVOKED_value(entries, 0);
  const X509_REVOKED* second = sk_X509_REVOKED_value(entries, 1);
  EXPECT_THAT(SerialToHex(X509_REVOKED_get0_serialNumber(first)),
              mandant::testing::IsOkAndHolds(std::string("a")));
  EXPECT_THAT(SerialToHex(X509_REVOKED_get0_serialNumber(second)),
              mandant::testing::IsOkAndHolds(std::string("ff01")));
  int critical = 0;
  EXPECT_EQ(X509_REVOKED_get_ext_d2i(first, NID_crl_reason, &critical, nullptr), nullptr);
  EXPECT_EQ(critical, -1);
  Asn1EnumeratedPtr reason(static_cast<ASN1_ENUMERATED*>(
      X509_REVOKED_get_ext_d2i(second, NID_crl_reason, nullptr, nullptr)));
  ASSERT_NE(reason, nullptr);
  EXPECT_EQ(ASN1_ENUMERATED_get(reason.get()), 4);
}

TEST_F(CrlTest, PemAndDerAreTheSameCrl) {
  SignedCrl crl = RootCrl();
  EXPECT_TRUE(absl::StartsWith(crl.pem, "-----BEGIN X509 CRL-----"));
  absl::StatusOr<X509CrlPtr> from_pem = ParseCrl(crl.pem);
  ASSERT_OK(from_pem);
  EXPECT_THAT(CrlToDer(from_pem->get()), mandant::testing::IsOkAndHolds(crl.der));
  absl::StatusOr<X509CrlPtr> from_der = ParseCrl(crl.der);
  ASSERT_OK(from_der);
  EXPECT_THAT(CrlToPem(from_der->get()), mandant::testing::IsOkAndHolds(crl.pem));
}

TEST_F(CrlTest, RefusesBadSpecs) {
  EXPECT_THAT(BuildCrl(*acme_, Spec({{"01", now_, RevocationReason::kCertificateHold}})),
              StatusIs(absl::StatusCode::kInvalidArgument, "certificateHold"));
  EXPECT_THAT(BuildCrl(*acme_, Spec({{"01", now_, RevocationReason::kRemoveFromCrl}})),
              StatusIs(absl::StatusCode::kInvalidArgument, "removeFromCRL"));
  EXPECT_THAT(BuildCrl(*acme_, Spec({{"01", now_, RevocationReason::kUnspecified},
                                     {"01", now_, RevocationReason::kSuperseded}})),
              StatusIs(absl::StatusCode::kInvalidArgument, "listed twice"));
  EXPECT_THAT(BuildCrl(*acme_, Spec({{"xyz", now_, RevocationReason::kUnspecified}})),
              StatusIs(absl::StatusCode::kInvalidArgument, "hex digits"));
  EXPECT_THAT(BuildCrl(*acme_, Spec({}, -1)),
              StatusIs(absl::StatusCode::kInvalidArgument, "negative"));
  CrlSpec backwards = Spec({});
  backwards.next_update = backwards.this_update;
  EXPECT_THAT(BuildCrl(*acme_, backwards),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not after this_update"));
}

}  // namespace
}  // namespace mandant::pki
