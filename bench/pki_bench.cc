// mandant_pki_bench: certificate issuance throughput (PEM CSR in, PEM
// certificate out) under a name-constrained tenant intermediate, against raw
// ECDSA P-256 signing with the same key, measured in the same run
// (docs/benchmarks.md).
//
//   mandant_pki_bench [--duration=2s] [--rounds=3] [--threads=1,2] [--csrs=512]
//
// Every round runs, for each thread count, the baseline and then each
// issuance workload for --duration; ratios are taken within a round, and the
// median round is printed. The last line is one JSON object. Exits 0 whatever
// the figures are; 1 when setting up or issuing fails, 2 on bad flags.

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/x509.h>

#include "controller/pki/issuers.h"
#include "controller/store/pg.h"
#include "controller/store/pki_store.h"
#include "pki/certificate_authority.h"
#include "pki/certificate_info.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "pki/name_constraints.h"
#include "pki/openssl_ptr.h"
#include "tests/support/postgres_server.h"

ABSL_FLAG(absl::Duration, duration, absl::Seconds(2), "measured time of each phase");
ABSL_FLAG(absl::Duration, warmup, absl::Milliseconds(200), "unmeasured time before each phase");
ABSL_FLAG(int, rounds, 3, "rounds of all phases; the median round is reported");
ABSL_FLAG(std::string, threads, "1,2", "worker thread counts, comma-separated");
ABSL_FLAG(int, csrs, 512, "distinct pre-generated CSRs (own P-256 key and names each)");
ABSL_FLAG(bool, postgres, true,
          "also measure issuance with the inventory in a private PostgreSQL (fsync on), "
          "one transaction per certificate and batched");
ABSL_FLAG(int, record_batch, 64, "certificates per inventory transaction in the batched phase");

namespace mandant::bench {
namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// What an issuance workload does after a certificate is signed and encoded.

// The in-memory figures use no sink. The durable-inventory run plugs in one
// that records each certificate; it may batch, since Flush is called (and
// timed) when a worker stops. One sink per worker thread, never shared.
class CertificateSink {
 public:
  virtual ~CertificateSink() = default;
  // `cert` and `csr` are valid during the call only.
  virtual absl::Status Record(const pki::ParsedCsr& csr, X509* cert, std::string pem) = 0;
  virtual absl::Status Flush() { return absl::OkStatus(); }
};
using SinkFactory = std::function<absl::StatusOr<std::unique_ptr<CertificateSink>>()>;

struct IssuanceWorkload {
  std::string name;
  // Empty: no sink (in-memory issuance).
  SinkFactory sink;
};

// Reads what the inventory records about each certificate
// (DescribeCertificate) and keeps nothing: the CPU a durable sink spends
// before it talks to the database.
class DescribeSink : public CertificateSink {
 public:
  absl::Status Record(const pki::ParsedCsr& csr, X509* cert, std::string pem) override {
    absl::StatusOr<pki::CertificateInfo> info = pki::DescribeCertificate(cert);
    if (!info.ok()) return info.status();
    if (info->serial_hex.empty() || pem.empty()) return absl::InternalError("nothing described");
    return absl::OkStatus();
  }
};

// The inventory in PostgreSQL, as mandantd writes it (store::PkiStore),
// with fsync on, so that a commit is durable. Each worker has its own
// connection; `batch` certificates go into one transaction and one
// statement (PkiStore::InsertCertificates), 1 meaning a transaction per
// certificate, which is what IssueCertificate does today.
class PostgresSink : public CertificateSink {
 public:
  PostgresSink(std::unique_ptr<controller::store::Connection> conn, int batch)
      : conn_(std::move(conn)), batch_(batch) {}

  absl::Status Record(const pki::ParsedCsr& csr, X509* cert, std::string pem) override {
    absl::StatusOr<controller::store::CertificateRow> row =
        controller::InventoryRow(cert, kIssuerId, kScope, kTenantUid);
    if (!row.ok()) return row.status();
    pending_.push_back(*std::move(row));
    if (static_cast<int>(pending_.size()) >= batch_) return Flush();
    return absl::OkStatus();
  }

