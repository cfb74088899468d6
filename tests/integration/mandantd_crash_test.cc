// mandantd as a real process: killed with SIGKILL in the middle of a burst of
// writes, it loses no acknowledged write and leaves nothing half-written;
// retries with the same request_id after a restart finish the rest exactly
// once. Also: SIGTERM shuts it down gracefully, and it refuses a database
// whose schema is newer than the binary.

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "common/uuid.h"
#include "controller/auth/tokens.h"
#include "mandant/v1/tenant.grpc.pb.h"
#include "pki/kek.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_controller.h"
#include "tests/support/test_tls.h"

namespace mandant {
namespace {

using testing::SharedPostgres;

class MandantdProcess {
 public:
  explicit MandantdProcess(std::string dir) : dir_(std::move(dir)) {}
  ~MandantdProcess() { Kill(SIGKILL); }

  absl::Status WriteConfig(const std::string& dbname, const testing::CertAndKey& tls) {
    port_ = testing::PickFreePort();
    std::ofstream(dir_ + "/tls.crt") << tls.cert_pem;
    {
      std::ofstream key(dir_ + "/tls.key");
      key << tls.key_pem;
    }
    chmod((dir_ + "/tls.key").c_str(), 0600);
    auto kek = pki::Kek::Generate("crash-test");
    if (!kek.ok()) return kek.status();
    {
      std::ofstream out(dir_ + "/kek");
      out << kek->ToText().view() << "\n";
    }
    chmod((dir_ + "/kek").c_str(), 0600);
    std::ofstream(dir_ + "/mandantd.yaml")
        << "listen: \"127.0.0.1:" << port_ << "\"\n"
        << "metrics_listen: \"\"\n"
        << "tls: {cert_file: \"" << dir_ << "/tls.crt\", key_file: \"" << dir_ << "/tls.key\"}\n"
        << "database:\n  conninfo: \"" << SharedPostgres().conninfo(dbname) << "\"\n"
        << "  pool_size: 4\n"
        << "network:\n  vni_pool: {first: 100, last: 4000}\n"
        << "  node_supernet: 10.96.0.0/12\n  storage_supernet: 10.112.0.0/12\n"
        << "pki: {kek_file: \"" << dir_ << "/kek\"}\n"
        << "shutdown_grace_seconds: 5\n";
    // The PKI is initialized by the real command, as an operator does it.
    return testing::RunCommand({MANDANTD_PATH, "pki", "init", "--config", dir_ + "/mandantd.yaml"})
        .status();
  }

  absl::Status Start() {
    auto pid = testing::SpawnProcess({MANDANTD_PATH, "serve", "--config", dir_ + "/mandantd.yaml"},
                                     dir_ + "/mandantd.log");
    if (!pid.ok()) return pid.status();
    pid_ = *pid;
    return absl::OkStatus();
  }

  void Kill(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    last_status_ = status;
    pid_ = -1;
  }

