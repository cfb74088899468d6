#include "agents/vm/guest_status.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"
#include "tests/unit/agents/vm/test_dir.h"

namespace mandant::agent {
namespace {

using ::mandant::testing::StatusIs;
using ::testing::SizeIs;

TEST(GuestPhaseTest, MapsKnownPhasesOnly) {
  EXPECT_EQ(ParseGuestPhase("cloud-init"), v1::GUEST_PHASE_CLOUD_INIT);
  EXPECT_EQ(ParseGuestPhase("kubeadm"), v1::GUEST_PHASE_KUBEADM);
  EXPECT_EQ(ParseGuestPhase("addons"), v1::GUEST_PHASE_ADDONS);
  EXPECT_EQ(ParseGuestPhase("ready"), v1::GUEST_PHASE_READY);
  EXPECT_EQ(ParseGuestPhase("failed"), v1::GUEST_PHASE_FAILED);
  EXPECT_EQ(ParseGuestPhase("READY"), v1::GUEST_PHASE_UNSPECIFIED);
  EXPECT_EQ(ParseGuestPhase("GUEST_PHASE_READY"), v1::GUEST_PHASE_UNSPECIFIED);
}

TEST(SanitizeGuestMessageTest, CutsAt1024BytesWithoutSplittingACharacter) {
  std::string raw(1023, 'a');
  raw += "\xc3\xa9";  // é: 2 bytes, would end at 1025
  std::string out = SanitizeGuestMessage(raw);
  EXPECT_EQ(out, std::string(1023, 'a'));
  EXPECT_THAT(SanitizeGuestMessage(std::string(100000, 'x')), SizeIs(1024));
}

TEST(SanitizeGuestMessageTest, DropsControlsAndBidiOverridesAndReplacesInvalidUtf8) {
  EXPECT_EQ(SanitizeGuestMessage("a\x1b[31mred\x07"), "a[31mred");
  EXPECT_EQ(SanitizeGuestMessage("line1\nline2\ttab"), "line1 line2 tab");
  EXPECT_EQ(SanitizeGuestMessage("evil\xe2\x80\xaegnp.exe"), "evilgnp.exe");  // U+202E
  EXPECT_EQ(SanitizeGuestMessage("x\xff"
                                 "y"),
            "x\xef\xbf\xbdy");
  EXPECT_EQ(SanitizeGuestMessage("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
  EXPECT_EQ(SanitizeGuestMessage("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(SanitizeGuestMessage("k8s \xe2\x9c\x93 ok"), "k8s \xe2\x9c\x93 ok");
  EXPECT_EQ(SanitizeGuestMessage(std::string("a\0b", 3)), "ab");
}

TEST(ParseGuestStatusLineTest, AcceptsKnownPhaseAndStampsTheAgentsClock) {
  absl::Time now = absl::FromUnixSeconds(1700000000);
  absl::StatusOr<v1::GuestProgress> p =
      ParseGuestStatusLine(R"({"phase":"kubeadm","message":"join\u001b[2J","extra":1})", now);
  ASSERT_OK(p);
  EXPECT_EQ(p->phase(), v1::GUEST_PHASE_KUBEADM);
  EXPECT_EQ(p->message(), "join[2J");
  EXPECT_EQ(google::protobuf::util::TimeUtil::TimestampToSeconds(p->receive_time()), 1700000000);
}

TEST(ParseGuestStatusLineTest, RefusesWhatIsNotAKnownReport) {
  absl::Time now = absl::Now();
  EXPECT_THAT(ParseGuestStatusLine("not json", now),
              StatusIs(absl::StatusCode::kInvalidArgument, "not a JSON object"));
  EXPECT_THAT(ParseGuestStatusLine(R"(["ready"])", now),
              StatusIs(absl::StatusCode::kInvalidArgument, "not a JSON object"));
  EXPECT_THAT(ParseGuestStatusLine(R"({"phase":"root-shell"})", now),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown phase"));
  EXPECT_THAT(ParseGuestStatusLine(R"({"phase":4})", now),
              StatusIs(absl::StatusCode::kInvalidArgument, "no \"phase\""));
  EXPECT_THAT(ParseGuestStatusLine(std::string(200, '[') + std::string(200, ']'), now),
              StatusIs(absl::StatusCode::kInvalidArgument, "not a JSON object"));
}

// Stands in for QEMU: binds the channel's unix socket and accepts the relay.
class FakeChannel {
 public:
  explicit FakeChannel(const std::string& path) : path_(path) {
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
        << strerror(errno);
    EXPECT_EQ(listen(listen_fd_, 1), 0);
  }
  ~FakeChannel() {
    if (conn_fd_ >= 0) close(conn_fd_);
    close(listen_fd_);
    unlink(path_.c_str());
  }
  // Blocks until the relay connects.
  void Accept() {
    conn_fd_ = accept(listen_fd_, nullptr, nullptr);
    ASSERT_GE(conn_fd_, 0) << strerror(errno);
  }
  void Write(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = write(conn_fd_, data.data() + off, data.size() - off);
      ASSERT_GT(n, 0) << strerror(errno);
      off += static_cast<size_t>(n);
    }
  }

 private:
  std::string path_;
  int listen_fd_ = -1;
  int conn_fd_ = -1;
};

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GuestStatusRelay::Options options;
    options.clock = [] { return absl::FromUnixSeconds(1800000000); };
    options.reconnect_interval = absl::Milliseconds(10);
    options.on_change = [this](const std::string& id, const v1::GuestProgress& p) {
      absl::MutexLock lock(&mu_);
      changes_.emplace_back(id, p);
    };
    absl::StatusOr<std::unique_ptr<GuestStatusRelay>> relay = GuestStatusRelay::Create(options);
    ASSERT_OK(relay);
    relay_ = *std::move(relay);
  }

  // Waits (up to 10 s) until `n` changes arrived.
  bool WaitForChanges(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return changes_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }
  std::vector<std::pair<std::string, v1::GuestProgress>> Changes() {
    absl::MutexLock lock(&mu_);
    return changes_;
  }

  using Change = std::pair<std::string, v1::GuestProgress>;
  testing::TestDir dir_;
  absl::Mutex mu_;
  std::vector<Change> changes_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<GuestStatusRelay> relay_;
};

TEST_F(RelayTest, RelaysReportsWithHostileInputDropped) {
  const std::string path = dir_.path() + "/status.sock";
  FakeChannel channel(path);
  relay_->SetTargets({{"m1", path}});
  channel.Accept();
  channel.Write("{\"phase\":\"cloud-init\",\"message\":\"booted\"}\n");
  ASSERT_TRUE(WaitForChanges(1));

  // A 1 MB line without newline, garbage, an unknown phase, a duplicate:
  // none of them is passed on; the report after them is.
  channel.Write(std::string(1 << 20, 'A'));
  channel.Write("{\"phase\":\"ready\",\"message\":\"in the long line\"}\n");
  channel.Write("\xff\xfe garbage\n{\"phase\":\"pwned\"}\n");
  channel.Write("{\"phase\":\"cloud-init\",\"message\":\"booted\"}\r\n");
  channel.Write(std::string("{\"phase\":\"kubeadm\",\"message\":\"") + std::string(5000, 'k') +
                "\"}\n");
  channel.Write("{\"phase\":\"kubeadm\",\"mess");
  channel.Write("age\":\"joining \\u202e\\u0007\"}\n");
  ASSERT_TRUE(WaitForChanges(2));
  std::vector<Change> changes = Changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].first, "m1");
  EXPECT_EQ(changes[0].second.phase(), v1::GUEST_PHASE_CLOUD_INIT);
  EXPECT_EQ(changes[0].second.message(), "booted");
  EXPECT_EQ(changes[1].second.phase(), v1::GUEST_PHASE_KUBEADM);
  EXPECT_EQ(changes[1].second.message(), "joining ");
  EXPECT_EQ(google::protobuf::util::TimeUtil::TimestampToSeconds(changes[1].second.receive_time()),
            1800000000);
  std::optional<v1::GuestProgress> latest = relay_->Latest("m1");
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->phase(), v1::GUEST_PHASE_KUBEADM);
}

TEST_F(RelayTest, ReconnectsWhenTheVmRestarts) {
  const std::string path = dir_.path() + "/status.sock";
  {
    FakeChannel channel(path);
    relay_->SetTargets({{"m1", path}});
    channel.Accept();
    channel.Write("{\"phase\":\"cloud-init\"}\n");
    ASSERT_TRUE(WaitForChanges(1));
  }  // QEMU exits: socket closed and removed
  FakeChannel restarted(path);
  restarted.Accept();  // the relay comes back on its own
  restarted.Write("{\"phase\":\"failed\",\"message\":\"after restart\"}\n");
  ASSERT_TRUE(WaitForChanges(2));
  EXPECT_EQ(Changes()[1].second.phase(), v1::GUEST_PHASE_FAILED);
  EXPECT_EQ(Changes()[1].second.message(), "after restart");
}

TEST_F(RelayTest, ConnectsToAVmThatStartsLaterAndForgetsRemovedTargets) {
  const std::string a = dir_.path() + "/a.sock";
  const std::string b = dir_.path() + "/b.sock";
  relay_->SetTargets({{"a", a}, {"b", b}});  // neither socket exists yet
  FakeChannel ca(a);
  FakeChannel cb(b);
  ca.Accept();
  cb.Accept();
  ca.Write("{\"phase\":\"ready\"}\n");
  cb.Write("{\"phase\":\"addons\"}\n");
  ASSERT_TRUE(WaitForChanges(2));
  EXPECT_EQ(relay_->Latest("a")->phase(), v1::GUEST_PHASE_READY);
  EXPECT_EQ(relay_->Latest("b")->phase(), v1::GUEST_PHASE_ADDONS);
  relay_->SetTargets({{"a", a}});
  EXPECT_FALSE(relay_->Latest("b").has_value());
  EXPECT_TRUE(relay_->Latest("a").has_value());
}

}  // namespace
}  // namespace mandant::agent
