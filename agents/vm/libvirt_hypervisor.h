#ifndef MANDANT_AGENTS_VM_LIBVIRT_HYPERVISOR_H_
#define MANDANT_AGENTS_VM_LIBVIRT_HYPERVISOR_H_

// Hypervisor over the libvirt C API (libvirt 9), used with
// "qemu:///embed?root=DIR" (one agent process owns the QEMU driver, no
// libvirtd), "qemu:///system" in production, and "test:///default" in tests.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include <libvirt/libvirt.h>

#include "agents/vm/hypervisor.h"

namespace mandant::agent {

struct VirConnectDeleter {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
struct VirDomainDeleter {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
using VirConnectPtr = std::unique_ptr<virConnect, VirConnectDeleter>;
using VirDomainPtr = std::unique_ptr<virDomain, VirDomainDeleter>;

// Writes DIR/etc/qemu.conf for the embedded QEMU driver: QEMU runs as root
// with no security driver (the agent, not libvirt, owns the VM files),
// stdio_handler "file", no mount namespaces, and remember_owner = 0 (libvirt
// otherwise stores and checks XATTR ownership records on every VM file).
// Creates DIR and DIR/etc (mode 0700) when missing; rewrites qemu.conf
// atomically. Fails with FAILED_PRECONDITION when the system user
// "libvirt-qemu" is missing: the embedded driver refuses to start without it,
// and the operator must create it (useradd --system libvirt-qemu).
absl::Status PrepareEmbeddedRoot(const std::string& dir);

// The text of libvirt's last error on this thread, prefixed with `what`, as a
// Status with a code derived from libvirt's error code (VIR_ERR_NO_DOMAIN ->
// NOT_FOUND, VIR_ERR_OPERATION_INVALID -> FAILED_PRECONDITION, ...).
absl::Status LastLibvirtError(absl::string_view what);

// Thread safety: all methods are safe to call from any thread (libvirt
// connections are thread-safe). The default libvirt event loop is
// process-wide; it runs in one thread shared by all LibvirtHypervisor
// instances of the process and stops when the last one is destroyed.
class LibvirtHypervisor : public Hypervisor {
 public:
  // Connects to `uri`. Registers libvirt's default event loop before the
  // first connection (the QEMU driver needs it for monitor I/O and domain
  // lifecycle events), and routes libvirt's error callback into the agent's
  // log at debug level (each error is also returned as a Status). For
  // "qemu:///embed?root=DIR", call PrepareEmbeddedRoot(DIR) first.
  // UNAVAILABLE with libvirt's message when the connection fails.
  static absl::StatusOr<std::unique_ptr<Hypervisor>> Open(const std::string& uri);

  ~LibvirtHypervisor() override;

  // agent::Hypervisor
  absl::StatusOr<std::vector<DomainInfo>> ListDomains() override;
  absl::StatusOr<std::string> DefineDomain(absl::string_view xml) override;
  absl::Status StartDomain(absl::string_view uuid) override;
  absl::Status ShutdownDomain(absl::string_view uuid) override;
  absl::Status DestroyDomain(absl::string_view uuid) override;
  absl::Status UndefineDomain(absl::string_view uuid) override;
  absl::StatusOr<HypervisorVersions> GetVersions() override;

 private:
  class EventLoop;

  LibvirtHypervisor(std::shared_ptr<EventLoop> loop, VirConnectPtr conn, std::string uri,
                    std::string pid_dir);

  absl::StatusOr<VirDomainPtr> Lookup(absl::string_view uuid);
  int64_t ReadQemuPid(const std::string& name) const;

  // Declared first so that it is destroyed last, after the connection.
  const std::shared_ptr<EventLoop> loop_;
  const VirConnectPtr conn_;
  const std::string uri_;
  // Where the QEMU driver keeps "<domain name>.pid"; empty when unknown.
  const std::string pid_dir_;
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_VM_LIBVIRT_HYPERVISOR_H_
