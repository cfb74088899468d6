#include "cli/staged_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mandant::cli {
namespace {

std::string FolderOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status Errno(int err, absl::string_view what, const std::string& path) {
  std::string message = absl::StrCat("cannot ", what, " \"", path, "\": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    default:
      return absl::InternalError(message);
  }
}

// Eight random hex digits for a temporary name.
std::string RandomSuffix() {
  uint32_t r = 0;
  if (getrandom(&r, sizeof(r), 0) != static_cast<ssize_t>(sizeof(r))) r = std::random_device()();
  return absl::StrFormat("%08x", r);
}

// rename() that fails with EEXIST instead of replacing. renameat2 is
// refused by some file systems (EINVAL); link() then gives the same
// guarantee, as it never replaces either.
int RenameNoReplace(const char* from, const char* to) {
  if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  if (link(from, to) != 0) return -1;
  unlink(from);
  return 0;
}

}  // namespace

absl::StatusOr<StagedFile> StagedFile::Write(std::string path, absl::string_view contents,
                                             mode_t mode) {
  const std::string folder = FolderOf(path);
  const size_t slash = path.rfind('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  int fd = -1;
  std::string temp;
  // A random name, so that concurrent runs and files planted by others in a
  // shared folder cannot collide with it; O_EXCL makes a collision an error
  // rather than a write into someone else's file.
  for (int attempt = 0; attempt < 10 && fd < 0; ++attempt) {
    temp = absl::StrCat(folder, "/.", base, ".", RandomSuffix(), ".tmp");
    fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno != EEXIST) return Errno(errno, "write", path);
  }
  if (fd < 0) return Errno(EEXIST, "write", path);
  StagedFile staged(std::move(path), std::move(temp));
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return Errno(err, "write", staged.path_);
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    int err = errno;
    close(fd);
    return Errno(err, "write", staged.path_);
  }
  if (close(fd) != 0) return Errno(errno, "write", staged.path_);
  return staged;
}

StagedFile::StagedFile(StagedFile&& other) noexcept
    : path_(std::move(other.path_)), temp_path_(std::exchange(other.temp_path_, "")) {}

StagedFile& StagedFile::operator=(StagedFile&& other) noexcept {
  if (this != &other) {
    if (!temp_path_.empty()) unlink(temp_path_.c_str());
    path_ = std::move(other.path_);
    temp_path_ = std::exchange(other.temp_path_, "");
  }
  return *this;
}

StagedFile::~StagedFile() {
  if (!temp_path_.empty()) unlink(temp_path_.c_str());
}

absl::Status StagedFile::Commit(bool replace) {
  if (temp_path_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("\"", path_, "\" was already written"));
  }
  int rc = replace ? rename(temp_path_.c_str(), path_.c_str())
                   : RenameNoReplace(temp_path_.c_str(), path_.c_str());
  if (rc != 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat("\"", path_, "\" already exists (it appeared while mandantctl ran)"));
    }
    return Errno(errno, "write", path_);
  }
  temp_path_.clear();
  return absl::OkStatus();
}

absl::Status CheckCanWrite(const std::string& path, bool replace, absl::string_view flag) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, " needs a file name"));
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(flag, " \"", path, "\" is a folder; name a file"));
    }
    if (!replace) {
      return absl::AlreadyExistsError(
          absl::StrCat(flag, " \"", path,
                       "\" already exists; pass --force to replace it, or name another file"));
    }
    return absl::OkStatus();
  }
  const std::string folder = FolderOf(path);
  if (stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(
        absl::StrCat(flag, " \"", path, "\": the folder \"", folder, "\" does not exist"));
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, mode_t mode,
                                 bool replace) {
  absl::StatusOr<StagedFile> staged = StagedFile::Write(path, contents, mode);
  if (!staged.ok()) return staged.status();
  return staged->Commit(replace);
}

}  // namespace mandant::cli
