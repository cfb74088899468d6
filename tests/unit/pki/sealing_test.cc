#include "pki/sealing.h"

#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "pki/encoding.h"
#include "pki/key.h"
#include "tests/support/status_matchers.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

Kek MakeKek(absl::string_view id) {
  absl::StatusOr<Kek> kek = Kek::Generate(id);
  EXPECT_OK(kek);
  return *std::move(kek);
}

KeyRing Ring(std::vector<absl::string_view> ids) {
  std::vector<Kek> previous;
  for (size_t i = 1; i < ids.size(); ++i) previous.push_back(MakeKek(ids[i]));
  absl::StatusOr<KeyRing> ring = KeyRing::Create(MakeKek(ids[0]), std::move(previous));
  EXPECT_OK(ring);
  return *std::move(ring);
}

constexpr absl::string_view kSecret = "-----BEGIN PRIVATE KEY----- pretend";
constexpr absl::string_view kRow = "issuers/20250301-7f3a";

TEST(SealingTest, RoundTrips) {
  KeyRing ring = Ring({"kek-1"});
  absl::StatusOr<std::string> blob = Seal(ring.current(), kSecret, kRow);
  ASSERT_OK(blob);
  EXPECT_THAT(*blob, Not(HasSubstr(std::string(kSecret))));
  EXPECT_THAT(*blob, Not(HasSubstr(std::string(ring.current().key()))));
  absl::StatusOr<SecretBytes> opened = Unseal(ring, *blob, kRow);
  ASSERT_OK(opened);
  EXPECT_EQ(opened->view(), kSecret);
  EXPECT_THAT(SealedKekId(*blob), mandant::testing::IsOkAndHolds(std::string("kek-1")));
}

TEST(SealingTest, EverySealIsFresh) {
  KeyRing ring = Ring({"kek-1"});
  absl::StatusOr<std::string> a = Seal(ring.current(), kSecret, kRow);
  absl::StatusOr<std::string> b = Seal(ring.current(), kSecret, kRow);
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->size(), b->size());
}

TEST(SealingTest, RefusesAChangeInAnyByte) {
  KeyRing ring = Ring({"k"});
  absl::StatusOr<std::string> blob = Seal(ring.current(), "s3cret", kRow);
  ASSERT_OK(blob);
  for (size_t i = 0; i < blob->size(); ++i) {
    for (uint8_t flip : {0x01, 0x80}) {
      std::string changed = *blob;
      changed[i] = static_cast<char>(changed[i] ^ flip);
      absl::StatusOr<SecretBytes> opened = Unseal(ring, changed, kRow);
      EXPECT_FALSE(opened.ok()) << "byte " << i << " flip " << int{flip};
      if (!opened.ok()) {
        EXPECT_THAT(opened.status().message(), Not(HasSubstr("s3cret")));
      }
    }
  }
  for (size_t len = 0; len < blob->size(); ++len) {
    EXPECT_THAT(Unseal(ring, blob->substr(0, len), kRow), Not(IsOk())) << "length " << len;
  }
  EXPECT_THAT(Unseal(ring, *blob + "x", kRow), Not(IsOk()));
}

TEST(SealingTest, RefusesABlobOfAnotherRow) {
  KeyRing ring = Ring({"kek-1"});
  absl::StatusOr<std::string> blob = Seal(ring.current(), kSecret, "issuers/a");
  ASSERT_OK(blob);
  EXPECT_THAT(Unseal(ring, *blob, "issuers/b"),
              StatusIs(absl::StatusCode::kDataLoss, "belongs to another row"));
  EXPECT_THAT(Unseal(ring, *blob, ""),
              StatusIs(absl::StatusCode::kDataLoss, "does not authenticate"));
  EXPECT_OK(Unseal(ring, *blob, "issuers/a"));
}

TEST(SealingTest, RefusesAnUnknownKek) {
  KeyRing old_ring = Ring({"kek-old"});
  KeyRing new_ring = Ring({"kek-new", "kek-other"});
  absl::StatusOr<std::string> blob = Seal(old_ring.current(), kSecret, kRow);
  ASSERT_OK(blob);
  EXPECT_THAT(Unseal(new_ring, *blob, kRow),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "sealed with KEK \"kek-old\", which is not loaded (loaded: kek-new, "
                       "kek-other)"));
}

TEST(SealingTest, RefusesAKekWithTheRightIdButTheWrongKey) {
  KeyRing ring = Ring({"kek-1"});
  KeyRing impostor = Ring({"kek-1"});
  absl::StatusOr<std::string> blob = Seal(ring.current(), kSecret, kRow);
  ASSERT_OK(blob);
  EXPECT_THAT(Unseal(impostor, *blob, kRow),
              StatusIs(absl::StatusCode::kDataLoss, "under KEK \"kek-1\""));
}

TEST(SealingTest, TheKekIdIsBoundToTheWrappedKey) {
  // Two ids for the same key bytes (an operator copying a KEK file under a
  // new name): relabelling a blob must still fail.
  const std::string text = std::string(MakeKek("a").ToText().view());
  const std::string key = text.substr(2, text.size() - 3);
  absl::StatusOr<Kek> k1 = Kek::Parse("k1:" + key);
  absl::StatusOr<Kek> k2 = Kek::Parse("k2:" + key);
  ASSERT_OK(k1);
  ASSERT_OK(k2);
  absl::StatusOr<std::string> blob = Seal(*k1, kSecret, kRow);
  ASSERT_OK(blob);
  std::string relabelled = *blob;
  relabelled.replace(relabelled.find("k1"), 2, "k2");
  absl::StatusOr<KeyRing> ring = KeyRing::Create(*std::move(k2));
  ASSERT_OK(ring);
  EXPECT_THAT(Unseal(*ring, relabelled, kRow),
              StatusIs(absl::StatusCode::kDataLoss, "does not authenticate under KEK \"k2\""));
}

