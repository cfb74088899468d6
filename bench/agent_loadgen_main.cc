// mandant_agent_loadgen: how many host agents one mandantd holds, and what
// they cost it (docs/benchmarks.md, "Host agents").
//
// Starts a private PostgreSQL and mandantd (a separate process, so its CPU
// and memory are its own), then for each step of --steps: registers and
// enrolls hosts up to N, opens N simulated agents' Connect streams (mutual
// TLS, Hello, HostStatus, a Heartbeat every --heartbeat_interval with spread
// phases) and measures mandantd in three windows: heartbeating, idle (the
// same streams, heartbeats paused) and the baseline, Health/Check unary
// calls at the heartbeats' rate. Then a reconnect storm at the largest N.
// Optionally (--real_agent, as root) the real mandant-agent in a network
// namespace first: its memory and idle CPU.
//
// Prints a table and, as the last line, one JSON object. Exits 0 whatever the
// figures are; 1 when the environment cannot be set up, 2 on bad flags.

#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/client_unary_call.h"
#include "grpcpp/impl/rpc_method.h"
#include "nlohmann/json.hpp"

#include "bench/agent_fleet.h"
#include "bench/environment.h"
#include "bench/load_runner.h"
#include "bench/process_cpu.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "mandant/v1/agent.grpc.pb.h"
#include "mandant/v1/host.grpc.pb.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "tests/support/netns.h"
#include "tests/support/subprocess.h"

ABSL_FLAG(std::string, steps, "100,500,1000,2000,4000",
          "agent counts to step through; stepping stops early when streams fail, hosts are not "
          "Ready, heartbeats fall behind or mandantd's CPU saturates");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(10),
          "agents.heartbeat_interval_seconds of mandantd and the agents' heartbeat period");
ABSL_FLAG(absl::Duration, lease, absl::Seconds(40), "agents.lease_duration_seconds of mandantd");
ABSL_FLAG(absl::Duration, window, absl::Seconds(10), "measured heartbeat window per step");
ABSL_FLAG(absl::Duration, idle_window, absl::Seconds(5),
          "measured window per step with the streams open and heartbeats paused");
ABSL_FLAG(absl::Duration, baseline_window, absl::Seconds(6),
          "measured Health/Check window per step (heartbeats paused)");
ABSL_FLAG(int, connect_in_flight, 32, "streams waiting for their HostSpec at once while stepping");
ABSL_FLAG(int, enroll_threads, 4, "parallel CreateHost + Enroll clients");
ABSL_FLAG(int, health_threads, 4, "client threads (one channel each) of the Health/Check baseline");
ABSL_FLAG(double, max_cpu, 0.8,
          "stop stepping when mandantd used more than this fraction of all CPUs in a window");
ABSL_FLAG(bool, storm, true, "reconnect storm at the largest N reached");
ABSL_FLAG(absl::Duration, storm_jitter, absl::ZeroDuration(),
          "each agent reconnects after a random delay in [0, jitter); 0: all at once");
ABSL_FLAG(absl::Duration, storm_timeout, absl::Seconds(120), "limit for the storm to settle");
ABSL_FLAG(bool, real_agent, true,
          "measure a real mandant-agent in a network namespace first (root only; skipped "
          "otherwise)");
ABSL_FLAG(absl::Duration, real_agent_window, absl::Seconds(30),
          "measured idle window of the real agent (at least 3 heartbeats)");
ABSL_FLAG(int, pool_size, 8, "database.pool_size of mandantd");
ABSL_FLAG(std::string, mandantd_log_level, "info", "log.level of mandantd");
ABSL_FLAG(std::string, mandantd_path, MANDANTD_PATH, "the mandantd binary to start");
ABSL_FLAG(std::string, agent_path, MANDANT_AGENT_PATH, "the mandant-agent binary (--real_agent)");

