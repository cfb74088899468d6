#ifndef MANDANT_AGENTS_VM_HYPERVISOR_H_
#define MANDANT_AGENTS_VM_HYPERVISOR_H_

// The slice of libvirt the host agent uses, as a thin interface that mirrors
// the C calls so that the VM logic (agents/vm/vms.h) can be tested against an
// in-memory fake. The real implementation is LibvirtHypervisor
// (agents/vm/libvirt_hypervisor.h).
//
// Domains are addressed by their UUID in the canonical lower-case text form;
// Mandant uses the machine id as the UUID.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mandant::agent {

// The namespace of the <metadata> element the agent puts on its own domains.
// A domain without an element in this namespace is not Mandant's and is never
// touched.
inline constexpr char kMandantMetadataNamespace[] = "https://mandant.dev/xmlns/machine/1";

// virDomainState, in libvirt's numbering.
enum class DomainState {
  kNoState = 0,
  kRunning = 1,
  kBlocked = 2,
  kPaused = 3,
  kShutdown = 4,  // being shut down
  kShutoff = 5,
  kCrashed = 6,
  kPmSuspended = 7,
};

// VIR_DOMAIN_SHUTOFF_CRASHED: the state_reason of a shut-off domain whose
// guest crashed (with <on_crash>destroy</on_crash>).
inline constexpr int kShutoffReasonCrashed = 3;

// "running", "shutoff", ... for messages.
absl::string_view DomainStateName(DomainState state);

// True for the states in which the domain has a QEMU process.
bool IsActive(DomainState state);

struct DomainInfo {
  // Lower-case canonical UUID, e.g. "6a1e3c2e-0000-4000-8000-000000000005".
  std::string uuid;
  std::string name;
  DomainState state = DomainState::kNoState;
  // libvirt's reason code for `state` (virDomainRunningReason etc.).
  int state_reason = 0;
  // The element in kMandantMetadataNamespace as libvirt returns it
  // (virDomainGetMetadata, VIR_DOMAIN_METADATA_ELEMENT); nullopt when the
  // domain has none.
  std::optional<std::string> mandant_metadata;
  // The QEMU process id while the domain runs, when the driver makes it
  // cheaply available (the QEMU driver's pid file); 0 otherwise.
  int64_t qemu_pid = 0;
};

struct HypervisorVersions {
  // e.g. "9.0.0".
  std::string libvirt;
  // The hypervisor's version, e.g. "7.2.22" for QEMU.
  std::string qemu;
};

// All methods may be called from any thread, but the caller serializes
// calls (the agent has one reconcile loop). Errors carry the hypervisor's
// own error text; a domain that does not exist is NOT_FOUND.
class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  // Every domain, persistent or transient, active or not
  // (virConnectListAllDomains), ordered by UUID.
  virtual absl::StatusOr<std::vector<DomainInfo>> ListDomains() = 0;

  // Defines (or redefines) a persistent domain from `xml`
  // (virDomainDefineXML); returns its UUID. Redefining a running domain
  // changes only the definition used at its next start.
  virtual absl::StatusOr<std::string> DefineDomain(absl::string_view xml) = 0;

  // virDomainCreate: starts a defined, inactive domain.
  virtual absl::Status StartDomain(absl::string_view uuid) = 0;

  // virDomainShutdown: asks the guest to power off (ACPI); returns at once.
  virtual absl::Status ShutdownDomain(absl::string_view uuid) = 0;

  // virDomainDestroy: kills the QEMU process at once.
  virtual absl::Status DestroyDomain(absl::string_view uuid) = 0;

  // virDomainUndefine: removes the definition (Mandant's domains have no
  // NVRAM, snapshots or managed save that would need flags). An active
  // domain becomes transient and disappears when destroyed.
  virtual absl::Status UndefineDomain(absl::string_view uuid) = 0;

  // virConnectGetLibVersion and virConnectGetVersion.
  virtual absl::StatusOr<HypervisorVersions> GetVersions() = 0;
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_VM_HYPERVISOR_H_
