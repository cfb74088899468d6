#ifndef MANDANT_COMMON_SECRETS_H_
#define MANDANT_COMMON_SECRETS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mandant {

// Reads a secret (token, password, private key) from a file. The file must
// not be accessible by group or others (mode 0600 or less), except that a
// root-owned file read by another user may be group-readable (0640), as
// PostgreSQL allows for its key file. Trailing newlines are removed. Errors name the file and
// never contain the secret.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

// Reads a secret from environment variable `env` if it is set, otherwise from
// `file` if it is not empty. NOT_FOUND when neither is given.
absl::StatusOr<std::string> ReadSecret(absl::string_view env, const std::string& file);

}  // namespace mandant

#endif  // MANDANT_COMMON_SECRETS_H_
