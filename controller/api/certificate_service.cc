#include "controller/api/certificate_service.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "controller/auth/principal.h"
#include "controller/store/idempotency.h"
#include "google/protobuf/util/time_util.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/issuance_policy.h"
#include "tenants/field_violations.h"
#include "tenants/names.h"
#include "tenants/tenant_validation.h"

namespace mandant::controller::api {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr absl::Duration kMinTtl = absl::Minutes(5);
// Infrastructure certificates: what mandantd, agents and operators use.
constexpr absl::Duration kInfraDefaultTtl = absl::Hours(24);
constexpr absl::Duration kInfraMaxTtl = absl::Hours(24 * 90);
constexpr absl::Duration kClientDefaultTtl = absl::Hours(12);
constexpr absl::Duration kClientMaxTtl = absl::Hours(24 * 30);

// "infrastructure" or "tenants/{tenant}", parsed.
struct Scope {
  std::string name;
  // Empty for the infrastructure scope.
  std::string tenant;
  bool infrastructure() const { return tenant.empty(); }
};

absl::StatusOr<Scope> ParseScope(absl::string_view text, absl::string_view field) {
  if (text == store::kInfrastructureScope) return Scope{std::string(text), ""};
  auto tenant = tenants::ParseTenantName(text, field);
  if (!tenant.ok()) {
    tenants::FieldViolations bad;
    bad.Add(std::string(field),
            absl::StrCat("must be \"infrastructure\" or \"tenants/{tenant}\", got ",
                         tenants::QuoteForMessage(text)));
    return bad.ToStatus();
  }
  return Scope{std::string(text), *tenant};
}

// Splits "{scope}/{collection}/{id}[/{suffix}]".
absl::StatusOr<std::pair<Scope, std::string>> ParseScopedName(absl::string_view name,
                                                              absl::string_view collection,
                                                              absl::string_view suffix,
                                                              absl::string_view field) {
  const std::string marker = absl::StrCat("/", collection, "/");
  const size_t at = name.find(marker);
  absl::string_view id = at == absl::string_view::npos ? "" : name.substr(at + marker.size());
  if (!suffix.empty() && !absl::ConsumeSuffix(&id, suffix)) id = "";
  const bool id_ok = !id.empty() && id.size() <= 64 &&
                     id.find_first_not_of("0123456789abcdef-") == absl::string_view::npos;
  if (at == absl::string_view::npos || !id_ok) {
    tenants::FieldViolations bad;
    bad.Add(std::string(field),
            absl::StrCat("must be \"{scope}/", collection, "/{id}", suffix,
                         "\" with a lower-case hex id, got ", tenants::QuoteForMessage(name)));
    return bad.ToStatus();
  }
  MANDANT_ASSIGN_OR_RETURN(Scope scope, ParseScope(name.substr(0, at), field));
  return std::make_pair(std::move(scope), std::string(id));
}

// The uid of the scope's tenant, empty for infrastructure; NOT_FOUND, as
// for any missing tenant, when it does not exist.
absl::StatusOr<std::string> TenantUid(store::PkiStore& store, store::Connection& conn,
                                      const Scope& scope) {
  if (scope.infrastructure()) return std::string();
  MANDANT_ASSIGN_OR_RETURN(store::TenantRef t, store.GetTenantRef(conn, scope.tenant));
  return t.uid;
}

// Who may read and write in a scope. Foreign tenants are NOT_FOUND.
absl::Status CheckRead(const auth::Principal& p, const Scope& scope) {
  if (scope.infrastructure()) return auth::RequireProviderAdmin(p, "reading infrastructure PKI");
  return auth::CheckTenantRead(p, scope.tenant);
}

absl::Status CheckWrite(const auth::Principal& p, const Scope& scope) {
  if (scope.infrastructure()) {
    return auth::RequireProviderAdmin(p, "changing infrastructure PKI");
  }
  return auth::CheckTenantWrite(p, scope.tenant);
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

v1::KeyType KeyTypeProto(absl::string_view text) {
  if (text == "ECDSA_P256") return v1::KEY_TYPE_ECDSA_P256;
  if (text == "ECDSA_P384") return v1::KEY_TYPE_ECDSA_P384;
  if (text == "ED25519") return v1::KEY_TYPE_ED25519;
  if (text == "RSA") return v1::KEY_TYPE_RSA;
  return v1::KEY_TYPE_UNSPECIFIED;
}

std::string CertificateEtag(const store::CertificateRow& row) {
  return absl::StrCat(row.serial.substr(0, 8), "-", row.generation);
}

std::string IssuerEtag(const store::IssuerRow& row) {
  return absl::StrCat(row.id.substr(9), "-", row.generation);
}

void ToProto(const store::CertificateRow& row, v1::Certificate* out) {
  out->set_name(absl::StrCat(row.scope, "/certificates/", row.serial));
  out->set_serial(row.serial);
  out->set_issuer(absl::StrCat(row.scope, "/issuers/", row.issuer_id));
  if (row.scope != store::kInfrastructureScope) out->set_tenant(row.scope);
  out->set_subject(row.subject);
  for (const auto& n : row.dns_names) out->add_dns_names(n);
  for (const auto& n : row.uris) out->add_uris(n);
  for (const auto& n : row.ip_addresses) out->add_ip_addresses(n);
  for (const auto& u : row.usages) {
    out->add_usages(u == "SERVER_AUTH" ? v1::CERTIFICATE_USAGE_SERVER_AUTH
                                       : v1::CERTIFICATE_USAGE_CLIENT_AUTH);
  }
  out->set_key_type(KeyTypeProto(row.key_type));
  out->set_rsa_bits(row.rsa_bits);
  out->set_public_key_sha256(row.public_key_sha256);
  *out->mutable_not_before() = ToProto(row.not_before);
  *out->mutable_not_after() = ToProto(row.not_after);
  if (row.revoke_time) {
    *out->mutable_revocation()->mutable_revoke_time() = ToProto(*row.revoke_time);
    out->mutable_revocation()->set_reason(static_cast<v1::RevocationReason>(row.revoke_reason));
  }
  out->set_certificate_pem(row.certificate_pem);
  out->set_etag(CertificateEtag(row));
}

void ToProto(const store::IssuerRow& row, v1::Issuer* out) {
  out->set_name(absl::StrCat(row.scope, "/issuers/", row.id));
  out->set_kind(row.kind == "ROOT"             ? v1::ISSUER_KIND_ROOT
                : row.kind == "INFRASTRUCTURE" ? v1::ISSUER_KIND_INFRASTRUCTURE
                                               : v1::ISSUER_KIND_TENANT);
  out->set_state(row.state == "PREPARED" ? v1::ISSUER_STATE_PREPARED
                 : row.state == "ACTIVE" ? v1::ISSUER_STATE_ACTIVE
                                         : v1::ISSUER_STATE_RETIRED);
  if (!row.signed_by.empty()) {
    out->set_signed_by(absl::StrCat(store::kInfrastructureScope, "/issuers/", row.signed_by));
  }
  out->set_subject(row.subject);
  out->set_key_type(KeyTypeProto(row.key_type));
  out->set_public_key_sha256(row.public_key_sha256);
  *out->mutable_not_before() = ToProto(row.not_before);
  *out->mutable_not_after() = ToProto(row.not_after);
  for (const auto& d : row.permitted_dns) out->add_permitted_dns_domains(d);
  for (const auto& d : row.permitted_uri) out->add_permitted_uri_domains(d);
  out->set_certificate_pem(row.certificate_pem);
  *out->mutable_create_time() = ToProto(row.create_time);
  if (row.activate_time) *out->mutable_activate_time() = ToProto(*row.activate_time);
  if (row.retire_time) *out->mutable_retire_time() = ToProto(*row.retire_time);
  out->set_etag(IssuerEtag(row));
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

google::protobuf::Duration DurationProto(absl::Duration d) {
  google::protobuf::Duration out;
  out.set_seconds(absl::ToInt64Seconds(d));
  return out;
}

pki::KeyType KeyTypeFromProto(v1::KeyType t) {
  switch (t) {
    case v1::KEY_TYPE_ECDSA_P384:
      return pki::KeyType::kEcdsaP384;
    case v1::KEY_TYPE_ED25519:
      return pki::KeyType::kEd25519;
    case v1::KEY_TYPE_RSA:
      return pki::KeyType::kRsa;
    default:
      return pki::KeyType::kEcdsaP256;
  }
}

// Checks repeated KeyType values of a request: known, not UNSPECIFIED.
void CheckKeyTypes(const google::protobuf::RepeatedField<int>& types, absl::string_view field,
                   tenants::FieldViolations& bad) {
  for (int i = 0; i < types.size(); ++i) {
    if (types[i] == v1::KEY_TYPE_UNSPECIFIED || !v1::KeyType_IsValid(types[i])) {
      bad.Add(absl::StrCat(field, "[", i, "]"),
              absl::StrCat("unknown key type ", types[i],
                           "; allowed: ECDSA_P256, ECDSA_P384, ED25519, RSA"));
    }
  }
}

void CheckDuration(const google::protobuf::Duration& d, absl::string_view field,
                   tenants::FieldViolations& bad) {
  if (d.nanos() != 0 || d.seconds() <= 0) {
    bad.Add(std::string(field), "must be a positive number of whole seconds");
  }
}

pki::IssuancePolicy PolicyFromProto(const v1::IssuancePolicy& p) {
  pki::IssuancePolicy out;
  out.dns_zone = p.dns_zone();
  out.spiffe_trust_domain = p.spiffe_trust_domain();
  out.allowed_dns_names.assign(p.allowed_dns_names().begin(), p.allowed_dns_names().end());
  out.allowed_uris.assign(p.allowed_uris().begin(), p.allowed_uris().end());
  out.allowed_ip_ranges.assign(p.allowed_ip_ranges().begin(), p.allowed_ip_ranges().end());
  for (int t : p.allowed_key_types()) {
    out.allowed_key_types.push_back(KeyTypeFromProto(static_cast<v1::KeyType>(t)));
  }
  out.min_rsa_bits = p.min_rsa_bits();
  out.max_ttl = FromProto(p.max_ttl());
  out.default_ttl = FromProto(p.default_ttl());
  return out;
}

// Usages and ttl of an issuance request; every problem at once.
struct Requested {
  std::vector<pki::ExtendedKeyUsage> usages;
  std::optional<absl::Duration> ttl;
};

Requested CheckRequested(const google::protobuf::RepeatedField<int>& usages,
                         const google::protobuf::Duration* ttl, bool usages_required,
                         tenants::FieldViolations& bad) {
  Requested out;
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
    if (std::find(out.usages.begin(), out.usages.end(), u) != out.usages.end()) {
      bad.Add(absl::StrCat("usages[", i, "]"), "is repeated");
      continue;
    }
    out.usages.push_back(u);
  }
  if (usages_required && usages.empty()) {
    bad.Add("usages", "is required: SERVER_AUTH, CLIENT_AUTH or both");
  }
  if (ttl != nullptr) {
    if (ttl->nanos() != 0 || ttl->seconds() <= 0) {
      bad.Add("ttl", "must be a positive number of whole seconds");
    } else {
      out.ttl = absl::Seconds(ttl->seconds());
    }
  }
  return out;
}

void CheckRequestId(absl::string_view request_id, tenants::FieldViolations& bad) {
  if (!request_id.empty() && !tenants::IsCanonicalUuid(request_id)) {
    bad.Add("request_id", "must be empty or a UUID of the form 8-4-4-4-12 hex digits");
  }
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
// names are taken as the CSR has them (ParseCsr checked their syntax);
// "host/" names belong to agent enrollment.
absl::StatusOr<pki::LeafSpec> InfrastructureLeaf(const pki::ParsedCsr& csr, const Requested& req,
                                                 absl::Time now) {
  tenants::FieldViolations bad;
  if (absl::StartsWith(csr.common_name, "host/")) {
    bad.Add("csr", "CN \"host/...\" is reserved for agent enrollment");
  }
  if (csr.common_name.empty() && csr.subject_alt_names.empty()) {
    bad.Add("csr", "has neither a CN nor subject alternative names");
  }
  const absl::Duration ttl = req.ttl.value_or(kInfraDefaultTtl);
  if (ttl < kMinTtl || ttl > kInfraMaxTtl) {
    bad.Add("ttl", absl::StrCat("must be 5m to ", absl::FormatDuration(kInfraMaxTtl),
                                " in the infrastructure scope, got ", absl::FormatDuration(ttl)));
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  pki::LeafSpec spec;
  spec.public_key = csr.public_key.get();
  spec.common_name = csr.common_name;
  spec.subject_alt_names = csr.subject_alt_names;
  spec.extended_key_usages = req.usages;
  spec.not_after = now + ttl;
  return spec;
}

// FAILED_PRECONDITION unless the scope has an ACTIVE signing issuer.
absl::StatusOr<store::IssuerRow> SigningIssuer(store::PkiStore& store, store::Connection& conn,
                                               const Scope& scope, absl::string_view tenant_uid) {
  const absl::string_view kind = scope.infrastructure() ? "INFRASTRUCTURE" : "TENANT";
  MANDANT_ASSIGN_OR_RETURN(auto issuer, store.ActiveIssuer(conn, scope.name, tenant_uid, kind));
  if (!issuer) {
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
  return *std::move(issuer);
}

void FillIssueResponse(const IssuedCertificate& issued, v1::IssueCertificateResponse* response) {
  ToProto(issued.row, response->mutable_certificate());
  response->set_certificate_pem(issued.row.certificate_pem);
  response->set_chain_pem(issued.chain_pem);
}

// Page tokens: "c1:" + the scope's filter fingerprint + last (not_after, serial).
std::string EncodeCertPageToken(absl::string_view filter, const store::CertificateRow& last) {
  return absl::WebSafeBase64Escape(
      absl::StrCat("c1|", filter, "|", absl::ToUnixMicros(last.not_after), "|", last.serial));
}

}  // namespace

v1::IssuancePolicy DefaultTenantPolicy(const Issuers& issuers, absl::string_view tenant) {
  v1::IssuancePolicy p;
  p.set_name(absl::StrCat("tenants/", tenant, "/issuancePolicy"));
  p.set_dns_zone(issuers.TenantDnsZone(tenant));
  p.set_spiffe_trust_domain(issuers.TenantTrustDomain(tenant));
  p.add_allowed_dns_names(absl::StrCat("*.", p.dns_zone()));
  p.add_allowed_uris(absl::StrCat("spiffe://", p.spiffe_trust_domain(), "/*"));
  for (v1::KeyType t :
       {v1::KEY_TYPE_ECDSA_P256, v1::KEY_TYPE_ECDSA_P384, v1::KEY_TYPE_ED25519, v1::KEY_TYPE_RSA}) {
    p.add_allowed_key_types(t);
  }
  p.set_min_rsa_bits(2048);
  *p.mutable_max_ttl() = DurationProto(absl::Hours(24 * 90));
  *p.mutable_default_ttl() = DurationProto(absl::Hours(24));
  return p;
}

CertificateServiceImpl::CertificateServiceImpl(const ServiceDeps& deps, Issuers* issuers)
    : deps_(deps), issuers_(issuers) {}

grpc::Status CertificateServiceImpl::IssueCertificate(grpc::ServerContext* context,
                                                      const v1::IssueCertificateRequest* request,
                                                      v1::IssueCertificateResponse* response) {
  RpcCall call(context, "IssueCertificate", /*mutating=*/true, deps_);
  return call.Finish(Issue(call, *request, response));
}

grpc::Status CertificateServiceImpl::IssueClientCertificate(
    grpc::ServerContext* context, const v1::IssueClientCertificateRequest* request,
    v1::IssueCertificateResponse* response) {
  RpcCall call(context, "IssueClientCertificate", /*mutating=*/true, deps_);
  return call.Finish(IssueClient(call, *request, response));
}

grpc::Status CertificateServiceImpl::GetCertificate(grpc::ServerContext* context,
                                                    const v1::GetCertificateRequest* request,
                                                    v1::Certificate* response) {
  RpcCall call(context, "GetCertificate", /*mutating=*/false, deps_);
  return call.Finish(Get(call, *request, response));
}

grpc::Status CertificateServiceImpl::ListCertificates(grpc::ServerContext* context,
                                                      const v1::ListCertificatesRequest* request,
                                                      v1::ListCertificatesResponse* response) {
  RpcCall call(context, "ListCertificates", /*mutating=*/false, deps_);
  return call.Finish(List(call, *request, response));
}

grpc::Status CertificateServiceImpl::RevokeCertificate(grpc::ServerContext* context,
                                                       const v1::RevokeCertificateRequest* request,
                                                       v1::Certificate* response) {
  RpcCall call(context, "RevokeCertificate", /*mutating=*/true, deps_);
  return call.Finish(Revoke(call, *request, response));
}

grpc::Status CertificateServiceImpl::GetCrl(grpc::ServerContext* context,
                                            const v1::GetCrlRequest* request, v1::Crl* response) {
  RpcCall call(context, "GetCrl", /*mutating=*/false, deps_);
  return call.Finish(Crl(call, *request, response));
}

grpc::Status CertificateServiceImpl::GetTrustBundle(grpc::ServerContext* context,
                                                    const v1::GetTrustBundleRequest* request,
                                                    v1::TrustBundle* response) {
  RpcCall call(context, "GetTrustBundle", /*mutating=*/false, deps_);
  return call.Finish(Bundle(call, *request, response));
}

grpc::Status CertificateServiceImpl::GetIssuancePolicy(grpc::ServerContext* context,
                                                       const v1::GetIssuancePolicyRequest* request,
                                                       v1::IssuancePolicy* response) {
  RpcCall call(context, "GetIssuancePolicy", /*mutating=*/false, deps_);
  return call.Finish(Policy(call, *request, response));
}

grpc::Status CertificateServiceImpl::ListIssuers(grpc::ServerContext* context,
                                                 const v1::ListIssuersRequest* request,
                                                 v1::ListIssuersResponse* response) {
  RpcCall call(context, "ListIssuers", /*mutating=*/false, deps_);
  return call.Finish(IssuerPage(call, *request, response));
}

absl::Status CertificateServiceImpl::Issue(RpcCall& call,
                                           const v1::IssueCertificateRequest& request,
                                           v1::IssueCertificateResponse* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.parent());
  call.set_request_id(request.request_id());
  MANDANT_ASSIGN_OR_RETURN(Scope scope, ParseScope(request.parent(), "parent"));
  MANDANT_RETURN_IF_ERROR(CheckWrite(call.principal(), scope));
  tenants::FieldViolations bad;
  CheckCsrSize(request.csr(), bad);
  CheckRequestId(request.request_id(), bad);
  const Requested req =
      CheckRequested(request.usages(), request.has_ttl() ? &request.ttl() : nullptr,
                     /*usages_required=*/true, bad);
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
          MANDANT_ASSIGN_OR_RETURN(spec, InfrastructureLeaf(csr, req, now));
        } else {
          MANDANT_ASSIGN_OR_RETURN(store::TenantRef tenant,
                                   store_.GetTenantRef(conn, scope.tenant));
          if (tenant.state == v1::TENANT_STATE_SUSPENDED) {
            return absl::FailedPreconditionError(
                absl::StrCat("tenant \"", scope.tenant, "\" is suspended"));
          }
          tenant_uid = tenant.uid;
          MANDANT_ASSIGN_OR_RETURN(auto stored, store_.GetPolicy(conn, scope.tenant));
          v1::IssuancePolicy policy;
          if (!policy.ParseFromString(stored.first)) return absl::DataLossError("stored policy");
          pki::IssuanceRequest ir;
          ir.csr = &csr;
          ir.ttl = req.ttl;
          ir.usages = req.usages;
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
  call.set_object("infrastructure");
  call.set_request_id(request.request_id());
  const auth::Principal& p = call.principal();
  if (p.role == auth::Role::kAgent) {
    return absl::PermissionDeniedError("agents renew their certificate over their stream");
  }
  tenants::FieldViolations bad;
  CheckCsrSize(request.csr(), bad);
  CheckRequestId(request.request_id(), bad);
  google::protobuf::RepeatedField<int> no_usages;
  Requested req = CheckRequested(no_usages, request.has_ttl() ? &request.ttl() : nullptr,
                                 /*usages_required=*/false, bad);
  const absl::Duration ttl = req.ttl.value_or(kClientDefaultTtl);
  if (ttl < kMinTtl || ttl > kClientMaxTtl) {
    bad.Add("ttl", absl::StrCat("must be 5m to ", absl::FormatDuration(kClientMaxTtl), ", got ",
                                absl::FormatDuration(ttl)));
  }
  bool subject_ok = !p.subject.empty() && p.subject.size() <= 128;
  for (char c : p.subject) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '@' &&
        c != '-') {
      subject_ok = false;
    }
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  if (!subject_ok) {
    return absl::FailedPreconditionError(absl::StrCat(
        "subject \"", tenants::QuoteForMessage(p.subject),
        "\" cannot be named in a certificate: 1-128 characters of A-Z a-z 0-9 . _ @ -"));
  }
  MANDANT_ASSIGN_OR_RETURN(pki::ParsedCsr csr, ParseCsrField(request.csr()));
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
  const Scope scope{std::string(store::kInfrastructureScope), ""};
  return call.TransactIdempotent(
      "issue client certificate", request.request_id(), request, response,
      [&](store::Connection& conn) -> absl::Status {
        const absl::Time now = absl::Now();
        pki::LeafSpec spec;
        spec.public_key = csr.public_key.get();
        spec.common_name = p.subject;
        spec.subject_alt_names.uris.push_back(identity);
        spec.extended_key_usages = {pki::ExtendedKeyUsage::kClientAuth};
        spec.not_after = now + ttl;
        MANDANT_ASSIGN_OR_RETURN(store::IssuerRow issuer, SigningIssuer(store_, conn, scope, ""));
        MANDANT_ASSIGN_OR_RETURN(IssuedCertificate issued,
                                 issuers_->IssueLeaf(conn, issuer, std::move(spec), now));
        FillIssueResponse(issued, response);
        call.set_object(response->certificate().name());
        return absl::OkStatus();
      });
}

absl::Status CertificateServiceImpl::Get(RpcCall& call, const v1::GetCertificateRequest& request,
                                         v1::Certificate* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  MANDANT_ASSIGN_OR_RETURN(auto parsed,
                           ParseScopedName(request.name(), "certificates", "", "name"));
  const Scope& scope = parsed.first;
  MANDANT_RETURN_IF_ERROR(CheckRead(call.principal(), scope));
  return deps_.db->Run("get certificate", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(const std::string uid, TenantUid(store_, conn, scope));
    MANDANT_ASSIGN_OR_RETURN(store::CertificateRow row,
                             store_.GetCertificate(conn, scope.name, uid, parsed.second));
    ToProto(row, response);
    return absl::OkStatus();
  });
}

absl::Status CertificateServiceImpl::List(RpcCall& call, const v1::ListCertificatesRequest& request,
                                          v1::ListCertificatesResponse* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.parent());
  MANDANT_ASSIGN_OR_RETURN(Scope scope, ParseScope(request.parent(), "parent"));
  MANDANT_RETURN_IF_ERROR(CheckRead(call.principal(), scope));
  tenants::FieldViolations bad;
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    bad.Add("page_size", absl::StrCat("must be 0-", kMaxPageSize, ", got ", request.page_size()));
  }
  store::CertificateFilter filter;
  filter.scope = scope.name;
  if (!request.issuer().empty()) {
    auto issuer = ParseScopedName(request.issuer(), "issuers", "", "issuer");
    if (!issuer.ok() || issuer->first.name != scope.name) {
      bad.Add("issuer", "must be an issuer of the parent scope, \"{parent}/issuers/{id}\"");
    } else {
      filter.issuer_id = issuer->second;
    }
  }
  if (request.has_expire_before()) {
    filter.expire_before =
        absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(request.expire_before()));
  }
  const std::string fingerprint =
      absl::StrCat(scope.name, ",", filter.issuer_id, ",",
                   request.has_expire_before() ? absl::ToUnixMicros(*filter.expire_before) : 0, ",",
                   request.include_expired());
  if (!request.page_token().empty()) {
    std::string raw;
    std::vector<std::string> parts;
    if (absl::WebSafeBase64Unescape(request.page_token(), &raw)) {
      parts = absl::StrSplit(raw, '|');
    }
    int64_t micros = 0;
    if (parts.size() != 4 || parts[0] != "c1" || !absl::SimpleAtoi(parts[2], &micros)) {
      bad.Add("page_token", "is not a token returned by ListCertificates");
    } else if (parts[1] != fingerprint) {
      bad.Add("page_token", "was issued for other filters; start again without it");
    } else {
      filter.after_not_after = absl::FromUnixMicros(micros);
      filter.after_serial = parts[3];
    }
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  const int page_size = request.page_size() > 0 ? request.page_size() : kDefaultPageSize;
  filter.limit = page_size + 1;
  if (!request.include_expired()) filter.expired_at = absl::Now();
  return deps_.db->Run("list certificates", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(filter.tenant_uid, TenantUid(store_, conn, scope));
    MANDANT_ASSIGN_OR_RETURN(std::vector<store::CertificateRow> rows,
                             store_.ListCertificates(conn, filter));
    const bool more = static_cast<int>(rows.size()) > page_size;
    if (more) rows.pop_back();
    for (const auto& row : rows) ToProto(row, response->add_certificates());
    if (more) response->set_next_page_token(EncodeCertPageToken(fingerprint, rows.back()));
    return absl::OkStatus();
  });
}

