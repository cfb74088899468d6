#include "cli/grpc_edge_client.h"

#include <string>
#include <utility>

#include "grpcpp/client_context.h"

#include "mandant/v1/edge.grpc.pb.h"

namespace mandant::cli {
namespace {

class GrpcEdgeClient : public EdgeClient {
 public:
  GrpcEdgeClient(std::shared_ptr<grpc::Channel> channel, std::string token, absl::Duration timeout)
      : stub_(v1::EdgeService::NewStub(channel)), token_(std::move(token)), timeout_(timeout) {}

  // EdgeClient
  grpc::Status GetEdge(const v1::GetEdgeRequest& request, v1::Edge* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->GetEdge(&context, request, response);
  }
  grpc::Status GetEgressPolicy(const v1::GetEgressPolicyRequest& request,
                               v1::EgressPolicy* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->GetEgressPolicy(&context, request, response);
  }
  grpc::Status UpdateEgressPolicy(const v1::UpdateEgressPolicyRequest& request,
                                  v1::EgressPolicy* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->UpdateEgressPolicy(&context, request, response);
  }
  grpc::Status ListEgressEvents(const v1::ListEgressEventsRequest& request,
                                v1::ListEgressEventsResponse* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->ListEgressEvents(&context, request, response);
  }

 private:
  const std::unique_ptr<v1::EdgeService::Stub> stub_;
  const std::string token_;
  const absl::Duration timeout_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EdgeClient>> NewGrpcEdgeClient(const ConnectionOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewTlsChannel(options);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<EdgeClient>(
      new GrpcEdgeClient(*std::move(channel), options.token, options.timeout));
}

}  // namespace mandant::cli
