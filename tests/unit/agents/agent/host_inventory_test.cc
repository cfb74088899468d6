#include "agents/agent/host_inventory.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"
#include "tests/unit/agents/vm/test_dir.h"

namespace mandant::agent {
namespace {

using ::mandant::testing::StatusIs;

struct Machine {
  int64_t vcpus = 0;
  int64_t memory_mib = 0;
  int64_t disk_gib = 0;
};

// The same facts read independently of the code under test.
Machine ReadMachine(const std::string& dir) {
  Machine m;
  m.vcpus = sysconf(_SC_NPROCESSORS_ONLN);
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "MemTotal:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, " kB");
    int64_t kib = 0;
    EXPECT_TRUE(absl::SimpleAtoi(rest, &kib)) << line;
    m.memory_mib = kib / 1024;
  }
  struct statvfs fs;
  EXPECT_EQ(statvfs(dir.c_str(), &fs), 0);
  m.disk_gib = static_cast<int64_t>(fs.f_blocks) * static_cast<int64_t>(fs.f_frsize) >> 30;
  return m;
}

TEST(HostCapacityTest, WithoutReserveIsTheWholeMachine) {
  agent::testing::TestDir dir;
  const Machine m = ReadMachine(dir.path());
  absl::StatusOr<v1::Resources> r = HostCapacity(dir.path(), HostReserve{0, 0, 0});
  ASSERT_OK(r);
  EXPECT_EQ(r->vcpus(), m.vcpus);
  EXPECT_EQ(r->memory_mib(), m.memory_mib);
  EXPECT_EQ(r->disk_gib(), m.disk_gib);
  EXPECT_GT(r->vcpus(), 0);
  EXPECT_GT(r->memory_mib(), 0);
}

TEST(HostCapacityTest, SubtractsTheReserve) {
  agent::testing::TestDir dir;
  const Machine m = ReadMachine(dir.path());
  ASSERT_GE(m.memory_mib, 2);
  const HostReserve reserve{1, m.memory_mib / 2, m.disk_gib / 2};
  absl::StatusOr<v1::Resources> r = HostCapacity(dir.path(), reserve);
  ASSERT_OK(r);
  EXPECT_EQ(r->vcpus(), m.vcpus - 1);
  EXPECT_EQ(r->memory_mib(), m.memory_mib - m.memory_mib / 2);
  EXPECT_EQ(r->disk_gib(), m.disk_gib - m.disk_gib / 2);
}

TEST(HostCapacityTest, ReserveLargerThanTheMachineGivesZeroNotNegative) {
  agent::testing::TestDir dir;
  const Machine m = ReadMachine(dir.path());
  absl::StatusOr<v1::Resources> r = HostCapacity(
      dir.path(), HostReserve{static_cast<int>(m.vcpus) + 4, m.memory_mib + 1, m.disk_gib + 1});
  ASSERT_OK(r);
  EXPECT_EQ(r->vcpus(), 0);
  EXPECT_EQ(r->memory_mib(), 0);
  EXPECT_EQ(r->disk_gib(), 0);
}

TEST(HostCapacityTest, UnreadableStateDirIsInternal) {
  agent::testing::TestDir dir;
  EXPECT_THAT(HostCapacity(dir.path() + "/missing", HostReserve{}),
              StatusIs(absl::StatusCode::kInternal, "/missing"));
}

}  // namespace
}  // namespace mandant::agent
