#include "agents/edge/keepalived_config.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"
#include "tests/unit/agents/edge/edge_specs.h"
#include "tests/unit/agents/edge/golden.h"

namespace mandant::agent {
namespace {

using ::mandant::agent::testing::ExpectMatchesGolden;
using ::mandant::agent::testing::RedundantEdge;
using ::mandant::agent::testing::SingleEdge;
using ::mandant::testing::IsOkAndHolds;
using ::mandant::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

KeepalivedConfigOptions Options() {
  KeepalivedConfigOptions options;
  options.notify_script = "/usr/lib/mandant-agent/keepalived-notify";
  options.state_file = "/var/lib/mandant-agent/edges/mandant-ev002a/vrrp.state";
  return options;
}

TEST(RenderKeepalivedConfigTest, RedundantEdgeGolden) {
  absl::StatusOr<std::string> config = RenderKeepalivedConfig(RedundantEdge(), Options());
  ASSERT_TRUE(config.ok()) << config.status();
  ExpectMatchesGolden(*config, "redundant_keepalived.conf.golden");
}

TEST(RenderKeepalivedConfigTest, SingleEdgeHasNone) {
  EXPECT_THAT(RenderKeepalivedConfig(SingleEdge(), Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition, "runs no keepalived"));
}

TEST(RenderKeepalivedConfigTest, PreemptsAndTracksTheOutsideLink) {
  absl::StatusOr<std::string> config = RenderKeepalivedConfig(RedundantEdge(), Options());
  ASSERT_TRUE(config.ok());
  EXPECT_THAT(*config, Not(HasSubstr("nopreempt")));
  EXPECT_THAT(*config, HasSubstr("    track_interface {\n        outside\n    }\n"));
}

TEST(RenderKeepalivedConfigTest, RefusesAnInvalidSpecAndBadOptions) {
  v1::EdgeSpec spec = RedundantEdge();
  spec.mutable_vrrp()->set_priority(255);
  EXPECT_THAT(RenderKeepalivedConfig(spec, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument, "vrrp.priority"));
  KeepalivedConfigOptions options = Options();
  options.notify_script = "/bin/sh -c reboot";
  EXPECT_THAT(RenderKeepalivedConfig(RedundantEdge(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, "notify_script"));
  options = Options();
  options.state_file = "/run/state\"";
  EXPECT_THAT(RenderKeepalivedConfig(RedundantEdge(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, "state_file"));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The notify script with the arguments keepalived gives it.
TEST(KeepalivedNotifyScriptTest, WritesTheStateAtomically) {
  char dir_template[] = "/tmp/mandant-notify-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string script = dir + "/notify";
  const std::string state = dir + "/vrrp.state";
  {
    std::ofstream out(script);
    out << KeepalivedNotifyScript();
  }
  for (const char* s : {"BACKUP", "MASTER", "FAULT"}) {
    const std::string command =
        "/bin/sh " + script + " " + state + " INSTANCE " + kVrrpInstanceName + " " + s + " 150";
    const int rc = std::system(command.c_str());
    ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << command;
    EXPECT_EQ(ReadFile(state), std::string(s) + "\n");
  }
  EXPECT_FALSE(std::ifstream(state + ".tmp").good());
  const int rc = std::system(("/bin/sh " + script + " " + state + " 2>/dev/null").c_str());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
  EXPECT_EQ(ReadFile(state), "FAULT\n");
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace mandant::agent
