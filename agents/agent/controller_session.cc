#include "agents/agent/controller_session.h"

#include <algorithm>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

#include "common/logging.h"
#include "mandant/v1/agent.grpc.pb.h"

namespace mandant::agent {
namespace {

using google::protobuf::util::TimeUtil;

// At most this many events per EgressEventBatch (agent.proto).
constexpr size_t kMaxEgressEventsPerBatch = 1000;

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Microseconds(TimeUtil::DurationToMicroseconds(d));
}

}  // namespace

ControllerSession::ControllerSession(Options options) : options_(std::move(options)) {}

ControllerSession::~ControllerSession() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void ControllerSession::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ControllerSession::ReportStatus(v1::HostStatus status) {
  absl::MutexLock lock(&mu_);
  latest_status_ = std::move(status);
  status_dirty_ = true;
}

bool ControllerSession::connected() const {
  absl::MutexLock lock(&mu_);
  return connected_;
}

void ControllerSession::Run() {
  absl::BitGen random;
  absl::Duration backoff = options_.initial_backoff;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    bool accepted = false;
    const grpc::Status st = Stream(&accepted);
    {
      absl::MutexLock lock(&mu_);
      connected_ = false;
      if (stop_) return;
    }
    if (accepted) backoff = options_.initial_backoff;
    // Full jitter: anywhere in [0, backoff), so that agents cut off together
    // spread their reconnects.
    const absl::Duration wait =
        absl::Microseconds(absl::Uniform<int64_t>(random, 0, absl::ToInt64Microseconds(backoff)));
    MANDANT_LOG(warn, "stream to mandantd ended",
                {{"controller", options_.controller},
                 {"code", static_cast<int>(st.error_code())},
                 {"error", st.error_message()},
                 {"retry_in_ms", static_cast<long long>(absl::ToInt64Milliseconds(wait))}});
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      MANDANT_LOG(err,
                  "mandantd refuses this agent's certificate; if the host was deleted or "
                  "its certificate expired, enroll again with a new bootstrap token",
                  {{"controller", options_.controller}});
    }
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stop_), wait);
    if (stop_) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

grpc::Status ControllerSession::Stream(bool* accepted) {
  auto hello = options_.hello();
  if (!hello.ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        absl::StrCat("cannot describe this host: ", hello.status().message()));
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(32 << 20);
  args.SetMaxSendMessageSize(32 << 20);
  auto channel =
      grpc::CreateCustomChannel(options_.controller, options_.identity->Credentials(), args);
  auto stub = v1::AgentService::NewStub(channel);
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return grpc::Status::CANCELLED;
    context_ = &context;
  }
  auto stream = stub->Connect(&context);
  v1::AgentMessage first;
  *first.mutable_hello() = *std::move(hello);
  std::thread writer;
  if (stream->Write(first)) {
    {
      absl::MutexLock lock(&mu_);
      stream_open_ = true;
      egress_sent_on_stream_ = false;
      // Whatever was observed is worth sending on the new stream.
      if (latest_status_) status_dirty_ = true;
    }
    writer = std::thread([this, s = stream.get()] { Writer(s); });
    v1::ControllerMessage message;
    while (stream->Read(&message)) {
      switch (message.message_case()) {
        case v1::ControllerMessage::kSettings: {
          absl::MutexLock lock(&mu_);
          if (message.settings().has_heartbeat_interval()) {
            heartbeat_interval_ =
                std::max(absl::Seconds(1), FromProto(message.settings().heartbeat_interval()));
          }
          if (message.settings().has_certificate_renew_before()) {
            renew_before_ = FromProto(message.settings().certificate_renew_before());
          }
          if (!connected_) {
            connected_ = true;
            *accepted = true;
            MANDANT_LOG(info, "connected to mandantd", {{"controller", options_.controller}});
          }
          break;
        }
        case v1::ControllerMessage::kSpec:
          if (options_.on_spec) options_.on_spec(message.spec());
          break;
        case v1::ControllerMessage::kCertificate: {
          const v1::RenewedCertificate& renewed = message.certificate();
          absl::MutexLock lock(&mu_);
          if (renewed.has_error() && renewed.error().code() != 0) {
            MANDANT_LOG(warn, "certificate renewal refused",
                        {{"error", renewed.error().message()}});
            break;
          }
          absl::Status st =
              options_.identity->Renewed(renewed.certificate_pem(), renewed.chain_pem());
          if (st.ok()) {
            MANDANT_LOG(info, "certificate renewed",
                        {{"not_after", absl::FormatTime(options_.identity->not_after())}});
          } else {
            MANDANT_LOG(warn, "renewed certificate not stored", {{"error", st}});
          }
          break;
        }
        case v1::ControllerMessage::kTrustBundle:
        case v1::ControllerMessage::MESSAGE_NOT_SET:
          break;
      }
    }
  }
  {
    absl::MutexLock lock(&mu_);
    stream_open_ = false;
    connected_ = false;
  }
  // The reader saw the stream end: mandantd finished it (with the status
  // Finish returns) or Stop cancelled it. The writer notices within its
  // wait, or its Write fails on the ended call. Cancelling here would
  // replace mandantd's status with CANCELLED.
  if (writer.joinable()) writer.join();
  grpc::Status st = stream->Finish();
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
  if (st.error_code() == grpc::StatusCode::UNIMPLEMENTED && egress_sent_on_stream_) {
    egress_refused_until_ = absl::Now() + options_.egress_retry_after;
    if (!egress_refusal_logged_) {
      egress_refusal_logged_ = true;
      MANDANT_LOG(warn,
                  "mandantd does not accept egress events; not sending them for a while (the "
                  "edges' bounded queue keeps what fits and counts the rest as dropped)",
                  {{"controller", options_.controller},
                   {"error", st.error_message()},
                   {"retry_in_s",
                    static_cast<long long>(absl::ToInt64Seconds(options_.egress_retry_after))}});
    }
  }
  return st;
}

