#include "agents/agent/controller_session.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

#include "agents/edge/egress_log.h"
#include "pki/encoding.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/agents/agent/fake_agent_service.h"
#include "tests/unit/agents/vm/test_dir.h"

namespace mandant::agent {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::mandant::agent::testing::FakeAgentService;
using ::mandant::agent::testing::TestPki;
using Stream = FakeAgentService::Stream;

constexpr absl::Duration kTimeout = absl::Seconds(20);

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Polls `done` every 10 ms until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& done, absl::Duration timeout = kTimeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

int Count(const Stream& s, v1::AgentMessage::MessageCase kind) {
  int n = 0;
  for (const v1::AgentMessage& m : s.messages) n += m.message_case() == kind;
  return n;
}

int CountAll(const std::vector<Stream>& streams, v1::AgentMessage::MessageCase kind) {
  int n = 0;
  for (const Stream& s : streams) n += Count(s, kind);
  return n;
}

v1::HostSpec Spec(int64_t version) {
  v1::HostSpec spec;
  spec.set_version(version);
  return spec;
}

v1::AgentSettings Settings(absl::Duration heartbeat, absl::Duration renew_before) {
  v1::AgentSettings settings;
  *settings.mutable_heartbeat_interval() =
      TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(heartbeat));
  *settings.mutable_lease_duration() =
      TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(heartbeat * 4));
  if (renew_before > absl::ZeroDuration()) {
    *settings.mutable_certificate_renew_before() =
        TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(renew_before));
  }
  return settings;
}

class ControllerSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TestPki> pki = TestPki::Create();
    ASSERT_OK(pki);
    pki_ = std::make_unique<TestPki>(*std::move(pki));
    absl::StatusOr<std::unique_ptr<FakeAgentService>> service = FakeAgentService::Start(pki_.get());
    ASSERT_OK(service);
    service_ = *std::move(service);
    service_->set_settings(Settings(absl::Seconds(1), absl::ZeroDuration()));
    state_dir_ = dir_.path() + "/state";
  }

  void TearDown() override {
    session_.reset();
    service_.reset();
  }

  // Enrolls with a certificate valid for `validity`.
  void Enroll(absl::Duration validity = absl::Hours(24)) {
    service_->set_certificate_validity(validity);
    absl::StatusOr<AgentIdentity> id =
        AgentIdentity::Enroll(state_dir_, service_->address(), "hv1", "token", pki_->ca_pem());
    ASSERT_OK(id);
    identity_ = std::make_unique<AgentIdentity>(*std::move(id));
    service_->set_certificate_validity(absl::Hours(24));
  }

  void StartSession(absl::Duration initial_backoff = absl::Milliseconds(10),
                    absl::Duration max_backoff = absl::Milliseconds(100)) {
    if (identity_ == nullptr) Enroll();
    ControllerSession::Options options;
    options.controller = service_->address();
    options.identity = identity_.get();
    options.hello = [this]() -> absl::StatusOr<v1::Hello> {
      absl::MutexLock lock(&mu_);
      ++hellos_;
      if (hello_failures_ > 0) {
        --hello_failures_;
        return absl::InternalError("cannot read /proc/meminfo");
      }
      v1::Hello hello;
      hello.set_host("hosts/hv1");
      hello.set_agent_version("0.1.0");
      return hello;
    };
    options.on_spec = [this](const v1::HostSpec& spec) {
      absl::MutexLock lock(&mu_);
      specs_.push_back(spec.version());
    };
    options.initial_backoff = initial_backoff;
    options.max_backoff = max_backoff;
    options.take_egress_events = [this](size_t max) {
      v1::EgressEventBatch batch;
      for (v1::EgressRecord& r : egress_.TakeBatch(max)) *batch.add_events() = std::move(r);
      return batch;
    };
    options.egress_interval = egress_interval_;
    options.egress_retry_after = egress_retry_after_;
    session_ = std::make_unique<ControllerSession>(std::move(options));
    session_->Start();
  }

  std::vector<int64_t> specs() {
    absl::MutexLock lock(&mu_);
    return specs_;
  }

  bool WaitForStreams(size_t n) {
    return service_->WaitFor(
        [n](const std::vector<Stream>& s) { return s.size() >= n && !s[n - 1].messages.empty(); },
        kTimeout);
  }

  agent::testing::TestDir dir_;
  std::string state_dir_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<FakeAgentService> service_;
  std::unique_ptr<AgentIdentity> identity_;
  absl::Mutex mu_;
  int hellos_ ABSL_GUARDED_BY(mu_) = 0;
  int hello_failures_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int64_t> specs_ ABSL_GUARDED_BY(mu_);
  EgressQueue egress_{100000};
  absl::Duration egress_interval_ = absl::Seconds(1);
  absl::Duration egress_retry_after_ = absl::Hours(1);
  std::unique_ptr<ControllerSession> session_;
};

