#ifndef MANDANT_CONTROLLER_AGENTS_AGENT_STREAM_H_
#define MANDANT_CONTROLLER_AGENTS_AGENT_STREAM_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include "controller/agents/agent_session.h"
#include "controller/agents/agent_stream_registry.h"
#include "controller/agents/work_queue.h"
#include "controller/api/rpc_call.h"
#include "mandant/v1/agent.grpc.pb.h"

namespace mandant::controller {

// One agent's Connect stream: the gRPC callback reactor around an
// AgentSession. Messages are read one at a time and handled on the work
// queue (gRPC's threads must not block); the next read starts when the
// previous message is done. Spec pushes run beside them. Writes are queued
// and sent in order.
//
// Lifetime: the AgentStreamRegistry owns the stream from Start until
// OnDone. Work queued for it holds a weak_ptr, locked for the length of
// the task, so a task either finds the stream alive or does nothing; the
// session's closing task holds a shared_ptr. No callback or task can reach
// a destroyed stream.
//
// Thread safety: Send, End, SpecChanged, last_message and host_id may be
// called from any thread; host() once the stream is registered.
class AgentStream final : public grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>,
                          public std::enable_shared_from_this<AgentStream> {
 public:
  // What the streams share; owned by AgentServiceImpl, which outlives them.
  struct Env {
    const AgentSessionEnv* session = nullptr;
    AgentStreamRegistry* registry = nullptr;
    WorkQueue* work = nullptr;
  };

  // Creates the stream for a new call, gives it to `env.registry` and
  // starts reading. The returned reactor is for gRPC.
  static grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>* Start(
      const Env& env, grpc::CallbackServerContext* context);

  // Use Start.
  struct Token {
   private:
    friend class AgentStream;
    Token() = default;
  };
  AgentStream(Token, const Env& env, grpc::CallbackServerContext* context);

  // grpc::ServerBidiReactor
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // Queues a message for the agent; dropped once the stream is ending.
  void Send(v1::ControllerMessage message);
  // Ends the stream with `status` once no operation is being started;
  // idempotent.
  void End(absl::Status status);
  // The host's desired state may have changed: queues one spec
  // computation (at most one waits at a time).
  void SpecChanged();

  absl::Time last_message() const;
  const std::string& host() const { return session_.host(); }
  // 0 until the stream holds its host.
  int64_t host_id() const;

 private:
  void StartNextRead();
  // After an operation ended or was started: finishes a stream whose end
  // was deferred while an operation was being started.
  void FinishedOp();
  bool Ending() const;
  // On the work queue: the message in in_.
  void HandleRead();
  absl::Status Handle(const v1::AgentMessage& message);
  // The first message: opens the session and registers the stream.
  absl::Status Open(const v1::AgentMessage& message);

  const Env env_;
  api::RpcCall call_;
  AgentSession session_;
  v1::AgentMessage in_;
  v1::ControllerMessage out_;
  // Whether the session is open; work queue only, one message at a time.
  bool opened_ = false;

  mutable absl::Mutex mu_;
  std::deque<v1::ControllerMessage> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  int starting_read_ ABSL_GUARDED_BY(mu_) = 0;
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool spec_queued_ ABSL_GUARDED_BY(mu_) = false;
  // The session holds its host in the database and must be closed.
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  int64_t host_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_message_ ABSL_GUARDED_BY(mu_);
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_AGENTS_AGENT_STREAM_H_