namespace mandant::bench {
namespace {

using google::protobuf::util::TimeUtil;

std::atomic<bool> g_cancel{false};
void OnSignal(int) { g_cancel.store(true); }

struct Settings {
  std::vector<int> steps;
  absl::Duration heartbeat_interval, lease, window, idle_window, baseline_window;
  int connect_in_flight = 32;
  int enroll_threads = 4;
  int health_threads = 4;
  double max_cpu = 0.8;
  bool storm = true;
  absl::Duration storm_jitter, storm_timeout;
  bool real_agent = true;
  absl::Duration real_agent_window;
  int pool_size = 8;
  std::string log_level, mandantd_path, agent_path;
};

absl::StatusOr<Settings> ReadFlags() {
  Settings s;
  for (absl::string_view v : absl::StrSplit(absl::GetFlag(FLAGS_steps), ',', absl::SkipEmpty())) {
    int n = 0;
    if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 60000) {
      return absl::InvalidArgumentError(absl::StrCat("--steps: \"", v, "\" is not 1-60000"));
    }
    if (!s.steps.empty() && n <= s.steps.back()) {
      return absl::InvalidArgumentError("--steps must grow");
    }
    s.steps.push_back(n);
  }
  if (s.steps.empty()) return absl::InvalidArgumentError("--steps: at least one");
  s.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  s.lease = absl::GetFlag(FLAGS_lease);
  if (s.heartbeat_interval < absl::Seconds(1) || s.heartbeat_interval > absl::Minutes(5) ||
      s.heartbeat_interval != absl::Seconds(absl::ToInt64Seconds(s.heartbeat_interval))) {
    return absl::InvalidArgumentError("--heartbeat_interval: whole seconds, 1s-5m");
  }
  if (s.lease < 3 * s.heartbeat_interval || s.lease > absl::Hours(1) ||
      s.lease != absl::Seconds(absl::ToInt64Seconds(s.lease))) {
    return absl::InvalidArgumentError("--lease: whole seconds, at least 3 heartbeat intervals");
  }
  s.window = absl::GetFlag(FLAGS_window);
  s.idle_window = absl::GetFlag(FLAGS_idle_window);
  s.baseline_window = absl::GetFlag(FLAGS_baseline_window);
  if (s.window <= absl::ZeroDuration() || s.idle_window <= absl::ZeroDuration() ||
      s.baseline_window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("windows must be > 0");
  }
  // Heartbeats are paused for the idle and baseline windows: the paused
  // time plus one interval must stay inside the lease.
  if (s.idle_window + s.baseline_window + s.heartbeat_interval + absl::Seconds(5) >= s.lease) {
    return absl::InvalidArgumentError(
        "--idle_window + --baseline_window + --heartbeat_interval + 5s must be below --lease "
        "(heartbeats are paused meanwhile)");
  }
  s.connect_in_flight = absl::GetFlag(FLAGS_connect_in_flight);
  s.enroll_threads = std::max(1, absl::GetFlag(FLAGS_enroll_threads));
  s.health_threads = std::max(1, absl::GetFlag(FLAGS_health_threads));
  s.max_cpu = absl::GetFlag(FLAGS_max_cpu);
  s.storm = absl::GetFlag(FLAGS_storm);
  s.storm_jitter = absl::GetFlag(FLAGS_storm_jitter);
  s.storm_timeout = absl::GetFlag(FLAGS_storm_timeout);
  s.real_agent = absl::GetFlag(FLAGS_real_agent);
  s.real_agent_window = absl::GetFlag(FLAGS_real_agent_window);
  s.pool_size = absl::GetFlag(FLAGS_pool_size);
  s.log_level = absl::GetFlag(FLAGS_mandantd_log_level);
  s.mandantd_path = absl::GetFlag(FLAGS_mandantd_path);
  s.agent_path = absl::GetFlag(FLAGS_agent_path);
  return s;
}

std::shared_ptr<grpc::Channel> ServerTlsChannel(const Environment& env) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = env.ca_pem();
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(env.server_name());
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(32 << 20);
  return grpc::CreateCustomChannel(env.address(), grpc::SslCredentials(ssl), args);
}

void AdminContext(grpc::ClientContext& ctx, const std::string& token) {
  ctx.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
}

absl::Status FromGrpc(const grpc::Status& st, absl::string_view what) {
  if (st.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                      absl::StrCat(what, ": ", st.error_message()));
}

std::string SimHostId(int i) { return absl::StrFormat("sim-%05d", i); }
// Distinct underlay addresses 10.200.0.1 upwards, never .0 or .255.
std::string SimUnderlay(int i) {
  return absl::StrCat("10.", 200 + i / 64000, ".", (i % 64000) / 250, ".", i % 250 + 1);
}

// CreateHost and Enroll for hosts [from, to), with `threads` clients.
absl::StatusOr<std::vector<AgentCredentials>> EnrollHosts(const Environment& env, int from, int to,
                                                          int threads) {
  std::vector<AgentCredentials> out(to - from);
  std::atomic<int> next{from};
  absl::Mutex mu;
  absl::Status first_error;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      auto channel = ServerTlsChannel(env);
      auto hosts = v1::HostService::NewStub(channel);
      auto agents = v1::AgentService::NewStub(channel);
      for (int i = next++; i < to; i = next++) {
        absl::Status st = [&]() -> absl::Status {
          AgentCredentials& c = out[i - from];
          c.host_id = SimHostId(i);
          c.underlay_address = SimUnderlay(i);
          v1::CreateHostRequest create;
          create.set_host_id(c.host_id);
          create.mutable_host()->set_underlay_address(c.underlay_address);
          v1::CreateHostResponse created;
          {
            grpc::ClientContext ctx;
            AdminContext(ctx, env.token());
            MANDANT_RETURN_IF_ERROR(
                FromGrpc(hosts->CreateHost(&ctx, create, &created), "CreateHost " + c.host_id));
          }
          MANDANT_ASSIGN_OR_RETURN(pki::EvpPkeyPtr key, pki::GenerateKey(pki::KeyType::kEcdsaP256));
          MANDANT_ASSIGN_OR_RETURN(pki::X509ReqPtr csr, pki::BuildCsr(key.get(), "", {}));
          v1::EnrollRequest enroll;
          enroll.set_host(absl::StrCat("hosts/", c.host_id));
          enroll.set_bootstrap_token(created.bootstrap_token().token());
          MANDANT_ASSIGN_OR_RETURN(std::string csr_pem, pki::CsrToPem(csr.get()));
          enroll.set_csr(csr_pem);
          v1::EnrollResponse enrolled;
          {
            grpc::ClientContext ctx;
            ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
            MANDANT_RETURN_IF_ERROR(
                FromGrpc(agents->Enroll(&ctx, enroll, &enrolled), "Enroll " + c.host_id));
          }
          MANDANT_ASSIGN_OR_RETURN(pki::SecretBytes key_pem, pki::PrivateKeyToPem(key.get()));
          c.key_pem = std::string(key_pem.view());
          c.chain_pem = enrolled.certificate_pem() + enrolled.chain_pem();
          return absl::OkStatus();
        }();
        if (!st.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = st;
          next = to;
        }
      }
    });
  }
  for (std::thread& w : workers) w.join();
  if (!first_error.ok()) return first_error;
  return out;
}

