#ifndef MANDANT_BENCH_PROCESS_CPU_H_
#define MANDANT_BENCH_PROCESS_CPU_H_

// CPU time of the processes taking part in a benchmark, read from /proc, so
// that a phase can report where its CPU went: the load generator, mandantd,
// PostgreSQL, and everything else on the machine.

#include <sys/types.h>

#include <cstdint>

namespace mandant::bench {

// Seconds of CPU (user + system). A negative value means "not known".
struct CpuTimes {
  double loadgen = 0;
  double mandantd = -1;
  double postgres = -1;
  double machine_busy = 0;  // all CPUs, every process
};

// The difference b - a, field by field (unknown stays unknown).
CpuTimes operator-(const CpuTimes& b, const CpuTimes& a);

class CpuProbe {
 public:
  // `mandantd_pid` and `postmaster_pid` may be 0 when not known (a remote
  // target); their times are then reported as unknown.
  CpuProbe(pid_t mandantd_pid, pid_t postmaster_pid)
      : mandantd_pid_(mandantd_pid), postmaster_pid_(postmaster_pid) {}

  // PostgreSQL's time is the postmaster's own, its reaped children's, and
  // that of every live child (backends, walwriter, autovacuum...).
  CpuTimes Read() const;

 private:
  const pid_t mandantd_pid_;
  const pid_t postmaster_pid_;
};

// CPU seconds (user + system) of one process and of its reaped children;
// negative when the process does not exist.
double ProcessCpuSeconds(pid_t pid);
// Resident set size (VmRSS) and its peak (VmHWM) in bytes; 0 when unknown.
struct ProcessMemory {
  int64_t rss_bytes = 0;
  int64_t peak_rss_bytes = 0;
};
ProcessMemory ReadProcessMemory(pid_t pid);

}  // namespace mandant::bench

#endif  // MANDANT_BENCH_PROCESS_CPU_H_
