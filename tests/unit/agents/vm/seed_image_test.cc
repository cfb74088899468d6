#include "agents/vm/seed_image.h"

#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <archive.h>
#include <archive_entry.h>

#include "agents/vm/command.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/agents/vm/test_dir.h"

namespace mandant::agent {
namespace {

using ::mandant::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// Reads every regular file of an ISO back with libarchive's reader.
std::map<std::string, std::string> ReadIso(const std::string& path) {
  std::map<std::string, std::string> files;
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_iso9660(a.get());
  EXPECT_EQ(archive_read_open_filename(a.get(), path.c_str(), 10240), ARCHIVE_OK)
      << archive_error_string(a.get());
  archive_entry* entry;
  while (archive_read_next_header(a.get(), &entry) == ARCHIVE_OK) {
    if (archive_entry_filetype(entry) != AE_IFREG) continue;
    std::string data(static_cast<size_t>(archive_entry_size(entry)), '\0');
    if (!data.empty()) archive_read_data(a.get(), data.data(), data.size());
    files[archive_entry_pathname(entry)] = data;
  }
  return files;
}

v1::Seed Seed() {
  v1::Seed seed;
  seed.set_user_data("#cloud-config\nruncmd:\n  - [sh, -c, 'echo hi']\n");
  seed.set_meta_data("instance-id: m-5\nlocal-hostname: node-5\n");
  seed.set_network_config("network: {config: disabled}\n");
  return seed;
}

TEST(SeedImageTest, WritesCidataIsoWithTheThreeFiles) {
  testing::TestDir dir;
  const std::string path = dir.path() + "/seed.iso";
  ASSERT_OK(WriteSeedImage(Seed(), path));

  absl::StatusOr<std::string> blkid = RunCommand({"blkid", "-o", "export", path});
  ASSERT_OK(blkid);
  EXPECT_THAT(*blkid, HasSubstr("TYPE=iso9660"));
  EXPECT_THAT(absl::AsciiStrToLower(*blkid), HasSubstr("label=cidata"));

  EXPECT_THAT(ReadIso(path), UnorderedElementsAre(Pair("user-data", Seed().user_data()),
                                                  Pair("meta-data", Seed().meta_data()),
                                                  Pair("network-config", Seed().network_config())));
}

TEST(SeedImageTest, FileIsPrivateAndNoTemporaryIsLeft) {
  testing::TestDir dir;
  const std::string path = dir.path() + "/seed.iso";
  ASSERT_OK(WriteSeedImage(Seed(), path));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(SeedImageTest, RewriteReplacesContentAndEmptyNetworkConfigIsLeftOut) {
  testing::TestDir dir;
  const std::string path = dir.path() + "/seed.iso";
  ASSERT_OK(WriteSeedImage(Seed(), path));
  v1::Seed other;
  other.set_user_data("#cloud-config\n");
  other.set_meta_data("instance-id: m-6\n");
  ASSERT_OK(WriteSeedImage(other, path));
  EXPECT_THAT(ReadIso(path), UnorderedElementsAre(Pair("user-data", "#cloud-config\n"),
                                                  Pair("meta-data", "instance-id: m-6\n")));
}

TEST(SeedImageTest, SameSeedGivesSameFileContents) {
  testing::TestDir dir;
  ASSERT_OK(WriteSeedImage(Seed(), dir.path() + "/a.iso"));
  ASSERT_OK(WriteSeedImage(Seed(), dir.path() + "/b.iso"));
  EXPECT_EQ(ReadIso(dir.path() + "/a.iso"), ReadIso(dir.path() + "/b.iso"));
}

TEST(SeedImageTest, FailsClearlyWhenTheDirectoryIsMissing) {
  testing::TestDir dir;
  EXPECT_THAT(WriteSeedImage(Seed(), dir.path() + "/missing/seed.iso"),
              StatusIs(absl::StatusCode::kInternal, "temporary file for seed image"));
}

}  // namespace
}  // namespace mandant::agent
