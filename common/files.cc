#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace mandant {
namespace {

absl::Status Errno(int err, absl::string_view what, const std::string& path) {
  const std::string text = absl::StrCat(what, " \"", path, "\": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(text);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(text);
    default:
      return absl::InternalError(text);
  }
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "cannot read file", path);
  absl::Cleanup close_fd = [fd] { close(fd); };
  std::string out;
  char buffer[16384];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno(errno, "cannot read file", path);
    if (n == 0) return out;
    out.append(buffer, static_cast<size_t>(n));
  }
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, int mode) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const std::string tmp = absl::StrCat(path, ".tmp-", getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Errno(errno, "cannot create", tmp);
  bool renamed = false;
  absl::Cleanup remove_tmp = [&] {
    if (!renamed) unlink(tmp.c_str());
  };
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return Errno(err, "cannot write", tmp);
    }
    written += static_cast<size_t>(n);
  }
  // fchmod: the mode given to open() is narrowed by the umask.
  if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    return Errno(err, "cannot sync", tmp);
  }
  if (close(fd) != 0) return Errno(errno, "cannot close", tmp);
  if (rename(tmp.c_str(), path.c_str()) != 0) return Errno(errno, "cannot replace", path);
  renamed = true;
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace mandant