absl::Status CertificateServiceImpl::Revoke(RpcCall& call,
                                            const v1::RevokeCertificateRequest& request,
                                            v1::Certificate* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  call.set_request_id(request.request_id());
  MANDANT_ASSIGN_OR_RETURN(auto parsed,
                           ParseScopedName(request.name(), "certificates", "", "name"));
  const Scope& scope = parsed.first;
  MANDANT_RETURN_IF_ERROR(CheckWrite(call.principal(), scope));
  tenants::FieldViolations bad;
  CheckRequestId(request.request_id(), bad);
  const int reason = request.reason();
  if (!v1::RevocationReason_IsValid(reason) || reason == v1::REVOCATION_REASON_CERTIFICATE_HOLD ||
      reason == v1::REVOCATION_REASON_REMOVE_FROM_CRL) {
    bad.Add("reason", absl::StrCat("revocation reason ", reason,
                                   " is not accepted; CERTIFICATE_HOLD and REMOVE_FROM_CRL "
                                   "never are (revocation is final)"));
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  return call.TransactIdempotent(
      "revoke certificate", request.request_id(), request, response,
      [&](store::Connection& conn) -> absl::Status {
        MANDANT_ASSIGN_OR_RETURN(const std::string uid, TenantUid(store_, conn, scope));
        MANDANT_ASSIGN_OR_RETURN(store::CertificateRow row,
                                 store_.GetCertificate(conn, scope.name, uid, parsed.second,
                                                       /*for_update=*/true));
        if (!request.etag().empty() && request.etag() != CertificateEtag(row)) {
          return absl::AbortedError(absl::StrCat("certificate ", request.name(),
                                                 " was changed concurrently (etag ",
                                                 CertificateEtag(row), ", request had ",
                                                 request.etag(), "); read it again and retry"));
        }
        if (!row.revoke_time) {
          const absl::Time now = absl::Now();
          MANDANT_RETURN_IF_ERROR(store_.Revoke(conn, row.serial, reason, now));
          MANDANT_RETURN_IF_ERROR(issuers_->ResignCrl(conn, row.issuer_id, now).status());
          MANDANT_ASSIGN_OR_RETURN(row, store_.GetCertificate(conn, scope.name, uid, row.serial));
        }
        ToProto(row, response);
        return absl::OkStatus();
      });
}

absl::Status CertificateServiceImpl::Crl(RpcCall& call, const v1::GetCrlRequest& request,
                                         v1::Crl* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  MANDANT_ASSIGN_OR_RETURN(auto parsed, ParseScopedName(request.name(), "issuers", "/crl", "name"));
  const Scope& scope = parsed.first;
  // Infrastructure CRLs are for every verifier of Mandant's parts.
  if (!scope.infrastructure()) MANDANT_RETURN_IF_ERROR(CheckRead(call.principal(), scope));
  return deps_.db->Transact("get crl", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(const std::string uid, TenantUid(store_, conn, scope));
    MANDANT_ASSIGN_OR_RETURN(store::IssuerRow stored,
                             store_.GetIssuer(conn, scope.name, uid, parsed.second));
    MANDANT_ASSIGN_OR_RETURN(store::IssuerRow row,
                             issuers_->RefreshCrl(conn, std::move(stored), absl::Now()));
    response->set_name(request.name());
    response->set_crl_der(row.crl_der);
    auto crl = pki::ParseCrl(row.crl_der);
    if (crl.ok()) {
      auto pem = pki::CrlToPem(crl->get());
      if (pem.ok()) response->set_crl_pem(*pem);
    }
    response->set_crl_number(row.crl_number);
    *response->mutable_this_update() = ToProto(row.crl_this_update);
    *response->mutable_next_update() = ToProto(row.crl_next_update);
    return absl::OkStatus();
  });
}

