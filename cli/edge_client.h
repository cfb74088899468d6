#ifndef MANDANT_CLI_EDGE_CLIENT_H_
#define MANDANT_CLI_EDGE_CLIENT_H_

#include "grpcpp/support/status.h"

#include "mandant/v1/edge.pb.h"

namespace mandant::cli {

// The EdgeService calls mandantctl makes, one blocking call each. The real
// implementation (grpc_edge_client.h) adds the deadline and the credential
// to every call; tests use a fake. Not required to be thread-safe.
class EdgeClient {
 public:
  virtual ~EdgeClient() = default;

  virtual grpc::Status GetEdge(const v1::GetEdgeRequest& request, v1::Edge* response) = 0;
  virtual grpc::Status GetEgressPolicy(const v1::GetEgressPolicyRequest& request,
                                       v1::EgressPolicy* response) = 0;
  virtual grpc::Status UpdateEgressPolicy(const v1::UpdateEgressPolicyRequest& request,
                                          v1::EgressPolicy* response) = 0;
  virtual grpc::Status ListEgressEvents(const v1::ListEgressEventsRequest& request,
                                        v1::ListEgressEventsResponse* response) = 0;
};

}  // namespace mandant::cli

#endif  // MANDANT_CLI_EDGE_CLIENT_H_
