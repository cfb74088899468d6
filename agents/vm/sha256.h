#ifndef MANDANT_AGENTS_VM_SHA256_H_
#define MANDANT_AGENTS_VM_SHA256_H_

// SHA-256 over OpenSSL's EVP interface, as 64 lower-case hex digits.
// Thread-safe.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mandant::agent {

std::string Sha256Hex(absl::string_view data);

// Streams the file in 1 MiB blocks (base images are hundreds of MB).
// NOT_FOUND when it does not exist, INTERNAL on other read errors.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_VM_SHA256_H_
