#include "demo/demo.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "demo/bootstrap_ca.h"
#include "nlohmann/json.hpp"

#include "common/files.h"
#include "common/status_macros.h"
#include "pki/kek.h"
#include "pki/secret_bytes.h"
#include "tests/support/netns.h"
#include "tests/support/postgres_server.h"
#include "tests/support/subprocess.h"

namespace mandant::demo {
namespace {

namespace fs = std::filesystem;
using testing::PostgresOptions;
using testing::PostgresServer;

// The demo host: a network namespace joined to this machine by a veth pair.
// Its end carries the underlay address; this end is where the agent reaches
// mandantd. Tenant bridges, VXLAN devices and the agent's nftables table
// stay inside the namespace.
constexpr char kHost[] = "hv1";
constexpr char kNetns[] = "mandant-demo-hv1";
constexpr char kLink[] = "mdemo-hv1";
constexpr char kSubnet[] = "10.254.77.";
constexpr char kControllerAddress[] = "10.254.77.1";
constexpr char kUnderlayAddress[] = "10.254.77.2";
constexpr int kAgentReadySeconds = 90;
constexpr int kHealthSeconds = 30;
constexpr int kShutdownGraceSeconds = 10;

void Info(const std::string& message) { std::printf("==> %s\n", message.c_str()); }

absl::Status Annotate(const absl::Status& status, const std::string& step) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(step, ": ", status.message()));
}

std::string Tail(const std::string& path, size_t bytes) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

absl::Status MakeDir(const std::string& path, fs::perms mode) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", path, ": ", ec.message()));
  fs::permissions(path, mode, ec);
  if (ec) return absl::InternalError(absl::StrCat("chmod ", path, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status ChownToPostgres(const std::string& path) {
  passwd* pw = getpwnam("postgres");
  if (pw == nullptr || chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    return absl::InternalError(absl::StrCat("chown postgres ", path, " failed"));
  }
  return absl::OkStatus();
}

int ReadPid(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  int pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid)) return 0;
  return pid;
}

// True when a TCP socket in any state but TIME-WAIT (which does not stop a
// server from binding) uses local port `port`.
bool PortInUse(int port) {
  absl::StatusOr<std::string> out =
      testing::RunCommand({"ss", "-Htan", "state", "all", "exclude", "time-wait",
                           absl::StrCat("( sport = :", port, " )")});
  return !out.ok() || !absl::StripAsciiWhitespace(*out).empty();
}

// A free port from 20000 up to the kernel's ephemeral range (where outgoing
// connections take theirs), so that a client cannot take it before the
// server binds it; not one of `taken`.
absl::StatusOr<int> PickPort(std::vector<int> taken) {
  int high = 49999;
  if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); range) {
    int first = 0;
    if (range >> first && first - 1 - 20000 >= 1000) high = first - 1;
  }
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pick(20000, high);
  for (int attempt = 0; attempt < 200; ++attempt) {
    int port = pick(random);
    if (std::find(taken.begin(), taken.end(), port) != taken.end() || PortInUse(port)) continue;
    return port;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("found no free TCP port between 20000 and ", high, " after 200 tries"));
}

// The status code of GET http://127.0.0.1:<port><path>, 0 without an answer
// within 3 seconds.
int HttpStatus(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  absl::Cleanup close_fd = [fd] { close(fd); };
  timeval timeout{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return 0;
  std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return 0;
  }
  char buffer[64] = {};
  ssize_t n = recv(fd, buffer, sizeof(buffer) - 1, 0);
  if (n <= 0) return 0;
  // "HTTP/1.1 200 OK"
  std::vector<absl::string_view> words = absl::StrSplit(buffer, ' ');
  int status = 0;
  if (words.size() < 2 || !absl::SimpleAtoi(words[1], &status)) return 0;
  return status;
}

// The bootstrap password: 24 random bytes in hex.
std::string RandomHex(int bytes) {
  std::random_device random;
  std::string out;
  for (int i = 0; i < bytes; ++i)
    absl::StrAppend(&out, absl::Hex(random() & 0xff, absl::kZeroPad2));
  return out;
}

}  // namespace

DemoFiles::DemoFiles(const std::string& dir)
    : state_file(dir + "/state"),
      tls_dir(dir + "/tls"),
      secrets_dir(dir + "/secrets"),
      pg_data(dir + "/pg"),
      pg_run(dir + "/pgrun"),
      pg_log(dir + "/pgrun/postgresql.log"),
      db_password_file(dir + "/secrets/db-password"),
      token_file(dir + "/secrets/operator.token"),
      kek_file(dir + "/secrets/kek"),
      root_ca_file(dir + "/tls/mandant-root.crt"),
      pg_cert(dir + "/tls/postgres-mandant.crt"),
      pg_key(dir + "/tls/postgres-mandant.key"),
      db_client_cert(dir + "/secrets/db-client.crt"),
      db_client_key(dir + "/secrets/db-client.key"),
      mandantd_config(dir + "/mandantd.yaml"),
      mandantctl_config(dir + "/mandantctl.yaml"),
      mandantd_pid_file(dir + "/mandantd.pid"),
      mandantd_log(dir + "/mandantd.log"),
      agent_token_file(dir + "/secrets/hv1.bootstrap-token"),
      agent_pid_file(dir + "/agent-hv1.pid"),
      agent_log(dir + "/agent-hv1.log") {}