TEST(SealingTest, RewrapChangesOnlyTheWrappedKey) {
  Kek old_kek = MakeKek("kek-1");
  absl::StatusOr<std::string> blob = Seal(old_kek, kSecret, kRow);
  ASSERT_OK(blob);
  Kek new_kek = MakeKek("kek-2");
  absl::StatusOr<Kek> new_copy =
      Kek::Parse(new_kek.ToText().view().substr(0, new_kek.ToText().size() - 1));
  ASSERT_OK(new_copy);
  std::vector<Kek> previous;
  previous.push_back(std::move(old_kek));
  absl::StatusOr<KeyRing> rotating = KeyRing::Create(std::move(new_kek), std::move(previous));
  ASSERT_OK(rotating);
  absl::StatusOr<std::string> rewrapped = Rewrap(*rotating, *blob, kRow, rotating->current());
  ASSERT_OK(rewrapped);
  EXPECT_THAT(SealedKekId(*rewrapped), mandant::testing::IsOkAndHolds(std::string("kek-2")));
  // Nonce, ciphertext and tag (the tail) are untouched; the wrap is new.
  const size_t tail = 12 + kSecret.size() + 16;
  EXPECT_EQ(rewrapped->substr(rewrapped->size() - tail), blob->substr(blob->size() - tail));
  EXPECT_NE(rewrapped->substr(0, rewrapped->size() - tail), blob->substr(0, blob->size() - tail));

  // After the rotation the old KEK is no longer needed.
  absl::StatusOr<KeyRing> only_new = KeyRing::Create(*std::move(new_copy));
  ASSERT_OK(only_new);
  absl::StatusOr<SecretBytes> opened = Unseal(*only_new, *rewrapped, kRow);
  ASSERT_OK(opened);
  EXPECT_EQ(opened->view(), kSecret);
  EXPECT_THAT(Unseal(*only_new, *blob, kRow),
              StatusIs(absl::StatusCode::kFailedPrecondition, "not loaded"));
}

TEST(SealingTest, RewrapRefusesABlobOfAnotherRow) {
  KeyRing ring = Ring({"kek-1"});
  absl::StatusOr<std::string> blob = Seal(ring.current(), kSecret, "issuers/a");
  ASSERT_OK(blob);
  Kek next = MakeKek("kek-2");
  EXPECT_THAT(Rewrap(ring, *blob, "issuers/b", next), StatusIs(absl::StatusCode::kDataLoss, ""));
}

TEST(SealingTest, RefusesEmptyAndOversizeSecrets) {
  Kek kek = MakeKek("k");
  EXPECT_THAT(Seal(kek, "", kRow), StatusIs(absl::StatusCode::kInvalidArgument, "empty"));
  EXPECT_THAT(Seal(kek, std::string(kMaxSealedSecret + 1, 'x'), kRow),
              StatusIs(absl::StatusCode::kInvalidArgument, "larger than the sealing limit"));
}

TEST(SealingTest, RefusesForeignData) {
  KeyRing ring = Ring({"k"});
  EXPECT_THAT(Unseal(ring, "-----BEGIN PRIVATE KEY-----\nMIGH...", kRow),
              StatusIs(absl::StatusCode::kDataLoss, "does not start with the sealed-blob magic"));
  std::string future = "MNSK";
  future += '\x02';
  future += std::string(100, '\0');
  EXPECT_THAT(Unseal(ring, future, kRow),
              StatusIs(absl::StatusCode::kFailedPrecondition, "format version 2"));
}

TEST(SealingTest, PrivateKeysRoundTripAndNeverAppearInTheBlob) {
  KeyRing ring = Ring({"kek-1"});
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  absl::StatusOr<std::string> blob = SealPrivateKey(ring.current(), key->get(), kRow);
  ASSERT_OK(blob);
  absl::StatusOr<SecretBytes> der = PrivateKeyToDer(key->get());
  ASSERT_OK(der);
  // The raw 32-byte scalar sits at a fixed place in PKCS#8 for P-256; check
  // for every 16-byte window of the DER instead of relying on that.
  for (size_t i = 0; i + 16 <= der->size(); ++i) {
    ASSERT_THAT(*blob, Not(HasSubstr(std::string(der->view().substr(i, 16)))));
  }
  absl::StatusOr<EvpPkeyPtr> opened = UnsealPrivateKey(ring, *blob, kRow);
  ASSERT_OK(opened);
  EXPECT_EQ(EVP_PKEY_eq(opened->get(), key->get()), 1);
  absl::StatusOr<SecretBytes> again = PrivateKeyToDer(opened->get());
  ASSERT_OK(again);
  EXPECT_EQ(again->view(), der->view());
}

TEST(SealingTest, UnsealPrivateKeyRefusesABlobThatHoldsNoKey) {
  KeyRing ring = Ring({"kek-1"});
  absl::StatusOr<std::string> blob = Seal(ring.current(), "not a key", kRow);
  ASSERT_OK(blob);
  EXPECT_THAT(UnsealPrivateKey(ring, *blob, kRow),
              StatusIs(absl::StatusCode::kDataLoss, "does not hold a private key"));
}

}  // namespace
}  // namespace mandant::pki
