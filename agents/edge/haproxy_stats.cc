#include "agents/edge/haproxy_stats.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace mandant::agent {
namespace {

bool IsHealthy(absl::string_view status) {
  return status == "UP" || absl::StartsWith(status, "UP ") || status == "DRAIN" ||
         absl::StartsWith(status, "DRAIN ");
}

}  // namespace

absl::StatusOr<std::map<std::string, HaproxyBackendHealth>> ParseHaproxyStat(
    absl::string_view csv) {
  int pxname = -1, svname = -1, status = -1;
  std::map<std::string, HaproxyBackendHealth> backends;
  for (absl::string_view line : absl::StrSplit(csv, '\n', absl::SkipWhitespace())) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, "# ")) {
      std::vector<absl::string_view> names = absl::StrSplit(line, ',');
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == "pxname") pxname = static_cast<int>(i);
        if (names[i] == "svname") svname = static_cast<int>(i);
        if (names[i] == "status") status = static_cast<int>(i);
      }
      continue;
    }
    if (pxname < 0 || svname < 0 || status < 0) break;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    const size_t needed = static_cast<size_t>(std::max({pxname, svname, status}));
    if (fields.size() <= needed) continue;
    const absl::string_view server = fields[svname];
    if (server == "FRONTEND" || server == "BACKEND") continue;
    HaproxyBackendHealth& backend = backends[std::string(fields[pxname])];
    ++backend.servers;
    if (IsHealthy(fields[status])) ++backend.healthy;
  }
  if (pxname < 0 || svname < 0 || status < 0) {
    return absl::InvalidArgumentError(
        "haproxy \"show stat\": no header line naming pxname, svname and status");
  }
  return backends;
}

absl::StatusOr<std::string> QueryHaproxyStat(const std::string& socket_path,
                                             absl::Duration timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("haproxy stats socket \"", socket_path, "\": not a usable socket path"));
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("haproxy stats: socket: ", std::strerror(errno)));
  }
  absl::Cleanup close_fd = [fd] { close(fd); };
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    const std::string text =
        absl::StrCat("haproxy stats socket ", socket_path, ": ", std::strerror(err));
    if (err == ENOENT || err == ECONNREFUSED) return absl::UnavailableError(text);
    return absl::InternalError(text);
  }
  constexpr absl::string_view kCommand = "show stat\n";
  if (send(fd, kCommand.data(), kCommand.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(kCommand.size())) {
    return absl::InternalError(
        absl::StrCat("haproxy stats socket ", socket_path, ": send: ", std::strerror(errno)));
  }
  const absl::Time deadline = absl::Now() + timeout;
  std::string answer;
  char buffer[8192];
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("haproxy stats socket ", socket_path,
                                                      ": no complete answer within ",
                                                      absl::FormatDuration(timeout)));
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      return absl::InternalError(
          absl::StrCat("haproxy stats socket ", socket_path, ": poll: ", std::strerror(errno)));
    }
    if (ready == 0) continue;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::InternalError(
          absl::StrCat("haproxy stats socket ", socket_path, ": recv: ", std::strerror(errno)));
    }
    if (n == 0) return answer;
    // A few hundred servers at most; anything far larger is not haproxy.
    if (answer.size() + static_cast<size_t>(n) > (16u << 20)) {
      return absl::InternalError(
          absl::StrCat("haproxy stats socket ", socket_path, ": answer larger than 16 MiB"));
    }
    answer.append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace mandant::agent
