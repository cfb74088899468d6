#include "common/secrets.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

#include "common/files.h"

namespace mandant {

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot read secret file \"", path, "\": ", std::strerror(errno)));
  }
  // PostgreSQL's rule for its key file: a file of one's own must be 0600 or
  // less; a root-owned one may be group-readable (0640 or less), which is how
  // Kubernetes mounts Secret volumes for a non-root pod (fsGroup).
  const mode_t forbidden =
      st.st_uid == 0 && geteuid() != 0 ? (S_IWGRP | S_IXGRP | S_IRWXO) : (S_IRWXG | S_IRWXO);
  if ((st.st_mode & forbidden) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "secret file \"", path, "\" is accessible by group or others; run chmod 600 on it"));
  }
  auto content = ReadFile(path);
  if (!content.ok()) return content.status();
  std::string s = *std::move(content);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("secret file \"", path, "\" is empty"));
  }
  return s;
}

absl::StatusOr<std::string> ReadSecret(absl::string_view env, const std::string& file) {
  if (const char* v = std::getenv(std::string(env).c_str()); v != nullptr && *v != '\0') {
    return std::string(v);
  }
  if (!file.empty()) return ReadSecretFile(file);
  return absl::NotFoundError(absl::StrCat("no secret given: set ", env, " or name a secret file"));
}

}  // namespace mandant
