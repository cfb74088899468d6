#include "pki/key.h"

#include <openssl/x509.h>

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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
