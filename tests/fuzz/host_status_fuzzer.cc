// Feeds arbitrary bytes, parsed as a HostStatus and as a Hello, to the
// validators of what agents send (controller/agents/agent_message_validation)
// and checks their invariants:
//  - the violations survive ToStatus() / ViolationsOf() unchanged, each names
//    a field under "status." or "hello." and says what is wrong;
//  - a refused status reports at most kMaxReportedViolations + 1 problems;
//  - an accepted status is within every documented bound (counts, lengths,
//    enum values, no NUL bytes), so the store can write it as it is.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"

#include "controller/agents/agent_message_validation.h"
#include "mandant/v1/agent.pb.h"
#include "tenants/field_violations.h"

namespace mandant::controller {
namespace {

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

void CheckViolations(const tenants::FieldViolations& v, absl::string_view prefix) {
  absl::Status status = v.ToStatus();
  FUZZ_CHECK(status.ok() == v.empty());
  FUZZ_CHECK(tenants::ViolationsOf(status) == v.violations());
  for (const tenants::FieldViolation& f : v.violations()) {
    FUZZ_CHECK(absl::StartsWith(f.field, prefix));
    FUZZ_CHECK(!f.description.empty());
  }
}

bool NoNul(absl::string_view s) { return !absl::StrContains(s, absl::string_view("\0", 1)); }

void CheckAccepted(const v1::HostStatus& s) {
  FUZZ_CHECK(s.applied_spec_version() >= 0);
  FUZZ_CHECK(s.vms_size() <= kMaxStatusVms);
  for (const v1::VmStatus& vm : s.vms()) {
    FUZZ_CHECK(vm.machine_id().size() == 36);
    FUZZ_CHECK(v1::VmState_IsValid(vm.state()));
    FUZZ_CHECK(vm.error().size() <= kMaxErrorLength && NoNul(vm.error()));
    FUZZ_CHECK(v1::GuestPhase_IsValid(vm.guest().phase()));
    FUZZ_CHECK(vm.guest().message().size() <= kMaxGuestMessageLength);
    FUZZ_CHECK(NoNul(vm.guest().message()));
  }
  FUZZ_CHECK(s.networks_size() <= kMaxStatusNetworks);
  for (const v1::TenantNetworkStatus& n : s.networks()) {
    FUZZ_CHECK(!n.bridge_name().empty() && n.bridge_name().size() <= 15);
    FUZZ_CHECK(NoNul(n.bridge_name()) && NoNul(n.tenant()) && NoNul(n.error()));
    FUZZ_CHECK(n.peer_underlay_addresses_size() <= kMaxNetworkPeers);
    for (const std::string& peer : n.peer_underlay_addresses()) {
      FUZZ_CHECK(!peer.empty() && peer.size() <= kMaxAddressLength && NoNul(peer));
    }
  }
  FUZZ_CHECK(s.host_errors_size() <= kMaxHostErrors);
  for (const std::string& e : s.host_errors()) {
    FUZZ_CHECK(!e.empty() && e.size() <= kMaxErrorLength && NoNul(e));
  }
}

void Fuzz(absl::string_view input) {
  v1::HostStatus status;
  if (status.ParseFromArray(input.data(), static_cast<int>(input.size()))) {
    const tenants::FieldViolations bad = ValidateHostStatus(status);
    CheckViolations(bad, "status");
    FUZZ_CHECK(bad.violations().size() <= kMaxReportedViolations + 1);
    if (bad.empty()) CheckAccepted(status);
  }
  v1::Hello hello;
  if (hello.ParseFromArray(input.data(), static_cast<int>(input.size()))) {
    CheckViolations(ValidateHello(hello), "hello.");
  }
}

}  // namespace
}  // namespace mandant::controller

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // Parsing rejects invalid UTF-8 in string fields with a log line per input.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mandant::controller::Fuzz(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
