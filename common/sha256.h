#ifndef MANDANT_COMMON_SHA256_H_
#define MANDANT_COMMON_SHA256_H_

// SHA-256 for the whole tree, over OpenSSL's EVP interface. Thread-safe.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mandant {

// The 32-byte digest of `data` (tokens, CSRs, specs are looked up or
// compared by it). Uses a fetched digest: OpenSSL 3's one-shot SHA256()
// looks the algorithm up on every call.
std::string Sha256(absl::string_view data);

// The digest as 64 lower-case hex digits.
std::string Sha256Hex(absl::string_view data);

// Streams the file in 1 MiB blocks (base images are hundreds of MB).
// NOT_FOUND when it does not exist, INTERNAL on other read errors.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);

}  // namespace mandant

#endif  // MANDANT_COMMON_SHA256_H_