  // Waits for the process to exit on its own (up to `seconds`).
  bool WaitExit(int seconds, int* status) {
    for (int i = 0; i < seconds * 10; ++i) {
      if (waitpid(pid_, status, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string Log() const {
    std::ifstream in(dir_ + "/mandantd.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  int last_status_ = 0;
};

class MandantdCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::MakeTempDir("mandantd-crash");
    ASSERT_OK(dir);
    dir_ = *dir;
    auto db = SharedPostgres().CreateMigratedDatabase();
    ASSERT_OK(db);
    dbname_ = *db;
    auto tls = testing::MakeLocalhostCert();
    ASSERT_OK(tls);
    tls_ = *tls;
    process_ = std::make_unique<MandantdProcess>(dir_);
    ASSERT_OK(process_->WriteConfig(dbname_, tls_));

    controller::store::DatabaseOptions options;
    options.conninfo = SharedPostgres().conninfo(dbname_);
    options.pool_size = 1;
    auto database = controller::store::Database::Create(options);
    ASSERT_OK(database);
    auto token = controller::auth::CreateToken(
        **database, "crash-test", controller::auth::Role::kProviderAdmin, "", absl::Hours(1));
    ASSERT_OK(token);
    token_ = token->token;
  }

  void TearDown() override {
    process_.reset();
    testing::RemoveTree(dir_);
  }

  std::unique_ptr<v1::TenantService::Stub> Stub() {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tls_.cert_pem;
    auto channel = grpc::CreateChannel(absl::StrCat("localhost:", process_->port()),
                                       grpc::SslCredentials(ssl));
    return v1::TenantService::NewStub(channel);
  }

  std::unique_ptr<grpc::ClientContext> Context(int seconds = 10) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    ctx->set_wait_for_ready(true);
    return ctx;
  }

  // Waits until mandantd answers.
  void AwaitServing() {
    auto stub = Stub();
    v1::ListTenantsRequest req;
    v1::ListTenantsResponse resp;
    for (int i = 0; i < 100; ++i) {
      if (stub->ListTenants(Context(2).get(), req, &resp).ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "mandantd did not start: " << process_->Log();
  }

  int64_t Count(const std::string& sql) {
    auto out = SharedPostgres().Psql(dbname_, sql);
    EXPECT_OK(out);
    return out.ok() ? std::stoll(*out) : -1;
  }

  std::string dir_;
  std::string dbname_;
  testing::CertAndKey tls_;
  std::string token_;
  std::unique_ptr<MandantdProcess> process_;
};

TEST_F(MandantdCrashTest, SigkillDuringWritesLosesNothingAcknowledged) {
  ASSERT_OK(process_->Start());
  AwaitServing();

  constexpr int kWriters = 8;
  constexpr int kPerWriter = 200;
  struct Request {
    v1::CreateTenantRequest req;
    bool acknowledged = false;
  };
  std::vector<Request> requests(kWriters * kPerWriter);
  for (size_t i = 0; i < requests.size(); ++i) {
    requests[i].req.set_tenant_id(absl::StrCat("w", i));
    requests[i].req.mutable_tenant()->set_display_name(absl::StrCat("writer tenant ", i));
    requests[i].req.set_request_id(NewUuid());
  }
  std::atomic<int> acknowledged{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto stub = Stub();
      for (int i = 0; i < kPerWriter && !stop; ++i) {
        Request& r = requests[w * kPerWriter + i];
        auto ctx = std::make_unique<grpc::ClientContext>();
        ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
        ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        v1::Tenant t;
        if (stub->CreateTenant(ctx.get(), r.req, &t).ok()) {
          r.acknowledged = true;
          ++acknowledged;
        } else {
          return;  // the server is gone
        }
      }
    });
  }
  // Kill once a fair number of writes went through, while writers are busy.
  for (int i = 0; i < 600 && acknowledged < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const bool enough = acknowledged >= 100;
  process_->Kill(SIGKILL);
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_TRUE(enough) << "only " << acknowledged << " writes acknowledged: " << process_->Log();

  const int acked = acknowledged.load();
  ASSERT_LT(acked, kWriters * kPerWriter) << "the kill came too late to prove anything";
  // Every acknowledged tenant is there, with its whole network allocation.
  for (const Request& r : requests) {
    if (!r.acknowledged) continue;
    EXPECT_EQ(
        Count(absl::StrCat("SELECT count(*) FROM tenants WHERE name = '", r.req.tenant_id(), "'")),
        1)
        << r.req.tenant_id();
  }
  // Nothing is half-written: every tenant has its two CIDRs, its audit row,
  // its intermediate CA with its issuance policy, and every idempotency
  // record has its response.
  const int64_t rows = Count("SELECT count(*) FROM tenants");
  EXPECT_GE(rows, acked);
  EXPECT_EQ(Count("SELECT count(*) FROM tenant_cidrs"), 2 * rows);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE code = 'OK' AND method = 'CreateTenant'"),
            rows);
  EXPECT_EQ(Count("SELECT count(*) FROM pki_issuers i JOIN tenants t ON t.uid = i.tenant_uid "
                  "WHERE i.kind = 'TENANT' AND i.state = 'ACTIVE'"),
            rows);
  EXPECT_EQ(Count("SELECT count(*) FROM pki_issuers WHERE kind = 'TENANT'"), rows);
  EXPECT_EQ(Count("SELECT count(*) FROM pki_issuance_policies"), rows);
  EXPECT_EQ(Count("SELECT count(*) FROM idempotency_keys WHERE length(response) = 0"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM idempotency_keys"), rows);

  // Restart and retry everything with the same request ids: each request
  // takes effect exactly once.
  ASSERT_OK(process_->Start());
  AwaitServing();
  auto stub = Stub();
  for (const Request& r : requests) {
    v1::Tenant t;
    grpc::Status st = stub->CreateTenant(Context().get(), r.req, &t);
    ASSERT_TRUE(st.ok()) << r.req.tenant_id() << ": " << st.error_message();
    EXPECT_EQ(t.name(), absl::StrCat("tenants/", r.req.tenant_id()));
  }
  EXPECT_EQ(Count("SELECT count(*) FROM tenants"), static_cast<int64_t>(requests.size()));
  EXPECT_EQ(Count("SELECT count(DISTINCT vni) FROM tenants"),
            static_cast<int64_t>(requests.size()));
}

TEST_F(MandantdCrashTest, SigtermShutsDownGracefully) {
  ASSERT_OK(process_->Start());
  AwaitServing();
  kill(process_->pid(), SIGTERM);
  int status = 0;
  ASSERT_TRUE(process_->WaitExit(15, &status)) << process_->Log();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << process_->Log();
  EXPECT_NE(process_->Log().find("mandantd stopped"), std::string::npos) << process_->Log();
}

TEST_F(MandantdCrashTest, RefusesDatabaseNewerThanBinary) {
  ASSERT_OK(SharedPostgres().Psql(dbname_,
                                  "INSERT INTO schema_migrations (version, name, sha256) "
                                  "VALUES (9999, '9999_from_the_future.sql', 'x')"));
  ASSERT_OK(process_->Start());
  int status = 0;
  ASSERT_TRUE(process_->WaitExit(15, &status));
  EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(process_->Log().find("newer than the binary"), std::string::npos) << process_->Log();
}

}  // namespace
}  // namespace mandant