  absl::Status Flush() override {
    if (pending_.empty()) return absl::OkStatus();
    absl::Status st = conn_->Exec("BEGIN");
    if (st.ok()) st = store_.InsertCertificates(*conn_, pending_);
    if (st.ok()) st = conn_->Exec("COMMIT");
    if (!st.ok()) (void)conn_->Exec("ROLLBACK");
    pending_.clear();
    return st;
  }

  static constexpr absl::string_view kIssuerId = "20260101-0000aaaa";
  static constexpr absl::string_view kRootId = "20260101-0000bbbb";
  static constexpr absl::string_view kScope = "tenants/acme";
  static constexpr absl::string_view kTenantUid = "00000000-0000-4000-8000-000000000001";

 private:
  std::unique_ptr<controller::store::Connection> conn_;
  const int batch_;
  controller::store::PkiStore store_;
  std::vector<controller::store::CertificateRow> pending_;
};

// A private PostgreSQL with the schema and the fixture's CAs as issuer
// rows (keys offline: the bench signs in memory).
struct DurableInventory {
  std::unique_ptr<testing::PostgresServer> server;
  std::string conninfo;
};

absl::StatusOr<controller::store::IssuerRow> IssuerRowOf(
    const pki::CertificateAuthority& ca, absl::string_view id, controller::store::IssuerKind kind,
    absl::string_view scope, absl::string_view tenant_uid, absl::string_view signed_by) {
  absl::StatusOr<pki::CertificateInfo> info = pki::DescribeCertificate(ca.certificate());
  if (!info.ok()) return info.status();
  absl::StatusOr<std::string> pem = pki::CertificateToPem(ca.certificate());
  if (!pem.ok()) return pem.status();
  controller::store::IssuerRow row;
  row.id = std::string(id);
  row.scope = std::string(scope);
  row.tenant_uid = std::string(tenant_uid);
  row.kind = kind;
  row.state = controller::store::IssuerState::kActive;
  row.signed_by = std::string(signed_by);
  row.subject = info->subject;
  row.key_type = controller::KeyTypeText(info->key);
  row.public_key_sha256 = info->public_key_sha256;
  row.serial = info->serial_hex;
  row.not_before = info->not_before;
  row.not_after = info->not_after;
  row.certificate_pem = *pem;
  return row;
}

absl::StatusOr<DurableInventory> StartDurableInventory(const pki::CertificateAuthority& root,
                                                       const pki::CertificateAuthority& inter) {
  DurableInventory inv;
  absl::StatusOr<std::unique_ptr<testing::PostgresServer>> pg = testing::PostgresServer::Start();
  if (!pg.ok()) return pg.status();
  inv.server = *std::move(pg);
  // The test server runs with fsync off; the inventory figures need
  // commits that reach the disk.
  for (const char* setting : {"fsync = on", "full_page_writes = on", "synchronous_commit = on"}) {
    absl::StatusOr<std::string> on =
        inv.server->Psql("postgres", absl::StrCat("ALTER SYSTEM SET ", setting));
    if (!on.ok()) return on.status();
  }
  if (absl::Status st = inv.server->Stop(); !st.ok()) return st;
  if (absl::Status st = inv.server->Resume(); !st.ok()) return st;
  absl::StatusOr<std::string> db = inv.server->CreateMigratedDatabase();
  if (!db.ok()) return db.status();
  inv.conninfo = inv.server->conninfo(*db);
  absl::StatusOr<std::unique_ptr<controller::store::Connection>> conn =
      controller::store::Connection::Open(inv.conninfo, "");
  if (!conn.ok()) return conn.status();
  controller::store::PkiStore store;
  absl::StatusOr<controller::store::IssuerRow> root_row = IssuerRowOf(
      root, PostgresSink::kRootId, controller::store::IssuerKind::kRoot, "infrastructure", "", "");
  if (!root_row.ok()) return root_row.status();
  absl::StatusOr<controller::store::IssuerRow> inter_row =
      IssuerRowOf(inter, PostgresSink::kIssuerId, controller::store::IssuerKind::kTenant,
                  PostgresSink::kScope, PostgresSink::kTenantUid, PostgresSink::kRootId);
  if (!inter_row.ok()) return inter_row.status();
  if (absl::Status st = store.InsertIssuer(**conn, *root_row); !st.ok()) return st;
  if (absl::Status st = store.InsertIssuer(**conn, *inter_row); !st.ok()) return st;
  return inv;
}

SinkFactory PostgresSinkFactory(const DurableInventory* inv, int batch) {
  return [inv, batch]() -> absl::StatusOr<std::unique_ptr<CertificateSink>> {
    absl::StatusOr<std::unique_ptr<controller::store::Connection>> conn =
        controller::store::Connection::Open(inv->conninfo, "");
    if (!conn.ok()) return conn.status();
    return std::make_unique<PostgresSink>(*std::move(conn), batch);
  };
}

// The workloads measured against the baseline; the PostgreSQL ones when
// `inventory` is given.
std::vector<IssuanceWorkload> Workloads(const DurableInventory* inventory) {
  std::vector<IssuanceWorkload> out = {
      {"issue (in memory)", nullptr},
      {"issue + describe (no database)",
       []() -> absl::StatusOr<std::unique_ptr<CertificateSink>> {
         return std::make_unique<DescribeSink>();
       }},
  };
  if (inventory != nullptr) {
    out.push_back(
        {"issue + record, 1 per transaction (PostgreSQL)", PostgresSinkFactory(inventory, 1)});
    const int batch = absl::GetFlag(FLAGS_record_batch);
    out.push_back({absl::StrCat("issue + record, ", batch, " per transaction (PostgreSQL)"),
                   PostgresSinkFactory(inventory, batch)});
  }
  return out;
}

// ---------------------------------------------------------------------------
// Setup.

constexpr absl::string_view kTenant = "acme";
constexpr absl::string_view kCrlUrl = "https://pki.example.net/crl/tenant-acme-1.crl";

struct Fixture {
  pki::CertificateAuthority root;
  pki::CertificateAuthority intermediate;
  std::vector<std::string> csr_pems;
};

pki::SubjectAltNames NamesFor(int i) {
  pki::SubjectAltNames names;
  names.dns_names = {absl::StrFormat("svc-%d.prod.%s.svc.example.net", i, kTenant),
                     absl::StrFormat("svc-%d.%s.svc.example.net", i, kTenant)};
  names.uris = {absl::StrFormat("spiffe://%s.example.net/ns/prod/sa/svc-%d", kTenant, i)};
  names.ip_addresses = {absl::StrFormat("10.64.3.%d", 1 + i % 250)};
  return names;
}

absl::StatusOr<Fixture> MakeFixture(int csr_count, absl::Time now) {
  pki::RootCaSpec root_spec;
  root_spec.common_name = "Mandant bench root";
  root_spec.organization = "Mandant";
  absl::StatusOr<pki::CertificateAuthority> root = pki::CreateRootCa(root_spec, now);
  if (!root.ok()) return root.status();
  pki::IntermediateCaSpec spec;
  spec.common_name = absl::StrCat("Mandant tenant ", kTenant);
  spec.organization = "Mandant";
  spec.crl_distribution_point = "https://pki.example.net/crl/root-1.crl";
  pki::NameConstraints nc;
  nc.permitted_dns_domains = {absl::StrCat(kTenant, ".svc.example.net")};
  nc.permitted_uri_hosts = {absl::StrCat(kTenant, ".example.net")};
  nc.permitted_ip_ranges = {"10.64.3.0/24"};
  spec.name_constraints = nc;
  absl::StatusOr<pki::CertificateAuthority> inter = pki::CreateIntermediateCa(*root, spec, now);
  if (!inter.ok()) return inter.status();
  std::vector<std::string> pems;
  pems.reserve(csr_count);
  for (int i = 0; i < csr_count; ++i) {
    absl::StatusOr<pki::EvpPkeyPtr> key = pki::GenerateKey(pki::KeyType::kEcdsaP256);
    if (!key.ok()) return key.status();
    const pki::SubjectAltNames names = NamesFor(i);
    absl::StatusOr<pki::X509ReqPtr> req = pki::BuildCsr(key->get(), names.dns_names[0], names);
    if (!req.ok()) return req.status();
    absl::StatusOr<std::string> pem = pki::CsrToPem(req->get());
    if (!pem.ok()) return pem.status();
    pems.push_back(*std::move(pem));
  }
  return Fixture{*std::move(root), *std::move(inter), std::move(pems)};
}

// ---------------------------------------------------------------------------
// The measured operations.

enum Stage { kParse, kBuildSign, kEncode, kRecord, kStageCount };
constexpr std::array<const char*, kStageCount> kStageNames = {
    "parse CSR (ParseCsr: decode, verify, key check, names)", "build + sign (LeafSpec, IssueLeaf)",
    "encode (CertificateToPem)", "record (sink)"};

// Stages are timed, in thread CPU and wall-clock time, on every
// kTimedEvery-th operation only: reading the thread CPU clock is a system
// call (about 0.35 us here).
constexpr int64_t kTimedEvery = 4;

// Time spent per stage, summed over the timed operations: thread CPU time
// (what the stage costs) and wall-clock time (what it takes, waiting
// included: the figure for a sink that writes to a database).
struct StageTimes {
  std::array<int64_t, kStageCount> cpu_ns = {};
  std::array<int64_t, kStageCount> wall_ns = {};
};

struct WorkerResult {
  int64_t ops = 0;
  int64_t timed_ops = 0;
  double wall_seconds = 0;
  double cpu_seconds = 0;
  StageTimes stages;
};

int64_t Nanos(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

struct Mark {
  int64_t cpu_ns = 0;
  Clock::time_point wall;

  static Mark Now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return Mark{static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec, Clock::now()};
  }
};

// Adds the time from `from` to `to` to `stage`; nothing when `times` is null
// (an operation that is not timed).
void AddStage(StageTimes* times, Stage stage, const Mark& from, const Mark& to) {
  if (times == nullptr) return;
  times->cpu_ns[stage] += to.cpu_ns - from.cpu_ns;
  times->wall_ns[stage] += Nanos(from.wall, to.wall);
}

double ThreadCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

// One worker: `op` runs until the warmup and then the measured window end.
// `op(times)` returns false on failure (after printing why) and adds its
// stages' CPU time to `times` when that is not null; `finish(times)` runs
// once at the end of the window and is timed with it.
template <typename Op, typename Finish>
WorkerResult RunWorker(absl::Duration warmup, absl::Duration duration, Op op, Finish finish,
                       std::atomic<bool>* failed) {
  WorkerResult r;
  const Clock::time_point start = Clock::now();
  const Clock::time_point warm = start + absl::ToChronoNanoseconds(warmup);
  while (Clock::now() < warm && !failed->load()) {
    if (!op(nullptr)) failed->store(true);
  }
  const double cpu0 = ThreadCpuSeconds();
  const Clock::time_point t0 = Clock::now();
  const Clock::time_point end = t0 + absl::ToChronoNanoseconds(duration);
  while (Clock::now() < end && !failed->load()) {
    const bool timed = r.ops % kTimedEvery == 0;
    if (!op(timed ? &r.stages : nullptr)) {
      failed->store(true);
      break;
    }
    ++r.ops;
    if (timed) ++r.timed_ops;
  }
  if (!finish(&r.stages)) failed->store(true);
  r.wall_seconds = static_cast<double>(Nanos(t0, Clock::now())) * 1e-9;
  r.cpu_seconds = ThreadCpuSeconds() - cpu0;
  return r;
}

struct PhaseResult {
  int64_t ops = 0;
  double ops_per_second = 0;
  double cpu_us_per_op = 0;
  // Per operation: the mean over the timed operations of all threads.
  std::array<double, kStageCount> stage_cpu_us = {};
  std::array<double, kStageCount> stage_wall_us = {};
};

PhaseResult Combine(const std::vector<WorkerResult>& workers) {
  PhaseResult p;
  double wall = 0;
  double cpu = 0;
  int64_t timed_ops = 0;
  StageTimes sum;
  for (const WorkerResult& w : workers) {
    p.ops += w.ops;
    timed_ops += w.timed_ops;
    wall = std::max(wall, w.wall_seconds);
    cpu += w.cpu_seconds;
    for (int s = 0; s < kStageCount; ++s) {
      sum.cpu_ns[s] += w.stages.cpu_ns[s];
      sum.wall_ns[s] += w.stages.wall_ns[s];
    }
  }
  if (p.ops == 0 || wall <= 0) return p;
  p.ops_per_second = static_cast<double>(p.ops) / wall;
  p.cpu_us_per_op = cpu * 1e6 / static_cast<double>(p.ops);
  // A sink's Flush is timed once per thread, on top of the sampled
  // operations; spread over them it stands for all operations' share.
  if (timed_ops == 0) return p;
  for (int s = 0; s < kStageCount; ++s) {
    p.stage_cpu_us[s] = static_cast<double>(sum.cpu_ns[s]) * 1e-3 / static_cast<double>(timed_ops);
    p.stage_wall_us[s] =
        static_cast<double>(sum.wall_ns[s]) * 1e-3 / static_cast<double>(timed_ops);
  }
  return p;
}

// Runs `make_worker(thread_index)` on `threads` threads at once. Each call
// returns the WorkerResult of one thread.
template <typename MakeWorker>
absl::StatusOr<PhaseResult> RunPhase(int threads, MakeWorker make_worker) {
  std::atomic<bool> failed{false};
  std::vector<WorkerResult> results(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] { results[t] = make_worker(t, &failed); });
  }
  for (std::thread& th : pool) th.join();
  if (failed.load()) return absl::InternalError("an operation failed (see above)");
  return Combine(results);
}

