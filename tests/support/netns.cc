#include "tests/support/netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "tests/support/subprocess.h"

namespace mandant::testing {
namespace {

constexpr char kNamePrefix[] = "mdt";
constexpr char kNetnsDir[] = "/run/netns";
constexpr char kSwitchBridge[] = "sw0";

std::atomic<int> next_sequence{0};

std::string ErrnoText() { return std::strerror(errno); }

bool ProcessAlive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

// Pids of the processes whose network namespace is `netns`.
std::vector<pid_t> PidsIn(const std::string& netns) {
  std::vector<pid_t> pids;
  absl::StatusOr<std::string> out = RunCommand({"ip", "netns", "pids", netns});
  if (!out.ok()) return pids;
  for (absl::string_view line : absl::StrSplit(*out, '\n', absl::SkipWhitespace())) {
    pid_t pid = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &pid) && pid > 0 && pid != getpid()) {
      pids.push_back(pid);
    }
  }
  return pids;
}

// Kills everything inside `netns` and deletes it. Best effort: used on
// destruction and for leftovers of dead test processes.
void DestroyNamespace(const std::string& netns) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::vector<pid_t> pids = PidsIn(netns);
    if (pids.empty()) break;
    for (pid_t pid : pids) kill(pid, SIGKILL);
    usleep(100 * 1000);
  }
  absl::StatusOr<std::string> out = RunCommand({"ip", "netns", "delete", netns});
  if (!out.ok() && std::filesystem::exists(absl::StrCat(kNetnsDir, "/", netns))) {
    std::fprintf(stderr, "netns: could not delete %s: %s\n", netns.c_str(),
                 std::string(out.status().message()).c_str());
  }
}

// Namespaces "mdt<pid>x<seq>-..." whose creating process is gone.
void RemoveStaleNamespaces() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kNetnsDir, ec)) {
    std::string name = entry.path().filename().string();
    absl::string_view rest = name;
    if (!absl::ConsumePrefix(&rest, kNamePrefix)) continue;
    size_t x = rest.find('x');
    pid_t pid = 0;
    if (x == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, x), &pid) || pid <= 0) {
      continue;
    }
    if (!ProcessAlive(pid)) DestroyNamespace(name);
  }
}

std::string FormatMac(const unsigned char* mac) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                         mac[5]);
}

bool ValidRole(const std::string& role) {
  if (role.empty() || role.size() > 20) return false;
  for (char c : role) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetworkNamespaces>> NetworkNamespaces::Create(int hosts) {
  if (hosts < 1 || hosts > 200) {
    return absl::InvalidArgumentError(absl::StrCat("hosts must be 1..200, not ", hosts));
  }
  if (geteuid() != 0) {
    return absl::FailedPreconditionError("network namespaces need root");
  }
  RemoveStaleNamespaces();
  const int sequence = next_sequence.fetch_add(1);
  const pid_t pid = getpid();
  // 10.240.0.0/12: second octet 240..255 from the sequence, third from the
  // pid, so that two runs' underlays differ as well (handy in captures).
  std::unique_ptr<NetworkNamespaces> netns(new NetworkNamespaces(
      absl::StrCat(kNamePrefix, pid, "x", sequence), 240 + sequence % 16, pid % 256));
  absl::Status status = netns->Build(hosts);
  if (!status.ok()) return status;  // the destructor removed what was made
  return netns;
}

absl::Status NetworkNamespaces::Build(int hosts) {
  absl::StatusOr<std::string> sw = AddNamespace("sw");
  if (!sw.ok()) return sw.status();
  switch_ = *sw;
  absl::StatusOr<std::string> out =
      RunCommand({"ip", "-n", switch_, "link", "add", kSwitchBridge, "type", "bridge"});
  if (!out.ok()) return out.status();
  out = RunCommand({"ip", "-n", switch_, "link", "set", kSwitchBridge, "up"});
  if (!out.ok()) return out.status();

  for (int i = 0; i < hosts; ++i) {
    absl::StatusOr<std::string> host = AddNamespace(absl::StrCat("h", i));
    if (!host.ok()) return host.status();
    hosts_.push_back(*host);
    const std::string port = absl::StrCat("p", i);
    absl::Status veth = AddVeth(*host, kUnderlayInterface, switch_, port);
    if (!veth.ok()) return veth;
    out = RunCommand({"ip", "-n", switch_, "link", "set", port, "master", kSwitchBridge});
    if (!out.ok()) return out.status();
    out = RunCommand({"ip", "-n", *host, "addr", "add", absl::StrCat(UnderlayAddress(i), "/24"),
                      "dev", kUnderlayInterface});
    if (!out.ok()) return out.status();
  }
  return absl::OkStatus();
}

NetworkNamespaces::~NetworkNamespaces() {
  for (pid_t pid : children_) kill(pid, SIGKILL);
  for (pid_t pid : children_) waitpid(pid, nullptr, 0);
  // Reverse order: guests before the hosts they hang off, the switch last.
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) DestroyNamespace(*it);
}

