#ifndef MANDANT_CONTROLLER_STORE_EDGE_STORE_H_
#define MANDANT_CONTROLLER_STORE_EDGE_STORE_H_

// SQL for tenant edges (docs/edge.md): placement rows, cluster endpoints,
// egress policies, what each host's EdgeSpecs are built from, and the
// agents' reports. Decisions (where an edge goes, what a spec holds) are
// made in controller/edge; this file only reads and writes rows. Every
// method runs on the caller's connection inside its transaction.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "controller/store/addresses.h"
#include "controller/store/pg.h"
#include "mandant/v1/agent.pb.h"
#include "mandant/v1/edge.pb.h"

namespace mandant::controller::store {

// A host the edge of a tenant could run on.
struct EdgeCandidateHost {
  int64_t host_id = 0;
  std::string host;  // host id
  bool cordoned = false;
  // The tenant's machines placed there, and edge copies (of any tenant).
  int tenant_machines = 0;
  int edges = 0;
};

struct EdgeInstanceRow {
  int64_t id = 0;
  int64_t host_id = 0;
  std::string host;
  int ordinal = 0;
  std::string node_address;
};

// What the placement of one tenant's edge is decided from, read with the
// tenant's row locked, so that concurrent placements of the same tenant
// run one after the other.
struct EdgePlacementState {
  int64_t tenant_row_id = 0;
  std::string tenant;  // tenant id
  // The tenant network's segment, which names the edge's namespace.
  v1::NetworkMode mode = v1::NETWORK_MODE_UNSPECIFIED;
  uint32_t segment_id = 0;
  bool has_edge = false;
  std::string external_network;  // of the existing edge
  // Machines of the tenant placed on a host, and on how many hosts.
  int placed_machines = 0;
  int machine_hosts = 0;
  std::vector<EdgeInstanceRow> instances;  // ordered by ordinal
  // The existing hosts attached to the external network, ordered by name.
  std::vector<EdgeCandidateHost> candidates;
};

// One cluster endpoint as the edge needs it.
struct EndpointRow {
  std::string cluster;  // cluster id
  std::string internal_address;
  std::string external_address;
  int port = 0;
  std::vector<std::string> allowed_cidrs;
  // The cluster's control planes, ordered by name.
  std::vector<v1::EdgeBackend> backends;
};

// Everything one edge copy's EdgeSpec is built from.
struct EdgeSpecRow {
  std::string tenant;  // tenant id
  v1::NetworkMode mode = v1::NETWORK_MODE_UNSPECIFIED;
  uint32_t segment_id = 0;
  std::string node_cidr;
  std::string gateway_address;
  int ordinal = 0;
  std::string instance_address;
  // The other copy's address; empty for a single edge.
  std::string peer_address;
  std::string external_network;
  std::string egress_address;
  std::vector<EndpointRow> endpoints;  // ordered by cluster
  // Every machine of the tenant, ordered by MAC.
  std::vector<v1::DhcpHost> dhcp_hosts;
  v1::EgressPolicy egress_policy;
};

class EdgeStore {
 public:
  // The state placement decides on, for the tenant with row id
  // `tenant_row_id`, candidates from `network` (nullptr: none configured).
  // Locks the tenant row. NOT_FOUND when the tenant is gone.
  absl::StatusOr<EdgePlacementState> PlacementState(Connection& conn, int64_t tenant_row_id,
                                                    const ExternalNetwork* network);
  // Creates the edge row (once, with its namespace name `edge_namespace`,
  // tenants/edge_names.h) and a copy on `host_id` with `ordinal`, with its
  // own node address. A retryable status when a concurrent placement took
  // the ordinal or the address.
  absl::StatusOr<EdgeInstanceRow> AddInstance(Connection& conn, int64_t tenant_row_id,
                                              absl::string_view external_network,
                                              absl::string_view edge_namespace, int64_t host_id,
                                              int ordinal);
  // Removes the edge with its copies and their addresses.
  absl::Status DeleteEdge(Connection& conn, int64_t tenant_row_id);
  // Row ids of every tenant that has machines or an edge.
  absl::StatusOr<std::vector<int64_t>> TenantsToPlace(Connection& conn);

  // Creates the endpoint of cluster `cluster` of tenant `tenant` with an
  // internal address from the tenant's node network and an external one
  // from `network`. ALREADY_EXISTS when the cluster has one; NOT_FOUND for
  // the cluster; the allocation errors of addresses.h.
  absl::StatusOr<EndpointRow> CreateEndpoint(Connection& conn, absl::string_view tenant,
                                             absl::string_view cluster,
                                             const ExternalNetwork& network, int port,
                                             const std::vector<std::string>& allowed_cidrs);

  // The tenant's egress policy; NOT_FOUND for the tenant.
  absl::StatusOr<v1::EgressPolicy> GetEgressPolicy(Connection& conn, absl::string_view tenant,
                                                   bool for_update = false);
  // Replaces default action and rules (validated by the caller) and bumps
  // the generation.
  absl::StatusOr<v1::EgressPolicy> PutEgressPolicy(Connection& conn, absl::string_view tenant,
                                                   v1::EgressAction default_action,
                                                   const std::vector<v1::EgressRule>& rules);

  // The edge copies on host `host_id`, ordered by tenant. Must run in a
  // REPEATABLE READ transaction with HostStore::SpecSources.
  absl::StatusOr<std::vector<EdgeSpecRow>> EdgesOnHost(Connection& conn, int64_t host_id);

  // The tenant's edge as the API shows it, without conditions (computed by
  // the caller). NOT_FOUND for the tenant.
  absl::StatusOr<v1::Edge> GetEdge(Connection& conn, absl::string_view tenant);
  // True when the tenant has a machine placed on a host. NOT_FOUND for the
  // tenant.
  absl::StatusOr<bool> HasPlacedMachines(Connection& conn, absl::string_view tenant);
  // True when the tenant is SUSPENDED. NOT_FOUND for the tenant.
  absl::StatusOr<bool> TenantSuspended(Connection& conn, absl::string_view tenant);
  // The tenant's egress address; empty when it has none.
  absl::StatusOr<std::string> EgressAddress(Connection& conn, int64_t tenant_row_id);

  // Stores what the agent of `host_id` reported of its edges (validated by
  // ValidateHostStatus, controller/agents/agent_message_validation.h), for
  // the copies placed on that host only, and only when the status names
  // the edge's namespace and its tenant together. Returns the namespaces
  // of the statuses it ignored, for the caller to log.
  absl::StatusOr<std::vector<std::string>> RecordStatus(
      Connection& conn, int64_t host_id,
      const google::protobuf::RepeatedPtrField<v1::EdgeStatus>& edges);
};

// The edges.*, egress_policies.* text columns <-> API enums.
v1::EgressAction EgressActionFromText(absl::string_view text);
std::string EgressActionText(v1::EgressAction action);
// edge_instances.vrrp_state: "UNSPECIFIED", "MASTER", "BACKUP", "FAULT".
std::string VrrpStateText(v1::VrrpState state);
std::string EgressPolicyEtag(absl::string_view tenant_uid, int64_t generation);

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_EDGE_STORE_H_
