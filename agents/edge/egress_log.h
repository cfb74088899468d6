#ifndef MANDANT_AGENTS_EDGE_EGRESS_LOG_H_
#define MANDANT_AGENTS_EDGE_EGRESS_LOG_H_

// The egress log of a host's edges (docs/edge.md, "Egress log"): every new
// outbound connection an edge's nftables logs to NFLOG group 1 inside its
// namespace becomes a v1::EgressRecord in one bounded queue per host, from
// which the controller session takes batches.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "agents/edge/edge_ruleset.h"
#include "mandant/v1/agent.pb.h"

// libnetfilter_log's handles, kept out of this header.
struct nflog_g_handle;
struct nflog_data;
struct nfgenmsg;

namespace mandant::agent {

// At most this many events per EgressEventBatch (agent.proto).
inline constexpr size_t kMaxEgressBatch = 1000;

// A bounded FIFO of egress events shared by all edges of a host. A full
// queue does not grow and does not evict: the new event is counted as
// dropped for its namespace (EdgeStatus.egress_events_dropped) and thrown
// away. Thread-safe.
class EgressQueue {
 public:
  // `capacity` >= 1 (0 is taken as 1).
  explicit EgressQueue(size_t capacity);

  // Appends `record`; false (and one more dropped for record.namespace_())
  // when the queue already holds `capacity` events.
  bool Push(v1::EgressRecord record);
  // Removes and returns up to `max` (at most kMaxEgressBatch) of the oldest
  // events, oldest first.
  std::vector<v1::EgressRecord> TakeBatch(size_t max = kMaxEgressBatch);
  size_t size() const;
  size_t capacity() const { return capacity_; }
  // Events of `netns` dropped since construction or ForgetDropped(netns).
  uint64_t Dropped(const std::string& netns) const;
  void ForgetDropped(const std::string& netns);

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<v1::EgressRecord> events_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> dropped_ ABSL_GUARDED_BY(mu_);
};

// Which edge namespaces' egress logs are read: the part of EgressLog the
// edge reconciler (edges.h) uses, and fakes in its tests.
class EgressWatcher {
 public:
  virtual ~EgressWatcher() = default;

  // Starts reading the egress log of namespace `netns`; OK when already
  // read. Errors as EgressLog::Watch.
  virtual absl::Status Watch(const std::string& netns) = 0;
  // Stops reading it (before the namespace is deleted) and forgets its
  // dropped count. A no-op when not read.
  virtual void Unwatch(const std::string& netns) = 0;
  // The namespaces read, sorted.
  virtual std::vector<std::string> Watched() const = 0;
  // Events of `netns` dropped because the queue was full, since Watch.
  virtual uint64_t Dropped(const std::string& netns) const = 0;
};

// Reads NFLOG group kEgressLogGroup (edge_ruleset.h) in each watched edge
// namespace and queues what it logs.
//
// One NETLINK_NETFILTER socket per namespace, opened on a thread inside it
// (a netlink socket belongs to the namespace it was created in), all
// polled by one reader thread: a packet costs a recv and a few dozen bytes
// of parsing, so one thread keeps up with every edge of a host, and the
// number of threads does not grow with the number of tenants. Packets are
// copied only up to 128 bytes (IP header and ports). Events the parser
// refuses (egress_packet.h) are ignored; they come from tenant traffic.
//
// Thread-safe.
class EgressLog final : public EgressWatcher {
 public:
  struct Options {
    size_t queue_capacity = 10000;
    // The receive time of each event.
    std::function<absl::Time()> clock = [] { return absl::Now(); };
    uint16_t group = kEgressLogGroup;
  };

  // Starts the reader thread. INTERNAL when its wake-up eventfd cannot be
  // made.
  static absl::StatusOr<std::unique_ptr<EgressLog>> Create(Options options);
  // Stops the reader and closes every socket.
  ~EgressLog() override;
  EgressLog(const EgressLog&) = delete;
  EgressLog& operator=(const EgressLog&) = delete;

  // Starts reading the group in namespace `netns` (under /run/netns); OK and
  // nothing more when already watched. NOT_FOUND when the namespace does not
  // exist; UNAVAILABLE when another process already listens on the group
  // there (EBUSY); INTERNAL for other libnetfilter_log failures.
  absl::Status Watch(const std::string& netns) override;
  // Closes the namespace's socket (before the namespace is deleted, which
  // the socket would otherwise keep alive) and forgets its dropped count.
  // Events already queued stay. A no-op when not watched.
  void Unwatch(const std::string& netns) override;
  // Watched namespaces, sorted.
  std::vector<std::string> Watched() const override;

  // Up to `max` of the oldest events, for the controller session.
  v1::EgressEventBatch TakeBatch(size_t max = kMaxEgressBatch);
  uint64_t Dropped(const std::string& netns) const override;
  // The queue itself (its size; tests push into it).
  EgressQueue& queue() { return queue_; }

 private:
  struct Source;

  EgressLog(Options options, int wake_fd);
  void ReadLoop();
  void Wake();
  // libnetfilter_log's callback; `data` is the Source.
  static int OnNflogPacket(nflog_g_handle* group, nfgenmsg* message, nflog_data* nfad, void* data);
  // Queues one logged packet of `source`.
  void OnPacket(const Source& source, absl::string_view prefix, absl::string_view packet);

  const Options options_;
  const int wake_fd_;
  EgressQueue queue_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, std::unique_ptr<Source>> sources_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_EDGE_EGRESS_LOG_H_
