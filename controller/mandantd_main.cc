// mandantd: the Mandant controller.
//
//   mandantd serve   --config FILE    serve the gRPC API (the default)
//   mandantd migrate --config FILE    bring the database schema up to date
//   mandantd token create --config FILE --subject S --role R [--tenant T]
//                         [--ttl 720h] --output FILE
//   mandantd version

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"

#include "common/files.h"
#include "common/logging.h"
#include "common/secrets.h"
#include "common/status_macros.h"
#include "controller/auth/tokens.h"
#include "controller/config.h"
#include "controller/pki/issuers.h"
#include "controller/server.h"
#include "controller/store/audit_store.h"
#include "controller/store/migrator.h"
#include "controller/store/pki_store.h"
#include "pki/certificate_authority.h"
#include "pki/encoding.h"
#include "pki/key.h"

ABSL_FLAG(std::string, config, "/etc/mandant/mandantd.yaml", "mandantd configuration file");
ABSL_FLAG(std::string, listen, "", "overrides the config's listen address");
ABSL_FLAG(std::string, subject, "", "token create: who the token is for");
ABSL_FLAG(std::string, role, "", "token create: provider-admin, tenant-admin or tenant-viewer");
ABSL_FLAG(std::string, tenant, "", "token create: the tenant id, for tenant roles");
ABSL_FLAG(absl::Duration, ttl, absl::Hours(24 * 30), "token create, pki issue: lifetime");
ABSL_FLAG(bool, existing_ok, false,
          "pki init: succeed without changes when the PKI is already initialized (still "
          "writing the root certificate to --output)");
ABSL_FLAG(bool, remove, false,
          "pki export-root: also delete the root's key from the database (keep it offline)");
ABSL_FLAG(std::string, root_key, "",
          "pki sign-pending: PEM file with the root's certificate and private key, as written "
          "by pki export-root");
ABSL_FLAG(std::string, common_name, "",
          "pki issue: the certificate's CN, e.g. the PostgreSQL role of a database client");
ABSL_FLAG(std::vector<std::string>, dns, {}, "pki issue: DNS names (comma-separated)");
ABSL_FLAG(std::vector<std::string>, ip, {}, "pki issue: IP addresses (comma-separated)");
ABSL_FLAG(std::string, usage, "", "pki issue: server or client");
ABSL_FLAG(std::string, cert_out, "", "pki issue: file for the certificate and its chain (PEM)");
ABSL_FLAG(std::string, key_out, "",
          "pki issue: file for the private key (PEM, created with mode 0600, never overwritten)");
ABSL_FLAG(std::string, output, "",
          "token create: file to write the token to (mode 0600); pki init: file to write the "
          "root CA certificate to (PEM), the trust anchor of Mandant's parts");

