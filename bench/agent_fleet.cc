#include "bench/agent_fleet.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <queue>
#include <random>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"

namespace mandant::bench {

class AgentStream;

// One agent: its identity and channel; at most one stream at a time.
class SimulatedAgent {
 public:
  SimulatedAgent(const FleetOptions& options, AgentCredentials creds)
      : options_(options), creds_(std::move(creds)) {
    ResetChannel();
  }

  // A new channel (and so a new TCP and TLS connection at the next call).
  void ResetChannel() {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options_.ca_pem;
    ssl.pem_private_key = creds_.key_pem;
    ssl.pem_cert_chain = creds_.chain_pem;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(options_.server_name);
    // A connection of its own: every agent has its own certificate.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(32 << 20);
    auto channel = grpc::CreateCustomChannel(options_.address, grpc::SslCredentials(ssl), args);
    stub_ = v1::AgentService::NewStub(channel);
  }

  v1::AgentMessage Hello() const {
    v1::AgentMessage m;
    v1::Hello* h = m.mutable_hello();
    h->set_host(absl::StrCat("hosts/", creds_.host_id));
    h->set_agent_version("0.1.0-sim");
    h->set_libvirt_version("9.0.0");
    h->set_qemu_version("7.2.0");
    h->mutable_capacity()->set_vcpus(32);
    h->mutable_capacity()->set_memory_mib(128 * 1024);
    h->mutable_capacity()->set_disk_gib(2000);
    h->set_underlay_address(creds_.underlay_address);
    h->set_underlay_mtu(1500);
    return m;
  }

  v1::AgentService::Stub* stub() { return stub_.get(); }

  // The stream, guarded by mu: a stream clears it in OnDone (under mu)
  // before it is deleted, so whoever holds mu and sees it set may use it.
  absl::Mutex mu;
  AgentStream* stream ABSL_GUARDED_BY(mu) = nullptr;

 private:
  const FleetOptions& options_;
  const AgentCredentials creds_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
};

// One Connect stream. Deletes itself in OnDone.
class AgentStream final : public grpc::ClientBidiReactor<v1::AgentMessage, v1::ControllerMessage> {
 public:
  // Call with agent->mu held.
  AgentStream(AgentFleet* fleet, SimulatedAgent* agent) : fleet_(fleet), agent_(agent) {
    agent->stub()->async()->Connect(&context_, this);
    // Writes are started from the heartbeat thread as well as from
    // reactions; the hold keeps the call from finishing under them.
    AddHold();
    StartRead(&in_);
    start_ = absl::Now();
    Send(agent->Hello());
    StartCall();
  }

  // Thread-safe. False when the stream is closing.
  bool Send(v1::AgentMessage message) {
    {
      absl::MutexLock lock(&mu_);
      if (closing_) return false;
      if (writing_) {
        outbox_.push_back(std::move(message));
        return true;
      }
      writing_ = true;
      out_ = std::move(message);
      ++starting_;
    }
    StartWrite(&out_);
    bool remove_hold = false;
    {
      absl::MutexLock lock(&mu_);
      --starting_;
      remove_hold = closing_ && starting_ == 0 && !hold_removed_;
      if (remove_hold) hold_removed_ = true;
    }
    if (remove_hold) RemoveHold();
    return true;
  }

  bool has_spec() const {
    absl::MutexLock lock(&mu_);
    return got_spec_;
  }

  // Call with agent->mu held.
  void Cancel() {
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
    }
    context_.TryCancel();
  }

  // grpc::ClientBidiReactor
  void OnReadDone(bool ok) override {
    if (!ok) {
      Close();
      return;
    }
    if (in_.has_spec()) {
      bool first = false;
      {
        absl::MutexLock lock(&mu_);
        first = !got_spec_;
        got_spec_ = true;
      }
      // The agent reports what it applied: an empty host applies at once.
      v1::AgentMessage status;
      status.mutable_status()->set_applied_spec_version(in_.spec().version());
      Send(std::move(status));
      if (first) {
        fleet_->connected_.fetch_add(1);
        fleet_->StreamSettled(true, absl::ToInt64Nanoseconds(absl::Now() - start_), "");
      }
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    bool next = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (ok && out_.has_heartbeat()) fleet_->heartbeats_.fetch_add(1);
      if (ok && !closing_ && !outbox_.empty()) {
        out_ = std::move(outbox_.front());
        outbox_.pop_front();
        writing_ = true;
        next = true;
      }
    }
    if (next) StartWrite(&out_);
  }

