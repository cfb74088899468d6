#ifndef MANDANT_TESTS_SUPPORT_SKIP_EXIT_CODE_H_
#define MANDANT_TESTS_SUPPORT_SKIP_EXIT_CODE_H_

// Makes a test binary's exit status tell CTest that tests were skipped.
//
// gtest exits 0 when a test calls GTEST_SKIP, so CTest reports "Passed" for a
// binary whose tests never ran (no root, no libvirt-qemu user, ...). With
// RunAllTestsReportingSkips() as main's return value and the CTest property
// SKIP_RETURN_CODE 77 on the test, ctest shows "Skipped" instead.
//
// The exit status, in order of precedence:
//   1   any test failed (a failure is never hidden behind a skip);
//   77  otherwise, any test was skipped, even if others passed: a binary
//       counts as "Passed" only when everything in it ran, so a skipped
//       kernel or libvirt test is never hidden behind its pure neighbours;
//   0   every test that ran passed.
// A binary with a skipped test therefore shows "Skipped" in ctest even when
// most of its tests passed; run it with --gtest_brief=0 (or ctest -V) to see
// which test was skipped and why.

namespace mandant::testing {

// The exit status CTest is told to read as "skipped" (the automake
// convention).
inline constexpr int kSkipExitCode = 77;

// RUN_ALL_TESTS(), mapped to 0, 1 or kSkipExitCode as described above.
// Call after testing::InitGoogleTest.
int RunAllTestsReportingSkips();

}  // namespace mandant::testing

#endif  // MANDANT_TESTS_SUPPORT_SKIP_EXIT_CODE_H_
