#include "controller/store/edge_store.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

#include "common/status_macros.h"
#include "controller/store/database.h"
#include "controller/store/tenant_store.h"
#include "tenants/names.h"

namespace mandant::controller::store {
namespace {

using nlohmann::json;

absl::Status TenantNotFound(absl::string_view tenant) {
  return absl::NotFoundError(absl::StrCat("tenant \"", tenant, "\" not found"));
}

// Rules as stored: protobuf's JSON mapping of each EgressRule, in order.
absl::StatusOr<std::string> RulesToJson(const std::vector<v1::EgressRule>& rules) {
  json out = json::array();
  for (const v1::EgressRule& rule : rules) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    auto st = google::protobuf::util::MessageToJsonString(rule, &text, options);
    if (!st.ok()) return absl::InternalError(absl::StrCat("egress rule: ", st.ToString()));
    out.push_back(json::parse(text));
  }
  return out.dump();
}

absl::StatusOr<std::vector<v1::EgressRule>> RulesFromJson(absl::string_view text) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return absl::DataLossError("egress_policies.rules is not an array");
  std::vector<v1::EgressRule> rules;
  rules.reserve(parsed.size());
  for (const json& element : parsed) {
    v1::EgressRule rule;
    auto st = google::protobuf::util::JsonStringToMessage(element.dump(), &rule);
    if (!st.ok()) {
      return absl::DataLossError(absl::StrCat("egress_policies.rules: ", st.ToString()));
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::vector<std::string> StringArray(absl::string_view text) {
  std::vector<std::string> out;
  json parsed = json::parse(text, nullptr, false);
  if (!parsed.is_array()) return out;
  for (const json& element : parsed) {
    if (element.is_string()) out.push_back(element.get<std::string>());
  }
  return out;
}

}  // namespace

v1::EgressAction EgressActionFromText(absl::string_view text) {
  if (text == "ALLOW") return v1::EGRESS_ACTION_ALLOW;
  if (text == "DENY") return v1::EGRESS_ACTION_DENY;
  return v1::EGRESS_ACTION_UNSPECIFIED;
}

std::string VrrpStateText(v1::VrrpState state) {
  switch (state) {
    case v1::VRRP_STATE_MASTER:
      return "MASTER";
    case v1::VRRP_STATE_BACKUP:
      return "BACKUP";
    case v1::VRRP_STATE_FAULT:
      return "FAULT";
    default:
      return "UNSPECIFIED";
  }
}

std::string EgressActionText(v1::EgressAction action) {
  return action == v1::EGRESS_ACTION_DENY ? "DENY" : "ALLOW";
}

absl::StatusOr<EdgePlacementState> EdgeStore::PlacementState(Connection& conn,
                                                             int64_t tenant_row_id,
                                                             const ExternalNetwork* network) {
  const std::string id = std::to_string(tenant_row_id);
  MANDANT_ASSIGN_OR_RETURN(
      Rows tenant,
      conn.Query("SELECT t.name, e.external_network, "
                 "(SELECT count(*) FROM machines m WHERE m.tenant_id = t.id "
                 "AND m.host_id IS NOT NULL), "
                 "(SELECT count(DISTINCT m.host_id) FROM machines m WHERE m.tenant_id = t.id), "
                 "t.network_mode, coalesce(t.vni, t.vlan_id) "
                 "FROM tenants t LEFT JOIN edges e ON e.tenant_id = t.id WHERE t.id = $1 "
                 "FOR UPDATE OF t",
                 {id}));
  if (tenant.empty()) return absl::NotFoundError(absl::StrCat("tenant row ", id, " is gone"));
  EdgePlacementState s;
  s.tenant_row_id = tenant_row_id;
  s.tenant = std::string(tenant.Text(0, 0));
  s.has_edge = !tenant.IsNull(0, 1);
  s.external_network = std::string(tenant.Text(0, 1));
  s.placed_machines = static_cast<int>(tenant.Int64(0, 2));
  s.machine_hosts = static_cast<int>(tenant.Int64(0, 3));
  s.mode = NetworkModeFromText(tenant.Text(0, 4));
  s.segment_id = static_cast<uint32_t>(tenant.Int64(0, 5));

  MANDANT_ASSIGN_OR_RETURN(
      Rows instances,
      conn.Query("SELECT i.id, i.host_id, h.name, i.ordinal, coalesce(host(a.address), '') "
                 "FROM edge_instances i JOIN hosts h ON h.id = i.host_id "
                 "LEFT JOIN tenant_node_addresses a ON a.edge_instance_id = i.id "
                 "WHERE i.tenant_id = $1 ORDER BY i.ordinal",
                 {id}));
  for (int i = 0; i < instances.size(); ++i) {
    s.instances.push_back(EdgeInstanceRow{
        instances.Int64(i, 0), instances.Int64(i, 1), std::string(instances.Text(i, 2)),
        static_cast<int>(instances.Int64(i, 3)), std::string(instances.Text(i, 4))});
  }
  if (network == nullptr) return s;
  MANDANT_ASSIGN_OR_RETURN(
      Rows hosts,
      conn.Query("SELECT h.id, h.name, h.cordoned, "
                 "(SELECT count(*) FROM machines m WHERE m.host_id = h.id AND m.tenant_id = $1), "
                 "(SELECT count(*) FROM edge_instances e WHERE e.host_id = h.id) "
                 "FROM hosts h WHERE h.name IN (SELECT jsonb_array_elements_text($2::jsonb)) "
                 "ORDER BY h.name",
                 {id, json(network->hosts).dump()}));
  for (int i = 0; i < hosts.size(); ++i) {
    s.candidates.push_back(EdgeCandidateHost{hosts.Int64(i, 0), std::string(hosts.Text(i, 1)),
                                             hosts.Bool(i, 2), static_cast<int>(hosts.Int64(i, 3)),
                                             static_cast<int>(hosts.Int64(i, 4))});
  }
  return s;
}

absl::StatusOr<EdgeInstanceRow> EdgeStore::AddInstance(Connection& conn, int64_t tenant_row_id,
                                                       absl::string_view external_network,
                                                       absl::string_view edge_namespace,
                                                       int64_t host_id, int ordinal) {
  const std::string tenant = std::to_string(tenant_row_id);
  MANDANT_RETURN_IF_ERROR(
      conn.Query("INSERT INTO edges (tenant_id, external_network, namespace) "
                 "VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO NOTHING",
                 {tenant, std::string(external_network), std::string(edge_namespace)})
          .status());
  auto inserted = conn.Query(
      "INSERT INTO edge_instances (tenant_id, host_id, ordinal) VALUES ($1, $2, $3) "
      "RETURNING id, (SELECT name FROM hosts WHERE id = $2)",
      {tenant, std::to_string(host_id), std::to_string(ordinal)});
  if (!inserted.ok()) {
    auto pg = PgErrorOf(inserted.status());
    if (pg && pg->sqlstate == kUniqueViolation) return MarkRetryable(inserted.status());
    return inserted.status();
  }
  EdgeInstanceRow row;
  row.id = inserted->Int64(0, 0);
  row.host_id = host_id;
  row.host = std::string(inserted->Text(0, 1));
  row.ordinal = ordinal;
  MANDANT_ASSIGN_OR_RETURN(
      row.node_address,
      AllocateNodeAddress(conn, tenant_row_id, NodeAddressPurpose::kEdge, std::to_string(row.id)));
  return row;
}

absl::Status EdgeStore::DeleteEdge(Connection& conn, int64_t tenant_row_id) {
  return conn.Query("DELETE FROM edges WHERE tenant_id = $1", {std::to_string(tenant_row_id)})
      .status();
}

absl::StatusOr<std::vector<int64_t>> EdgeStore::TenantsToPlace(Connection& conn) {
  MANDANT_ASSIGN_OR_RETURN(Rows rows,
                           conn.Query("SELECT tenant_id FROM machines WHERE host_id IS NOT NULL "
                                      "UNION SELECT tenant_id FROM edges ORDER BY 1"));
  std::vector<int64_t> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) out.push_back(rows.Int64(i, 0));
  return out;
}

absl::StatusOr<EndpointRow> EdgeStore::CreateEndpoint(
    Connection& conn, absl::string_view tenant, absl::string_view cluster,
    const ExternalNetwork& network, int port, const std::vector<std::string>& allowed_cidrs) {
  MANDANT_ASSIGN_OR_RETURN(Rows ids,
                           conn.Query("SELECT t.id, c.id FROM tenants t JOIN clusters c "
                                      "ON c.tenant_id = t.id AND c.name = $2 WHERE t.name = $1",
                                      {std::string(tenant), std::string(cluster)}));
  if (ids.empty()) {
    return absl::NotFoundError(
        absl::StrCat("cluster \"tenants/", tenant, "/clusters/", cluster, "\" not found"));
  }
  const int64_t tenant_row_id = ids.Int64(0, 0);
  auto inserted = conn.Query(
      "INSERT INTO cluster_endpoints (cluster_id, tenant_id, port, allowed_cidrs) "
      "VALUES ($1, $2, $3, ARRAY(SELECT jsonb_array_elements_text($4::jsonb)::cidr)) "
      "RETURNING id",
      {std::string(ids.Text(0, 1)), std::to_string(tenant_row_id), std::to_string(port),
       json(allowed_cidrs).dump()});
  if (!inserted.ok()) {
    auto pg = PgErrorOf(inserted.status());
    if (pg && pg->sqlstate == kUniqueViolation) {
      return absl::AlreadyExistsError(absl::StrCat("cluster \"tenants/", tenant, "/clusters/",
                                                   cluster, "\" has an endpoint already"));
    }
    return inserted.status();
  }
  const int64_t endpoint_id = inserted->Int64(0, 0);
  EndpointRow row;
  row.cluster = std::string(cluster);
  row.port = port;
  row.allowed_cidrs = allowed_cidrs;
  MANDANT_ASSIGN_OR_RETURN(row.internal_address,
                           AllocateNodeAddress(conn, tenant_row_id, NodeAddressPurpose::kEndpoint,
                                               std::to_string(endpoint_id)));
  MANDANT_ASSIGN_OR_RETURN(row.external_address,
                           AllocateExternalAddress(conn, network, tenant_row_id,
                                                   ExternalAddressPurpose::kEndpoint, endpoint_id));
  return row;
}

absl::StatusOr<v1::EgressPolicy> EdgeStore::GetEgressPolicy(Connection& conn,
                                                            absl::string_view tenant,
                                                            bool for_update) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows, conn.Query(absl::StrCat("SELECT p.default_action, p.rules::text, p.generation, ",
                                         MicrosSql("p.update_time"),
                                         ", t.uid::text FROM egress_policies p JOIN tenants t "
                                         "ON t.id = p.tenant_id WHERE t.name = $1",
                                         for_update ? " FOR UPDATE OF p" : ""),
                            {std::string(tenant)}));
  if (rows.empty()) return TenantNotFound(tenant);
  v1::EgressPolicy policy;
  policy.set_name(absl::StrCat("tenants/", tenant, "/egressPolicy"));
  policy.set_default_action(EgressActionFromText(rows.Text(0, 0)));
  MANDANT_ASSIGN_OR_RETURN(std::vector<v1::EgressRule> rules, RulesFromJson(rows.Text(0, 1)));
  for (v1::EgressRule& rule : rules) *policy.add_rules() = std::move(rule);
  policy.set_generation(rows.Int64(0, 2));
  *policy.mutable_update_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(rows.Int64(0, 3));
  policy.set_etag(EgressPolicyEtag(rows.Text(0, 4), policy.generation()));
  return policy;
}

