#ifndef MANDANT_TESTS_SUPPORT_SUBPROCESS_H_
#define MANDANT_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mandant::testing {

// Runs argv[0] (searched in PATH) to completion with stdout and stderr
// captured. INTERNAL with the exit status and the output's tail when it fails.
absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv);

// Starts a process in the background with stdout and stderr appended to
// `log_file`; returns its pid.
absl::StatusOr<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                                   const std::string& log_file);

// A fresh temporary directory (mkdtemp under $TMPDIR or /tmp).
absl::StatusOr<std::string> MakeTempDir(const std::string& prefix);
// rm -rf.
void RemoveTree(const std::string& path);
// A TCP port that was free on 127.0.0.1 a moment ago.
int PickFreePort();

}  // namespace mandant::testing

#endif  // MANDANT_TESTS_SUPPORT_SUBPROCESS_H_
