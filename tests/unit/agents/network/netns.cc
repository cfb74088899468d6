#include "tests/unit/agents/network/netns.h"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "tests/support/subprocess.h"

namespace mandant::agent::testing {
namespace {

bool in_private_netns = false;
std::string& SkipReason() {
  static std::string* reason = new std::string("EnterPrivateNetns() was not called");
  return *reason;
}

}  // namespace

bool InPrivateNetns() { return in_private_netns; }
const std::string& NetnsSkipReason() { return SkipReason(); }

void EnterPrivateNetns() {
  if (geteuid() != 0) {
    SkipReason() = "needs root to create a private network namespace (unshare CLONE_NEWNET)";
    return;
  }
  if (unshare(CLONE_NEWNET) != 0) {
    SkipReason() = absl::StrCat("unshare(CLONE_NEWNET) failed: ", std::strerror(errno));
    return;
  }
  in_private_netns = true;
  SkipReason().clear();
  // A fresh namespace has only a down loopback.
  (void)Ip("link set lo up");
}

absl::StatusOr<std::string> Shell(const std::vector<std::string>& argv) {
  return mandant::testing::RunCommand(argv);
}

absl::StatusOr<std::string> Ip(const std::string& args) {
  std::vector<std::string> argv = {"ip"};
  for (absl::string_view a : absl::StrSplit(args, ' ', absl::SkipEmpty())) argv.emplace_back(a);
  return Shell(argv);
}

absl::StatusOr<std::unique_ptr<GuestNamespace>> GuestNamespace::Start() {
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(fds[0]);
    const char ok = unshare(CLONE_NEWNET) == 0 ? '1' : '0';
    (void)!write(fds[1], &ok, 1);
    close(fds[1]);
    for (;;) pause();
  }
  close(fds[1]);
  char ok = '0';
  const ssize_t n = read(fds[0], &ok, 1);
  close(fds[0]);
  auto guest = std::unique_ptr<GuestNamespace>(new GuestNamespace(pid));
  if (n != 1 || ok != '1') return absl::InternalError("guest namespace: unshare failed");
  return guest;
}

GuestNamespace::~GuestNamespace() {
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

absl::StatusOr<std::string> GuestNamespace::Exec(const std::vector<std::string>& argv) const {
  std::vector<std::string> full = {"nsenter", "-t", std::to_string(pid_), "-n", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return Shell(full);
}

}  // namespace mandant::agent::testing