Demo::Demo(DemoOptions options)
    : options_(std::move(options)), dir_(options_.repo_dir + "/.demo"), files_(dir_) {}

absl::Status Demo::CheckHost() const {
  if (geteuid() != 0) {
    return absl::FailedPreconditionError(
        "run as root: PostgreSQL runs as the postgres system user, the demo host is a network "
        "namespace");
  }
  if (getpwnam("postgres") == nullptr) {
    return absl::FailedPreconditionError(
        "the postgres system user does not exist; run scripts/install-deps (package postgresql)");
  }
  if (!testing::RunCommand({"runuser", "-u", "postgres", "--", "test", "-x", options_.repo_dir})
           .ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the postgres user cannot enter ", options_.repo_dir,
        " (or a folder above it); clone the repository where other users may traverse the path, "
        "e.g. under /srv or /opt"));
  }
  const std::string socket = dir_ + "/pgrun/.s.PGSQL.65535";
  if (socket.size() > 107) {
    return absl::FailedPreconditionError(
        absl::StrCat("the PostgreSQL socket path ", socket,
                     " is longer than 107 bytes; clone the repository under a shorter path"));
  }
  for (const std::string& binary : {options_.mandantd, options_.mandantctl, options_.agent}) {
    if (access(binary.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(binary, " was not built; run scripts/demo, which builds it"));
    }
  }
  return absl::OkStatus();
}

void Demo::LoadState() {
  absl::StatusOr<std::string> text = ReadFile(files_.state_file);
  if (!text.ok()) return;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    int value = 0;
    if (!absl::SimpleAtoi(kv.second, &value)) continue;
    if (kv.first == "PG_PORT") ports_.pg = value;
    if (kv.first == "GRPC_PORT") ports_.grpc = value;
    if (kv.first == "METRICS_PORT") ports_.metrics = value;
  }
}

absl::Status Demo::SaveState() const {
  return WriteFileAtomically(files_.state_file,
                             absl::StrCat("PG_PORT=", ports_.pg, "\nGRPC_PORT=", ports_.grpc,
                                          "\nMETRICS_PORT=", ports_.metrics, "\n"),
                             0644);
}

absl::Status Demo::ChoosePorts(bool postgres_runs, bool mandantd_runs) {
  if (postgres_runs && ports_.pg == 0) {
    return absl::FailedPreconditionError(
        "PostgreSQL in .demo/pg runs but .demo/state names no port; run scripts/demo stop");
  }
  if (!postgres_runs && (ports_.pg == 0 || PortInUse(ports_.pg))) {
    MANDANT_ASSIGN_OR_RETURN(ports_.pg, PickPort({ports_.grpc, ports_.metrics}));
  }
  if (!mandantd_runs) {
    if (ports_.grpc == 0 || PortInUse(ports_.grpc)) {
      MANDANT_ASSIGN_OR_RETURN(ports_.grpc, PickPort({ports_.pg, ports_.metrics}));
    }
    if (ports_.metrics == 0 || PortInUse(ports_.metrics)) {
      MANDANT_ASSIGN_OR_RETURN(ports_.metrics, PickPort({ports_.pg, ports_.grpc}));
    }
  }
  return SaveState();
}

// True once PostgreSQL and mandantd have certificates from Mandant's PKI
// valid for another day: then the database is reached with a client
// certificate only. Before (the first start), the mandant role logs in with
// a password over TLS, just long enough for mandantd to create its PKI.
bool Demo::DatabaseCertsUsable() const {
  for (const std::string& f : {files_.pg_cert, files_.pg_key, files_.db_client_cert,
                               files_.db_client_key, files_.root_ca_file}) {
    std::error_code ec;
    if (fs::file_size(f, ec) == 0 || ec) return false;
  }
  return CertificateValidForADay(files_.pg_cert) && CertificateValidForADay(files_.db_client_cert);
}

std::string Demo::DatabaseConninfo() const {
  std::string conninfo = absl::StrCat("host=localhost hostaddr=127.0.0.1 port=", ports_.pg,
                                      " dbname=mandant user=mandant sslmode=verify-full");
  if (DatabaseCertsUsable()) {
    return absl::StrCat(conninfo, " sslrootcert=", files_.root_ca_file,
                        " sslcert=", files_.db_client_cert, " sslkey=", files_.db_client_key);
  }
  return absl::StrCat(conninfo, " sslrootcert=", files_.tls_dir, "/ca.crt");
}

