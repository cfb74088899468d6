#include "tests/unit/agents/edge/golden.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace mandant::agent::testing {

std::string GoldenPath(const std::string& name) {
  return std::string(MANDANT_EDGE_TESTDATA_DIR) + "/" + name;
}

void ExpectMatchesGolden(const std::string& actual, const std::string& name) {
  const std::string path = GoldenPath(name);
  const char* update = std::getenv("MANDANT_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << actual;
    ASSERT_TRUE(out.good()) << "cannot write " << path;
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good()) << "cannot read " << path
                         << "; create it with MANDANT_UPDATE_GOLDEN=1 and review it";
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(actual, want.str()) << "rendered text differs from " << path;
}

}  // namespace mandant::agent::testing
