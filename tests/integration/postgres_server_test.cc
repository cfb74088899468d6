// PostgresServer with a data folder of its own, as the demo uses it: the
// server outlives the object, a later Start reuses it and its data, Attach
// sees and stops it, and a folder an interrupted initdb left is made again.

#include "tests/support/postgres_server.h"

#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"

namespace mandant {
namespace {

using testing::PostgresOptions;
using testing::PostgresServer;

class PersistentPostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::MakeTempDir("mandant-pg-persistent");
    ASSERT_OK(dir.status());
    root_ = *dir;
    // The postgres user (when we are root) must reach the folders below.
    chmod(root_.c_str(), 0755);
    options_.data_dir = root_ + "/pg";
    options_.socket_dir = root_ + "/run";
    options_.log_file = root_ + "/run/server.log";
    options_.migrated_template = false;
  }
  void TearDown() override {
    if (auto server = PostgresServer::Attach(options_); server.ok()) (void)(*server)->Stop();
    testing::RemoveTree(root_);
  }

  std::string root_;
  PostgresOptions options_;
};

TEST_F(PersistentPostgresTest, OutlivesItsObjectAndIsReusedWithItsData) {
  {
    auto server = PostgresServer::Start(options_);
    ASSERT_OK(server.status());
    ASSERT_OK((*server)
                  ->PsqlStdin("postgres",
                              "CREATE TABLE kept (x int);\n"
                              "INSERT INTO kept VALUES (42);\n")
                  .status());
    options_.port = (*server)->port();
  }
  auto attached = PostgresServer::Attach(options_);
  ASSERT_OK(attached.status());
  EXPECT_TRUE((*attached)->IsRunning()) << "destroying the object stopped the server";

  auto again = PostgresServer::Start(options_);
  ASSERT_OK(again.status());
  auto rows = (*again)->PsqlStdin("postgres", "SELECT x FROM kept;\n");
  ASSERT_OK(rows.status());
  EXPECT_EQ(absl::StripAsciiWhitespace(*rows), "42");

  ASSERT_OK((*attached)->Stop());
  EXPECT_FALSE((*attached)->IsRunning());

  // Stopped and started again: same folder, same data.
  auto restarted = PostgresServer::Start(options_);
  ASSERT_OK(restarted.status());
  rows = (*restarted)->PsqlStdin("postgres", "SELECT x FROM kept;\n");
  ASSERT_OK(rows.status());
  EXPECT_EQ(absl::StripAsciiWhitespace(*rows), "42");
}

TEST_F(PersistentPostgresTest, AFolderLeftByAnInterruptedInitdbIsMadeAgain) {
  ASSERT_EQ(mkdir(options_.data_dir.c_str(), 0700), 0);
  std::ofstream(options_.data_dir + "/global.junk") << "half an initdb";
  auto server = PostgresServer::Start(options_);
  ASSERT_OK(server.status());
  EXPECT_TRUE((*server)->IsRunning());
  EXPECT_OK((*server)->PsqlStdin("postgres", "SELECT 1;\n").status());
}

}  // namespace
}  // namespace mandant
