#include "agents/edge/config_checks.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"
#include "tests/unit/agents/edge/edge_specs.h"

namespace mandant::agent {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;
using ::testing::HasSubstr;

TEST(CheckConfigPathTest, AcceptsPlainAbsolutePaths) {
  for (const char* path : {"/var/lib/mandant-agent/edges/mandant-ex0003e9/haproxy.sock", "/run/x",
                           "/a/b.c_d-e+f,g@h", "/"}) {
    EXPECT_THAT(CheckConfigPath(path, "stats_socket"), IsOk()) << path;
  }
}

TEST(CheckConfigPathTest, RefusesWhatAParserCouldMisread) {
  for (const std::string& path :
       {std::string(""), std::string("relative/path"), std::string("/a b"), std::string("/a\nb"),
        std::string("/a\"b"), std::string("/a#b"), std::string("/a;b"), std::string("/a/../etc"),
        std::string("/a/./b"), std::string("/a$b"), std::string("/a\\b"), std::string("/a\0b", 4),
        "/" + std::string(1024, 'a')}) {
    EXPECT_THAT(CheckConfigPath(path, "pid_file"),
                StatusIs(absl::StatusCode::kInvalidArgument, "pid_file must be an absolute path"))
        << path;
  }
}

TEST(CheckRenderableEdgeSpecTest, NamesEveryViolation) {
  EXPECT_THAT(CheckRenderableEdgeSpec(testing::SingleEdge(), "x"), IsOk());
  EXPECT_THAT(CheckRenderableEdgeSpec(testing::RedundantEdge(), "x"), IsOk());
  v1::EdgeSpec spec = testing::SingleEdge();
  spec.set_mtu(1);
  spec.mutable_endpoints(0)->set_port(0);
  absl::Status status = CheckRenderableEdgeSpec(spec, "the haproxy configuration");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               "refusing to render the haproxy configuration for an invalid "
                               "EdgeSpec: "));
  EXPECT_THAT(status.message(), HasSubstr("mtu: must be 576-9000, got 1"));
  EXPECT_THAT(status.message(), HasSubstr("endpoints[0].port: must be 1-65535, got 0"));
}

}  // namespace
}  // namespace mandant::agent