struct FleetView {
  int hosts = 0;
  int ready = 0;
  // The oldest last_seen_time among Ready hosts, in seconds before now: how
  // far heartbeat processing lags (at most one interval when it keeps up).
  double max_last_seen_age_s = 0;
  std::string not_ready_example;
};

// What mandantd reports for the simulated hosts (ListHosts, all pages).
absl::StatusOr<FleetView> ViewFleet(const Environment& env) {
  auto stub = v1::HostService::NewStub(ServerTlsChannel(env));
  FleetView view;
  std::string page;
  const absl::Time now = absl::Now();
  do {
    v1::ListHostsRequest req;
    req.set_page_size(1000);
    req.set_page_token(page);
    v1::ListHostsResponse resp;
    grpc::ClientContext ctx;
    AdminContext(ctx, env.token());
    MANDANT_RETURN_IF_ERROR(FromGrpc(stub->ListHosts(&ctx, req, &resp), "ListHosts"));
    for (const v1::Host& h : resp.hosts()) {
      if (!absl::StartsWith(h.name(), "hosts/sim-")) continue;
      ++view.hosts;
      bool ready = false;
      std::string reason;
      for (const v1::Condition& c : h.conditions()) {
        if (c.type() == "Ready") {
          ready = c.status() == v1::CONDITION_STATUS_TRUE;
          reason = c.reason();
        }
      }
      if (ready) {
        ++view.ready;
        const absl::Time seen =
            absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(h.last_seen_time()));
        view.max_last_seen_age_s =
            std::max(view.max_last_seen_age_s, absl::ToDoubleSeconds(now - seen));
      } else if (view.not_ready_example.empty()) {
        view.not_ready_example = absl::StrCat(h.name(), ": ", reason);
      }
    }
    page = resp.next_page_token();
  } while (!page.empty());
  return view;
}

// Health/Check, open loop at `rate` calls/s over `threads` channels, for
// `duration`. Returns the calls that succeeded and the first error.
struct PacedResult {
  int64_t ok = 0;
  int64_t errors = 0;
  double seconds = 0;
  std::string first_error;
};

PacedResult PacedHealthChecks(const Environment& env, double rate, absl::Duration duration,
                              int threads, const std::function<void()>& at_start,
                              const std::function<void()>& at_end) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int t = 0; t < threads; ++t) {
    channels.push_back(ServerTlsChannel(env));
    channels.back()->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
  }
  const grpc::internal::RpcMethod method("/grpc.health.v1.Health/Check",
                                         grpc::internal::RpcMethod::NORMAL_RPC);
  std::atomic<int64_t> ok{0}, errors{0};
  absl::Mutex mu;
  std::string first_error;
  at_start();
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  const absl::Duration period = absl::Seconds(threads / rate);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      absl::Time next = start + period * t / threads;
      while (next < end && !g_cancel) {
        if (absl::Now() < next) absl::SleepFor(next - absl::Now());
        next += period;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        grpc::Slice empty("", 0);
        grpc::ByteBuffer req(&empty, 1);
        grpc::ByteBuffer resp;
        grpc::Status st = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
            channels[t].get(), method, &ctx, req, &resp);
        if (st.ok()) {
          ++ok;
        } else {
          ++errors;
          absl::MutexLock lock(&mu);
          if (first_error.empty()) first_error = st.error_message();
        }
      }
    });
  }
  for (std::thread& w : workers) w.join();
  PacedResult r;
  r.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  at_end();
  r.ok = ok;
  r.errors = errors;
  r.first_error = first_error;
  return r;
}

double Percentile(std::vector<int64_t> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return static_cast<double>(v[std::min(i, v.size() - 1)]) / 1e6;  // ms
}

// mandantd's CPU in short intervals while something runs, for its peak.
class CpuSampler {
 public:
  CpuSampler(pid_t pid, absl::Duration interval) : pid_(pid), interval_(interval) {
    thread_ = std::thread([this] {
      double last = ProcessCpuSeconds(pid_);
      absl::Time last_t = absl::Now();
      while (!stop_) {
        absl::SleepFor(interval_);
        const double now = ProcessCpuSeconds(pid_);
        const absl::Time now_t = absl::Now();
        const double pct = 100.0 * (now - last) / absl::ToDoubleSeconds(now_t - last_t);
        peak_ = std::max(peak_.load(), pct);
        last = now;
        last_t = now_t;
      }
    });
  }
  ~CpuSampler() { Stop(); }
  double Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return peak_;
  }

 private:
  const pid_t pid_;
  const absl::Duration interval_;
  std::atomic<bool> stop_{false};
  std::atomic<double> peak_{0};
  std::thread thread_;
};

