#include "pki/certificate_builder.h"

#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <openssl/core_names.h>
#include <openssl/x509v3.h>

#include "pki/encoding.h"
#include "pki/key.h"
#include "tests/support/status_matchers.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;

class CertificateBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<EvpPkeyPtr> ca_key = GenerateKey(KeyType::kEcdsaP256);
    ASSERT_OK(ca_key);
    ca_key_ = *std::move(ca_key);
    CertificateTemplate ca;
    ca.common_name = "CA";
    ca.public_key = ca_key_.get();
    ca.not_before = now_ - absl::Minutes(1);
    ca.not_after = now_ + absl::Hours(48);
    ca.ca = CaExtensions{1, std::nullopt};
    absl::StatusOr<X509Ptr> cert = BuildCertificate(ca, nullptr, ca_key_.get());
    ASSERT_OK(cert);
    ca_cert_ = *std::move(cert);
    absl::StatusOr<EvpPkeyPtr> leaf_key = GenerateKey(KeyType::kEcdsaP256);
    ASSERT_OK(leaf_key);
    leaf_key_ = *std::move(leaf_key);
  }

  CertificateTemplate Leaf() {
    CertificateTemplate t;
    t.public_key = leaf_key_.get();
    t.subject_alt_names.dns_names = {"a.example"};
    t.not_before = now_ - absl::Minutes(1);
    t.not_after = now_ + absl::Hours(1);
    t.extended_key_usages = {ExtendedKeyUsage::kClientAuth};
    return t;
  }

  absl::StatusOr<X509Ptr> Build(const CertificateTemplate& t) {
    return BuildCertificate(t, ca_cert_.get(), ca_key_.get());
  }

  static bool Critical(X509* cert, int nid) {
    const int index = X509_get_ext_by_NID(cert, nid, -1);
    return index >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, index)) == 1;
  }
  static bool Has(X509* cert, int nid) { return X509_get_ext_by_NID(cert, nid, -1) >= 0; }

  const absl::Time now_ = absl::Now();
  EvpPkeyPtr ca_key_;
  X509Ptr ca_cert_;
  EvpPkeyPtr leaf_key_;
};

TEST_F(CertificateBuilderTest, CaCertificateHasTheCaExtensions) {
  X509* ca = ca_cert_.get();
  EXPECT_EQ(X509_get_version(ca), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(ca), 1);
  EXPECT_EQ(X509_get_pathlen(ca), 1);
  EXPECT_TRUE(Critical(ca, NID_basic_constraints));
  EXPECT_TRUE(Critical(ca, NID_key_usage));
  EXPECT_EQ(X509_get_key_usage(ca), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_TRUE(Has(ca, NID_subject_key_identifier));
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(ca), X509_get0_subject_key_id(ca)), 0);
  EXPECT_FALSE(Has(ca, NID_ext_key_usage));
  EXPECT_FALSE(Has(ca, NID_name_constraints));
}

TEST_F(CertificateBuilderTest, LeafHasTheLeafExtensions) {
  CertificateTemplate t = Leaf();
  t.common_name = "a.example";
  t.crl_distribution_point = "http://mandant.example:8080/crl/issuers/x";
  absl::StatusOr<X509Ptr> cert = Build(t);
  ASSERT_OK(cert);
  X509* leaf = cert->get();
  EXPECT_EQ(X509_check_ca(leaf), 0);
  EXPECT_TRUE(Critical(leaf, NID_basic_constraints));
  EXPECT_EQ(X509_get_key_usage(leaf), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(leaf), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_FALSE(Critical(leaf, NID_ext_key_usage));
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf),
                                  X509_get0_subject_key_id(ca_cert_.get())),
            0);
  EXPECT_FALSE(Critical(leaf, NID_subject_alt_name));
  EXPECT_EQ(X509_check_issued(ca_cert_.get(), leaf), X509_V_OK);
  CrlDistPointsPtr points(static_cast<CRL_DIST_POINTS*>(
      X509_get_ext_d2i(leaf, NID_crl_distribution_points, nullptr, nullptr)));
  ASSERT_NE(points, nullptr);
  ASSERT_EQ(sk_DIST_POINT_num(points.get()), 1);
  const GENERAL_NAME* uri =
      sk_GENERAL_NAME_value(sk_DIST_POINT_value(points.get(), 0)->distpoint->name.fullname, 0);
  ASSERT_EQ(uri->type, GEN_URI);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(
                ASN1_STRING_get0_data(uri->d.uniformResourceIdentifier))),
            t.crl_distribution_point);
}

