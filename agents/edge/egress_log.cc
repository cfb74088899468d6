#include "agents/edge/egress_log.h"

#include <fcntl.h>
#include <libnetfilter_log/libnetfilter_log.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#include "agents/edge/edge_namespace.h"
#include "agents/edge/egress_packet.h"
#include "common/status_macros.h"

namespace mandant::agent {
namespace {

// IPv4 header (at most 60 bytes) and the ports; nothing of the payload.
constexpr uint32_t kCopyRange = 128;
// Messages read from one socket before the others get their turn.
constexpr int kReadsPerTurn = 64;

v1::EgressAction ActionOf(EgressVerdict verdict) {
  return verdict == EgressVerdict::kDeny ? v1::EGRESS_ACTION_DENY : v1::EGRESS_ACTION_ALLOW;
}

}  // namespace

// ---------------------------------------------------------------------------
// EgressQueue

EgressQueue::EgressQueue(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

bool EgressQueue::Push(v1::EgressRecord record) {
  absl::MutexLock lock(&mu_);
  if (events_.size() >= capacity_) {
    ++dropped_[record.namespace_()];
    return false;
  }
  events_.push_back(std::move(record));
  return true;
}

std::vector<v1::EgressRecord> EgressQueue::TakeBatch(size_t max) {
  max = std::min(max, kMaxEgressBatch);
  std::vector<v1::EgressRecord> batch;
  absl::MutexLock lock(&mu_);
  const size_t n = std::min(max, events_.size());
  batch.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    batch.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  return batch;
}

size_t EgressQueue::size() const {
  absl::MutexLock lock(&mu_);
  return events_.size();
}

uint64_t EgressQueue::Dropped(const std::string& netns) const {
  absl::MutexLock lock(&mu_);
  auto it = dropped_.find(netns);
  return it == dropped_.end() ? 0 : it->second;
}

void EgressQueue::ForgetDropped(const std::string& netns) {
  absl::MutexLock lock(&mu_);
  dropped_.erase(netns);
}

// ---------------------------------------------------------------------------
// EgressLog

// One namespace's NFLOG socket.
struct EgressLog::Source {
  EgressLog* log = nullptr;
  std::string netns;
  uint64_t generation = 0;
  nflog_handle* handle = nullptr;
  nflog_g_handle* group = nullptr;
  int fd = -1;

  ~Source() {
    if (group != nullptr) nflog_unbind_group(group);
    // Never nflog_unbind_pf: on old kernels it unbinds every listener of
    // the family in the namespace.
    if (handle != nullptr) nflog_close(handle);
  }
};

int EgressLog::OnNflogPacket(nflog_g_handle*, nfgenmsg*, nflog_data* nfad, void* data) {
  auto* source = static_cast<const Source*>(data);
  char* payload = nullptr;
  const int length = nflog_get_payload(nfad, &payload);
  const char* prefix = nflog_get_prefix(nfad);
  if (length > 0 && payload != nullptr) {
    source->log->OnPacket(*source, prefix != nullptr ? prefix : "",
                          absl::string_view(payload, static_cast<size_t>(length)));
  }
  return 0;
}

absl::StatusOr<std::unique_ptr<EgressLog>> EgressLog::Create(Options options) {
  const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    return absl::InternalError(absl::StrCat("egress log: eventfd: ", std::strerror(errno)));
  }
  std::unique_ptr<EgressLog> log(new EgressLog(std::move(options), wake));
  log->reader_ = std::thread([l = log.get()] { l->ReadLoop(); });
  return log;
}

EgressLog::EgressLog(Options options, int wake_fd)
    : options_(std::move(options)), wake_fd_(wake_fd), queue_(options_.queue_capacity) {}

EgressLog::~EgressLog() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  Wake();
  if (reader_.joinable()) reader_.join();
  absl::MutexLock lock(&mu_);
  sources_.clear();
  close(wake_fd_);
}

