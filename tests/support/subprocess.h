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

// RunCommand with `input` on the child's stdin (at most 64 KiB): for
// secrets, which must not appear on a command line.
absl::StatusOr<std::string> RunCommandWithInput(const std::vector<std::string>& argv,
                                                const std::string& input);

// Starts a process in the background with stdout and stderr appended to
// `log_file`; returns its pid.
absl::StatusOr<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                                   const std::string& log_file);

// Like SpawnProcess, but the process outlives the caller: a session of its
// own (a terminal's Ctrl-C does not reach it) and no death signal. For
// servers that a command starts and a later command stops (the demo).
absl::StatusOr<pid_t> SpawnDetached(const std::vector<std::string>& argv,
                                    const std::string& log_file);

// True when `pid` runs (not a zombie) and its program's file name is
// `program` (so a reused pid does not count).
bool ProcessRuns(pid_t pid, const std::string& program);
// SIGTERM, then SIGKILL after `grace_seconds`; reaps it when it is our child.
// True when it had been running.
bool StopProcess(pid_t pid, int grace_seconds);

// A fresh temporary directory (mkdtemp under $TMPDIR or /tmp).
absl::StatusOr<std::string> MakeTempDir(const std::string& prefix);
// rm -rf.
void RemoveTree(const std::string& path);
// A TCP port that was free on 127.0.0.1 a moment ago.
int PickFreePort();

}  // namespace mandant::testing

#endif  // MANDANT_TESTS_SUPPORT_SUBPROCESS_H_
