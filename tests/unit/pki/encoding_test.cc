#include "pki/encoding.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <openssl/pem.h>

#include "pki/csr.h"
#include "pki/key.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/pki/pki_test_util.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::IsOkAndHolds;
using ::mandant::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

TEST(EncodingTest, CertificatesRoundTripThroughPemAndDer) {
  absl::StatusOr<CertificateAuthority> root = testing::MakeRoot(absl::Now());
  ASSERT_OK(root);
  absl::StatusOr<std::string> pem = CertificateToPem(root->certificate());
  absl::StatusOr<std::string> der = CertificateToDer(root->certificate());
  ASSERT_OK(pem);
  ASSERT_OK(der);
  EXPECT_THAT(*pem, StartsWith("-----BEGIN CERTIFICATE-----\n"));
  for (const std::string& input : {*pem, *der}) {
    absl::StatusOr<X509Ptr> cert = ParseCertificate(input);
    ASSERT_OK(cert);
    EXPECT_EQ(X509_cmp(cert->get(), root->certificate()), 0);
  }
}

TEST(EncodingTest, CertificatePemIsWhatOpenSslWrites) {
  const absl::Time now = absl::Now();
  absl::StatusOr<CertificateAuthority> root = testing::MakeRoot(now);
  ASSERT_OK(root);
  // Leaves of many lengths, so that the last base64 line has every length.
  for (int n = 0; n < 24; ++n) {
    SubjectAltNames names;
    names.dns_names = {absl::StrCat(std::string(n + 1, 'a'), ".example.org")};
    absl::StatusOr<testing::Leaf> leaf = testing::IssueTestLeaf(*root, names, now);
    ASSERT_OK(leaf);
    BioPtr bio(BIO_new(BIO_s_mem()));
    ASSERT_EQ(PEM_write_bio_X509(bio.get(), leaf->cert.get()), 1);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    EXPECT_THAT(CertificateToPem(leaf->cert.get()),
                IsOkAndHolds(std::string(data, static_cast<size_t>(len))));
    unsigned char* der = nullptr;
    const int der_len = i2d_X509(leaf->cert.get(), &der);
    ASSERT_GT(der_len, 0);
    EXPECT_THAT(CertificateToDer(leaf->cert.get()),
                IsOkAndHolds(std::string(reinterpret_cast<char*>(der), der_len)));
    OPENSSL_free(der);
  }
}

TEST(EncodingTest, ParsesABundle) {
  absl::StatusOr<CertificateAuthority> a = testing::MakeRoot(absl::Now());
  absl::StatusOr<CertificateAuthority> b = testing::MakeRoot(absl::Now());
  ASSERT_OK(a);
  ASSERT_OK(b);
  const std::string bundle = testing::Pem(a->certificate()) + testing::Pem(b->certificate());
  absl::StatusOr<std::vector<X509Ptr>> certs = ParseCertificateBundle(bundle);
  ASSERT_OK(certs);
  ASSERT_THAT(*certs, SizeIs(2));
  EXPECT_EQ(X509_cmp((*certs)[1].get(), b->certificate()), 0);
  EXPECT_THAT(ParseCertificateBundle(""),
              StatusIs(absl::StatusCode::kInvalidArgument, "no PEM certificate"));
  EXPECT_THAT(
      ParseCertificateBundle(testing::Pem(a->certificate()) +
                             "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, "certificate 2 does not parse"));
}

TEST(EncodingTest, PrivateKeysArePkcs8AndRoundTrip) {
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kEd25519, KeyType::kRsa}) {
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(type);
    ASSERT_OK(key);
    absl::StatusOr<SecretBytes> pem = PrivateKeyToPem(key->get());
    absl::StatusOr<SecretBytes> der = PrivateKeyToDer(key->get());
    ASSERT_OK(pem);
    ASSERT_OK(der);
    EXPECT_THAT(std::string(pem->view()), StartsWith("-----BEGIN PRIVATE KEY-----\n"));
    for (absl::string_view input : {pem->view(), der->view()}) {
      absl::StatusOr<EvpPkeyPtr> back = ParsePrivateKey(input);
      ASSERT_OK(back);
      EXPECT_EQ(EVP_PKEY_eq(back->get(), key->get()), 1);
    }
  }
}