absl::Status FillTrustBundle(store::PkiStore& store, store::Connection& conn,
                             absl::string_view scope, absl::string_view tenant_uid,
                             v1::TrustBundle* response) {
  const bool infrastructure = scope == store::kInfrastructureScope;
  MANDANT_ASSIGN_OR_RETURN(std::vector<store::IssuerRow> rows,
                           store.ListIssuers(conn, scope, tenant_uid, 0, kMaxPageSize));
  const absl::Time now = absl::Now();
  absl::Time updated = absl::InfinitePast();
  std::string pem;
  for (const store::IssuerRow& row : rows) {
    // The scope's own signing CAs; the root is not one of them (see
    // TrustBundle in certificate.proto), and an issuer stays until its
    // own certificate expires, which bounds its leaves.
    if (row.kind == "ROOT" || row.not_after <= now) continue;
    if (row.state == "RETIRED" && !infrastructure) {
      // A tenant's retired intermediate stays trusted (rotation) unless
      // it was revoked, as at tenant deletion.
      auto cert = store.GetCertificate(conn, store::kInfrastructureScope, "", row.serial);
      if (cert.ok() && cert->revoke_time) continue;
    }
    absl::StrAppend(&pem, row.certificate_pem);
    response->add_issuers(absl::StrCat(row.scope, "/issuers/", row.id));
    updated = std::max({updated, row.create_time, row.activate_time.value_or(row.create_time),
                        row.retire_time.value_or(row.create_time)});
  }
  response->set_name(absl::StrCat(scope, "/trustBundle"));
  response->set_ca_certificates_pem(pem);
  if (updated != absl::InfinitePast()) *response->mutable_update_time() = ToProto(updated);
  return absl::OkStatus();
}

