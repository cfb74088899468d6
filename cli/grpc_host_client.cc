#include "cli/grpc_host_client.h"

#include <string>
#include <utility>

#include "grpcpp/client_context.h"

#include "mandant/v1/host.grpc.pb.h"

namespace mandant::cli {
namespace {

class GrpcHostClient : public HostClient {
 public:
  GrpcHostClient(std::shared_ptr<grpc::Channel> channel, std::string token, absl::Duration timeout)
      : stub_(v1::HostService::NewStub(channel)), token_(std::move(token)), timeout_(timeout) {}

  // HostClient
  grpc::Status CreateHost(const v1::CreateHostRequest& request,
                          v1::CreateHostResponse* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->CreateHost(&context, request, response);
  }
  grpc::Status GetHost(const v1::GetHostRequest& request, v1::Host* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->GetHost(&context, request, response);
  }
  grpc::Status ListHosts(const v1::ListHostsRequest& request,
                         v1::ListHostsResponse* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->ListHosts(&context, request, response);
  }
  grpc::Status IssueBootstrapToken(const v1::IssueBootstrapTokenRequest& request,
                                   v1::IssueBootstrapTokenResponse* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->IssueBootstrapToken(&context, request, response);
  }
  grpc::Status CordonHost(const v1::CordonHostRequest& request, v1::Host* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->CordonHost(&context, request, response);
  }
  grpc::Status UncordonHost(const v1::UncordonHostRequest& request, v1::Host* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->UncordonHost(&context, request, response);
  }
  grpc::Status DeleteHost(const v1::DeleteHostRequest& request) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    google::protobuf::Empty response;
    return stub_->DeleteHost(&context, request, &response);
  }

 private:
  const std::unique_ptr<v1::HostService::Stub> stub_;
  const std::string token_;
  const absl::Duration timeout_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HostClient>> NewGrpcHostClient(const ConnectionOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewTlsChannel(options);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<HostClient>(
      new GrpcHostClient(*std::move(channel), options.token, options.timeout));
}

}  // namespace mandant::cli
