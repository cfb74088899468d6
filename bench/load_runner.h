#ifndef MANDANT_BENCH_LOAD_RUNNER_H_
#define MANDANT_BENCH_LOAD_RUNNER_H_

// Closed-loop load: C threads, each with its own Worker, issue requests back
// to back for a fixed time; every completed request's latency is kept, so
// percentiles are exact, not bucketed.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mandant::bench {

// One thread's client of a system under test. Used by one thread only.
class Worker {
 public:
  virtual ~Worker() = default;
  // Issues one request and waits for its answer.
  virtual absl::Status Once() = 0;
};

// Makes the worker of thread `index` (0..C-1); called before the clock starts,
// so connecting and preparing are not measured.
using WorkerFactory = std::function<absl::StatusOr<std::unique_ptr<Worker>>(int index)>;

struct PhaseOptions {
  int concurrency = 1;
  // Requests during the warmup run but are not counted.
  absl::Duration warmup = absl::Milliseconds(300);
  absl::Duration duration = absl::Seconds(5);
  // Called on the coordinating thread when the measured window opens and
  // closes (for example to read CPU counters); may be empty.
  std::function<void()> at_window_start;
  std::function<void()> at_window_end;
  // When set and true, threads stop issuing requests; the result covers what
  // was done.
  const std::atomic<bool>* cancel = nullptr;
};

struct LatencySummary {
  int64_t count = 0;
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double max_us = 0;
  double mean_us = 0;
};

// Percentiles (nearest rank) of `nanos`, which is reordered.
LatencySummary Summarize(std::vector<int64_t>& nanos);

struct PhaseResult {
  int64_t ok = 0;      // requests that succeeded in the measured window
  int64_t errors = 0;  // requests that failed in the measured window
  std::string first_error;
  double seconds = 0;              // length of the measured window
  double requests_per_second = 0;  // successful requests only
  LatencySummary latency;          // successful requests only
};

// Runs one phase. Fails only when a worker cannot be made; request errors are
// counted in the result.
absl::StatusOr<PhaseResult> RunPhase(const WorkerFactory& factory, const PhaseOptions& options);

}  // namespace mandant::bench

#endif  // MANDANT_BENCH_LOAD_RUNNER_H_
