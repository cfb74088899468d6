#include "controller/api/certificate_resources.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"

#include "common/status_macros.h"
#include "tenants/names.h"
#include "tenants/tenant_validation.h"

namespace mandant::controller::api {
namespace {

constexpr size_t kMaxIdLength = 64;

absl::Status BadField(absl::string_view field, std::string description) {
  tenants::FieldViolations bad;
  bad.Add(std::string(field), std::move(description));
  return bad.ToStatus();
}

}  // namespace

absl::StatusOr<PkiScope> ParsePkiScope(absl::string_view text, absl::string_view field) {
  if (text == store::kInfrastructureScope) return PkiScope{std::string(text), ""};
  auto tenant = tenants::ParseTenantName(text, field);
  if (!tenant.ok()) {
    return BadField(field, absl::StrCat("must be \"infrastructure\" or \"tenants/{tenant}\", got ",
                                        tenants::QuoteForMessage(text)));
  }
  return PkiScope{std::string(text), *std::move(tenant)};
}

absl::StatusOr<ScopedName> ParseScopedName(absl::string_view name, absl::string_view collection,
                                           absl::string_view suffix, absl::string_view field) {
  const std::string marker = absl::StrCat("/", collection, "/");
  const size_t at = name.find(marker);
  absl::string_view id = at == absl::string_view::npos ? "" : name.substr(at + marker.size());
  if (!suffix.empty() && !absl::ConsumeSuffix(&id, suffix)) id = "";
  const bool id_ok = !id.empty() && id.size() <= kMaxIdLength &&
                     id.find_first_not_of("0123456789abcdef-") == absl::string_view::npos;
  if (at == absl::string_view::npos || !id_ok) {
    return BadField(
        field, absl::StrCat("must be \"{scope}/", collection, "/{id}", suffix,
                            "\" with a lower-case hex id, got ", tenants::QuoteForMessage(name)));
  }
  MANDANT_ASSIGN_OR_RETURN(PkiScope scope, ParsePkiScope(name.substr(0, at), field));
  return ScopedName{std::move(scope), std::string(id)};
}

absl::StatusOr<PkiScope> ParseScopeSingleton(absl::string_view name, absl::string_view suffix,
                                             bool tenant_only, absl::string_view field) {
  const std::string allowed = tenant_only ? absl::StrCat("\"tenants/{tenant}/", suffix, "\"")
                                          : absl::StrCat("\"tenants/{tenant}/", suffix,
                                                         "\" or \"infrastructure/", suffix, "\"");
  absl::string_view scope = name;
  if (!absl::ConsumeSuffix(&scope, absl::StrCat("/", suffix)) ||
      (tenant_only && scope == store::kInfrastructureScope)) {
    return BadField(field,
                    absl::StrCat("must be ", allowed, ", got ", tenants::QuoteForMessage(name)));
  }
  auto parsed = ParsePkiScope(scope, field);
  if (!parsed.ok()) {
    return BadField(field,
                    absl::StrCat("must be ", allowed, ", got ", tenants::QuoteForMessage(name)));
  }
  return parsed;
}

absl::StatusOr<std::string> TenantUid(store::PkiStore& store, store::Connection& conn,
                                      const PkiScope& scope) {
  if (scope.infrastructure()) return std::string();
  MANDANT_ASSIGN_OR_RETURN(store::TenantRef t, store.GetTenantRef(conn, scope.tenant));
  return t.uid;
}

absl::Status CheckScopeRead(const auth::Principal& p, const PkiScope& scope) {
  if (scope.infrastructure()) return auth::RequireProviderAdmin(p, "reading infrastructure PKI");
  return auth::CheckTenantRead(p, scope.tenant);
}

absl::Status CheckScopeWrite(const auth::Principal& p, const PkiScope& scope) {
  if (scope.infrastructure()) {
    return auth::RequireProviderAdmin(p, "changing infrastructure PKI");
  }
  return auth::CheckTenantWrite(p, scope.tenant);
}

absl::Status CheckTenantActive(const store::TenantRef& tenant, absl::string_view tenant_id) {
  if (tenant.state == v1::TENANT_STATE_SUSPENDED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tenant ", tenants::QuoteForMessage(tenant_id), " is suspended; ask your provider"));
  }
  return absl::OkStatus();
}

void CheckRequestId(absl::string_view request_id, tenants::FieldViolations& bad) {
  if (!request_id.empty() && !tenants::IsCanonicalUuid(request_id)) {
    bad.Add("request_id",
            absl::StrCat("must be empty or a UUID of the form 8-4-4-4-12 hex digits, got ",
                         tenants::QuoteForMessage(request_id)));
  }
}

absl::Status CheckEtag(absl::string_view what, absl::string_view requested,
                       absl::string_view current) {
  if (requested.empty() || requested == current) return absl::OkStatus();
  return absl::AbortedError(absl::StrCat(what, " was changed concurrently (etag \"", current,
                                         "\", request had ", tenants::QuoteForMessage(requested),
                                         "); read it again and retry"));
}

google::protobuf::Timestamp TimestampProto(absl::Time t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

v1::KeyType KeyTypeProto(absl::string_view text) {
  if (text == "ECDSA_P256") return v1::KEY_TYPE_ECDSA_P256;
  if (text == "ECDSA_P384") return v1::KEY_TYPE_ECDSA_P384;
  if (text == "ED25519") return v1::KEY_TYPE_ED25519;
  if (text == "RSA") return v1::KEY_TYPE_RSA;
  return v1::KEY_TYPE_UNSPECIFIED;
}

v1::IssuerKind IssuerKindProto(store::IssuerKind kind) {
  switch (kind) {
    case store::IssuerKind::kRoot:
      return v1::ISSUER_KIND_ROOT;
    case store::IssuerKind::kInfrastructure:
      return v1::ISSUER_KIND_INFRASTRUCTURE;
    case store::IssuerKind::kTenant:
      return v1::ISSUER_KIND_TENANT;
  }
  return v1::ISSUER_KIND_UNSPECIFIED;
}

v1::IssuerState IssuerStateProto(store::IssuerState state) {
  switch (state) {
    case store::IssuerState::kPrepared:
      return v1::ISSUER_STATE_PREPARED;
    case store::IssuerState::kActive:
      return v1::ISSUER_STATE_ACTIVE;
    case store::IssuerState::kRetired:
      return v1::ISSUER_STATE_RETIRED;
  }
  return v1::ISSUER_STATE_UNSPECIFIED;
}

v1::CertificateUsage UsageProto(absl::string_view text) {
  if (text == "SERVER_AUTH") return v1::CERTIFICATE_USAGE_SERVER_AUTH;
  if (text == "CLIENT_AUTH") return v1::CERTIFICATE_USAGE_CLIENT_AUTH;
  return v1::CERTIFICATE_USAGE_UNSPECIFIED;
}

namespace {

pki::KeyType KeyTypeFromProto(int t) {
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

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

}  // namespace

pki::IssuancePolicy PolicyFromProto(const v1::IssuancePolicy& p) {
  pki::IssuancePolicy out;
  out.dns_zone = p.dns_zone();
  out.spiffe_trust_domain = p.spiffe_trust_domain();
  out.allowed_dns_names.assign(p.allowed_dns_names().begin(), p.allowed_dns_names().end());
  out.allowed_uris.assign(p.allowed_uris().begin(), p.allowed_uris().end());
  out.allowed_ip_ranges.assign(p.allowed_ip_ranges().begin(), p.allowed_ip_ranges().end());
  for (int t : p.allowed_key_types()) out.allowed_key_types.push_back(KeyTypeFromProto(t));
  out.min_rsa_bits = p.min_rsa_bits();
  out.max_ttl = FromProto(p.max_ttl());
  out.default_ttl = FromProto(p.default_ttl());
  return out;
}

std::string CertificateEtag(const store::CertificateRow& row) {
  return absl::StrCat(absl::string_view(row.serial).substr(0, 8), "-", row.generation);
}

std::string IssuerEtag(const store::IssuerRow& row) {
  // The id's random part ("20261126-0a1b2c3d" -> "0a1b2c3d"), or all of it.
  absl::string_view id = row.id;
  const size_t dash = id.find('-');
  if (dash != absl::string_view::npos) id.remove_prefix(dash + 1);
  return absl::StrCat(id, "-", row.generation);
}

std::string PolicyEtag(int64_t generation) { return absl::StrCat("p-", generation); }

void CertificateToProto(const store::CertificateRow& row, v1::Certificate* out) {
  out->set_name(absl::StrCat(row.scope, "/certificates/", row.serial));
  out->set_serial(row.serial);
  out->set_issuer(absl::StrCat(row.scope, "/issuers/", row.issuer_id));
  if (row.scope != store::kInfrastructureScope) out->set_tenant(row.scope);
  out->set_subject(row.subject);
  for (const auto& n : row.dns_names) out->add_dns_names(n);
  for (const auto& n : row.uris) out->add_uris(n);
  for (const auto& n : row.ip_addresses) out->add_ip_addresses(n);
  for (const auto& u : row.usages) out->add_usages(UsageProto(u));
  out->set_key_type(KeyTypeProto(row.key_type));
  out->set_rsa_bits(row.rsa_bits);
  out->set_public_key_sha256(row.public_key_sha256);
  *out->mutable_not_before() = TimestampProto(row.not_before);
  *out->mutable_not_after() = TimestampProto(row.not_after);
  if (row.revoke_time) {
    *out->mutable_revocation()->mutable_revoke_time() = TimestampProto(*row.revoke_time);
    out->mutable_revocation()->set_reason(static_cast<v1::RevocationReason>(row.revoke_reason));
  }
  out->set_certificate_pem(row.certificate_pem);
  out->set_etag(CertificateEtag(row));
}

void IssuerToProto(const store::IssuerRow& row, v1::Issuer* out) {
  out->set_name(absl::StrCat(row.scope, "/issuers/", row.id));
  out->set_kind(IssuerKindProto(row.kind));
  out->set_state(IssuerStateProto(row.state));
  if (!row.signed_by.empty()) {
    out->set_signed_by(absl::StrCat(store::kInfrastructureScope, "/issuers/", row.signed_by));
  }
  out->set_subject(row.subject);
  out->set_key_type(KeyTypeProto(row.key_type));
  out->set_public_key_sha256(row.public_key_sha256);
  *out->mutable_not_before() = TimestampProto(row.not_before);
  *out->mutable_not_after() = TimestampProto(row.not_after);
  for (const auto& d : row.permitted_dns) out->add_permitted_dns_domains(d);
  for (const auto& d : row.permitted_uri) out->add_permitted_uri_domains(d);
  out->set_certificate_pem(row.certificate_pem);
  *out->mutable_create_time() = TimestampProto(row.create_time);
  if (row.activate_time) *out->mutable_activate_time() = TimestampProto(*row.activate_time);
  if (row.retire_time) *out->mutable_retire_time() = TimestampProto(*row.retire_time);
  out->set_etag(IssuerEtag(row));
}

}  // namespace mandant::controller::api