TEST_F(CertificateBuilderTest, SubjectAltNameIsCriticalExactlyWhenTheSubjectIsEmpty) {
  absl::StatusOr<X509Ptr> no_subject = Build(Leaf());
  ASSERT_OK(no_subject);
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(no_subject->get())), 0);
  EXPECT_TRUE(Critical(no_subject->get(), NID_subject_alt_name));
}

TEST_F(CertificateBuilderTest, RsaServerKeysAlsoGetKeyEncipherment) {
  absl::StatusOr<EvpPkeyPtr> rsa = GenerateKey(KeyType::kRsa, 2048);
  ASSERT_OK(rsa);
  CertificateTemplate t = Leaf();
  t.public_key = rsa->get();
  t.extended_key_usages = {ExtendedKeyUsage::kServerAuth, ExtendedKeyUsage::kClientAuth};
  absl::StatusOr<X509Ptr> cert = Build(t);
  ASSERT_OK(cert);
  EXPECT_EQ(X509_get_key_usage(cert->get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  t.extended_key_usages = {ExtendedKeyUsage::kClientAuth};
  cert = Build(t);
  ASSERT_OK(cert);
  EXPECT_EQ(X509_get_key_usage(cert->get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
}

std::string SpkiDer(const X509_PUBKEY* spki) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(spki, &der);
  std::string out(reinterpret_cast<char*>(der), len > 0 ? static_cast<size_t>(len) : 0);
  OPENSSL_free(der);
  return out;
}

std::string PubkeyDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  std::string out(reinterpret_cast<char*>(der), len > 0 ? static_cast<size_t>(len) : 0);
  OPENSSL_free(der);
  return out;
}

TEST_F(CertificateBuilderTest, CertificateCarriesTheSubjectKey) {
  for (KeyType type :
       {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519, KeyType::kRsa}) {
    SCOPED_TRACE(KeyTypeName(type));
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(type);
    ASSERT_OK(key);
    CertificateTemplate t = Leaf();
    t.public_key = key->get();
    absl::StatusOr<X509Ptr> cert = Build(t);
    ASSERT_OK(cert);
    // The same SubjectPublicKeyInfo as OpenSSL's own encoder writes, and a
    // key that works like any other.
    EXPECT_EQ(SpkiDer(X509_get_X509_PUBKEY(cert->get())), PubkeyDer(key->get()));
    EVP_PKEY* in_cert = X509_get0_pubkey(cert->get());
    ASSERT_NE(in_cert, nullptr);
    EXPECT_EQ(EVP_PKEY_eq(in_cert, key->get()), 1);
    EXPECT_EQ(X509_check_private_key(cert->get(), key->get()), 1);
    EXPECT_EQ(X509_verify(cert->get(), ca_key_.get()), 1);
    const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert->get());
    ASSERT_NE(ski, nullptr);
    EXPECT_EQ(ASN1_STRING_length(ski), 20);
  }
}

// subjectKeyIdentifier is the SHA-1 of the subjectPublicKey bits (RFC 5280
// 4.2.1.2, method 1), checked against a known answer for a fixed key.
TEST_F(CertificateBuilderTest, SubjectKeyIdentifierIsTheSha1OfTheKeyBits) {
  // A P-256 test key's public half (from `openssl genpkey -algorithm EC
  // -pkeyopt ec_paramgen_curve:P-256`, then `openssl pkey -pubout`).
  absl::StatusOr<EvpPkeyPtr> key = ParsePublicKey(
      "-----BEGIN PUBLIC KEY-----\n"
      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPqKxbv+h7OO49tn8jZ++MyEkQngZ\n"
      "mvXDjkYV5ZcqPeYwM4MLBv4w6LybkEL+jExacX0P5kLLomDWncdUDhDQ9w==\n"
      "-----END PUBLIC KEY-----\n");
  ASSERT_OK(key);
  CertificateTemplate t = Leaf();
  t.public_key = key->get();
  absl::StatusOr<X509Ptr> cert = Build(t);
  ASSERT_OK(cert);
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert->get());
  ASSERT_NE(ski, nullptr);
  // `openssl pkey -pubin -outform DER | tail -c 65 | sha1sum` (the last 65
  // bytes of a P-256 SPKI are the uncompressed point); the same as `openssl
  // req -x509` writes for this key.
  EXPECT_EQ(
      absl::BytesToHexString(absl::string_view(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(ski)), ASN1_STRING_length(ski))),
      "e2968b1dbb57c749fe63652772cb5bfdd1025aff");
}

