// What a caller reads when mandantd fails inside: a generic message naming
// the call id, never PostgreSQL's text or a path, while the log line with the
// same call id has the detail. Against a real PostgreSQL that the test stops.

#include <memory>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "spdlog/spdlog.h"

#include "tests/support/agent_client.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_controller.h"

namespace mandant {
namespace {

using controller::auth::Role;
using testing::TestController;

// Words that only internal text contains: PostgreSQL's and libpq's messages,
// the socket path, SQL.
void ExpectNoInternalText(absl::string_view text) {
  for (absl::string_view word : {"PostgreSQL", "postgres", "libpq", "socket", "SELECT", "INSERT",
                                 "/tmp", ".s.PGSQL", "connection to server"}) {
    EXPECT_FALSE(absl::StrContains(text, word)) << "\"" << word << "\" in: " << text;
  }
}

std::string CallIdOf(const grpc::ClientContext& context) {
  const auto& md = context.GetServerInitialMetadata();
  auto it = md.find("x-mandant-call-id");
  return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
}

// The google.rpc.RequestInfo detail's request_id, empty without one.
std::string RequestInfoOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return "";
  for (const auto& any : details.details()) {
    google::rpc::RequestInfo info;
    if (any.UnpackTo(&info)) return info.request_id();
  }
  return "";
}

class CallerErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);
    spdlog::default_logger()->sinks().push_back(log_);
    auto c = TestController::Start(testing::TestPools(), 4, [](controller::ServerOptions& o) {
      o.metrics_listen = "127.0.0.1:0";
      // Give up on the stopped database quickly.
      o.database.acquire_timeout = absl::Milliseconds(500);
    });
    ASSERT_OK(c);
    controller_ = *std::move(c);
    admin_ = controller_->Token(Role::kProviderAdmin, "", "operator");
  }

  void TearDown() override {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), log_), sinks.end());
    if (stopped_) {
      EXPECT_OK(testing::SharedPostgres().Resume());
    }
  }

  void StopDatabase() {
    ASSERT_OK(testing::SharedPostgres().Stop());
    stopped_ = true;
  }

  std::string LogLinesWith(absl::string_view needle) const {
    std::string out;
    for (const std::string& line : log_->last_formatted()) {
      if (absl::StrContains(line, needle)) absl::StrAppend(&out, line);
    }
    return out;
  }

  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_;
  std::unique_ptr<TestController> controller_;
  std::string admin_;
  bool stopped_ = false;
};

TEST_F(CallerErrorsTest, DatabaseDownGivesGenericUnavailableWithCallId) {
  StopDatabase();
  v1::CreateTenantRequest req;
  req.set_tenant_id("acme");
  v1::Tenant out;
  auto context = TestController::Context(admin_);
  grpc::Status st = controller_->Tenants()->CreateTenant(context.get(), req, &out);

  ASSERT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  const std::string call_id = CallIdOf(*context);
  ASSERT_FALSE(call_id.empty());
  EXPECT_TRUE(absl::StrContains(st.error_message(), call_id)) << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), "temporarily unavailable"))
      << st.error_message();
  ExpectNoInternalText(st.error_message());
  EXPECT_EQ(RequestInfoOf(st), call_id);

  // The operator finds the cause under the same call id.
  const std::string logged = LogLinesWith(call_id);
  EXPECT_TRUE(absl::StrContains(logged, "PostgreSQL")) << logged;
}

TEST_F(CallerErrorsTest, UnauthenticatedEnrollDoesNotLeakDatabaseText) {
  auto key = testing::NewKeyWithCsr();
  ASSERT_OK(key);
  StopDatabase();
  v1::EnrollRequest req;
  req.set_host("hosts/hv1");
  req.set_bootstrap_token("mbt_not-a-real-token");
  req.set_csr(key->csr_pem);
  v1::EnrollResponse out;
  grpc::Status st = testing::Enroll(*controller_, req, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  ExpectNoInternalText(st.error_message());
  ExpectNoInternalText(st.error_details());
}

TEST_F(CallerErrorsTest, ReadinessSaysOnlyThatTheDatabaseIsDown) {
  httplib::Client http("127.0.0.1", controller_->server().metrics_port());
  auto ready = http.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);

  StopDatabase();
  auto down = http.Get("/readyz");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503);
  EXPECT_EQ(down->body, "database unavailable\n");
  EXPECT_FALSE(LogLinesWith("not ready").empty());
}

TEST_F(CallerErrorsTest, RefusalsWrittenForTheCallerPassUnchanged) {
  v1::GetTenantRequest req;
  req.set_name("tenants/nobody");
  v1::Tenant out;
  grpc::Status st =
      controller_->Tenants()->GetTenant(TestController::Context(admin_).get(), req, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "tenant \"nobody\" not found");
  EXPECT_EQ(RequestInfoOf(st), "");
}

}  // namespace
}  // namespace mandant
