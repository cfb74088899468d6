// mandant_agent_reconcile_bench: how long the host agent takes from a
// HostSpec with new VMs to those VMs defined and started (QEMU running, the
// guest's boot excluded), against the same domains defined and started
// straight through the Hypervisor interface; and an idle Reconcile pass over
// running VMs against a bare ListDomains (docs/benchmarks.md, "Host agents").
//
// Runs agents/vm's Vms on libvirt's embedded QEMU driver in a temporary
// folder (root only; needs the libvirt-qemu user and qemu-img). The base
// image is a blank 1 GiB qcow2: QEMU starts and stays in the firmware.
// Prints a table and, as the last line, one JSON object. Exits 0 whatever the
// figures are; 1 when libvirt cannot be set up, 2 on bad flags.

#include <dirent.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

#include "agents/vm/base_images.h"
#include "agents/vm/domain_xml.h"
#include "agents/vm/hypervisor.h"
#include "agents/vm/libvirt_hypervisor.h"
#include "agents/vm/seed_image.h"
#include "agents/vm/vms.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "tests/support/subprocess.h"

ABSL_FLAG(std::string, vm_counts, "1,20", "VMs per HostSpec change, comma-separated");
ABSL_FLAG(int, rounds, 3, "rounds; each round measures every count on both paths");
ABSL_FLAG(int, idle_passes, 20,
          "idle Reconcile passes (and bare ListDomains) at the largest count");
ABSL_FLAG(int, memory_mib, 128, "memory of each VM");
ABSL_FLAG(std::string, domain_type, "qemu", "libvirt domain type: qemu (TCG) or kvm");

namespace mandant::bench {
namespace {

using agent::DomainInfo;
using agent::Hypervisor;

std::atomic<bool> g_cancel{false};
void OnSignal(int) { g_cancel.store(true); }

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// The real hypervisor, with the time spent in each call and a count of the
// calls that change something.
class TimedHypervisor : public Hypervisor {
 public:
  explicit TimedHypervisor(Hypervisor* inner) : inner_(inner) {}

  struct Totals {
    absl::Duration list, define, start, other;
    int mutations = 0;
  };
  Totals totals() const { return totals_; }

  // agent::Hypervisor
  absl::StatusOr<std::vector<DomainInfo>> ListDomains() override {
    const absl::Time t = absl::Now();
    auto r = inner_->ListDomains();
    totals_.list += absl::Now() - t;
    return r;
  }
  absl::StatusOr<std::string> DefineDomain(absl::string_view xml) override {
    const absl::Time t = absl::Now();
    auto r = inner_->DefineDomain(xml);
    totals_.define += absl::Now() - t;
    ++totals_.mutations;
    return r;
  }
  absl::Status StartDomain(absl::string_view uuid) override {
    const absl::Time t = absl::Now();
    auto r = inner_->StartDomain(uuid);
    totals_.start += absl::Now() - t;
    ++totals_.mutations;
    return r;
  }
  absl::Status ShutdownDomain(absl::string_view uuid) override {
    return Other([&] { return inner_->ShutdownDomain(uuid); });
  }
  absl::Status DestroyDomain(absl::string_view uuid) override {
    return Other([&] { return inner_->DestroyDomain(uuid); });
  }
  absl::Status UndefineDomain(absl::string_view uuid) override {
    return Other([&] { return inner_->UndefineDomain(uuid); });
  }
  absl::StatusOr<agent::HypervisorVersions> GetVersions() override { return inner_->GetVersions(); }

 private:
  template <typename Fn>
  absl::Status Other(Fn fn) {
    const absl::Time t = absl::Now();
    absl::Status s = fn();
    totals_.other += absl::Now() - t;
    ++totals_.mutations;
    return s;
  }