// `n` egress events of one edge, destination ports first..first+n-1.
void PushEgressEvents(EgressQueue& queue, int first, int n) {
  for (int i = first; i < first + n; ++i) {
    v1::EgressRecord r;
    r.set_namespace_("mandant-ex0003e9");
    r.set_source_address("10.64.3.11");
    r.set_destination_address("192.0.2.80");
    r.set_destination_port(static_cast<uint32_t>(i));
    r.set_protocol_number(6);
    r.set_action(v1::EGRESS_ACTION_ALLOW);
    ASSERT_TRUE(queue.Push(std::move(r)));
  }
}

int CountEgressEvents(const std::vector<Stream>& streams) {
  int n = 0;
  for (const Stream& s : streams) {
    for (const v1::AgentMessage& m : s.messages) n += m.egress_events().events_size();
  }
  return n;
}

TEST_F(ControllerSessionTest, SendsHelloFirstOnEveryStreamAndDeliversSpecs) {
  service_->set_spec_on_connect(Spec(7));
  StartSession();
  ASSERT_TRUE(Eventually([&] { return session_->connected(); }));
  ASSERT_TRUE(Eventually([&] { return specs() == std::vector<int64_t>{7}; }));

  v1::ControllerMessage update;
  *update.mutable_spec() = Spec(8);
  service_->Send(update);
  ASSERT_TRUE(Eventually([&] { return specs() == std::vector<int64_t>{7, 8}; }));

  // mandantd goes away; the agent comes back, says Hello again and gets the
  // whole spec again.
  service_->set_spec_on_connect(Spec(8));
  service_->EndStreams();
  ASSERT_TRUE(WaitForStreams(2));
  ASSERT_TRUE(Eventually([&] { return specs() == std::vector<int64_t>{7, 8, 8}; }));
  ASSERT_TRUE(Eventually([&] { return session_->connected(); }));
  for (const Stream& s : service_->streams()) {
    ASSERT_FALSE(s.messages.empty());
    EXPECT_TRUE(s.messages[0].has_hello());
    EXPECT_EQ(s.messages[0].hello().host(), "hosts/hv1");
    EXPECT_EQ(Count(s, v1::AgentMessage::kHello), 1);
  }
}

TEST_F(ControllerSessionTest, NotConnectedUntilSettingsArrive) {
  service_->set_settings(std::nullopt);
  StartSession();
  ASSERT_TRUE(WaitForStreams(1));
  // The stream is open (Hello arrived), but mandantd has not accepted it.
  EXPECT_FALSE(session_->connected());
  v1::ControllerMessage settings;
  *settings.mutable_settings() = Settings(absl::Seconds(1), absl::ZeroDuration());
  service_->Send(settings);
  EXPECT_TRUE(Eventually([&] { return session_->connected(); }));
}

