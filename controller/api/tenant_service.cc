#include "controller/api/tenant_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include <openssl/rand.h>

#include "common/status_macros.h"
#include "controller/api/certificate_service.h"
#include "controller/api/paging.h"
#include "controller/auth/principal.h"
#include "controller/store/idempotency.h"
#include "controller/store/pki_store.h"
#include "tenants/field_violations.h"
#include "tenants/names.h"

namespace mandant::controller::api {
namespace {

constexpr absl::string_view kListTenants = "ListTenants";
constexpr absl::string_view kQuotaPathPrefix = "quota.";

uint64_t RandomSpread() {
  uint64_t v = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof(v));
  return v | 1;  // never 0, which means "start at the beginning"
}

}  // namespace

TenantServiceImpl::TenantServiceImpl(const ServiceDeps& deps, TenantServiceOptions options)
    : deps_(deps),
      options_(std::move(options)),
      network_defaults_{options_.pools.default_prefix_length, 16, 28,
                        options_.pools.vlan.has_value()},
      store_(options_.pools) {}

grpc::Status TenantServiceImpl::CreateTenant(grpc::ServerContext* context,
                                             const v1::CreateTenantRequest* request,
                                             v1::Tenant* response) {
  RpcCall call(context, "CreateTenant", /*mutating=*/true, deps_);
  return call.Finish(Create(call, *request, response));
}

grpc::Status TenantServiceImpl::GetTenant(grpc::ServerContext* context,
                                          const v1::GetTenantRequest* request,
                                          v1::Tenant* response) {
  RpcCall call(context, "GetTenant", /*mutating=*/false, deps_);
  return call.Finish(Get(call, *request, response));
}

grpc::Status TenantServiceImpl::ListTenants(grpc::ServerContext* context,
                                            const v1::ListTenantsRequest* request,
                                            v1::ListTenantsResponse* response) {
  RpcCall call(context, "ListTenants", /*mutating=*/false, deps_);
  return call.Finish(List(call, *request, response));
}

grpc::Status TenantServiceImpl::UpdateTenant(grpc::ServerContext* context,
                                             const v1::UpdateTenantRequest* request,
                                             v1::Tenant* response) {
  RpcCall call(context, "UpdateTenant", /*mutating=*/true, deps_);
  return call.Finish(Update(call, *request, response));
}

grpc::Status TenantServiceImpl::DeleteTenant(grpc::ServerContext* context,
                                             const v1::DeleteTenantRequest* request,
                                             google::protobuf::Empty*) {
  RpcCall call(context, "DeleteTenant", /*mutating=*/true, deps_);
  return call.Finish(Delete(call, *request));
}

absl::Status TenantServiceImpl::Create(RpcCall& call, const v1::CreateTenantRequest& request,
                                       v1::Tenant* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(tenants::TenantName(request.tenant_id()));
  call.set_request_id(request.request_id());
  MANDANT_RETURN_IF_ERROR(auth::RequireProviderAdmin(call.principal(), "creating tenants"));
  MANDANT_RETURN_IF_ERROR(
      tenants::ValidateCreateTenantRequest(request, network_defaults_).ToStatus());

  store::NewTenant tenant;
  tenant.id = request.tenant_id();
  tenant.display_name = request.tenant().display_name();
  tenant.quota = tenants::MergeQuota(options_.default_quota, request.tenant().quota());
  const v1::NetworkRequest& net = request.tenant().network_request();
  tenant.mode =
      net.mode() == v1::NETWORK_MODE_VLAN ? v1::NETWORK_MODE_VLAN : v1::NETWORK_MODE_VXLAN;
  tenant.node_prefix_length = net.node_prefix_length();
  tenant.storage_prefix_length = net.storage_prefix_length();

  int attempt = 0;
  return call.TransactIdempotent("create tenant", request.request_id(), request, response,
                                 [&](store::Connection& conn) -> absl::Status {
                                   // The first attempt takes the lowest free resources; a retry
                                   // after a conflict with a concurrent create starts at a random
                                   // place instead.
                                   const uint64_t spread = attempt++ == 0 ? 0 : RandomSpread();
                                   MANDANT_ASSIGN_OR_RETURN(*response,
                                                            store_.Create(conn, tenant, spread));
                                   MANDANT_RETURN_IF_ERROR(CreateTenantPki(conn, *response));
                                   return absl::OkStatus();
                                 });
}