std::string Demo::PostgresSettings() const {
  std::string settings =
      "unix_socket_permissions = 0700\nssl = on\n"
      "ssl_min_protocol_version = 'TLSv1.2'\n"
      "password_encryption = 'scram-sha-256'\n";
  if (DatabaseCertsUsable()) {
    absl::StrAppend(&settings, "ssl_cert_file = '", files_.pg_cert, "'\nssl_key_file = '",
                    files_.pg_key, "'\nssl_ca_file = '", files_.root_ca_file, "'\n");
  } else {
    absl::StrAppend(&settings, "ssl_cert_file = '", files_.tls_dir,
                    "/postgres.crt'\nssl_key_file = '", files_.tls_dir, "/postgres.key'\n");
  }
  return settings;
}

// Only the postgres superuser over the socket (peer) and the mandant role
// over TLS, with its client certificate (or, before the PKI exists, its
// password); everything else, plain TCP included, is refused.
std::string Demo::PostgresHba() const {
  return absl::StrCat(
      "# Written by the demo on every start; edits are lost.\n"
      "# TYPE   DATABASE  USER      ADDRESS        METHOD\n"
      "local    all       postgres                 peer\n"
      "hostssl  mandant   mandant   127.0.0.1/32   ",
      DatabaseCertsUsable() ? "cert" : "scram-sha-256",
      "\n"
      "local    all       all                      reject\n"
      "host     all       all       0.0.0.0/0      reject\n"
      "host     all       all       ::/0           reject\n");
}

// PostgreSQL 15 as the postgres system user in .demo/pg, its socket and log
// in .demo/pgrun, TCP only on 127.0.0.1 and only with TLS.
PostgresOptions Demo::DatabaseOptions() const {
  PostgresOptions pg;
  pg.data_dir = files_.pg_data;
  pg.socket_dir = files_.pg_run;
  pg.log_file = files_.pg_log;
  pg.port = ports_.pg;
  pg.listen_address = "127.0.0.1";
  pg.local_auth = "peer";
  pg.settings = PostgresSettings();
  pg.hba = PostgresHba();
  pg.unsafe_fast = false;
  pg.migrated_template = false;
  return pg;
}

absl::Status Demo::SetUpDatabase() {
  MANDANT_RETURN_IF_ERROR(MakeDir(dir_, fs::perms(0755)));
  // PostgreSQL (as postgres) reads its certificate from here.
  MANDANT_RETURN_IF_ERROR(MakeDir(files_.tls_dir, fs::perms(0755)));
  MANDANT_RETURN_IF_ERROR(MakeDir(files_.secrets_dir, fs::perms(0700)));
  MANDANT_RETURN_IF_ERROR(Annotate(EnsureBootstrapCa(files_.tls_dir), "demo CA"));
  // PostgreSQL insists on a key that only its owner can read.
  MANDANT_RETURN_IF_ERROR(ChownToPostgres(files_.tls_dir + "/postgres.key"));
  if (fs::exists(files_.pg_key)) MANDANT_RETURN_IF_ERROR(ChownToPostgres(files_.pg_key));

  const bool runs = PostgresRuns();
  MANDANT_RETURN_IF_ERROR(ChoosePorts(runs, MandantdPid() > 0));
  const PostgresOptions pg = DatabaseOptions();
  Info(runs ? absl::StrCat("PostgreSQL already runs on 127.0.0.1:", ports_.pg)
            : absl::StrCat("starting PostgreSQL 15 on 127.0.0.1:", ports_.pg, " (TLS only, data ",
                           files_.pg_data, ")"));
  absl::StatusOr<std::unique_ptr<PostgresServer>> server = PostgresServer::Start(pg);
  if (!server.ok()) return Annotate(server.status(), "PostgreSQL");

  // Role and database "mandant"; the password lives only in the 0600 file
  // and reaches psql over stdin, never a command line.
  std::string password;
  if (absl::StatusOr<std::string> text = ReadFile(files_.db_password_file); text.ok()) {
    password = std::string(absl::StripAsciiWhitespace(*text));
  }
  if (password.empty()) {
    password = RandomHex(24);
    MANDANT_RETURN_IF_ERROR(WriteFileAtomically(files_.db_password_file, password + "\n", 0600));
  }
  for (char c : password) {
    if (!absl::ascii_isxdigit(c)) {
      return absl::FailedPreconditionError(
          absl::StrCat(files_.db_password_file,
                       " holds something other than the hex password the demo "
                       "made; remove it and run scripts/demo again"));
    }
  }
  absl::StatusOr<std::string> out = (*server)->PsqlStdin(
      "postgres", absl::StrCat("SELECT 'CREATE ROLE mandant LOGIN' WHERE NOT EXISTS "
                               "(SELECT 1 FROM pg_roles WHERE rolname = 'mandant') \\gexec\n"
                               "ALTER ROLE mandant WITH LOGIN PASSWORD '",
                               password,
                               "';\n"
                               "SELECT 'CREATE DATABASE mandant OWNER mandant' WHERE NOT EXISTS "
                               "(SELECT 1 FROM pg_database WHERE datname = 'mandant') \\gexec\n"));
  if (!out.ok()) return Annotate(out.status(), "creating the role and database mandant");
  out = (*server)->PsqlStdin("mandant",
                             "SET client_min_messages = warning;\n"
                             "CREATE EXTENSION IF NOT EXISTS btree_gist;\n");
  return Annotate(out.status(), "CREATE EXTENSION btree_gist");
}

