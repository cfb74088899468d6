#ifndef MANDANT_AGENTS_VM_COMMAND_H_
#define MANDANT_AGENTS_VM_COMMAND_H_

// Runs a host tool (qemu-img) to completion. posix_spawn, no shell, so no
// argument is ever interpreted. Thread-safe.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mandant::agent {

// Runs argv[0] (searched in PATH) with stdin from /dev/null and returns its
// stdout and stderr, interleaved, of which at most the last 8 KiB are kept.
// INTERNAL with the exit status and that output when the tool cannot be
// started or exits non-zero.
absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv);

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_VM_COMMAND_H_