// False once `pid` (a child of this process) has exited; it stays a zombie
// until reaped, so /proc still lists it.
bool Alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

// ------------------------------------------------------------ real agent

struct RealAgentResult {
  bool ran = false;
  std::string skipped;  // why not, when !ran
  double seconds_to_ready = 0;
  double cpu_percent = 0;
  double window_s = 0;
  int64_t rss_bytes = 0;
  int64_t peak_rss_bytes = 0;
  int threads = 0;
};

int ThreadCount(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) {
      int n = 0;
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(8)), &n);
      return n;
    }
  }
  return 0;
}

// The real agent's host namespace and the veth that lets it reach mandantd
// on the root namespace's address.
struct AgentNetwork {
  std::unique_ptr<testing::NetworkNamespaces> ns;
  std::string root_link;
  std::string controller_address;
  ~AgentNetwork() {
    ns.reset();  // kills what runs in the namespaces, deletes them and the veth
    if (!root_link.empty()) (void)testing::RunCommand({"ip", "link", "del", root_link});
  }
};

absl::StatusOr<std::unique_ptr<AgentNetwork>> MakeAgentNetwork() {
  auto net = std::make_unique<AgentNetwork>();
  MANDANT_ASSIGN_OR_RETURN(net->ns, testing::NetworkNamespaces::Create(1));
  const std::string cidr = net->ns->UnderlayCidr();
  net->controller_address = absl::StrCat(cidr.substr(0, cidr.rfind('.')), ".250");
  const std::string link = absl::StrCat("mdab", getpid() % 100000);
  MANDANT_RETURN_IF_ERROR(testing::RunCommand({"ip", "link", "add", link, "type", "veth", "peer",
                                               "name", "pc", "netns", net->ns->switch_namespace()})
                              .status());
  net->root_link = link;
  MANDANT_RETURN_IF_ERROR(
      testing::RunCommand({"ip", "addr", "add", net->controller_address + "/24", "dev", link})
          .status());
  MANDANT_RETURN_IF_ERROR(testing::RunCommand({"ip", "link", "set", link, "up"}).status());
  MANDANT_RETURN_IF_ERROR(
      net->ns->Run(net->ns->switch_namespace(), {"ip", "link", "set", "pc", "master", "sw0", "up"})
          .status());
  return net;
}

RealAgentResult MeasureRealAgent(const Settings& s, const Environment& env, AgentNetwork& net) {
  RealAgentResult r;
  auto stub = v1::HostService::NewStub(ServerTlsChannel(env));
  v1::CreateHostRequest create;
  create.set_host_id("real-agent");
  create.mutable_host()->set_underlay_address(net.ns->UnderlayAddress(0));
  v1::CreateHostResponse created;
  {
    grpc::ClientContext ctx;
    AdminContext(ctx, env.token());
    grpc::Status st = stub->CreateHost(&ctx, create, &created);
    if (!st.ok()) {
      r.skipped = absl::StrCat("CreateHost: ", st.error_message());
      return r;
    }
  }
  auto state = testing::MakeTempDir("mab");
  if (!state.ok()) {
    r.skipped = std::string(state.status().message());
    return r;
  }
  const std::string token_file = env.dir() + "/real-agent.token";
  std::ofstream(token_file) << created.bootstrap_token().token();
  std::ofstream(env.dir() + "/root-for-agent.pem") << env.ca_pem();
  const std::string log = env.dir() + "/real-agent.log";
  (void)testing::RunCommand({"mkdir", "-p", *state + "/images"});
  const absl::Time start = absl::Now();
  auto pid = net.ns->Spawn(
      net.ns->host(0),
      {s.agent_path, absl::StrCat("--controller=", net.controller_address, ":", env.port()),
       "--host=real-agent", absl::StrCat("--underlay_address=", net.ns->UnderlayAddress(0)),
       absl::StrCat("--state_dir=", *state, "/s"), absl::StrCat("--image_dir=", *state, "/images"),
       absl::StrCat("--ca_file=", env.dir(), "/root-for-agent.pem"),
       absl::StrCat("--token_file=", token_file), "--reserve_memory_mib=0", "--reserve_disk_gib=0",
       "--log_level=info"},
      log);
  if (!pid.ok()) {
    r.skipped = absl::StrCat("starting mandant-agent: ", pid.status().message());
    testing::RemoveTree(*state);
    return r;
  }
  bool ready = false;
  while (!ready && absl::Now() - start < absl::Seconds(180) && !g_cancel) {
    absl::SleepFor(absl::Milliseconds(500));
    v1::GetHostRequest get;
    get.set_name("hosts/real-agent");
    v1::Host host;
    grpc::ClientContext ctx;
    AdminContext(ctx, env.token());
    if (!stub->GetHost(&ctx, get, &host).ok()) continue;
    for (const v1::Condition& c : host.conditions()) {
      if (c.type() == "Ready" && c.status() == v1::CONDITION_STATUS_TRUE) ready = true;
    }
  }
  if (!ready) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    r.skipped = absl::StrCat("the real agent's host did not become Ready within 180 s; its log: ",
                             text.size() > 1500 ? text.substr(text.size() - 1500) : text);
  } else {
    r.seconds_to_ready = absl::ToDoubleSeconds(absl::Now() - start);
    // Let start-up work (libvirt's capability probe, first reconcile) end.
    absl::SleepFor(absl::Seconds(5));
    const double cpu0 = ProcessCpuSeconds(*pid);
    const absl::Time t0 = absl::Now();
    absl::SleepFor(s.real_agent_window);
    const double cpu1 = ProcessCpuSeconds(*pid);
    r.window_s = absl::ToDoubleSeconds(absl::Now() - t0);
    r.cpu_percent = 100.0 * (cpu1 - cpu0) / r.window_s;
    ProcessMemory m = ReadProcessMemory(*pid);
    r.rss_bytes = m.rss_bytes;
    r.peak_rss_bytes = m.peak_rss_bytes;
    r.threads = ThreadCount(*pid);
    r.ran = true;
  }
  (void)net.ns->Kill(*pid);
  testing::RemoveTree(*state);
  return r;
}

