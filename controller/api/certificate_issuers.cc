// CertificateService, CA administration and rotation: ListIssuers,
// PrepareIssuer, ActivateIssuer and RetireIssuer
// (proto/mandant/v1/certificate.proto; docs/api.md, "CA rotation").
//
// Rotation is three steps per scope and kind: PrepareIssuer makes a new CA
// in state PREPARED (in the trust bundle, signing nothing), ActivateIssuer
// makes it sign and retires the previous ACTIVE one in the same
// transaction, RetireIssuer discards a PREPARED one. Only provider admins
// rotate; a tenant principal naming a foreign tenant gets NOT_FOUND, its
// own tenant PERMISSION_DENIED. FAILED_PRECONDITION for a change the
// issuer's state forbids; ABORTED when the request's etag is stale.
// ListIssuers (readers of the scope) pages newest first by offset: a scope
// holds few issuers.

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "common/status_macros.h"
#include "controller/api/certificate_resources.h"
#include "controller/api/certificate_service.h"
#include "controller/api/paging.h"
#include "controller/api/time_fields.h"
#include "tenants/field_violations.h"

namespace mandant::controller::api {
namespace {

constexpr absl::string_view kListIssuers = "ListIssuers";
constexpr DurationRange kRootValidity{absl::Hours(24 * 365), absl::Hours(24 * 365 * 20)};
constexpr DurationRange kIntermediateValidity{absl::Hours(24 * 30), absl::Hours(24 * 365 * 5)};

}  // namespace

absl::Status CertificateServiceImpl::IssuerPage(RpcCall& call,
                                                const v1::ListIssuersRequest& request,
                                                v1::ListIssuersResponse* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.parent());
  MANDANT_ASSIGN_OR_RETURN(PkiScope scope, ParsePkiScope(request.parent(), "parent"));
  MANDANT_RETURN_IF_ERROR(CheckScopeRead(call.principal(), scope));
  tenants::FieldViolations bad;
  const PageRequest page =
      ParsePageRequest(request.page_size(), request.page_token(), kListIssuers, scope.name, 1, bad);
  int offset = 0;
  if (!page.position.empty() && (!absl::SimpleAtoi(page.position[0], &offset) || offset < 0)) {
    bad.Add("page_token", "is not a token returned by ListIssuers");
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  return deps_.db->Run("list issuers", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(const std::string uid, TenantUid(store_, conn, scope));
    MANDANT_ASSIGN_OR_RETURN(std::vector<store::IssuerRow> rows,
                             store_.ListIssuers(conn, scope.name, uid, offset, page.page_size + 1));
    const bool more = TrimToPage(rows, page.page_size);
    for (const auto& row : rows) IssuerToProto(row, response->add_issuers());
    if (more) {
      response->set_next_page_token(
          NextPageToken(kListIssuers, scope.name, {absl::StrCat(offset + page.page_size)}));
    }
    return absl::OkStatus();
  });
}

