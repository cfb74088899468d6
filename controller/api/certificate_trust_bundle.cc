// CertificateService, trust bundles: GetTrustBundle and FillTrustBundle
// (proto/mandant/v1/certificate.proto, TrustBundle).
//
// A scope's bundle holds its own signing CAs, never the shared root, so
// that trusting tenant A's bundle never means trusting tenant B's
// certificates. PREPARED issuers are in it before they sign (rotation),
// RETIRED ones until their certificate expires, except a tenant's revoked
// intermediates (tenant deletion). Any authenticated caller may read
// "infrastructure/trustBundle"; a tenant's bundle is for its readers.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

#include "common/status_macros.h"
#include "controller/api/certificate_resources.h"
#include "controller/api/certificate_service.h"
#include "controller/api/paging.h"

namespace mandant::controller::api {

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
    // The scope's own signing CAs; the root is not one of them, and an
    // issuer stays until its own certificate expires, which bounds its
    // leaves.
    if (row.kind == store::IssuerKind::kRoot || row.not_after <= now) continue;
    if (row.state == store::IssuerState::kRetired && !infrastructure) {
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
  if (updated != absl::InfinitePast()) *response->mutable_update_time() = TimestampProto(updated);
  return absl::OkStatus();
}

absl::Status CertificateServiceImpl::Bundle(RpcCall& call, const v1::GetTrustBundleRequest& request,
                                            v1::TrustBundle* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  MANDANT_ASSIGN_OR_RETURN(PkiScope scope, ParseScopeSingleton(request.name(), "trustBundle",
                                                               /*tenant_only=*/false, "name"));
  if (!scope.infrastructure()) MANDANT_RETURN_IF_ERROR(CheckScopeRead(call.principal(), scope));
  return deps_.db->Run("get trust bundle", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(const std::string uid, TenantUid(store_, conn, scope));
    return FillTrustBundle(store_, conn, scope.name, uid, response);
  });
}

}  // namespace mandant::controller::api
