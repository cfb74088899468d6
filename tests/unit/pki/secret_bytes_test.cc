#include "pki/secret_bytes.h"

#include <utility>

#include "gtest/gtest.h"

namespace mandant::pki {
namespace {

TEST(SecretBytesTest, HoldsACopy) {
  std::string source = "key material";
  SecretBytes secret(source);
  source[0] = 'X';
  EXPECT_EQ(secret.view(), "key material");
  EXPECT_EQ(SecretBytes(4).view(), absl::string_view("\0\0\0\0", 4));
}

TEST(SecretBytesTest, MovesWithoutLeavingACopyBehind) {
  SecretBytes a(absl::string_view("abc"));
  const uint8_t* buffer = a.data();
  SecretBytes b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract under test.
  EXPECT_EQ(b.view(), "abc");
  EXPECT_EQ(b.data(), buffer);
  SecretBytes c;
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.view(), "abc");
}

TEST(SecretBytesTest, TruncatesInPlace) {
  SecretBytes s(absl::string_view("abcdef"));
  const uint8_t* buffer = s.data();
  s.Truncate(2);
  EXPECT_EQ(s.view(), "ab");
  EXPECT_EQ(s.data(), buffer);
  s.Truncate(10);
  EXPECT_EQ(s.view(), "ab");
}

}  // namespace
}  // namespace mandant::pki
