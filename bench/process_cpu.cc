#include "bench/process_cpu.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace mandant::bench {
namespace {

struct ProcStat {
  bool ok = false;
  pid_t ppid = 0;
  double self_s = 0;      // utime + stime
  double children_s = 0;  // cutime + cstime (reaped children)
};

ProcStat ReadProcStat(pid_t pid) {
  ProcStat out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return out;
  // The command name may hold spaces and parentheses; fields resume after the
  // last ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return out;
  std::vector<std::string> f = absl::StrSplit(line.substr(close + 2), ' ', absl::SkipEmpty());
  // f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
  if (f.size() < 15) return out;
  static const double kTick = static_cast<double>(sysconf(_SC_CLK_TCK));
  long long v[4] = {0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) (void)absl::SimpleAtoi(f[11 + i], &v[i]);
  int ppid = 0;
  (void)absl::SimpleAtoi(f[1], &ppid);
  out.ok = true;
  out.ppid = ppid;
  out.self_s = static_cast<double>(v[0] + v[1]) / kTick;
  out.children_s = static_cast<double>(v[2] + v[3]) / kTick;
  return out;
}

double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  static const double kTick = static_cast<double>(sysconf(_SC_CLK_TCK));
  return static_cast<double>(user + nice + system + irq + softirq + steal) / kTick;
}

}  // namespace

double ProcessCpuSeconds(pid_t pid) {
  ProcStat s = ReadProcStat(pid);
  return s.ok ? s.self_s + s.children_s : -1;
}

ProcessMemory ReadProcessMemory(pid_t pid) {
  ProcessMemory m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    int64_t* field = nullptr;
    if (line.rfind("VmRSS:", 0) == 0) field = &m.rss_bytes;
    if (line.rfind("VmHWM:", 0) == 0) field = &m.peak_rss_bytes;
    if (field == nullptr) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int64_t kb = 0;
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kb)) *field = kb * 1024;
  }
  return m;
}

CpuTimes operator-(const CpuTimes& b, const CpuTimes& a) {
  auto diff = [](double x, double y) { return x < 0 || y < 0 ? -1.0 : x - y; };
  CpuTimes d;
  d.loadgen = b.loadgen - a.loadgen;
  d.mandantd = diff(b.mandantd, a.mandantd);
  d.postgres = diff(b.postgres, a.postgres);
  d.machine_busy = b.machine_busy - a.machine_busy;
  return d;
}

CpuTimes CpuProbe::Read() const {
  CpuTimes t;
  t.loadgen = ReadProcStat(getpid()).self_s;
  if (mandantd_pid_ > 0) {
    ProcStat m = ReadProcStat(mandantd_pid_);
    if (m.ok) t.mandantd = m.self_s;
  }
  if (postmaster_pid_ > 0) {
    ProcStat pm = ReadProcStat(postmaster_pid_);
    if (pm.ok) {
      double total = pm.self_s + pm.children_s;
      if (DIR* proc = opendir("/proc")) {
        while (dirent* e = readdir(proc)) {
          int pid = 0;
          if (!absl::SimpleAtoi(e->d_name, &pid) || pid <= 0) continue;
          ProcStat child = ReadProcStat(pid);
          if (child.ok && child.ppid == postmaster_pid_) total += child.self_s;
        }
        closedir(proc);
      }
      t.postgres = total;
    }
  }
  t.machine_busy = MachineBusySeconds();
  return t;
}

}  // namespace mandant::bench
