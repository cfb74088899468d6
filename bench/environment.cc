#include "bench/environment.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "grpcpp/grpcpp.h"

#include "common/status_macros.h"
#include "controller/auth/tokens.h"
#include "controller/store/database.h"
#include "mandant/v1/tenant.grpc.pb.h"
#include "pki/kek.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_tls.h"

namespace mandant::bench {
namespace {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path, absl::string_view flag) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read \"", path, "\""));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The folder of the Unix socket in a "host=/dir port=..." conninfo.
std::string SocketDir(const std::string& conninfo) {
  for (absl::string_view part : absl::StrSplit(conninfo, ' ', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&part, "host=")) return std::string(part);
  }
  return "";
}

pid_t ReadPostmasterPid(const std::string& data_dir) {
  std::ifstream in(data_dir + "/postmaster.pid");
  long pid = 0;
  in >> pid;
  return in ? static_cast<pid_t>(pid) : 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Environment>> Environment::Start(const EnvironmentOptions& options) {
  std::unique_ptr<Environment> env(new Environment());
  if (options.target.empty()) {
    MANDANT_RETURN_IF_ERROR(env->StartPrivate(options));
    return env;
  }
  env->address_ = options.target;
  MANDANT_ASSIGN_OR_RETURN(env->ca_pem_, ReadWholeFile(options.ca_file, "--ca_file"));
  MANDANT_ASSIGN_OR_RETURN(std::string token, ReadWholeFile(options.token_file, "--token_file"));
  env->token_ = std::string(absl::StripAsciiWhitespace(token));
  env->pg_conninfo_ = options.pg_conninfo;
  return env;
}

absl::Status Environment::StartPrivate(const EnvironmentOptions& options) {
  MANDANT_ASSIGN_OR_RETURN(postgres_, testing::PostgresServer::Start());
  MANDANT_ASSIGN_OR_RETURN(std::string dbname, postgres_->CreateMigratedDatabase());
  pg_conninfo_ = postgres_->conninfo(dbname);
  postmaster_pid_ = ReadPostmasterPid(SocketDir(pg_conninfo_) + "/data");

  MANDANT_ASSIGN_OR_RETURN(dir_, testing::MakeTempDir("mandant-loadgen"));
  server_name_ = "localhost";
  port_ = testing::PickFreePort();
  address_ = absl::StrCat(options.listen_host == "0.0.0.0" ? "127.0.0.1" : options.listen_host, ":",
                          port_);
  std::string tls_files;
  if (!options.pki_serving_cert) {
    MANDANT_ASSIGN_OR_RETURN(testing::CertAndKey tls, testing::MakeLocalhostCert());
    ca_pem_ = tls.cert_pem;
    std::ofstream(dir_ + "/tls.crt") << tls.cert_pem;
    {
      std::ofstream key(dir_ + "/tls.key");
      key << tls.key_pem;
    }
    chmod((dir_ + "/tls.key").c_str(), 0600);
    tls_files =
        absl::StrCat("cert_file: \"", dir_, "/tls.crt\", key_file: \"", dir_, "/tls.key\", ");
  }
  std::vector<std::string> names = {"\"localhost\"", "\"127.0.0.1\""};
  for (const std::string& n : options.server_names) names.push_back(absl::StrCat("\"", n, "\""));
  MANDANT_ASSIGN_OR_RETURN(pki::Kek kek, pki::Kek::Generate("loadgen"));
  {
    std::ofstream out(dir_ + "/kek");
    out << kek.ToText().view() << "\n";
  }
  chmod((dir_ + "/kek").c_str(), 0600);
  const controller::store::NetworkPools& p = options.pools;
  std::ofstream(dir_ + "/mandantd.yaml")
      << "listen: \"" << options.listen_host << ":" << port_ << "\"\n"
      << "metrics_listen: \"\"\n"
      << "tls: {" << tls_files << "server_names: [" << absl::StrJoin(names, ", ") << "]}\n"
      << "database:\n  conninfo: \"" << pg_conninfo_ << "\"\n"
      << "  pool_size: " << options.pool_size << "\n"
      << "network:\n  vni_pool: {first: " << p.vni.first << ", last: " << p.vni.last << "}\n"
      << "  node_supernet: " << p.node_supernet.ToString() << "\n"
      << "  storage_supernet: " << p.storage_supernet.ToString() << "\n"
      << "  default_prefix_length: " << p.default_prefix_length << "\n"
      << "log: {level: " << options.log_level << "}\n"
      << "pki: {kek_file: \"" << dir_ << "/kek\"}\n"
      << "shutdown_grace_seconds: 2\n"
      << options.extra_config;
  MANDANT_RETURN_IF_ERROR(
      testing::RunCommand({options.mandantd_path, "pki", "init", "--config",
                           dir_ + "/mandantd.yaml", "--output", dir_ + "/root.pem"})
          .status());
  if (options.pki_serving_cert) {
    MANDANT_ASSIGN_OR_RETURN(ca_pem_, ReadWholeFile(dir_ + "/root.pem", "pki init --output"));
  }

  {
    controller::store::DatabaseOptions db_options;
    db_options.conninfo = pg_conninfo_;
    db_options.pool_size = 1;
    MANDANT_ASSIGN_OR_RETURN(auto db, controller::store::Database::Create(db_options));
    MANDANT_ASSIGN_OR_RETURN(
        controller::auth::NewToken token,
        controller::auth::CreateToken(*db, "mandant-loadgen",
                                      controller::auth::Role::kProviderAdmin, "", absl::Hours(6)));
    token_ = token.token;
  }

  MANDANT_ASSIGN_OR_RETURN(
      mandantd_pid_,
      testing::SpawnProcess({options.mandantd_path, "serve", "--config", dir_ + "/mandantd.yaml"},
                            dir_ + "/mandantd.log"));
  return AwaitServing();
}

absl::Status Environment::AwaitServing() {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_pem_;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(server_name_);
  // mandantd takes a moment to listen; retry connecting quickly, not with
  // gRPC's default backoff of a second and more.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(address_, grpc::SslCredentials(ssl), args);
  auto stub = v1::TenantService::NewStub(channel);
  grpc::Status last;
  for (int i = 0; i < 30; ++i) {
    int status = 0;
    if (waitpid(mandantd_pid_, &status, WNOHANG) == mandantd_pid_) {
      mandantd_pid_ = 0;
      return absl::UnavailableError(absl::StrCat("mandantd exited (status ", status,
                                                 ") before serving: ", MandantdLogTail(2000)));
    }
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", absl::StrCat("Bearer ", token_));
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    ctx.set_wait_for_ready(true);
    v1::ListTenantsRequest req;
    req.set_page_size(1);
    v1::ListTenantsResponse resp;
    last = stub->ListTenants(&ctx, req, &resp);
    if (last.ok()) return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat("mandantd did not answer within 15 s (last gRPC error: ", last.error_message(),
                   "): ", MandantdLogTail(2000)));
}

std::string Environment::MandantdLogTail(size_t bytes) const {
  if (dir_.empty()) return "";
  std::ifstream in(dir_ + "/mandantd.log");
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

Environment::~Environment() {
  if (mandantd_pid_ > 0 && is_private()) {
    kill(mandantd_pid_, SIGTERM);
    int status = 0;
    bool exited = false;
    for (int i = 0; i < 100 && !exited; ++i) {
      exited = waitpid(mandantd_pid_, &status, WNOHANG) == mandantd_pid_;
      if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!exited) {
      kill(mandantd_pid_, SIGKILL);
      waitpid(mandantd_pid_, &status, 0);
    }
  }
  postgres_.reset();
  if (!dir_.empty()) testing::RemoveTree(dir_);
}

}  // namespace mandant::bench