TEST_F(ControllerSessionTest, SendsHeartbeatsAtTheIntervalOfTheSettings) {
  StartSession();
  // The default interval is 10 s; the settings say 1 s.
  ASSERT_TRUE(service_->WaitFor(
      [](const std::vector<Stream>& s) {
        return !s.empty() && Count(s[0], v1::AgentMessage::kHeartbeat) >= 5;
      },
      absl::Seconds(8)))
      << "heartbeats: " << CountAll(service_->streams(), v1::AgentMessage::kHeartbeat);
  const Stream s = service_->streams()[0];
  std::vector<absl::Time> times;
  for (size_t i = 0; i < s.messages.size(); ++i) {
    if (s.messages[i].has_heartbeat()) times.push_back(s.receive_times[i]);
  }
  for (size_t i = 1; i < times.size(); ++i) {
    const absl::Duration gap = times[i] - times[i - 1];
    EXPECT_GE(gap, absl::Milliseconds(800)) << "heartbeat " << i;
    EXPECT_LE(gap, absl::Milliseconds(2000)) << "heartbeat " << i;
  }
}

TEST_F(ControllerSessionTest, ResendsTheLatestStatusAfterAReconnect) {
  StartSession();
  v1::HostStatus old_status;
  old_status.set_applied_spec_version(2);
  session_->ReportStatus(old_status);
  v1::HostStatus status;
  status.set_applied_spec_version(3);
  session_->ReportStatus(status);  // replaces version 2 if that was not sent yet
  ASSERT_TRUE(service_->WaitFor(
      [](const std::vector<Stream>& s) {
        for (const Stream& st : s) {
          for (const v1::AgentMessage& m : st.messages) {
            if (m.has_status() && m.status().applied_spec_version() == 3) return true;
          }
        }
        return false;
      },
      kTimeout));

  service_->EndStreams();
  ASSERT_TRUE(service_->WaitFor(
      [](const std::vector<Stream>& s) {
        return s.size() >= 2 && Count(s[1], v1::AgentMessage::kStatus) >= 1;
      },
      kTimeout));
  const Stream second = service_->streams()[1];
  EXPECT_TRUE(second.messages[0].has_hello());
  for (const v1::AgentMessage& m : second.messages) {
    if (m.has_status()) {
      EXPECT_EQ(m.status().applied_spec_version(), 3);
    }
  }
}

TEST_F(ControllerSessionTest, ReconnectsWithGrowingJitteredBackoff) {
  service_->set_refuse_streams(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "the replica is shutting down"));
  const absl::Duration initial = absl::Milliseconds(10);
  const absl::Duration max = absl::Milliseconds(400);
  StartSession(initial, max);
  constexpr size_t kStreams = 14;
  ASSERT_TRUE(service_->WaitFor(
      [](const std::vector<Stream>& s) {
        return s.size() >= kStreams && s[kStreams - 1].end != absl::InfiniteFuture();
      },
      absl::Seconds(30)));
  session_.reset();
  const std::vector<Stream> streams = service_->streams();
  std::vector<absl::Duration> gaps;  // gaps[i]: before stream i + 1
  for (size_t i = 0; i + 1 < kStreams; ++i) {
    gaps.push_back(streams[i + 1].start - streams[i].end);
  }
  for (size_t i = 0; i < gaps.size(); ++i) {
    EXPECT_TRUE(streams[i].messages[0].has_hello());
    // Never more than the maximum (plus the time to open a TLS stream).
    EXPECT_LT(gaps[i], max + absl::Milliseconds(500)) << "gap " << i;
  }
  // From the 7th attempt on the backoff is at its maximum of 400 ms: waits
  // anywhere in [0, 400 ms). Without growth they would all be below 10 ms;
  // P(all 7 below 100 ms) = 0.25^7.
  const std::vector<absl::Duration> late(gaps.begin() + 6, gaps.end());
  const absl::Duration late_max = *std::max_element(late.begin(), late.end());
  const absl::Duration late_min = *std::min_element(late.begin(), late.end());
  EXPECT_GT(late_max, absl::Milliseconds(100));
  // Jitter: equal backoffs give different waits.
  EXPECT_GT(late_max - late_min, absl::Milliseconds(20));
  // Never connected, so connected() never went true.
  EXPECT_EQ(CountAll(streams, v1::AgentMessage::kHeartbeat) +
                CountAll(streams, v1::AgentMessage::kStatus),
            0);
}

