#include "agents/edge/edge_processes.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

#include "agents/edge/edge_namespace.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace mandant::agent {
namespace {

namespace fs = std::filesystem;

constexpr EdgeProgram kPrograms[] = {EdgeProgram::kDnsmasq, EdgeProgram::kHaproxy,
                                     EdgeProgram::kKeepalived};  // by name
// The checker's output in an error: its first lines only.
constexpr int kCheckerLines = 8;
constexpr size_t kCheckerChars = 1500;

std::string ErrnoText(int err) { return std::strerror(err); }

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// The files of one program of one edge.
struct ProgramFiles {
  std::string dir;     // STATE_DIR/<netns>
  std::string run;     // STATE_DIR/<netns>/run
  std::string config;  // <dir>/<program>.conf
  std::string candidate;
  std::string pid;
  std::string log;
};

ProgramFiles FilesOf(const std::string& state_dir, const std::string& netns, EdgeProgram program) {
  ProgramFiles f;
  const absl::string_view name = EdgeProgramName(program);
  f.dir = absl::StrCat(state_dir, "/", netns);
  f.run = absl::StrCat(f.dir, "/run");
  f.config = absl::StrCat(f.dir, "/", name, ".conf");
  f.candidate = absl::StrCat(f.dir, "/", name, ".conf.new");
  f.pid = absl::StrCat(f.dir, "/", name, ".pid");
  f.log = absl::StrCat(f.dir, "/", name, ".log");
  return f;
}

std::vector<std::string> Substitute(const std::vector<std::string>& argv, const std::string& config,
                                    const std::string& run) {
  std::vector<std::string> out;
  out.reserve(argv.size());
  for (const std::string& a : argv) {
    out.push_back(absl::StrReplaceAll(a, {{"{config}", config}, {"{run}", run}}));
  }
  return out;
}

// The pid in our pidfile; 0 when there is none or it is unreadable.
pid_t ReadPidfile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  pid_t pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 1) {
    return 0;
  }
  return pid;
}

// True when `pid` exists and is not a zombie (a dead edge process may stay a
// zombie of an init that does not reap).
bool Alive(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return false;
  const size_t paren = stat->rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat->size()) return false;
  const char state = (*stat)[paren + 2];
  return state != 'Z' && state != 'X';
}

std::vector<std::string> Cmdline(pid_t pid) {
  absl::StatusOr<std::string> raw = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  if (!raw.ok()) return {};
  std::vector<std::string> args = absl::StrSplit(*raw, '\0');
  if (!args.empty() && args.back().empty()) args.pop_back();
  return args;
}

std::string Exe(pid_t pid) {
  std::error_code ec;
  std::string exe = fs::read_symlink(absl::StrCat("/proc/", pid, "/exe"), ec).string();
  if (ec) return "";
  // The binary was replaced (a package upgrade) while the process runs.
  constexpr absl::string_view kDeleted = " (deleted)";
  if (absl::EndsWith(exe, kDeleted)) exe.resize(exe.size() - kDeleted.size());
  return exe;
}

std::string Canonical(const std::string& path) {
  std::error_code ec;
  fs::path canonical = fs::canonical(path, ec);
  return ec ? path : canonical.string();
}

// Whether `pid`'s network namespace is the one mounted at /run/netns/<netns>.
// nullopt when that namespace does not exist.
std::optional<bool> InNamespace(pid_t pid, const std::string& netns) {
  struct stat ns {};
  if (stat(absl::StrCat(kNetnsRunDir, "/", netns).c_str(), &ns) != 0) return std::nullopt;
  struct stat st {};
  if (stat(absl::StrCat("/proc/", pid, "/ns/net").c_str(), &st) != 0) return false;
  return st.st_dev == ns.st_dev && st.st_ino == ns.st_ino;
}

enum class Identity { kOther, kSameProgram, kSameCommand };