TEST_F(CertificateBuilderTest, ACompressedEcPointIsWrittenUncompressed) {
  // RFC 5480 makes only the uncompressed form mandatory to support, and Go's
  // crypto/x509 refuses compressed points in certificates.
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  const std::string uncompressed = PubkeyDer(key->get());
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(key->get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           "compressed"),
            1);
  ASSERT_LT(PubkeyDer(key->get()).size(), uncompressed.size());
  CertificateTemplate t = Leaf();
  t.public_key = key->get();
  absl::StatusOr<X509Ptr> cert = Build(t);
  ASSERT_OK(cert);
  EXPECT_EQ(SpkiDer(X509_get_X509_PUBKEY(cert->get())), uncompressed);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert->get()), key->get()), 1);
}

TEST_F(CertificateBuilderTest, SerialsAreRandomAndPositive) {
  absl::StatusOr<X509Ptr> a = Build(Leaf());
  absl::StatusOr<X509Ptr> b = Build(Leaf());
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(a->get()), X509_get0_serialNumber(b->get())),
            0);
  EXPECT_EQ(ASN1_STRING_type(X509_get0_serialNumber(a->get())), V_ASN1_INTEGER);
}

TEST_F(CertificateBuilderTest, RefusesMalformedTemplates) {
  CertificateTemplate t = Leaf();
  t.public_key = nullptr;
  EXPECT_THAT(Build(t), StatusIs(absl::StatusCode::kInvalidArgument, "no subject public key"));

  t = Leaf();
  t.extended_key_usages.clear();
  EXPECT_THAT(Build(t), StatusIs(absl::StatusCode::kInvalidArgument, "extended key usage"));

  t = Leaf();
  t.subject_alt_names = {};
  EXPECT_THAT(Build(t), StatusIs(absl::StatusCode::kInvalidArgument,
                                 "needs a subject or at least one subject alternative name"));

  t = Leaf();
  t.not_after = t.not_before;
  EXPECT_THAT(Build(t), StatusIs(absl::StatusCode::kInvalidArgument, "is not after not_before"));

  t = Leaf();
  t.subject_alt_names.uris = {"not a uri"};
  EXPECT_THAT(Build(t), StatusIs(absl::StatusCode::kInvalidArgument, "scheme://host"));

  t = Leaf();
  t.common_name = std::string(65, 'a');
  EXPECT_THAT(Build(t), StatusIs(absl::StatusCode::kInvalidArgument, "longer than 64"));

  t = Leaf();
  t.common_name = "a\nb";
  EXPECT_THAT(Build(t), StatusIs(absl::StatusCode::kInvalidArgument, "control character"));

  t = Leaf();
  t.crl_distribution_point = "ldap://x/crl";
  EXPECT_THAT(Build(t), StatusIs(absl::StatusCode::kInvalidArgument, "http:// or https://"));

  t = Leaf();
  t.ca = CaExtensions{};
  EXPECT_THAT(Build(t), StatusIs(absl::StatusCode::kInvalidArgument, "common name"));

  absl::StatusOr<EvpPkeyPtr> other_key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(other_key);
  t = Leaf();
  EXPECT_THAT(BuildCertificate(t, nullptr, other_key->get()),
              StatusIs(absl::StatusCode::kInvalidArgument, "not the subject's key"));
}

TEST(ValidateCrlUrlTest, AcceptsHttpUrlsOnly) {
  EXPECT_OK(ValidateCrlUrl("http://mandant.example/crl/x.crl"));
  EXPECT_OK(ValidateCrlUrl("https://10.0.0.1:8443/crl"));
  EXPECT_THAT(ValidateCrlUrl("http:///crl"),
              StatusIs(absl::StatusCode::kInvalidArgument, "no host"));
  EXPECT_THAT(ValidateCrlUrl("http://a/b c"),
              StatusIs(absl::StatusCode::kInvalidArgument, "space"));
  EXPECT_THAT(ValidateCrlUrl("file:///etc/crl"),
              StatusIs(absl::StatusCode::kInvalidArgument, "must start with http://"));
}

}  // namespace
}  // namespace mandant::pki