// ------------------------------------------------------------ steps

struct StepResult {
  int n = 0;
  double enroll_s = 0;
  AgentFleet::ConnectResult connect;
  int connected = 0;
  FleetView view;
  double hb_window_s = 0;
  double heartbeats_per_s = 0;
  CpuTimes hb_cpu, idle_cpu, health_cpu;
  double idle_window_s = 0;
  PacedResult health;
  int64_t rss_bytes = 0;
  int64_t unexpected_ends = 0;
  std::string stop_reason;

  double MandantdPct(const CpuTimes& c, double s) const { return 100.0 * c.mandantd / s; }
  // mandantd CPU per heartbeat and per health check, net of holding the
  // idle streams; microseconds.
  double HeartbeatCpuUs() const {
    const double idle_rate = idle_cpu.mandantd / idle_window_s;
    return heartbeats_per_s > 0
               ? 1e6 * (hb_cpu.mandantd / hb_window_s - idle_rate) / heartbeats_per_s
               : 0;
  }
  double HeartbeatPgUs() const {
    const double idle_rate = idle_cpu.postgres / idle_window_s;
    return heartbeats_per_s > 0
               ? 1e6 * (hb_cpu.postgres / hb_window_s - idle_rate) / heartbeats_per_s
               : 0;
  }
  double HealthCpuUs() const {
    const double rate = health.seconds > 0 ? health.ok / health.seconds : 0;
    const double idle_rate = idle_cpu.mandantd / idle_window_s;
    return rate > 0 ? 1e6 * (health_cpu.mandantd / health.seconds - idle_rate) / rate : 0;
  }
};

nlohmann::json StepJson(const StepResult& r) {
  return {
      {"agents", r.n},
      {"enroll_s", r.enroll_s},
      {"connect_s", r.connect.seconds},
      {"connected_new", r.connect.connected},
      {"connect_first_error", r.connect.first_error},
      {"streams_connected", r.connected},
      {"hosts_ready", r.view.ready},
      {"max_last_seen_age_s", r.view.max_last_seen_age_s},
      {"hello_to_spec_ms",
       {{"p50", Percentile(r.connect.hello_to_spec_nanos, 0.5)},
        {"p99", Percentile(r.connect.hello_to_spec_nanos, 0.99)}}},
      {"heartbeats_per_s", r.heartbeats_per_s},
      {"mandantd_cpu_percent",
       {{"heartbeats", r.MandantdPct(r.hb_cpu, r.hb_window_s)},
        {"idle", r.MandantdPct(r.idle_cpu, r.idle_window_s)},
        {"health_baseline",
         r.health.seconds > 0 ? r.MandantdPct(r.health_cpu, r.health.seconds) : 0}}},
      {"postgres_cpu_percent_heartbeats", 100.0 * r.hb_cpu.postgres / r.hb_window_s},
      {"machine_busy_percent_heartbeats",
       100.0 * r.hb_cpu.machine_busy / r.hb_window_s / sysconf(_SC_NPROCESSORS_ONLN)},
      {"mandantd_rss_bytes", r.rss_bytes},
      {"health_per_s", r.health.seconds > 0 ? r.health.ok / r.health.seconds : 0},
      {"health_errors", r.health.errors},
      {"cpu_us_per_heartbeat", {{"mandantd", r.HeartbeatCpuUs()}, {"postgres", r.HeartbeatPgUs()}}},
      {"mandantd_cpu_us_per_health_check", r.HealthCpuUs()},
      {"heartbeat_over_health_check",
       r.HealthCpuUs() > 0 ? r.HeartbeatCpuUs() / r.HealthCpuUs() : 0},
      {"unexpected_stream_ends", r.unexpected_ends},
      {"stop_reason", r.stop_reason}};
}

