#include "pki/csr.h"

#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/x509v3.h>

#include "pki/encoding.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/pki/pki_test_util.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string CsrPem(EVP_PKEY* key, absl::string_view cn, const SubjectAltNames& names) {
  absl::StatusOr<X509ReqPtr> req = BuildCsr(key, cn, names);
  EXPECT_OK(req);
  if (!req.ok()) return "";
  absl::StatusOr<std::string> pem = CsrToPem(req->get());
  EXPECT_OK(pem);
  return pem.ok() ? *pem : "";
}

TEST(ParseCsrTest, AcceptsEveryAllowedKeyType) {
  for (KeyInfo want : {KeyInfo{KeyType::kEcdsaP256, 0}, KeyInfo{KeyType::kEcdsaP384, 0},
                       KeyInfo{KeyType::kEd25519, 0}, KeyInfo{KeyType::kRsa, 2048},
                       KeyInfo{KeyType::kRsa, 4096}}) {
    SCOPED_TRACE(DescribeKey(want));
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(want.type, want.rsa_bits ? want.rsa_bits : 2048);
    ASSERT_OK(key);
    absl::StatusOr<ParsedCsr> csr =
        ParseCsr(CsrPem(key->get(), "svc", {{"svc.acme.example"}, {}, {}}));
    ASSERT_OK(csr);
    EXPECT_EQ(csr->key, want);
    EXPECT_EQ(EVP_PKEY_eq(csr->public_key.get(), key->get()), 1);
  }
}

TEST(ParseCsrTest, RefusesEveryOtherKeyType) {
  const std::pair<const char*, const char*> cases[] = {
      {"DSA", "key type DSA is not supported"},
      {"RSA-1024", "RSA key of 1024 bits is not supported"},
      {"P-521", "EC key on curve secp521r1 is not supported"},
      {"secp256k1", "EC key on curve secp256k1 is not supported"},
      {"Ed448", "key type ED448 is not supported"},
      {"RSA-PSS", "is not supported"},
  };
  for (const auto& [kind, message] : cases) {
    SCOPED_TRACE(kind);
    absl::StatusOr<EvpPkeyPtr> key = testing::GenerateUnsupportedKey(kind);
    ASSERT_OK(key);
    const std::string pem = CsrPem(key->get(), "", {{"svc.acme.example"}, {}, {}});
    ASSERT_FALSE(pem.empty());
    absl::StatusOr<ParsedCsr> csr = ParseCsr(pem);
    EXPECT_THAT(csr, StatusIs(absl::StatusCode::kInvalidArgument, message));
    EXPECT_THAT(csr.status().message(), HasSubstr("accepted are ECDSA P-256"));
  }
}

TEST(ParseCsrTest, RefusesABrokenSignature) {
  for (KeyType type :
       {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519, KeyType::kRsa}) {
    SCOPED_TRACE(KeyTypeName(type));
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(type);
    ASSERT_OK(key);
    absl::StatusOr<X509ReqPtr> req = BuildCsr(key->get(), "svc", {{"svc.acme.example"}, {}, {}});
    ASSERT_OK(req);
    absl::StatusOr<std::string> der = CsrToDer(req->get());
    ASSERT_OK(der);
    ASSERT_OK(ParseCsr(*der));
    std::string broken = *der;
    broken[broken.size() - 1] ^= 0x01;  // inside the signature
    EXPECT_THAT(ParseCsr(broken), StatusIs(absl::StatusCode::kInvalidArgument,
                                           "CSR signature does not verify with its public key"));
  }
}

TEST(ParseCsrTest, AcceptsACompressedEcPoint) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(key->get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           "compressed"),
            1);
  absl::StatusOr<X509ReqPtr> req = BuildCsr(key->get(), "svc", {{"svc.acme.example"}, {}, {}});
  ASSERT_OK(req);
  const unsigned char* point = nullptr;
  int point_len = 0;
  ASSERT_EQ(X509_PUBKEY_get0_param(nullptr, &point, &point_len, nullptr,
                                   X509_REQ_get_X509_PUBKEY(req->get())),
            1);
  ASSERT_EQ(point_len, 33);  // 02 or 03, then x
  absl::StatusOr<std::string> pem = CsrToPem(req->get());
  ASSERT_OK(pem);
  absl::StatusOr<ParsedCsr> csr = ParseCsr(*pem);
  ASSERT_OK(csr);
  EXPECT_EQ(EVP_PKEY_eq(csr->public_key.get(), key->get()), 1);
  EXPECT_EQ(csr->key, (KeyInfo{KeyType::kEcdsaP256, 0}));
}

TEST(ParseCsrTest, RefusesACsrSignedByAnotherKey) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  absl::StatusOr<EvpPkeyPtr> other = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  ASSERT_OK(other);
  absl::StatusOr<X509ReqPtr> req = BuildCsr(key->get(), "svc", {{"svc.acme.example"}, {}, {}});
  ASSERT_OK(req);
  ASSERT_GT(X509_REQ_sign(req->get(), other->get(), EVP_sha256()), 0);
  absl::StatusOr<std::string> pem = CsrToPem(req->get());
  ASSERT_OK(pem);
  EXPECT_THAT(ParseCsr(*pem), StatusIs(absl::StatusCode::kInvalidArgument, "does not verify"));
}