TEST(EncodingTest, ReadsTraditionalKeysAndRefusesEncryptedOnes) {
  absl::StatusOr<std::string> traditional =
      testing::RunShell("openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null", "");
  ASSERT_OK(traditional);
  ASSERT_THAT(*traditional, StartsWith("-----BEGIN EC PRIVATE KEY-----"));
  EXPECT_OK(ParsePrivateKey(*traditional));

  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key->get(), EVP_aes_256_cbc(), nullptr, 0,
                                          nullptr, const_cast<char*>("pw")),
            1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  EXPECT_THAT(ParsePrivateKey(absl::string_view(data, len)),
              StatusIs(absl::StatusCode::kInvalidArgument, "password-encrypted"));
}

TEST(EncodingTest, ParseErrorsNeverEchoTheInput) {
  const std::string secretish =
      "-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGtleSBieXRlcw==\n"
      "-----END PRIVATE KEY-----\n";
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKey(secretish);
  EXPECT_THAT(key,
              StatusIs(absl::StatusCode::kInvalidArgument, "private key does not parse as PEM"));
  EXPECT_THAT(key.status().message(), Not(HasSubstr("c2VjcmV0")));
  EXPECT_THAT(ParseCertificate(""), StatusIs(absl::StatusCode::kInvalidArgument, "empty"));
  EXPECT_THAT(ParseCertificate("junk"),
              StatusIs(absl::StatusCode::kInvalidArgument, "certificate does not parse as DER"));
  EXPECT_THAT(ParseCrl("junk"), StatusIs(absl::StatusCode::kInvalidArgument, "CRL does not parse"));
  EXPECT_THAT(ParsePublicKey("junk"),
              StatusIs(absl::StatusCode::kInvalidArgument, "public key does not parse"));
}

TEST(EncodingTest, PublicKeysRoundTripAndHashTheSpki) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP384);
  ASSERT_OK(key);
  absl::StatusOr<std::string> pem = PublicKeyToPem(key->get());
  ASSERT_OK(pem);
  EXPECT_THAT(*pem, StartsWith("-----BEGIN PUBLIC KEY-----\n"));
  absl::StatusOr<EvpPkeyPtr> pub = ParsePublicKey(*pem);
  ASSERT_OK(pub);
  EXPECT_EQ(EVP_PKEY_eq(pub->get(), key->get()), 1);

  absl::StatusOr<std::string> hash = PublicKeySha256Hex(key->get());
  ASSERT_OK(hash);
  EXPECT_THAT(PublicKeySha256Hex(pub->get()), IsOkAndHolds(*hash));
  absl::StatusOr<std::string> cli = testing::RunShell(
      "openssl pkey -pubin -in \"$IN\" -outform der 2>/dev/null | sha256sum | cut -d' ' -f1", *pem);
  ASSERT_OK(cli);
  EXPECT_EQ(*hash + "\n", *cli);

  X509_PUBKEY* raw = nullptr;
  ASSERT_EQ(X509_PUBKEY_set(&raw, key->get()), 1);
  X509PubkeyPtr spki(raw);
  EXPECT_THAT(PublicKeySha256Hex(spki.get()), IsOkAndHolds(*hash));
}

TEST(EncodingTest, CsrsRoundTrip) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  absl::StatusOr<X509ReqPtr> req = BuildCsr(key->get(), "x", {{"x.example"}, {}, {}});
  ASSERT_OK(req);
  absl::StatusOr<std::string> pem = CsrToPem(req->get());
  absl::StatusOr<std::string> der = CsrToDer(req->get());
  ASSERT_OK(pem);
  ASSERT_OK(der);
  EXPECT_THAT(*pem, StartsWith("-----BEGIN CERTIFICATE REQUEST-----\n"));
  absl::StatusOr<X509ReqPtr> from_pem = DecodeCsr(*pem);
  ASSERT_OK(from_pem);
  EXPECT_THAT(CsrToDer(from_pem->get()), IsOkAndHolds(*der));
}

TEST(EncodingTest, NamesAreRfc4514) {
  X509NamePtr name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Mandant, Inc"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Grüße"), -1, -1, 0);
  EXPECT_EQ(NameToString(name.get()), "CN=Grüße,O=Mandant\\, Inc");
}

}  // namespace
}  // namespace mandant::pki
