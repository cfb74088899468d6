#ifndef MANDANT_AGENTS_VM_DOMAIN_XML_H_
#define MANDANT_AGENTS_VM_DOMAIN_XML_H_

// The libvirt domain XML of a Mandant VM, and the Mandant metadata element
// that marks a domain as the agent's own. Pure functions, thread-safe.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

// The files of one VM as the domain refers to them; all absolute paths.
struct DomainFiles {
  // The VM's qcow2 overlay (vda) and the base image it is backed by.
  std::string disk;
  std::string base_image;
  // The NoCloud seed ISO (vdb, read-only raw virtio disk: the guest finds it
  // there, no IDE CD-ROM needed).
  std::string seed;
  // Serial console output.
  std::string console_log;
  // The unix socket QEMU binds for the virtio-serial status channel.
  std::string status_socket;
  // Direct kernel boot when both are set (kernel command line
  // "root=/dev/vda rw console=ttyS0"); boot from the disk otherwise.
  std::string kernel;
  std::string initrd;
};

// The virtio-serial port name the guest writes its progress to
// (/dev/virtio-ports/org.mandant.status.0 in the guest).
inline constexpr char kStatusChannelName[] = "org.mandant.status.0";

// What the agent records on each of its domains.
struct MandantMetadata {
  std::string tenant;      // "tenants/{tenant}"
  std::string cluster;     // "tenants/{tenant}/clusters/{cluster}"
  std::string machine_id;  // the domain's UUID
  std::string name;        // the hostname
  // The HostSpec version that (re)defined the domain.
  int64_t spec_version = 0;
  // DefinitionHash() of what the domain was defined from; a different hash
  // for the same machine means the definition has drifted.
  std::string spec_hash;
};

// "m-<machine_id>": deterministic, so a domain can be found by name too.
std::string DomainName(absl::string_view machine_id);

// The host-side tap device of NIC `nic_index` (0-99): "mt" + 10 hex digits of
// SHA-256(machine_id) + "-" + index, at most 15 bytes (IFNAMSIZ - 1). Hashing
// keeps sequential machine ids apart.
std::string TapName(absl::string_view machine_id, int nic_index);

// SHA-256 (64 lower-case hex digits) over everything the domain definition
// and seed are rendered from: the spec without power_state (which may change
// without a redefinition), the files, the domain type and the rendering
// format's version.
std::string DefinitionHash(const v1::VmSpec& spec, const DomainFiles& files,
                           absl::string_view domain_type);

// Renders the domain XML of `spec` with libxml2 (so every value is escaped).
// `domain_type` is "qemu" (TCG) by default; "kvm" needs working /dev/kvm.
// INVALID_ARGUMENT when a value cannot be represented (not UTF-8, control
// characters, a NIC index over 99, resources not positive). Does not check
// names against tenant rules: that is the caller's (agents/vm/vms.h).
absl::StatusOr<std::string> RenderDomainXml(const v1::VmSpec& spec, const DomainFiles& files,
                                            int64_t spec_version,
                                            absl::string_view domain_type = "qemu");

// Parses the Mandant metadata element as virDomainGetMetadata returns it:
// <machine><tenant>...</tenant>...</machine>, namespace stripped by libvirt
// (the element in kMandantMetadataNamespace is accepted too).
// INVALID_ARGUMENT when it is not well-formed, in another namespace, or
// misses machine-id or spec-hash.
absl::StatusOr<MandantMetadata> ParseMandantMetadata(absl::string_view xml);

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_VM_DOMAIN_XML_H_
