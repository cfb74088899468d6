#include "controller/edge/edge_spec.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

#include "common/status_macros.h"
#include "tenants/edge_names.h"
#include "tenants/network_names.h"

namespace mandant::controller {

uint32_t VrrpRouterId(uint32_t segment_id) { return segment_id % 255 + 1; }

absl::StatusOr<v1::EdgeSpec> BuildEdgeSpec(const store::EdgeSpecRow& row,
                                           const EdgeSettings& settings) {
  const store::ExternalNetwork* network = settings.FindNetwork(row.external_network);
  if (network == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("tenant \"", row.tenant, "\": its edge's external network \"",
                     row.external_network, "\" is no longer in edge.external_networks"));
  }
  v1::EdgeSpec spec;
  spec.set_tenant(absl::StrCat("tenants/", row.tenant));
  MANDANT_ASSIGN_OR_RETURN(*spec.mutable_namespace_(),
                           tenants::EdgeNamespaceName(row.mode, row.segment_id));
  MANDANT_ASSIGN_OR_RETURN(*spec.mutable_tenant_bridge(),
                           tenants::TenantBridgeName(row.mode, row.segment_id));
  MANDANT_ASSIGN_OR_RETURN(*spec.mutable_inside_link(),
                           tenants::EdgeInsideLinkName(row.mode, row.segment_id));
  MANDANT_ASSIGN_OR_RETURN(*spec.mutable_outside_link(),
                           tenants::EdgeOutsideLinkName(row.mode, row.segment_id));
  spec.set_node_cidr(row.node_cidr);
  spec.set_gateway_address(row.gateway_address);
  spec.set_instance_address(row.instance_address);
  spec.set_external_bridge(network->bridge);
  spec.set_external_cidr(network->cidr.ToString());
  spec.set_external_gateway(network->gateway);
  spec.set_egress_address(row.egress_address);
  for (const store::EndpointRow& e : row.endpoints) {
    v1::EdgeEndpointSpec* endpoint = spec.add_endpoints();
    endpoint->set_cluster(absl::StrCat("tenants/", row.tenant, "/clusters/", e.cluster));
    endpoint->set_internal_address(e.internal_address);
    endpoint->set_external_address(e.external_address);
    endpoint->set_port(static_cast<uint32_t>(e.port));
    absl::flat_hash_set<std::string> seen;
    for (const auto* list : {&e.allowed_cidrs, &settings.controller_cidrs}) {
      for (const std::string& cidr : *list) {
        if (seen.insert(cidr).second) endpoint->add_allowed_cidrs(cidr);
      }
    }
    for (const v1::EdgeBackend& b : e.backends) *endpoint->add_backends() = b;
  }
  for (const v1::DhcpHost& h : row.dhcp_hosts) *spec.add_dhcp_hosts() = h;
  for (const std::string& server : settings.dns_servers) spec.add_dns_servers(server);
  *spec.mutable_egress_policy() = row.egress_policy;
  if (!row.peer_address.empty()) {
    v1::EdgeVrrp* vrrp = spec.mutable_vrrp();
    vrrp->set_virtual_router_id(VrrpRouterId(row.segment_id));
    vrrp->set_priority(row.ordinal == 0 ? kFirstEdgePriority : kSecondEdgePriority);
    vrrp->add_peer_addresses(row.peer_address);
  }
  return spec;
}

}  // namespace mandant::controller