namespace mandant::controller {
namespace {

constexpr char kVersion[] = "0.1.0";

int Fail(const absl::Status& status) {
  std::cerr << "mandantd: " << status.message() << "\n";
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

// The audit row of an administrative mandantd command, run by whoever has the
// configuration (and so the database) at hand: recorded as mandantd itself.
absl::Status AuditCommand(store::Connection& conn, absl::string_view command, std::string object,
                          std::string message) {
  store::AuditRecord record;
  record.principal = "mandantd";
  record.role = std::string(auth::RoleName(auth::Role::kProviderAdmin));
  record.method = std::string(command);
  record.object = std::move(object);
  record.message = std::move(message);
  return store::AppendAudit(conn, record);
}

absl::StatusOr<ControllerConfig> LoadAndInit() {
  auto config = LoadConfig(absl::GetFlag(FLAGS_config));
  if (!config.ok()) return config.status();
  if (!absl::GetFlag(FLAGS_listen).empty()) config->listen = absl::GetFlag(FLAGS_listen);
  if (absl::Status st = logging::Init(config->log_level, config->log_format); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("log.level: ", st.message()));
  }
  return config;
}

int Migrate() {
  auto config = LoadAndInit();
  if (!config.ok()) return Fail(config.status());
  auto options = DatabaseOptionsFrom(*config);
  if (!options.ok()) return Fail(options.status());
  auto conn = store::Connection::Open(options->conninfo, options->password);
  if (!conn.ok()) return Fail(conn.status());
  auto report = store::Migrate(**conn, store::BuiltinMigrations());
  if (!report.ok()) return Fail(report.status());
  std::cout << "schema at version " << report->to_version << " (was " << report->from_version
            << ", applied " << report->applied.size() << ")\n";
  return 0;
}

int CreateTokenCommand() {
  const std::string output = absl::GetFlag(FLAGS_output);
  if (output.empty()) {
    return Fail(absl::InvalidArgumentError(
        "--output: required; the token is written to that file (mode 0600), never printed"));
  }
  auto role = auth::ParseRole(absl::GetFlag(FLAGS_role));
  if (!role.ok())
    return Fail(absl::InvalidArgumentError(absl::StrCat("--role: ", role.status().message())));
  auto config = LoadAndInit();
  if (!config.ok()) return Fail(config.status());
  auto options = DatabaseOptionsFrom(*config);
  if (!options.ok()) return Fail(options.status());
  options->pool_size = 1;
  auto db = store::Database::Create(*options);
  if (!db.ok()) return Fail(db.status());
  auto token = auth::CreateToken(**db, absl::GetFlag(FLAGS_subject), *role,
                                 absl::GetFlag(FLAGS_tenant), absl::GetFlag(FLAGS_ttl));
  if (!token.ok()) return Fail(token.status());
  const mode_t old_umask = umask(077);
  std::ofstream out(output, std::ios::trunc);
  out << token->token << "\n";
  out.close();
  umask(old_umask);
  if (!out || chmod(output.c_str(), 0600) != 0) {
    return Fail(absl::InternalError(absl::StrCat("cannot write token file \"", output, "\"")));
  }
  std::cout << "token " << token->id << " for " << absl::GetFlag(FLAGS_subject) << " ("
            << absl::GetFlag(FLAGS_role) << ") written to " << output << ", expires "
            << absl::FormatTime(token->expire_time) << "\n";
  return 0;
}

// A one-connection database for the admin commands.
absl::StatusOr<std::unique_ptr<store::Database>> AdminDatabase(const ControllerConfig& config) {
  MANDANT_ASSIGN_OR_RETURN(store::DatabaseOptions options, DatabaseOptionsFrom(config));
  options.pool_size = 1;
  MANDANT_ASSIGN_OR_RETURN(auto db, store::Database::Create(options));
  MANDANT_RETURN_IF_ERROR(db->Run("check schema", [](store::Connection& conn) {
    return store::CheckSchema(conn, store::BuiltinMigrations()).status();
  }));
  return db;
}

int PkiInit() {
  auto config = LoadAndInit();
  if (!config.ok()) return Fail(config.status());
  auto keys = KeyRingFrom(*config);
  if (!keys.ok()) return Fail(keys.status());
  auto db = AdminDatabase(*config);
  if (!db.ok()) return Fail(db.status());
  Issuers issuers(config->pki, *std::move(keys));
  std::vector<store::IssuerRow> rows;
  bool existed = false;
  absl::Status st = (*db)->Transact("pki init", [&](store::Connection& conn) -> absl::Status {
    store::PkiStore pki_store;
    MANDANT_ASSIGN_OR_RETURN(auto root, pki_store.ActiveIssuer(conn, store::kInfrastructureScope,
                                                               "", store::IssuerKind::kRoot));
    if (root && absl::GetFlag(FLAGS_existing_ok)) {
      existed = true;
      rows = {*std::move(root)};
      return absl::OkStatus();
    }
    MANDANT_ASSIGN_OR_RETURN(rows, issuers.Init(conn, absl::Now()));
    return AuditCommand(conn, "mandantd pki init", "infrastructure",
                        absl::StrCat("root ", rows[0].id, ", infrastructure ", rows[1].id));
  });
  if (!st.ok()) return Fail(st);
  if (existed) {
    std::cout << "Mandant's PKI is already initialized (root infrastructure/issuers/" << rows[0].id
              << ")\n";
  }
  for (const store::IssuerRow& row : existed ? std::vector<store::IssuerRow>() : rows) {
    std::cout << "created infrastructure/issuers/" << row.id << " ("
              << store::IssuerKindText(row.kind) << ", " << row.subject << ", until "
              << absl::FormatTime("%Y-%m-%d", row.not_after, absl::UTCTimeZone()) << ")\n";
  }
  const std::string output = absl::GetFlag(FLAGS_output);
  if (!output.empty()) {
    std::ofstream out(output, std::ios::trunc);
    out << rows[0].certificate_pem;
    out.close();
    if (!out) return Fail(absl::InternalError(absl::StrCat("cannot write \"", output, "\"")));
    std::cout << "root certificate written to " << output << "\n";
  }
  return 0;
}

// Files for programs that read their identity only from files (PostgreSQL,
// libpq): an infrastructure certificate and its key, the key generated here
// and written once with mode 0600.
int PkiIssue() {
  const std::string cert_out = absl::GetFlag(FLAGS_cert_out);
  const std::string key_out = absl::GetFlag(FLAGS_key_out);
  const std::string usage = absl::GetFlag(FLAGS_usage);
  const std::string cn = absl::GetFlag(FLAGS_common_name);
  std::vector<std::string> problems;
  if (cert_out.empty()) problems.push_back("--cert_out: required");
  if (key_out.empty()) problems.push_back("--key_out: required");
  if (usage != "server" && usage != "client") problems.push_back("--usage: server or client");
  if (cn.empty() && absl::GetFlag(FLAGS_dns).empty() && absl::GetFlag(FLAGS_ip).empty()) {
    problems.push_back("--common_name, --dns or --ip: at least one name");
  }
  if (absl::StartsWith(cn, "host/")) problems.push_back("--common_name: host/ is for agents");
  if (!problems.empty()) {
    return Fail(absl::InvalidArgumentError(absl::StrJoin(problems, "; ")));
  }
  auto config = LoadAndInit();
  if (!config.ok()) return Fail(config.status());
  auto keys = KeyRingFrom(*config);
  if (!keys.ok()) return Fail(keys.status());
  auto db = AdminDatabase(*config);
  if (!db.ok()) return Fail(db.status());
  Issuers issuers(config->pki, *std::move(keys));

  auto key = pki::GenerateKey(pki::KeyType::kEcdsaP256);
  if (!key.ok()) return Fail(key.status());
  pki::LeafSpec spec;
  spec.public_key = key->get();
  spec.common_name = cn;
  spec.subject_alt_names.dns_names = absl::GetFlag(FLAGS_dns);
  spec.subject_alt_names.ip_addresses = absl::GetFlag(FLAGS_ip);
  spec.extended_key_usages = {usage == "server" ? pki::ExtendedKeyUsage::kServerAuth
                                                : pki::ExtendedKeyUsage::kClientAuth};
  IssuedCertificate issued;
  absl::Status st = (*db)->Transact("pki issue", [&](store::Connection& conn) -> absl::Status {
    store::PkiStore pki_store;
    MANDANT_ASSIGN_OR_RETURN(auto issuer,
                             pki_store.ActiveIssuer(conn, store::kInfrastructureScope, "",
                                                    store::IssuerKind::kInfrastructure));
    if (!issuer) {
      return absl::FailedPreconditionError(
          "no ACTIVE infrastructure issuer; run `mandantd pki init`");
    }
    const absl::Time now = absl::Now();
    spec.not_after = now + absl::GetFlag(FLAGS_ttl);
    MANDANT_ASSIGN_OR_RETURN(issued, issuers.IssueLeaf(conn, *issuer, spec, now));
    return AuditCommand(conn, "mandantd pki issue",
                        absl::StrCat("infrastructure/certificates/", issued.row.serial), "");
  });
  if (!st.ok()) return Fail(st);
  auto key_pem = pki::PrivateKeyToPem(key->get());
  if (!key_pem.ok()) return Fail(key_pem.status());
  const int fd = open(key_out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat("--key_out: cannot create \"", key_out, "\" (", std::strerror(errno),
                     "); it must not exist yet. The certificate ", issued.row.serial,
                     " was issued; revoke it if it is not needed")));
  }
  const bool wrote =
      write(fd, key_pem->data(), key_pem->size()) == static_cast<ssize_t>(key_pem->size());
  close(fd);
  std::ofstream out(cert_out, std::ios::trunc);
  out << issued.row.certificate_pem << issued.chain_pem;
  out.close();
  if (!wrote || !out) return Fail(absl::InternalError("cannot write the output files"));
  std::cout << "issued infrastructure/certificates/" << issued.row.serial << " ("
            << issued.row.subject << ", until "
            << absl::FormatTime("%Y-%m-%d %H:%M", issued.row.not_after, absl::UTCTimeZone())
            << " UTC) to " << cert_out << ", key " << key_out << "\n";
  return 0;
}

