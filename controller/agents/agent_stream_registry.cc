#include "controller/agents/agent_stream_registry.h"

#include <utility>

namespace mandant::controller {

void AgentStreamRegistry::Adopt(std::shared_ptr<AgentStream> stream) {
  absl::MutexLock lock(&mu_);
  const AgentStream* key = stream.get();
  owned_.emplace(key, std::move(stream));
}

std::shared_ptr<AgentStream> AgentStreamRegistry::Release(const AgentStream* stream,
                                                          int64_t host_id) {
  std::shared_ptr<AgentStream> released;
  absl::MutexLock lock(&mu_);
  auto it = owned_.find(stream);
  if (it != owned_.end()) {
    released = std::move(it->second);
    owned_.erase(it);
  }
  auto host = by_host_.find(host_id);
  if (host != by_host_.end() && host->second.stream == stream) by_host_.erase(host);
  // Destroyed (if this was the last owner) by the caller, outside mu_.
  return released;
}

std::shared_ptr<AgentStream> AgentStreamRegistry::Register(int64_t host_id,
                                                           std::shared_ptr<AgentStream> stream) {
  absl::MutexLock lock(&mu_);
  HostEntry& entry = by_host_[host_id];
  std::shared_ptr<AgentStream> replaced =
      entry.stream != stream.get() ? entry.weak.lock() : nullptr;
  entry.stream = stream.get();
  entry.weak = stream;
  return replaced;
}

void AgentStreamRegistry::Unregister(int64_t host_id, const AgentStream* stream) {
  absl::MutexLock lock(&mu_);
  auto it = by_host_.find(host_id);
  if (it != by_host_.end() && it->second.stream == stream) by_host_.erase(it);
}

std::shared_ptr<AgentStream> AgentStreamRegistry::Find(int64_t host_id) const {
  absl::MutexLock lock(&mu_);
  auto it = by_host_.find(host_id);
  return it == by_host_.end() ? nullptr : it->second.weak.lock();
}

std::vector<std::shared_ptr<AgentStream>> AgentStreamRegistry::HostStreams() const {
  std::vector<std::shared_ptr<AgentStream>> streams;
  absl::MutexLock lock(&mu_);
  streams.reserve(by_host_.size());
  for (const auto& [id, entry] : by_host_) {
    if (auto stream = entry.weak.lock()) streams.push_back(std::move(stream));
  }
  return streams;
}

int AgentStreamRegistry::host_count() const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& [id, entry] : by_host_) n += entry.weak.expired() ? 0 : 1;
  return n;
}

}  // namespace mandant::controller
