#ifndef MANDANT_CONTROLLER_API_HOST_SERVICE_H_
#define MANDANT_CONTROLLER_API_HOST_SERVICE_H_

#include "controller/api/rpc_call.h"
#include "controller/store/host_store.h"
#include "mandant/v1/host.grpc.pb.h"

namespace mandant::controller::api {

// mandant.v1.HostService over PostgreSQL: provider admins register hosts and
// get one-time bootstrap tokens for their agents. Thread-safe.
class HostServiceImpl final : public v1::HostService::Service {
 public:
  HostServiceImpl(const ServiceDeps& deps, store::LeaseSettings lease);

  // v1::HostService::Service
  grpc::Status CreateHost(grpc::ServerContext* context, const v1::CreateHostRequest* request,
                          v1::CreateHostResponse* response) override;
  grpc::Status GetHost(grpc::ServerContext* context, const v1::GetHostRequest* request,
                       v1::Host* response) override;
  grpc::Status ListHosts(grpc::ServerContext* context, const v1::ListHostsRequest* request,
                         v1::ListHostsResponse* response) override;
  grpc::Status IssueBootstrapToken(grpc::ServerContext* context,
                                   const v1::IssueBootstrapTokenRequest* request,
                                   v1::IssueBootstrapTokenResponse* response) override;
  grpc::Status CordonHost(grpc::ServerContext* context, const v1::CordonHostRequest* request,
                          v1::Host* response) override;
  grpc::Status UncordonHost(grpc::ServerContext* context, const v1::UncordonHostRequest* request,
                            v1::Host* response) override;
  grpc::Status DeleteHost(grpc::ServerContext* context, const v1::DeleteHostRequest* request,
                          google::protobuf::Empty* response) override;

 private:
  absl::Status Create(RpcCall& call, const v1::CreateHostRequest& request,
                      v1::CreateHostResponse* response);
  absl::Status Get(RpcCall& call, const v1::GetHostRequest& request, v1::Host* response);
  absl::Status List(RpcCall& call, const v1::ListHostsRequest& request,
                    v1::ListHostsResponse* response);
  absl::Status IssueToken(RpcCall& call, const v1::IssueBootstrapTokenRequest& request,
                          v1::IssueBootstrapTokenResponse* response);
  absl::Status Cordon(RpcCall& call, absl::string_view method, absl::string_view name,
                      absl::string_view etag, absl::string_view request_id, bool cordoned,
                      absl::string_view reason, const google::protobuf::Message& request,
                      v1::Host* response);
  absl::Status Delete(RpcCall& call, const v1::DeleteHostRequest& request);

  // Generates, seals and stores a new token for the host; returns it in
  // clear for the response only.
  absl::StatusOr<std::string> NewToken(store::Connection& conn, int64_t host_id,
                                       absl::Time expire_time);
  // The response of a replayed call has no token (it is not stored with
  // the response); this puts the sealed one back, or fails when it was used
  // or expired in the meantime.
  absl::Status RestoreToken(absl::string_view host, v1::BootstrapToken* token);

  const ServiceDeps deps_;
  store::HostStore store_;
};

// The host's agent identity, "spiffe://{trust_domain}/host/{host}".
std::string HostIdentity(absl::string_view trust_domain, absl::string_view host);

}  // namespace mandant::controller::api

#endif  // MANDANT_CONTROLLER_API_HOST_SERVICE_H_