// The root's certificate and key to a new 0600 file, optionally removing
// the key from the database: from then on the root is offline.
int PkiExportRoot() {
  const std::string output = absl::GetFlag(FLAGS_output);
  if (output.empty()) {
    return Fail(absl::InvalidArgumentError(
        "--output: required; the root's key is written to that file (mode 0600), never printed"));
  }
  auto config = LoadAndInit();
  if (!config.ok()) return Fail(config.status());
  auto keys = KeyRingFrom(*config);
  if (!keys.ok()) return Fail(keys.status());
  auto db = AdminDatabase(*config);
  if (!db.ok()) return Fail(db.status());
  Issuers issuers(config->pki, *std::move(keys));
  const int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Fail(absl::FailedPreconditionError(absl::StrCat("--output: cannot create \"", output,
                                                           "\" (", std::strerror(errno),
                                                           "); it must not exist yet")));
  }
  const bool remove = absl::GetFlag(FLAGS_remove);
  std::string id;
  // The file is written and synced inside the transaction: the key leaves
  // the database only once it is safely on disk.
  absl::Status st =
      (*db)->Transact("pki export-root", [&](store::Connection& conn) -> absl::Status {
        MANDANT_ASSIGN_OR_RETURN(Issuers::ExportedRoot root, issuers.ExportRoot(conn, remove));
        id = root.id;
        const std::string text = absl::StrCat(root.certificate_pem, root.key_pem.view());
        if (ftruncate(fd, 0) != 0 ||
            pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
            fsync(fd) != 0) {
          return absl::InternalError(absl::StrCat("cannot write \"", output, "\""));
        }
        return AuditCommand(conn, "mandantd pki export-root",
                            absl::StrCat("infrastructure/issuers/", root.id),
                            remove ? "exported and removed from the database" : "exported");
      });
  close(fd);
  if (!st.ok()) {
    unlink(output.c_str());
    return Fail(st);
  }
  std::cout << "root infrastructure/issuers/" << id << " written to " << output
            << (remove ? "; its key is no longer in the database: new tenants' CAs wait for "
                         "`mandantd pki sign-pending --root_key "
                       : "")
            << (remove ? output + "`" : "") << "\n";
  return 0;
}

