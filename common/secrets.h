#ifndef MANDANT_COMMON_SECRETS_H_
#define MANDANT_COMMON_SECRETS_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace mandant {

// Reads a secret (token, password) from a file. The file must not be readable
// by group or others; trailing newlines are removed. Errors name the file and
// never contain the secret.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

// Reads a secret from environment variable `env` if it is set, otherwise from
// `file` if it is not empty. NOT_FOUND when neither is given.
absl::StatusOr<std::string> ReadSecret(absl::string_view env, const std::string& file);

// Reads a whole (non-secret) file, such as a certificate.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace mandant

#endif  // MANDANT_COMMON_SECRETS_H_