  Hypervisor* const inner_;
  Totals totals_;
};

std::string NewUuid(absl::BitGen& rng) {
  const uint64_t a = absl::Uniform<uint64_t>(rng), b = absl::Uniform<uint64_t>(rng);
  // Version 4, variant 1.
  return absl::StrFormat(
      "%08x-%04x-4%03x-%04x-%012x", static_cast<uint32_t>(a >> 32),
      static_cast<uint32_t>((a >> 16) & 0xffff), static_cast<uint32_t>(a & 0xfff),
      static_cast<uint32_t>(0x8000 | ((b >> 48) & 0x3fff)), b & 0xffffffffffffULL);
}

std::vector<v1::VmSpec> MakeSpecs(int n, const std::string& sha256, int memory_mib,
                                  absl::BitGen& rng) {
  std::vector<v1::VmSpec> out;
  for (int i = 0; i < n; ++i) {
    v1::VmSpec s;
    s.set_machine_id(NewUuid(rng));
    s.set_tenant("tenants/bench");
    s.set_cluster("tenants/bench/clusters/c1");
    s.set_name(absl::StrCat("node-", i));
    s.mutable_resources()->set_vcpus(1);
    s.mutable_resources()->set_memory_mib(memory_mib);
    s.mutable_resources()->set_disk_gib(1);
    s.set_base_image("base");
    s.set_base_image_sha256(sha256);
    s.mutable_seed()->set_user_data("#cloud-config\nhostname: node\n");
    s.mutable_seed()->set_meta_data(
        absl::StrCat("instance-id: ", s.machine_id(), "\nlocal-hostname: node-", i, "\n"));
    s.mutable_seed()->set_network_config("version: 2\n");
    s.set_power_state(v1::POWER_STATE_ON);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const v1::VmSpec& a, const v1::VmSpec& b) {
    return a.machine_id() < b.machine_id();
  });
  return out;
}

// Every VM running and without error.
absl::Status CheckRunning(const std::vector<v1::VmStatus>& statuses, size_t want) {
  size_t running = 0;
  for (const v1::VmStatus& s : statuses) {
    if (!s.error().empty()) {
      return absl::InternalError(absl::StrCat("VM ", s.machine_id(), ": ", s.error()));
    }
    if (s.state() == v1::VM_STATE_RUNNING) ++running;
  }
  if (running != want) {
    return absl::InternalError(absl::StrCat(running, " of ", want, " VMs running"));
  }
  return absl::OkStatus();
}

// Kills every process whose command line mentions `needle` (QEMU of this
// run only).
int KillProcessesMentioning(const std::string& needle) {
  int killed = 0;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  while (dirent* e = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || pid <= 1 || pid == getpid()) continue;
    std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"), std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find(needle) != std::string::npos && kill(pid, SIGKILL) == 0) ++killed;
  }
  closedir(proc);
  return killed;
}

struct Sample {
  double agent_ms = 0;
  double agent_define_ms = 0, agent_start_ms = 0, agent_list_ms = 0;
  double baseline_ms = 0;
  double delete_ms = 0;
};

struct Bench {
  std::string dir;
  std::string state_dir;
  std::string baseline_dir;
  std::string domain_type;
  int memory_mib = 128;
  std::string sha256;
  agent::BaseImages* images = nullptr;
  TimedHypervisor* hv = nullptr;
  agent::Vms* vms = nullptr;
  int64_t version = 0;
  absl::BitGen rng;

  absl::StatusOr<std::vector<v1::VmStatus>> Reconcile(const std::vector<v1::VmSpec>& specs) {
    return vms->Reconcile(specs, ++version, {});
  }

  // The agent's path: a HostSpec with `n` new VMs, from Reconcile's call to
  // its return with every VM running. Leaves them running in `*specs`.
  absl::Status AgentPath(int n, Sample* out, std::vector<v1::VmSpec>* specs) {
    *specs = MakeSpecs(n, sha256, memory_mib, rng);
    const TimedHypervisor::Totals before = hv->totals();
    const absl::Time t = absl::Now();
    MANDANT_ASSIGN_OR_RETURN(std::vector<v1::VmStatus> st, Reconcile(*specs));
    out->agent_ms = Ms(absl::Now() - t);
    const TimedHypervisor::Totals after = hv->totals();
    out->agent_define_ms = Ms(after.define - before.define);
    out->agent_start_ms = Ms(after.start - before.start);
    out->agent_list_ms = Ms(after.list - before.list);
    return CheckRunning(st, n);
  }