std::string NetworkNamespaces::UnderlayAddress(int i) const {
  return absl::StrCat("10.", underlay_second_, ".", underlay_third_, ".", i + 1);
}

std::string NetworkNamespaces::UnderlayCidr() const {
  return absl::StrCat("10.", underlay_second_, ".", underlay_third_, ".0/24");
}

absl::StatusOr<std::string> NetworkNamespaces::AddNamespace(const std::string& role) {
  if (!ValidRole(role)) {
    return absl::InvalidArgumentError(
        absl::StrCat("namespace role \"", role, "\": use 1-20 characters of [a-z0-9-]"));
  }
  std::string name = absl::StrCat(base_, "-", role);
  absl::StatusOr<std::string> out = RunCommand({"ip", "netns", "add", name});
  if (!out.ok()) return out.status();
  namespaces_.push_back(name);
  out = RunCommand({"ip", "-n", name, "link", "set", "lo", "up"});
  if (!out.ok()) return out.status();
  return name;
}

absl::Status NetworkNamespaces::AddVeth(const std::string& ns_a, const std::string& if_a,
                                        const std::string& ns_b, const std::string& if_b) {
  absl::StatusOr<std::string> out = RunCommand({"ip", "link", "add", if_a, "netns", ns_a, "type",
                                                "veth", "peer", "name", if_b, "netns", ns_b});
  if (!out.ok()) return out.status();
  out = RunCommand({"ip", "-n", ns_a, "link", "set", if_a, "up"});
  if (!out.ok()) return out.status();
  out = RunCommand({"ip", "-n", ns_b, "link", "set", if_b, "up"});
  if (!out.ok()) return out.status();
  return absl::OkStatus();
}

absl::StatusOr<std::string> NetworkNamespaces::Run(const std::string& netns,
                                                   const std::vector<std::string>& argv) {
  std::vector<std::string> full = {"ip", "netns", "exec", netns};
  full.insert(full.end(), argv.begin(), argv.end());
  return RunCommand(full);
}

absl::StatusOr<pid_t> NetworkNamespaces::Spawn(const std::string& netns,
                                               const std::vector<std::string>& argv,
                                               const std::string& log_file) {
  absl::StatusOr<pid_t> pid = SpawnInNamespace(netns, argv, log_file, /*detached=*/false);
  if (pid.ok()) children_.push_back(*pid);
  return pid;
}

absl::StatusOr<pid_t> SpawnInNamespace(const std::string& netns,
                                       const std::vector<std::string>& argv,
                                       const std::string& log_file, bool detached) {
  if (argv.empty()) return absl::InvalidArgumentError("Spawn: empty argv");
  // Everything the child needs is prepared before fork(): after it, only
  // async-signal-safe calls. The child does what `ip netns exec` does (join
  // the namespace, private mounts, a /sys of that namespace), then reports
  // a failed step through a close-on-exec pipe; EOF means exec succeeded, so
  // the process is inside the namespace when Spawn returns.
  const std::string ns_path = absl::StrCat(kNetnsDir, "/", netns);
  int ns_fd = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns_fd < 0) {
    return absl::NotFoundError(absl::StrCat("network namespace ", netns, ": ", ErrnoText()));
  }
  int log_fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    close(ns_fd);
    return absl::InternalError(absl::StrCat("open ", log_file, ": ", ErrnoText()));
  }
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    close(ns_fd);
    close(log_fd);
    return absl::InternalError(absl::StrCat("pipe2: ", ErrnoText()));
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string sysfs_name = absl::StrCat("sysfs-", netns);

  pid_t pid = fork();
  if (pid == 0) {
    struct Failure {
      int step;
      int error;
    };
    auto fail = [&](int step) {
      Failure failure{step, errno};
      ssize_t ignored = write(report[1], &failure, sizeof(failure));
      (void)ignored;
      _exit(127);
    };
    if (detached) {
      setsid();
    } else {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // a dying test must not leave it running
    }
    if (setns(ns_fd, CLONE_NEWNET) != 0) fail(0);
    if (unshare(CLONE_NEWNS) != 0) fail(1);
    if (mount("", "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) fail(2);
    umount2("/sys", MNT_DETACH);
    if (mount(sysfs_name.c_str(), "/sys", "sysfs", 0, nullptr) != 0) fail(3);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) {
      fail(4);
    }
    execvp(args[0], args.data());
    fail(5);
  }
  close(ns_fd);
  close(log_fd);
  close(report[1]);
  if (pid < 0) {
    close(report[0]);
    return absl::InternalError(absl::StrCat("fork: ", ErrnoText()));
  }
  struct {
    int step;
    int error;
  } failure{};
  ssize_t n;
  do {
    n = read(report[0], &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n > 0) {
    waitpid(pid, nullptr, 0);
    static constexpr const char* kSteps[] = {
        "setns",      "unshare(CLONE_NEWNS)", "mount --make-rslave /",
        "mount /sys", "redirect stdio",       "exec"};
    return absl::InternalError(absl::StrCat("spawning \"", argv[0], "\" in ", netns, ": ",
                                            kSteps[failure.step], ": ",
                                            std::strerror(failure.error)));
  }
  return pid;
}

bool NamespaceExists(const std::string& netns) {
  return std::filesystem::exists(absl::StrCat(kNetnsDir, "/", netns));
}

void DeleteNamespace(const std::string& netns) { DestroyNamespace(netns); }

absl::Status NetworkNamespaces::Kill(pid_t pid) {
  auto it = std::find(children_.begin(), children_.end(), pid);
  if (it == children_.end()) {
    return absl::NotFoundError(absl::StrCat("pid ", pid, " was not started by Spawn"));
  }
  children_.erase(it);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return absl::OkStatus();
}

absl::StatusOr<std::string> NetworkNamespaces::Links(const std::string& netns) {
  return RunCommand({"ip", "-n", netns, "-d", "link", "show"});
}

absl::StatusOr<std::string> NetworkNamespaces::Fdb(const std::string& netns,
                                                   const std::string& dev) {
  return RunCommand({"bridge", "-n", netns, "fdb", "show", "dev", dev});
}

absl::StatusOr<std::string> NetworkNamespaces::MacAddress(const std::string& netns,
                                                          const std::string& interface) {
  // "mu0@if7  UP  aa:bb:cc:dd:ee:ff <BROADCAST,...>"
  absl::StatusOr<std::string> out =
      RunCommand({"ip", "-n", netns, "-br", "link", "show", "dev", interface});
  if (!out.ok()) return out.status();
  std::vector<std::string> fields = absl::StrSplit(*out, ' ', absl::SkipEmpty());
  if (fields.size() < 3 || fields[2].size() != 17) {
    return absl::InternalError(
        absl::StrCat("no MAC address for ", interface, " in ", netns, ": \"", *out, "\""));
  }
  return absl::AsciiStrToLower(fields[2]);
}

absl::Status RunInNamespace(const std::string& netns, absl::FunctionRef<void()> fn) {
  const std::string path = absl::StrCat(kNetnsDir, "/", netns);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat("network namespace ", netns, ": ", ErrnoText()));
  }
  absl::Status status;
  std::thread thread([&] {
    if (setns(fd, CLONE_NEWNET) != 0) {
      status = absl::InternalError(absl::StrCat("setns ", netns, ": ", ErrnoText()));
      return;
    }
    fn();
  });
  thread.join();
  close(fd);
  return status;
}

