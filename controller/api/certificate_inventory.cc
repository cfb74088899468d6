// CertificateService, inventory and revocation: GetCertificate,
// ListCertificates, RevokeCertificate and GetCrl
// (proto/mandant/v1/certificate.proto states their contract).
//
// Every certificate Mandant signs is a row of the inventory, readable by
// the readers of its scope (a foreign tenant's is NOT_FOUND, as a missing
// one). ListCertificates pages by (not_after, serial) with the shared page
// tokens of paging.h. Revocation is final and re-signs the issuer's CRL in
// the same transaction; revoking a revoked certificate returns it
// unchanged; ABORTED when the request's etag is stale. GetCrl returns the
// issuer's current CRL, re-signed first when it is half way to its
// nextUpdate.

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "common/status_macros.h"
#include "controller/api/certificate_resources.h"
#include "controller/api/certificate_service.h"
#include "controller/api/paging.h"
#include "controller/api/time_fields.h"
#include "pki/encoding.h"
#include "tenants/field_violations.h"

namespace mandant::controller::api {
namespace {

constexpr absl::string_view kListCertificates = "ListCertificates";
constexpr size_t kMaxSerialLength = 64;

bool IsSerial(absl::string_view s) {
  return !s.empty() && s.size() <= kMaxSerialLength &&
         s.find_first_not_of("0123456789abcdef") == absl::string_view::npos;
}

}  // namespace

absl::Status CertificateServiceImpl::Get(RpcCall& call, const v1::GetCertificateRequest& request,
                                         v1::Certificate* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  MANDANT_ASSIGN_OR_RETURN(ScopedName name,
                           ParseScopedName(request.name(), "certificates", "", "name"));
  MANDANT_RETURN_IF_ERROR(CheckScopeRead(call.principal(), name.scope));
  return deps_.db->Run("get certificate", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(const std::string uid, TenantUid(store_, conn, name.scope));
    MANDANT_ASSIGN_OR_RETURN(store::CertificateRow row,
                             store_.GetCertificate(conn, name.scope.name, uid, name.id));
    CertificateToProto(row, response);
    return absl::OkStatus();
  });
}

absl::Status CertificateServiceImpl::List(RpcCall& call, const v1::ListCertificatesRequest& request,
                                          v1::ListCertificatesResponse* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.parent());
  MANDANT_ASSIGN_OR_RETURN(PkiScope scope, ParsePkiScope(request.parent(), "parent"));
  MANDANT_RETURN_IF_ERROR(CheckScopeRead(call.principal(), scope));
  tenants::FieldViolations bad;
  store::CertificateFilter filter;
  filter.scope = scope.name;
  if (!request.issuer().empty()) {
    auto issuer = ParseScopedName(request.issuer(), "issuers", "", "issuer");
    if (!issuer.ok() || issuer->scope.name != scope.name) {
      bad.Add("issuer",
              absl::StrCat("must be an issuer of the parent scope, \"", scope.name,
                           "/issuers/{id}\", got ", tenants::QuoteForMessage(request.issuer())));
    } else {
      filter.issuer_id = issuer->id;
    }
  }
  if (request.has_expire_before()) {
    filter.expire_before = CheckedTimestamp(request.expire_before(), "expire_before", bad);
  }
  const std::string filters =
      absl::StrCat(scope.name, ",", filter.issuer_id, ",",
                   filter.expire_before ? absl::ToUnixMicros(*filter.expire_before) : 0, ",",
                   request.include_expired());
  const PageRequest page = ParsePageRequest(request.page_size(), request.page_token(),
                                            kListCertificates, filters, 2, bad);
  if (!page.position.empty()) {
    int64_t micros = 0;
    if (!absl::SimpleAtoi(page.position[0], &micros) || !IsSerial(page.position[1])) {
      bad.Add("page_token", "is not a token returned by ListCertificates");
    } else {
      filter.after_not_after = absl::FromUnixMicros(micros);
      filter.after_serial = page.position[1];
    }
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  filter.limit = page.page_size + 1;
  if (!request.include_expired()) filter.expired_at = absl::Now();
  return deps_.db->Run("list certificates", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(filter.tenant_uid, TenantUid(store_, conn, scope));
    MANDANT_ASSIGN_OR_RETURN(std::vector<store::CertificateRow> rows,
                             store_.ListCertificates(conn, filter));
    const bool more = TrimToPage(rows, page.page_size);
    for (const auto& row : rows) CertificateToProto(row, response->add_certificates());
    if (more) {
      response->set_next_page_token(NextPageToken(
          kListCertificates, filters,
          {absl::StrCat(absl::ToUnixMicros(rows.back().not_after)), rows.back().serial}));
    }
    return absl::OkStatus();
  });
}

absl::Status CertificateServiceImpl::Revoke(RpcCall& call,
                                            const v1::RevokeCertificateRequest& request,
                                            v1::Certificate* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  call.set_request_id(request.request_id());
  MANDANT_ASSIGN_OR_RETURN(ScopedName name,
                           ParseScopedName(request.name(), "certificates", "", "name"));
  const PkiScope& scope = name.scope;
  MANDANT_RETURN_IF_ERROR(CheckScopeWrite(call.principal(), scope));
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
        MANDANT_ASSIGN_OR_RETURN(
            store::CertificateRow row,
            store_.GetCertificate(conn, scope.name, uid, name.id, /*for_update=*/true));
        MANDANT_RETURN_IF_ERROR(CheckEtag(absl::StrCat("certificate \"", request.name(), "\""),
                                          request.etag(), CertificateEtag(row)));
        if (!row.revoke_time) {
          const absl::Time now = absl::Now();
          MANDANT_RETURN_IF_ERROR(store_.Revoke(conn, row.serial, reason, now));
          MANDANT_RETURN_IF_ERROR(issuers_->ResignCrl(conn, row.issuer_id, now).status());
          MANDANT_ASSIGN_OR_RETURN(row, store_.GetCertificate(conn, scope.name, uid, row.serial));
        }
        CertificateToProto(row, response);
        return absl::OkStatus();
      });
}

absl::Status CertificateServiceImpl::Crl(RpcCall& call, const v1::GetCrlRequest& request,
                                         v1::Crl* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  MANDANT_ASSIGN_OR_RETURN(ScopedName name,
                           ParseScopedName(request.name(), "issuers", "/crl", "name"));
  const PkiScope& scope = name.scope;
  // Infrastructure CRLs are for every verifier of Mandant's parts.
  if (!scope.infrastructure()) MANDANT_RETURN_IF_ERROR(CheckScopeRead(call.principal(), scope));
  return deps_.db->Transact("get crl", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(const std::string uid, TenantUid(store_, conn, scope));
    MANDANT_ASSIGN_OR_RETURN(store::IssuerRow stored,
                             store_.GetIssuer(conn, scope.name, uid, name.id));
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
    *response->mutable_this_update() = TimestampProto(row.crl_this_update);
    *response->mutable_next_update() = TimestampProto(row.crl_next_update);
    return absl::OkStatus();
  });
}

}  // namespace mandant::controller::api
