#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mandant::testing {

namespace {

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_file,
                            bool detached, int stdin_fd) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    if (detached) {
      setsid();
    } else {
      // A test that dies must not leave its servers running.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
    }
    int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    int in = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
    if (in >= 0) dup2(in, 0);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

absl::StatusOr<std::string> Run(const std::vector<std::string>& argv, const std::string* input) {
  int input_pipe[2] = {-1, -1};
  if (input != nullptr) {
    if (input->size() > 65536 || pipe2(input_pipe, O_CLOEXEC) != 0) {
      return absl::InternalError("RunCommandWithInput: no pipe for the input");
    }
    // Fits in the pipe's buffer, so it is written before the child reads.
    ssize_t n = write(input_pipe[1], input->data(), input->size());
    close(input_pipe[1]);
    if (n != static_cast<ssize_t>(input->size())) {
      close(input_pipe[0]);
      return absl::InternalError("RunCommandWithInput: short write to the pipe");
    }
  }
  auto dir = MakeTempDir("mandant-cmd");
  if (!dir.ok()) return dir.status();
  const std::string log = *dir + "/out";
  auto pid = Spawn(argv, log, /*detached=*/false, input_pipe[0]);
  if (input_pipe[0] >= 0) close(input_pipe[0]);
  if (!pid.ok()) return pid.status();
  int status = 0;
  waitpid(*pid, &status, 0);
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  RemoveTree(*dir);
  std::string out = ss.str();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat("\"", absl::StrJoin(argv, " "), "\" failed (status ", status,
                     "): ", out.size() > 2000 ? out.substr(out.size() - 2000) : out));
  }
  return out;
}

}  // namespace

absl::StatusOr<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                                   const std::string& log_file) {
  return Spawn(argv, log_file, /*detached=*/false, -1);
}

absl::StatusOr<pid_t> SpawnDetached(const std::vector<std::string>& argv,
                                    const std::string& log_file) {
  return Spawn(argv, log_file, /*detached=*/true, -1);
}

absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv) {
  return Run(argv, nullptr);
}

absl::StatusOr<std::string> RunCommandWithInput(const std::vector<std::string>& argv,
                                                const std::string& input) {
  return Run(argv, &input);
}

bool ProcessRuns(pid_t pid, const std::string& program) {
  if (pid <= 0) return false;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] == 'Z') {
    return false;
  }
  std::ifstream cmdline(absl::StrCat("/proc/", pid, "/cmdline"));
  std::string arg;
  // The program itself, or an interpreter or wrapper (ip netns exec) running it.
  while (std::getline(cmdline, arg, '\0')) {
    if (std::filesystem::path(arg).filename() == program) return true;
  }
  return false;
}

bool StopProcess(pid_t pid, int grace_seconds) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  kill(pid, SIGTERM);
  for (int i = 0; i < grace_seconds * 10; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid || kill(pid, 0) != 0) return true;
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    std::string line;
    std::getline(stat, line);
    size_t paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z') {
      return true;  // exited; its parent reaps it
    }
    usleep(100 * 1000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, WNOHANG);
  return true;
}

absl::StatusOr<std::string> MakeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = absl::StrCat(tmp && *tmp ? tmp : "/tmp", "/", prefix, ".XXXXXX");
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", templ, ": ", std::strerror(errno)));
  }
  return std::string(buf.data());
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

}  // namespace mandant::testing