  absl::Status DeleteAll(Sample* out) {
    const absl::Time t = absl::Now();
    MANDANT_ASSIGN_OR_RETURN(std::vector<v1::VmStatus> st, Reconcile({}));
    if (out != nullptr) out->delete_ms = Ms(absl::Now() - t);
    for (const v1::VmStatus& s : st) {
      if (!s.error().empty()) return absl::InternalError(s.error());
    }
    return absl::OkStatus();
  }

  // The baseline: the same domains (files made beforehand, same XML),
  // DefineDomain + StartDomain each; then destroyed, undefined, removed.
  absl::Status BaselinePath(int n, Sample* out) {
    std::vector<v1::VmSpec> specs = MakeSpecs(n, sha256, memory_mib, rng);
    MANDANT_ASSIGN_OR_RETURN(agent::BaseImageFile image, images->Find("base"));
    std::vector<std::string> xmls;
    for (const v1::VmSpec& s : specs) {
      const std::string vm = absl::StrCat(baseline_dir, "/", s.machine_id());
      mkdir(vm.c_str(), 0700);
      agent::DomainFiles files{vm + "/disk.qcow2",
                               image.path,
                               vm + "/seed.iso",
                               vm + "/console.log",
                               vm + "/status.sock",
                               "",
                               ""};
      MANDANT_RETURN_IF_ERROR(agent::CreateOverlayDisk(image.path, files.disk, 1));
      MANDANT_RETURN_IF_ERROR(agent::WriteSeedImage(s.seed(), files.seed));
      MANDANT_ASSIGN_OR_RETURN(std::string xml,
                               agent::RenderDomainXml(s, files, ++version, domain_type));
      xmls.push_back(std::move(xml));
    }
    absl::Status result;
    const absl::Time t = absl::Now();
    for (size_t i = 0; i < specs.size() && result.ok(); ++i) {
      auto uuid = hv->DefineDomain(xmls[i]);
      result = uuid.ok() ? hv->StartDomain(*uuid) : uuid.status();
    }
    out->baseline_ms = Ms(absl::Now() - t);
    for (const v1::VmSpec& s : specs) {
      (void)hv->DestroyDomain(s.machine_id());
      (void)hv->UndefineDomain(s.machine_id());
      testing::RemoveTree(absl::StrCat(baseline_dir, "/", s.machine_id()));
    }
    return result;
  }
};

