#ifndef MANDANT_CONTROLLER_AGENTS_AGENT_SERVICE_H_
#define MANDANT_CONTROLLER_AGENTS_AGENT_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/time/time.h"

#include "controller/agents/agent_session.h"
#include "controller/agents/agent_stream_registry.h"
#include "controller/agents/enrollment.h"
#include "controller/agents/work_queue.h"
#include "controller/api/rpc_call.h"
#include "controller/edge/edge_settings.h"
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
  // What hosts' EdgeSpecs take from the configuration.
  EdgeSettings edge;
};

// mandant.v1.AgentService: agent enrollment (sync, AgentEnrollment) and the
// agents' streams (callback API, so that thousands of idle streams hold no
// threads; AgentStream around an AgentSession). Owns the registry of the
// streams this replica holds, wakes them when their host's desired state
// changes (PostgreSQL NOTIFY "mandant_host_spec") and ends the ones whose
// lease ran out. Thread-safe. Destroy it only after the gRPC server has
// shut down (every stream is done by then).
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
  void SpecChanged(int64_t host_id);
  void ResyncAll();
  void CheckLeases();

  const AgentServiceOptions options_;
  store::HostStore store_;
  const AgentSessionEnv session_env_;
  AgentEnrollment enrollment_;
  // Declared before work_: queued tasks may still reach streams it owns
  // while work_ drains in its destructor.
  AgentStreamRegistry registry_;
  WorkQueue work_;
  std::unique_ptr<store::Notifications> notifications_;
  std::atomic<bool> stop_{false};
  std::thread lease_thread_;
};

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_AGENTS_AGENT_SERVICE_H_