  void OnDone(const grpc::Status& status) override {
    {
      absl::MutexLock lock(&agent_->mu);
      agent_->stream = nullptr;
    }
    bool had_spec = false;
    bool cancelled = false;
    {
      absl::MutexLock lock(&mu_);
      had_spec = got_spec_;
      cancelled = cancelled_;
    }
    const std::string error =
        absl::StrCat("code ", status.error_code(), ": ", status.error_message());
    AgentFleet* fleet = fleet_;
    delete this;
    if (had_spec) fleet->connected_.fetch_sub(1);
    if (!had_spec) fleet->StreamSettled(false, 0, error);
    fleet->StreamEnded(had_spec, cancelled, error);
  }

 private:
  void Close() {
    bool remove_hold = false;
    {
      absl::MutexLock lock(&mu_);
      closing_ = true;
      outbox_.clear();
      remove_hold = starting_ == 0 && !hold_removed_;
      if (remove_hold) hold_removed_ = true;
    }
    if (remove_hold) RemoveHold();
  }

  AgentFleet* const fleet_;
  SimulatedAgent* const agent_;
  grpc::ClientContext context_;
  v1::ControllerMessage in_;
  v1::AgentMessage out_;
  absl::Time start_;

  mutable absl::Mutex mu_;
  std::deque<v1::AgentMessage> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  int starting_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_removed_ ABSL_GUARDED_BY(mu_) = false;
  bool got_spec_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

namespace {

struct Due {
  absl::Time time;
  int agent;
  bool operator>(const Due& o) const { return time > o.time; }
};

}  // namespace

// The heartbeat schedule: agent i sends at its own phase every interval.
class HeartbeatSchedule {
 public:
  void Add(int agent, absl::Time first) {
    absl::MutexLock lock(&mu_);
    queue_.push(Due{first, agent});
  }
  // The next agent due by `now`, rescheduled one interval later; -1 when
  // none is due.
  int PopDue(absl::Time now, absl::Duration interval) {
    absl::MutexLock lock(&mu_);
    if (queue_.empty() || queue_.top().time > now) return -1;
    Due d = queue_.top();
    queue_.pop();
    queue_.push(Due{d.time + interval, d.agent});
    return d.agent;
  }

 private:
  absl::Mutex mu_;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> queue_ ABSL_GUARDED_BY(mu_);
};

AgentFleet::AgentFleet(FleetOptions options)
    : options_(std::move(options)), schedule_(std::make_unique<HeartbeatSchedule>()) {
  heartbeat_thread_ = std::thread([this] { HeartbeatLoop(); });
}

AgentFleet::~AgentFleet() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  heartbeat_thread_.join();
  std::vector<SimulatedAgent*> agents;
  {
    absl::MutexLock lock(&mu_);
    for (auto& a : agents_) agents.push_back(a.get());
  }
  for (SimulatedAgent* a : agents) {
    absl::MutexLock lock(&a->mu);
    if (a->stream != nullptr) a->stream->Cancel();
  }
  absl::MutexLock lock(&mu_);
  auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return live_streams_ == 0; };
  mu_.AwaitWithTimeout(absl::Condition(&ended), absl::Seconds(60));
}

int AgentFleet::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(agents_.size());
}

std::string AgentFleet::first_unexpected_error() const {
  absl::MutexLock lock(&mu_);
  return unexpected_error_;
}

void AgentFleet::StartStream(SimulatedAgent* agent) {
  absl::MutexLock lock(&agent->mu);
  agent->stream = new AgentStream(this, agent);
}

void AgentFleet::StreamSettled(bool ok, int64_t nanos, const std::string& error) {
  absl::MutexLock lock(&mu_);
  --pending_;
  if (ok) {
    settled_nanos_.push_back(nanos);
  } else {
    ++settled_failed_;
    if (settle_error_.empty()) settle_error_ = error;
  }
}

void AgentFleet::StreamEnded(bool /*connected*/, bool expected, const std::string& error) {
  absl::MutexLock lock(&mu_);
  --live_streams_;
  if (!expected) {
    unexpected_ends_.fetch_add(1);
    if (unexpected_error_.empty()) unexpected_error_ = error;
  }
}