absl::Status CertificateServiceImpl::Prepare(RpcCall& call, const v1::PrepareIssuerRequest& request,
                                             v1::Issuer* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.parent());
  call.set_request_id(request.request_id());
  MANDANT_ASSIGN_OR_RETURN(PkiScope scope, ParsePkiScope(request.parent(), "parent"));
  if (!scope.infrastructure()) {
    MANDANT_RETURN_IF_ERROR(auth::CheckTenantRead(call.principal(), scope.tenant));
  }
  MANDANT_RETURN_IF_ERROR(auth::RequireProviderAdmin(call.principal(), "preparing issuers"));
  tenants::FieldViolations bad;
  CheckRequestId(request.request_id(), bad);
  Issuers::NewIssuer spec;
  spec.scope = scope.name;
  spec.state = store::IssuerState::kPrepared;
  if (scope.infrastructure()) {
    if (request.kind() == v1::ISSUER_KIND_ROOT) {
      spec.kind = store::IssuerKind::kRoot;
    } else if (request.kind() == v1::ISSUER_KIND_INFRASTRUCTURE) {
      spec.kind = store::IssuerKind::kInfrastructure;
    } else {
      bad.Add("kind", "must be ROOT or INFRASTRUCTURE in the infrastructure scope");
    }
  } else if (request.kind() == v1::ISSUER_KIND_TENANT ||
             request.kind() == v1::ISSUER_KIND_UNSPECIFIED) {
    spec.kind = store::IssuerKind::kTenant;
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
    const bool root = spec.kind == store::IssuerKind::kRoot;
    spec.validity = CheckedDuration(request.validity(), "validity",
                                    root ? kRootValidity : kIntermediateValidity, bad)
                        .value_or(absl::ZeroDuration());
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
        if (spec.kind != store::IssuerKind::kRoot && spec.validity > absl::ZeroDuration()) {
          MANDANT_ASSIGN_OR_RETURN(auto root, store_.ActiveIssuer(conn, store::kInfrastructureScope,
                                                                  "", store::IssuerKind::kRoot));
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
              absl::StrCat(scope.name, " already has a PREPARED ", store::IssuerKindText(spec.kind),
                           " issuer; activate or retire it first"));
        }
        MANDANT_RETURN_IF_ERROR(created.status());
        IssuerToProto(*created, response);
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
  MANDANT_ASSIGN_OR_RETURN(ScopedName parsed, ParseScopedName(name, "issuers", "", "name"));
  const PkiScope& scope = parsed.scope;
  if (!scope.infrastructure()) {
    MANDANT_RETURN_IF_ERROR(auth::CheckTenantRead(call.principal(), scope.tenant));
  }
  MANDANT_RETURN_IF_ERROR(auth::RequireProviderAdmin(
      call.principal(), activate ? "activating issuers" : "retiring issuers"));
  tenants::FieldViolations bad;
  CheckRequestId(request_id, bad);
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  // Valid by now: "{scope}/issuers/{hex id}".
  const std::string issuer = absl::StrCat("issuer \"", name, "\"");
  return call.TransactIdempotent(
      activate ? "activate issuer" : "retire issuer", request_id, request, response,
      [&](store::Connection& conn) -> absl::Status {
        MANDANT_ASSIGN_OR_RETURN(const std::string uid, TenantUid(store_, conn, scope));
        MANDANT_ASSIGN_OR_RETURN(
            store::IssuerRow row,
            store_.GetIssuer(conn, scope.name, uid, parsed.id, /*for_update=*/true));
        MANDANT_RETURN_IF_ERROR(CheckEtag(issuer, etag, IssuerEtag(row)));
        const absl::Time now = absl::Now();
        if (activate) {
          if (row.state != store::IssuerState::kPrepared) {
            return absl::FailedPreconditionError(
                absl::StrCat(issuer, " is ", store::IssuerStateText(row.state),
                             "; only a PREPARED issuer activates"));
          }
          if (now < row.not_before || now >= row.not_after) {
            return absl::FailedPreconditionError(
                absl::StrCat(issuer, " is not valid now (", absl::FormatTime(row.not_before),
                             " to ", absl::FormatTime(row.not_after), ")"));
          }
          MANDANT_ASSIGN_OR_RETURN(auto current,
                                   store_.ActiveIssuer(conn, scope.name, uid, row.kind));
          if (current) {
            MANDANT_RETURN_IF_ERROR(
                store_.SetIssuerState(conn, current->id, store::IssuerState::kRetired, now));
          }
          MANDANT_RETURN_IF_ERROR(
              store_.SetIssuerState(conn, row.id, store::IssuerState::kActive, now));
        } else {
          if (row.state == store::IssuerState::kActive) {
            return absl::FailedPreconditionError(absl::StrCat(
                issuer, " is the scope's ACTIVE ", store::IssuerKindText(row.kind),
                " issuer; prepare and activate a successor instead, which retires it"));
          }
          if (row.state == store::IssuerState::kRetired) {
            return absl::FailedPreconditionError(absl::StrCat(issuer, " is already RETIRED"));
          }
          MANDANT_RETURN_IF_ERROR(
              store_.SetIssuerState(conn, row.id, store::IssuerState::kRetired, now));
        }
        MANDANT_ASSIGN_OR_RETURN(row, store_.GetIssuer(conn, scope.name, uid, row.id));
        IssuerToProto(row, response);
        return absl::OkStatus();
      });
}

}  // namespace mandant::controller::api
