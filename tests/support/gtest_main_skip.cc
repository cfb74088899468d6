// main() for test binaries registered with SKIP_RETURN_CODE 77: like
// gtest_main, but exits 77 when a test was skipped (tests/support/skip_exit_code.h).

#include "gtest/gtest.h"

#include "tests/support/skip_exit_code.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return mandant::testing::RunAllTestsReportingSkips();
}
