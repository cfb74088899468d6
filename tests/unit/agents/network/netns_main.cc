// main() of the tests that drive the real kernel: the process enters a
// private network namespace before gtest starts (and before any thread
// exists, since a namespace switch applies to the calling thread and what it
// creates afterwards).

#include "gtest/gtest.h"

#include "tests/support/skip_exit_code.h"
#include "tests/unit/agents/network/netns.h"

int main(int argc, char** argv) {
  mandant::agent::testing::EnterPrivateNetns();
  ::testing::InitGoogleTest(&argc, argv);
  // Exit status 77 (CTest: "Skipped") when the tests skipped themselves.
  return mandant::testing::RunAllTestsReportingSkips();
}
