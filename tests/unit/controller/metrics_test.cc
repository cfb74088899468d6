#include "controller/metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mandant::controller {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, RendersCountersHistogramsAndGauges) {
  Metrics m;
  m.Describe("rpc_total", "Calls.");
  m.Increment("rpc_total", {{"method", "GetTenant"}, {"code", "OK"}});
  m.Increment("rpc_total", {{"method", "GetTenant"}, {"code", "OK"}});
  m.Increment("rpc_total", {{"method", "GetTenant"}, {"code", "NOT_FOUND"}});
  m.Observe("rpc_seconds", {{"method", "GetTenant"}}, absl::Milliseconds(3));
  m.Observe("rpc_seconds", {{"method", "GetTenant"}}, absl::Seconds(20));
  m.AddGauge("pool_size", "Connections.", [] { return 4.0; });
  const std::string text = m.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("# HELP rpc_total Calls.\n# TYPE rpc_total counter\n"));
  EXPECT_THAT(text, HasSubstr("rpc_total{method=\"GetTenant\",code=\"OK\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("rpc_total{method=\"GetTenant\",code=\"NOT_FOUND\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("rpc_seconds_bucket{method=\"GetTenant\",le=\"0.0025\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("rpc_seconds_bucket{method=\"GetTenant\",le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("rpc_seconds_bucket{method=\"GetTenant\",le=\"10\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("rpc_seconds_bucket{method=\"GetTenant\",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("rpc_seconds_count{method=\"GetTenant\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE pool_size gauge\npool_size 4\n"));
}

TEST(MetricsTest, EscapesLabelValues) {
  Metrics m;
  m.Increment("c", {{"object", "a\"b\\c\nd"}});
  EXPECT_THAT(m.RenderPrometheus(), HasSubstr("c{object=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

}  // namespace
}  // namespace mandant::controller