AgentFleet::ConnectResult AgentFleet::Add(const std::vector<AgentCredentials>& creds, int in_flight,
                                          absl::Duration timeout) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + timeout;
  HeartbeatSchedule* schedule = schedule_.get();
  absl::BitGen rng;
  std::vector<SimulatedAgent*> added;
  int first_index = 0;
  {
    absl::MutexLock lock(&mu_);
    first_index = static_cast<int>(agents_.size());
    settled_nanos_.clear();
    settled_failed_ = 0;
    settle_error_.clear();
    for (const AgentCredentials& c : creds) {
      agents_.push_back(std::make_unique<SimulatedAgent>(options_, c));
      added.push_back(agents_.back().get());
    }
  }
  for (size_t i = 0; i < added.size(); ++i) {
    {
      absl::MutexLock lock(&mu_);
      auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return in_flight <= 0 || pending_ < in_flight;
      };
      if (!mu_.AwaitWithDeadline(absl::Condition(&room), deadline)) break;
      ++pending_;
      ++live_streams_;
    }
    // Spread the phases over one interval whenever the streams connected.
    schedule->Add(first_index + static_cast<int>(i),
                  absl::Now() + options_.heartbeat_interval * absl::Uniform(rng, 0.0, 1.0));
    StartStream(added[i]);
  }
  ConnectResult r;
  r.start_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  r.attempted = static_cast<int>(added.size());
  absl::MutexLock lock(&mu_);
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_ == 0; };
  mu_.AwaitWithDeadline(absl::Condition(&settled), deadline);
  r.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  r.hello_to_spec_nanos = settled_nanos_;
  r.connected = static_cast<int>(settled_nanos_.size());
  r.first_error = settle_error_;
  return r;
}

AgentFleet::ConnectResult AgentFleet::ReconnectAll(absl::Duration jitter, absl::Duration timeout) {
  std::vector<SimulatedAgent*> agents;
  {
    absl::MutexLock lock(&mu_);
    for (auto& a : agents_) agents.push_back(a.get());
  }
  for (SimulatedAgent* a : agents) {
    absl::MutexLock lock(&a->mu);
    if (a->stream != nullptr) a->stream->Cancel();
  }
  ConnectResult r;
  r.attempted = static_cast<int>(agents.size());
  {
    absl::MutexLock lock(&mu_);
    auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return live_streams_ == 0; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ended), absl::Seconds(60))) {
      r.first_error = absl::StrCat(live_streams_, " streams did not end within 60 s of a cancel");
      return r;
    }
  }
  for (SimulatedAgent* a : agents) a->ResetChannel();

  absl::BitGen rng;
  std::vector<std::pair<absl::Duration, SimulatedAgent*>> order;
  for (SimulatedAgent* a : agents) {
    order.emplace_back(jitter > absl::ZeroDuration() ? jitter * absl::Uniform(rng, 0.0, 1.0)
                                                     : absl::ZeroDuration(),
                       a);
  }
  std::sort(order.begin(), order.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + timeout;
  {
    absl::MutexLock lock(&mu_);
    settled_nanos_.clear();
    settled_failed_ = 0;
    settle_error_.clear();
    pending_ += static_cast<int>(order.size());
    live_streams_ += static_cast<int>(order.size());
  }
  for (auto& [delay, agent] : order) {
    const absl::Time at = start + delay;
    if (absl::Now() < at) absl::SleepFor(at - absl::Now());
    StartStream(agent);
  }
  r.start_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  absl::MutexLock lock(&mu_);
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_ == 0; };
  mu_.AwaitWithDeadline(absl::Condition(&settled), deadline);
  r.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  r.hello_to_spec_nanos = settled_nanos_;
  r.connected = static_cast<int>(settled_nanos_.size());
  r.first_error = settle_error_;
  return r;
}

void AgentFleet::HeartbeatLoop() {
  HeartbeatSchedule* schedule = schedule_.get();
  v1::AgentMessage heartbeat;
  heartbeat.mutable_heartbeat();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    const absl::Time now = absl::Now();
    for (int i = schedule->PopDue(now, options_.heartbeat_interval); i >= 0;
         i = schedule->PopDue(now, options_.heartbeat_interval)) {
      if (paused_.load()) continue;
      SimulatedAgent* agent = nullptr;
      {
        absl::MutexLock lock(&mu_);
        if (i < static_cast<int>(agents_.size())) agent = agents_[i].get();
      }
      if (agent == nullptr) continue;
      absl::MutexLock lock(&agent->mu);
      if (agent->stream != nullptr && agent->stream->has_spec()) {
        agent->stream->Send(heartbeat);
      }
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace mandant::bench
