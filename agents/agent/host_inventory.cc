#include "agents/agent/host_inventory.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace mandant::agent {

absl::StatusOr<v1::Resources> HostCapacity(const std::string& state_dir,
                                           const HostReserve& reserve) {
  v1::Resources r;
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  r.set_vcpus(std::max<int32_t>(0, static_cast<int32_t>(cpus) - reserve.vcpus));

  std::ifstream meminfo("/proc/meminfo");
  int64_t total_kib = -1;
  for (std::string line; std::getline(meminfo, line);) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "MemTotal:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, " kB");
    if (!absl::SimpleAtoi(rest, &total_kib)) total_kib = -1;
    break;
  }
  if (total_kib < 0) return absl::InternalError("cannot read MemTotal from /proc/meminfo");
  r.set_memory_mib(std::max<int64_t>(0, total_kib / 1024 - reserve.memory_mib));

  struct statvfs fs;
  if (statvfs(state_dir.c_str(), &fs) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot stat the file system of ", state_dir, ": ", std::strerror(errno)));
  }
  const int64_t gib =
      static_cast<int64_t>(fs.f_blocks) * static_cast<int64_t>(fs.f_frsize) / (int64_t{1} << 30);
  r.set_disk_gib(std::max<int64_t>(0, gib - reserve.disk_gib));
  return r;
}

}  // namespace mandant::agent
