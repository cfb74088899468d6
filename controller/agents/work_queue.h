#ifndef MANDANT_CONTROLLER_AGENTS_WORK_QUEUE_H_
#define MANDANT_CONTROLLER_AGENTS_WORK_QUEUE_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mandant::controller {

// A fixed pool of threads running posted tasks in order of posting. The
// agents' streams do their database work here rather than on gRPC's
// callback threads, which must not block. Thread-safe.
class WorkQueue {
 public:
  explicit WorkQueue(int threads);
  // Runs the tasks already posted, then joins the threads.
  ~WorkQueue();

  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Post(std::function<void()> task);
  // Tasks posted and not yet finished.
  int pending() const;

 private:
  void Run();

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_AGENTS_WORK_QUEUE_H_
