#ifndef MANDANT_BENCH_AGENT_FLEET_H_
#define MANDANT_BENCH_AGENT_FLEET_H_

// Simulated host agents for mandant_agent_loadgen: each holds an enrolled
// identity (its own key and client certificate, so its own mutual-TLS
// connection) and one AgentService.Connect stream that sends Hello, reports
// the applied spec once (HostStatus), then a Heartbeat every interval. The
// streams use gRPC's callback API and one scheduler thread sends all
// heartbeats, so one process holds thousands of streams without a thread
// each.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include "mandant/v1/agent.grpc.pb.h"

namespace mandant::bench {

// What a simulated agent holds after CreateHost and Enroll.
struct AgentCredentials {
  std::string host_id;  // "sim-00001"
  std::string underlay_address;
  std::string key_pem;
  std::string chain_pem;  // certificate + issuing CA
};

struct FleetOptions {
  std::string address;      // 127.0.0.1:port
  std::string server_name;  // TLS name of mandantd's certificate
  std::string ca_pem;       // the Mandant root
  absl::Duration heartbeat_interval = absl::Seconds(10);
};

class SimulatedAgent;
class HeartbeatSchedule;

// Thread-safe.
class AgentFleet {
 public:
  explicit AgentFleet(FleetOptions options);
  // Cancels every stream and waits for them to end.
  ~AgentFleet();

  struct ConnectResult {
    int attempted = 0;
    int connected = 0;  // received their HostSpec
    double seconds = 0;
    // How long starting the streams took in this process (creating the calls
    // on their channels), within `seconds`.
    double start_seconds = 0;
    // Hello sent (stream started) to HostSpec received, of those connected.
    std::vector<int64_t> hello_to_spec_nanos;
    std::string first_error;
  };

  // Adds agents and opens their streams, at most `in_flight` waiting for
  // their HostSpec at a time (0: all at once); returns when every new
  // stream got its spec or ended, or after `timeout`.
  ConnectResult Add(const std::vector<AgentCredentials>& agents, int in_flight,
                    absl::Duration timeout);

  // The reconnect storm: cancels every stream, drops every channel (so the
  // TCP and TLS connections go too), waits for the streams to end, then
  // opens new channels and streams for all agents at once, each after a
  // random delay in [0, jitter). Returns when every agent has its spec
  // again or after `timeout`.
  ConnectResult ReconnectAll(absl::Duration jitter, absl::Duration timeout);

  // Heartbeats keep their schedule while paused but are not sent.
  void PauseHeartbeats(bool paused) { paused_.store(paused); }
  // Heartbeats written successfully so far.
  int64_t heartbeats_sent() const { return heartbeats_.load(); }
  int size() const;
  // Streams that have their spec and have not ended.
  int connected() const { return connected_.load(); }
  // Streams that ended without being cancelled by the fleet, and why the
  // first one did.
  int64_t unexpected_ends() const { return unexpected_ends_.load(); }
  std::string first_unexpected_error() const;

 private:
  friend class SimulatedAgent;
  friend class AgentStream;

  void StartStream(SimulatedAgent* agent);
  // Called by a stream when it has its spec (ok) or ended before (not ok).
  void StreamSettled(bool ok, int64_t nanos, const std::string& error);
  void StreamEnded(bool connected, bool expected, const std::string& error);
  void HeartbeatLoop();

  const FleetOptions options_;
  std::atomic<bool> paused_{false};
  std::atomic<int64_t> heartbeats_{0};
  std::atomic<int> connected_{0};
  std::atomic<int64_t> unexpected_ends_{0};

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<SimulatedAgent>> agents_ ABSL_GUARDED_BY(mu_);
  // Streams whose spec has not arrived yet, and results of settled ones.
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  int live_streams_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int64_t> settled_nanos_ ABSL_GUARDED_BY(mu_);
  int settled_failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::string settle_error_ ABSL_GUARDED_BY(mu_);
  std::string unexpected_error_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  const std::unique_ptr<HeartbeatSchedule> schedule_;
  std::thread heartbeat_thread_;
};

}  // namespace mandant::bench

#endif  // MANDANT_BENCH_AGENT_FLEET_H_
