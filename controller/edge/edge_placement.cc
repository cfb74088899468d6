#include "controller/edge/edge_placement.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include "tenants/edge_names.h"

namespace mandant::controller {

EdgePlacementDecision DecideEdgePlacement(const store::EdgePlacementState& state,
                                          bool network_configured) {
  EdgePlacementDecision d;
  if (state.placed_machines == 0) {
    d.remove = state.has_edge || !state.instances.empty();
    return d;
  }
  if (!network_configured) {
    d.shortfall = "no external network is configured (edge.external_networks)";
    return d;
  }
  std::vector<store::EdgeCandidateHost> eligible;
  for (const store::EdgeCandidateHost& h : state.candidates) {
    if (!h.cordoned) eligible.push_back(h);
  }
  std::sort(eligible.begin(), eligible.end(), [](const auto& a, const auto& b) {
    if (a.tenant_machines != b.tenant_machines) return a.tenant_machines > b.tenant_machines;
    if (a.edges != b.edges) return a.edges < b.edges;
    return a.host < b.host;
  });
  absl::flat_hash_set<int64_t> used_hosts;
  absl::flat_hash_set<int> used_ordinals;
  for (const store::EdgeInstanceRow& i : state.instances) {
    used_hosts.insert(i.host_id);
    used_ordinals.insert(i.ordinal);
  }
  const int wanted = state.machine_hosts >= 2 && eligible.size() >= 2 ? 2 : 1;
  int have = static_cast<int>(state.instances.size());
  for (const store::EdgeCandidateHost& h : eligible) {
    if (have >= wanted) break;
    if (used_hosts.contains(h.host_id)) continue;
    int ordinal = 0;
    while (used_ordinals.contains(ordinal)) ++ordinal;
    d.add.emplace_back(h.host_id, ordinal);
    used_hosts.insert(h.host_id);
    used_ordinals.insert(ordinal);
    ++have;
  }
  if (have == 0) {
    d.shortfall =
        "no host attached to the external network is available (all cordoned or none "
        "registered)";
  } else if (have < 2 && state.machine_hosts >= 2) {
    d.shortfall = "only one host attached to the external network is available";
  }
  return d;
}

absl::Status ReconcileEdgePlacement(store::Connection& conn, store::EdgeStore& store,
                                    const EdgeSettings& settings, int64_t tenant_row_id) {
  const store::ExternalNetwork* network =
      settings.external_networks.empty() ? nullptr : &settings.external_networks.front();
  MANDANT_ASSIGN_OR_RETURN(store::EdgePlacementState state,
                           store.PlacementState(conn, tenant_row_id, network));
  if (state.has_edge && (network == nullptr || state.external_network != network->name)) {
    network = settings.FindNetwork(state.external_network);
    MANDANT_ASSIGN_OR_RETURN(state, store.PlacementState(conn, tenant_row_id, network));
  }
  const EdgePlacementDecision d = DecideEdgePlacement(state, network != nullptr);
  if (d.remove) {
    MANDANT_RETURN_IF_ERROR(store.DeleteEdge(conn, tenant_row_id));
    MANDANT_LOG(info, "edge removed", {{"tenant", state.tenant}});
    return absl::OkStatus();
  }
  if (d.add.empty()) return absl::OkStatus();
  MANDANT_ASSIGN_OR_RETURN(std::string egress, store.EgressAddress(conn, tenant_row_id));
  if (egress.empty()) {
    MANDANT_RETURN_IF_ERROR(store::AllocateExternalAddress(conn, *network, tenant_row_id,
                                                           store::ExternalAddressPurpose::kEgress,
                                                           0)
                                .status());
  }
  MANDANT_ASSIGN_OR_RETURN(const std::string edge_namespace,
                           tenants::EdgeNamespaceName(state.mode, state.segment_id));
  for (const auto& [host_id, ordinal] : d.add) {
    MANDANT_ASSIGN_OR_RETURN(
        store::EdgeInstanceRow row,
        store.AddInstance(conn, tenant_row_id, network->name, edge_namespace, host_id, ordinal));
    MANDANT_LOG(info, "edge copy placed",
                {{"tenant", state.tenant}, {"host", row.host}, {"ordinal", ordinal}});
  }
  return absl::OkStatus();
}

}  // namespace mandant::controller
