#ifndef MANDANT_CLI_TENANT_CLIENT_H_
#define MANDANT_CLI_TENANT_CLIENT_H_

#include "grpcpp/support/status.h"

#include "mandant/v1/tenant.pb.h"

namespace mandant::cli {

// The TenantService calls mandantctl makes, one blocking call each. The real
// implementation (grpc_tenant_client.h) adds the deadline and the bearer
// token to every call; tests use a fake. Not required to be thread-safe.
class TenantClient {
 public:
  virtual ~TenantClient() = default;

  virtual grpc::Status CreateTenant(const v1::CreateTenantRequest& request,
                                    v1::Tenant* response) = 0;
  virtual grpc::Status GetTenant(const v1::GetTenantRequest& request, v1::Tenant* response) = 0;
  virtual grpc::Status ListTenants(const v1::ListTenantsRequest& request,
                                   v1::ListTenantsResponse* response) = 0;
  virtual grpc::Status UpdateTenant(const v1::UpdateTenantRequest& request,
                                    v1::Tenant* response) = 0;
  virtual grpc::Status DeleteTenant(const v1::DeleteTenantRequest& request) = 0;
};

}  // namespace mandant::cli

#endif  // MANDANT_CLI_TENANT_CLIENT_H_