absl::Status Demo::WriteConfigs() const {
  std::string mandantd_yaml = absl::StrCat(
      "# Written by scripts/demo on every start; edits are lost.\n"
      "# Reference: docs/operations.md. No certificate files: mandantd issues its\n"
      "# serving certificate from Mandant's infrastructure CA for the names below;\n"
      "# clients trust ",
      files_.root_ca_file,
      ". The second address is where the demo host's\n"
      "# agent reaches mandantd from its network namespace.\n"
      "listen: \"127.0.0.1:",
      ports_.grpc, ",", kControllerAddress, ":", ports_.grpc,
      "\"\n"
      "tls:\n  server_names: [localhost, 127.0.0.1, ",
      kControllerAddress, "]\nmetrics_listen: \"127.0.0.1:", ports_.metrics,
      "\"\ndatabase:\n  conninfo: \"", DatabaseConninfo(), "\"\n");
  if (!DatabaseCertsUsable()) {
    absl::StrAppend(&mandantd_yaml, "  password_file: \"", files_.db_password_file, "\"\n");
  }
  absl::StrAppend(&mandantd_yaml,
                  "  pool_size: 4\n"
                  "network:\n  vni_pool: {first: 10000, last: 19999}\n"
                  "  node_supernet: \"10.64.0.0/12\"\n  storage_supernet: \"10.96.0.0/12\"\n"
                  "  default_prefix_length: 24\n"
                  "log:\n  level: info\n  format: text\n"
                  "pki:\n  kek_file: \"",
                  files_.kek_file, "\"\n  crl_base_url: \"http://127.0.0.1:", ports_.metrics,
                  "/crl/\"\nshutdown_grace_seconds: ", kShutdownGraceSeconds, "\n");
  MANDANT_RETURN_IF_ERROR(WriteFileAtomically(files_.mandantd_config, mandantd_yaml, 0644));
  return WriteFileAtomically(
      files_.mandantctl_config,
      absl::StrCat("# Written by scripts/demo on every start; edits are lost.\nserver: "
                   "\"127.0.0.1:",
                   ports_.grpc, "\"\nca_file: \"", files_.root_ca_file, "\"\ntoken_file: \"",
                   files_.token_file, "\"\n"),
      0644);
}

absl::StatusOr<std::string> Demo::Mandantd(std::vector<std::string> args) const {
  args.insert(args.begin(), options_.mandantd);
  args.insert(args.begin() + 2, {"--config", files_.mandantd_config});
  return testing::RunCommand(args);
}

absl::StatusOr<std::string> Demo::Ctl(std::vector<std::string> args) const {
  args.insert(args.begin(), {options_.mandantctl, "--config", files_.mandantctl_config});
  return testing::RunCommand(args);
}

// Certificates for PostgreSQL and for mandantd's connection from Mandant's
// infrastructure CA; then PostgreSQL accepts the mandant role only with its
// certificate, and mandantd's configuration says so.
absl::Status Demo::IssueDatabaseCerts() {
  if (DatabaseCertsUsable()) return absl::OkStatus();
  Info(
      "issuing PostgreSQL's certificate and mandantd's database client certificate from "
      "Mandant's infrastructure CA (mandantd pki issue)");
  // A failure in between leaves no half set (and no key) behind.
  auto remove = [&] {
    for (const std::string& f :
         {files_.pg_cert, files_.pg_key, files_.db_client_cert, files_.db_client_key}) {
      std::error_code ec;
      fs::remove(f, ec);
    }
  };
  remove();
  absl::Cleanup undo = remove;
  MANDANT_RETURN_IF_ERROR(
      Mandantd({"pki", "issue", "--usage", "server", "--dns", "localhost", "--ip", "127.0.0.1",
                "--ttl", "2160h", "--cert_out", files_.pg_cert, "--key_out", files_.pg_key})
          .status());
  MANDANT_RETURN_IF_ERROR(
      Mandantd({"pki", "issue", "--usage", "client", "--common_name", "mandant", "--ttl", "2160h",
                "--cert_out", files_.db_client_cert, "--key_out", files_.db_client_key})
          .status());
  MANDANT_RETURN_IF_ERROR(ChownToPostgres(files_.pg_key));
  chmod(files_.pg_cert.c_str(), 0644);
  MANDANT_ASSIGN_OR_RETURN(std::unique_ptr<PostgresServer> server,
                           PostgresServer::Attach(DatabaseOptions()));
  MANDANT_RETURN_IF_ERROR(server->Reconfigure(PostgresSettings(), PostgresHba()));
  std::move(undo).Cancel();
  return WriteConfigs();
}