absl::StatusOr<v1::EgressPolicy> EdgeStore::PutEgressPolicy(
    Connection& conn, absl::string_view tenant, v1::EgressAction default_action,
    const std::vector<v1::EgressRule>& rules) {
  MANDANT_ASSIGN_OR_RETURN(std::string rules_json, RulesToJson(rules));
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows, conn.Query("UPDATE egress_policies p SET default_action = $2, rules = $3::jsonb, "
                            "generation = p.generation + 1, update_time = now() FROM tenants t "
                            "WHERE t.id = p.tenant_id AND t.name = $1 RETURNING 1",
                            {std::string(tenant), EgressActionText(default_action), rules_json}));
  if (rows.empty()) return TenantNotFound(tenant);
  return GetEgressPolicy(conn, tenant);
}

absl::StatusOr<std::vector<EdgeSpecRow>> EdgeStore::EdgesOnHost(Connection& conn, int64_t host_id) {
  const std::string host = std::to_string(host_id);
  MANDANT_ASSIGN_OR_RETURN(
      Rows edges,
      conn.Query(
          "SELECT t.id, t.name, t.network_mode, coalesce(t.vni, t.vlan_id), c.cidr::text, "
          "coalesce(host(g.address), ''), i.ordinal, coalesce(host(a.address), ''), "
          "coalesce((SELECT host(a2.address) FROM edge_instances i2 JOIN tenant_node_addresses a2 "
          "ON a2.edge_instance_id = i2.id WHERE i2.tenant_id = i.tenant_id AND i2.id <> i.id "
          "LIMIT 1), ''), e.external_network, "
          "coalesce((SELECT host(x.address) FROM external_addresses x "
          "WHERE x.tenant_id = t.id AND x.purpose = 'EGRESS'), ''), "
          "coalesce(p.default_action, 'ALLOW'), coalesce(p.rules::text, '[]') "
          "FROM edge_instances i JOIN edges e ON e.tenant_id = i.tenant_id "
          "JOIN tenants t ON t.id = i.tenant_id "
          "JOIN tenant_cidrs c ON c.tenant_id = t.id AND c.purpose = 'NODE' "
          "LEFT JOIN tenant_node_addresses a ON a.edge_instance_id = i.id "
          "LEFT JOIN tenant_node_addresses g ON g.tenant_id = t.id AND g.purpose = 'GATEWAY' "
          "LEFT JOIN egress_policies p ON p.tenant_id = t.id "
          "WHERE i.host_id = $1 ORDER BY t.name",
          {host}));
  std::vector<EdgeSpecRow> out;
  absl::flat_hash_map<int64_t, size_t> index;
  for (int i = 0; i < edges.size(); ++i) {
    EdgeSpecRow row;
    row.tenant = std::string(edges.Text(i, 1));
    row.mode = NetworkModeFromText(edges.Text(i, 2));
    row.segment_id = static_cast<uint32_t>(edges.Int64(i, 3));
    row.node_cidr = std::string(edges.Text(i, 4));
    row.gateway_address = std::string(edges.Text(i, 5));
    row.ordinal = static_cast<int>(edges.Int64(i, 6));
    row.instance_address = std::string(edges.Text(i, 7));
    row.peer_address = std::string(edges.Text(i, 8));
    row.external_network = std::string(edges.Text(i, 9));
    row.egress_address = std::string(edges.Text(i, 10));
    row.egress_policy.set_default_action(EgressActionFromText(edges.Text(i, 11)));
    MANDANT_ASSIGN_OR_RETURN(std::vector<v1::EgressRule> rules, RulesFromJson(edges.Text(i, 12)));
    for (v1::EgressRule& rule : rules) *row.egress_policy.add_rules() = std::move(rule);
    index[edges.Int64(i, 0)] = out.size();
    out.push_back(std::move(row));
  }
  if (out.empty()) return out;

  MANDANT_ASSIGN_OR_RETURN(
      Rows endpoints,
      conn.Query("SELECT ce.tenant_id, cl.name, coalesce(host(na.address), ''), "
                 "coalesce(host(xa.address), ''), ce.port, array_to_json(ce.allowed_cidrs)::text, "
                 "(SELECT coalesce(json_agg(json_build_array(m.name, host(ma.address)) "
                 "ORDER BY m.name), '[]')::text FROM machines m JOIN tenant_node_addresses ma "
                 "ON ma.machine_id = m.machine_id WHERE m.cluster_id = ce.cluster_id "
                 "AND m.role = 'CONTROL_PLANE') "
                 "FROM cluster_endpoints ce JOIN clusters cl ON cl.id = ce.cluster_id "
                 "LEFT JOIN tenant_node_addresses na ON na.endpoint_id = ce.id "
                 "LEFT JOIN external_addresses xa ON xa.endpoint_id = ce.id "
                 "WHERE ce.tenant_id IN (SELECT tenant_id FROM edge_instances WHERE host_id = $1) "
                 "ORDER BY cl.name",
                 {host}));
  for (int i = 0; i < endpoints.size(); ++i) {
    auto it = index.find(endpoints.Int64(i, 0));
    if (it == index.end()) continue;
    EndpointRow e;
    e.cluster = std::string(endpoints.Text(i, 1));
    e.internal_address = std::string(endpoints.Text(i, 2));
    e.external_address = std::string(endpoints.Text(i, 3));
    e.port = static_cast<int>(endpoints.Int64(i, 4));
    e.allowed_cidrs = StringArray(endpoints.Text(i, 5));
    json backends = json::parse(endpoints.Text(i, 6), nullptr, false);
    if (backends.is_array()) {
      for (const json& b : backends) {
        if (!b.is_array() || b.size() != 2 || !b[0].is_string() || !b[1].is_string()) continue;
        v1::EdgeBackend backend;
        backend.set_name(b[0].get<std::string>());
        backend.set_address(b[1].get<std::string>());
        backend.set_port(static_cast<uint32_t>(e.port));
        e.backends.push_back(std::move(backend));
      }
    }
    out[it->second].endpoints.push_back(std::move(e));
  }

  MANDANT_ASSIGN_OR_RETURN(
      Rows machines,
      conn.Query("SELECT m.tenant_id, m.node_mac::text, host(a.address), m.name "
                 "FROM machines m JOIN tenant_node_addresses a ON a.machine_id = m.machine_id "
                 "WHERE m.tenant_id IN (SELECT tenant_id FROM edge_instances WHERE host_id = $1) "
                 "ORDER BY m.node_mac",
                 {host}));
  for (int i = 0; i < machines.size(); ++i) {
    auto it = index.find(machines.Int64(i, 0));
    if (it == index.end()) continue;
    v1::DhcpHost dhcp;
    dhcp.set_mac_address(std::string(machines.Text(i, 1)));
    dhcp.set_address(std::string(machines.Text(i, 2)));
    dhcp.set_hostname(std::string(machines.Text(i, 3)));
    out[it->second].dhcp_hosts.push_back(std::move(dhcp));
  }
  return out;
}