TEST(ParseCsrTest, ExtractsNamesFromPemAndDer) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  const SubjectAltNames names{{"api.acme.example", "www.acme.example"},
                              {"spiffe://acme.example/ns/prod/sa/api"},
                              {"10.64.3.7", "fd00::7"}};
  absl::StatusOr<X509ReqPtr> req = BuildCsr(key->get(), "api.acme.example", names);
  ASSERT_OK(req);
  absl::StatusOr<std::string> pem = CsrToPem(req->get());
  absl::StatusOr<std::string> der = CsrToDer(req->get());
  ASSERT_OK(pem);
  ASSERT_OK(der);
  // The label older tools write.
  const std::string old_label =
      absl::StrReplaceAll(*pem, {{"CERTIFICATE REQUEST-----", "NEW CERTIFICATE REQUEST-----"}});
  ASSERT_NE(old_label, *pem);
  for (const std::string& input : {*pem, *der, "\n  " + *pem, old_label}) {
    absl::StatusOr<ParsedCsr> csr = ParseCsr(input);
    ASSERT_OK(csr);
    EXPECT_EQ(csr->common_name, "api.acme.example");
    EXPECT_EQ(csr->subject_alt_names, names);
  }
}

TEST(ParseCsrTest, ACsrWithoutNamesParses) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEd25519);
  ASSERT_OK(key);
  absl::StatusOr<ParsedCsr> csr = ParseCsr(CsrPem(key->get(), "", {}));
  ASSERT_OK(csr);
  EXPECT_THAT(csr->common_name, IsEmpty());
  EXPECT_TRUE(csr->subject_alt_names.empty());
}

// A CSR built by hand with the raw OpenSSL calls, for requests BuildCsr
// refuses to make. The CN is written without OpenSSL's length check.
std::string RawCsr(EVP_PKEY* key, const char* san, const std::string& cn = "") {
  X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_pubkey(req.get(), key);
  if (!cn.empty()) {
    X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req.get()), NID_commonName,
                               V_ASN1_UTF8STRING, reinterpret_cast<const unsigned char*>(cn.data()),
                               static_cast<int>(cn.size()), -1, 0);
  }
  if (san != nullptr) {
    X509ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
    sk_X509_EXTENSION_push(exts.get(),
                           X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san));
    X509_REQ_add_extensions(req.get(), exts.get());
  }
  X509_REQ_sign(req.get(), key, EVP_sha256());
  absl::StatusOr<std::string> pem = CsrToPem(req.get());
  return pem.ok() ? *pem : "";
}

TEST(ParseCsrTest, RefusesNamesMandantDoesNotIssue) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  EXPECT_THAT(ParseCsr(RawCsr(key->get(), "DNS:*.acme.example")),
              StatusIs(absl::StatusCode::kInvalidArgument, "is a wildcard"));
  EXPECT_THAT(ParseCsr(RawCsr(key->get(), "DNS:ok.acme.example,email:a@acme.example")),
              StatusIs(absl::StatusCode::kInvalidArgument, "e-mail subject alternative names"));
  EXPECT_THAT(ParseCsr(RawCsr(key->get(), "URI:spiffe://acme.example:99/x")),
              StatusIs(absl::StatusCode::kInvalidArgument, "port"));
  EXPECT_THAT(ParseCsr(RawCsr(key->get(), "DNS:a.acme.example,DNS:b.acme.example")), IsOk());
}

std::string Tlv(uint8_t tag, const std::string& content) {
  std::string out(1, static_cast<char>(tag));
  if (content.size() < 128) {
    out.push_back(static_cast<char>(content.size()));
  } else {
    out.push_back(static_cast<char>(0x81));
    out.push_back(static_cast<char>(content.size()));
  }
  return out + content;
}