absl::Status CertificateServiceImpl::Bundle(RpcCall& call, const v1::GetTrustBundleRequest& request,
                                            v1::TrustBundle* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  absl::string_view name = request.name();
  if (!absl::ConsumeSuffix(&name, "/trustBundle")) {
    tenants::FieldViolations bad;
    bad.Add("name", "must be \"tenants/{tenant}/trustBundle\" or \"infrastructure/trustBundle\"");
    return bad.ToStatus();
  }
  MANDANT_ASSIGN_OR_RETURN(Scope scope, ParseScope(name, "name"));
  if (!scope.infrastructure()) MANDANT_RETURN_IF_ERROR(CheckRead(call.principal(), scope));
  return deps_.db->Run("get trust bundle", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(const std::string uid, TenantUid(store_, conn, scope));
    return FillTrustBundle(store_, conn, scope.name, uid, response);
  });
}

absl::Status CertificateServiceImpl::Policy(RpcCall& call,
                                            const v1::GetIssuancePolicyRequest& request,
                                            v1::IssuancePolicy* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  absl::string_view name = request.name();
  if (!absl::ConsumeSuffix(&name, "/issuancePolicy")) {
    tenants::FieldViolations bad;
    bad.Add("name", "must be \"tenants/{tenant}/issuancePolicy\"");
    return bad.ToStatus();
  }
  MANDANT_ASSIGN_OR_RETURN(std::string tenant, tenants::ParseTenantName(name, "name"));
  MANDANT_RETURN_IF_ERROR(auth::CheckTenantRead(call.principal(), tenant));
  return deps_.db->Run("get issuance policy", [&](store::Connection& conn) -> absl::Status {
    MANDANT_RETURN_IF_ERROR(store_.GetTenantRef(conn, tenant).status());
    MANDANT_ASSIGN_OR_RETURN(auto stored, store_.GetPolicy(conn, tenant));
    if (!response->ParseFromString(stored.first)) return absl::DataLossError("stored policy");
    response->set_etag(absl::StrCat("p-", stored.second));
    return absl::OkStatus();
  });
}

