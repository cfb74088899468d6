#include "bench/load_runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "absl/synchronization/barrier.h"

namespace mandant::bench {
namespace {

using Clock = std::chrono::steady_clock;

double NanosToMicros(int64_t ns) { return static_cast<double>(ns) / 1000.0; }

struct ThreadTally {
  std::vector<int64_t> nanos;
  int64_t errors = 0;
  std::string first_error;
};

}  // namespace

LatencySummary Summarize(std::vector<int64_t>& nanos) {
  LatencySummary s;
  s.count = static_cast<int64_t>(nanos.size());
  if (nanos.empty()) return s;
  auto rank = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(nanos.size()));
    if (i >= nanos.size()) i = nanos.size() - 1;
    std::nth_element(nanos.begin(), nanos.begin() + i, nanos.end());
    return NanosToMicros(nanos[i]);
  };
  s.p50_us = rank(0.50);
  s.p90_us = rank(0.90);
  s.p99_us = rank(0.99);
  s.max_us = NanosToMicros(*std::max_element(nanos.begin(), nanos.end()));
  long double sum = 0;
  for (int64_t n : nanos) sum += n;
  s.mean_us = static_cast<double>(sum / nanos.size() / 1000.0);
  return s;
}

absl::StatusOr<PhaseResult> RunPhase(const WorkerFactory& factory, const PhaseOptions& options) {
  const int c = std::max(1, options.concurrency);
  std::vector<std::unique_ptr<Worker>> workers;
  workers.reserve(c);
  for (int i = 0; i < c; ++i) {
    auto w = factory(i);
    if (!w.ok()) return w.status();
    workers.push_back(*std::move(w));
  }

  std::vector<ThreadTally> tallies(c);
  const auto warmup = absl::ToChronoNanoseconds(options.warmup);
  const auto duration = absl::ToChronoNanoseconds(options.duration);
  // Every thread starts after the same barrier and reads the same clock
  // marks, so the measured window is the same for all of them.
  absl::Barrier* start = new absl::Barrier(c + 1);
  std::atomic<int64_t> t0_ns{0};
  std::vector<std::thread> threads;
  threads.reserve(c);
  for (int i = 0; i < c; ++i) {
    threads.emplace_back([&, i] {
      if (start->Block()) delete start;
      const Clock::time_point t0(Clock::duration(t0_ns.load()));
      const Clock::time_point measure_from = t0 + warmup;
      const Clock::time_point stop = measure_from + duration;
      ThreadTally& tally = tallies[i];
      tally.nanos.reserve(1 << 14);
      Worker& worker = *workers[i];
      for (;;) {
        const Clock::time_point begin = Clock::now();
        if (begin >= stop) break;
        if (options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed)) break;
        absl::Status st = worker.Once();
        const Clock::time_point end = Clock::now();
        if (begin < measure_from) continue;
        if (st.ok()) {
          tally.nanos.push_back(
              std::chrono::duration_cast<std::chrono::nanoseconds>(end - begin).count());
        } else {
          if (tally.errors++ == 0) tally.first_error = st.ToString();
        }
      }
    });
  }
  const Clock::time_point t0 = Clock::now();
  t0_ns.store(t0.time_since_epoch().count());
  if (start->Block()) delete start;
  auto cancelled = [&] { return options.cancel != nullptr && options.cancel->load(); };
  auto sleep_until = [&](Clock::time_point when) {
    while (Clock::now() < when && !cancelled()) {
      std::this_thread::sleep_for(
          std::min<Clock::duration>(when - Clock::now(), std::chrono::milliseconds(50)));
    }
  };
  sleep_until(t0 + warmup);
  const Clock::time_point window_start = Clock::now();
  if (options.at_window_start) options.at_window_start();
  sleep_until(t0 + warmup + duration);
  for (auto& t : threads) t.join();
  const Clock::time_point window_end = Clock::now();
  if (options.at_window_end) options.at_window_end();

  PhaseResult r;
  // Requests started before the window closed are counted, so the window
  // ends when the last of them has returned.
  r.seconds = std::chrono::duration<double>(window_end - window_start).count();
  std::vector<int64_t> all;
  for (ThreadTally& t : tallies) {
    r.errors += t.errors;
    if (r.first_error.empty()) r.first_error = t.first_error;
    all.insert(all.end(), t.nanos.begin(), t.nanos.end());
  }
  r.ok = static_cast<int64_t>(all.size());
  r.requests_per_second = r.seconds > 0 ? static_cast<double>(r.ok) / r.seconds : 0;
  r.latency = Summarize(all);
  return r;
}

}  // namespace mandant::bench