// The namespace is complete when both ends of the veth pair exist, are up
// and carry their addresses; anything less (a start killed half-way) is
// deleted and made again.
absl::Status Demo::EnsureNamespace() {
  auto has = [](std::vector<std::string> argv, const std::string& address) {
    absl::StatusOr<std::string> out = testing::RunCommand(argv);
    return out.ok() && absl::StrContains(*out, absl::StrCat("inet ", address, "/24")) &&
           absl::StrContains(*out, "state UP");
  };
  const bool complete = testing::NamespaceExists(kNetns) &&
                        has({"ip", "addr", "show", "dev", kLink}, kControllerAddress) &&
                        has({"ip", "-n", kNetns, "addr", "show", "dev", "mu0"}, kUnderlayAddress);
  if (complete) return absl::OkStatus();
  if (testing::NamespaceExists(kNetns) ||
      testing::RunCommand({"ip", "link", "show", "dev", kLink}).ok()) {
    Info(absl::StrCat("repairing the half-made demo host: deleting ", kNetns, " and ", kLink));
    testing::DeleteNamespace(kNetns);
    (void)testing::RunCommand({"ip", "link", "delete", kLink});
  }
  absl::StatusOr<std::string> addresses = testing::RunCommand({"ip", "-4", "-o", "addr", "show"});
  if (addresses.ok() && absl::StrContains(*addresses, absl::StrCat(" ", kSubnet))) {
    return absl::FailedPreconditionError(
        absl::StrCat(kSubnet, "0/24 is already used on this machine; the demo host needs it"));
  }
  Info(absl::StrCat("creating the demo host: network namespace ", kNetns, ", underlay ",
                    kUnderlayAddress, ", mandantd reachable at ", kControllerAddress));
  absl::Cleanup undo = [] {
    testing::DeleteNamespace(kNetns);
    (void)testing::RunCommand({"ip", "link", "delete", kLink});
  };
  const std::vector<std::vector<std::string>> steps = {
      {"ip", "netns", "add", kNetns},
      {"ip", "link", "add", kLink, "type", "veth", "peer", "name", "mu0", "netns", kNetns},
      {"ip", "addr", "add", absl::StrCat(kControllerAddress, "/24"), "dev", kLink},
      {"ip", "link", "set", kLink, "up"},
      {"ip", "-n", kNetns, "addr", "add", absl::StrCat(kUnderlayAddress, "/24"), "dev", "mu0"},
      {"ip", "-n", kNetns, "link", "set", "mu0", "up"},
      {"ip", "-n", kNetns, "link", "set", "lo", "up"},
  };
  for (const std::vector<std::string>& step : steps) {
    MANDANT_RETURN_IF_ERROR(testing::RunCommand(step).status());
  }
  std::move(undo).Cancel();
  return absl::OkStatus();
}

absl::Status Demo::StartMandantd() {
  MANDANT_RETURN_IF_ERROR(WriteConfigs());
  Info("applying database migrations (mandantd migrate)");
  MANDANT_RETURN_IF_ERROR(Annotate(Mandantd({"migrate"}).status(), "mandantd migrate"));
  std::error_code ec;
  if (fs::file_size(files_.kek_file, ec) == 0 || ec) {
    Info(absl::StrCat("generating the key-encryption key (", files_.kek_file, ")"));
    MANDANT_ASSIGN_OR_RETURN(pki::Kek kek, pki::Kek::Generate("demo-kek-1"));
    pki::SecretBytes text = kek.ToText();
    MANDANT_RETURN_IF_ERROR(
        WriteFileAtomically(files_.kek_file, absl::StrCat(text.view(), "\n"), 0600));
  }
  absl::StatusOr<std::string> init =
      Mandantd({"pki", "init", "--output", files_.root_ca_file, "--existing_ok"});
  if (!init.ok()) return Annotate(init.status(), "mandantd pki init");
  Info(absl::StrJoin(absl::StrSplit(absl::StripAsciiWhitespace(*init), '\n'), "; "));
  MANDANT_RETURN_IF_ERROR(IssueDatabaseCerts());

  Info(absl::StrCat("starting mandantd on 127.0.0.1:", ports_.grpc,
                    " (gRPC, TLS), metrics on 127.0.0.1:", ports_.metrics));
  std::ofstream(files_.mandantd_log, std::ios::app)
      << "\n=== scripts/demo start, " << absl::FormatTime(absl::Now(), absl::UTCTimeZone()) << "\n";
  MANDANT_ASSIGN_OR_RETURN(pid_t pid, testing::SpawnDetached({options_.mandantd, "serve",
                                                              "--config", files_.mandantd_config},
                                                             files_.mandantd_log));
  MANDANT_RETURN_IF_ERROR(
      WriteFileAtomically(files_.mandantd_pid_file, absl::StrCat(pid, "\n"), 0644));
  return WaitHealthy(pid);
}

