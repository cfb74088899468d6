#ifndef MANDANT_COMMON_FILES_H_
#define MANDANT_COMMON_FILES_H_

// Reading and replacing whole files, for every part of Mandant. Secrets are
// read with ReadSecretFile (common/secrets.h), which also checks the mode.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mandant {

// Reads a whole (non-secret) file, such as a certificate. NOT_FOUND when the
// file does not exist, PERMISSION_DENIED when it may not be read, INTERNAL for
// other errors; the message names the file and the reason.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Replaces `path` with `data` and `mode` so that a reader, or the file after a
// crash or power loss, is either the old content or the new one: a temporary
// file in the same folder ("<path>.tmp-<pid>"), fsync, rename, fsync of the
// folder. The temporary file is removed on failure. Errors name the file.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, int mode);

}  // namespace mandant

#endif  // MANDANT_COMMON_FILES_H_
