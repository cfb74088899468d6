#include "cli/grpc_tenant_client.h"

#include <utility>

#include "absl/status/status.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
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
    Prepare(context);
    return stub_->CreateTenant(&context, request, response);
  }
  grpc::Status GetTenant(const v1::GetTenantRequest& request, v1::Tenant* response) override {
    grpc::ClientContext context;
    Prepare(context);
    return stub_->GetTenant(&context, request, response);
  }
  grpc::Status ListTenants(const v1::ListTenantsRequest& request,
                           v1::ListTenantsResponse* response) override {
    grpc::ClientContext context;
    Prepare(context);
    return stub_->ListTenants(&context, request, response);
  }
  grpc::Status UpdateTenant(const v1::UpdateTenantRequest& request, v1::Tenant* response) override {
    grpc::ClientContext context;
    Prepare(context);
    return stub_->UpdateTenant(&context, request, response);
  }
  grpc::Status DeleteTenant(const v1::DeleteTenantRequest& request) override {
    grpc::ClientContext context;
    Prepare(context);
    google::protobuf::Empty response;
    return stub_->DeleteTenant(&context, request, &response);
  }

 private:
  void Prepare(grpc::ClientContext& context) const {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
  }

  const std::unique_ptr<v1::TenantService::Stub> stub_;
  const std::string token_;
  const absl::Duration timeout_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TenantClient>> NewGrpcTenantClient(
    const GrpcTenantClientOptions& options) {
  if (options.server.empty()) {
    return absl::InvalidArgumentError("no server address given (want HOST:PORT)");
  }
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = options.ca_pem;
  grpc::ChannelArguments args;
  args.SetUserAgentPrefix("mandantctl");
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.server, grpc::SslCredentials(tls), args);
  return std::unique_ptr<TenantClient>(
      new GrpcTenantClient(std::move(channel), options.token, options.timeout));
}

}  // namespace mandant::cli
