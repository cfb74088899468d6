#include "controller/agents/agent_service.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "controller/agents/agent_stream.h"

namespace mandant::controller {

AgentServiceImpl::AgentServiceImpl(const api::ServiceDeps& deps, AgentServiceOptions options)
    : options_(std::move(options)),
      store_(options_.lease),
      session_env_{deps, &store_, options_.lease, options_.certificate_ttl, options_.edge},
      enrollment_(deps, &store_, options_.certificate_ttl),
      work_(options_.worker_threads) {
  if (!options_.conninfo.empty()) {
    store::Notifications::Options n;
    n.conninfo = options_.conninfo;
    n.password = options_.password;
    n.channel = "mandant_host_spec";
    n.on_notify = [this](absl::string_view payload) {
      int64_t host_id = 0;
      if (absl::SimpleAtoi(payload, &host_id)) SpecChanged(host_id);
    };
    n.on_resync = [this] { ResyncAll(); };
    notifications_ = std::make_unique<store::Notifications>(std::move(n));
  }
  lease_thread_ = std::thread([this] {
    while (!stop_) {
      absl::SleepFor(absl::Milliseconds(500));
      CheckLeases();
    }
  });
}

AgentServiceImpl::~AgentServiceImpl() {
  stop_ = true;
  lease_thread_.join();
  notifications_.reset();
}

grpc::Status AgentServiceImpl::Enroll(grpc::ServerContext* context,
                                      const v1::EnrollRequest* request,
                                      v1::EnrollResponse* response) {
  api::RpcCall call(context, "Enroll", /*mutating=*/true, session_env_.deps);
  return call.Finish(enrollment_.Enroll(call, *request, response));
}

grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>* AgentServiceImpl::Connect(
    grpc::CallbackServerContext* context) {
  return AgentStream::Start({&session_env_, &registry_, &work_}, context);
}

int AgentServiceImpl::connected() const { return registry_.host_count(); }

void AgentServiceImpl::EndAllStreams() {
  for (const auto& stream : registry_.HostStreams()) {
    stream->End(api::CallerVisible(absl::UnavailableError("mandantd is shutting down; reconnect")));
  }
}

void AgentServiceImpl::SpecChanged(int64_t host_id) {
  if (std::shared_ptr<AgentStream> stream = registry_.Find(host_id)) stream->SpecChanged();
}

void AgentServiceImpl::ResyncAll() {
  for (const auto& stream : registry_.HostStreams()) stream->SpecChanged();
}

void AgentServiceImpl::CheckLeases() {
  const absl::Time now = absl::Now();
  const absl::Duration lease = options_.lease.lease_duration;
  for (const auto& stream : registry_.HostStreams()) {
    if (now - stream->last_message() > lease) {
      stream->End(api::CallerVisible(absl::UnavailableError(
          absl::StrCat("no message from the agent of host \"", stream->host(),
                       "\" within its lease of ", absl::FormatDuration(lease)))));
    }
  }
}

}  // namespace mandant::controller
