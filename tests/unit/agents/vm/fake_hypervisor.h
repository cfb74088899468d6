#ifndef MANDANT_TESTS_UNIT_AGENTS_VM_FAKE_HYPERVISOR_H_
#define MANDANT_TESTS_UNIT_AGENTS_VM_FAKE_HYPERVISOR_H_

// An in-memory Hypervisor for the VM reconciler's tests: domains are kept in
// a map, every mutating call is recorded, and any call can be made to fail.

#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "agents/vm/hypervisor.h"

namespace mandant::agent::testing {

class FakeHypervisor : public Hypervisor {
 public:
  struct Domain {
    DomainInfo info;
    std::string xml;
  };

  // agent::Hypervisor
  absl::StatusOr<std::vector<DomainInfo>> ListDomains() override;
  absl::StatusOr<std::string> DefineDomain(absl::string_view xml) override;
  absl::Status StartDomain(absl::string_view uuid) override;
  absl::Status ShutdownDomain(absl::string_view uuid) override;
  absl::Status DestroyDomain(absl::string_view uuid) override;
  absl::Status UndefineDomain(absl::string_view uuid) override;
  absl::StatusOr<HypervisorVersions> GetVersions() override;

  // Adds a domain as if some other tool had defined it.
  void AddDomain(const DomainInfo& info) { domains[info.uuid] = Domain{info, ""}; }

  // By uuid.
  std::map<std::string, Domain> domains;
  // Method name ("StartDomain", ...) -> the error its next calls return.
  absl::flat_hash_map<std::string, absl::Status> errors;
  // "DefineDomain <uuid>", "StartDomain <uuid>", ...; ListDomains not recorded.
  std::vector<std::string> calls;
  // Whether ShutdownDomain powers the guest off at once (an ACPI-aware guest)
  // or leaves it running (one that ignores the request).
  bool guest_obeys_shutdown = false;

 private:
  absl::Status Injected(const std::string& method);
  absl::StatusOr<Domain*> Find(absl::string_view uuid);
  int64_t next_pid_ = 1000;
};

}  // namespace mandant::agent::testing

#endif  // MANDANT_TESTS_UNIT_AGENTS_VM_FAKE_HYPERVISOR_H_
