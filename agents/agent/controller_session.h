#ifndef MANDANT_AGENTS_AGENT_CONTROLLER_SESSION_H_
#define MANDANT_AGENTS_AGENT_CONTROLLER_SESSION_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include "agents/agent/identity.h"
#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

// The agent's end of AgentService.Connect: keeps one stream to mandantd
// open, reconnecting with exponential backoff and full jitter (so that many
// agents cut off at once do not come back at once), sends Hello first on
// every stream, then heartbeats, the latest HostStatus (again after every
// reconnect), certificate renewals when the certificate nears its end, and
// the edges' egress events in batches. HostSpecs are handed to `on_spec`
// from the session's reader thread. Thread-safe.
//
// Egress events: at most every `egress_interval`, when `take_egress_events`
// has any, one AgentMessage.egress_events of at most 1000. Delivery is at
// most once: a batch taken for a stream that breaks is lost (the queue
// behind it is bounded and counts what it cannot keep). A mandantd that does
// not store egress events yet ends the stream with UNIMPLEMENTED when it
// gets a batch; the session then sends none for `egress_retry_after` (on
// any stream, so the stream itself keeps working), logs that once, and
// tries again afterwards (mandantd may have been upgraded meanwhile).
class ControllerSession {
 public:
  struct Options {
    std::string controller;  // "host:port" of mandantd
    // Not owned; must outlive the session. Renewals replace its contents.
    AgentIdentity* identity = nullptr;
    // What to say in Hello; called for every new stream.
    std::function<absl::StatusOr<v1::Hello>()> hello;
    std::function<void(const v1::HostSpec&)> on_spec;
    absl::Duration initial_backoff = absl::Seconds(1);
    absl::Duration max_backoff = absl::Minutes(1);
    // Removes and returns up to `max` of the oldest egress events (e.g.
    // EgressLog::TakeBatch); empty: none are sent. Called from the session's
    // writer thread with the session's lock held: it must not call back
    // into the session.
    std::function<v1::EgressEventBatch(size_t max)> take_egress_events;
    absl::Duration egress_interval = absl::Seconds(1);
    absl::Duration egress_retry_after = absl::Hours(1);
  };

  explicit ControllerSession(Options options);
  // Stops the session (cancels the stream) and joins its threads.
  ~ControllerSession();

  ControllerSession(const ControllerSession&) = delete;
  ControllerSession& operator=(const ControllerSession&) = delete;

  void Start();
  // Queues `status` to be sent now (or on the next stream) and replaces any
  // status not yet sent.
  void ReportStatus(v1::HostStatus status);
  // True while a stream is open and mandantd accepted Hello.
  bool connected() const;

 private:
  void Run();
  // One stream, until it fails or Stop. Returns why it ended.
  grpc::Status Stream(bool* accepted);
  void Writer(grpc::ClientReaderWriter<v1::AgentMessage, v1::ControllerMessage>* stream);

  const Options options_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool stream_open_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::optional<v1::HostStatus> latest_status_ ABSL_GUARDED_BY(mu_);
  bool status_dirty_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<v1::CertificateRenewal> renewal_ ABSL_GUARDED_BY(mu_);
  absl::Time next_renewal_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_) = absl::Seconds(10);
  absl::Duration renew_before_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  // Egress events: when the next batch may go, whether the current stream
  // carried any, until when mandantd is taken not to accept them, and
  // whether that was logged.
  absl::Time next_egress_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool egress_sent_on_stream_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time egress_refused_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool egress_refusal_logged_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_AGENT_CONTROLLER_SESSION_H_
