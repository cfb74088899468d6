#include "pki/key.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <openssl/core_names.h>
#include <openssl/x509.h>

#include "tests/support/status_matchers.h"
#include "tests/unit/pki/pki_test_util.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::IsOkAndHolds;
using ::mandant::testing::StatusIs;

TEST(KeyTest, GeneratesAndClassifiesEveryType) {
  for (KeyInfo want : {KeyInfo{KeyType::kEcdsaP256, 0}, KeyInfo{KeyType::kEcdsaP384, 0},
                       KeyInfo{KeyType::kEd25519, 0}, KeyInfo{KeyType::kRsa, 3072}}) {
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(want.type, want.rsa_bits ? want.rsa_bits : 2048);
    ASSERT_OK(key);
    EXPECT_THAT(ClassifyKey(key->get()), IsOkAndHolds(want)) << DescribeKey(want);
  }
}

TEST(KeyTest, ClassifiesOtherKeysAsUnsupported) {
  for (const char* kind : {"DSA", "RSA-1024", "P-521", "secp256k1", "Ed448", "X25519", "RSA-PSS"}) {
    absl::StatusOr<EvpPkeyPtr> key = testing::GenerateUnsupportedKey(kind);
    ASSERT_OK(key);
    EXPECT_THAT(ClassifyKey(key->get()),
                StatusIs(absl::StatusCode::kInvalidArgument, "is not supported; accepted are"))
        << kind;
  }
  EXPECT_THAT(ClassifyKey(nullptr), StatusIs(absl::StatusCode::kInvalidArgument, "no public key"));
}

TEST(KeyTest, RefusesToGenerateOddRsaSizes) {
  for (int bits : {1024, 2047, 2560, 16384}) {
    EXPECT_THAT(GenerateKey(KeyType::kRsa, bits),
                StatusIs(absl::StatusCode::kInvalidArgument, "multiples of 1024 from 2048 to 8192"))
        << bits;
  }
}

