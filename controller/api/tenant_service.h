#ifndef MANDANT_CONTROLLER_API_TENANT_SERVICE_H_
#define MANDANT_CONTROLLER_API_TENANT_SERVICE_H_

#include "controller/api/rpc_call.h"
#include "controller/store/tenant_store.h"
#include "mandant/v1/tenant.grpc.pb.h"
#include "tenants/quota.h"
#include "tenants/tenant_validation.h"

namespace mandant::controller::api {

struct TenantServiceOptions {
  store::NetworkPools pools;
  tenants::QuotaLimits default_quota = tenants::DefaultQuota();
};

// mandant.v1.TenantService over PostgreSQL. Thread-safe (gRPC's sync server
// calls the handlers from many threads).
class TenantServiceImpl final : public v1::TenantService::Service {
 public:
  TenantServiceImpl(const ServiceDeps& deps, TenantServiceOptions options);

  // v1::TenantService::Service
  grpc::Status CreateTenant(grpc::ServerContext* context, const v1::CreateTenantRequest* request,
                            v1::Tenant* response) override;
  grpc::Status GetTenant(grpc::ServerContext* context, const v1::GetTenantRequest* request,
                         v1::Tenant* response) override;
  grpc::Status ListTenants(grpc::ServerContext* context, const v1::ListTenantsRequest* request,
                           v1::ListTenantsResponse* response) override;
  grpc::Status UpdateTenant(grpc::ServerContext* context, const v1::UpdateTenantRequest* request,
                            v1::Tenant* response) override;
  grpc::Status DeleteTenant(grpc::ServerContext* context, const v1::DeleteTenantRequest* request,
                            google::protobuf::Empty* response) override;

 private:
  absl::Status Create(RpcCall& call, const v1::CreateTenantRequest& request, v1::Tenant* response);
  absl::Status Get(RpcCall& call, const v1::GetTenantRequest& request, v1::Tenant* response);
  absl::Status List(RpcCall& call, const v1::ListTenantsRequest& request,
                    v1::ListTenantsResponse* response);
  absl::Status Update(RpcCall& call, const v1::UpdateTenantRequest& request, v1::Tenant* response);
  absl::Status Delete(RpcCall& call, const v1::DeleteTenantRequest& request);
  // The tenant's intermediate CA and default issuance policy, in the
  // transaction that creates the tenant.
  absl::Status CreateTenantPki(store::Connection& conn, const v1::Tenant& tenant);

  const ServiceDeps deps_;
  const TenantServiceOptions options_;
  const tenants::NetworkDefaults network_defaults_;
  store::TenantStore store_;
};

}  // namespace mandant::controller::api

#endif  // MANDANT_CONTROLLER_API_TENANT_SERVICE_H_