TEST_F(ControllerSessionTest, RetriesWhenTheHostCannotBeDescribed) {
  {
    absl::MutexLock lock(&mu_);
    hello_failures_ = 2;
  }
  StartSession();
  ASSERT_TRUE(Eventually([&] { return session_->connected(); }));
  absl::MutexLock lock(&mu_);
  EXPECT_GE(hellos_, 3);
}

TEST_F(ControllerSessionTest, RenewsTheCertificateWithinRenewBeforeOfItsEnd) {
  Enroll(absl::Minutes(10));
  const std::string path = state_dir_ + "/identity/credentials.pem";
  const std::string old_credentials = Slurp(path);
  absl::StatusOr<AgentIdentity> old_identity = AgentIdentity::Load(state_dir_);
  ASSERT_OK(old_identity);
  // 10 minutes left is less than the hour the settings ask for.
  service_->set_settings(Settings(absl::Seconds(1), absl::Hours(1)));
  StartSession();

  ASSERT_TRUE(Eventually([&] { return Slurp(path) != old_credentials; }));
  absl::StatusOr<AgentIdentity> renewed = AgentIdentity::Load(state_dir_);
  ASSERT_OK(renewed);
  EXPECT_GT(renewed->not_after(), old_identity->not_after() + absl::Hours(20));
  EXPECT_EQ(CountAll(service_->streams(), v1::AgentMessage::kRenewal), 1);

  // The next stream presents the renewed certificate.
  service_->EndStreams();
  ASSERT_TRUE(WaitForStreams(2));
  absl::StatusOr<pki::X509Ptr> presented =
      pki::ParseCertificate(service_->streams()[1].peer_certificate_pem);
  absl::StatusOr<pki::X509Ptr> stored = pki::ParseCertificate(Slurp(path));
  ASSERT_OK(presented);
  ASSERT_OK(stored);
  EXPECT_EQ(X509_cmp(presented->get(), stored->get()), 0);
}

TEST_F(ControllerSessionTest, DoesNotRenewBeforeRenewBefore) {
  Enroll(absl::Minutes(10));
  const std::string path = state_dir_ + "/identity/credentials.pem";
  const std::string old_credentials = Slurp(path);
  service_->set_settings(Settings(absl::Seconds(1), absl::Minutes(5)));
  StartSession();
  ASSERT_TRUE(service_->WaitFor(
      [](const std::vector<Stream>& s) {
        return !s.empty() && Count(s[0], v1::AgentMessage::kHeartbeat) >= 3;
      },
      kTimeout));
  EXPECT_EQ(CountAll(service_->streams(), v1::AgentMessage::kRenewal), 0);
  EXPECT_EQ(Slurp(path), old_credentials);
}

