#include "agents/vm/guest_status.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

#include "common/logging.h"

namespace mandant::agent {
namespace {

constexpr size_t kReadChunk = 4096;

// Appends code point `cp` as UTF-8.
void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes one code point at s[i]; returns its length (>= 1) and sets `cp`,
// or 0xFFFD with length 1 for an invalid, overlong or surrogate sequence.
size_t DecodeUtf8(absl::string_view s, size_t i, uint32_t& cp) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t len;
  uint32_t min;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    cp = 0xFFFD;
    return 1;
  }
  if (i + len > s.size()) {
    cp = 0xFFFD;
    return 1;
  }
  for (size_t k = 1; k < len; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) {
      cp = 0xFFFD;
      return 1;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    cp = 0xFFFD;
    return 1;
  }
  return len;
}

bool IsDropped(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||         // C0, DEL, C1
         cp == 0x200E || cp == 0x200F ||                    // LRM, RLM
         (cp >= 0x202A && cp <= 0x202E) ||                  // bidi embeddings, overrides
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF ||  // bidi isolates, BOM
         cp == 0x2028 || cp == 0x2029;                      // line, paragraph separators
}

}  // namespace

v1::GuestPhase ParseGuestPhase(absl::string_view phase) {
  if (phase == "cloud-init") return v1::GUEST_PHASE_CLOUD_INIT;
  if (phase == "kubeadm") return v1::GUEST_PHASE_KUBEADM;
  if (phase == "addons") return v1::GUEST_PHASE_ADDONS;
  if (phase == "ready") return v1::GUEST_PHASE_READY;
  if (phase == "failed") return v1::GUEST_PHASE_FAILED;
  return v1::GUEST_PHASE_UNSPECIFIED;
}

std::string SanitizeGuestMessage(absl::string_view raw) {
  std::string out;
  out.reserve(std::min(raw.size(), kMaxGuestMessageBytes));
  std::string encoded;
  for (size_t i = 0; i < raw.size();) {
    uint32_t cp = 0;
    i += DecodeUtf8(raw, i, cp);
    if (cp == '\t' || cp == '\n' || cp == '\r') cp = ' ';
    if (IsDropped(cp)) continue;
    encoded.clear();
    AppendUtf8(cp, encoded);
    if (out.size() + encoded.size() > kMaxGuestMessageBytes) break;
    out += encoded;
  }
  return out;
}

absl::StatusOr<v1::GuestProgress> ParseGuestStatusLine(absl::string_view line, absl::Time now) {
  if (line.size() > kMaxGuestLineBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("guest status line of ", line.size(), " bytes is over the limit"));
  }
  google::protobuf::Struct object;
  google::protobuf::util::JsonParseOptions parse_options;
  parse_options.ignore_unknown_fields = true;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(line.data(), line.size()), &object, parse_options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError("guest status line is not a JSON object");
  }
  auto phase = object.fields().find("phase");
  if (phase == object.fields().end() || !phase->second.has_string_value()) {
    return absl::InvalidArgumentError("guest status line has no \"phase\" string");
  }
  v1::GuestProgress progress;
  progress.set_phase(ParseGuestPhase(phase->second.string_value()));
  if (progress.phase() == v1::GUEST_PHASE_UNSPECIFIED) {
    return absl::InvalidArgumentError("guest status line has an unknown phase");
  }
  auto message = object.fields().find("message");
  if (message != object.fields().end() && message->second.has_string_value()) {
    progress.set_message(SanitizeGuestMessage(message->second.string_value()));
  }
  *progress.mutable_receive_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  return progress;
}

absl::StatusOr<std::unique_ptr<GuestStatusRelay>> GuestStatusRelay::Create(Options options) {
  if (!options.clock) return absl::InvalidArgumentError("GuestStatusRelay needs a clock");
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("guest status relay: eventfd: ", strerror(errno)));
  }
  return std::unique_ptr<GuestStatusRelay>(new GuestStatusRelay(std::move(options), fd));
}

GuestStatusRelay::GuestStatusRelay(Options options, int wake_fd)
    : options_(std::move(options)), wake_fd_(wake_fd) {
  thread_ = std::thread([this] { Run(); });
}

GuestStatusRelay::~GuestStatusRelay() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  Wake();
  thread_.join();
  for (auto& [id, c] : connections_) Disconnect(c);
  close(wake_fd_);
}

void GuestStatusRelay::Wake() {
  uint64_t one = 1;
  // EAGAIN only when the counter is already huge: the thread wakes anyway.
  (void)!write(wake_fd_, &one, sizeof(one));
}

void GuestStatusRelay::Disconnect(Connection& c) {
  if (c.fd >= 0) close(c.fd);
  c.fd = -1;
  c.line.clear();
  c.discarding = false;
}

