#include "cli/staged_file.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"
#include "tests/unit/cli/temp_files.h"

namespace mandant::cli {
namespace {

using ::mandant::cli::testing::FileMode;
using ::mandant::cli::testing::ReadAll;
using ::mandant::cli::testing::TempDir;
using ::mandant::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

TEST(StagedFileTest, IsPrivateFromTheStartAndAppearsOnlyOnCommit) {
  TempDir dir;
  const std::string path = dir.path() + "/key.pem";
  // A umask that would allow everything must not widen the mode.
  const mode_t old_umask = umask(0);
  absl::StatusOr<StagedFile> staged = StagedFile::Write(path, "secret", 0600);
  umask(old_umask);
  ASSERT_OK(staged);
  std::vector<std::string> entries = Entries(dir.path());
  ASSERT_THAT(entries, SizeIs(1));
  EXPECT_NE(entries[0], "key.pem");
  EXPECT_EQ(FileMode(dir.path() + "/" + entries[0]), 0600u);

  ASSERT_OK(staged->Commit(/*replace=*/false));
  EXPECT_THAT(Entries(dir.path()), ElementsAre("key.pem"));
  EXPECT_EQ(FileMode(path), 0600u);
  EXPECT_EQ(ReadAll(path), "secret");
  EXPECT_THAT(staged->Commit(false), StatusIs(absl::StatusCode::kFailedPrecondition, "already"));
}

TEST(StagedFileTest, UncommittedFilesAreRemoved) {
  TempDir dir;
  {
    absl::StatusOr<StagedFile> staged = StagedFile::Write(dir.path() + "/k", "x", 0600);
    ASSERT_OK(staged);
    StagedFile moved = *std::move(staged);
    EXPECT_THAT(Entries(dir.path()), SizeIs(1));
  }
  EXPECT_THAT(Entries(dir.path()), IsEmpty());
}

TEST(StagedFileTest, NeverReplacesWithoutBeingTold) {
  TempDir dir;
  const std::string path = dir.WriteFile("key.pem", "old", 0644);
  absl::StatusOr<StagedFile> staged = StagedFile::Write(path, "new", 0600);
  ASSERT_OK(staged);
  EXPECT_THAT(staged->Commit(/*replace=*/false),
              StatusIs(absl::StatusCode::kAlreadyExists, "already exists"));
  EXPECT_EQ(ReadAll(path), "old");
  ASSERT_OK(staged->Commit(/*replace=*/true));
  EXPECT_EQ(ReadAll(path), "new");
  EXPECT_EQ(FileMode(path), 0600u);
  EXPECT_THAT(Entries(dir.path()), ElementsAre("key.pem"));
}

TEST(StagedFileTest, ASymlinkAtThePathIsReplacedNotFollowed) {
  TempDir dir;
  const std::string target = dir.WriteFile("target", "victim", 0644);
  const std::string link_path = dir.path() + "/key.pem";
  ASSERT_EQ(symlink(target.c_str(), link_path.c_str()), 0);
  ASSERT_OK(WriteFileAtomically(link_path, "new", 0600, /*replace=*/true));
  EXPECT_EQ(ReadAll(target), "victim");
  EXPECT_EQ(ReadAll(link_path), "new");
  struct stat st;
  ASSERT_EQ(lstat(link_path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(StagedFileTest, MissingFolder) {
  TempDir dir;
  EXPECT_THAT(StagedFile::Write(dir.path() + "/nope/k", "x", 0600).status(),
              StatusIs(absl::StatusCode::kNotFound, "nope/k"));
}

TEST(CheckCanWriteTest, ExistingFilesFoldersAndMissingFolders) {
  TempDir dir;
  const std::string existing = dir.WriteFile("a.crt", "x");
  EXPECT_THAT(CheckCanWrite(existing, false, "--out-cert"),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       "--out-cert \"" + existing + "\" already exists; pass --force"));
  EXPECT_OK(CheckCanWrite(existing, true, "--out-cert"));
  EXPECT_OK(CheckCanWrite(dir.path() + "/new.crt", false, "--out-cert"));
  EXPECT_THAT(CheckCanWrite(dir.path(), true, "--out"),
              StatusIs(absl::StatusCode::kFailedPrecondition, "is a folder"));
  EXPECT_THAT(CheckCanWrite(dir.path() + "/no/such.crt", false, "--out-key"),
              StatusIs(absl::StatusCode::kNotFound, "does not exist"));
  // A dangling symlink counts as existing: it could be pointed anywhere.
  const std::string dangling = dir.path() + "/dangling";
  ASSERT_EQ(symlink("/nonexistent/target", dangling.c_str()), 0);
  EXPECT_THAT(CheckCanWrite(dangling, false, "--out-key"),
              StatusIs(absl::StatusCode::kAlreadyExists, "--force"));
}

}  // namespace
}  // namespace mandant::cli