absl::Status Demo::WaitHealthy(int pid) {
  const absl::Time deadline = absl::Now() + absl::Seconds(kHealthSeconds);
  while (absl::Now() < deadline) {
    if (!testing::ProcessRuns(pid, "mandantd")) {
      fs::remove(files_.mandantd_pid_file);
      return absl::UnavailableError(absl::StrCat("mandantd exited during start-up; the end of ",
                                                 files_.mandantd_log, ":\n",
                                                 Tail(files_.mandantd_log, 3000)));
    }
    if (HttpStatus(ports_.metrics, "/healthz") == 200) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(500));
  }
  // Leave nothing half-started behind.
  testing::StopProcess(pid, kShutdownGraceSeconds + 5);
  fs::remove(files_.mandantd_pid_file);
  return absl::UnavailableError(
      absl::StrCat("mandantd did not answer http://127.0.0.1:", ports_.metrics,
                   "/healthz with 200 within ", kHealthSeconds, " s; the end of ",
                   files_.mandantd_log, ":\n", Tail(files_.mandantd_log, 3000)));
}

// A token the server refuses as unauthenticated (expired, or made for an
// earlier database) is replaced; other failures are not the token's fault.
absl::Status Demo::EnsureOperatorToken() {
  std::error_code ec;
  if (fs::file_size(files_.token_file, ec) > 0 && !ec) {
    absl::StatusOr<std::string> list = Ctl({"tenant", "list", "--page-size", "1"});
    if (list.ok() || !absl::StrContains(list.status().message(), "UNAUTHENTICATED")) {
      return absl::OkStatus();
    }
    Info(absl::StrCat("mandantd no longer accepts ", files_.token_file,
                      " (expired, or made for an earlier database)"));
    fs::remove(files_.token_file);
  }
  Info(absl::StrCat("creating the operator token (", files_.token_file, ")"));
  return Annotate(Mandantd({"token", "create", "--subject", "demo-operator", "--role",
                            "provider-admin", "--output", files_.token_file})
                      .status(),
                  "mandantd token create");
}

absl::Status Demo::EnsureTenant() {
  if (Ctl({"tenant", "get", "demo"}).ok()) {
    Info("tenant \"demo\" exists");
  } else {
    Info("creating tenant \"demo\"");
    MANDANT_RETURN_IF_ERROR(
        Ctl({"tenant", "create", "demo", "--display-name", "Demo tenant"}).status());
  }
  MANDANT_ASSIGN_OR_RETURN(std::string list, Ctl({"tenant", "list"}));
  Info("tenants:");
  std::fputs(list.c_str(), stdout);
  return absl::OkStatus();
}

absl::Status Demo::EnsureHost() {
  if (Ctl({"host", "get", kHost}).ok()) return absl::OkStatus();
  Info(absl::StrCat("registering host \"", kHost, "\" (bootstrap token in ",
                    files_.agent_token_file, ")"));
  // The host is new to this database: an identity of an earlier one is void.
  std::error_code ec;
  fs::remove_all(AgentStateDir() + "/identity", ec);
  fs::remove(files_.agent_token_file, ec);
  return Ctl({"host", "create", kHost, "--underlay-address", kUnderlayAddress, "--out-token",
              files_.agent_token_file})
      .status();
}

bool Demo::HostReady() {
  absl::StatusOr<std::string> out = Ctl({"host", "get", kHost, "-o", "json"});
  if (!out.ok()) return false;
  nlohmann::json host = nlohmann::json::parse(*out, nullptr, /*allow_exceptions=*/false);
  if (!host.is_object() || !host.contains("conditions") || !host["conditions"].is_array()) {
    return false;
  }
  for (const nlohmann::json& c : host["conditions"]) {
    if (c.value("type", "") == "Ready" && c.value("status", "") == "CONDITION_STATUS_TRUE") {
      return true;
    }
  }
  return false;
}