absl::Status CertificateServiceImpl::IssuerPage(RpcCall& call,
                                                const v1::ListIssuersRequest& request,
                                                v1::ListIssuersResponse* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.parent());
  MANDANT_ASSIGN_OR_RETURN(Scope scope, ParseScope(request.parent(), "parent"));
  MANDANT_RETURN_IF_ERROR(CheckRead(call.principal(), scope));
  tenants::FieldViolations bad;
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    bad.Add("page_size", absl::StrCat("must be 0-", kMaxPageSize, ", got ", request.page_size()));
  }
  int offset = 0;
  if (!request.page_token().empty()) {
    std::string raw;
    const bool decoded = absl::WebSafeBase64Unescape(request.page_token(), &raw);
    absl::string_view rest = raw;
    if (!decoded || !absl::ConsumePrefix(&rest, absl::StrCat("i1|", scope.name, "|")) ||
        !absl::SimpleAtoi(rest, &offset) || offset < 0) {
      bad.Add("page_token", "is not a token returned by ListIssuers for this parent");
    }
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  const int page_size = request.page_size() > 0 ? request.page_size() : kDefaultPageSize;
  return deps_.db->Run("list issuers", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(const std::string uid, TenantUid(store_, conn, scope));
    MANDANT_ASSIGN_OR_RETURN(std::vector<store::IssuerRow> rows,
                             store_.ListIssuers(conn, scope.name, uid, offset, page_size + 1));
    const bool more = static_cast<int>(rows.size()) > page_size;
    if (more) rows.pop_back();
    for (const auto& row : rows) ToProto(row, response->add_issuers());
    if (more) {
      response->set_next_page_token(
          absl::WebSafeBase64Escape(absl::StrCat("i1|", scope.name, "|", offset + page_size)));
    }
    return absl::OkStatus();
  });
}

