#include "cli/grpc_tenant_client.h"

#include <string>
#include <utility>

#include "grpcpp/client_context.h"

#include "mandant/v1/tenant.grpc.pb.h"

namespace mandant::cli {
namespace {

class GrpcTenantClient : public TenantClient {
 public:
  GrpcTenantClient(std::shared_ptr<grpc::Channel> channel, std::string token,
                   absl::Duration timeout)
      : stub_(v1::TenantService::NewStub(channel)), token_(std::move(token)), timeout_(timeout) {}

  // TenantClient
  grpc::Status CreateTenant(const v1::CreateTenantRequest& request, v1::Tenant* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->CreateTenant(&context, request, response);
  }
  grpc::Status GetTenant(const v1::GetTenantRequest& request, v1::Tenant* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->GetTenant(&context, request, response);
  }
  grpc::Status ListTenants(const v1::ListTenantsRequest& request,
                           v1::ListTenantsResponse* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->ListTenants(&context, request, response);
  }
  grpc::Status UpdateTenant(const v1::UpdateTenantRequest& request, v1::Tenant* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->UpdateTenant(&context, request, response);
  }
  grpc::Status DeleteTenant(const v1::DeleteTenantRequest& request) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    google::protobuf::Empty response;
    return stub_->DeleteTenant(&context, request, &response);
  }

 private:
  const std::unique_ptr<v1::TenantService::Stub> stub_;
  const std::string token_;
  const absl::Duration timeout_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TenantClient>> NewGrpcTenantClient(
    const ConnectionOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewTlsChannel(options);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<TenantClient>(
      new GrpcTenantClient(*std::move(channel), options.token, options.timeout));
}

}  // namespace mandant::cli
