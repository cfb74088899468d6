#include "controller/agents/work_queue.h"

#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mandant::controller {
namespace {

using ::testing::ElementsAreArray;

TEST(WorkQueue, OneThreadRunsTasksInTheOrderTheyWerePosted) {
  absl::Mutex mu;
  std::vector<int> order;
  {
    WorkQueue queue(1);
    for (int i = 0; i < 200; ++i) {
      queue.Post([&, i] {
        absl::MutexLock lock(&mu);
        order.push_back(i);
      });
    }
  }
  std::vector<int> expected(200);
  for (int i = 0; i < 200; ++i) expected[i] = i;
  absl::MutexLock lock(&mu);
  EXPECT_THAT(order, ElementsAreArray(expected));
}

// What the agents' streams do: many threads post at once (gRPC's callback
// threads), several workers run the tasks, and each task touches state the
// others touch too. Every task runs exactly once, and the destructor runs
// what is still queued before it joins. The tsan variant runs this test.
TEST(WorkQueue, ManyPostersManyWorkersEveryTaskRunsOnce) {
  constexpr int kPosters = 8;
  constexpr int kTasksEach = 500;
  absl::Mutex mu;
  std::vector<int> runs(kPosters * kTasksEach, 0);
  int64_t sum = 0;
  auto queue = std::make_unique<WorkQueue>(4);
  std::vector<std::thread> posters;
  for (int p = 0; p < kPosters; ++p) {
    posters.emplace_back([&, p] {
      for (int i = 0; i < kTasksEach; ++i) {
        const int id = p * kTasksEach + i;
        queue->Post([&, id] {
          absl::MutexLock lock(&mu);
          ++runs[id];
          sum += id;
        });
      }
    });
  }
  for (auto& t : posters) t.join();
  queue.reset();
  absl::MutexLock lock(&mu);
  for (int id = 0; id < kPosters * kTasksEach; ++id) EXPECT_EQ(runs[id], 1) << "task " << id;
  const int64_t n = kPosters * kTasksEach;
  EXPECT_EQ(sum, n * (n - 1) / 2);
}

TEST(WorkQueue, PendingCountsQueuedAndRunningTasks) {
  WorkQueue queue(1);
  absl::Notification started, release;
  queue.Post([&] {
    started.Notify();
    release.WaitForNotification();
  });
  queue.Post([] {});
  started.WaitForNotification();
  EXPECT_EQ(queue.pending(), 2);
  release.Notify();
}

}  // namespace
}  // namespace mandant::controller
