// mandant_loadgen: measures mandantd's TenantService against baselines
// measured in the same run (docs/benchmarks.md).
//
//   mandant_loadgen                     private PostgreSQL + mandantd process
//   mandant_loadgen --target HOST:PORT --ca_file F --token_file F [--pg_conninfo C]
//
// Prints a table and, as the last line, one JSON object. Exits 0 whatever the
// figures are; 1 only when the environment cannot be set up, 2 on bad flags.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include <libpq-fe.h>

#include "bench/environment.h"
#include "bench/load_runner.h"
#include "bench/process_cpu.h"
#include "bench/systems.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/store/database.h"

ABSL_FLAG(std::string, target, "",
          "host:port of a running mandantd; empty starts a private PostgreSQL and mandantd");
ABSL_FLAG(std::string, ca_file, "", "with --target: PEM file of the CA for mandantd's certificate");
ABSL_FLAG(std::string, token_file, "", "with --target: file holding a provider-admin token");
ABSL_FLAG(std::string, server_name, "",
          "with --target: TLS name to verify, when it differs from the host in --target");
ABSL_FLAG(std::string, pg_conninfo, "",
          "with --target: libpq conninfo of mandantd's database, needed for the baselines");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "measured time of each mandantd phase");
ABSL_FLAG(absl::Duration, baseline_duration, absl::Seconds(2),
          "measured time of each baseline phase");
ABSL_FLAG(absl::Duration, warmup, absl::Milliseconds(300),
          "unmeasured time before each phase (connections, prepared statements)");
ABSL_FLAG(std::string, concurrency, "1,4,16", "client threads, comma-separated");
ABSL_FLAG(std::string, workloads, "get,list,create,health",
          "any of get, list, create, health (gRPC floor: Health/Check, mandantd only)");
ABSL_FLAG(std::string, baselines, "store,libpq", "any of store, libpq; empty for none");
ABSL_FLAG(int, tenants, 1000, "tenants to seed through CreateTenant before measuring");
ABSL_FLAG(int, pool_size, 8, "database pool of the private mandantd and of the store baseline");
ABSL_FLAG(std::string, channel_mode, "per_thread",
          "per_thread: a gRPC channel (connection) per client thread; shared: one for all");
ABSL_FLAG(std::string, mandantd_log_level, "info", "log.level of the private mandantd");
ABSL_FLAG(std::string, mandantd_path, MANDANTD_PATH, "the mandantd binary to start");
ABSL_FLAG(std::string, vni_pool, "10000-19999",
          "VNI pool (first-last); with --target it must match the server's network.vni_pool");
ABSL_FLAG(std::string, node_supernet, "10.64.0.0/12", "network.node_supernet (see --vni_pool)");
ABSL_FLAG(std::string, storage_supernet, "10.96.0.0/12",
          "network.storage_supernet (see --vni_pool)");
ABSL_FLAG(int, prefix_length, 28,
          "network.default_prefix_length (see --vni_pool); 28 leaves 65536 blocks in a /12");

