#ifndef MANDANT_TESTS_UNIT_AGENTS_EDGE_EDGE_TEST_NAMES_H_
#define MANDANT_TESTS_UNIT_AGENTS_EDGE_EDGE_TEST_NAMES_H_

// Names for edge tests against the real kernel. Edge namespaces live in the
// host's /run/netns (only the test process's own links are private, see
// tests/unit/agents/network/netns.h), and must carry the edge prefix to be
// listed, so each test takes a random suffix after "mandant-et" ("t" for
// test; real edges use "x" or "v") and removes its namespace in TearDown.

#include <string>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace mandant::agent::testing {

// Six random hex digits.
inline std::string RandomSuffix() {
  static absl::BitGen* gen = new absl::BitGen();
  return absl::StrFormat("%06x", absl::Uniform<uint32_t>(*gen, 0, 1u << 24));
}

// "mandant-et" + suffix.
inline std::string TestEdgeNamespace(const std::string& suffix) { return "mandant-et" + suffix; }

}  // namespace mandant::agent::testing

#endif  // MANDANT_TESTS_UNIT_AGENTS_EDGE_EDGE_TEST_NAMES_H_