TEST_F(ControllerSessionTest, RefusedRenewalKeepsTheCertificateAndIsNotRepeatedAtOnce) {
  Enroll(absl::Minutes(10));
  const std::string path = state_dir_ + "/identity/credentials.pem";
  const std::string old_credentials = Slurp(path);
  service_->set_settings(Settings(absl::Seconds(1), absl::Hours(1)));
  service_->set_renewal_error(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad CSR"));
  StartSession();
  ASSERT_TRUE(service_->WaitFor(
      [](const std::vector<Stream>& s) {
        if (s.empty() || Count(s[0], v1::AgentMessage::kRenewal) == 0) return false;
        // Two heartbeats after the renewal request.
        int after = 0;
        bool seen = false;
        for (const v1::AgentMessage& m : s[0].messages) {
          seen = seen || m.has_renewal();
          after += seen && m.has_heartbeat();
        }
        return after >= 2;
      },
      kTimeout));
  EXPECT_EQ(CountAll(service_->streams(), v1::AgentMessage::kRenewal), 1);
  EXPECT_EQ(Slurp(path), old_credentials);
  EXPECT_TRUE(session_->connected());
}

TEST_F(ControllerSessionTest, NeverTalksToAServerItsCaDidNotCertify) {
  Enroll();
  // A server with a certificate from another CA that takes any client.
  absl::StatusOr<TestPki> other = TestPki::Create();
  ASSERT_OK(other);
  absl::StatusOr<std::unique_ptr<FakeAgentService>> impostor =
      FakeAgentService::Start(&*other, /*verify_clients=*/false);
  ASSERT_OK(impostor);
  auto connect = [&](AgentIdentity* identity, const std::function<bool(int)>& done) {
    ControllerSession::Options options;
    options.controller = (*impostor)->address();
    options.identity = identity;
    auto attempts = std::make_shared<std::atomic<int>>(0);
    options.hello = [attempts] {
      ++*attempts;
      v1::Hello hello;
      hello.set_host("hosts/hv1");
      return absl::StatusOr<v1::Hello>(hello);
    };
    options.initial_backoff = absl::Milliseconds(10);
    options.max_backoff = absl::Milliseconds(20);
    auto session = std::make_unique<ControllerSession>(std::move(options));
    session->Start();
    EXPECT_TRUE(Eventually([&] { return done(*attempts); }));
  };
  connect(identity_.get(), [](int attempts) { return attempts >= 4; });
  EXPECT_EQ(CountAll((*impostor)->streams(), v1::AgentMessage::kHello), 0);

  // The control: an agent that trusts the other CA does get through.
  absl::StatusOr<AgentIdentity> trusting = AgentIdentity::Enroll(
      dir_.path() + "/other", (*impostor)->address(), "hv1", "token", other->ca_pem());
  ASSERT_OK(trusting);
  connect(&*trusting,
          [&](int) { return CountAll((*impostor)->streams(), v1::AgentMessage::kHello) >= 1; });
}

TEST_F(ControllerSessionTest, RelaysEgressEventsInBatchesOfAtMost1000AtMostEveryInterval) {
  egress_interval_ = absl::Milliseconds(300);
  PushEgressEvents(egress_, 0, 2500);
  StartSession();
  ASSERT_TRUE(service_->WaitFor(
      [](const std::vector<Stream>& s) { return CountEgressEvents(s) == 2500; }, kTimeout));
  const Stream s = service_->streams()[0];
  std::vector<absl::Time> times;
  int next_port = 0;
  for (size_t i = 0; i < s.messages.size(); ++i) {
    if (!s.messages[i].has_egress_events()) continue;
    times.push_back(s.receive_times[i]);
    const v1::EgressEventBatch& batch = s.messages[i].egress_events();
    EXPECT_LE(batch.events_size(), 1000);
    EXPECT_GT(batch.events_size(), 0);
    // Oldest first, none lost, none twice.
    for (const v1::EgressRecord& r : batch.events()) {
      EXPECT_EQ(r.destination_port(), static_cast<uint32_t>(next_port++));
    }
  }
  ASSERT_EQ(times.size(), 3u);
  for (size_t i = 1; i < times.size(); ++i) {
    EXPECT_GE(times[i] - times[i - 1], absl::Milliseconds(250)) << "batch " << i;
  }
  // Nothing queued, nothing sent: only heartbeats follow.
  absl::SleepFor(absl::Milliseconds(700));
  EXPECT_EQ(Count(service_->streams()[0], v1::AgentMessage::kEgressEvents), 3);
  EXPECT_EQ(egress_.size(), 0u);
}

TEST_F(ControllerSessionTest, StopsSendingEgressEventsToAMandantdThatRefusesThem) {
  service_->set_refuse_egress_events(grpc::Status(
      grpc::StatusCode::UNIMPLEMENTED, "this controller does not store egress events yet"));
  egress_interval_ = absl::Milliseconds(50);
  egress_retry_after_ = absl::Seconds(2);
  PushEgressEvents(egress_, 0, 10);
  StartSession();
  // The first batch ends the stream; the next stream works and carries none.
  ASSERT_TRUE(WaitForStreams(2));
  const absl::Time refused = service_->streams()[0].end;
  ASSERT_NE(refused, absl::InfiniteFuture());
  EXPECT_EQ(Count(service_->streams()[0], v1::AgentMessage::kEgressEvents), 1);
  PushEgressEvents(egress_, 10, 10);
  ASSERT_TRUE(Eventually([&] { return session_->connected(); }));
  v1::HostStatus status;
  status.set_applied_spec_version(9);
  session_->ReportStatus(status);
  ASSERT_TRUE(service_->WaitFor(
      [](const std::vector<Stream>& s) {
        return s.size() >= 2 && Count(s[1], v1::AgentMessage::kStatus) >= 1;
      },
      kTimeout));
  // After the pause the session tries again (mandantd may have been
  // upgraded); this one still refuses.
  ASSERT_TRUE(service_->WaitFor(
      [](const std::vector<Stream>& s) {
        return s.size() >= 2 && Count(s[1], v1::AgentMessage::kEgressEvents) >= 1;
      },
      kTimeout));
  const Stream second = service_->streams()[1];
  for (size_t i = 0; i < second.messages.size(); ++i) {
    if (second.messages[i].has_egress_events()) {
      EXPECT_GE(second.receive_times[i] - refused, absl::Milliseconds(1900));
    }
  }
  EXPECT_EQ(second.messages[0].egress_events().events_size(), 0);  // Hello first
}

TEST_F(ControllerSessionTest, DestructorReturnsPromptlyWhileConnected) {
  StartSession();
  ASSERT_TRUE(Eventually([&] { return session_->connected(); }));
  const absl::Time start = absl::Now();
  session_.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_TRUE(service_->WaitFor(
      [](const std::vector<Stream>& s) { return s[0].end != absl::InfiniteFuture(); }, kTimeout));
}

TEST_F(ControllerSessionTest, DestructorReturnsPromptlyWhileBackingOff) {
  service_->set_refuse_streams(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
  // With a minute of backoff the session sits in its wait after the first
  // refusal (or, rarely, the jitter picked a short wait and it is in the
  // second attempt: the destructor must be prompt there too).
  StartSession(absl::Minutes(1), absl::Minutes(1));
  ASSERT_TRUE(service_->WaitFor(
      [](const std::vector<Stream>& s) { return !s.empty() && s[0].end != absl::InfiniteFuture(); },
      kTimeout));
  const absl::Time start = absl::Now();
  session_.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST_F(ControllerSessionTest, DestructorReturnsPromptlyWhenMandantdIsUnreachable) {
  Enroll();
  const std::string address = service_->address();
  service_.reset();  // nothing listens there any more
  ControllerSession::Options options;
  options.controller = address;
  options.identity = identity_.get();
  std::atomic<int> attempts{0};
  options.hello = [&attempts] {
    ++attempts;
    return absl::StatusOr<v1::Hello>(v1::Hello());
  };
  options.initial_backoff = absl::Milliseconds(50);
  options.max_backoff = absl::Milliseconds(50);
  auto session = std::make_unique<ControllerSession>(std::move(options));
  session->Start();
  ASSERT_TRUE(Eventually([&] { return attempts >= 3; }));
  EXPECT_FALSE(session->connected());
  const absl::Time start = absl::Now();
  session.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

}  // namespace
}  // namespace mandant::agent