void EgressLog::Wake() {
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

absl::Status EgressLog::Watch(const std::string& netns) {
  {
    absl::MutexLock lock(&mu_);
    if (sources_.count(netns) > 0) return absl::OkStatus();
  }
  auto source = std::make_unique<Source>();
  source->log = this;
  source->netns = netns;
  const std::string where = absl::StrCat("egress log of \"", netns, "\"");
  MANDANT_RETURN_IF_ERROR(RunInNetworkNamespace(netns, [&]() -> absl::Status {
    source->handle = nflog_open();
    if (source->handle == nullptr) {
      return absl::InternalError(absl::StrCat(where, ": nflog_open: ", std::strerror(errno)));
    }
    // A no-op on kernels since 3.8; older ones need it.
    (void)nflog_bind_pf(source->handle, AF_INET);
    source->group = nflog_bind_group(source->handle, options_.group);
    if (source->group == nullptr) {
      const int err = errno;
      const std::string message =
          absl::StrCat(where, ": binding NFLOG group ", options_.group, ": ", std::strerror(err));
      if (err == EBUSY) {
        return absl::UnavailableError(
            absl::StrCat(message, "; another process (ulogd?) listens on it"));
      }
      return absl::InternalError(message);
    }
    if (nflog_set_mode(source->group, NFULNL_COPY_PACKET, kCopyRange) < 0) {
      return absl::InternalError(absl::StrCat(where, ": nflog_set_mode: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }));
  source->fd = nflog_fd(source->handle);
  // libnfnetlink opens its socket without these; the edge's programs must
  // not inherit it, and the reader must never block on it.
  fcntl(source->fd, F_SETFD, FD_CLOEXEC);
  fcntl(source->fd, F_SETFL, fcntl(source->fd, F_GETFL) | O_NONBLOCK);
  nflog_callback_register(source->group, &OnNflogPacket, source.get());
  {
    absl::MutexLock lock(&mu_);
    if (sources_.count(netns) > 0) return absl::OkStatus();  // a racing Watch won
    source->generation = next_generation_++;
    sources_[netns] = std::move(source);
  }
  Wake();
  return absl::OkStatus();
}

void EgressLog::Unwatch(const std::string& netns) {
  {
    absl::MutexLock lock(&mu_);
    sources_.erase(netns);
  }
  queue_.ForgetDropped(netns);
  Wake();
}

std::vector<std::string> EgressLog::Watched() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> names;
  for (const auto& [name, source] : sources_) names.push_back(name);
  return names;
}

v1::EgressEventBatch EgressLog::TakeBatch(size_t max) {
  v1::EgressEventBatch batch;
  for (v1::EgressRecord& r : queue_.TakeBatch(max)) *batch.add_events() = std::move(r);
  return batch;
}

uint64_t EgressLog::Dropped(const std::string& netns) const { return queue_.Dropped(netns); }

void EgressLog::OnPacket(const Source& source, absl::string_view prefix, absl::string_view packet) {
  std::optional<EgressPacket> parsed = ParseEgressPacket(prefix, packet);
  if (!parsed) return;
  v1::EgressRecord record;
  record.set_namespace_(source.netns);
  const absl::Time now = options_.clock();
  const int64_t seconds = absl::ToUnixSeconds(now);
  record.mutable_time()->set_seconds(seconds);
  record.mutable_time()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(now - absl::FromUnixSeconds(seconds))));
  record.set_source_address(parsed->source_address);
  record.set_destination_address(parsed->destination_address);
  record.set_destination_port(parsed->destination_port);
  record.set_protocol_number(parsed->protocol);
  record.set_action(ActionOf(parsed->verdict));
  queue_.Push(std::move(record));
}

void EgressLog::ReadLoop() {
  struct Polled {
    std::string netns;
    uint64_t generation;
  };
  std::vector<char> buffer(65536);
  while (true) {
    std::vector<pollfd> fds = {{wake_fd_, POLLIN, 0}};
    std::vector<Polled> polled;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      for (const auto& [name, source] : sources_) {
        fds.push_back({source->fd, POLLIN, 0});
        polled.push_back({name, source->generation});
      }
    }
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      absl::SleepFor(absl::Milliseconds(100));  // never spin on a persistent error
      continue;
    }
    if (fds[0].revents != 0) {
      uint64_t count = 0;
      (void)!read(wake_fd_, &count, sizeof(count));
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      // The lock keeps the source (and its fd) alive while it is read: a
      // concurrent Unwatch waits, and a source replaced since the poll is
      // skipped by its generation.
      absl::MutexLock lock(&mu_);
      auto it = sources_.find(polled[i - 1].netns);
      if (it == sources_.end() || it->second->generation != polled[i - 1].generation) continue;
      Source& source = *it->second;
      for (int n = 0; n < kReadsPerTurn; ++n) {
        const ssize_t got = recv(source.fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (got < 0) {
          // ENOBUFS: the kernel dropped messages because we were slow; the
          // count is unknown, so it is not added to the dropped counter.
          if (errno == ENOBUFS || errno == EINTR) continue;
          break;  // EAGAIN: read everything
        }
        if (got == 0) break;
        nflog_handle_packet(source.handle, buffer.data(), static_cast<int>(got));
      }
    }
  }
}

}  // namespace mandant::agent
