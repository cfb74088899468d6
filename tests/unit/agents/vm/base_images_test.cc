#include "agents/vm/base_images.h"

#include <sys/stat.h>
#include <sys/time.h>

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agents/vm/command.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/agents/vm/test_dir.h"

namespace mandant::agent {
namespace {

using ::mandant::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

// Sets the mtime of `path` to `seconds` since the epoch.
void SetMtime(const std::string& path, time_t seconds) {
  struct timeval times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(utimes(path.c_str(), times), 0);
}

TEST(BaseImagesTest, ListsQcow2FilesWithChecksumsOrderedByName) {
  testing::TestDir dir;
  WriteFile(dir.path() + "/b-img.qcow2", "bbbb");
  WriteFile(dir.path() + "/a-img.qcow2", "aa");
  WriteFile(dir.path() + "/notes.txt", "x");
  WriteFile(dir.path() + "/.hidden.qcow2", "x");
  WriteFile(dir.path() + "/bad name.qcow2", "x");
  BaseImages images(dir.path());
  absl::StatusOr<std::vector<v1::BaseImage>> list = images.List();
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name(), "a-img");
  EXPECT_EQ((*list)[0].sha256(),
            // printf aa | sha256sum
            "961b6dd3ede3cb8ecbaacbd68de040cd78eb2ed5889130cceb4c49268ea4d506");
  EXPECT_EQ((*list)[0].size_bytes(), 2);
  EXPECT_EQ((*list)[1].name(), "b-img");
  EXPECT_EQ((*list)[1].sha256(),
            // echo -n bbbb | sha256sum
            "81cc5b17018674b401b42f35ba07bb79e211239c23bffe658da1577e3e646877");
}

// printf 1111 | sha256sum; printf 2222 | sha256sum
constexpr char kSha256Of1111[] = "0ffe1abd1a08215353c233d6e009613e95eec4253832a761af28ff37ac5a150c";
constexpr char kSha256Of2222[] = "edee29f882543b956620b26d0ee0e7e950399b1c4222f5de05e06425b4c995e9";

TEST(BaseImagesTest, ChecksumIsCachedByPathSizeAndMtime) {
  testing::TestDir dir;
  const std::string path = dir.path() + "/img.qcow2";
  WriteFile(path, "1111");
  SetMtime(path, 1000000);
  BaseImages images(dir.path());
  absl::StatusOr<BaseImageFile> first = images.Find("img");
  ASSERT_OK(first);
  EXPECT_EQ(first->sha256, kSha256Of1111);

  // Same inode, size and mtime: the cached checksum is used, not recomputed
  // (which is what makes a heartbeat cheap).
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f << "2222";
  }
  SetMtime(path, 1000000);
  EXPECT_EQ(images.Find("img")->sha256, kSha256Of1111);

  // A new mtime makes it hash again.
  SetMtime(path, 2000000);
  EXPECT_EQ(images.Find("img")->sha256, kSha256Of2222);
}

TEST(BaseImagesTest, FindsKernelAndInitrdOnlyWhenBothExist) {
  testing::TestDir dir;
  WriteFile(dir.path() + "/img.qcow2", "x");
  WriteFile(dir.path() + "/img.vmlinuz", "k");
  BaseImages images(dir.path());
  EXPECT_EQ(images.Find("img")->kernel, "");
  WriteFile(dir.path() + "/img.initrd", "i");
  absl::StatusOr<BaseImageFile> file = images.Find("img");
  ASSERT_OK(file);
  EXPECT_EQ(file->kernel, dir.path() + "/img.vmlinuz");
  EXPECT_EQ(file->initrd, dir.path() + "/img.initrd");
}

TEST(BaseImagesTest, RefusesBadNamesAndReportsMissingImages) {
  testing::TestDir dir;
  BaseImages images(dir.path());
  EXPECT_THAT(images.Find("../etc/passwd"),
              StatusIs(absl::StatusCode::kInvalidArgument, "not valid"));
  EXPECT_THAT(images.Find(".."), StatusIs(absl::StatusCode::kInvalidArgument, "not valid"));
  EXPECT_THAT(images.Find("absent"), StatusIs(absl::StatusCode::kNotFound, "image directory"));
  BaseImages missing(dir.path() + "/nope");
  EXPECT_THAT(missing.List(), StatusIs(absl::StatusCode::kInternal, "listing base images"));
}

TEST(OverlayDiskTest, CreatesCopyOnWriteOverlayOnTheBase) {
  testing::TestDir dir;
  const std::string base = dir.path() + "/base.qcow2";
  ASSERT_OK(RunCommand({"qemu-img", "create", "-q", "-f", "qcow2", base, "64M"}));
  const std::string overlay = dir.path() + "/disk.qcow2";
  ASSERT_OK(CreateOverlayDisk(base, overlay, 1));
  absl::StatusOr<std::string> info = RunCommand({"qemu-img", "info", "--output=json", overlay});
  ASSERT_OK(info);
  EXPECT_THAT(*info, HasSubstr("\"backing-filename\": \"" + base + "\""));
  EXPECT_THAT(*info, HasSubstr("\"backing-filename-format\": \"qcow2\""));
  EXPECT_THAT(*info, HasSubstr("\"virtual-size\": 1073741824"));
  struct stat st;
  ASSERT_EQ(stat(overlay.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_NE(stat((overlay + ".tmp").c_str(), &st), 0);
}

TEST(OverlayDiskTest, ReportsQemuImgErrorAndLeavesNothing) {
  testing::TestDir dir;
  const std::string overlay = dir.path() + "/disk.qcow2";
  EXPECT_THAT(CreateOverlayDisk(dir.path() + "/missing.qcow2", overlay, 1),
              StatusIs(absl::StatusCode::kInternal, "missing.qcow2"));
  struct stat st;
  EXPECT_NE(stat(overlay.c_str(), &st), 0);
  EXPECT_NE(stat((overlay + ".tmp").c_str(), &st), 0);
}

TEST(CommandTest, ReportsExitStatusAndOutput) {
  EXPECT_THAT(RunCommand({"sh", "-c", "echo boom >&2; exit 3"}),
              StatusIs(absl::StatusCode::kInternal, "exited with status 3: boom"));
  EXPECT_THAT(RunCommand({"/nonexistent/tool"}),
              StatusIs(absl::StatusCode::kInternal, "is /nonexistent/tool installed?"));
  EXPECT_THAT(RunCommand({"echo", "a;b", "$(x)"}), ::mandant::testing::IsOkAndHolds("a;b $(x)\n"));
}

}  // namespace
}  // namespace mandant::agent
