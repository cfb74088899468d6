#ifndef MANDANT_CONTROLLER_AGENTS_AGENT_SERVICE_H_
#define MANDANT_CONTROLLER_AGENTS_AGENT_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/agents/work_queue.h"
#include "controller/api/rpc_call.h"
#include "controller/store/host_store.h"
#include "controller/store/notifications.h"
#include "mandant/v1/agent.grpc.pb.h"

namespace mandant::controller {

struct AgentServiceOptions {
  store::LeaseSettings lease;
  // Lifetime of agent certificates from Enroll and renewals (cut short to
  // the infrastructure issuer's).
  absl::Duration certificate_ttl = absl::Hours(24 * 30);
  // Threads for the streams' database work.
  int worker_threads = 4;
  // For the LISTEN connection that learns of changed host specs; empty
  // conninfo disables it (specs are then sent on connect only: tests).
  std::string conninfo;
  std::string password;
};

class AgentStream;

// mandant.v1.AgentService: agent enrollment (sync) and the agents' streams
// (callback API, so that thousands of idle streams hold no threads). Keeps
// the registry of the streams this replica holds, wakes them when their
// host's desired state changes (PostgreSQL NOTIFY "mandant_host_spec") and
// ends the ones whose lease ran out. Thread-safe.
class AgentServiceImpl final
    : public v1::AgentService::WithCallbackMethod_Connect<v1::AgentService::Service> {
 public:
  AgentServiceImpl(const api::ServiceDeps& deps, AgentServiceOptions options);
  ~AgentServiceImpl() override;

  // v1::AgentService
  grpc::Status Enroll(grpc::ServerContext* context, const v1::EnrollRequest* request,
                      v1::EnrollResponse* response) override;
  grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>* Connect(
      grpc::CallbackServerContext* context) override;

  // Streams that hold their host on this replica.
  int connected() const;
  // Ends every stream with UNAVAILABLE (the agents reconnect, possibly to
  // another replica). Call before shutting the gRPC server down.
  void EndAllStreams();

 private:
  friend class AgentStream;

  absl::Status DoEnroll(api::RpcCall& call, const v1::EnrollRequest& request,
                        v1::EnrollResponse* response);
  // Registry. Register replaces (and ends with ABORTED) an older stream of
  // the same host.
  void Register(int64_t host_id, AgentStream* stream);
  // Removes `stream` if it is the one registered for its host.
  void Unregister(AgentStream* stream);
  // Calls `fn` on every registered stream, outside mu_.
  template <typename Fn>
  void ForEachStream(Fn fn);
  void SpecChanged(int64_t host_id);
  void ResyncAll();
  void CheckLeases();

  const api::ServiceDeps deps_;
  const AgentServiceOptions options_;
  store::HostStore store_;
  WorkQueue work_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int64_t, AgentStream*> streams_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<store::Notifications> notifications_;
  std::atomic<bool> stop_{false};
  std::thread lease_thread_;
};

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_AGENTS_AGENT_SERVICE_H_
