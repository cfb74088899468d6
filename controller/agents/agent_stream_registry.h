#ifndef MANDANT_CONTROLLER_AGENTS_AGENT_STREAM_REGISTRY_H_
#define MANDANT_CONTROLLER_AGENTS_AGENT_STREAM_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace mandant::controller {

class AgentStream;

// The agents' streams of this replica, and their owner: it holds every
// stream from Connect until gRPC is done with it (OnDone), so that gRPC's
// callbacks always reach a live stream. Work queued for a stream holds a
// weak_ptr and skips a stream that is gone; a stream found here is kept
// alive by the shared_ptr handed out. Streams that hold their host
// (after a good Hello) are also found by host id. Thread-safe; never calls
// into a stream while holding its lock.
class AgentStreamRegistry {
 public:
  // Takes ownership of a new stream.
  void Adopt(std::shared_ptr<AgentStream> stream);
  // Gives up ownership (OnDone) and drops `stream` from the host index if
  // it is the one for `host_id` (0: it holds no host). Returns it, so that
  // the caller decides when it may be destroyed; empty when it was not
  // owned.
  std::shared_ptr<AgentStream> Release(const AgentStream* stream, int64_t host_id);

  // Makes `stream` the one holding `host_id`; returns the one it replaced
  // (which the caller ends), if that one is still alive.
  std::shared_ptr<AgentStream> Register(int64_t host_id, std::shared_ptr<AgentStream> stream);
  // Removes `stream` from the host index if it is the one for `host_id`.
  void Unregister(int64_t host_id, const AgentStream* stream);
  // The stream holding `host_id`; null when none.
  std::shared_ptr<AgentStream> Find(int64_t host_id) const;
  // Every stream that holds its host.
  std::vector<std::shared_ptr<AgentStream>> HostStreams() const;
  // How many streams hold their host.
  int host_count() const;

 private:
  struct HostEntry {
    const AgentStream* stream = nullptr;
    std::weak_ptr<AgentStream> weak;
  };

  mutable absl::Mutex mu_;
  absl::flat_hash_map<const AgentStream*, std::shared_ptr<AgentStream>> owned_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int64_t, HostEntry> by_host_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_AGENTS_AGENT_STREAM_REGISTRY_H_