absl::StatusOr<v1::Edge> EdgeStore::GetEdge(Connection& conn, absl::string_view tenant) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query("SELECT t.id, coalesce(e.external_network, ''), "
                 "coalesce((SELECT host(address) FROM tenant_node_addresses "
                 "WHERE tenant_id = t.id AND purpose = 'GATEWAY'), ''), "
                 "coalesce((SELECT host(address) FROM external_addresses "
                 "WHERE tenant_id = t.id AND purpose = 'EGRESS'), ''), "
                 "coalesce((SELECT network FROM external_addresses "
                 "WHERE tenant_id = t.id AND purpose = 'EGRESS'), '') "
                 "FROM tenants t LEFT JOIN edges e ON e.tenant_id = t.id WHERE t.name = $1",
                 {std::string(tenant)}));
  if (rows.empty()) return TenantNotFound(tenant);
  const std::string id(rows.Text(0, 0));
  v1::Edge edge;
  edge.set_name(absl::StrCat("tenants/", tenant, "/edge"));
  edge.set_external_network(
      std::string(rows.Text(0, 1).empty() ? rows.Text(0, 4) : rows.Text(0, 1)));
  edge.set_gateway_address(std::string(rows.Text(0, 2)));
  edge.set_egress_address(std::string(rows.Text(0, 3)));

  MANDANT_ASSIGN_OR_RETURN(
      Rows instances,
      conn.Query("SELECT h.name, coalesce(host(a.address), ''), i.vrrp_state, i.error, "
                 "coalesce(h.lease_expire_time > now(), false), i.status_time IS NOT NULL, "
                 "i.endpoints::text "
                 "FROM edge_instances i JOIN hosts h ON h.id = i.host_id "
                 "LEFT JOIN tenant_node_addresses a ON a.edge_instance_id = i.id "
                 "WHERE i.tenant_id = $1 ORDER BY i.ordinal",
                 {id}));
  // Endpoint health from the copy that holds the addresses.
  json active_endpoints = json::array();
  for (int i = 0; i < instances.size(); ++i) {
    v1::EdgeInstance* instance = edge.add_instances();
    instance->set_host(absl::StrCat("hosts/", instances.Text(i, 0)));
    instance->set_node_address(std::string(instances.Text(i, 1)));
    const absl::string_view vrrp = instances.Text(i, 2);
    const bool host_ready = instances.Bool(i, 4);
    const bool reported = instances.Bool(i, 5);
    std::string message(instances.Text(i, 3));
    v1::EdgeRole role = v1::EDGE_ROLE_DOWN;
    if (!host_ready) {
      message = "the host is not Ready";
    } else if (!reported) {
      message = "the agent has not reported this edge yet";
    } else if (message.empty()) {
      if (vrrp == "UNSPECIFIED" || vrrp == "MASTER") role = v1::EDGE_ROLE_ACTIVE;
      if (vrrp == "BACKUP") role = v1::EDGE_ROLE_STANDBY;
      if (vrrp == "FAULT") message = "keepalived reports a fault (is the external link down?)";
    }
    instance->set_role(role);
    instance->set_message(message);
    if (role == v1::EDGE_ROLE_ACTIVE) {
      active_endpoints = json::parse(instances.Text(i, 6), nullptr, false);
    }
  }
  edge.set_redundant(edge.instances_size() >= 2);

  MANDANT_ASSIGN_OR_RETURN(
      Rows endpoints,
      conn.Query("SELECT cl.name, coalesce(host(na.address), ''), coalesce(host(xa.address), ''), "
                 "ce.port, (SELECT count(*) FROM machines m WHERE m.cluster_id = ce.cluster_id "
                 "AND m.role = 'CONTROL_PLANE') "
                 "FROM cluster_endpoints ce JOIN clusters cl ON cl.id = ce.cluster_id "
                 "LEFT JOIN tenant_node_addresses na ON na.endpoint_id = ce.id "
                 "LEFT JOIN external_addresses xa ON xa.endpoint_id = ce.id "
                 "WHERE ce.tenant_id = $1 ORDER BY cl.name",
                 {id}));
  for (int i = 0; i < endpoints.size(); ++i) {
    v1::EdgeEndpoint* e = edge.add_endpoints();
    e->set_cluster(absl::StrCat("tenants/", tenant, "/clusters/", endpoints.Text(i, 0)));
    e->set_internal_address(std::string(endpoints.Text(i, 1)));
    e->set_external_address(std::string(endpoints.Text(i, 2)));
    e->set_port(static_cast<uint32_t>(endpoints.Int64(i, 3)));
    e->set_backends(static_cast<int32_t>(endpoints.Int64(i, 4)));
    if (active_endpoints.is_array()) {
      for (const json& reported : active_endpoints) {
        if (reported.is_object() && reported.value("cluster", "") == e->cluster() &&
            reported.value("healthy_backends", json()).is_number_integer()) {
          e->set_healthy_backends(reported["healthy_backends"].get<int32_t>());
        }
      }
    }
  }
  return edge;
}