absl::Status Demo::StartAgent() {
  if (int pid = AgentPid(); pid > 0) {
    Info(absl::StrCat("mandant-agent already runs (pid ", pid, ")"));
    return absl::OkStatus();
  }
  const std::string state_dir = AgentStateDir();
  MANDANT_RETURN_IF_ERROR(MakeDir(state_dir, fs::perms(0700)));
  Info(absl::StrCat("starting mandant-agent for host \"", kHost, "\" in ", kNetns, " (state ",
                    state_dir, ", log ", files_.agent_log, ")"));
  std::ofstream(files_.agent_log, std::ios::app)
      << "\n=== scripts/demo start, " << absl::FormatTime(absl::Now(), absl::UTCTimeZone()) << "\n";
  MANDANT_ASSIGN_OR_RETURN(
      pid_t pid,
      testing::SpawnInNamespace(
          kNetns,
          {options_.agent, "--controller", absl::StrCat(kControllerAddress, ":", ports_.grpc),
           "--host", kHost, "--underlay_address", kUnderlayAddress, "--state_dir", state_dir,
           "--ca_file", files_.root_ca_file, "--token_file", files_.agent_token_file,
           "--reserve_memory_mib", "512", "--reserve_disk_gib", "1"},
          files_.agent_log, /*detached=*/true));
  MANDANT_RETURN_IF_ERROR(
      WriteFileAtomically(files_.agent_pid_file, absl::StrCat(pid, "\n"), 0644));
  const absl::Time deadline = absl::Now() + absl::Seconds(kAgentReadySeconds);
  while (!HostReady()) {
    if (!testing::ProcessRuns(pid, "mandant-agent")) {
      fs::remove(files_.agent_pid_file);
      return absl::UnavailableError(
          absl::StrCat("mandant-agent exited during start-up; the end of ", files_.agent_log, ":\n",
                       Tail(files_.agent_log, 2000)));
    }
    if (absl::Now() > deadline) {
      testing::StopProcess(pid, 10);
      fs::remove(files_.agent_pid_file);
      return absl::DeadlineExceededError(
          absl::StrCat("host \"", kHost, "\" did not become Ready within ", kAgentReadySeconds,
                       " s (agent stopped); the end of ", files_.agent_log, ":\n",
                       Tail(files_.agent_log, 2000)));
    }
    absl::SleepFor(absl::Seconds(1));
  }
  // Enrolled: the one-time token is spent.
  std::error_code ec;
  fs::remove(files_.agent_token_file, ec);
  MANDANT_ASSIGN_OR_RETURN(std::string list, Ctl({"host", "list"}));
  Info(absl::StrCat("host \"", kHost, "\" is Ready:"));
  std::fputs(list.c_str(), stdout);
  return absl::OkStatus();
}

int Demo::MandantdPid() const {
  int pid = ReadPid(files_.mandantd_pid_file);
  return testing::ProcessRuns(pid, "mandantd") ? pid : 0;
}

int Demo::AgentPid() const {
  int pid = ReadPid(files_.agent_pid_file);
  return testing::ProcessRuns(pid, "mandant-agent") ? pid : 0;
}

bool Demo::PostgresRuns() const {
  if (!fs::exists(files_.pg_data + "/PG_VERSION")) return false;
  absl::StatusOr<std::unique_ptr<PostgresServer>> server =
      PostgresServer::Attach(DatabaseOptions());
  return server.ok() && (*server)->IsRunning();
}

// VM status sockets live below the agent's state folder, and a Unix socket
// path holds at most 107 bytes, so it must be short (40 bytes).
std::string Demo::AgentStateDir() const {
  std::string dir = absl::StrCat(dir_, "/", kHost);
  return dir.size() > 40 ? absl::StrCat("/var/lib/mandant-demo-", kHost) : dir;
}

absl::Status Demo::StartDatabase() {
  MANDANT_RETURN_IF_ERROR(CheckHost());
  LoadState();
  MANDANT_RETURN_IF_ERROR(SetUpDatabase());
  std::printf("\nPostgreSQL for Mandant is running (TLS only).\n\n  psql \"%s\"\n",
              DatabaseConninfo().c_str());
  return absl::OkStatus();
}

absl::Status Demo::Start() {
  MANDANT_RETURN_IF_ERROR(CheckHost());
  LoadState();
  // First: mandantd also listens on the demo host's link.
  MANDANT_RETURN_IF_ERROR(Annotate(EnsureNamespace(), "demo host namespace"));
  if (PostgresRuns() && MandantdPid() > 0) {
    // The steps below finish what an interrupted start may have left
    // undone; they are no-ops otherwise.
    Info(absl::StrCat("the demo is running already (mandantd pid ", MandantdPid(), ")"));
  } else {
    MANDANT_RETURN_IF_ERROR(SetUpDatabase());
    if (MandantdPid() == 0) MANDANT_RETURN_IF_ERROR(StartMandantd());
  }
  MANDANT_RETURN_IF_ERROR(EnsureOperatorToken());
  MANDANT_RETURN_IF_ERROR(Annotate(EnsureTenant(), "tenant demo"));
  MANDANT_RETURN_IF_ERROR(Annotate(EnsureHost(), "host hv1"));
  MANDANT_RETURN_IF_ERROR(StartAgent());
  PrintSummary();
  return absl::OkStatus();
}

absl::Status Demo::Stop() {
  LoadState();
  bool stopped = false;
  // VMs keep running without their agent; the demo has none yet.
  if (int pid = AgentPid(); pid > 0) {
    Info(absl::StrCat("stopping mandant-agent (pid ", pid, ")"));
    stopped |= testing::StopProcess(pid, 10);
  }
  std::error_code ec;
  fs::remove(files_.agent_pid_file, ec);
  if (int pid = MandantdPid(); pid > 0) {
    Info(absl::StrCat("stopping mandantd (pid ", pid, ")"));
    stopped |= testing::StopProcess(pid, kShutdownGraceSeconds + 5);
  }
  fs::remove(files_.mandantd_pid_file, ec);
  if (PostgresRuns()) {
    Info("stopping PostgreSQL");
    MANDANT_ASSIGN_OR_RETURN(std::unique_ptr<PostgresServer> server,
                             PostgresServer::Attach(DatabaseOptions()));
    MANDANT_RETURN_IF_ERROR(server->Stop());
    stopped = true;
  }
  if (!stopped) Info("nothing of the demo is running");
  return absl::OkStatus();
}

