#ifndef MANDANT_TESTS_UNIT_CLI_TEMP_FILES_H_
#define MANDANT_TESTS_UNIT_CLI_TEMP_FILES_H_

// A temporary folder per test and files with a chosen mode in it, for the
// mandantctl tests that read config, token and CA files.

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace mandant::cli::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "mandantctl_test_XXXXXX";
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr) << "mkdtemp " << pattern;
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  // Writes `content` to `name` inside the folder with `mode`; returns its path.
  std::string WriteFile(const std::string& name, const std::string& content,
                        mode_t mode = 0600) const {
    std::string file = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(file).parent_path());
    {
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      out << content;
    }
    EXPECT_EQ(chmod(file.c_str(), mode), 0) << file;
    return file;
  }

 private:
  std::string path_;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline mode_t FileMode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

}  // namespace mandant::cli::testing

#endif  // MANDANT_TESTS_UNIT_CLI_TEMP_FILES_H_
