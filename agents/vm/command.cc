#include "agents/vm/command.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace mandant::agent {
namespace {

constexpr size_t kMaxOutput = 8192;

}  // namespace

absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::InvalidArgumentError("RunCommand: empty argv");
  const std::string command = absl::StrJoin(argv, " ");
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("running ", command, ": pipe: ", strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    return absl::InternalError(
        absl::StrCat("running ", command, ": ", strerror(rc), "; is ", argv[0], " installed?"));
  }
  std::string output;
  char buf[4096];
  for (;;) {
    ssize_t n = read(pipe_fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
    if (output.size() > 2 * kMaxOutput) output.erase(0, output.size() - kMaxOutput);
  }
  close(pipe_fds[0]);
  if (output.size() > kMaxOutput) output.erase(0, output.size() - kMaxOutput);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("running ", command, ": waitpid: ", strerror(errno)));
    }
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return output;
  std::string how = WIFEXITED(wstatus) ? absl::StrCat("exited with status ", WEXITSTATUS(wstatus))
                                       : absl::StrCat("killed by signal ", WTERMSIG(wstatus));
  return absl::InternalError(absl::StrCat(command, " ", how, ": ", output));
}

}  // namespace mandant::agent
