#include "controller/agents/enrollment.h"

#include <string>

#include "absl/strings/str_cat.h"

#include "common/logging.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "controller/api/certificate_service.h"
#include "controller/pki/issuers.h"
#include "controller/store/pki_store.h"
#include "pki/encoding.h"
#include "tenants/field_violations.h"
#include "tenants/host_validation.h"
#include "tenants/tenant_validation.h"

namespace mandant::controller {
namespace {

constexpr size_t kMaxCsrBytes = 64 * 1024;
constexpr size_t kMaxTokenBytes = 200;

absl::Status BadToken() {
  return absl::UnauthenticatedError(
      "the bootstrap token is unknown, expired, used, or for another host; issue a new one "
      "with `mandantctl host token` and enroll again");
}

}  // namespace

absl::StatusOr<pki::ParsedCsr> AgentCsr(absl::string_view csr) {
  tenants::FieldViolations bad;
  if (csr.empty() || csr.size() > kMaxCsrBytes) {
    bad.Add("csr", absl::StrCat("must be a PKCS#10 CSR of 1 to ", kMaxCsrBytes, " bytes, got ",
                                csr.size()));
    return bad.ToStatus();
  }
  auto parsed = pki::ParseCsr(csr);
  if (!parsed.ok()) {
    bad.Add("csr", std::string(parsed.status().message()));
    return bad.ToStatus();
  }
  if (parsed->key.type == pki::KeyType::kRsa) {
    bad.Add("csr", "agent keys must be ECDSA P-256, P-384 or Ed25519, got RSA");
    return bad.ToStatus();
  }
  return parsed;
}

absl::Status AgentEnrollment::Enroll(api::RpcCall& call, const v1::EnrollRequest& request,
                                     v1::EnrollResponse* response) {
  call.set_object(request.host());
  call.set_request_id(request.request_id());
  tenants::FieldViolations bad;
  const std::string host = tenants::ParseHostName(request.host(), "host", &bad);
  if (request.bootstrap_token().empty() || request.bootstrap_token().size() > kMaxTokenBytes) {
    bad.Add("bootstrap_token", "is required: the token HostService.CreateHost returned");
  }
  tenants::ValidateRequestId(request.request_id(), &bad);
  // Who claims to enroll, for the audit log, refusals of malformed requests
  // included; the token decides.
  call.AssumePrincipal(auth::Principal{host.empty() ? std::string("(no valid host)") : host,
                                       auth::Role::kAgent, ""});
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  MANDANT_ASSIGN_OR_RETURN(pki::ParsedCsr csr, AgentCsr(request.csr()));
  const std::string csr_digest = Sha256(request.csr());
  return deps_.db->Transact("enroll agent", [&](store::Connection& conn) -> absl::Status {
    auto token = store_->FindBootstrapToken(conn, Sha256(request.bootstrap_token()));
    if (absl::IsNotFound(token.status()) || (token.ok() && token->host != host)) {
      return BadToken();
    }
    MANDANT_RETURN_IF_ERROR(token.status());
    const absl::Time now = absl::Now();
    if (token->used_time) {
      // The agent's retry of the call that used the token gets its answer.
      if (!request.request_id().empty() && token->enroll_request_id == request.request_id() &&
          token->enroll_csr_sha256 == csr_digest) {
        response->set_certificate_pem(token->certificate_pem);
        response->set_chain_pem(token->chain_pem);
        store::PkiStore pki;
        MANDANT_RETURN_IF_ERROR(api::FillTrustBundle(pki, conn, store::kInfrastructureScope, "",
                                                     response->mutable_trust_bundle()));
        return call.Audit(conn, absl::OkStatus(), "replayed the certificate of this request_id");
      }
      return BadToken();
    }
    if (token->expire_time <= now) return BadToken();
    MANDANT_ASSIGN_OR_RETURN(IssuedCertificate issued,
                             deps_.issuers->IssueAgentCertificate(conn, host, csr.public_key.get(),
                                                                  certificate_ttl_, now));
    MANDANT_RETURN_IF_ERROR(store_
                                ->CompleteEnrollment(conn, token->host_id, request.request_id(),
                                                     csr_digest, issued.row.serial,
                                                     issued.row.certificate_pem, issued.chain_pem)
                                .status());
    // A host enrolls once per token: whatever certificate it had before (a
    // reinstalled host) stops working now.
    MANDANT_RETURN_IF_ERROR(
        deps_.issuers->RevokeAgentCertificates(conn, host, issued.row.serial, now));
    response->set_certificate_pem(issued.row.certificate_pem);
    response->set_chain_pem(issued.chain_pem);
    store::PkiStore pki;
    MANDANT_RETURN_IF_ERROR(api::FillTrustBundle(pki, conn, store::kInfrastructureScope, "",
                                                 response->mutable_trust_bundle()));
    MANDANT_LOG(info, "agent enrolled",
                {{"host", host}, {"serial", issued.row.serial}, {"call_id", call.call_id()}});
    return call.Audit(conn, absl::OkStatus(), absl::StrCat("certificate ", issued.row.serial));
  });
}

}  // namespace mandant::controller
