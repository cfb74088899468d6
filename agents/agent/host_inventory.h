#ifndef MANDANT_AGENTS_AGENT_HOST_INVENTORY_H_
#define MANDANT_AGENTS_AGENT_HOST_INVENTORY_H_

#include <string>

#include "absl/status/statusor.h"

#include "mandant/v1/agent.pb.h"
#include "mandant/v1/common.pb.h"

namespace mandant::agent {

// What the host keeps for itself; the rest is offered for VMs.
struct HostReserve {
  int vcpus = 1;
  int64_t memory_mib = 1024;
  int64_t disk_gib = 10;
};

// The host's resources for VMs: online CPUs, MemTotal from /proc/meminfo and
// the size of the file system holding `state_dir`, each less `reserve` (and
// never below zero). libvirt's node info is not used: it can disagree with
// the kernel's view (cgroup limits, hotplug). INTERNAL when /proc/meminfo
// or the file system cannot be read.
absl::StatusOr<v1::Resources> HostCapacity(const std::string& state_dir,
                                           const HostReserve& reserve);

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_AGENT_HOST_INVENTORY_H_
