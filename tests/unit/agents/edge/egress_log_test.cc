// EgressQueue's bounds, and EgressLog reading NFLOG group 1 in a real edge
// namespace: the namespace's own output chain logs UDP packets the test
// sends from a thread inside it.

#include "agents/edge/egress_log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agents/edge/edge_namespace.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/agents/edge/edge_test_names.h"
#include "tests/unit/agents/network/netns.h"

namespace mandant::agent {
namespace {

using ::mandant::testing::StatusIs;
using ::testing::SizeIs;

v1::EgressRecord Record(const std::string& netns, uint32_t port) {
  v1::EgressRecord r;
  r.set_namespace_(netns);
  r.set_destination_port(port);
  return r;
}

TEST(EgressQueueTest, IsBoundedAndCountsWhatItDropsPerNamespace) {
  EgressQueue queue(3);
  EXPECT_TRUE(queue.Push(Record("mandant-ea", 1)));
  EXPECT_TRUE(queue.Push(Record("mandant-ea", 2)));
  EXPECT_TRUE(queue.Push(Record("mandant-eb", 3)));
  EXPECT_FALSE(queue.Push(Record("mandant-ea", 4)));
  EXPECT_FALSE(queue.Push(Record("mandant-eb", 5)));
  EXPECT_FALSE(queue.Push(Record("mandant-eb", 6)));
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue.Dropped("mandant-ea"), 1u);
  EXPECT_EQ(queue.Dropped("mandant-eb"), 2u);
  EXPECT_EQ(queue.Dropped("mandant-ec"), 0u);

  // Oldest first; taking makes room again.
  std::vector<v1::EgressRecord> batch = queue.TakeBatch(2);
  ASSERT_THAT(batch, SizeIs(2));
  EXPECT_EQ(batch[0].destination_port(), 1u);
  EXPECT_EQ(batch[1].destination_port(), 2u);
  EXPECT_TRUE(queue.Push(Record("mandant-ea", 7)));
  batch = queue.TakeBatch();
  ASSERT_THAT(batch, SizeIs(2));
  EXPECT_EQ(batch[0].destination_port(), 3u);
  EXPECT_EQ(batch[1].destination_port(), 7u);
  EXPECT_THAT(queue.TakeBatch(), SizeIs(0));

  queue.ForgetDropped("mandant-eb");
  EXPECT_EQ(queue.Dropped("mandant-eb"), 0u);
}

TEST(EgressQueueTest, BatchesHoldAtMostAThousand) {
  EgressQueue queue(2500);
  for (int i = 0; i < 2500; ++i) ASSERT_TRUE(queue.Push(Record("mandant-ea", i)));
  EXPECT_THAT(queue.TakeBatch(5000), SizeIs(kMaxEgressBatch));
  EXPECT_EQ(queue.size(), 1500u);
}

class EgressLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_UNLESS_PRIVATE_NETNS();
    netns_ = testing::TestEdgeNamespace(testing::RandomSuffix());
    absl::StatusOr<std::unique_ptr<EdgeNetworking>> net = KernelEdgeNetworking::Create();
    ASSERT_OK(net);
    net_ = std::move(*net);
    ASSERT_OK(net_->EnsureNamespace(netns_));
    // What the edge ruleset does for new outbound connections, here on the
    // namespace's own output so that a local socket can trigger it.
    ASSERT_OK(net_->LoadRuleset(netns_,
                                "table inet mandant_edge {\n"
                                "  chain output {\n"
                                "    type filter hook output priority 0; policy accept;\n"
                                "    udp dport 5353 log group 1 prefix \"allow\"\n"
                                "    udp dport 9 log group 1 prefix \"deny\"\n"
                                "  }\n"
                                "}\n",
                                RulesetFormat::kText));
  }
  void TearDown() override {
    if (log_ != nullptr) log_->Unwatch(netns_);
    log_.reset();
    if (net_ != nullptr) {
      EXPECT_OK(net_->DeleteNamespace(netns_));
    }
  }
  void MakeLog(size_t capacity) {
    EgressLog::Options options;
    options.queue_capacity = capacity;
    options.clock = [] { return absl::FromUnixSeconds(1700000000) + absl::Milliseconds(250); };
    absl::StatusOr<std::unique_ptr<EgressLog>> log = EgressLog::Create(options);
    ASSERT_OK(log);
    log_ = std::move(*log);
    ASSERT_OK(log_->Watch(netns_));
    ASSERT_OK(log_->Watch(netns_));  // idempotent
  }
  // Sends `count` UDP datagrams to 127.0.0.1:`port` from inside the edge.
  void Send(int port, int count) {
    ASSERT_OK(RunInNetworkNamespace(netns_, [&]() -> absl::Status {
      const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return absl::InternalError("socket");
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(static_cast<uint16_t>(port));
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      for (int i = 0; i < count; ++i) {
        (void)sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
      }
      close(fd);
      return absl::OkStatus();
    }));
  }
  template <typename Pred>
  bool WaitFor(Pred pred) {
    for (int i = 0; i < 250; ++i) {
      if (pred()) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return pred();
  }

  std::string netns_;
  std::unique_ptr<EdgeNetworking> net_;
  std::unique_ptr<EgressLog> log_;
};

TEST_F(EgressLogTest, TurnsLoggedPacketsIntoRecords) {
  MakeLog(100);
  Send(5353, 1);
  Send(9, 1);
  Send(7, 1);  // not logged
  std::vector<v1::EgressRecord> records;
  ASSERT_TRUE(WaitFor([&] {
    const v1::EgressEventBatch batch = log_->TakeBatch();
    records.insert(records.end(), batch.events().begin(), batch.events().end());
    return records.size() >= 2;
  }));
  ASSERT_THAT(records, SizeIs(2));
  EXPECT_EQ(records[0].namespace_(), netns_);
  EXPECT_EQ(records[0].source_address(), "127.0.0.1");
  EXPECT_EQ(records[0].destination_address(), "127.0.0.1");
  EXPECT_EQ(records[0].destination_port(), 5353u);
  EXPECT_EQ(records[0].protocol_number(), 17u);
  EXPECT_EQ(records[0].action(), v1::EGRESS_ACTION_ALLOW);
  EXPECT_EQ(records[0].time().seconds(), 1700000000);
  EXPECT_EQ(records[0].time().nanos(), 250000000);
  EXPECT_EQ(records[1].destination_port(), 9u);
  EXPECT_EQ(records[1].action(), v1::EGRESS_ACTION_DENY);
  EXPECT_THAT(log_->Watched(), ::testing::ElementsAre(netns_));

  // Unwatched: nothing more is read.
  log_->Unwatch(netns_);
  EXPECT_THAT(log_->Watched(), SizeIs(0));
  Send(5353, 1);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(log_->queue().size(), 0u);
}

TEST_F(EgressLogTest, AFullQueueDropsAndCounts) {
  MakeLog(2);
  Send(5353, 5);
  EXPECT_TRUE(WaitFor([&] { return log_->Dropped(netns_) == 3; }));
  EXPECT_EQ(log_->queue().size(), 2u);
  const v1::EgressEventBatch batch = log_->TakeBatch();
  EXPECT_EQ(batch.events_size(), 2);
}

TEST_F(EgressLogTest, WatchNeedsTheNamespace) {
  MakeLog(10);
  EXPECT_THAT(log_->Watch("mandant-enosuchnamespace"), StatusIs(absl::StatusCode::kNotFound, ""));
}

}  // namespace
}  // namespace mandant::agent
