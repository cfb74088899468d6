#ifndef MANDANT_CONTROLLER_STORE_ADDRESSES_H_
#define MANDANT_CONTROLLER_STORE_ADDRESSES_H_

// Address allocation for the tenant edge (docs/edge.md): addresses in a
// tenant's node network (tenant IPAM: gateway, edge copies, endpoints,
// machines) and on the provider's external networks (egress and endpoint
// addresses). PostgreSQL decides: a primary key per address, a trigger that
// keeps node addresses inside the tenant's node CIDR, and owners whose rows
// take their addresses with them. The functions here only propose the lowest
// free address; a concurrent transaction that took the same one makes the
// insert fail with a retryable status (store::IsRetryable), and
// Database::Transact runs the transaction again.
//
// Every function runs on the caller's connection inside its transaction.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "controller/store/pg.h"
#include "tenants/cidr.h"

namespace mandant::controller::store {

// One provider external network (mandantd.yaml edge.external_networks[]).
struct ExternalNetwork {
  // [a-z][a-z0-9-]*, 2-40 characters.
  std::string name;
  // An IPv4 network, e.g. 198.51.100.0/24.
  tenants::Cidr cidr = tenants::Cidr::Parse("0.0.0.0/32").value();
  // Its router, inside cidr.
  std::string gateway;
  // The addresses Mandant may give out, inclusive, inside cidr; by default
  // every usable address but the gateway.
  std::string first;
  std::string last;
  // Host ids attached to it, and the bridge that connects them on each.
  std::vector<std::string> hosts;
  std::string bridge;
};

// Checks the networks as the config loader needs: names unique and well
// formed, IPv4 CIDRs, gateway and range inside, ranges of different networks
// disjoint, a bridge name a Linux interface may have (1-15 bytes of
// [a-zA-Z0-9_.-], not a Mandant name), host ids well formed. Fills in
// first/last when they are empty. INVALID_ARGUMENT listing every problem as
// "edge.external_networks[i].key: what".
absl::Status ValidateExternalNetworks(std::vector<ExternalNetwork>& networks);

enum class NodeAddressPurpose { kGateway, kEdge, kEndpoint, kMachine };

// Reserves the tenant's gateway, the first usable address of its node CIDR.
// `tenant_row_id` is tenants.id. ALREADY_EXISTS when it holds one already.
absl::Status ReserveGateway(Connection& conn, int64_t tenant_row_id);

// Gives out the lowest free usable address of the tenant's node CIDR for
// `purpose`, owned by `owner` (edge_instances.id, cluster_endpoints.id or a
// machine_id; unused for the gateway), and returns it ("10.64.3.7").
// RESOURCE_EXHAUSTED naming the node CIDR when it is full; a retryable
// status when a concurrent transaction took the same address.
absl::StatusOr<std::string> AllocateNodeAddress(Connection& conn, int64_t tenant_row_id,
                                                NodeAddressPurpose purpose,
                                                absl::string_view owner);

enum class ExternalAddressPurpose { kEgress, kEndpoint };

// Gives out the lowest free address of `network`'s range (never its
// gateway) to the tenant, for its egress or for endpoint `endpoint_id`
// (cluster_endpoints.id; 0 for egress). RESOURCE_EXHAUSTED naming the
// network when its range is used up; a retryable status on a concurrent
// allocation of the same address.
absl::StatusOr<std::string> AllocateExternalAddress(Connection& conn,
                                                    const ExternalNetwork& network,
                                                    int64_t tenant_row_id,
                                                    ExternalAddressPurpose purpose,
                                                    int64_t endpoint_id);

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_ADDRESSES_H_