EvpPkeyPtr Ed25519Key(const std::string& hex) {
  std::string raw = absl::HexStringToBytes(hex);
  return EvpPkeyPtr(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
}

TEST(ValidatePublicKeyTest, AcceptsGeneratedKeys) {
  for (KeyType type :
       {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519, KeyType::kRsa}) {
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(type);
    ASSERT_OK(key);
    absl::StatusOr<KeyInfo> info = ClassifyKey(key->get());
    ASSERT_OK(info);
    EXPECT_OK(ValidatePublicKey(key->get(), *info)) << KeyTypeName(type);
  }
}

TEST(ValidatePublicKeyTest, RefusesEd25519PointsOfSmallOrder) {
  const std::string ff = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
  for (const std::string& hex : {
           // y = 0, 1, p-1, +-y8: the eight torsion points.
           std::string(64, '0'),
           "01" + std::string(62, '0'),
           "ec" + ff + "ff7f",
           std::string("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
           std::string("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
           // The same with the sign bit of x set.
           "01" + std::string(60, '0') + "80",
           std::string("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
           // Non-canonical encodings of y = 0 and y = 1 (p and p+1).
           "ed" + ff + "ff7f",
           "ee" + ff + "ff7f",
       }) {
    EvpPkeyPtr key = Ed25519Key(hex);
    ASSERT_NE(key, nullptr) << hex;
    EXPECT_THAT(ValidatePublicKey(key.get(), {KeyType::kEd25519, 0}),
                StatusIs(absl::StatusCode::kInvalidArgument, "point of small order"))
        << hex;
  }
  // RFC 8032 test vector 1's public key.
  EvpPkeyPtr good = Ed25519Key("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  ASSERT_NE(good, nullptr);
  EXPECT_OK(ValidatePublicKey(good.get(), {KeyType::kEd25519, 0}));
}

TEST(ValidatePublicKeyTest, RefusesTheEcPointAtInfinity) {
  // SubjectPublicKeyInfo of P-256 with the one-byte point encoding 00.
  const std::string der = absl::HexStringToBytes(
      "3019301306072a8648ce3d020106082a8648ce3d030107030200"
      "00");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_NE(key, nullptr) << "OpenSSL no longer decodes it; the check is then belt and braces";
  EXPECT_THAT(ValidatePublicKey(key.get(), {KeyType::kEcdsaP256, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, "ECDSA P-256 public key is invalid"));
  // DecodePublicKey's own path for P-256 decodes it too; the check refuses it
  // all the same.
  p = reinterpret_cast<const unsigned char*>(der.data());
  X509PubkeyPtr spki(d2i_X509_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_NE(spki, nullptr);
  absl::StatusOr<EvpPkeyPtr> decoded = DecodePublicKey(spki.get());
  ASSERT_OK(decoded);
  EXPECT_THAT(ValidatePublicKey(decoded->get(), {KeyType::kEcdsaP256, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, "ECDSA P-256 public key is invalid"));
}

// The SubjectPublicKeyInfo of `key` as OpenSSL's generic encoder writes it.
X509PubkeyPtr Spki(EVP_PKEY* key) {
  X509_PUBKEY* spki = nullptr;
  if (X509_PUBKEY_set(&spki, key) != 1) return nullptr;
  return X509PubkeyPtr(spki);
}

// A P-256 SubjectPublicKeyInfo with `point` (at most 100 bytes) as the key.
X509PubkeyPtr P256Spki(const std::string& point) {
  const std::string algorithm =
      absl::HexStringToBytes("301306072a8648ce3d020106082a8648ce3d030107");
  const std::string bits = std::string(1, '\0') + point;
  const std::string body =
      algorithm + "\x03" + std::string(1, static_cast<char>(bits.size())) + bits;
  const std::string der = "\x30" + std::string(1, static_cast<char>(body.size())) + body;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  return X509PubkeyPtr(d2i_X509_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
}

std::string EncodedPoint(EVP_PKEY* key) {
  unsigned char buf[256];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf, sizeof(buf),
                                      &len) != 1) {
    return "";
  }
  return std::string(reinterpret_cast<char*>(buf), len);
}

TEST(DecodePublicKeyTest, DecodesEveryAcceptedKeyType) {
  for (KeyInfo want : {KeyInfo{KeyType::kEcdsaP256, 0}, KeyInfo{KeyType::kEcdsaP384, 0},
                       KeyInfo{KeyType::kEd25519, 0}, KeyInfo{KeyType::kRsa, 2048}}) {
    SCOPED_TRACE(DescribeKey(want));
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(want.type, 2048);
    ASSERT_OK(key);
    X509PubkeyPtr spki = Spki(key->get());
    ASSERT_NE(spki, nullptr);
    absl::StatusOr<EvpPkeyPtr> decoded = DecodePublicKey(spki.get());
    ASSERT_OK(decoded);
    EXPECT_EQ(EVP_PKEY_eq(decoded->get(), key->get()), 1);
    EXPECT_THAT(ClassifyKey(decoded->get()), IsOkAndHolds(want));
    EXPECT_OK(ValidatePublicKey(decoded->get(), want));
  }
}

TEST(DecodePublicKeyTest, DecodesACompressedPoint) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  const std::string uncompressed = EncodedPoint(key->get());
  ASSERT_EQ(uncompressed.size(), 65u);
  // 02 or 03 (the parity of y), then x.
  const std::string compressed =
      std::string(1, static_cast<char>(2 + (uncompressed.back() & 1))) + uncompressed.substr(1, 32);
  X509PubkeyPtr spki = P256Spki(compressed);
  ASSERT_NE(spki, nullptr);
  absl::StatusOr<EvpPkeyPtr> decoded = DecodePublicKey(spki.get());
  ASSERT_OK(decoded);
  EXPECT_EQ(EVP_PKEY_eq(decoded->get(), key->get()), 1);
}

TEST(DecodePublicKeyTest, RefusesAPointOffTheCurve) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  std::string point = EncodedPoint(key->get());
  ASSERT_EQ(point.size(), 65u);
  point.back() ^= 0x01;  // y no longer matches x
  X509PubkeyPtr spki = P256Spki(point);
  ASSERT_NE(spki, nullptr);
  EXPECT_THAT(DecodePublicKey(spki.get()),
              StatusIs(absl::StatusCode::kInvalidArgument, "public key does not parse"));
  EXPECT_THAT(DecodePublicKey(nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, "no public key"));
}

TEST(DecodePublicKeyTest, TakesTheGenericPathForOtherKeys) {
  // Decoded by OpenSSL's decoder; refusing them is ClassifyKey's job.
  for (const char* kind : {"P-521", "secp256k1", "Ed448", "DSA"}) {
    SCOPED_TRACE(kind);
    absl::StatusOr<EvpPkeyPtr> key = testing::GenerateUnsupportedKey(kind);
    ASSERT_OK(key);
    X509PubkeyPtr spki = Spki(key->get());
    ASSERT_NE(spki, nullptr);
    absl::StatusOr<EvpPkeyPtr> decoded = DecodePublicKey(spki.get());
    ASSERT_OK(decoded);
    EXPECT_EQ(EVP_PKEY_eq(decoded->get(), key->get()), 1);
    EXPECT_THAT(ClassifyKey(decoded->get()),
                StatusIs(absl::StatusCode::kInvalidArgument, "is not supported"));
  }
}

TEST(KeyTest, SignatureDigestFollowsTheKeyType) {
  EXPECT_EQ(SignatureDigest(KeyType::kEcdsaP256), EVP_sha256());
  EXPECT_EQ(SignatureDigest(KeyType::kRsa), EVP_sha256());
  EXPECT_EQ(SignatureDigest(KeyType::kEcdsaP384), EVP_sha384());
  EXPECT_EQ(SignatureDigest(KeyType::kEd25519), nullptr);
}

TEST(KeyTest, DescribesKeys) {
  EXPECT_EQ(DescribeKey({KeyType::kRsa, 4096}), "RSA 4096");
  EXPECT_EQ(DescribeKey({KeyType::kEcdsaP384, 0}), "ECDSA P-384");
  EXPECT_EQ(KeyTypeName(KeyType::kEd25519), "Ed25519");
}

}  // namespace
}  // namespace mandant::pki