int Run(const Settings& s) {
  const int cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  double load[3] = {0, 0, 0};
  (void)getloadavg(load, 3);
  // Thousands of connections: every one a descriptor here and in mandantd
  // (which inherits the limit).
  rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  std::cout << absl::StrFormat(
      "mandant_agent_loadgen: %d CPUs, load average %.2f at start; steps %s; heartbeat %s, "
      "lease %s; windows %s heartbeats, %s idle, %s Health/Check; descriptors %d\n",
      cpus, load[0], absl::GetFlag(FLAGS_steps), absl::FormatDuration(s.heartbeat_interval),
      absl::FormatDuration(s.lease), absl::FormatDuration(s.window),
      absl::FormatDuration(s.idle_window), absl::FormatDuration(s.baseline_window),
      static_cast<int>(nofile.rlim_cur));
  std::cout.flush();

  // The real agent needs mandantd reachable from a network namespace.
  RealAgentResult real;
  std::unique_ptr<AgentNetwork> net;
  if (s.real_agent) {
    if (geteuid() != 0) {
      real.skipped = "not root (network namespaces)";
    } else if (getpwnam("libvirt-qemu") == nullptr) {
      real.skipped = "no libvirt-qemu user (scripts/install-deps creates it)";
    } else if (access(s.agent_path.c_str(), X_OK) != 0) {
      real.skipped = absl::StrCat(s.agent_path, " is not executable");
    } else {
      auto made = MakeAgentNetwork();
      if (made.ok()) {
        net = *std::move(made);
      } else {
        real.skipped = absl::StrCat("network namespace: ", made.status().message());
      }
    }
  }

  EnvironmentOptions eo;
  eo.mandantd_path = s.mandantd_path;
  eo.pool_size = s.pool_size;
  eo.log_level = s.log_level;
  eo.pools.vni = {10000, 19999};
  eo.pools.node_supernet = *tenants::Cidr::Parse("10.64.0.0/12");
  eo.pools.storage_supernet = *tenants::Cidr::Parse("10.96.0.0/12");
  eo.pools.default_prefix_length = 28;
  eo.pki_serving_cert = true;
  if (net) {
    // The root namespace's end of the veth: local to this process as well.
    eo.listen_host = net->controller_address;
    eo.server_names.push_back(net->controller_address);
  }
  eo.extra_config = absl::StrCat(
      "agents: {heartbeat_interval_seconds: ", absl::ToInt64Seconds(s.heartbeat_interval),
      ", lease_duration_seconds: ", absl::ToInt64Seconds(s.lease), "}\n");
  const absl::Time setup_start = absl::Now();
  auto env_or = Environment::Start(eo);
  if (!env_or.ok()) {
    std::cerr << "mandant_agent_loadgen: cannot set up the environment: "
              << env_or.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<Environment> env = *std::move(env_or);
  std::cout << absl::StrFormat("environment up in %.1f s (mandantd pid %d, %s)\n",
                               absl::ToDoubleSeconds(absl::Now() - setup_start),
                               env->mandantd_pid(), env->address());
  std::cout.flush();

  if (net) {
    // The namespaces stay until the end: mandantd listens on the veth.
    real = MeasureRealAgent(s, *env, *net);
  }
  if (real.ran) {
    std::cout << absl::StrFormat(
        "real mandant-agent (idle, no VMs, embedded QEMU driver): Ready %.1f s after start; "
        "RSS %.1f MiB (peak %.1f MiB), %d threads; CPU %.2f%% of one core over %.0f s\n",
        real.seconds_to_ready, real.rss_bytes / 1048576.0, real.peak_rss_bytes / 1048576.0,
        real.threads, real.cpu_percent, real.window_s);
  } else if (s.real_agent) {
    std::cout << "real mandant-agent skipped: " << real.skipped << "\n";
  }
  std::cout.flush();

  CpuProbe probe(env->mandantd_pid(), env->postmaster_pid());
  FleetOptions fo;
  fo.address = env->address();
  fo.server_name = env->server_name();
  fo.ca_pem = env->ca_pem();
  fo.heartbeat_interval = s.heartbeat_interval;
  auto fleet = std::make_unique<AgentFleet>(fo);

  std::cout << "\n"
            << absl::StrFormat("%6s %6s %6s %8s %8s %6s %7s %7s %7s %7s %6s %7s %7s %6s\n",
                               "agents", "conn", "ready", "hello>", "spec ms", "hb/s", "mdCPU%",
                               "idle%", "pgCPU%", "RSS MiB", "hb us", "health", "hb/hc", "lag s")
            << absl::StrFormat("%6s %6s %6s %8s %8s %6s %7s %7s %7s %7s %6s %7s %7s %6s\n", "", "",
                               "", "p50", "p99", "", "", "", "", "", "mdCPU", "us", "", "");
  std::cout.flush();

  std::vector<StepResult> steps;
  int have = 0;
  for (int n : s.steps) {
    if (g_cancel) break;
    StepResult r;
    r.n = n;
    const absl::Time e0 = absl::Now();
    auto creds = EnrollHosts(*env, have, n, s.enroll_threads);
    if (!creds.ok()) {
      r.stop_reason = absl::StrCat("enrollment failed: ", creds.status().message());
      std::cout << "step " << n << ": " << r.stop_reason << "\n";
      steps.push_back(r);
      break;
    }
    r.enroll_s = absl::ToDoubleSeconds(absl::Now() - e0);
    r.connect = fleet->Add(*creds, s.connect_in_flight, absl::Seconds(120));
    have = n;
    // Let the last HostStatus reports land.
    absl::SleepFor(absl::Seconds(2));

    fleet->PauseHeartbeats(false);
    const int64_t hb0 = fleet->heartbeats_sent();
    const CpuTimes c0 = probe.Read();
    const absl::Time t0 = absl::Now();
    absl::SleepFor(s.window);
    const CpuTimes c1 = probe.Read();
    r.hb_window_s = absl::ToDoubleSeconds(absl::Now() - t0);
    r.heartbeats_per_s = (fleet->heartbeats_sent() - hb0) / r.hb_window_s;
    r.hb_cpu = c1 - c0;
    r.rss_bytes = ReadProcessMemory(env->mandantd_pid()).rss_bytes;
    r.connected = fleet->connected();
    auto view = ViewFleet(*env);
    if (view.ok()) r.view = *view;

    fleet->PauseHeartbeats(true);
    const CpuTimes i0 = probe.Read();
    const absl::Time it0 = absl::Now();
    absl::SleepFor(s.idle_window);
    const CpuTimes i1 = probe.Read();
    r.idle_window_s = absl::ToDoubleSeconds(absl::Now() - it0);
    r.idle_cpu = i1 - i0;

    CpuTimes h0, h1;
    const double rate = n / absl::ToDoubleSeconds(s.heartbeat_interval);
    r.health = PacedHealthChecks(
        *env, rate, s.baseline_window, std::min(s.health_threads, std::max(1, n / 10)),
        [&] { h0 = probe.Read(); }, [&] { h1 = probe.Read(); });
    r.health_cpu = h1 - h0;
    fleet->PauseHeartbeats(false);
    r.unexpected_ends = fleet->unexpected_ends();

    const double md_pct = r.MandantdPct(r.hb_cpu, r.hb_window_s);
    std::cout << absl::StrFormat(
        "%6d %6d %6d %8.1f %8.1f %6.0f %7.1f %7.1f %7.1f %7.1f %6.0f %7.0f %7.2f %6.1f\n", n,
        r.connected, r.view.ready, Percentile(r.connect.hello_to_spec_nanos, 0.5),
        Percentile(r.connect.hello_to_spec_nanos, 0.99), r.heartbeats_per_s, md_pct,
        r.MandantdPct(r.idle_cpu, r.idle_window_s), 100.0 * r.hb_cpu.postgres / r.hb_window_s,
        r.rss_bytes / 1048576.0, r.HeartbeatCpuUs(), r.HealthCpuUs(),
        r.HealthCpuUs() > 0 ? r.HeartbeatCpuUs() / r.HealthCpuUs() : 0, r.view.max_last_seen_age_s);
    std::cout << absl::StrFormat(
        "       enrolled %d hosts in %.1f s, connected %d new streams in %.1f s; Health/Check "
        "%.0f/s (%d errors); machine busy %.0f%%\n",
        static_cast<int>(creds->size()), r.enroll_s, r.connect.connected, r.connect.seconds,
        r.health.seconds > 0 ? r.health.ok / r.health.seconds : 0,
        static_cast<int>(r.health.errors), 100.0 * r.hb_cpu.machine_busy / r.hb_window_s / cpus);
    if (!r.connect.first_error.empty()) {
      std::cout << "       first stream failure: " << r.connect.first_error << "\n";
    }
    if (r.unexpected_ends > 0) {
      std::cout << "       streams ended unexpectedly so far: " << r.unexpected_ends
                << " (first: " << fleet->first_unexpected_error() << ")\n";
    }
    if (!r.view.not_ready_example.empty()) {
      std::cout << "       not Ready, e.g. " << r.view.not_ready_example << "\n";
    }
    std::cout.flush();

    if (!Alive(env->mandantd_pid())) {
      r.stop_reason = "mandantd died";
      std::cout << "       MANDANTD DIED; the end of its log:\n"
                << env->MandantdLogTail(3000) << "\n";
    } else if (r.connected < n) {
      r.stop_reason = absl::StrCat(n - r.connected, " streams not connected");
    } else if (r.view.ready < n) {
      r.stop_reason = absl::StrCat(n - r.view.ready, " hosts not Ready");
    } else if (r.view.max_last_seen_age_s > 2 * absl::ToDoubleSeconds(s.heartbeat_interval)) {
      r.stop_reason = "heartbeats fall behind (a Ready host was last seen over 2 intervals ago)";
    } else if (md_pct >= s.max_cpu * 100.0 * cpus) {
      r.stop_reason = absl::StrFormat("mandantd used %.0f%% CPU (limit %.0f%%)", md_pct,
                                      s.max_cpu * 100.0 * cpus);
    }
    steps.push_back(r);
    if (!r.stop_reason.empty()) {
      std::cout << "stepping stops: " << r.stop_reason << "\n";
      break;
    }
  }

  nlohmann::json storm_json = nullptr;
  bool storm_json_died = false;
  if (s.storm && have > 0 && !g_cancel) {
    const CpuTimes c0 = probe.Read();
    CpuSampler sampler(env->mandantd_pid(), absl::Milliseconds(500));
    const absl::Time t0 = absl::Now();
    AgentFleet::ConnectResult storm = fleet->ReconnectAll(s.storm_jitter, s.storm_timeout);
    const double streams_back_s = absl::ToDoubleSeconds(absl::Now() - t0);
    double all_ready_s = -1;
    FleetView view;
    while (absl::Now() - t0 < s.storm_timeout && !g_cancel) {
      auto v = ViewFleet(*env);
      if (v.ok()) view = *v;
      if (v.ok() && view.ready >= have) {
        all_ready_s = absl::ToDoubleSeconds(absl::Now() - t0);
        break;
      }
      absl::SleepFor(absl::Milliseconds(500));
    }
    const double peak = sampler.Stop();
    const CpuTimes c1 = probe.Read();
    const double total_s = absl::ToDoubleSeconds(absl::Now() - t0);
    const CpuTimes used = c1 - c0;
    std::cout << absl::StrFormat(
        "\nreconnect storm, %d agents (channels dropped, all reconnecting %s): %d/%d streams back "
        "with their spec in %.1f s, all hosts Ready after %s; Hello->spec p50 %.0f ms, p99 %.0f "
        "ms; mandantd CPU peak %.0f%% (0.5 s samples), mean %.0f%%, %.1f CPU-s (PostgreSQL %.1f "
        "CPU-s)\n",
        have,
        s.storm_jitter > absl::ZeroDuration()
            ? absl::StrCat("within ", absl::FormatDuration(s.storm_jitter))
            : "at once",
        storm.connected, storm.attempted, storm.seconds,
        all_ready_s >= 0 ? absl::StrFormat("%.1f s", all_ready_s) : "timeout",
        Percentile(storm.hello_to_spec_nanos, 0.5), Percentile(storm.hello_to_spec_nanos, 0.99),
        peak, 100.0 * used.mandantd / total_s, used.mandantd, used.postgres);
    std::cout << absl::StrFormat(
        "  starting the %d streams took this process %.1f s; its CPU during the storm %.1f "
        "CPU-s\n",
        storm.attempted, storm.start_seconds, used.loadgen);
    if (!storm.first_error.empty()) std::cout << "  first failure: " << storm.first_error << "\n";
    if (!Alive(env->mandantd_pid())) {
      std::cout << "  MANDANTD DIED during the storm; the end of its log:\n"
                << env->MandantdLogTail(3000) << "\n";
      storm_json_died = true;
    }
    std::cout.flush();
    storm_json = {{"agents", have},
                  {"jitter_s", absl::ToDoubleSeconds(s.storm_jitter)},
                  {"streams_back", storm.connected},
                  {"streams_back_s", storm.seconds},
                  {"loadgen_start_s", storm.start_seconds},
                  {"loadgen_cpu_s", used.loadgen},
                  {"all_ready_s", all_ready_s},
                  {"hello_to_spec_ms",
                   {{"p50", Percentile(storm.hello_to_spec_nanos, 0.5)},
                    {"p99", Percentile(storm.hello_to_spec_nanos, 0.99)}}},
                  {"mandantd_cpu_peak_percent", peak},
                  {"mandantd_cpu_mean_percent", 100.0 * used.mandantd / total_s},
                  {"mandantd_cpu_s", used.mandantd},
                  {"postgres_cpu_s", used.postgres},
                  {"first_error", storm.first_error},
                  {"mandantd_died", storm_json_died}};
    (void)streams_back_s;
  }
  if (g_cancel) std::cout << "interrupted: the figures cover what ran\n";

  // Stop the agents before mandantd goes.
  fleet.reset();

  nlohmann::json out = {
      {"bench", "mandant_agent_loadgen"},
      {"config",
       {{"cpus", cpus},
        {"load_average_at_start", load[0]},
        {"heartbeat_interval_s", absl::ToDoubleSeconds(s.heartbeat_interval)},
        {"lease_s", absl::ToDoubleSeconds(s.lease)},
        {"window_s", absl::ToDoubleSeconds(s.window)},
        {"idle_window_s", absl::ToDoubleSeconds(s.idle_window)},
        {"baseline_window_s", absl::ToDoubleSeconds(s.baseline_window)},
        {"pool_size", s.pool_size},
        {"mandantd_log_level", s.log_level}}},
      {"steps", nlohmann::json::array()},
      {"storm", storm_json},
      {"real_agent", real.ran ? nlohmann::json{{"seconds_to_ready", real.seconds_to_ready},
                                               {"rss_bytes", real.rss_bytes},
                                               {"peak_rss_bytes", real.peak_rss_bytes},
                                               {"threads", real.threads},
                                               {"cpu_percent", real.cpu_percent},
                                               {"window_s", real.window_s}}
                              : nlohmann::json{{"skipped", real.skipped}}},
      {"interrupted", g_cancel.load()}};
  for (const StepResult& r : steps) out["steps"].push_back(StepJson(r));
  std::cout << "\n" << out.dump() << std::endl;
  return 0;
}

}  // namespace
}  // namespace mandant::bench

int main(int argc, char** argv) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "mandant_agent_loadgen [--steps 100,500,1000,2000,4000] [--heartbeat_interval 10s] "
      "[--window 10s] [--storm] [--real_agent]");
  absl::ParseCommandLine(argc, argv);
  (void)mandant::logging::Init("warn", mandant::logging::Format::kText);
  auto settings = mandant::bench::ReadFlags();
  if (!settings.ok()) {
    std::cerr << "mandant_agent_loadgen: " << settings.status().message() << "\n";
    return 2;
  }
  struct sigaction sa = {};
  sa.sa_handler = mandant::bench::OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return mandant::bench::Run(*settings);
}