grpc::Status CertificateServiceImpl::UpdateIssuancePolicy(
    grpc::ServerContext* context, const v1::UpdateIssuancePolicyRequest* request,
    v1::IssuancePolicy* response) {
  RpcCall call(context, "UpdateIssuancePolicy", /*mutating=*/true, deps_);
  return call.Finish(UpdatePolicy(call, *request, response));
}

grpc::Status CertificateServiceImpl::PrepareIssuer(grpc::ServerContext* context,
                                                   const v1::PrepareIssuerRequest* request,
                                                   v1::Issuer* response) {
  RpcCall call(context, "PrepareIssuer", /*mutating=*/true, deps_);
  return call.Finish(Prepare(call, *request, response));
}

grpc::Status CertificateServiceImpl::ActivateIssuer(grpc::ServerContext* context,
                                                    const v1::ActivateIssuerRequest* request,
                                                    v1::Issuer* response) {
  RpcCall call(context, "ActivateIssuer", /*mutating=*/true, deps_);
  return call.Finish(ChangeState(call, request->name(), request->etag(), request->request_id(),
                                 *request, /*activate=*/true, response));
}

grpc::Status CertificateServiceImpl::RetireIssuer(grpc::ServerContext* context,
                                                  const v1::RetireIssuerRequest* request,
                                                  v1::Issuer* response) {
  RpcCall call(context, "RetireIssuer", /*mutating=*/true, deps_);
  return call.Finish(ChangeState(call, request->name(), request->etag(), request->request_id(),
                                 *request, /*activate=*/false, response));
}

