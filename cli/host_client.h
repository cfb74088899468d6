#ifndef MANDANT_CLI_HOST_CLIENT_H_
#define MANDANT_CLI_HOST_CLIENT_H_

#include "grpcpp/support/status.h"

#include "mandant/v1/host.pb.h"

namespace mandant::cli {

// The HostService calls mandantctl makes, one blocking call each. The real
// implementation (grpc_host_client.h) adds the deadline and the credential to
// every call; tests use a fake. CreateHost and IssueBootstrapToken return a
// bootstrap token, a secret the caller must not log. Not required to be
// thread-safe.
class HostClient {
 public:
  virtual ~HostClient() = default;

  virtual grpc::Status CreateHost(const v1::CreateHostRequest& request,
                                  v1::CreateHostResponse* response) = 0;
  virtual grpc::Status GetHost(const v1::GetHostRequest& request, v1::Host* response) = 0;
  virtual grpc::Status ListHosts(const v1::ListHostsRequest& request,
                                 v1::ListHostsResponse* response) = 0;
  virtual grpc::Status IssueBootstrapToken(const v1::IssueBootstrapTokenRequest& request,
                                           v1::IssueBootstrapTokenResponse* response) = 0;
  virtual grpc::Status CordonHost(const v1::CordonHostRequest& request, v1::Host* response) = 0;
  virtual grpc::Status UncordonHost(const v1::UncordonHostRequest& request, v1::Host* response) = 0;
  virtual grpc::Status DeleteHost(const v1::DeleteHostRequest& request) = 0;
};

}  // namespace mandant::cli

#endif  // MANDANT_CLI_HOST_CLIENT_H_