absl::StatusOr<bool> EdgeStore::HasPlacedMachines(Connection& conn, absl::string_view tenant) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows, conn.Query("SELECT EXISTS (SELECT 1 FROM machines m WHERE m.tenant_id = t.id "
                            "AND m.host_id IS NOT NULL) FROM tenants t WHERE t.name = $1",
                            {std::string(tenant)}));
  if (rows.empty()) return TenantNotFound(tenant);
  return rows.Bool(0, 0);
}

absl::StatusOr<bool> EdgeStore::TenantSuspended(Connection& conn, absl::string_view tenant) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query("SELECT state = 'SUSPENDED' FROM tenants WHERE name = $1", {std::string(tenant)}));
  if (rows.empty()) return TenantNotFound(tenant);
  return rows.Bool(0, 0);
}

absl::StatusOr<std::string> EdgeStore::EgressAddress(Connection& conn, int64_t tenant_row_id) {
  MANDANT_ASSIGN_OR_RETURN(Rows rows, conn.Query("SELECT host(address) FROM external_addresses "
                                                 "WHERE tenant_id = $1 AND purpose = 'EGRESS'",
                                                 {std::to_string(tenant_row_id)}));
  return rows.empty() ? std::string() : std::string(rows.Text(0, 0));
}

absl::StatusOr<std::vector<std::string>> EdgeStore::RecordStatus(
    Connection& conn, int64_t host_id,
    const google::protobuf::RepeatedPtrField<v1::EdgeStatus>& edges) {
  json records = json::array();
  std::vector<std::string> ignored;
  for (const v1::EdgeStatus& s : edges) {
    absl::StatusOr<std::string> tenant = tenants::ParseTenantName(s.tenant(), "tenant");
    if (!tenant.ok()) {
      ignored.push_back(s.namespace_());
      continue;
    }
    json processes = json::array();
    for (const v1::EdgeProcess& p : s.processes()) {
      processes.push_back({{"name", p.name()}, {"pid", p.pid()}, {"running", p.running()}});
    }
    json endpoints = json::array();
    for (const v1::EdgeEndpointStatus& e : s.endpoints()) {
      endpoints.push_back({{"cluster", e.cluster()},
                           {"healthy_backends", e.healthy_backends()},
                           {"backends", e.backends()},
                           {"dropped_packets", e.dropped_packets()}});
    }
    // The column is a bigint; an agent that counted past it has dropped
    // more than anyone will read.
    const uint64_t dropped =
        std::min<uint64_t>(s.egress_events_dropped(), std::numeric_limits<int64_t>::max());
    records.push_back({{"namespace", s.namespace_()},
                       {"tenant", *tenant},
                       {"vrrp_state", VrrpStateText(s.vrrp_state())},
                       {"processes", processes},
                       {"endpoints", endpoints},
                       {"dropped", dropped},
                       {"error", s.error()}});
  }
  if (records.empty()) return ignored;
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query(
          "WITH u AS (UPDATE edge_instances i SET vrrp_state = s.vrrp_state, "
          "processes = s.processes, endpoints = s.endpoints, egress_events_dropped = s.dropped, "
          "error = s.error, status_time = now() "
          "FROM jsonb_to_recordset($2::jsonb) AS s(namespace text, tenant text, vrrp_state text, "
          "processes jsonb, endpoints jsonb, dropped bigint, error text), tenants t, edges e "
          "WHERE i.host_id = $1 AND t.id = i.tenant_id AND t.name = s.tenant "
          "AND e.tenant_id = i.tenant_id AND e.namespace = s.namespace RETURNING e.namespace) "
          "SELECT coalesce(json_agg(namespace), '[]')::text FROM u",
          {std::to_string(host_id), records.dump(-1, ' ', false, json::error_handler_t::replace)}));
  absl::flat_hash_set<std::string> written;
  for (const json& n : json::parse(rows.Text(0, 0), nullptr, false)) {
    if (n.is_string()) written.insert(n.get<std::string>());
  }
  for (const v1::EdgeStatus& s : edges) {
    if (!written.contains(s.namespace_()) &&
        std::find(ignored.begin(), ignored.end(), s.namespace_()) == ignored.end()) {
      ignored.push_back(s.namespace_());
    }
  }
  return ignored;
}

std::string EgressPolicyEtag(absl::string_view tenant_uid, int64_t generation) {
  return absl::StrCat(tenant_uid.substr(0, 8), "-p", generation);
}

}  // namespace mandant::controller::store