// A CSR for the P-256 point at infinity with a "signature" anyone can make:
// with Q = infinity, ECDSA verification computes u1*G alone, so s = 1 and
// r = x(e*G) verify for any message e. OpenSSL 3.0 decodes such a key and
// X509_REQ_verify accepts the signature; a certificate for it would let
// anyone authenticate as its subject.
std::string InfinityKeyCsr() {
  const std::string ec_oids(
      "\x06\x07\x2a\x86\x48\xce\x3d\x02\x01"
      "\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07",
      19);
  const std::string spki = Tlv(0x30, Tlv(0x30, ec_oids) + Tlv(0x03, std::string("\x00\x00", 2)));
  const std::string info =
      Tlv(0x30, std::string("\x02\x01\x00", 3) + Tlv(0x30, "") + spki + Tlv(0xa0, ""));
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_Digest(info.data(), info.size(), digest, &len, EVP_sha256(), nullptr);
  EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  EC_POINT* point = EC_POINT_new(group);
  BIGNUM* e = BN_bin2bn(digest, len, nullptr);
  BIGNUM* x = BN_new();
  BIGNUM* r = BN_new();
  BN_CTX* ctx = BN_CTX_new();
  EC_POINT_mul(group, point, e, nullptr, nullptr, ctx);
  EC_POINT_get_affine_coordinates(group, point, x, nullptr, ctx);
  BN_nnmod(r, x, EC_GROUP_get0_order(group), ctx);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* one = BN_new();
  BN_one(one);
  ECDSA_SIG_set0(sig, r, one);
  unsigned char* sig_der = nullptr;
  const int sig_len = i2d_ECDSA_SIG(sig, &sig_der);
  const std::string signature(reinterpret_cast<char*>(sig_der), sig_len);
  OPENSSL_free(sig_der);
  ECDSA_SIG_free(sig);
  BN_CTX_free(ctx);
  BN_free(x);
  BN_free(e);
  EC_POINT_free(point);
  EC_GROUP_free(group);
  const std::string ecdsa_with_sha256("\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02", 10);
  return Tlv(0x30,
             info + Tlv(0x30, ecdsa_with_sha256) + Tlv(0x03, std::string(1, '\0') + signature));
}

TEST(ParseCsrTest, RefusesAKeyAtThePointAtInfinity) {
  const std::string der = InfinityKeyCsr();
  absl::StatusOr<X509ReqPtr> req = DecodeCsr(der);
  ASSERT_OK(req);
  // The forged signature does verify: only the key check stands between
  // this CSR and a certificate.
  EXPECT_EQ(X509_REQ_verify(req->get(), X509_REQ_get0_pubkey(req->get())), 1);
  EXPECT_THAT(ParseCsr(der), StatusIs(absl::StatusCode::kInvalidArgument,
                                      "CSR: the ECDSA P-256 public key is invalid"));
}

// The same for Ed25519's neutral element: R = B, s = 1 verifies for any
// message, since [s]B = R + [k]A with A the identity.
std::string SmallOrderEd25519Csr() {
  const std::string identity = std::string(1, '\x01') + std::string(31, '\0');
  const std::string ed25519_oid("\x06\x03\x2b\x65\x70", 5);
  const std::string spki =
      Tlv(0x30, Tlv(0x30, ed25519_oid) + Tlv(0x03, std::string(1, '\0') + identity));
  const std::string info =
      Tlv(0x30, std::string("\x02\x01\x00", 3) + Tlv(0x30, "") + spki + Tlv(0xa0, ""));
  const std::string base_point =
      "\x58" + std::string(31, '\x66');  // y = 4/5, x even: the encoding of B.
  const std::string signature = base_point + std::string(1, '\x01') + std::string(31, '\0');
  return Tlv(0x30, info + Tlv(0x30, ed25519_oid) + Tlv(0x03, std::string(1, '\0') + signature));
}

TEST(ParseCsrTest, RefusesAnEd25519KeyOfSmallOrder) {
  const std::string der = SmallOrderEd25519Csr();
  absl::StatusOr<X509ReqPtr> req = DecodeCsr(der);
  ASSERT_OK(req);
  EXPECT_EQ(X509_REQ_verify(req->get(), X509_REQ_get0_pubkey(req->get())), 1);
  EXPECT_THAT(ParseCsr(der), StatusIs(absl::StatusCode::kInvalidArgument,
                                      "CSR: the Ed25519 public key is a point "
                                      "of small order"));
}

TEST(ParseCsrTest, RefusesGarbageAndOversizeInput) {
  EXPECT_THAT(ParseCsr(""), StatusIs(absl::StatusCode::kInvalidArgument, "CSR is empty"));
  EXPECT_THAT(
      ParseCsr("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, "CSR does not parse as PEM"));
  EXPECT_THAT(ParseCsr(std::string("\x30\x03\x02\x01\x00", 5)),
              StatusIs(absl::StatusCode::kInvalidArgument, "CSR does not parse as DER"));
  EXPECT_THAT(ParseCsr(std::string(kMaxCsrSize + 1, 'A')),
              StatusIs(absl::StatusCode::kInvalidArgument, "larger than the limit of 65536 bytes"));
}

TEST(ParseCsrTest, RefusesAnOverlongCommonName) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  EXPECT_THAT(ParseCsr(RawCsr(key->get(), nullptr, std::string(65, 'a'))),
              StatusIs(absl::StatusCode::kInvalidArgument, "CN is longer than 64"));
  EXPECT_THAT(ParseCsr(RawCsr(key->get(), nullptr, "a\tb")),
              StatusIs(absl::StatusCode::kInvalidArgument, "control character"));
  EXPECT_OK(ParseCsr(RawCsr(key->get(), nullptr, std::string(64, 'a'))));
}

TEST(BuildCsrTest, RefusesMalformedNames) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  EXPECT_THAT(BuildCsr(key->get(), "", {{"bad name"}, {}, {}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "DNS name \"bad name\""));
}

}  // namespace
}  // namespace mandant::pki
