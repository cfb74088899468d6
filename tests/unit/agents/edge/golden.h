#ifndef MANDANT_TESTS_UNIT_AGENTS_EDGE_GOLDEN_H_
#define MANDANT_TESTS_UNIT_AGENTS_EDGE_GOLDEN_H_

// Golden files of the edge renderers: tests/unit/agents/edge/testdata/*.golden.
// Each was read and checked by hand once; a test fails when the rendered text
// differs. After an intended change, regenerate with
//   MANDANT_UPDATE_GOLDEN=1 ctest --test-dir build -R agent_edge
// and review the diff before committing it.

#include <string>

namespace mandant::agent::testing {

// The absolute path of testdata/`name`.
std::string GoldenPath(const std::string& name);

// EXPECTs that `actual` equals the file testdata/`name` (or writes it there
// when MANDANT_UPDATE_GOLDEN=1).
void ExpectMatchesGolden(const std::string& actual, const std::string& name);

}  // namespace mandant::agent::testing

#endif  // MANDANT_TESTS_UNIT_AGENTS_EDGE_GOLDEN_H_
