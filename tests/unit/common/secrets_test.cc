#include "common/secrets.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"

namespace mandant {
namespace {

using testing::IsOkAndHolds;
using testing::StatusIs;

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::MakeTempDir("secrets-test");
    ASSERT_TRUE(dir.ok());
    dir_ = *dir;
  }
  void TearDown() override {
    unsetenv("MANDANT_TEST_SECRET");
    testing::RemoveTree(dir_);
  }
  std::string Write(const std::string& name, const std::string& content, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(SecretsTest, ReadsPrivateFileWithoutTrailingNewline) {
  EXPECT_THAT(ReadSecretFile(Write("ok", "s3cret\n\n", 0600)), IsOkAndHolds("s3cret"));
  EXPECT_THAT(ReadSecretFile(Write("ro", "s3cret", 0400)), IsOkAndHolds("s3cret"));
}

TEST_F(SecretsTest, RefusesFilesOthersCanRead) {
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    auto s = ReadSecretFile(Write("loose", "s3cret", mode));
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied, "chmod 600")) << mode;
    EXPECT_EQ(std::string(s.status().message()).find("s3cret"), std::string::npos);
  }
}

TEST_F(SecretsTest, MissingAndEmptyFiles) {
  EXPECT_THAT(ReadSecretFile(dir_ + "/absent"), StatusIs(absl::StatusCode::kNotFound, "absent"));
  EXPECT_THAT(ReadSecretFile(Write("empty", "\n", 0600)),
              StatusIs(absl::StatusCode::kInvalidArgument, "empty"));
}

TEST_F(SecretsTest, EnvironmentWinsOverFile) {
  const std::string file = Write("pw", "from-file", 0600);
  EXPECT_THAT(ReadSecret("MANDANT_TEST_SECRET", file), IsOkAndHolds("from-file"));
  setenv("MANDANT_TEST_SECRET", "from-env", 1);
  EXPECT_THAT(ReadSecret("MANDANT_TEST_SECRET", file), IsOkAndHolds("from-env"));
  unsetenv("MANDANT_TEST_SECRET");
  EXPECT_THAT(ReadSecret("MANDANT_TEST_SECRET", ""),
              StatusIs(absl::StatusCode::kNotFound, "MANDANT_TEST_SECRET"));
}

}  // namespace
}  // namespace mandant