// A ceremony with the offline root: signs the pending tenant CAs and the
// root's CRL, then forgets the key.
int PkiSignPending() {
  const std::string root_key = absl::GetFlag(FLAGS_root_key);
  if (root_key.empty()) return Fail(absl::InvalidArgumentError("--root_key: required"));
  auto text = ReadSecretFile(root_key);
  if (!text.ok()) return Fail(text.status());
  auto ca = pki::CertificateAuthority::FromPem(*text, *text);
  if (!ca.ok()) return Fail(ca.status());
  auto config = LoadAndInit();
  if (!config.ok()) return Fail(config.status());
  auto keys = KeyRingFrom(*config);
  if (!keys.ok()) return Fail(keys.status());
  auto db = AdminDatabase(*config);
  if (!db.ok()) return Fail(db.status());
  Issuers issuers(config->pki, *std::move(keys));
  auto shared = std::make_shared<const pki::CertificateAuthority>(*std::move(ca));
  int count = 0;
  absl::Status st =
      (*db)->Transact("pki sign-pending", [&](store::Connection& conn) -> absl::Status {
        MANDANT_RETURN_IF_ERROR(issuers.AttachOfflineRoot(conn, shared));
        MANDANT_ASSIGN_OR_RETURN(count, issuers.SignPending(conn, absl::Now()));
        return AuditCommand(conn, "mandantd pki sign-pending", "infrastructure",
                            absl::StrCat("signed ", count, " tenant CA(s) and the root CRL"));
      });
  if (!st.ok()) return Fail(st);
  std::cout << "signed " << count << " pending tenant CA(s) and the root's CRL\n";
  return 0;
}