absl::Status Demo::Status() {
  if (!fs::exists(dir_)) {
    std::printf("demo: not set up (no %s)\n", dir_.c_str());
    return absl::OkStatus();
  }
  LoadState();
  if (PostgresRuns()) {
    std::printf("postgresql: running on 127.0.0.1:%d (data %s)\n", ports_.pg,
                files_.pg_data.c_str());
  } else {
    std::printf("postgresql: stopped\n");
  }
  if (int pid = MandantdPid(); pid > 0) {
    std::printf(
        "mandantd:   running, pid %d, gRPC 127.0.0.1:%d, metrics 127.0.0.1:%d (healthz %d, "
        "readyz %d)\n",
        pid, ports_.grpc, ports_.metrics, HttpStatus(ports_.metrics, "/healthz"),
        HttpStatus(ports_.metrics, "/readyz"));
  } else {
    std::printf("mandantd:   stopped\n");
  }
  if (int pid = AgentPid(); pid > 0) {
    std::printf("agent:      running, pid %d, host %s in namespace %s (log %s)\n", pid, kHost,
                kNetns, files_.agent_log.c_str());
  } else {
    std::printf("agent:      stopped\n");
  }
  std::printf("namespace:  %s %s\n", kNetns,
              testing::NamespaceExists(kNetns) ? "exists" : "does not exist");
  return absl::OkStatus();
}

absl::Status Demo::Clean() {
  MANDANT_RETURN_IF_ERROR(Stop());
  if (testing::NamespaceExists(kNetns)) {
    Info(absl::StrCat("removing the network namespace ", kNetns));
    testing::DeleteNamespace(kNetns);
  }
  std::error_code ec;
  const std::string state_dir = AgentStateDir();
  if (!absl::StartsWith(state_dir, dir_ + "/")) fs::remove_all(state_dir, ec);
  if (fs::exists(dir_)) {
    Info(absl::StrCat("removing ", dir_));
    fs::remove_all(dir_, ec);
    if (ec) return absl::InternalError(absl::StrCat("rm -rf ", dir_, ": ", ec.message()));
  }
  return absl::OkStatus();
}

void Demo::PrintSummary() const {
  const std::string ctl = absl::StrCat(options_.mandantctl, " --config ", files_.mandantctl_config);
  const std::string script = options_.repo_dir + "/scripts/demo";
  std::printf(
      R"(
Mandant demo is running.

  gRPC API (TLS)  127.0.0.1:%d
  CA to trust     %s  (Mandant's root; mandantd's certificate
                  is issued by its infrastructure CA)
  operator token  %s  (role provider-admin)
  metrics         http://127.0.0.1:%d/metrics  (/healthz, /readyz)
  PostgreSQL      127.0.0.1:%d, TLS only, database and role "mandant",
                  client certificate %s
  host %s        mandant-agent in network namespace %s,
                  underlay %s, state %s
  logs            %s
                  %s
                  %s

Try:
  %s tenant list
  %s tenant get demo -o yaml
  %s host list
  %s host get %s
  %s tenant create acme --display-name "Acme Corp"
  %s tenant delete acme
  %s pki issue --parent tenants/demo --dns api.demo.svc.mandant.internal \
      --out-cert /tmp/api.crt --out-key /tmp/api.key
  %s pki list --parent tenants/demo
  %s login        # then every command uses a client certificate (mTLS)
  %s config view

or, instead of --config, in this shell:
  export MANDANT_SERVER=127.0.0.1:%d MANDANT_CA_FILE=%s \
         MANDANT_TOKEN_FILE=%s
  %s tenant list

Stop with:    %s stop
Remove all:   %s clean
)",
      ports_.grpc, files_.root_ca_file.c_str(), files_.token_file.c_str(), ports_.metrics,
      ports_.pg, files_.db_client_cert.c_str(), kHost, kNetns, kUnderlayAddress,
      AgentStateDir().c_str(), files_.mandantd_log.c_str(), files_.agent_log.c_str(),
      files_.pg_log.c_str(), ctl.c_str(), ctl.c_str(), ctl.c_str(), ctl.c_str(), kHost, ctl.c_str(),
      ctl.c_str(), ctl.c_str(), ctl.c_str(), ctl.c_str(), ctl.c_str(), ports_.grpc,
      files_.root_ca_file.c_str(), files_.token_file.c_str(), options_.mandantctl.c_str(),
      script.c_str(), script.c_str());
}

}  // namespace mandant::demo
