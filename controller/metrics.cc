#include "controller/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace mandant::controller {
namespace {

std::string RenderLabels(const Labels& labels, absl::string_view extra_key = "",
                         absl::string_view extra_value = "") {
  if (labels.empty() && extra_key.empty()) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](absl::string_view k, absl::string_view v) {
    if (!first) out += ",";
    first = false;
    absl::StrAppend(&out, k, "=\"",
                    absl::StrReplaceAll(v, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}}), "\"");
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (!extra_key.empty()) add(extra_key, extra_value);
  out += "}";
  return out;
}

// "# HELP" (when there is help text) and "# TYPE" lines of one metric.
void AppendHeader(const std::map<std::string, std::string>& help, const std::string& name,
                  absl::string_view type, std::string* out) {
  auto it = help.find(name);
  if (it != help.end()) absl::StrAppend(out, "# HELP ", name, " ", it->second, "\n");
  absl::StrAppend(out, "# TYPE ", name, " ", type, "\n");
}

}  // namespace

Metrics::Metrics()
    : bounds_{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10} {}

void Metrics::Increment(absl::string_view name, const Labels& labels) {
  absl::MutexLock lock(&mu_);
  ++counters_[std::string(name)][labels];
}

void Metrics::Observe(absl::string_view name, const Labels& labels, absl::Duration d) {
  const double s = absl::ToDoubleSeconds(d);
  absl::MutexLock lock(&mu_);
  Histogram& h = histograms_[std::string(name)][labels];
  if (h.buckets.empty()) h.buckets.assign(bounds_.size(), 0);
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (s <= bounds_[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += s;
}

void Metrics::AddGauge(std::string name, std::string help, std::function<double()> read) {
  absl::MutexLock lock(&mu_);
  gauges_[std::move(name)] = {std::move(help), std::move(read)};
}

void Metrics::Describe(std::string name, std::string help) {
  absl::MutexLock lock(&mu_);
  help_[std::move(name)] = std::move(help);
}

std::string Metrics::RenderPrometheus() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, series] : counters_) {
    AppendHeader(help_, name, "counter", &out);
    for (const auto& [labels, v] : series) {
      absl::StrAppend(&out, name, RenderLabels(labels), " ", v, "\n");
    }
  }
  for (const auto& [name, series] : histograms_) {
    AppendHeader(help_, name, "histogram", &out);
    for (const auto& [labels, h] : series) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < bounds_.size(); ++i) {
        cumulative += h.buckets[i];
        absl::StrAppend(&out, name, "_bucket", RenderLabels(labels, "le", absl::StrCat(bounds_[i])),
                        " ", cumulative, "\n");
      }
      absl::StrAppend(&out, name, "_bucket", RenderLabels(labels, "le", "+Inf"), " ", h.count,
                      "\n");
      absl::StrAppend(&out, name, "_sum", RenderLabels(labels), " ", h.sum, "\n");
      absl::StrAppend(&out, name, "_count", RenderLabels(labels), " ", h.count, "\n");
    }
  }
  for (const auto& [name, g] : gauges_) {
    absl::StrAppend(&out, "# HELP ", name, " ", g.first, "\n# TYPE ", name, " gauge\n", name, " ",
                    g.second(), "\n");
  }
  return out;
}

}  // namespace mandant::controller