absl::Status TenantServiceImpl::CreateTenantPki(store::Connection& conn, const v1::Tenant& tenant) {
  MANDANT_ASSIGN_OR_RETURN(const std::string id, tenants::ParseTenantName(tenant.name()));
  Issuers::NewIssuer issuer;
  issuer.kind = store::IssuerKind::kTenant;
  issuer.scope = tenant.name();
  issuer.tenant = id;
  issuer.tenant_uid = tenant.uid();
  issuer.ip_ranges = {tenant.network().node_cidr(), tenant.network().storage_cidr()};
  MANDANT_RETURN_IF_ERROR(deps_.issuers->CreateTenantIssuer(conn, issuer, absl::Now()).status());
  store::PkiStore pki;
  return pki.PutPolicy(conn, id, DefaultTenantPolicy(*deps_.issuers, id).SerializeAsString())
      .status();
}

absl::Status TenantServiceImpl::Get(RpcCall& call, const v1::GetTenantRequest& request,
                                    v1::Tenant* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  MANDANT_RETURN_IF_ERROR(tenants::ValidateGetTenantRequest(request).ToStatus());
  MANDANT_ASSIGN_OR_RETURN(std::string id, tenants::ParseTenantName(request.name()));
  call.set_object(request.name());
  MANDANT_RETURN_IF_ERROR(auth::CheckTenantRead(call.principal(), id));
  return deps_.db->Run("get tenant", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(*response, store_.Get(conn, id));
    return absl::OkStatus();
  });
}

absl::Status TenantServiceImpl::List(RpcCall& call, const v1::ListTenantsRequest& request,
                                     v1::ListTenantsResponse* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  if (call.principal().role == auth::Role::kAgent) {
    return absl::PermissionDeniedError("agents have no TenantService call");
  }
  MANDANT_RETURN_IF_ERROR(tenants::ValidateListTenantsRequest(request).ToStatus());
  tenants::FieldViolations bad;
  const std::string filters = absl::StrCat(static_cast<int>(request.state()));
  const PageRequest page =
      ParsePageRequest(request.page_size(), request.page_token(), kListTenants, filters, 1, bad);
  if (!page.position.empty() && !tenants::CheckTenantId(page.position[0]).empty()) {
    bad.Add("page_token", "is not a token returned by ListTenants");
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  const std::string after = page.position.empty() ? "" : page.position[0];
  const auth::Principal& p = call.principal();
  std::string only;
  if (p.role != auth::Role::kProviderAdmin) only = p.tenant;
  return deps_.db->Run("list tenants", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(auto rows,
                             store_.List(conn, after, request.state(), only, page.page_size + 1));
    const bool more = TrimToPage(rows, page.page_size);
    for (v1::Tenant& t : rows) *response->add_tenants() = std::move(t);
    if (more) {
      MANDANT_ASSIGN_OR_RETURN(const std::string last,
                               tenants::ParseTenantName(response->tenants().rbegin()->name()));
      response->set_next_page_token(NextPageToken(kListTenants, filters, {last}));
    }
    return absl::OkStatus();
  });
}

