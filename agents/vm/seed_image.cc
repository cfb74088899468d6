#include "agents/vm/seed_image.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include <archive.h>
#include <archive_entry.h>

namespace mandant::agent {
namespace {

// 2000-01-01T00:00:00Z: reproducible images, and no date before the ISO 9660
// epoch confusion of 1970.
constexpr time_t kSeedMtime = 946684800;

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

absl::Status ArchiveError(archive* a, absl::string_view what, const std::string& path) {
  const char* text = archive_error_string(a);
  return absl::InternalError(absl::StrCat("writing seed image ", path, ": ", what, ": ",
                                          text != nullptr ? text : "unknown libarchive error"));
}

}  // namespace

absl::Status WriteSeedImage(const v1::Seed& seed, const std::string& path) {
  std::string tmp = path + ".tmp-XXXXXX";
  // mkstemp creates the file with mode 0600.
  int fd = mkstemp(tmp.data());
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("creating a temporary file for seed image ", path, ": ", strerror(errno)));
  }
  bool renamed = false;
  absl::Cleanup cleanup = [&] {
    if (fd >= 0) close(fd);
    if (!renamed) unlink(tmp.c_str());
  };

  std::unique_ptr<archive, ArchiveDeleter> a(archive_write_new());
  if (a == nullptr) return absl::ResourceExhaustedError("libarchive: archive_write_new failed");
  if (archive_write_set_format_iso9660(a.get()) != ARCHIVE_OK) {
    return ArchiveError(a.get(), "selecting ISO 9660", path);
  }
  for (const char* option :
       {"iso9660:volume-id=cidata", "iso9660:rockridge", "iso9660:joliet", "iso9660:pad"}) {
    if (archive_write_set_options(a.get(), option) != ARCHIVE_OK) {
      return ArchiveError(a.get(), absl::StrCat("setting ", option), path);
    }
  }
  if (archive_write_open_fd(a.get(), fd) != ARCHIVE_OK) {
    return ArchiveError(a.get(), "opening", path);
  }
  std::vector<std::pair<const char*, const std::string*>> files = {
      {"user-data", &seed.user_data()}, {"meta-data", &seed.meta_data()}};
  if (!seed.network_config().empty()) files.emplace_back("network-config", &seed.network_config());
  for (const auto& [name, data] : files) {
    std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), name);
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0600);
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(data->size()));
    archive_entry_set_mtime(entry.get(), kSeedMtime, 0);
    archive_entry_set_atime(entry.get(), kSeedMtime, 0);
    archive_entry_set_ctime(entry.get(), kSeedMtime, 0);
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) {
      return ArchiveError(a.get(), absl::StrCat("adding ", name), path);
    }
    if (!data->empty() && archive_write_data(a.get(), data->data(), data->size()) !=
                              static_cast<la_ssize_t>(data->size())) {
      return ArchiveError(a.get(), absl::StrCat("writing ", name), path);
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    return ArchiveError(a.get(), "finishing", path);
  }
  if (fsync(fd) != 0) {
    return absl::InternalError(absl::StrCat("fsync of seed image ", tmp, ": ", strerror(errno)));
  }
  if (close(fd) != 0) {
    fd = -1;
    return absl::InternalError(absl::StrCat("closing seed image ", tmp, ": ", strerror(errno)));
  }
  fd = -1;
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("renaming seed image ", tmp, " to ", path, ": ", strerror(errno)));
  }
  renamed = true;
  return absl::OkStatus();
}

}  // namespace mandant::agent