// How far `pid` is the process `argv` started in `netns`: the same program
// (exe) in the namespace, and with a command line starting with argv.
Identity Identify(pid_t pid, const std::string& netns, const std::vector<std::string>& argv) {
  if (pid <= 1 || !Alive(pid)) return Identity::kOther;
  if (Exe(pid) != Canonical(argv[0])) return Identity::kOther;
  if (InNamespace(pid, netns) != std::optional<bool>(true)) return Identity::kOther;
  const std::vector<std::string> cmdline = Cmdline(pid);
  if (cmdline.size() < argv.size()) return Identity::kSameProgram;
  // haproxy's master appends -sf/-x to its arguments when it reloads.
  for (size_t i = 1; i < argv.size(); ++i) {
    if (cmdline[i] != argv[i]) return Identity::kSameProgram;
  }
  return Identity::kSameCommand;
}

// Whether `pid` is one of the edge's processes when its command is unknown:
// alive, its command line names the program's configuration file (every
// command contains {config}), and in the namespace if that still exists.
bool IsEdgeProcess(pid_t pid, const std::string& netns, const ProgramFiles& files) {
  if (pid <= 1 || !Alive(pid)) return false;
  if (InNamespace(pid, netns) == std::optional<bool>(false)) return false;
  for (const std::string& arg : Cmdline(pid)) {
    if (absl::StrContains(arg, files.config)) return true;
  }
  return false;
}

// Whether `pid` is the program `argv` started for this edge but runs in
// another network namespace than the one now mounted as `netns`: the
// namespace was deleted and made again (by an operator, or by another
// agent sharing /run/netns), and the process was left in the old one.
// Ours all the same: the program, with this edge's configuration file.
bool OrphanedEdgeProcess(pid_t pid, const std::string& netns, const std::vector<std::string>& argv,
                         const ProgramFiles& files) {
  if (pid <= 1 || !Alive(pid)) return false;
  if (Exe(pid) != Canonical(argv[0])) return false;
  if (InNamespace(pid, netns) != std::optional<bool>(false)) return false;
  for (const std::string& arg : Cmdline(pid)) {
    if (absl::StrContains(arg, files.config)) return true;
  }
  return false;
}

bool WaitGone(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (Alive(pid)) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// SIGTERM, then SIGKILL after `timeout`.
absl::Status Terminate(pid_t pid, absl::Duration timeout, absl::string_view what) {
  if (kill(pid, SIGTERM) != 0 && errno == ESRCH) return absl::OkStatus();
  if (WaitGone(pid, timeout)) return absl::OkStatus();
  kill(pid, SIGKILL);
  if (WaitGone(pid, absl::Seconds(5))) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(what, ": pid ", pid, " survives SIGKILL (stuck in the kernel?)"));
}

std::string LogTail(const std::string& path) {
  absl::StatusOr<std::string> log = ReadFile(path);
  if (!log.ok()) return "(no log)";
  std::string tail = log->size() > 600 ? log->substr(log->size() - 600) : *log;
  return std::string(absl::StripAsciiWhitespace(tail));
}

// C strings for execve, built before fork (nothing is allocated after it).
struct ExecArgs {
  explicit ExecArgs(const std::vector<std::string>& args) : storage(args) {
    for (std::string& s : storage) pointers.push_back(s.data());
    pointers.push_back(nullptr);
  }
  std::vector<std::string> storage;
  std::vector<char*> pointers;
};