int PkiRotateKek() {
  auto config = LoadAndInit();
  if (!config.ok()) return Fail(config.status());
  auto keys = KeyRingFrom(*config);
  if (!keys.ok()) return Fail(keys.status());
  const std::string current = keys->current().id();
  auto db = AdminDatabase(*config);
  if (!db.ok()) return Fail(db.status());
  Issuers issuers(config->pki, *std::move(keys));
  // One transaction: a running mandantd keeps working throughout, since it
  // holds both KEKs until its configuration drops the previous one.
  int total = 0;
  absl::Status st = (*db)->Transact("rotate kek", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(total, issuers.RewrapKeys(conn));
    return AuditCommand(conn, "mandantd pki rotate-kek", "infrastructure",
                        absl::StrCat("re-wrapped ", total, " CA key(s) under KEK ", current));
  });
  if (!st.ok()) return Fail(st);
  std::cout << "re-wrapped " << total << " CA key(s) under KEK \"" << current
            << "\"; the previous KEK is no longer needed\n";
  return 0;
}

int Serve() {
  auto config = LoadAndInit();
  if (!config.ok()) return Fail(config.status());
  ServerOptions options;
  options.listen = config->listen;
  options.metrics_listen = config->metrics_listen;
  if (!config->tls_cert_file.empty()) {
    auto cert = ReadFile(config->tls_cert_file);
    if (!cert.ok()) return Fail(cert.status());
    auto key = ReadSecretFile(config->tls_key_file);
    if (!key.ok()) return Fail(key.status());
    options.tls_cert_pem = *std::move(cert);
    options.tls_key_pem = *std::move(key);
  }
  auto db = DatabaseOptionsFrom(*config);
  if (!db.ok()) return Fail(db.status());
  options.database = *std::move(db);
  options.tenants.pools = config->pools;
  options.server_names = config->tls_server_names;
  options.pki = config->pki;
  options.agents = config->agents;
  options.edge = config->edge;
  auto keys = KeyRingFrom(*config);
  if (!keys.ok()) return Fail(keys.status());
  options.keys = *std::move(keys);

  // SIGTERM and SIGINT are taken by one thread, which shuts the server down.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = Server::Start(std::move(options));
  if (!server.ok()) return Fail(server.status());
  MANDANT_LOG(info, "mandantd started", {{"version", kVersion}, {"listen", config->listen}});
  const absl::Duration grace = config->shutdown_grace;
  Server* s = server->get();
  std::thread waiter([s, signals, grace] {
    int sig = 0;
    sigwait(&signals, &sig);
    MANDANT_LOG(info, "shutting down", {{"signal", sig}, {"grace_s", absl::ToInt64Seconds(grace)}});
    s->Shutdown(grace);
  });
  s->Wait();
  waiter.join();
  MANDANT_LOG(info, "mandantd stopped", {});
  spdlog::default_logger()->flush();
  return 0;
}

}  // namespace
}  // namespace mandant::controller

int main(int argc, char** argv) {
  // Debian builds abseil without NDEBUG, which leaves absl::Mutex's deadlock
  // detector on: every Lock (gRPC's own locks included) updates a global
  // lock graph. About 11% of mandantd's instructions per GetTenant.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "mandantd [serve|migrate|token create|pki init|pki issue|pki export-root|"
      "pki sign-pending|pki rotate-kek|version] "
      "--config FILE "
      "[flags]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  (void)mandant::logging::Init("info", mandant::logging::Format::kText);
  std::string command = args.size() > 1 ? args[1] : "serve";
  if (command == "serve") return mandant::controller::Serve();
  if (command == "migrate") return mandant::controller::Migrate();
  if (command == "token" && args.size() > 2 && std::string(args[2]) == "create") {
    return mandant::controller::CreateTokenCommand();
  }
  if (command == "pki" && args.size() > 2 && std::string(args[2]) == "init") {
    return mandant::controller::PkiInit();
  }
  if (command == "pki" && args.size() > 2 && std::string(args[2]) == "export-root") {
    return mandant::controller::PkiExportRoot();
  }
  if (command == "pki" && args.size() > 2 && std::string(args[2]) == "sign-pending") {
    return mandant::controller::PkiSignPending();
  }
  if (command == "pki" && args.size() > 2 && std::string(args[2]) == "issue") {
    return mandant::controller::PkiIssue();
  }
  if (command == "pki" && args.size() > 2 && std::string(args[2]) == "rotate-kek") {
    return mandant::controller::PkiRotateKek();
  }
  if (command == "version") {
    std::cout << "mandantd " << mandant::controller::kVersion << "\n";
    return 0;
  }
  std::cerr << "mandantd: unknown command \"" << command
            << "\"; use serve, migrate, \"token create\", \"pki init\", \"pki issue\", \"pki "
               "rotate-kek\" "
               "or version\n";
  return 2;
}
