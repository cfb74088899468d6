#ifndef MANDANT_CONTROLLER_AGENTS_ENROLLMENT_H_
#define MANDANT_CONTROLLER_AGENTS_ENROLLMENT_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "controller/api/rpc_call.h"
#include "controller/store/host_store.h"
#include "mandant/v1/agent.pb.h"
#include "pki/csr.h"

namespace mandant::controller {

// The CSR of an agent (Enroll or a renewal on its stream): 1 byte to 64 KiB,
// parsed and verified, for an ECDSA P-256/P-384 or Ed25519 key.
// INVALID_ARGUMENT (BadRequest on "csr") otherwise.
absl::StatusOr<pki::ParsedCsr> AgentCsr(absl::string_view csr);

// AgentService.Enroll: exchanges a host's one-time bootstrap token and a
// CSR for the agent's client certificate, in one transaction that marks the
// token used and revokes the host's earlier certificates. Holds no state of
// its own; thread-safe as `deps` and `store` are.
class AgentEnrollment {
 public:
  AgentEnrollment(const api::ServiceDeps& deps, store::HostStore* store,
                  absl::Duration certificate_ttl)
      : deps_(deps), store_(store), certificate_ttl_(certificate_ttl) {}

  // Fills `response` and audits the call. UNAUTHENTICATED with one and the
  // same message for an unknown, expired, used or foreign token (the retry
  // of the call that used it, same request_id and CSR, gets its answer
  // again); INVALID_ARGUMENT for a malformed request or CSR.
  absl::Status Enroll(api::RpcCall& call, const v1::EnrollRequest& request,
                      v1::EnrollResponse* response);

 private:
  const api::ServiceDeps deps_;
  store::HostStore* const store_;
  const absl::Duration certificate_ttl_;
};

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_AGENTS_ENROLLMENT_H_
