#include "tests/support/skip_exit_code.h"

#include "gtest/gtest.h"

namespace mandant::testing {

int RunAllTestsReportingSkips() {
  const int result = RUN_ALL_TESTS();
  const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
  // RUN_ALL_TESTS() is also non-zero when a test suite's or environment's
  // SetUp/TearDown failed outside any test; keep that a failure.
  if (result != 0 || unit.failed_test_count() > 0) return 1;
  if (unit.skipped_test_count() > 0) return kSkipExitCode;
  return 0;
}

}  // namespace mandant::testing