absl::Status TenantServiceImpl::Update(RpcCall& call, const v1::UpdateTenantRequest& request,
                                       v1::Tenant* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.tenant().name());
  call.set_request_id(request.request_id());
  MANDANT_RETURN_IF_ERROR(tenants::ValidateUpdateTenantRequest(request).ToStatus());
  MANDANT_ASSIGN_OR_RETURN(std::string id,
                           tenants::ParseTenantName(request.tenant().name(), "tenant.name"));
  MANDANT_RETURN_IF_ERROR(auth::CheckTenantWrite(call.principal(), id));

  const v1::Tenant& in = request.tenant();
  store::TenantChanges changes;
  tenants::FieldViolations unset;
  bool provider_only = false;
  for (const std::string& path : request.update_mask().paths()) {
    if (path == "display_name") {
      changes.display_name = in.display_name();
    } else if (path == "state") {
      changes.state = in.state();
      provider_only = true;
    } else if (path == "quota") {
      changes.quota = in.quota();
      provider_only = true;
    } else {
      // "quota.<field>" (ValidateUpdateTenantRequest allows no other):
      // copy that one field, which must be set.
      provider_only = true;
      if (!changes.quota) changes.quota.emplace();
      absl::string_view field = path;
      absl::ConsumePrefix(&field, kQuotaPathPrefix);
      const auto* desc = v1::TenantQuota::descriptor()->FindFieldByName(std::string(field));
      const auto* refl = v1::TenantQuota::GetReflection();
      if (desc == nullptr || !refl->HasField(in.quota(), desc)) {
        unset.Add(absl::StrCat("tenant.", path), "is named in update_mask but not set");
        continue;
      }
      refl->SetInt64(&*changes.quota, desc, refl->GetInt64(in.quota(), desc));
    }
  }
  MANDANT_RETURN_IF_ERROR(unset.ToStatus());
  if (provider_only) {
    MANDANT_RETURN_IF_ERROR(
        auth::RequireProviderAdmin(call.principal(), "changing a tenant's state or quota"));
  }

  return call.TransactIdempotent(
      "update tenant", request.request_id(), request, response,
      [&](store::Connection& conn) -> absl::Status {
        if (call.principal().role != auth::Role::kProviderAdmin) {
          MANDANT_ASSIGN_OR_RETURN(v1::Tenant current, store_.Get(conn, id));
          if (current.state() == v1::TENANT_STATE_SUSPENDED) {
            return absl::FailedPreconditionError(
                absl::StrCat("tenant ", tenants::QuoteForMessage(id),
                             " is suspended; ask your provider to reactivate it"));
          }
        }
        MANDANT_ASSIGN_OR_RETURN(*response, store_.Update(conn, id, in.etag(), changes));
        return absl::OkStatus();
      });
}

absl::Status TenantServiceImpl::Delete(RpcCall& call, const v1::DeleteTenantRequest& request) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  call.set_request_id(request.request_id());
  MANDANT_RETURN_IF_ERROR(tenants::ValidateDeleteTenantRequest(request).ToStatus());
  MANDANT_ASSIGN_OR_RETURN(std::string id, tenants::ParseTenantName(request.name()));
  MANDANT_RETURN_IF_ERROR(auth::CheckTenantRead(call.principal(), id));
  MANDANT_RETURN_IF_ERROR(auth::RequireProviderAdmin(call.principal(), "deleting tenants"));

  google::protobuf::Empty empty;
  return call.TransactIdempotent(
      "delete tenant", request.request_id(), request, &empty,
      [&](store::Connection& conn) -> absl::Status {
        MANDANT_ASSIGN_OR_RETURN(v1::Tenant current, store_.Get(conn, id, /*for_update=*/true));
        MANDANT_RETURN_IF_ERROR(store_.Delete(conn, id, request.etag()));
        // Its intermediate is revoked with it: nothing it signed verifies any
        // more, and a new tenant of the same name starts from a new CA.
        MANDANT_RETURN_IF_ERROR(
            deps_.issuers->RevokeTenantIssuers(conn, id, current.uid(), absl::Now()));
        return absl::OkStatus();
      });
}

}  // namespace mandant::controller::api
