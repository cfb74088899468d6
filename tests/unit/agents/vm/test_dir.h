#ifndef MANDANT_TESTS_UNIT_AGENTS_VM_TEST_DIR_H_
#define MANDANT_TESTS_UNIT_AGENTS_VM_TEST_DIR_H_

// A temporary directory for one test, removed with everything in it.

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace mandant::agent::testing {

class TestDir {
 public:
  TestDir() {
    std::string tmpl = "/tmp/mvm-XXXXXX";  // short: unix socket paths live below it
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TestDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace mandant::agent::testing

#endif  // MANDANT_TESTS_UNIT_AGENTS_VM_TEST_DIR_H_