absl::Status CertificateServiceImpl::UpdatePolicy(RpcCall& call,
                                                  const v1::UpdateIssuancePolicyRequest& request,
                                                  v1::IssuancePolicy* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  const v1::IssuancePolicy& in = request.policy();
  call.set_object(in.name());
  call.set_request_id(request.request_id());
  absl::string_view name = in.name();
  if (!absl::ConsumeSuffix(&name, "/issuancePolicy")) {
    tenants::FieldViolations bad;
    bad.Add("policy.name", "must be \"tenants/{tenant}/issuancePolicy\"");
    return bad.ToStatus();
  }
  MANDANT_ASSIGN_OR_RETURN(std::string tenant, tenants::ParseTenantName(name, "policy.name"));
  MANDANT_RETURN_IF_ERROR(auth::CheckTenantWrite(call.principal(), tenant));
  tenants::FieldViolations bad;
  CheckRequestId(request.request_id(), bad);
  if (request.update_mask().paths().empty()) {
    bad.Add("update_mask", "is required: name the fields to change");
  }
  for (const std::string& path : request.update_mask().paths()) {
    if (path == "allowed_key_types") {
      CheckKeyTypes(in.allowed_key_types(), "policy.allowed_key_types", bad);
    } else if (path == "max_ttl") {
      CheckDuration(in.max_ttl(), "policy.max_ttl", bad);
    } else if (path == "default_ttl") {
      CheckDuration(in.default_ttl(), "policy.default_ttl", bad);
    } else if (path != "allowed_dns_names" && path != "allowed_uris" &&
               path != "allowed_ip_ranges" && path != "min_rsa_bits") {
      bad.Add("update_mask", absl::StrCat("unknown path ", tenants::QuoteForMessage(path),
                                          "; allowed: allowed_dns_names, allowed_uris, "
                                          "allowed_ip_ranges, allowed_key_types, min_rsa_bits, "
                                          "max_ttl, default_ttl"));
    }
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  return call.TransactIdempotent(
      "update issuance policy", request.request_id(), request, response,
      [&](store::Connection& conn) -> absl::Status {
        MANDANT_ASSIGN_OR_RETURN(store::TenantRef t, store_.GetTenantRef(conn, tenant));
        if (t.state == v1::TENANT_STATE_SUSPENDED) {
          return absl::FailedPreconditionError(
              absl::StrCat("tenant \"", tenant, "\" is suspended"));
        }
        MANDANT_ASSIGN_OR_RETURN(auto stored, store_.GetPolicy(conn, tenant));
        v1::IssuancePolicy policy;
        if (!policy.ParseFromString(stored.first)) return absl::DataLossError("stored policy");
        const std::string etag = absl::StrCat("p-", stored.second);
        if (!in.etag().empty() && in.etag() != etag) {
          return absl::AbortedError(absl::StrCat(
              "issuance policy of tenant \"", tenant, "\" was changed concurrently (etag ", etag,
              ", request had ", in.etag(), "); read it again and retry"));
        }
        for (const std::string& path : request.update_mask().paths()) {
          if (path == "allowed_dns_names") {
            *policy.mutable_allowed_dns_names() = in.allowed_dns_names();
          } else if (path == "allowed_uris") {
            *policy.mutable_allowed_uris() = in.allowed_uris();
          } else if (path == "allowed_ip_ranges") {
            *policy.mutable_allowed_ip_ranges() = in.allowed_ip_ranges();
          } else if (path == "allowed_key_types") {
            *policy.mutable_allowed_key_types() = in.allowed_key_types();
          } else if (path == "min_rsa_bits") {
            policy.set_min_rsa_bits(in.min_rsa_bits() == 0 ? 2048 : in.min_rsa_bits());
          } else if (path == "max_ttl") {
            *policy.mutable_max_ttl() = in.max_ttl();
          } else if (path == "default_ttl") {
            *policy.mutable_default_ttl() = in.default_ttl();
          }
        }
        MANDANT_RETURN_IF_ERROR(pki::ValidateIssuancePolicy(PolicyFromProto(policy), "policy"));
        *policy.mutable_update_time() = ToProto(absl::Now());
        policy.clear_etag();
        MANDANT_ASSIGN_OR_RETURN(int64_t generation,
                                 store_.PutPolicy(conn, tenant, policy.SerializeAsString()));
        *response = policy;
        response->set_etag(absl::StrCat("p-", generation));
        return absl::OkStatus();
      });
}

absl::Status CertificateServiceImpl::Prepare(RpcCall& call, const v1::PrepareIssuerRequest& request,
                                             v1::Issuer* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.parent());
  call.set_request_id(request.request_id());
  MANDANT_ASSIGN_OR_RETURN(Scope scope, ParseScope(request.parent(), "parent"));
  if (!scope.infrastructure())
    MANDANT_RETURN_IF_ERROR(auth::CheckTenantRead(call.principal(), scope.tenant));
  MANDANT_RETURN_IF_ERROR(auth::RequireProviderAdmin(call.principal(), "preparing issuers"));
  tenants::FieldViolations bad;
  CheckRequestId(request.request_id(), bad);
  Issuers::NewIssuer spec;
  spec.scope = scope.name;
  spec.state = "PREPARED";
  if (scope.infrastructure()) {
    if (request.kind() == v1::ISSUER_KIND_ROOT) {
      spec.kind = "ROOT";
    } else if (request.kind() == v1::ISSUER_KIND_INFRASTRUCTURE) {
      spec.kind = "INFRASTRUCTURE";
    } else {
      bad.Add("kind", "must be ROOT or INFRASTRUCTURE in the infrastructure scope");
    }
  } else if (request.kind() == v1::ISSUER_KIND_TENANT ||
             request.kind() == v1::ISSUER_KIND_UNSPECIFIED) {
    spec.kind = "TENANT";
    spec.tenant = scope.tenant;
  } else {
    bad.Add("kind", "must be TENANT (or unset) in a tenant scope");
  }
  if (request.key_type() == v1::KEY_TYPE_ECDSA_P384) {
    spec.key_type = pki::KeyType::kEcdsaP384;
  } else if (request.key_type() != v1::KEY_TYPE_UNSPECIFIED &&
             request.key_type() != v1::KEY_TYPE_ECDSA_P256) {
    bad.Add("key_type", "must be ECDSA_P256 (the default) or ECDSA_P384 for a CA");
  }
  if (request.has_validity()) {
    CheckDuration(request.validity(), "validity", bad);
    const absl::Duration v = FromProto(request.validity());
    const bool root = spec.kind == "ROOT";
    const absl::Duration lo = root ? absl::Hours(24 * 365) : absl::Hours(24 * 30);
    const absl::Duration hi = root ? absl::Hours(24 * 365 * 20) : absl::Hours(24 * 365 * 5);
    if (v < lo || v > hi) {
      bad.Add("validity", absl::StrCat("must be ", root ? "1-20 years" : "30 days to 5 years",
                                       " for this kind, got ", absl::FormatDuration(v)));
    }
    spec.validity = v;
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  return call.TransactIdempotent(
      "prepare issuer", request.request_id(), request, response,
      [&](store::Connection& conn) -> absl::Status {
        const absl::Time now = absl::Now();
        if (!scope.infrastructure()) {
          MANDANT_ASSIGN_OR_RETURN(store::TenantRef t, store_.GetTenantRef(conn, scope.tenant));
          spec.tenant_uid = t.uid;
          MANDANT_ASSIGN_OR_RETURN(spec.ip_ranges, store_.TenantCidrs(conn, scope.tenant));
        }
        if (spec.kind != "ROOT" && spec.validity > absl::ZeroDuration()) {
          MANDANT_ASSIGN_OR_RETURN(
              auto root, store_.ActiveIssuer(conn, store::kInfrastructureScope, "", "ROOT"));
          if (root && now + spec.validity > root->not_after) {
            tenants::FieldViolations late;
            late.Add("validity",
                     absl::StrCat("would end after the signing root ", root->id, " (not_after ",
                                  absl::FormatTime(root->not_after), ")"));
            return late.ToStatus();
          }
        }
        auto created = issuers_->CreateIssuer(conn, spec, now);
        if (absl::IsAlreadyExists(created.status())) {
          return absl::FailedPreconditionError(
              absl::StrCat(scope.name, " already has a PREPARED ", spec.kind,
                           " issuer; activate or retire it first"));
        }
        MANDANT_RETURN_IF_ERROR(created.status());
        ToProto(*created, response);
        call.set_object(response->name());
        return absl::OkStatus();
      });
}

absl::Status CertificateServiceImpl::ChangeState(RpcCall& call, absl::string_view name,
                                                 absl::string_view etag,
                                                 absl::string_view request_id,
                                                 const google::protobuf::Message& request,
                                                 bool activate, v1::Issuer* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(std::string(name));
  call.set_request_id(std::string(request_id));
  MANDANT_ASSIGN_OR_RETURN(auto parsed, ParseScopedName(name, "issuers", "", "name"));
  const Scope& scope = parsed.first;
  if (!scope.infrastructure())
    MANDANT_RETURN_IF_ERROR(auth::CheckTenantRead(call.principal(), scope.tenant));
  MANDANT_RETURN_IF_ERROR(auth::RequireProviderAdmin(
      call.principal(), activate ? "activating issuers" : "retiring issuers"));
  tenants::FieldViolations bad;
  CheckRequestId(request_id, bad);
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  return call.TransactIdempotent(
      activate ? "activate issuer" : "retire issuer", request_id, request, response,
      [&](store::Connection& conn) -> absl::Status {
        MANDANT_ASSIGN_OR_RETURN(const std::string uid, TenantUid(store_, conn, scope));
        MANDANT_ASSIGN_OR_RETURN(store::IssuerRow row,
                                 store_.GetIssuer(conn, scope.name, uid, parsed.second,
                                                  /*for_update=*/true));
        if (!etag.empty() && etag != IssuerEtag(row)) {
          return absl::AbortedError(
              absl::StrCat("issuer ", name, " was changed concurrently (etag ", IssuerEtag(row),
                           ", request had ", etag, "); read it again and retry"));
        }
        const absl::Time now = absl::Now();
        if (activate) {
          if (row.state != "PREPARED") {
            return absl::FailedPreconditionError(absl::StrCat(
                "issuer ", name, " is ", row.state, "; only a PREPARED issuer activates"));
          }
          if (now < row.not_before || now >= row.not_after) {
            return absl::FailedPreconditionError(absl::StrCat(
                "issuer ", name, " is not valid now (", absl::FormatTime(row.not_before), " to ",
                absl::FormatTime(row.not_after), ")"));
          }
          MANDANT_ASSIGN_OR_RETURN(auto current,
                                   store_.ActiveIssuer(conn, scope.name, uid, row.kind));
          if (current)
            MANDANT_RETURN_IF_ERROR(store_.SetIssuerState(conn, current->id, "RETIRED", now));
          MANDANT_RETURN_IF_ERROR(store_.SetIssuerState(conn, row.id, "ACTIVE", now));
        } else {
          if (row.state == "ACTIVE") {
            return absl::FailedPreconditionError(absl::StrCat(
                "issuer ", name, " is the scope's ACTIVE ", row.kind,
                " issuer; prepare and activate a successor instead, which retires it"));
          }
          if (row.state == "RETIRED") {
            return absl::FailedPreconditionError(
                absl::StrCat("issuer ", name, " is already RETIRED"));
          }
          MANDANT_RETURN_IF_ERROR(store_.SetIssuerState(conn, row.id, "RETIRED", now));
        }
        MANDANT_ASSIGN_OR_RETURN(row, store_.GetIssuer(conn, scope.name, uid, row.id));
        ToProto(row, response);
        return absl::OkStatus();
      });
}

}  // namespace mandant::controller::api