absl::StatusOr<std::unique_ptr<PacketCapture>> PacketCapture::Start(const std::string& netns,
                                                                    const std::string& interface) {
  int fd = -1;
  std::string error;
  absl::Status in_netns = RunInNamespace(netns, [&] {
    unsigned int ifindex = if_nametoindex(interface.c_str());
    if (ifindex == 0) {
      error = absl::StrCat("no interface ", interface, " in namespace ", netns);
      return;
    }
    fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) {
      error = absl::StrCat("AF_PACKET socket in ", netns, ": ", ErrnoText());
      return;
    }
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = static_cast<int>(ifindex);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      error = absl::StrCat("bind AF_PACKET to ", interface, " in ", netns, ": ", ErrnoText());
      close(fd);
      fd = -1;
    }
  });
  if (!in_netns.ok()) return in_netns;
  if (fd < 0) return absl::NotFoundError(error);
  std::unique_ptr<PacketCapture> capture(new PacketCapture(fd));
  capture->reader_ = std::thread([c = capture.get()] { c->ReadLoop(); });
  return capture;
}

PacketCapture::~PacketCapture() {
  Stop();
  close(fd_);
}

void PacketCapture::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (reader_.joinable()) reader_.join();
}

void PacketCapture::ReadLoop() {
  std::vector<unsigned char> buffer(65536);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, 20) <= 0) continue;
    sockaddr_ll from{};
    socklen_t from_len = sizeof(from);
    ssize_t n = recvfrom(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT,
                         reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < ETH_HLEN) continue;
    CapturedFrame frame;
    frame.destination_mac = FormatMac(&buffer[0]);
    frame.source_mac = FormatMac(&buffer[6]);
    frame.ethertype = static_cast<uint16_t>(buffer[12] << 8 | buffer[13]);
    frame.packet_type = from.sll_pkttype;
    frame.bytes.assign(reinterpret_cast<const char*>(buffer.data()), static_cast<size_t>(n));
    absl::MutexLock lock(&mu_);
    frames_.push_back(std::move(frame));
  }
}

std::vector<CapturedFrame> PacketCapture::Frames() const {
  absl::MutexLock lock(&mu_);
  return frames_;
}

std::vector<CapturedFrame> PacketCapture::CollectFor(absl::Duration window) {
  absl::SleepFor(window);
  Stop();
  return Frames();
}

bool PacketCapture::WaitFor(absl::FunctionRef<bool(const CapturedFrame&)> match,
                            absl::Duration timeout) {
  size_t checked = 0;
  bool found = false;
  auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (; !found && checked < frames_.size(); ++checked) found = match(frames_[checked]);
    return found;
  };
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  return found;
}

}  // namespace mandant::testing
