#ifndef MANDANT_AGENTS_VM_VMS_H_
#define MANDANT_AGENTS_VM_VMS_H_

// The VMs of one host: makes libvirt's domains match the VmSpecs of the
// host's HostSpec, level-triggered and idempotent (the kubelet model of
// DESIGN.md). Each VM lives in STATE_DIR/vms/<machine_id>/ with disk.qcow2
// (a copy-on-write overlay on its base image), seed.iso (NoCloud),
// console.log and status.sock (the guest's status channel).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "agents/vm/base_images.h"
#include "agents/vm/hypervisor.h"
#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

// True for a canonical lower-case UUID ("6a1e3c2e-0000-4000-8000-000000000005"),
// the only machine id form the agent accepts (it becomes a path component).
bool IsCanonicalUuid(absl::string_view id);

class Vms {
 public:
  struct Options {
    // Not owned; must outlive the Vms.
    Hypervisor* hypervisor = nullptr;
    // The image directory's base images; not owned, shared with the Hello
    // inventory so both use one checksum cache.
    BaseImages* base_images = nullptr;
    // Absolute; STATE_DIR/vms/<machine_id>/ must leave room for a unix
    // socket path (108 bytes), so at most 54 bytes.
    std::string state_dir;
    std::function<absl::Time()> clock = [] { return absl::Now(); };
    // libvirt domain type: "qemu" (TCG) works everywhere; "kvm" needs a
    // working /dev/kvm.
    std::string domain_type = "qemu";
    // After asking a guest to power off (ACPI) for power_state OFF, the agent
    // destroys it when it is still running this long after the request.
    absl::Duration shutdown_grace = absl::Seconds(60);
  };

  // INVALID_ARGUMENT for missing pointers or an unusable state_dir; INTERNAL
  // when STATE_DIR/vms cannot be created.
  static absl::StatusOr<std::unique_ptr<Vms>> Create(Options options);

  // One pass over the host's VMs; safe to run again at any time, and after a
  // crash at any point. For each VM of `desired`: creates what is missing
  // (directory, disk after checking the base image's SHA-256, seed, domain),
  // redefines a domain whose definition drifted, starts it when its power
  // state is ON, and shuts it down (destroying it after shutdown_grace) when
  // OFF. A running domain whose definition matches is never touched, so the
  // agent's own restart never restarts a VM. Domains with Mandant metadata
  // that are not desired are destroyed and undefined, and their directories
  // removed; domains without Mandant metadata are never touched.
  //
  // `bridge_tenants` maps each tenant network's bridge on this host to its
  // tenant ("tenants/{tenant}"); a VM with a NIC on another tenant's bridge,
  // or on an unknown one, is refused.
  //
  // Returns one VmStatus per desired VM plus one per VM still being deleted
  // (VM_STATE_DELETING), ordered by machine_id. A VM the agent cannot make
  // match has the reason in VmStatus.error; the others go on. Retrying is the
  // caller's: call Reconcile again (with backoff). Fails as a whole only
  // when the hypervisor cannot list its domains (UNAVAILABLE/INTERNAL from
  // the hypervisor).
  //
  // Thread-safe; concurrent calls run one after the other.
  absl::StatusOr<std::vector<v1::VmStatus>> Reconcile(
      const std::vector<v1::VmSpec>& desired, int64_t spec_version,
      const absl::flat_hash_map<std::string, std::string>& bridge_tenants);

  // STATE_DIR/vms/<machine_id> and the status channel socket in it.
  std::string VmDir(absl::string_view machine_id) const;
  std::string StatusSocketPath(absl::string_view machine_id) const;

 private:
  explicit Vms(Options options);

  v1::VmStatus ReconcileOne(const v1::VmSpec& spec, int64_t spec_version,
                            const absl::flat_hash_map<std::string, std::string>& bridge_tenants,
                            const DomainInfo* existing) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ApplyPower(const v1::VmSpec& spec, DomainState state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CreateFilesAndDefine(const v1::VmSpec& spec, const BaseImageFile& image,
                                    int64_t spec_version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Delete(const std::string& machine_id, const DomainInfo* domain)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  absl::Mutex mu_;
  // When the agent asked a VM's guest to power off; cleared when it is off
  // or wanted on again. In memory only: after an agent restart the grace
  // period simply starts over.
  absl::flat_hash_map<std::string, absl::Time> shutdown_requested_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_VM_VMS_H_
