#ifndef MANDANT_CONTROLLER_API_EDGE_SERVICE_H_
#define MANDANT_CONTROLLER_API_EDGE_SERVICE_H_

#include "controller/api/rpc_call.h"
#include "controller/edge/edge_settings.h"
#include "controller/store/edge_store.h"
#include "controller/store/egress_log_store.h"
#include "mandant/v1/edge.grpc.pb.h"

namespace mandant::controller::api {

// mandant.v1.EdgeService over PostgreSQL: the tenant's edge, its egress
// policy and its egress log (edge.proto). Thread-safe.
class EdgeServiceImpl final : public v1::EdgeService::Service {
 public:
  EdgeServiceImpl(const ServiceDeps& deps, EdgeSettings settings);

  // v1::EdgeService::Service
  grpc::Status GetEdge(grpc::ServerContext* context, const v1::GetEdgeRequest* request,
                       v1::Edge* response) override;
  grpc::Status GetEgressPolicy(grpc::ServerContext* context,
                               const v1::GetEgressPolicyRequest* request,
                               v1::EgressPolicy* response) override;
  grpc::Status UpdateEgressPolicy(grpc::ServerContext* context,
                                  const v1::UpdateEgressPolicyRequest* request,
                                  v1::EgressPolicy* response) override;
  grpc::Status ListEgressEvents(grpc::ServerContext* context,
                                const v1::ListEgressEventsRequest* request,
                                v1::ListEgressEventsResponse* response) override;

 private:
  absl::Status Get(RpcCall& call, const v1::GetEdgeRequest& request, v1::Edge* response);
  absl::Status GetPolicy(RpcCall& call, const v1::GetEgressPolicyRequest& request,
                         v1::EgressPolicy* response);
  absl::Status UpdatePolicy(RpcCall& call, const v1::UpdateEgressPolicyRequest& request,
                            v1::EgressPolicy* response);
  absl::Status ListEvents(RpcCall& call, const v1::ListEgressEventsRequest& request,
                          v1::ListEgressEventsResponse* response);

  const ServiceDeps deps_;
  const EdgeSettings settings_;
  store::EdgeStore store_;
  store::EgressLogStore log_;
};

// The Placed, Ready and Redundant conditions of an edge as the store
// returns it (instances with roles and messages), given whether the tenant
// has placed machines and whether an external network is configured. Pure.
void SetEdgeConditions(v1::Edge& edge, bool has_machines, bool network_configured);

}  // namespace mandant::controller::api

#endif  // MANDANT_CONTROLLER_API_EDGE_SERVICE_H_
