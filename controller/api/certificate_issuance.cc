// CertificateService, issuance: IssueCertificate and IssueClientCertificate
// (proto/mandant/v1/certificate.proto states their contract).
//
// IssueCertificate signs a CSR with the scope's ACTIVE issuer: in a tenant
// scope under the tenant's issuance policy, in "infrastructure" under fixed
// limits (the CSR's CN names the principal; "host/" is for agents).
// IssueClientCertificate exchanges the caller's credential for a client
// certificate naming the same principal, never outliving the client
// certificate the call was made with. For both: every problem of the
// request is reported at once (INVALID_ARGUMENT), the CSR is parsed and
// verified before the transaction, the certificate is recorded in the
// inventory in the same transaction that signs it, FAILED_PRECONDITION when
// the scope has no ACTIVE issuer (or the tenant is suspended), and a retry
// with the same request_id returns the first certificate.

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "common/status_macros.h"
#include "controller/api/certificate_resources.h"
#include "controller/api/certificate_service.h"
#include "controller/api/time_fields.h"
#include "pki/certificate_info.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/issuance_policy.h"
#include "tenants/field_violations.h"

namespace mandant::controller::api {
namespace {

// Infrastructure certificates: what mandantd, agents and operators use.
constexpr absl::Duration kInfraDefaultTtl = absl::Hours(24);
constexpr absl::Duration kInfraMaxTtl = absl::Hours(24 * 90);
constexpr absl::Duration kClientDefaultTtl = absl::Hours(12);
constexpr absl::Duration kClientMaxTtl = absl::Hours(24 * 30);
constexpr size_t kMaxSubjectLength = 128;

// The usages of an issuance request, each known and named once.
std::vector<pki::ExtendedKeyUsage> CheckUsages(const google::protobuf::RepeatedField<int>& usages,
                                               tenants::FieldViolations& bad) {
  std::vector<pki::ExtendedKeyUsage> out;
  for (int i = 0; i < usages.size(); ++i) {
    pki::ExtendedKeyUsage u;
    if (usages[i] == v1::CERTIFICATE_USAGE_SERVER_AUTH) {
      u = pki::ExtendedKeyUsage::kServerAuth;
    } else if (usages[i] == v1::CERTIFICATE_USAGE_CLIENT_AUTH) {
      u = pki::ExtendedKeyUsage::kClientAuth;
    } else {
      bad.Add(absl::StrCat("usages[", i, "]"),
              absl::StrCat("unknown usage ", usages[i], "; allowed: SERVER_AUTH, CLIENT_AUTH"));
      continue;
    }
    if (std::find(out.begin(), out.end(), u) != out.end()) {
      bad.Add(absl::StrCat("usages[", i, "]"), "is repeated");
      continue;
    }
    out.push_back(u);
  }
  if (usages.empty()) bad.Add("usages", "is required: SERVER_AUTH, CLIENT_AUTH or both");
  return out;
}

void CheckCsrSize(absl::string_view csr, tenants::FieldViolations& bad) {
  if (csr.empty()) bad.Add("csr", "is required: a PKCS#10 CSR, PEM or DER");
  if (csr.size() > pki::kMaxCsrSize) {
    bad.Add("csr", absl::StrCat("is ", csr.size(), " bytes; at most ", pki::kMaxCsrSize));
  }
}

// The CSR, parsed and verified; INVALID_ARGUMENT on field "csr".
absl::StatusOr<pki::ParsedCsr> ParseCsrField(absl::string_view csr) {
  auto parsed = pki::ParseCsr(csr);
  if (!parsed.ok()) {
    tenants::FieldViolations bad;
    bad.Add("csr", std::string(parsed.status().message()));
    return bad.ToStatus();
  }
  return parsed;
}

// Infrastructure leaves: the CSR's CN is the principal's name and kept;
// names are taken as the CSR has them (ParseCsr checked their syntax).
absl::StatusOr<pki::LeafSpec> InfrastructureLeaf(const pki::ParsedCsr& csr,
                                                 const std::vector<pki::ExtendedKeyUsage>& usages,
                                                 absl::Duration ttl, absl::Time now) {
  tenants::FieldViolations bad;
  if (absl::StartsWith(csr.common_name, "host/")) {
    bad.Add("csr", "CN \"host/...\" is reserved for agent enrollment");
  }
  if (csr.common_name.empty() && csr.subject_alt_names.empty()) {
    bad.Add("csr", "has neither a CN nor subject alternative names");
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  pki::LeafSpec spec;
  spec.public_key = csr.public_key.get();
  spec.common_name = csr.common_name;
  spec.subject_alt_names = csr.subject_alt_names;
  spec.extended_key_usages = usages;
  spec.not_after = now + ttl;
  return spec;
}

// FAILED_PRECONDITION unless the scope has an ACTIVE signing issuer.
absl::StatusOr<store::IssuerRow> SigningIssuer(store::PkiStore& store, store::Connection& conn,
                                               const PkiScope& scope,
                                               absl::string_view tenant_uid) {
  const store::IssuerKind kind =
      scope.infrastructure() ? store::IssuerKind::kInfrastructure : store::IssuerKind::kTenant;
  MANDANT_ASSIGN_OR_RETURN(auto issuer, store.ActiveIssuer(conn, scope.name, tenant_uid, kind));
  if (issuer) return *std::move(issuer);
  MANDANT_ASSIGN_OR_RETURN(const bool pending, store.HasPendingIssuer(conn, scope.name));
  if (pending) {
    return absl::FailedPreconditionError(absl::StrCat(
        scope.name,
        " has no CA yet: it waits for the offline Mandant root to sign it (the provider runs "
        "`mandantd pki sign-pending`)"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat(scope.name, " has no ACTIVE issuer",
                   scope.infrastructure() ? "; run `mandantd pki init`" : "; ask your provider"));
}

void FillIssueResponse(const IssuedCertificate& issued, v1::IssueCertificateResponse* response) {
  CertificateToProto(issued.row, response->mutable_certificate());
  response->set_certificate_pem(issued.row.certificate_pem);
  response->set_chain_pem(issued.chain_pem);
}

// A principal's subject as certificate.proto's ClientIdentity allows it.
bool IsNameableSubject(absl::string_view subject) {
  if (subject.empty() || subject.size() > kMaxSubjectLength) return false;
  return std::all_of(subject.begin(), subject.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' ||
           c == '-';
  });
}

// When the call was authenticated by a client certificate, its not_after:
// a certificate cannot extend itself (certificate.proto,
// IssueClientCertificateRequest.ttl). Nullopt for a bearer token.
absl::StatusOr<std::optional<absl::Time>> CallerCertificateNotAfter(const RpcCall& call,
                                                                    const ServiceDeps& deps) {
  if (deps.certificates == nullptr) return std::optional<absl::Time>();
  const RpcCall::Credentials credentials = call.CaptureCredentials();
  if (credentials.peer_certificate_pem.empty()) return std::optional<absl::Time>();
  MANDANT_ASSIGN_OR_RETURN(pki::X509Ptr cert,
                           pki::ParseCertificate(credentials.peer_certificate_pem));
  MANDANT_ASSIGN_OR_RETURN(pki::CertificateInfo info, pki::DescribeCertificate(cert.get()));
  return std::optional<absl::Time>(info.not_after);
}

}  // namespace

absl::Status CertificateServiceImpl::Issue(RpcCall& call,
                                           const v1::IssueCertificateRequest& request,
                                           v1::IssueCertificateResponse* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.parent());
  call.set_request_id(request.request_id());
  MANDANT_ASSIGN_OR_RETURN(PkiScope scope, ParsePkiScope(request.parent(), "parent"));
  MANDANT_RETURN_IF_ERROR(CheckScopeWrite(call.principal(), scope));
  tenants::FieldViolations bad;
  CheckCsrSize(request.csr(), bad);
  CheckRequestId(request.request_id(), bad);
  const std::vector<pki::ExtendedKeyUsage> usages = CheckUsages(request.usages(), bad);
  // A tenant's own max_ttl is checked against its policy in the
  // transaction; no policy allows more than kMaxPolicyTtl.
  const DurationRange ttl_range{pki::kMinCertificateTtl,
                                scope.infrastructure() ? kInfraMaxTtl : pki::kMaxPolicyTtl};
  std::optional<absl::Duration> ttl;
  if (request.has_ttl()) ttl = CheckedDuration(request.ttl(), "ttl", ttl_range, bad);
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  // Parsing and verifying the CSR is CPU work: done before the transaction.
  MANDANT_ASSIGN_OR_RETURN(pki::ParsedCsr csr, ParseCsrField(request.csr()));

  return call.TransactIdempotent(
      "issue certificate", request.request_id(), request, response,
      [&](store::Connection& conn) -> absl::Status {
        const absl::Time now = absl::Now();
        std::string tenant_uid;
        pki::LeafSpec spec;
        if (scope.infrastructure()) {
          MANDANT_ASSIGN_OR_RETURN(
              spec, InfrastructureLeaf(csr, usages, ttl.value_or(kInfraDefaultTtl), now));
        } else {
          MANDANT_ASSIGN_OR_RETURN(store::TenantRef tenant,
                                   store_.GetTenantRef(conn, scope.tenant));
          MANDANT_RETURN_IF_ERROR(CheckTenantActive(tenant, scope.tenant));
          tenant_uid = tenant.uid;
          MANDANT_ASSIGN_OR_RETURN(auto stored, store_.GetPolicy(conn, scope.tenant));
          v1::IssuancePolicy policy;
          if (!policy.ParseFromString(stored.first)) return absl::DataLossError("stored policy");
          pki::IssuanceRequest ir;
          ir.csr = &csr;
          ir.ttl = ttl;
          ir.usages = usages;
          MANDANT_ASSIGN_OR_RETURN(spec,
                                   pki::ApplyIssuancePolicy(PolicyFromProto(policy), ir, now));
        }
        MANDANT_ASSIGN_OR_RETURN(store::IssuerRow issuer,
                                 SigningIssuer(store_, conn, scope, tenant_uid));
        MANDANT_ASSIGN_OR_RETURN(IssuedCertificate issued,
                                 issuers_->IssueLeaf(conn, issuer, std::move(spec), now));
        FillIssueResponse(issued, response);
        call.set_object(response->certificate().name());
        return absl::OkStatus();
      });
}

absl::Status CertificateServiceImpl::IssueClient(RpcCall& call,
                                                 const v1::IssueClientCertificateRequest& request,
                                                 v1::IssueCertificateResponse* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(std::string(store::kInfrastructureScope));
  call.set_request_id(request.request_id());
  const auth::Principal& p = call.principal();
  if (p.role == auth::Role::kAgent) {
    return absl::PermissionDeniedError("agents renew their certificate over their stream");
  }
  tenants::FieldViolations bad;
  CheckCsrSize(request.csr(), bad);
  CheckRequestId(request.request_id(), bad);
  absl::Duration ttl = kClientDefaultTtl;
  if (request.has_ttl()) {
    ttl = CheckedDuration(request.ttl(), "ttl", {pki::kMinCertificateTtl, kClientMaxTtl}, bad)
              .value_or(kClientDefaultTtl);
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  if (!IsNameableSubject(p.subject)) {
    return absl::FailedPreconditionError(
        absl::StrCat("subject ", tenants::QuoteForMessage(p.subject),
                     " cannot be named in a certificate: 1-128 characters of A-Z a-z 0-9 . _ @ -"));
  }
  MANDANT_ASSIGN_OR_RETURN(pki::ParsedCsr csr, ParseCsrField(request.csr()));
  MANDANT_ASSIGN_OR_RETURN(const std::optional<absl::Time> caller_not_after,
                           CallerCertificateNotAfter(call, deps_));
  const std::string& td = issuers_->options().trust_domain;
  std::string identity;
  switch (p.role) {
    case auth::Role::kProviderAdmin:
      identity = absl::StrCat("spiffe://", td, "/provider-admin/", p.subject);
      break;
    case auth::Role::kTenantAdmin:
      identity = absl::StrCat("spiffe://", td, "/tenants/", p.tenant, "/admin/", p.subject);
      break;
    default:
      identity = absl::StrCat("spiffe://", td, "/tenants/", p.tenant, "/viewer/", p.subject);
      break;
  }
  const PkiScope scope{std::string(store::kInfrastructureScope), ""};
  return call.TransactIdempotent(
      "issue client certificate", request.request_id(), request, response,
      [&](store::Connection& conn) -> absl::Status {
        if (!p.tenant.empty()) {
          // A suspended tenant keeps reading with the credentials it has,
          // but gets no new ones.
          MANDANT_ASSIGN_OR_RETURN(store::TenantRef tenant, store_.GetTenantRef(conn, p.tenant));
          MANDANT_RETURN_IF_ERROR(CheckTenantActive(tenant, p.tenant));
        }
        const absl::Time now = absl::Now();
        pki::LeafSpec spec;
        spec.public_key = csr.public_key.get();
        spec.common_name = p.subject;
        spec.subject_alt_names.uris.push_back(identity);
        spec.extended_key_usages = {pki::ExtendedKeyUsage::kClientAuth};
        spec.not_after = std::min(now + ttl, caller_not_after.value_or(absl::InfiniteFuture()));
        MANDANT_ASSIGN_OR_RETURN(store::IssuerRow issuer, SigningIssuer(store_, conn, scope, ""));
        MANDANT_ASSIGN_OR_RETURN(IssuedCertificate issued,
                                 issuers_->IssueLeaf(conn, issuer, std::move(spec), now));
        FillIssueResponse(issued, response);
        call.set_object(response->certificate().name());
        return absl::OkStatus();
      });
}

}  // namespace mandant::controller::api