namespace mandant::bench {
namespace {

std::atomic<bool> g_cancel{false};

void OnSignal(int) { g_cancel.store(true); }

struct Settings {
  EnvironmentOptions env;
  std::string server_name;
  absl::Duration duration, baseline_duration, warmup;
  std::vector<int> concurrency;
  std::vector<Workload> workloads;
  bool store = false;
  bool libpq = false;
  int tenants = 0;
  ChannelMode channel_mode = ChannelMode::kPerThread;
};

absl::StatusOr<Settings> ReadFlags() {
  Settings s;
  std::vector<std::string> errors;
  s.env.target = absl::GetFlag(FLAGS_target);
  s.env.ca_file = absl::GetFlag(FLAGS_ca_file);
  s.env.token_file = absl::GetFlag(FLAGS_token_file);
  s.env.pg_conninfo = absl::GetFlag(FLAGS_pg_conninfo);
  s.server_name = absl::GetFlag(FLAGS_server_name);
  s.env.mandantd_path = absl::GetFlag(FLAGS_mandantd_path);
  s.env.pool_size = absl::GetFlag(FLAGS_pool_size);
  s.env.log_level = absl::GetFlag(FLAGS_mandantd_log_level);
  if (!s.env.target.empty() && (s.env.ca_file.empty() || s.env.token_file.empty())) {
    errors.push_back("--target needs --ca_file and --token_file");
  }
  if (s.env.target.empty() && !s.env.pg_conninfo.empty()) {
    errors.push_back("--pg_conninfo is for --target; a private run makes its own database");
  }
  s.duration = absl::GetFlag(FLAGS_duration);
  s.baseline_duration = absl::GetFlag(FLAGS_baseline_duration);
  s.warmup = absl::GetFlag(FLAGS_warmup);
  if (s.duration <= absl::ZeroDuration() || s.baseline_duration <= absl::ZeroDuration() ||
      s.warmup < absl::ZeroDuration()) {
    errors.push_back("--duration and --baseline_duration must be > 0, --warmup >= 0");
  }
  for (absl::string_view c :
       absl::StrSplit(absl::GetFlag(FLAGS_concurrency), ',', absl::SkipWhitespace())) {
    int n = 0;
    if (!absl::SimpleAtoi(c, &n) || n < 1 || n > 256) {
      errors.push_back(absl::StrCat("--concurrency: \"", c, "\" is not a number 1-256"));
    } else {
      s.concurrency.push_back(n);
    }
  }
  for (absl::string_view w :
       absl::StrSplit(absl::GetFlag(FLAGS_workloads), ',', absl::SkipWhitespace())) {
    if (w == "get") {
      s.workloads.push_back(Workload::kGet);
    } else if (w == "list") {
      s.workloads.push_back(Workload::kList);
    } else if (w == "create") {
      s.workloads.push_back(Workload::kCreate);
    } else if (w == "health") {
      s.workloads.push_back(Workload::kHealth);
    } else {
      errors.push_back(
          absl::StrCat("--workloads: \"", w, "\" is unknown; use get, list, create, health"));
    }
  }
  for (absl::string_view b :
       absl::StrSplit(absl::GetFlag(FLAGS_baselines), ',', absl::SkipWhitespace())) {
    if (b == "store") {
      s.store = true;
    } else if (b == "libpq") {
      s.libpq = true;
    } else {
      errors.push_back(absl::StrCat("--baselines: \"", b, "\" is unknown; use store, libpq"));
    }
  }
  s.tenants = absl::GetFlag(FLAGS_tenants);
  if (s.tenants < 1 || s.tenants > 50000) errors.push_back("--tenants must be 1-50000");
  if (s.env.pool_size < 1 || s.env.pool_size > 1000) errors.push_back("--pool_size must be 1-1000");
  const std::string mode = absl::GetFlag(FLAGS_channel_mode);
  if (mode == "shared") {
    s.channel_mode = ChannelMode::kShared;
  } else if (mode != "per_thread") {
    errors.push_back(absl::StrCat("--channel_mode: \"", mode, "\"; use per_thread or shared"));
  }
  controller::store::NetworkPools& p = s.env.pools;
  std::pair<std::string, std::string> vni = absl::StrSplit(absl::GetFlag(FLAGS_vni_pool), '-');
  if (!absl::SimpleAtoi(vni.first, &p.vni.first) || !absl::SimpleAtoi(vni.second, &p.vni.last)) {
    errors.push_back("--vni_pool: must be FIRST-LAST");
  }
  auto node = tenants::Cidr::Parse(absl::GetFlag(FLAGS_node_supernet));
  auto storage = tenants::Cidr::Parse(absl::GetFlag(FLAGS_storage_supernet));
  if (!node.ok()) errors.push_back(absl::StrCat("--node_supernet: ", node.status().message()));
  if (!storage.ok()) {
    errors.push_back(absl::StrCat("--storage_supernet: ", storage.status().message()));
  }
  if (node.ok() && storage.ok()) {
    p.node_supernet = *node;
    p.storage_supernet = *storage;
    p.default_prefix_length = absl::GetFlag(FLAGS_prefix_length);
    if (absl::Status st = controller::store::ValidateNetworkPools(p); !st.ok()) {
      errors.push_back(std::string(st.message()));
    }
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
  return s;
}

// Admin statements on mandantd's database (cleanup between create phases).
class SqlAdmin {
 public:
  explicit SqlAdmin(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {}
  ~SqlAdmin() { PQfinish(conn_); }

  absl::Status Exec(const std::string& sql, std::optional<std::string> param = std::nullopt) {
    const char* values[] = {param ? param->c_str() : nullptr};
    PGresult* r =
        PQexecParams(conn_, sql.c_str(), param ? 1 : 0, nullptr, values, nullptr, nullptr, 0);
    const ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("\"", sql, "\": ", PQerrorMessage(conn_)));
  }

  // Removes the tenants a create phase made, so that every create phase
  // starts from the same table (allocation cost grows with the tenant count).
  absl::Status DeleteLike(const std::string& pattern) {
    MANDANT_RETURN_IF_ERROR(Exec("DELETE FROM tenants WHERE name LIKE $1", pattern));
    MANDANT_RETURN_IF_ERROR(Exec("VACUUM ANALYZE tenants"));
    return Exec("VACUUM ANALYZE tenant_cidrs");
  }

 private:
  PGconn* conn_;
};

struct Row {
  Workload workload;
  int concurrency = 0;
  std::string system;
  PhaseResult result;
  CpuTimes cpu;
  // Transactions the store baseline ran again after a conflict; -1 when not
  // known (mandantd's own count is on its /metrics).
  int64_t retries = -1;
};

std::string CpuPerRequest(double seconds, int64_t requests) {
  if (seconds < 0 || requests <= 0) return "-";
  return absl::StrFormat("%.0f", seconds * 1e6 / static_cast<double>(requests));
}

void PrintHeader() {
  std::cout << absl::StrFormat("%-7s %4s %-9s %10s %9s %9s %7s  %8s %8s %8s %5s\n", "work", "conc",
                               "system", "req/s", "p50 us", "p99 us", "errors",
                               "cpu/req:", "mandantd", "postgres", "busy");
  std::cout << absl::StrFormat("%-7s %4s %-9s %10s %9s %9s %7s  %8s %8s %8s %5s\n", "", "", "", "",
                               "", "", "", "loadgen", "us", "us", "%");
}

void PrintRow(const Row& r, int cpus) {
  const PhaseResult& p = r.result;
  const double busy = p.seconds > 0 ? 100.0 * r.cpu.machine_busy / (p.seconds * cpus) : 0;
  std::cout << absl::StrFormat(
      "%-7s %4d %-9s %10.0f %9.0f %9.0f %7d  %8s %8s %8s %5.0f\n", WorkloadName(r.workload),
      r.concurrency, r.system, p.requests_per_second, p.latency.p50_us, p.latency.p99_us, p.errors,
      CpuPerRequest(r.cpu.loadgen, p.ok), CpuPerRequest(r.cpu.mandantd, p.ok),
      CpuPerRequest(r.cpu.postgres, p.ok), busy);
  if (p.errors > 0) std::cout << "          first error: " << p.first_error << "\n";
  if (r.retries > 0) {
    std::cout << "          " << r.retries
              << " transactions retried after a conflict with a concurrent create\n";
  }
  std::cout.flush();
}

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }

nlohmann::json RowJson(const Row& r) {
  const PhaseResult& p = r.result;
  auto per_req = [&](double s) -> nlohmann::json {
    if (s < 0 || p.ok <= 0) return nullptr;
    return s * 1e6 / static_cast<double>(p.ok);
  };
  return {{"workload", std::string(WorkloadName(r.workload))},
          {"concurrency", r.concurrency},
          {"system", r.system},
          {"requests", p.ok},
          {"errors", p.errors},
          {"seconds", p.seconds},
          {"rps", p.requests_per_second},
          {"p50_us", p.latency.p50_us},
          {"p90_us", p.latency.p90_us},
          {"p99_us", p.latency.p99_us},
          {"max_us", p.latency.max_us},
          {"cpu_us_per_request",
           {{"loadgen", per_req(r.cpu.loadgen)},
            {"mandantd", per_req(r.cpu.mandantd)},
            {"postgres", per_req(r.cpu.postgres)}}},
          {"machine_busy_cpu_s", r.cpu.machine_busy},
          {"retries", r.retries < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.retries)}};
}

int Run(const Settings& s) {
  const int cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  double load[3] = {0, 0, 0};
  (void)getloadavg(load, 3);
  std::cout << absl::StrFormat(
      "mandant_loadgen: %d CPUs, load average %.2f at start; %s mandantd; %d tenants; "
      "pool_size %d; channels %s; %s per mandantd phase, %s per baseline phase, warmup %s\n",
      cpus, load[0], s.env.target.empty() ? "private" : s.env.target, s.tenants, s.env.pool_size,
      s.channel_mode == ChannelMode::kShared ? "shared" : "per thread",
      absl::FormatDuration(s.duration), absl::FormatDuration(s.baseline_duration),
      absl::FormatDuration(s.warmup));
  std::cout.flush();

  const absl::Time setup_start = absl::Now();
  auto env_or = Environment::Start(s.env);
  if (!env_or.ok()) {
    std::cerr << "mandant_loadgen: cannot set up the environment: " << env_or.status().message()
              << "\n";
    return 1;
  }
  std::unique_ptr<Environment> env = *std::move(env_or);
  GrpcTarget target{env->address(), env->server_name(), env->ca_pem(), env->token(),
                    s.channel_mode};
  if (!s.server_name.empty()) target.server_name = s.server_name;
  TenantIds ids(NewRunTag(), s.tenants);

  const absl::Time seed_start = absl::Now();
  if (absl::Status st = SeedTenants(target, &ids, 4); !st.ok()) {
    std::cerr << "mandant_loadgen: " << st.message() << "\n" << env->MandantdLogTail(1500);
    return 1;
  }
  const double seed_seconds = absl::ToDoubleSeconds(absl::Now() - seed_start);
  std::cout << absl::StrFormat(
      "environment up in %.1f s; seeded %d tenants (run tag %s) through CreateTenant in %.1f s "
      "(%.0f/s at 4 threads)\n",
      absl::ToDoubleSeconds(seed_start - setup_start), s.tenants, ids.tag(), seed_seconds,
      s.tenants / seed_seconds);
  std::cout.flush();

  const bool have_pg = !env->pg_conninfo().empty();
  const bool store = s.store && have_pg;
  const bool libpq = s.libpq && have_pg;
  if ((s.store || s.libpq) && !have_pg) {
    std::cout << "no --pg_conninfo: baselines skipped, only mandantd is measured" << std::endl;
  }
  std::unique_ptr<SqlAdmin> admin;
  std::unique_ptr<controller::store::Database> store_db;
  if (have_pg) {
    if (absl::Status st = CheckBaselinesAgree(target, env->pg_conninfo(), ids); !st.ok()) {
      std::cerr << "mandant_loadgen: " << st.message() << "\n";
      return 1;
    }
    admin = std::make_unique<SqlAdmin>(env->pg_conninfo());
    (void)admin->Exec("ANALYZE");
    controller::store::DatabaseOptions db_options;
    db_options.conninfo = env->pg_conninfo();
    db_options.pool_size = s.env.pool_size;
    auto db = controller::store::Database::Create(db_options);
    if (!db.ok()) {
      std::cerr << "mandant_loadgen: store baseline: " << db.status().message() << "\n";
      return 1;
    }
    store_db = *std::move(db);
  }

  CpuProbe probe(env->mandantd_pid(), env->postmaster_pid());
  std::vector<Row> rows;
  std::cout << "\n";
  PrintHeader();
  std::cout.flush();
  for (Workload w : s.workloads) {
    for (int c : s.concurrency) {
      struct System {
        std::string name;
        WorkerFactory factory;
        absl::Duration duration;
        std::string fresh;  // TenantIds system letter
      };
      std::vector<System> systems;
      systems.push_back({"mandantd", MandantdWorkers(target, w, &ids), s.duration, "m"});
      if (store && HasBaseline(w)) {
        systems.push_back({"store", StoreWorkers(store_db.get(), s.env.pools, w, &ids),
                           s.baseline_duration, "t"});
      }
      if (libpq && HasBaseline(w)) {
        systems.push_back({"libpq", LibpqWorkers(env->pg_conninfo(), s.env.pools, w, &ids),
                           s.baseline_duration, "r"});
      }
      for (System& sys : systems) {
        if (g_cancel) break;
        Row row{w, c, sys.name, {}, {}, -1};
        const int64_t retries_before = store_db ? store_db->stats().retries_total : 0;
        CpuTimes before, after;
        PhaseOptions po;
        po.concurrency = c;
        po.warmup = s.warmup;
        po.duration = sys.duration;
        po.cancel = &g_cancel;
        po.at_window_start = [&] { before = probe.Read(); };
        po.at_window_end = [&] { after = probe.Read(); };
        auto result = RunPhase(sys.factory, po);
        if (!result.ok()) {
          std::cerr << "mandant_loadgen: " << sys.name << " " << WorkloadName(w) << " at " << c
                    << " threads: " << result.status().message() << "\n";
          return 1;
        }
        row.result = *std::move(result);
        row.cpu = after - before;
        if (sys.name == "store") row.retries = store_db->stats().retries_total - retries_before;
        PrintRow(row, cpus);
        rows.push_back(std::move(row));
        if (w == Workload::kCreate && admin != nullptr) {
          if (absl::Status st = admin->DeleteLike(ids.FreshPattern(sys.fresh)); !st.ok()) {
            std::cerr << "mandant_loadgen: cleanup: " << st.message() << "\n";
          }
        }
      }
    }
  }
  if (g_cancel) std::cout << "interrupted: the figures cover the phases that ran\n";

  // Ratios of mandantd to each baseline, by workload and concurrency.
  std::map<std::pair<int, int>, std::map<std::string, const Row*>> by_cell;
  for (const Row& r : rows) by_cell[{static_cast<int>(r.workload), r.concurrency}][r.system] = &r;
  nlohmann::json ratios = nlohmann::json::array();
  std::string ratio_table;
  std::map<int, double> get_vs_libpq;
  for (const auto& [cell, systems] : by_cell) {
    auto m = systems.find("mandantd");
    if (m == systems.end() || systems.size() < 2) continue;
    nlohmann::json j = {{"workload", std::string(WorkloadName(static_cast<Workload>(cell.first)))},
                        {"concurrency", cell.second}};
    std::string cols[2];
    const char* names[2] = {"store", "libpq"};
    for (int i = 0; i < 2; ++i) {
      auto b = systems.find(names[i]);
      if (b == systems.end()) {
        cols[i] = "-";
        continue;
      }
      const double rps =
          Ratio(m->second->result.requests_per_second, b->second->result.requests_per_second);
      const double p50 = Ratio(m->second->result.latency.p50_us, b->second->result.latency.p50_us);
      cols[i] = absl::StrFormat("%.2f  (%.2f)", rps, p50);
      j[absl::StrCat("rps_mandantd_over_", names[i])] = rps;
      j[absl::StrCat("p50_mandantd_over_", names[i])] = p50;
      if (cell.first == static_cast<int>(Workload::kGet) && i == 1) get_vs_libpq[cell.second] = rps;
    }
    absl::StrAppend(&ratio_table, absl::StrFormat("%-7s %4d %22s %22s\n",
                                                  WorkloadName(static_cast<Workload>(cell.first)),
                                                  cell.second, cols[0], cols[1]));
    ratios.push_back(j);
  }
  if (!ratio_table.empty()) {
    std::cout << "\nmandantd / baseline (throughput ratio; p50 latency ratio in brackets)\n"
              << absl::StrFormat("%-7s %4s %22s %22s\n", "work", "conc", "mandantd/store",
                                 "mandantd/libpq")
              << ratio_table;
  }

  nlohmann::json aim = {{"goal", "GetTenant throughput >= 0.5 x direct PostgreSQL (libpq)"}};
  if (!get_vs_libpq.empty()) {
    bool met = true;
    std::vector<std::string> parts;
    for (const auto& [c, r] : get_vs_libpq) {
      met = met && r >= 0.5;
      parts.push_back(absl::StrFormat("C=%d %.2f", c, r));
      aim["ratio_by_concurrency"][std::to_string(c)] = r;
    }
    aim["met"] = met;
    std::cout << "\naim: GetTenant throughput >= 0.5 x libpq: " << absl::StrJoin(parts, ", ")
              << " -> " << (met ? "met" : "NOT met") << "\n";
  }
  // The floor: what Health/Check, which touches neither auth nor the
  // database, reaches on the same server and connections.
  std::vector<std::string> floor_parts;
  for (int c : s.concurrency) {
    auto health = by_cell.find({static_cast<int>(Workload::kHealth), c});
    auto get = by_cell.find({static_cast<int>(Workload::kGet), c});
    if (health == by_cell.end() || get == by_cell.end()) continue;
    auto h = health->second.find("mandantd");
    auto m = get->second.find("mandantd");
    auto b = get->second.find("libpq");
    if (h == health->second.end() || m == get->second.end()) continue;
    const double h_rps = h->second->result.requests_per_second;
    std::string part = absl::StrFormat("C=%d %.0f/s, GetTenant = %.2f of it", c, h_rps,
                                       Ratio(m->second->result.requests_per_second, h_rps));
    nlohmann::json& f = aim["grpc_floor"][std::to_string(c)];
    f["health_rps"] = h_rps;
    f["get_over_health"] = Ratio(m->second->result.requests_per_second, h_rps);
    if (b != get->second.end()) {
      const double floor_ratio = Ratio(h_rps, b->second->result.requests_per_second);
      absl::StrAppend(&part, absl::StrFormat(", floor = %.2f x libpq", floor_ratio));
      f["health_over_libpq_get"] = floor_ratio;
    }
    floor_parts.push_back(part);
  }
  if (!floor_parts.empty()) {
    std::cout << "gRPC+TLS floor (Health/Check, no auth, no database): "
              << absl::StrJoin(floor_parts, "; ") << "\n";
  }

  // Leave a shared server as it was found.
  if (!env->is_private()) {
    if (admin != nullptr) {
      if (absl::Status st = admin->DeleteLike(absl::StrCat(ids.tag(), "-%")); !st.ok()) {
        std::cerr << "mandant_loadgen: cleanup: " << st.message() << "\n";
      }
    } else {
      std::vector<std::string> names;
      for (int i = 0; i < ids.seeded(); ++i) names.push_back(ids.Seeded(i));
      for (int64_t i = 0; i < ids.fresh_count(); ++i) {
        names.push_back(absl::StrCat(ids.tag(), "-m-", i));
      }
      if (absl::Status st = DeleteTenantsByRpc(target, names); !st.ok()) {
        std::cerr << "mandant_loadgen: cleanup: " << st.message() << "\n";
      }
    }
  }

  nlohmann::json out = {
      {"bench", "mandant_loadgen"},
      {"config",
       {{"target", s.env.target.empty() ? "private" : s.env.target},
        {"cpus", cpus},
        {"load_average_at_start", load[0]},
        {"tenants", s.tenants},
        {"pool_size", s.env.pool_size},
        {"channel_mode", s.channel_mode == ChannelMode::kShared ? "shared" : "per_thread"},
        {"mandantd_log_level", s.env.log_level},
        {"duration_s", absl::ToDoubleSeconds(s.duration)},
        {"baseline_duration_s", absl::ToDoubleSeconds(s.baseline_duration)},
        {"warmup_s", absl::ToDoubleSeconds(s.warmup)}}},
      {"seed_rps", s.tenants / seed_seconds},
      {"results", nlohmann::json::array()},
      {"ratios", ratios},
      {"aim", aim},
      {"interrupted", g_cancel.load()}};
  for (const Row& r : rows) out["results"].push_back(RowJson(r));
  std::cout << "\n" << out.dump() << std::endl;
  return 0;
}

// Accepts --ca-file as well as --ca_file.
std::vector<char*> NormalizeFlagNames(int argc, char** argv, std::vector<std::string>* storage) {
  storage->reserve(argc);
  std::vector<char*> out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i > 0 && a.rfind("--", 0) == 0) {
      const size_t end = std::min(a.find('='), a.size());
      for (size_t k = 2; k < end; ++k) {
        if (a[k] == '-') a[k] = '_';
      }
    }
    storage->push_back(std::move(a));
    out.push_back(storage->back().data());
  }
  return out;
}

}  // namespace
}  // namespace mandant::bench

int main(int argc, char** argv) {
  // Debian builds abseil without NDEBUG, which leaves absl::Mutex's deadlock
  // detector on: every lock, gRPC's included, then updates a global lock
  // graph. It is a debugging aid; the client should cost what a production
  // client costs.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "mandant_loadgen [--target HOST:PORT --ca_file F --token_file F [--pg_conninfo C]] "
      "[--duration 5s] [--concurrency 1,4,16] [--workloads get,list,create]");
  std::vector<std::string> storage;
  std::vector<char*> args = mandant::bench::NormalizeFlagNames(argc, argv, &storage);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  // The store baseline logs through the project logger; keep it quiet.
  (void)mandant::logging::Init("warn", mandant::logging::Format::kText);
  auto settings = mandant::bench::ReadFlags();
  if (!settings.ok()) {
    std::cerr << "mandant_loadgen: " << settings.status().message() << "\n";
    return 2;
  }
  struct sigaction sa = {};
  sa.sa_handler = mandant::bench::OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return mandant::bench::Run(*settings);
}
