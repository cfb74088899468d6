#ifndef MANDANT_CONTROLLER_METRICS_H_
#define MANDANT_CONTROLLER_METRICS_H_

// A small Prometheus registry: labelled counters, gauges read at scrape time,
// and latency histograms, rendered in the text exposition format (version
// 0.0.4). Debian ships no Prometheus client library for C++, and the format
// is a few lines of text. Thread-safe.

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mandant::controller {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  Metrics();

  // Adds 1 to counter `name` with `labels`.
  void Increment(absl::string_view name, const Labels& labels);
  // Records a duration in histogram `name` (seconds).
  void Observe(absl::string_view name, const Labels& labels, absl::Duration d);
  // Registers a gauge whose value is read when scraped.
  void AddGauge(std::string name, std::string help, std::function<double()> read);
  // Help text for a counter or histogram, shown once per metric family.
  void Describe(std::string name, std::string help);

  std::string RenderPrometheus() const;

 private:
  struct Histogram {
    std::vector<uint64_t> buckets;  // cumulative at render time, per bucket here
    uint64_t count = 0;
    double sum = 0;
  };
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::map<Labels, uint64_t>> counters_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<Labels, Histogram>> histograms_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::pair<std::string, std::function<double()>>> gauges_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> help_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_METRICS_H_
