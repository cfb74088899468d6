#ifndef MANDANT_CONTROLLER_API_CERTIFICATE_RESOURCES_H_
#define MANDANT_CONTROLLER_API_CERTIFICATE_RESOURCES_H_

// The resources of CertificateService as the handlers share them: PKI
// scopes and resource names (parsed once, here), who may read or write a
// scope, etags, and the conversion between store rows, API messages and
// the PKI library's types. Used by the certificate_*.cc handler files only;
// not an API of its own. Pure functions except where a Connection is
// passed; thread-safe.

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

#include "controller/auth/principal.h"
#include "controller/store/pki_store.h"
#include "mandant/v1/certificate.pb.h"
#include "pki/issuance_policy.h"
#include "tenants/field_violations.h"

namespace mandant::controller::api {

// A PKI scope: "infrastructure" or "tenants/{tenant}".
struct PkiScope {
  std::string name;
  // Empty for the infrastructure scope.
  std::string tenant;
  bool infrastructure() const { return tenant.empty(); }
};

// `text` as a scope; INVALID_ARGUMENT on `field` otherwise.
absl::StatusOr<PkiScope> ParsePkiScope(absl::string_view text, absl::string_view field);

// A resource inside a scope, "{scope}/{collection}/{id}{suffix}", e.g.
// "tenants/acme/issuers/20261126-0a1b2c3d/crl".
struct ScopedName {
  PkiScope scope;
  // Lower-case hex and '-', 1-64 characters.
  std::string id;
};
absl::StatusOr<ScopedName> ParseScopedName(absl::string_view name, absl::string_view collection,
                                           absl::string_view suffix, absl::string_view field);

// "{scope}/{suffix}" (trustBundle, issuancePolicy) -> the scope;
// INVALID_ARGUMENT on `field` otherwise. With `tenant_only`, the
// infrastructure scope is refused too.
absl::StatusOr<PkiScope> ParseScopeSingleton(absl::string_view name, absl::string_view suffix,
                                             bool tenant_only, absl::string_view field);

// The uid of the scope's tenant, empty for infrastructure; NOT_FOUND, as
// for any missing tenant, when it does not exist.
absl::StatusOr<std::string> TenantUid(store::PkiStore& store, store::Connection& conn,
                                      const PkiScope& scope);

// Who may read and write in a scope. Foreign tenants are NOT_FOUND.
absl::Status CheckScopeRead(const auth::Principal& p, const PkiScope& scope);
absl::Status CheckScopeWrite(const auth::Principal& p, const PkiScope& scope);

// FAILED_PRECONDITION when the tenant is suspended.
absl::Status CheckTenantActive(const store::TenantRef& tenant, absl::string_view tenant_id);

// Request ids: empty or a UUID; a violation on "request_id" otherwise.
void CheckRequestId(absl::string_view request_id, tenants::FieldViolations& bad);

// ABORTED, naming the object and both etags (the caller's quoted and cut
// short), unless `requested` is empty or equals `current`.
absl::Status CheckEtag(absl::string_view what, absl::string_view requested,
                       absl::string_view current);

google::protobuf::Timestamp TimestampProto(absl::Time t);

std::string CertificateEtag(const store::CertificateRow& row);
std::string IssuerEtag(const store::IssuerRow& row);
std::string PolicyEtag(int64_t generation);

void CertificateToProto(const store::CertificateRow& row, v1::Certificate* out);
void IssuerToProto(const store::IssuerRow& row, v1::Issuer* out);

// The API's policy as the PKI library checks and applies it. Durations
// must have been range-checked (time_fields.h) or come from the store.
pki::IssuancePolicy PolicyFromProto(const v1::IssuancePolicy& policy);

// Row values to API enums; UNSPECIFIED for text no row should hold.
v1::KeyType KeyTypeProto(absl::string_view text);
v1::IssuerKind IssuerKindProto(store::IssuerKind kind);
v1::IssuerState IssuerStateProto(store::IssuerState state);
v1::CertificateUsage UsageProto(absl::string_view text);

}  // namespace mandant::controller::api

#endif  // MANDANT_CONTROLLER_API_CERTIFICATE_RESOURCES_H_
