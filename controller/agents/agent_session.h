#ifndef MANDANT_CONTROLLER_AGENTS_AGENT_SESSION_H_
#define MANDANT_CONTROLLER_AGENTS_AGENT_SESSION_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "controller/api/rpc_call.h"
#include "controller/edge/edge_settings.h"
#include "controller/store/host_store.h"
#include "mandant/v1/agent.pb.h"

namespace mandant::controller {

// What every agent session uses; owned by AgentServiceImpl, which outlives
// its sessions.
struct AgentSessionEnv {
  api::ServiceDeps deps;
  store::HostStore* store = nullptr;
  store::LeaseSettings lease;
  // Lifetime of renewed certificates (cut short to the issuer's).
  absl::Duration certificate_ttl;
  // What hosts' EdgeSpecs take from the configuration.
  EdgeSettings edge;
};

// The protocol of one agent's Connect stream, without the stream: what each
// AgentMessage means (agent.proto), the database work it takes, and the
// ControllerMessages it answers with, handed to `send`. AgentStream drives
// it from the work queue and ends the stream when a method returns an
// error, with that error (codes as agent.proto's Connect).
//
// Thread safety: Open, Welcome, Handle and Close are called one at a time,
// in the stream's order. SendSpec may run on another thread at the same
// time as Handle, once Open has returned OK; host() and host_id() are
// constant from then on.
class AgentSession {
 public:
  using SendFn = std::function<void(v1::ControllerMessage)>;

  // `env` and `call` must outlive the session. `credentials` are the
  // stream's, captured on gRPC's thread (the server context may be gone
  // when messages are handled).
  AgentSession(const AgentSessionEnv* env, api::RpcCall* call,
               api::RpcCall::Credentials credentials, SendFn send);

  AgentSession(const AgentSession&) = delete;
  AgentSession& operator=(const AgentSession&) = delete;

  // The first message: authenticates the certificate (an agent's), checks
  // the Hello (its host's, valid, the registered underlay address) and
  // takes the host in the database, replacing any other session. On OK
  // the host is held until Close.
  absl::Status Open(const v1::AgentMessage& first);
  // After Open, once the stream is registered: AgentSettings, the trust
  // bundle and the HostSpec.
  absl::Status Welcome();
  // Every later message: Hello (inventory), Heartbeat, HostStatus,
  // CertificateRenewal, EgressEventBatch.
  absl::Status Handle(const v1::AgentMessage& message);
  // Computes the host's desired state and sends it when its version is new
  // to this session. UNAUTHENTICATED when the host was deleted or the
  // certificate revoked (the stream must end); other failures are logged
  // and leave the agent with what it has (OK).
  absl::Status SendSpec();
  // Releases the host in the database (its lease ends at once).
  void Close();

  const std::string& host() const { return session_.host; }
  int64_t host_id() const { return session_.host_id; }

 private:
  absl::Status Inventory(const v1::Hello& hello);
  absl::Status Heartbeat();
  absl::Status RecordStatus(const v1::HostStatus& status);
  absl::Status RecordEgressEvents(const v1::EgressEventBatch& batch);
  absl::Status Renew(const v1::CertificateRenewal& renewal);
  absl::Status ReauthenticateIfDue();
  absl::Status CheckCertificateValid(store::Connection& conn);
  void RecordRefusal(const std::string& host, absl::string_view reason,
                     const absl::Status& refusal);

  const AgentSessionEnv* const env_;
  api::RpcCall* const call_;
  const api::RpcCall::Credentials credentials_;
  const SendFn send_;
  // Written by Open, constant afterwards.
  store::AgentSession session_;
  std::string certificate_serial_;
  // When the certificate was last checked (Handle only).
  absl::Time authenticated_at_ = absl::InfinitePast();

  absl::Mutex mu_;
  int64_t sent_version_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_AGENTS_AGENT_SESSION_H_