void GuestStatusRelay::SetTargets(absl::flat_hash_map<std::string, std::string> targets) {
  {
    absl::MutexLock lock(&mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      auto target = targets.find(it->first);
      if (target == targets.end() || target->second != it->second.path) {
        Disconnect(it->second);
        connections_.erase(it++);
      } else {
        ++it;
      }
    }
    for (auto& [id, path] : targets) {
      auto [it, inserted] = connections_.try_emplace(id);
      if (inserted) it->second.path = std::move(path);
    }
  }
  Wake();
}

std::optional<v1::GuestProgress> GuestStatusRelay::Latest(absl::string_view machine_id) const {
  absl::MutexLock lock(&mu_);
  auto it = connections_.find(machine_id);
  if (it == connections_.end()) return std::nullopt;
  return it->second.latest;
}

void GuestStatusRelay::ConnectDue() {
  const absl::Time now = absl::Now();
  for (auto& [id, c] : connections_) {
    if (c.fd >= 0 || now < c.retry_after) continue;
    c.retry_after = now + options_.reconnect_interval;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (c.path.size() >= sizeof(addr.sun_path)) continue;  // Vms keeps paths short
    memcpy(addr.sun_path, c.path.data(), c.path.size());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd);  // VM not running (yet): try again after reconnect_interval
      continue;
    }
    c.fd = fd;
    c.retry_after = absl::InfinitePast();
    MANDANT_LOG(debug, "guest status channel connected", {{"machine_id", id}});
  }
}

void GuestStatusRelay::HandleLine(const std::string& machine_id, Connection& c,
                                  absl::string_view line, std::vector<Change>& changes) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return;
  absl::StatusOr<v1::GuestProgress> progress = ParseGuestStatusLine(line, options_.clock());
  if (!progress.ok()) {
    // The line itself is tenant data: log only that it was dropped.
    MANDANT_LOG(debug, "guest status line dropped",
                {{"machine_id", machine_id}, {"error", progress.status()}});
    return;
  }
  bool changed = !c.latest.has_value() || c.latest->phase() != progress->phase() ||
                 c.latest->message() != progress->message();
  c.latest = *progress;
  if (changed) changes.emplace_back(machine_id, *std::move(progress));
}

bool GuestStatusRelay::ReadFrom(const std::string& machine_id, Connection& c,
                                std::vector<Change>& changes) {
  char buf[kReadChunk];
  ssize_t n = read(c.fd, buf, sizeof(buf));
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  if (n <= 0) return false;
  absl::string_view data(buf, static_cast<size_t>(n));
  while (!data.empty()) {
    size_t nl = data.find('\n');
    absl::string_view chunk = data.substr(0, nl);
    if (c.discarding) {
      if (nl != absl::string_view::npos) c.discarding = false;
    } else if (c.line.size() + chunk.size() > kMaxGuestLineBytes) {
      MANDANT_LOG(debug, "guest status line over the limit dropped", {{"machine_id", machine_id}});
      c.line.clear();
      c.discarding = nl == absl::string_view::npos;
    } else if (nl == absl::string_view::npos) {
      c.line.append(chunk.data(), chunk.size());
    } else if (c.line.empty()) {
      HandleLine(machine_id, c, chunk, changes);
    } else {
      c.line.append(chunk.data(), chunk.size());
      HandleLine(machine_id, c, c.line, changes);
      c.line.clear();
    }
    if (nl == absl::string_view::npos) break;
    data.remove_prefix(nl + 1);
  }
  return true;
}

void GuestStatusRelay::Run() {
  std::vector<pollfd> fds;
  std::vector<std::string> ids;
  for (;;) {
    std::vector<Change> changes;
    int timeout_ms = -1;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      ConnectDue();
      fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
      ids.assign(1, "");
      for (auto& [id, c] : connections_) {
        if (c.fd >= 0) {
          fds.push_back(pollfd{c.fd, POLLIN, 0});
          ids.push_back(id);
        } else {
          timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(options_.reconnect_interval));
        }
      }
    }
    int ready = poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0 && errno != EINTR) {
      MANDANT_LOG(err, "guest status relay: poll failed", {{"error", strerror(errno)}});
      continue;
    }
    if (ready <= 0) continue;
    if (fds[0].revents != 0) {
      uint64_t count;
      (void)!read(wake_fd_, &count, sizeof(count));
    }
    {
      absl::MutexLock lock(&mu_);
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        auto it = connections_.find(ids[i]);
        // SetTargets may have replaced the connection since poll() began.
        if (it == connections_.end() || it->second.fd != fds[i].fd) continue;
        if (!ReadFrom(it->first, it->second, changes)) {
          MANDANT_LOG(debug, "guest status channel closed", {{"machine_id", it->first}});
          Disconnect(it->second);
          it->second.retry_after = absl::Now() + options_.reconnect_interval;
        }
      }
    }
    if (options_.on_change) {
      for (const auto& [id, progress] : changes) options_.on_change(id, progress);
    }
  }
}

}  // namespace mandant::agent
