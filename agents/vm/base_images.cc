#include "agents/vm/base_images.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

#include "agents/vm/command.h"
#include "common/logging.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace mandant::agent {
namespace {

constexpr absl::string_view kImageSuffix = ".qcow2";

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

bool IsValidBaseImageName(absl::string_view name) {
  if (name.empty() || name.size() > 100 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

BaseImages::BaseImages(std::string image_dir) : image_dir_(std::move(image_dir)) {}

absl::StatusOr<BaseImageFile> BaseImages::Describe(const std::string& name) {
  BaseImageFile file;
  file.name = name;
  file.path = absl::StrCat(image_dir_, "/", name, kImageSuffix);
  struct stat st;
  if (stat(file.path.c_str(), &st) != 0) {
    int e = errno;
    std::string msg = absl::StrCat("base image \"", name, "\": ", file.path, ": ", strerror(e));
    return e == ENOENT ? absl::NotFoundError(
                             absl::StrCat(msg, "; copy the image into the agent's image directory"))
                       : absl::InternalError(msg);
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("base image \"", name, "\": ", file.path, " is not a regular file"));
  }
  file.size_bytes = st.st_size;
  const int64_t mtime_ns =
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  CacheEntry& cached = cache_[file.path];
  if (cached.sha256.empty() || cached.size != st.st_size || cached.mtime_ns != mtime_ns ||
      cached.inode != st.st_ino) {
    MANDANT_LOG(info, "hashing base image", {{"image", name}, {"bytes", (long long)st.st_size}});
    absl::StatusOr<std::string> sha = Sha256OfFile(file.path);
    if (!sha.ok()) {
      cache_.erase(file.path);
      return sha.status();
    }
    cached = CacheEntry{st.st_size, mtime_ns, st.st_ino, *std::move(sha)};
  }
  file.sha256 = cached.sha256;
  std::string kernel = absl::StrCat(image_dir_, "/", name, ".vmlinuz");
  std::string initrd = absl::StrCat(image_dir_, "/", name, ".initrd");
  if (IsRegularFile(kernel) && IsRegularFile(initrd)) {
    file.kernel = std::move(kernel);
    file.initrd = std::move(initrd);
  }
  return file;
}

absl::StatusOr<std::vector<v1::BaseImage>> BaseImages::List() {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(image_dir_.c_str()), closedir);
  if (dir == nullptr) {
    return absl::InternalError(absl::StrCat("listing base images in ", image_dir_, ": ",
                                            strerror(errno),
                                            "; check the agent's image directory setting"));
  }
  std::vector<std::string> names;
  while (struct dirent* e = readdir(dir.get())) {
    absl::string_view file = e->d_name;
    if (!absl::ConsumeSuffix(&file, kImageSuffix) || !IsValidBaseImageName(file)) continue;
    names.emplace_back(file);
  }
  std::sort(names.begin(), names.end());
  std::vector<v1::BaseImage> out;
  absl::MutexLock lock(&mu_);
  for (const std::string& name : names) {
    absl::StatusOr<BaseImageFile> file = Describe(name);
    if (!file.ok()) {
      MANDANT_LOG(warn, "base image left out of the inventory",
                  {{"image", name}, {"error", file.status()}});
      continue;
    }
    v1::BaseImage& image = out.emplace_back();
    image.set_name(file->name);
    image.set_sha256(file->sha256);
    image.set_size_bytes(file->size_bytes);
  }
  return out;
}

absl::StatusOr<BaseImageFile> BaseImages::Find(absl::string_view name) {
  if (!IsValidBaseImageName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "base image name \"", name, "\" is not valid (1-100 characters from [a-zA-Z0-9._-])"));
  }
  absl::MutexLock lock(&mu_);
  return Describe(std::string(name));
}

absl::Status CreateOverlayDisk(const std::string& base, const std::string& overlay,
                               int64_t disk_gib) {
  if (disk_gib < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("disk ", overlay, ": size ", disk_gib, " GiB is negative"));
  }
  const std::string tmp = overlay + ".tmp";
  unlink(tmp.c_str());  // left over from a crash
  std::vector<std::string> argv = {"qemu-img", "create", "-q", "-f",    "qcow2",
                                   "-b",       base,     "-F", "qcow2", tmp};
  if (disk_gib > 0) argv.push_back(absl::StrCat(disk_gib, "G"));
  absl::StatusOr<std::string> out = RunCommand(argv);
  if (!out.ok()) {
    unlink(tmp.c_str());
    return absl::InternalError(
        absl::StrCat("creating disk ", overlay, " on ", base, ": ", out.status().message()));
  }
  if (chmod(tmp.c_str(), 0600) != 0 || rename(tmp.c_str(), overlay.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return absl::InternalError(
        absl::StrCat("moving new disk ", tmp, " to ", overlay, ": ", strerror(e)));
  }
  return absl::OkStatus();
}

}  // namespace mandant::agent