int Run() {
  std::vector<int> counts;
  for (absl::string_view v :
       absl::StrSplit(absl::GetFlag(FLAGS_vm_counts), ',', absl::SkipEmpty())) {
    int n = 0;
    if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 200) {
      std::cerr << "mandant_agent_reconcile_bench: --vm_counts: \"" << v << "\" is not 1-200\n";
      return 2;
    }
    counts.push_back(n);
  }
  const int rounds = std::max(1, absl::GetFlag(FLAGS_rounds));
  const int idle_passes = std::max(1, absl::GetFlag(FLAGS_idle_passes));
  if (counts.empty()) return 2;
  if (geteuid() != 0) {
    std::cerr << "mandant_agent_reconcile_bench: needs root (libvirt's embedded QEMU driver)\n";
    return 1;
  }
  if (getpwnam("libvirt-qemu") == nullptr) {
    std::cerr << "mandant_agent_reconcile_bench: no libvirt-qemu user; create it "
                 "(useradd --system libvirt-qemu, as scripts/install-deps does)\n";
    return 1;
  }
  const int cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  double load[3] = {0, 0, 0};
  (void)getloadavg(load, 3);
  std::cout << absl::StrFormat(
      "mandant_agent_reconcile_bench: %d CPUs, load average %.2f at start; VM counts %s, %d "
      "rounds, %d MiB VMs, domain type %s\n",
      cpus, load[0], absl::GetFlag(FLAGS_vm_counts), rounds, absl::GetFlag(FLAGS_memory_mib),
      absl::GetFlag(FLAGS_domain_type));
  std::cout.flush();

  auto dir_or = testing::MakeTempDir("mrb");
  if (!dir_or.ok()) {
    std::cerr << dir_or.status().message() << "\n";
    return 1;
  }
  Bench b;
  b.dir = *dir_or;
  b.state_dir = b.dir + "/s";
  b.baseline_dir = b.dir + "/b";
  b.domain_type = absl::GetFlag(FLAGS_domain_type);
  b.memory_mib = absl::GetFlag(FLAGS_memory_mib);
  mkdir(b.baseline_dir.c_str(), 0700);
  mkdir((b.dir + "/img").c_str(), 0700);
  setenv("LIBVIRT_LOG_OUTPUTS", absl::StrCat("3:file:", b.dir, "/libvirt.log").c_str(), 0);

  int rc = 0;
  nlohmann::json out = {{"bench", "mandant_agent_reconcile_bench"}};
  {
    std::unique_ptr<Hypervisor> real;
    std::unique_ptr<TimedHypervisor> hv;
    std::unique_ptr<agent::BaseImages> images;
    std::unique_ptr<agent::Vms> vms;
    absl::Status st = [&]() -> absl::Status {
      const std::string root = b.dir + "/lv";
      MANDANT_RETURN_IF_ERROR(agent::PrepareEmbeddedRoot(root));
      MANDANT_RETURN_IF_ERROR(testing::RunCommand({"qemu-img", "create", "-q", "-f", "qcow2",
                                                   b.dir + "/img/base.qcow2", "1G"})
                                  .status());
      const absl::Time open = absl::Now();
      MANDANT_ASSIGN_OR_RETURN(real, agent::LibvirtHypervisor::Open("qemu:///embed?root=" + root));
      hv = std::make_unique<TimedHypervisor>(real.get());
      images = std::make_unique<agent::BaseImages>(b.dir + "/img");
      MANDANT_ASSIGN_OR_RETURN(agent::BaseImageFile image, images->Find("base"));
      b.sha256 = image.sha256;
      agent::Vms::Options o;
      o.hypervisor = hv.get();
      o.base_images = images.get();
      o.state_dir = b.state_dir;
      o.domain_type = b.domain_type;
      MANDANT_ASSIGN_OR_RETURN(vms, agent::Vms::Create(std::move(o)));
      b.images = images.get();
      b.hv = hv.get();
      b.vms = vms.get();
      // Warm-up, not measured: libvirt probes QEMU's capabilities on the
      // first start in a fresh root.
      Sample ignored;
      std::vector<v1::VmSpec> specs;
      MANDANT_RETURN_IF_ERROR(b.AgentPath(1, &ignored, &specs));
      MANDANT_RETURN_IF_ERROR(b.DeleteAll(nullptr));
      std::cout << absl::StrFormat("warm-up (connect, capability probe, one VM): %.1f s\n",
                                   absl::ToDoubleSeconds(absl::Now() - open));
      std::cout.flush();

      std::map<int, std::vector<Sample>> samples;
      std::vector<double> idle_ms, list_ms;
      int idle_mutations = 0;
      const int largest = *std::max_element(counts.begin(), counts.end());
      for (int r = 0; r < rounds && !g_cancel; ++r) {
        for (int n : counts) {
          if (g_cancel) break;
          Sample s;
          std::vector<v1::VmSpec> running;
          // Alternate the order so drift on the shared machine hits both.
          if (r % 2 == 1) MANDANT_RETURN_IF_ERROR(b.BaselinePath(n, &s));
          MANDANT_RETURN_IF_ERROR(b.AgentPath(n, &s, &running));
          if (n == largest && r == 0) {
            for (int i = 0; i < idle_passes; ++i) {
              const int m0 = hv->totals().mutations;
              const absl::Time t = absl::Now();
              MANDANT_ASSIGN_OR_RETURN(std::vector<v1::VmStatus> st, b.Reconcile(running));
              idle_ms.push_back(Ms(absl::Now() - t));
              idle_mutations += hv->totals().mutations - m0;
              MANDANT_RETURN_IF_ERROR(CheckRunning(st, running.size()));
              const absl::Time l = absl::Now();
              MANDANT_RETURN_IF_ERROR(real->ListDomains().status());
              list_ms.push_back(Ms(absl::Now() - l));
            }
          }
          MANDANT_RETURN_IF_ERROR(b.DeleteAll(&s));
          if (r % 2 == 0) MANDANT_RETURN_IF_ERROR(b.BaselinePath(n, &s));
          samples[n].push_back(s);
        }
      }

      std::cout << absl::StrFormat("\n%5s %12s %12s %7s %12s %12s %12s %12s %12s\n", "VMs",
                                   "agent ms", "baseline ms", "ratio", "per VM ms", "in define",
                                   "in start", "in list", "delete ms");
      for (int n : counts) {
        std::vector<double> a, base, def, start, list, del;
        for (const Sample& s : samples[n]) {
          a.push_back(s.agent_ms);
          base.push_back(s.baseline_ms);
          def.push_back(s.agent_define_ms);
          start.push_back(s.agent_start_ms);
          list.push_back(s.agent_list_ms);
          del.push_back(s.delete_ms);
        }
        const double ratio = Median(base) > 0 ? Median(a) / Median(base) : 0;
        std::cout << absl::StrFormat("%5d %12.0f %12.0f %7.2f %12.1f %12.0f %12.0f %12.0f %12.0f\n",
                                     n, Median(a), Median(base), ratio, Median(a) / n, Median(def),
                                     Median(start), Median(list), Median(del));
        nlohmann::json j = {
            {"vms", n},
            {"rounds", samples[n].size()},
            {"agent_ms", a},
            {"baseline_ms", base},
            {"agent_median_ms", Median(a)},
            {"baseline_median_ms", Median(base)},
            {"agent_over_baseline", ratio},
            {"agent_in_define_ms", Median(def)},
            {"agent_in_start_ms", Median(start)},
            {"agent_in_list_ms", Median(list)},
            {"agent_own_ms", Median(a) - Median(def) - Median(start) - Median(list)},
            {"delete_median_ms", Median(del)}};
        out["spec_change"].push_back(j);
      }
      const double idle = Median(idle_ms), bare = Median(list_ms);
      std::cout << absl::StrFormat(
          "\nidle Reconcile over %d running VMs: median %.2f ms (%d passes, %d hypervisor "
          "mutations); bare ListDomains %.2f ms; ratio %.2f\n",
          largest, idle, static_cast<int>(idle_ms.size()), idle_mutations, bare,
          bare > 0 ? idle / bare : 0);
      out["idle"] = {{"vms", largest},
                     {"passes", idle_ms.size()},
                     {"reconcile_median_ms", idle},
                     {"list_domains_median_ms", bare},
                     {"reconcile_over_list", bare > 0 ? idle / bare : 0},
                     {"mutations", idle_mutations}};
      return absl::OkStatus();
    }();
    if (!st.ok()) {
      std::cerr << "mandant_agent_reconcile_bench: " << st.message() << "\n";
      rc = 1;
    }
    // Leave nothing: every domain destroyed and undefined before the
    // embedded driver goes (its QEMU processes would outlive it).
    if (real != nullptr) {
      auto left = real->ListDomains();
      if (left.ok()) {
        for (const DomainInfo& d : *left) {
          (void)real->DestroyDomain(d.uuid);
          (void)real->UndefineDomain(d.uuid);
        }
      }
    }
    vms.reset();
    hv.reset();
    real.reset();
  }
  const int killed = KillProcessesMentioning(b.dir);
  if (killed > 0) std::cout << "killed " << killed << " leftover processes of this run\n";
  testing::RemoveTree(b.dir);
  if (g_cancel) out["interrupted"] = true;
  out["config"] = {{"cpus", cpus},
                   {"load_average_at_start", load[0]},
                   {"rounds", rounds},
                   {"memory_mib", b.memory_mib},
                   {"domain_type", b.domain_type}};
  std::cout << "\n" << out.dump() << std::endl;
  return rc;
}

}  // namespace
}  // namespace mandant::bench

int main(int argc, char** argv) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "mandant_agent_reconcile_bench [--vm_counts 1,20] [--rounds 3] [--idle_passes 20]");
  absl::ParseCommandLine(argc, argv);
  (void)mandant::logging::Init("warn", mandant::logging::Format::kText);
  struct sigaction sa = {};
  sa.sa_handler = mandant::bench::OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return mandant::bench::Run();
}
