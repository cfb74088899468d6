#include "common/sha256.h"

#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"

namespace mandant {
namespace {

using ::mandant::testing::IsOkAndHolds;
using ::mandant::testing::StatusIs;

// Known answers, not this code's own output: the first two are FIPS 180-2's
// examples, also printed by `printf '' | sha256sum` and `printf abc | sha256sum`.
TEST(Sha256Test, KnownAnswers) {
  EXPECT_EQ(Sha256(""), absl::HexStringToBytes(
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// A file longer than three of the 1 MiB blocks it is read in, ending in a
// partial block.
TEST(Sha256Test, FileReadInBlocksHashesLikeSha256sum) {
  absl::StatusOr<std::string> dir = testing::MakeTempDir("sha256-test");
  ASSERT_TRUE(dir.ok());
  const std::string path = *dir + "/image.qcow2";
  constexpr size_t kSize = 3 * 1024 * 1024 + 7;
  std::string content;
  while (content.size() < kSize) content += "mandant\n";
  content.resize(kSize);
  std::ofstream(path, std::ios::binary) << content;
  // yes mandant | head -c 3145735 | sha256sum   (same with openssl dgst -sha256)
  EXPECT_THAT(Sha256OfFile(path),
              IsOkAndHolds("3ca3740bbd4cf898c5cc58d3c8ee149cf05990fcc673bc8a7963d96edb159752"));
  EXPECT_THAT(Sha256OfFile(*dir + "/missing.qcow2"),
              StatusIs(absl::StatusCode::kNotFound, "missing.qcow2"));
  testing::RemoveTree(*dir);
}

}  // namespace
}  // namespace mandant
