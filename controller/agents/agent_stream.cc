#include "controller/agents/agent_stream.h"

#include <optional>
#include <utility>

#include "common/status_macros.h"

namespace mandant::controller {

grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>* AgentStream::Start(
    const Env& env, grpc::CallbackServerContext* context) {
  auto stream = std::make_shared<AgentStream>(Token(), env, context);
  env.registry->Adopt(stream);
  // After Adopt: the read's task must find its stream owned.
  stream->StartNextRead();
  return stream.get();
}

AgentStream::AgentStream(Token, const Env& env, grpc::CallbackServerContext* context)
    : env_(env),
      call_(context, "Connect", /*mutating=*/false, env.session->deps),
      // Captured here, on gRPC's thread: the context dies with the call,
      // and messages are handled on the work queue, possibly after that.
      session_(env.session, &call_, call_.CaptureCredentials(),
               [this](v1::ControllerMessage m) { Send(std::move(m)); }),
      last_message_(absl::Now()) {}

void AgentStream::OnReadDone(bool ok) {
  if (!ok) {
    // The agent closed its side or the call was cancelled.
    End(absl::CancelledError("the agent closed the stream"));
    FinishedOp();
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    last_message_ = absl::Now();
  }
  env_.work->Post([weak = weak_from_this()] {
    if (std::shared_ptr<AgentStream> self = weak.lock()) self->HandleRead();
  });
}

void AgentStream::HandleRead() {
  absl::Status st = Ending() ? absl::OkStatus() : Handle(in_);
  if (!st.ok()) {
    End(st);
  } else {
    StartNextRead();
  }
  FinishedOp();
}

void AgentStream::OnWriteDone(bool ok) {
  bool next = false;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (ok && !ending_ && !outbox_.empty()) {
      out_ = std::move(outbox_.front());
      outbox_.pop_front();
      writing_ = true;
      next = true;
    }
  }
  if (!ok) End(absl::UnavailableError("writing to the agent failed"));
  if (next) {
    StartWrite(&out_);
    return;
  }
  FinishedOp();
}

void AgentStream::OnCancel() { End(absl::CancelledError("the call was cancelled")); }

void AgentStream::OnDone() {
  bool connected = false;
  int64_t host_id = 0;
  absl::Status final_status;
  {
    absl::MutexLock lock(&mu_);
    connected = connected_;
    host_id = host_id_;
    final_status = final_status_;
  }
  // Keeps this stream alive until the end of OnDone, whoever else holds it.
  std::shared_ptr<AgentStream> self = env_.registry->Release(this, host_id);
  if (connected && self != nullptr) {
    env_.work->Post([self] { self->session_.Close(); });
  }
  call_.Finish(final_status);
}

void AgentStream::Send(v1::ControllerMessage message) {
  {
    absl::MutexLock lock(&mu_);
    if (ending_) return;
    if (writing_) {
      outbox_.push_back(std::move(message));
      return;
    }
    out_ = std::move(message);
    writing_ = true;
  }
  StartWrite(&out_);
}

void AgentStream::End(absl::Status status) {
  bool finish_now = false;
  {
    absl::MutexLock lock(&mu_);
    if (ending_) return;
    ending_ = true;
    final_status_ = status;
    finish_now = !writing_ && starting_read_ == 0;
    if (finish_now) finished_ = true;
  }
  if (finish_now) Finish(api::ToGrpcStatus(status, call_.call_id()));
}

void AgentStream::SpecChanged() {
  {
    absl::MutexLock lock(&mu_);
    if (spec_queued_ || ending_ || !connected_) return;
    spec_queued_ = true;
  }
  env_.work->Post([weak = weak_from_this()] {
    std::shared_ptr<AgentStream> self = weak.lock();
    if (self == nullptr) return;
    {
      absl::MutexLock lock(&self->mu_);
      self->spec_queued_ = false;
    }
    if (absl::Status st = self->session_.SendSpec(); !st.ok()) self->End(st);
  });
}

absl::Time AgentStream::last_message() const {
  absl::MutexLock lock(&mu_);
  return last_message_;
}

int64_t AgentStream::host_id() const {
  absl::MutexLock lock(&mu_);
  return host_id_;
}

void AgentStream::StartNextRead() {
  {
    absl::MutexLock lock(&mu_);
    if (ending_) return;
    ++starting_read_;
  }
  StartRead(&in_);
  absl::MutexLock lock(&mu_);
  --starting_read_;
}

void AgentStream::FinishedOp() {
  bool finish_now = false;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (ending_ && !finished_ && !writing_ && starting_read_ == 0) {
      finished_ = true;
      finish_now = true;
      status = final_status_;
    }
  }
  if (finish_now) Finish(api::ToGrpcStatus(status, call_.call_id()));
}

bool AgentStream::Ending() const {
  absl::MutexLock lock(&mu_);
  return ending_;
}

absl::Status AgentStream::Handle(const v1::AgentMessage& message) {
  if (!opened_) return Open(message);
  return session_.Handle(message);
}

absl::Status AgentStream::Open(const v1::AgentMessage& message) {
  MANDANT_RETURN_IF_ERROR(session_.Open(message));
  opened_ = true;
  std::shared_ptr<AgentStream> replaced =
      env_.registry->Register(session_.host_id(), shared_from_this());
  if (replaced != nullptr) {
    replaced->End(absl::AbortedError("a newer stream of this host replaced this one"));
  }
  bool ended = false;
  {
    absl::MutexLock lock(&mu_);
    host_id_ = session_.host_id();
    ended = ending_;
    // OnDone closes the session from now on, unless it ended already.
    connected_ = !ended;
  }
  if (ended) {
    // Ended while connecting: OnDone may have run before Register.
    env_.registry->Unregister(session_.host_id(), this);
    session_.Close();
    return absl::OkStatus();
  }
  return session_.Welcome();
}

}  // namespace mandant::controller