// In a forked child of a threaded process only async-signal-safe calls
// are allowed: these are all plain system calls.
[[noreturn]] void ExecInNamespace(int ns_fd, int stdin_fd, int out_fd, int report_fd,
                                  char* const* argv, char* const* envp) {
  int err = 0;
  if (setns(ns_fd, CLONE_NEWNET) != 0) {
    err = errno;
  } else if (dup2(stdin_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) {
    err = errno;
  } else {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Nothing of the agent's (sockets, the egress log's netlink sockets)
    // reaches the program; report_fd is close-on-exec already.
    for (int fd = 3; fd < 4096; ++fd) {
      if (fd != report_fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    if (chdir("/") != 0) {
      err = errno;
    } else {
      execve(argv[0], argv, envp);
      err = errno;
    }
  }
  const int32_t code = err;
  (void)!write(report_fd, &code, sizeof(code));
  _exit(127);
}

absl::Status ForkError(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", ErrnoText(err)));
}

const char* const kEnvironment[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", nullptr};

// Starts argv inside `netns` as a daemon (double fork, setsid); its pid.
absl::StatusOr<pid_t> Spawn(const std::string& netns, const std::vector<std::string>& argv,
                            const std::string& stdout_path, absl::string_view what) {
  const std::string ns_path = absl::StrCat(kNetnsRunDir, "/", netns);
  Fd ns_fd(open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (ns_fd.get() < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat(what, ": network namespace \"", netns, "\" does not exist"));
    }
    return ForkError(absl::StrCat(what, ": opening ", ns_path), errno);
  }
  Fd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  Fd out_fd(open(stdout_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (null_fd.get() < 0 || out_fd.get() < 0) {
    return ForkError(absl::StrCat(what, ": opening /dev/null or ", stdout_path), errno);
  }
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return ForkError(absl::StrCat(what, ": pipe"), errno);
  Fd report_read(report[0]);
  Fd report_write(report[1]);
  ExecArgs args(argv);
  auto* envp = const_cast<char* const*>(kEnvironment);

  const pid_t child = fork();
  if (child < 0) return ForkError(absl::StrCat(what, ": fork"), errno);
  if (child == 0) {
    setsid();
    const pid_t grandchild = fork();
    if (grandchild != 0) {
      const int32_t value = grandchild > 0 ? grandchild : -errno;
      (void)!write(report_write.get(), &value, sizeof(value));
      _exit(0);
    }
    ExecInNamespace(ns_fd.get(), null_fd.get(), out_fd.get(), report_write.get(),
                    args.pointers.data(), envp);
  }
  report_write.Reset();
  int child_status = 0;
  while (waitpid(child, &child_status, 0) < 0 && errno == EINTR) {
  }
  int32_t values[2] = {0, 0};
  size_t got = 0;
  while (got < sizeof(values)) {
    const ssize_t n =
        read(report_read.get(), reinterpret_cast<char*>(values) + got, sizeof(values) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < sizeof(int32_t)) return absl::InternalError(absl::StrCat(what, ": fork failed"));
  if (values[0] <= 0) return ForkError(absl::StrCat(what, ": fork"), -values[0]);
  if (got == sizeof(values)) {
    return ForkError(absl::StrCat(what, ": starting ", argv[0], " in \"", netns, "\""), values[1]);
  }
  return static_cast<pid_t>(values[0]);
}

// Runs a checker to completion inside `netns` (a direct child, so its exit
// status is known), stdout and stderr to `output_path`; its exit status.
absl::StatusOr<int> RunChecker(const std::string& netns, const std::vector<std::string>& argv,
                               const std::string& output_path, absl::string_view what) {
  const std::string ns_path = absl::StrCat(kNetnsRunDir, "/", netns);
  Fd ns_fd(open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (ns_fd.get() < 0) {
    return absl::NotFoundError(
        absl::StrCat(what, ": network namespace \"", netns, "\": ", ErrnoText(errno)));
  }
  Fd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  Fd out_fd(open(output_path.c_str(), O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0600));
  if (null_fd.get() < 0 || out_fd.get() < 0) {
    return ForkError(absl::StrCat(what, ": opening /dev/null or ", output_path), errno);
  }
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return ForkError(absl::StrCat(what, ": pipe"), errno);
  Fd report_read(report[0]);
  Fd report_write(report[1]);
  ExecArgs args(argv);
  auto* envp = const_cast<char* const*>(kEnvironment);
  const pid_t child = fork();
  if (child < 0) return ForkError(absl::StrCat(what, ": fork"), errno);
  if (child == 0) {
    ExecInNamespace(ns_fd.get(), null_fd.get(), out_fd.get(), report_write.get(),
                    args.pointers.data(), envp);
  }
  report_write.Reset();
  int32_t exec_error = 0;
  const ssize_t n = read(report_read.get(), &exec_error, sizeof(exec_error));
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  int status = 0;
  while (true) {
    const pid_t done = waitpid(child, &status, WNOHANG);
    if (done == child) break;
    if (done < 0 && errno != EINTR) return ForkError(absl::StrCat(what, ": waitpid"), errno);
    if (absl::Now() > deadline) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      return absl::DeadlineExceededError(
          absl::StrCat(what, ": ", argv[0], " did not finish within 30 s"));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (n == sizeof(exec_error)) {
    return ForkError(absl::StrCat(what, ": running ", argv[0]), exec_error);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class SupervisedEdgeProcessesImpl final : public EdgeProcesses {
 public:
  explicit SupervisedEdgeProcessesImpl(SupervisedEdgeProcesses::Options options)
      : options_(std::move(options)) {}

  // agent::EdgeProcesses
  absl::StatusOr<EnsureOutcome> Ensure(const std::string& netns, EdgeProgram program,
                                       const std::string& config,
                                       const EdgeCommand& command) override {
    const std::string what = absl::StrCat("edge \"", netns, "\" ", EdgeProgramName(program));
    MANDANT_RETURN_IF_ERROR(CheckNamespace(netns));
    MANDANT_RETURN_IF_ERROR(CheckCommand(command, what));
    absl::MutexLock lock(&mu_);
    const ProgramFiles files = FilesOf(options_.state_dir, netns, program);
    std::error_code ec;
    fs::create_directories(files.run, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat(what, ": creating ", files.run, ": ", ec.message()));
    }
    const std::vector<std::string> argv = Substitute(command.argv, files.config, files.run);

    absl::StatusOr<std::string> current = ReadFile(files.config);
    const bool config_changed = !current.ok() || *current != config;
    if (config_changed) {
      MANDANT_RETURN_IF_ERROR(CheckConfig(netns, command, files, config, what));
      MANDANT_RETURN_IF_ERROR(WriteFileAtomically(files.config, config, 0600));
    }

    const pid_t pid = ReadPidfile(files.pid);
    const Identity identity = Identify(pid, netns, argv);
    const std::string key = absl::StrCat(netns, "/", EdgeProgramName(program));
    if (identity == Identity::kSameCommand) {
      if (!config_changed) {
        const bool known = known_[key] == pid;
        known_[key] = pid;
        return known ? EnsureOutcome::kUnchanged : EnsureOutcome::kAdopted;
      }
      if (program == EdgeProgram::kHaproxy || program == EdgeProgram::kKeepalived) {
        const int sig = program == EdgeProgram::kHaproxy ? SIGUSR2 : SIGHUP;
        if (kill(pid, sig) != 0) {
          return absl::InternalError(
              absl::StrCat(what, ": signalling pid ", pid, " to reload: ", ErrnoText(errno)));
        }
        known_[key] = pid;
        return EnsureOutcome::kReloaded;
      }
    }
    // An orphan would otherwise run on, unseen, next to the new process.
    const bool replacing =
        identity != Identity::kOther || OrphanedEdgeProcess(pid, netns, argv, files);
    if (replacing) MANDANT_RETURN_IF_ERROR(Terminate(pid, options_.stop_timeout, what));
    MANDANT_ASSIGN_OR_RETURN(pid_t started, Start(netns, argv, files, what));
    known_[key] = started;
    return replacing ? EnsureOutcome::kRestarted : EnsureOutcome::kStarted;
  }

  absl::Status StopProgram(const std::string& netns, EdgeProgram program) override {
    MANDANT_RETURN_IF_ERROR(CheckNamespace(netns));
    absl::MutexLock lock(&mu_);
    return StopLocked(netns, program);
  }

  absl::Status Stop(const std::string& netns) override {
    MANDANT_RETURN_IF_ERROR(CheckNamespace(netns));
    absl::MutexLock lock(&mu_);
    for (EdgeProgram program : kPrograms) MANDANT_RETURN_IF_ERROR(StopLocked(netns, program));
    const std::string dir = absl::StrCat(options_.state_dir, "/", netns);
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("edge \"", netns, "\": removing ", dir, ": ", ec.message()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ListEdges() override {
    std::vector<std::string> edges;
    std::error_code ec;
    for (const fs::directory_entry& entry : fs::directory_iterator(options_.state_dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_directory() && IsEdgeNamespaceName(name)) edges.push_back(name);
    }
    if (ec) {
      return absl::InternalError(
          absl::StrCat("listing edges in ", options_.state_dir, ": ", ec.message()));
    }
    std::sort(edges.begin(), edges.end());
    return edges;
  }

  std::vector<v1::EdgeProcess> List(const std::string& netns) override {
    std::vector<v1::EdgeProcess> out;
    if (!IsEdgeNamespaceName(netns)) return out;
    absl::MutexLock lock(&mu_);
    for (EdgeProgram program : kPrograms) {
      const ProgramFiles files = FilesOf(options_.state_dir, netns, program);
      const pid_t pid = ReadPidfile(files.pid);
      if (pid == 0) continue;
      v1::EdgeProcess process;
      process.set_name(std::string(EdgeProgramName(program)));
      process.set_pid(pid);
      process.set_running(IsEdgeProcess(pid, netns, files) &&
                          InNamespace(pid, netns) == std::optional<bool>(true));
      out.push_back(std::move(process));
    }
    return out;
  }

 private:
  static absl::Status CheckNamespace(const std::string& netns) {
    if (IsEdgeNamespaceName(netns)) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("\"", absl::CHexEscape(netns), "\" is not an edge namespace name (\"",
                     kEdgeNamespacePrefix, "\" and up to 40 of [a-z0-9-])"));
  }

  static absl::Status CheckCommand(const EdgeCommand& command, absl::string_view what) {
    if (command.argv.empty() || !absl::StartsWith(command.argv[0], "/")) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the command's argv[0] must be an absolute path"));
    }
    if (std::none_of(command.argv.begin(), command.argv.end(),
                     [](const std::string& a) { return absl::StrContains(a, "{config}"); })) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the command must name the configuration file ({config})"));
    }
    if (!command.check_argv.empty() && !absl::StartsWith(command.check_argv[0], "/")) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the checker's argv[0] must be an absolute path"));
    }
    return absl::OkStatus();
  }

  // Runs the checker on `config` written next to the file in place. The
  // candidate holds no secret, but is removed either way.
  static absl::Status CheckConfig(const std::string& netns, const EdgeCommand& command,
                                  const ProgramFiles& files, const std::string& config,
                                  const std::string& what) {
    if (command.check_argv.empty()) return absl::OkStatus();
    MANDANT_RETURN_IF_ERROR(WriteFileAtomically(files.candidate, config, 0600));
    const std::string output = absl::StrCat(files.candidate, ".check");
    const std::vector<std::string> argv =
        Substitute(command.check_argv, files.candidate, files.run);
    absl::StatusOr<int> exit_status = RunChecker(netns, argv, output, what);
    std::remove(files.candidate.c_str());
    absl::StatusOr<std::string> out = ReadFile(output);
    std::remove(output.c_str());
    if (!exit_status.ok()) return exit_status.status();
    if (*exit_status == 0) return absl::OkStatus();
    const std::string text = out.ok() ? *out : "(no output)";
    std::vector<absl::string_view> lines =
        absl::StrSplit(absl::StripAsciiWhitespace(text), '\n', absl::SkipWhitespace());
    if (lines.size() > static_cast<size_t>(kCheckerLines)) lines.resize(kCheckerLines);
    std::string first = absl::StrJoin(lines, "\n");
    if (first.size() > kCheckerChars) first.resize(kCheckerChars);
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", argv[0], " refused the new configuration (exit status ",
                     *exit_status, "); the old one stays in place:\n", first));
  }

  absl::StatusOr<pid_t> Start(const std::string& netns, const std::vector<std::string>& argv,
                              const ProgramFiles& files, const std::string& what) {
    MANDANT_ASSIGN_OR_RETURN(pid_t pid, Spawn(netns, argv, files.log, what));
    MANDANT_RETURN_IF_ERROR(WriteFileAtomically(files.pid, absl::StrCat(pid, "\n"), 0644));
    const absl::Time deadline = absl::Now() + options_.start_grace;
    while (absl::Now() < deadline) {
      if (!Alive(pid)) {
        return absl::UnavailableError(absl::StrCat(what, ": ", argv[0],
                                                   " exited right after starting; its log ends:\n",
                                                   LogTail(files.log)));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return pid;
  }

  absl::Status StopLocked(const std::string& netns, EdgeProgram program)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string what = absl::StrCat("edge \"", netns, "\" ", EdgeProgramName(program));
    const ProgramFiles files = FilesOf(options_.state_dir, netns, program);
    const pid_t pid = ReadPidfile(files.pid);
    if (IsEdgeProcess(pid, netns, files)) {
      MANDANT_RETURN_IF_ERROR(Terminate(pid, options_.stop_timeout, what));
    }
    known_.erase(absl::StrCat(netns, "/", EdgeProgramName(program)));
    for (const std::string& path : {files.pid, files.config, files.candidate}) {
      std::remove(path.c_str());
    }
    return absl::OkStatus();
  }

  const SupervisedEdgeProcesses::Options options_;
  absl::Mutex mu_;
  // "<netns>/<program>" -> the pid this object started, adopted or
  // reloaded last; tells kAdopted from kUnchanged.
  std::map<std::string, pid_t> known_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::string_view EdgeProgramName(EdgeProgram program) {
  switch (program) {
    case EdgeProgram::kHaproxy:
      return "haproxy";
    case EdgeProgram::kDnsmasq:
      return "dnsmasq";
    case EdgeProgram::kKeepalived:
      return "keepalived";
  }
  return "unknown";
}

EdgeCommand DefaultEdgeCommand(EdgeProgram program) {
  switch (program) {
    case EdgeProgram::kHaproxy:
      // -W master-worker (SIGUSR2 reloads), -db foreground even when the
      // configuration says "daemon".
      return {{"/usr/sbin/haproxy", "-W", "-db", "-f", "{config}", "-p", "{run}/haproxy.pid"},
              {"/usr/sbin/haproxy", "-c", "-q", "-f", "{config}"}};
    case EdgeProgram::kDnsmasq:
      return {{"/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file={config}",
               "--pid-file={run}/dnsmasq.pid"},
              {"/usr/sbin/dnsmasq", "--test", "--conf-file={config}"}};
    case EdgeProgram::kKeepalived:
      // Pid files of its own per edge: the defaults under /run would make
      // the second edge's keepalived believe the first one is itself.
      return {{"/usr/sbin/keepalived", "--dont-fork", "--log-console", "--use-file={config}",
               "--pid={run}/keepalived.pid", "--vrrp_pid={run}/vrrp.pid",
               "--checkers_pid={run}/checkers.pid"},
              {"/usr/sbin/keepalived", "--config-test", "--use-file={config}"}};
  }
  return {};
}

absl::StatusOr<std::unique_ptr<EdgeProcesses>> SupervisedEdgeProcesses::Create(Options options) {
  if (options.state_dir.empty() || options.state_dir[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "edge processes: state_dir \"", options.state_dir, "\" must be an absolute path"));
  }
  while (options.state_dir.size() > 1 && options.state_dir.back() == '/') {
    options.state_dir.pop_back();
  }
  std::error_code ec;
  fs::create_directories(options.state_dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("edge processes: creating ", options.state_dir, ": ", ec.message()));
  }
  return std::make_unique<SupervisedEdgeProcessesImpl>(std::move(options));
}

}  // namespace mandant::agent
