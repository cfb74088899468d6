#ifndef MANDANT_TESTS_UNIT_AGENTS_NETWORK_NETNS_H_
#define MANDANT_TESTS_UNIT_AGENTS_NETWORK_NETNS_H_

// Private network namespaces for tests that drive the real kernel. The test
// binary's main() (netns_main.cc) moves the whole process into a fresh
// network namespace before any test runs, so nothing a test creates can
// reach the host's links or nftables, and everything vanishes when the
// process exits. Tests call SKIP_UNLESS_PRIVATE_NETNS() first: without root
// (or where unshare is not allowed) they are skipped, not failed.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace mandant::agent::testing {

// Whether main() managed to enter a private network namespace; when not,
// why (for the skip message).
bool InPrivateNetns();
const std::string& NetnsSkipReason();

// Called by main() before anything else; records the outcome.
void EnterPrivateNetns();

// Runs a command (argv) in the test's namespace; INTERNAL with its output
// when it exits non-zero.
absl::StatusOr<std::string> Shell(const std::vector<std::string>& argv);
// "ip ..." split on spaces, for brevity.
absl::StatusOr<std::string> Ip(const std::string& args);

// A child process in a network namespace of its own, nested in the test's:
// a stand-in for a guest on a tenant bridge. Killed by the destructor (and by
// the kernel if the test process dies), which frees its namespace.
class GuestNamespace {
 public:
  // Starts the child. Returns nullopt-like error on fork/unshare failure.
  static absl::StatusOr<std::unique_ptr<GuestNamespace>> Start();
  ~GuestNamespace();

  pid_t pid() const { return pid_; }
  // Runs argv inside the guest's namespace (nsenter -t pid -n).
  absl::StatusOr<std::string> Exec(const std::vector<std::string>& argv) const;

 private:
  explicit GuestNamespace(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

}  // namespace mandant::agent::testing

#define SKIP_UNLESS_PRIVATE_NETNS()                                 \
  do {                                                              \
    if (!::mandant::agent::testing::InPrivateNetns()) {             \
      GTEST_SKIP() << ::mandant::agent::testing::NetnsSkipReason(); \
    }                                                               \
  } while (0)

#endif  // MANDANT_TESTS_UNIT_AGENTS_NETWORK_NETNS_H_