// The baseline: one ECDSA P-256 signature of a 32-byte message with the key
// that signs the certificates, through EVP_DigestSign with a prefetched
// SHA-256 and a reused EVP_MD_CTX (what one signature costs at least).
absl::StatusOr<PhaseResult> RunRawSign(const Fixture& f, int threads) {
  pki::OpenSslPtr<EVP_MD, EVP_MD_free> sha256(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  if (sha256 == nullptr) return absl::InternalError("fetching SHA256 failed");
  EVP_PKEY* key = f.intermediate.private_key();
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  return RunPhase(threads, [&](int t, std::atomic<bool>* failed) {
    pki::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    unsigned char message[32];
    for (size_t i = 0; i < sizeof(message); ++i) message[i] = static_cast<unsigned char>(i + t);
    unsigned char sig[80];
    auto op = [&](StageTimes*) {
      size_t sig_len = sizeof(sig);
      EVP_MD_CTX_reset(ctx.get());
      if (EVP_DigestSignInit(ctx.get(), nullptr, sha256.get(), nullptr, key) != 1 ||
          EVP_DigestSign(ctx.get(), sig, &sig_len, message, sizeof(message)) != 1) {
        std::cerr << "EVP_DigestSign failed\n";
        return false;
      }
      message[0] = sig[sig_len - 1];  // Never sign the same message twice in a row.
      return true;
    };
    return RunWorker(
        warmup, duration, op, [](StageTimes*) { return true; }, failed);
  });
}

// Issuance as mandantd does it for IssueCertificate, less the policy and the
// database: ParseCsr, a LeafSpec from the CSR (server and client auth, one
// day, the issuer's CRL URL), IssueLeaf, PEM, then the workload's sink.
absl::StatusOr<PhaseResult> RunIssuance(const Fixture& f, const IssuanceWorkload& workload,
                                        int threads) {
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const size_t pool_size = f.csr_pems.size();
  return RunPhase(threads, [&](int t, std::atomic<bool>* failed) {
    std::unique_ptr<CertificateSink> sink;
    if (workload.sink) {
      absl::StatusOr<std::unique_ptr<CertificateSink>> made = workload.sink();
      if (!made.ok()) {
        std::cerr << "making the sink failed: " << made.status() << "\n";
        failed->store(true);
        return WorkerResult{};
      }
      sink = *std::move(made);
    }
    size_t next = static_cast<size_t>(t) * pool_size / static_cast<size_t>(threads);
    auto op = [&](StageTimes* times) {
      const std::string& pem = f.csr_pems[next];
      next = (next + 1) % pool_size;
      const Mark m0 = times != nullptr ? Mark::Now() : Mark();
      absl::StatusOr<pki::ParsedCsr> csr = pki::ParseCsr(pem);
      const Mark m1 = times != nullptr ? Mark::Now() : Mark();
      if (!csr.ok()) {
        std::cerr << "ParseCsr failed: " << csr.status() << "\n";
        return false;
      }
      const absl::Time now = absl::Now();
      pki::LeafSpec spec;
      spec.public_key = csr->public_key.get();
      spec.common_name = csr->common_name;
      spec.subject_alt_names = csr->subject_alt_names;
      spec.extended_key_usages = {pki::ExtendedKeyUsage::kServerAuth,
                                  pki::ExtendedKeyUsage::kClientAuth};
      spec.not_after = now + absl::Hours(24);
      spec.crl_distribution_point = std::string(kCrlUrl);
      absl::StatusOr<pki::X509Ptr> cert = pki::IssueLeaf(f.intermediate, spec, now);
      const Mark m2 = times != nullptr ? Mark::Now() : Mark();
      if (!cert.ok()) {
        std::cerr << "IssueLeaf failed: " << cert.status() << "\n";
        return false;
      }
      absl::StatusOr<std::string> out = pki::CertificateToPem(cert->get());
      const Mark m3 = times != nullptr ? Mark::Now() : Mark();
      if (!out.ok()) {
        std::cerr << "CertificateToPem failed: " << out.status() << "\n";
        return false;
      }
      AddStage(times, kParse, m0, m1);
      AddStage(times, kBuildSign, m1, m2);
      AddStage(times, kEncode, m2, m3);
      if (sink != nullptr) {
        absl::Status s = sink->Record(*csr, cert->get(), *std::move(out));
        if (times != nullptr) AddStage(times, kRecord, m3, Mark::Now());
        if (!s.ok()) {
          std::cerr << "recording failed: " << s << "\n";
          return false;
        }
      }
      return true;
    };
    auto finish = [&](StageTimes* times) {
      if (sink == nullptr) return true;
      const Mark m0 = Mark::Now();
      absl::Status s = sink->Flush();
      AddStage(times, kRecord, m0, Mark::Now());
      if (!s.ok()) std::cerr << "flushing the sink failed: " << s << "\n";
      return s.ok();
    };
    return RunWorker(warmup, duration, op, finish, failed);
  });
}

// Issues one certificate and checks what the measured loop cannot afford
// to: it verifies under the intermediate and DescribeCertificate reads it.
absl::Status SanityCheck(const Fixture& f) {
  absl::StatusOr<pki::ParsedCsr> csr = pki::ParseCsr(f.csr_pems.front());
  if (!csr.ok()) return csr.status();
  const absl::Time now = absl::Now();
  pki::LeafSpec spec;
  spec.public_key = csr->public_key.get();
  spec.common_name = csr->common_name;
  spec.subject_alt_names = csr->subject_alt_names;
  spec.extended_key_usages = {pki::ExtendedKeyUsage::kServerAuth};
  spec.not_after = now + absl::Hours(24);
  spec.crl_distribution_point = std::string(kCrlUrl);
  absl::StatusOr<pki::X509Ptr> cert = pki::IssueLeaf(f.intermediate, spec, now);
  if (!cert.ok()) return cert.status();
  if (X509_verify(cert->get(), X509_get0_pubkey(f.intermediate.certificate())) != 1) {
    return absl::InternalError("the issued certificate does not verify under the intermediate");
  }
  absl::StatusOr<pki::CertificateInfo> info = pki::DescribeCertificate(cert->get());
  if (!info.ok()) return info.status();
  if (!(info->subject_alt_names == csr->subject_alt_names)) {
    return absl::InternalError("the issued certificate does not carry the CSR's names");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Reporting.

template <typename T>
T Median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Row {
  int threads = 0;
  std::string phase;
  // One per round.
  std::vector<PhaseResult> rounds;
  // Throughput ratio to the baseline of the same round and thread count.
  std::vector<double> ratios;
  std::vector<double> cpu_ratios;
};

// The round whose throughput is the median.
const PhaseResult& MedianRound(const Row& row) {
  std::vector<std::pair<double, size_t>> order;
  for (size_t i = 0; i < row.rounds.size(); ++i) {
    order.emplace_back(row.rounds[i].ops_per_second, i);
  }
  std::sort(order.begin(), order.end());
  return row.rounds[order[order.size() / 2].second];
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Measures certificate issuance (CSR in, PEM out) against raw ECDSA P-256 signing.");
  absl::ParseCommandLine(argc, argv);
  const int rounds = absl::GetFlag(FLAGS_rounds);
  const int csr_count = absl::GetFlag(FLAGS_csrs);
  std::vector<int> thread_counts;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_threads), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 1 || n > 256) {
      std::cerr << "--threads: \"" << part << "\" is not a thread count\n";
      return 2;
    }
    thread_counts.push_back(n);
  }
  if (rounds < 1 || csr_count < 1 || thread_counts.empty() ||
      absl::GetFlag(FLAGS_duration) <= absl::ZeroDuration()) {
    std::cerr << "--rounds, --csrs and --duration must be positive\n";
    return 2;
  }

  absl::StatusOr<Fixture> fixture = MakeFixture(csr_count, absl::Now());
  if (!fixture.ok()) {
    std::cerr << "setting up the CA and CSRs failed: " << fixture.status() << "\n";
    return 1;
  }
  if (absl::Status s = SanityCheck(*fixture); !s.ok()) {
    std::cerr << "sanity check failed: " << s << "\n";
    return 1;
  }
  std::optional<DurableInventory> inventory;
  if (absl::GetFlag(FLAGS_postgres)) {
    absl::StatusOr<DurableInventory> inv =
        StartDurableInventory(fixture->root, fixture->intermediate);
    if (!inv.ok()) {
      std::cerr << "starting the PostgreSQL inventory: " << inv.status() << "\n";
      return 1;
    }
    inventory = *std::move(inv);
  }
  const std::vector<IssuanceWorkload> workloads = Workloads(inventory ? &*inventory : nullptr);

  std::printf("mandant_pki_bench: %ld CPUs online, %s; %d rounds, %s per phase; %d CSRs\n",
              sysconf(_SC_NPROCESSORS_ONLN), OpenSSL_version(OPENSSL_VERSION), rounds,
              absl::FormatDuration(absl::GetFlag(FLAGS_duration)).c_str(), csr_count);
  std::printf(
      "issuer: P-256 tenant intermediate with name constraints (DNS, URI, IP) and a "
      "CRL URL; CSRs: P-256, CN + 2 DNS, 1 SPIFFE URI, 1 IP\n\n");
  std::fflush(stdout);

  // rows[t][0] is the baseline for thread count t, then one row per workload.
  std::vector<std::vector<Row>> rows(thread_counts.size());
  for (size_t ti = 0; ti < thread_counts.size(); ++ti) {
    rows[ti].push_back(Row{thread_counts[ti], "raw P-256 sign (EVP_DigestSign)", {}, {}, {}});
    for (const IssuanceWorkload& w : workloads) {
      rows[ti].push_back(Row{thread_counts[ti], w.name, {}, {}, {}});
    }
  }
  for (int round = 0; round < rounds; ++round) {
    for (size_t ti = 0; ti < thread_counts.size(); ++ti) {
      const int threads = thread_counts[ti];
      absl::StatusOr<PhaseResult> base = RunRawSign(*fixture, threads);
      if (!base.ok()) {
        std::cerr << "raw signing: " << base.status() << "\n";
        return 1;
      }
      rows[ti][0].rounds.push_back(*base);
      rows[ti][0].ratios.push_back(1.0);
      rows[ti][0].cpu_ratios.push_back(1.0);
      for (size_t wi = 0; wi < workloads.size(); ++wi) {
        absl::StatusOr<PhaseResult> r = RunIssuance(*fixture, workloads[wi], threads);
        if (!r.ok()) {
          std::cerr << workloads[wi].name << ": " << r.status() << "\n";
          return 1;
        }
        Row& row = rows[ti][wi + 1];
        row.rounds.push_back(*r);
        row.ratios.push_back(r->ops_per_second / base->ops_per_second);
        row.cpu_ratios.push_back(base->cpu_us_per_op / r->cpu_us_per_op);
      }
      std::fprintf(stderr, "round %d/%d, %d thread(s) done\n", round + 1, rounds, threads);
    }
  }

  std::printf("%-7s  %-32s  %10s  %10s  %12s  %12s\n", "threads", "phase", "ops/s", "CPU us/op",
              "ratio", "CPU ratio");
  nlohmann::json json;
  json["rounds"] = rounds;
  json["duration_s"] = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_duration));
  json["openssl"] = OpenSSL_version(OPENSSL_VERSION);
  for (const std::vector<Row>& group : rows) {
    for (const Row& row : group) {
      const PhaseResult& m = MedianRound(row);
      const double ratio = Median(row.ratios);
      const double cpu_ratio = Median(row.cpu_ratios);
      std::printf("%-7d  %-32s  %10.0f  %10.1f  %12.3f  %12.3f\n", row.threads, row.phase.c_str(),
                  m.ops_per_second, m.cpu_us_per_op, ratio, cpu_ratio);
      nlohmann::json j;
      j["threads"] = row.threads;
      j["phase"] = row.phase;
      j["ops_per_s"] = m.ops_per_second;
      j["cpu_us_per_op"] = m.cpu_us_per_op;
      j["ratio_to_raw_sign"] = ratio;
      j["cpu_ratio_to_raw_sign"] = cpu_ratio;
      nlohmann::json per_round = nlohmann::json::array();
      for (const PhaseResult& r : row.rounds) per_round.push_back(r.ops_per_second);
      j["ops_per_s_per_round"] = per_round;
      json["phases"].push_back(j);
    }
  }
  std::printf(
      "\nratio: ops/s over raw signing's ops/s at the same thread count in the same round "
      "(median of rounds);\nCPU ratio: raw signing's CPU time per signature over the phase's "
      "CPU time per operation.\nAim: in-memory issuance at least 0.20 of raw signing.\n");

  // Where a certificate's time goes, in thread CPU time and in units of one
  // raw signature's CPU time measured at the same thread count.
  for (size_t ti = 0; ti < thread_counts.size(); ++ti) {
    const PhaseResult& base = MedianRound(rows[ti][0]);
    for (size_t wi = 1; wi < rows[ti].size(); ++wi) {
      const Row& row = rows[ti][wi];
      const PhaseResult& m = MedianRound(row);
      std::printf("\n%s, %d thread(s), per certificate:\n", row.phase.c_str(), row.threads);
      std::printf("  %-56s %8s %8s %8s\n", "stage", "CPU us", "share", "raw sigs");
      double total = 0;
      for (int s = 0; s < kStageCount; ++s) total += m.stage_cpu_us[s];
      const bool has_sink = static_cast<bool>(workloads[wi - 1].sink);
      for (int s = 0; s < kStageCount; ++s) {
        if (s == kRecord && !has_sink) continue;
        std::printf("  %-56s %8.1f %7.1f%% %8.2f\n", kStageNames[s], m.stage_cpu_us[s],
                    total > 0 ? 100 * m.stage_cpu_us[s] / total : 0.0,
                    m.stage_cpu_us[s] / base.cpu_us_per_op);
        nlohmann::json& j =
            json["breakdown"][row.phase][std::to_string(row.threads)][kStageNames[s]];
        j["cpu_us"] = m.stage_cpu_us[s];
        j["wall_us"] = m.stage_wall_us[s];
      }
      std::printf("  %-56s %8.1f %7s %8.2f\n", "total", total, "", total / base.cpu_us_per_op);
      if (has_sink) {
        std::printf("  record (sink), wall-clock: %.1f us per certificate\n",
                    m.stage_wall_us[kRecord]);
      }
    }
  }
  std::printf("\n%s\n", json.dump().c_str());
  return 0;
}

}  // namespace
}  // namespace mandant::bench

int main(int argc, char** argv) { return mandant::bench::Main(argc, argv); }
