#include "common/files.h"

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"

namespace mandant {
namespace {

using ::testing::ElementsAre;
using testing::IsOkAndHolds;
using testing::StatusIs;

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::MakeTempDir("files-test");
    ASSERT_TRUE(dir.ok());
    dir_ = *dir;
  }
  void TearDown() override { testing::RemoveTree(dir_); }

  int Mode(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
  }
  std::vector<std::string> Names() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      names.push_back(e.path().filename().string());
    }
    return names;
  }

  std::string dir_;
};

TEST_F(FilesTest, ReplacesWithModeAndLeavesNoTemporaryFile) {
  const std::string path = dir_ + "/f";
  ASSERT_OK(WriteFileAtomically(path, "one", 0600));
  EXPECT_THAT(ReadFile(path), IsOkAndHolds("one"));
  EXPECT_EQ(Mode(path), 0600);
  ASSERT_OK(WriteFileAtomically(path, "two", 0644));
  EXPECT_THAT(ReadFile(path), IsOkAndHolds("two"));
  EXPECT_EQ(Mode(path), 0644);
  EXPECT_THAT(Names(), ElementsAre("f"));
}

TEST_F(FilesTest, ModeIsNotNarrowedByTheUmask) {
  const mode_t old = umask(077);
  absl::Status st = WriteFileAtomically(dir_ + "/public", "x", 0644);
  umask(old);
  ASSERT_OK(st);
  EXPECT_EQ(Mode(dir_ + "/public"), 0644);
}

TEST_F(FilesTest, ErrorsNameTheFileAndLeaveNothingBehind) {
  EXPECT_THAT(WriteFileAtomically(dir_ + "/missing/f", "x", 0600),
              StatusIs(absl::StatusCode::kNotFound, "missing/f"));
  EXPECT_THAT(ReadFile(dir_ + "/absent"), StatusIs(absl::StatusCode::kNotFound, "absent"));
  // A folder where the file should be: the rename fails, the temporary goes.
  std::filesystem::create_directory(dir_ + "/dir");
  EXPECT_FALSE(WriteFileAtomically(dir_ + "/dir", "x", 0600).ok());
  EXPECT_THAT(Names(), ElementsAre("dir"));
}

TEST_F(FilesTest, ReadsBinaryContentWhole) {
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  ASSERT_OK(WriteFileAtomically(dir_ + "/bin", data, 0600));
  EXPECT_THAT(ReadFile(dir_ + "/bin"), IsOkAndHolds(data));
}

}  // namespace
}  // namespace mandant
