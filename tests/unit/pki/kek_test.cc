#include "pki/kek.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

std::string KeyBytes() {
  std::string key(32, '\0');
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>(i * 7 + 1);
  return key;
}

std::string KekText(absl::string_view id) {
  return absl::StrCat(id, ":", absl::Base64Escape(KeyBytes()));
}

TEST(KekTest, ParsesTheTextForm) {
  absl::StatusOr<Kek> kek = Kek::Parse(KekText("kek-2025.03_a"));
  ASSERT_OK(kek);
  EXPECT_EQ(kek->id(), "kek-2025.03_a");
  EXPECT_EQ(kek->key(), KeyBytes());
  std::string unpadded = KekText("k");
  while (unpadded.back() == '=') unpadded.pop_back();
  EXPECT_OK(Kek::Parse(unpadded));
}

TEST(KekTest, RefusesMalformedTextWithoutEchoingTheKey) {
  const std::string key64 = absl::Base64Escape(KeyBytes());
  EXPECT_THAT(Kek::Parse(key64), StatusIs(absl::StatusCode::kInvalidArgument, "malformed KEK"));
  EXPECT_THAT(Kek::Parse(":" + key64), StatusIs(absl::StatusCode::kInvalidArgument, "KEK id"));
  EXPECT_THAT(Kek::Parse("a/b:" + key64),
              StatusIs(absl::StatusCode::kInvalidArgument, "may contain only"));
  EXPECT_THAT(Kek::Parse(std::string(65, 'a') + ":" + key64),
              StatusIs(absl::StatusCode::kInvalidArgument, "1 to 64 characters"));
  absl::StatusOr<Kek> short_key = Kek::Parse("k:" + absl::Base64Escape(KeyBytes().substr(0, 16)));
  EXPECT_THAT(short_key, StatusIs(absl::StatusCode::kInvalidArgument, "has 16 bytes, needs 32"));
  absl::StatusOr<Kek> bad = Kek::Parse("k:" + key64 + "!!");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument, "not valid base64"));
  EXPECT_THAT(bad.status().message(), Not(HasSubstr(key64.substr(0, 8))));
}

TEST(KekTest, GeneratesAndWritesItsTextForm) {
  absl::StatusOr<Kek> kek = Kek::Generate("kek-1");
  ASSERT_OK(kek);
  EXPECT_EQ(kek->key().size(), Kek::kKeySize);
  SecretBytes text = kek->ToText();
  absl::string_view line = text.view();
  ASSERT_TRUE(absl::EndsWith(line, "\n"));
  line.remove_suffix(1);
  absl::StatusOr<Kek> back = Kek::Parse(line);
  ASSERT_OK(back);
  EXPECT_EQ(back->id(), "kek-1");
  EXPECT_EQ(back->key(), kek->key());
  absl::StatusOr<Kek> other = Kek::Generate("kek-1");
  ASSERT_OK(other);
  EXPECT_NE(other->key(), kek->key());
  EXPECT_THAT(Kek::Generate("bad id"), StatusIs(absl::StatusCode::kInvalidArgument, "KEK id"));
}

class KekFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dir = mandant::testing::MakeTempDir("pki-kek");
    ASSERT_OK(dir);
    dir_ = *dir;
  }
  void TearDown() override { mandant::testing::RemoveTree(dir_); }

  std::string Write(const std::string& name, const std::string& content, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    chmod(path.c_str(), mode);
    return path;
  }

  std::string dir_;
};

TEST_F(KekFileTest, ReadsAPrivateFile) {
  absl::StatusOr<Kek> kek = Kek::FromFile(Write("kek", KekText("kek-1") + "\n", 0600));
  ASSERT_OK(kek);
  EXPECT_EQ(kek->id(), "kek-1");
  EXPECT_EQ(kek->key(), KeyBytes());
}

TEST_F(KekFileTest, RefusesAFileOthersCanRead) {
  EXPECT_THAT(Kek::FromFile(Write("kek", KekText("kek-1"), 0644)),
              StatusIs(absl::StatusCode::kPermissionDenied, "chmod 600"));
}

TEST_F(KekFileTest, NamesTheFileOfAMalformedKek) {
  const std::string path = Write("kek", "kek-1:short", 0600);
  EXPECT_THAT(Kek::FromFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument, absl::StrCat("KEK file \"", path)));
}

TEST_F(KekFileTest, EnvironmentComesBeforeTheFile) {
  const std::string path = Write("kek", KekText("from-file"), 0600);
  const std::string env = "MANDANT_PKI_KEK_TEST_" + std::to_string(getpid());
  unsetenv(env.c_str());
  absl::StatusOr<Kek> kek = Kek::Load(env, path);
  ASSERT_OK(kek);
  EXPECT_EQ(kek->id(), "from-file");
  setenv(env.c_str(), KekText("from-env").c_str(), 1);
  kek = Kek::Load(env, path);
  unsetenv(env.c_str());
  ASSERT_OK(kek);
  EXPECT_EQ(kek->id(), "from-env");
  EXPECT_THAT(Kek::Load(env, ""), StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST(KeyRingTest, FindsEveryKekAndSealsWithTheCurrentOne) {
  std::vector<Kek> previous;
  previous.push_back(*Kek::Generate("old-1"));
  previous.push_back(*Kek::Generate("old-2"));
  absl::StatusOr<KeyRing> ring = KeyRing::Create(*Kek::Generate("new"), std::move(previous));
  ASSERT_OK(ring);
  EXPECT_EQ(ring->current().id(), "new");
  ASSERT_NE(ring->Find("old-2"), nullptr);
  EXPECT_EQ(ring->Find("old-2")->id(), "old-2");
  EXPECT_EQ(ring->Find("nope"), nullptr);
  EXPECT_EQ(ring->ids(), (std::vector<std::string>{"new", "old-1", "old-2"}));
}

TEST(KeyRingTest, RefusesDuplicateIds) {
  std::vector<Kek> previous;
  previous.push_back(*Kek::Generate("same"));
  EXPECT_THAT(KeyRing::Create(*Kek::Generate("same"), std::move(previous)),
              StatusIs(absl::StatusCode::kInvalidArgument, "two KEKs have the id \"same\""));
}

}  // namespace
}  // namespace mandant::pki