void ControllerSession::Writer(
    grpc::ClientReaderWriter<v1::AgentMessage, v1::ControllerMessage>* stream) {
  // The next heartbeat is due an interval after the last message. The
  // interval is read on every wait: AgentSettings arrive after the first
  // message went out, and must not wait for the default interval to pass.
  absl::Time last_sent = absl::InfinitePast();
  for (;;) {
    v1::AgentMessage message;
    {
      absl::MutexLock lock(&mu_);
      auto egress_due = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        const absl::Time now = absl::Now();
        return options_.take_egress_events && now >= next_egress_ && now >= egress_refused_until_;
      };
      auto ready = [this, &last_sent, &egress_due]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !stream_open_ || stop_ || status_dirty_ ||
               absl::Now() >= last_sent + heartbeat_interval_ || egress_due();
      };
      while (!ready()) {
        mu_.AwaitWithTimeout(
            absl::Condition(&status_dirty_),
            std::min(last_sent + heartbeat_interval_ - absl::Now(), absl::Milliseconds(200)));
      }
      if (!stream_open_ || stop_) return;
      const absl::Time now = absl::Now();
      AgentIdentity* id = options_.identity;
      const absl::Duration lifetime = id->not_after() - id->not_before();
      const absl::Duration before =
          renew_before_ > absl::ZeroDuration() ? renew_before_ : lifetime / 3;
      if (status_dirty_ && latest_status_) {
        *message.mutable_status() = *latest_status_;
        status_dirty_ = false;
      } else if (now >= id->not_after() - before && now >= next_renewal_attempt_) {
        next_renewal_attempt_ = now + absl::Minutes(1);
        auto csr = id->PrepareRenewal();
        if (!csr.ok()) {
          MANDANT_LOG(warn, "no renewal CSR", {{"error", csr.status()}});
          continue;
        }
        message.mutable_renewal()->set_csr(*csr);
      } else {
        status_dirty_ = false;
        v1::EgressEventBatch batch;
        if (egress_due()) {
          next_egress_ = now + options_.egress_interval;
          batch = options_.take_egress_events(kMaxEgressEventsPerBatch);
        }
        if (batch.events_size() > 0) {
          *message.mutable_egress_events() = std::move(batch);
          egress_sent_on_stream_ = true;
        } else if (now >= last_sent + heartbeat_interval_) {
          message.mutable_heartbeat();
        } else {
          continue;  // woken for egress events, and there were none
        }
      }
      last_sent = now;
    }
    if (!stream->Write(message)) return;
  }
}

}  // namespace mandant::agent
