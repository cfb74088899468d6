#include "controller/store/tenant_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"

#include "common/status_macros.h"
#include "common/uuid.h"
#include "controller/store/database.h"
#include "tenants/field_violations.h"

namespace mandant::controller::store {
namespace {

using google::protobuf::util::TimeUtil;

// RESOURCE_EXHAUSTED with a google.rpc.QuotaFailure naming the pool.
absl::Status PoolExhausted(absl::string_view pool, std::string message) {
  absl::Status st = absl::ResourceExhaustedError(message);
  google::rpc::QuotaFailure failure;
  auto* v = failure.add_violations();
  v->set_subject(std::string(pool));
  v->set_description(std::move(message));
  st.SetPayload("type.googleapis.com/google.rpc.QuotaFailure",
                absl::Cord(failure.SerializeAsString()));
  return st;
}

// ABORTED for a stale etag; the caller's is quoted and cut short.
absl::Status EtagMismatch(absl::string_view id, absl::string_view current,
                          absl::string_view requested) {
  return absl::AbortedError(absl::StrCat(
      "tenant \"", id, "\" was changed concurrently (etag \"", current, "\", request had ",
      tenants::QuoteForMessage(requested), "); read it again and retry"));
}

v1::Tenant TenantFromRow(const Rows& r, int i) {
  v1::Tenant t;
  t.set_name(absl::StrCat("tenants/", r.Text(i, 0)));
  t.set_uid(std::string(r.Text(i, 1)));
  t.set_display_name(std::string(r.Text(i, 2)));
  t.set_state(TenantStateFromText(r.Text(i, 3)));
  t.set_generation(r.Int64(i, 4));
  v1::TenantNetwork* net = t.mutable_network();
  net->set_mode(NetworkModeFromText(r.Text(i, 5)));
  net->set_vni(static_cast<uint32_t>(r.Int64(i, 6)));
  net->set_vlan_id(static_cast<uint32_t>(r.Int64(i, 7)));
  v1::TenantQuota* q = t.mutable_quota();
  q->set_max_clusters(r.Int64(i, 8));
  q->set_max_nodes(r.Int64(i, 9));
  q->set_max_vcpus(r.Int64(i, 10));
  q->set_max_memory_mib(r.Int64(i, 11));
  q->set_max_storage_gib(r.Int64(i, 12));
  v1::TenantUsage* u = t.mutable_usage();
  u->set_clusters(r.Int64(i, 13));
  u->set_nodes(r.Int64(i, 14));
  u->set_vcpus(r.Int64(i, 15));
  u->set_memory_mib(r.Int64(i, 16));
  u->set_storage_gib(r.Int64(i, 17));
  if (!r.IsNull(i, 18)) {
    net->set_node_cidr(std::string(r.Text(i, 18)));
    if (auto c = tenants::Cidr::Parse(net->node_cidr()); c.ok()) {
      net->set_gateway(c->FirstHostAddress());
    }
  }
  if (!r.IsNull(i, 19)) net->set_storage_cidr(std::string(r.Text(i, 19)));
  *t.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(r.Int64(i, 20));
  *t.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(r.Int64(i, 21));
  t.set_etag(TenantEtag(t.uid(), t.generation()));
  return t;
}

}  // namespace

v1::TenantState TenantStateFromText(absl::string_view text) {
  if (text == "ACTIVE") return v1::TENANT_STATE_ACTIVE;
  if (text == "SUSPENDED") return v1::TENANT_STATE_SUSPENDED;
  return v1::TENANT_STATE_UNSPECIFIED;
}

std::string TenantStateText(v1::TenantState state) {
  return state == v1::TENANT_STATE_SUSPENDED ? "SUSPENDED" : "ACTIVE";
}

v1::NetworkMode NetworkModeFromText(absl::string_view text) {
  return text == "VLAN" ? v1::NETWORK_MODE_VLAN : v1::NETWORK_MODE_VXLAN;
}

std::string NetworkModeText(v1::NetworkMode mode) {
  return mode == v1::NETWORK_MODE_VLAN ? "VLAN" : "VXLAN";
}

std::string TenantEtag(absl::string_view uid, int64_t generation) {
  return absl::StrCat(uid.substr(0, 8), "-", generation);
}

absl::Status ValidateNetworkPools(const NetworkPools& p) {
  std::vector<std::string> errors;
  if (p.vni.first < 1 || p.vni.last > 16777215 || p.vni.first > p.vni.last) {
    errors.push_back(absl::StrCat("network.vni_pool: ", p.vni.first, "-", p.vni.last,
                                  " is not a range within 1-16777215"));
  }
  if (p.vlan && (p.vlan->first < 1 || p.vlan->last > 4094 || p.vlan->first > p.vlan->last)) {
    errors.push_back(absl::StrCat("network.vlan_pool: ", p.vlan->first, "-", p.vlan->last,
                                  " is not a range within 1-4094"));
  }
  if (p.node_supernet.Overlaps(p.storage_supernet)) {
    errors.push_back(absl::StrCat("network.node_supernet ", p.node_supernet.ToString(),
                                  " overlaps network.storage_supernet ",
                                  p.storage_supernet.ToString()));
  }
  for (const auto& [key, net] : {std::pair<absl::string_view, const tenants::Cidr*>{
                                     "network.node_supernet", &p.node_supernet},
                                 {"network.storage_supernet", &p.storage_supernet}}) {
    if (net->SubnetCount(p.default_prefix_length) == 0) {
      errors.push_back(absl::StrCat(key, " ", net->ToString(), " cannot hold a /",
                                    p.default_prefix_length, " (network.default_prefix_length)"));
    }
  }
  if (p.default_prefix_length < 16 || p.default_prefix_length > 28) {
    errors.push_back(absl::StrCat("network.default_prefix_length: must be 16-28, got ",
                                  p.default_prefix_length));
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
}

absl::StatusOr<uint32_t> TenantStore::AllocateSegment(Connection& conn, v1::NetworkMode mode,
                                                      uint64_t spread) {
  const bool vlan = mode == v1::NETWORK_MODE_VLAN;
  if (vlan && !pools_.vlan) {
    return absl::FailedPreconditionError("VLAN mode is not enabled on this controller");
  }
  const SegmentRange range = vlan ? *pools_.vlan : pools_.vni;
  const uint64_t size = uint64_t{range.last} - range.first + 1;
  const uint32_t start = range.first + static_cast<uint32_t>(spread % size);
  // Lowest free id at or after `start`, then wrapping around to the first:
  // $1 itself when free, else the first used id whose successor is free.
  // This walks the ids in use (index-only scan), not the whole pool;
  // generate_series would materialize all of it (16.7 million rows for a
  // full 24-bit VNI pool) on every create.
  const absl::string_view column = vlan ? "vlan_id" : "vni";
  const std::string sql = absl::StrCat(
      "SELECT min(s) FROM ("
      "SELECT $1::int AS s WHERE NOT EXISTS (SELECT 1 FROM tenants WHERE ",
      column,
      " = $1::int) "
      "UNION ALL (SELECT id + 1 FROM (SELECT ",
      column, " AS id, lead(", column, ") OVER (ORDER BY ", column, ") AS next FROM tenants WHERE ",
      column,
      " BETWEEN $1::int AND $2::int) g "
      "WHERE id < $2::int AND next IS DISTINCT FROM id + 1 ORDER BY id LIMIT 1)) f");
  for (auto [lo, hi] : {std::pair<uint32_t, uint32_t>{start, range.last},
                        std::pair<uint32_t, uint32_t>{range.first, start}}) {
    MANDANT_ASSIGN_OR_RETURN(Rows rows, conn.Query(sql, {std::to_string(lo), std::to_string(hi)}));
    if (!rows.IsNull(0, 0)) return static_cast<uint32_t>(rows.Int64(0, 0));
  }
  return PoolExhausted(
      vlan ? "network.vlan_pool" : "network.vni_pool",
      absl::StrCat(vlan ? "VLAN pool network.vlan_pool " : "VNI pool network.vni_pool ",
                   range.first, "-", range.last,
                   " is exhausted: every id is in use; widen the pool or delete tenants"));
}

absl::StatusOr<tenants::Cidr> TenantStore::AllocateCidr(Connection& conn,
                                                        const tenants::Cidr& supernet,
                                                        int prefix_length,
                                                        absl::string_view pool_name,
                                                        uint64_t spread) {
  MANDANT_ASSIGN_OR_RETURN(Rows rows,
                           conn.Query("SELECT cidr::text FROM tenant_cidrs WHERE cidr && $1::cidr",
                                      {supernet.ToString()}));
  std::vector<tenants::Cidr> taken;
  taken.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    auto c = tenants::Cidr::Parse(std::string(rows.Text(i, 0)));
    if (!c.ok()) return absl::InternalError(absl::StrCat("stored CIDR: ", c.status().message()));
    taken.push_back(*c);
  }
  const uint64_t blocks = supernet.SubnetCount(prefix_length);
  auto found = tenants::FindFreeBlock(supernet, prefix_length, std::move(taken),
                                      blocks == 0 ? 0 : spread % blocks);
  if (!found) {
    return PoolExhausted(
        pool_name.substr(pool_name.rfind(' ') + 1),
        absl::StrCat(pool_name, " ", supernet.ToString(), " has no free /", prefix_length,
                     " left; widen the supernet, ask for a longer prefix, or delete tenants"));
  }
  return *found;
}

absl::StatusOr<v1::Tenant> TenantStore::Create(Connection& conn, const NewTenant& t,
                                               uint64_t spread) {
  // Name first, so that a taken name is reported as such and not as a
  // network conflict.
  MANDANT_ASSIGN_OR_RETURN(Rows existing,
                           conn.Query("SELECT 1 FROM tenants WHERE name = $1", {t.id}));
  if (!existing.empty()) {
    return absl::AlreadyExistsError(absl::StrCat("tenant \"", t.id, "\" already exists"));
  }
  MANDANT_ASSIGN_OR_RETURN(uint32_t segment, AllocateSegment(conn, t.mode, spread));
  const int node_len =
      t.node_prefix_length > 0 ? t.node_prefix_length : pools_.default_prefix_length;
  const int storage_len =
      t.storage_prefix_length > 0 ? t.storage_prefix_length : pools_.default_prefix_length;
  MANDANT_ASSIGN_OR_RETURN(tenants::Cidr node,
                           AllocateCidr(conn, pools_.node_supernet, node_len,
                                        "node pool network.node_supernet", spread));
  MANDANT_ASSIGN_OR_RETURN(tenants::Cidr storage,
                           AllocateCidr(conn, pools_.storage_supernet, storage_len,
                                        "storage pool network.storage_supernet", spread));
  const bool vlan = t.mode == v1::NETWORK_MODE_VLAN;
  auto inserted = conn.Query(
      "INSERT INTO tenants (uid, name, display_name, state, network_mode, vni, vlan_id, "
      "quota_clusters, quota_nodes, quota_vcpus, quota_memory_mib, quota_storage_gib) "
      "VALUES ($1, $2, $3, 'ACTIVE', $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
      {NewUuid(), t.id, t.display_name, NetworkModeText(t.mode),
       vlan ? Param() : Param(std::to_string(segment)),
       vlan ? Param(std::to_string(segment)) : Param(), std::to_string(t.quota.max_clusters),
       std::to_string(t.quota.max_nodes), std::to_string(t.quota.max_vcpus),
       std::to_string(t.quota.max_memory_mib), std::to_string(t.quota.max_storage_gib)});
  if (!inserted.ok()) {
    auto pg = PgErrorOf(inserted.status());
    if (pg && pg->sqlstate == kUniqueViolation) {
      if (pg->constraint == "tenants_name_key") {
        return absl::AlreadyExistsError(absl::StrCat("tenant \"", t.id, "\" already exists"));
      }
      // Another transaction took the same segment a moment ago.
      return MarkRetryable(inserted.status());
    }
    return inserted.status();
  }
  const std::string row_id(inserted->Text(0, 0));
  // An overlap with a concurrent allocation fails with an exclusion
  // violation, which the transaction runner retries.
  MANDANT_RETURN_IF_ERROR(conn.Query("INSERT INTO tenant_cidrs (tenant_id, purpose, cidr) "
                                     "VALUES ($1, 'NODE', $2::cidr), ($1, 'STORAGE', $3::cidr)",
                                     {row_id, node.ToString(), storage.ToString()})
                              .status());
  int64_t tenant_row_id = 0;
  if (!absl::SimpleAtoi(row_id, &tenant_row_id)) return absl::InternalError("tenant row id");
  MANDANT_RETURN_IF_ERROR(ReserveGateway(conn, tenant_row_id));
  MANDANT_RETURN_IF_ERROR(
      conn.Query("INSERT INTO egress_policies (tenant_id) VALUES ($1)", {row_id}).status());
  if (!pools_.external_networks.empty()) {
    MANDANT_RETURN_IF_ERROR(AllocateExternalAddress(conn, pools_.external_networks.front(),
                                                    tenant_row_id, ExternalAddressPurpose::kEgress,
                                                    0)
                                .status());
  }
  return Get(conn, t.id);
}

absl::StatusOr<v1::Tenant> TenantStore::Get(Connection& conn, absl::string_view id,
                                            bool for_update) {
  MANDANT_ASSIGN_OR_RETURN(Rows rows, conn.Query(absl::StrCat(kTenantSelectSql, "WHERE t.name = $1",
                                                              for_update ? " FOR UPDATE OF t" : ""),
                                                 {std::string(id)}));
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("tenant \"", id, "\" not found"));
  return TenantFromRow(rows, 0);
}

absl::StatusOr<std::vector<v1::Tenant>> TenantStore::List(Connection& conn,
                                                          absl::string_view after_id,
                                                          v1::TenantState state,
                                                          absl::string_view only_id, int limit) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query(absl::StrCat(kTenantSelectSql,
                              "WHERE t.name > $1 AND ($2 = '' OR t.state = $2) "
                              "AND ($3 = '' OR t.name = $3) ORDER BY t.name LIMIT $4"),
                 {std::string(after_id),
                  state == v1::TENANT_STATE_UNSPECIFIED ? std::string() : TenantStateText(state),
                  std::string(only_id), std::to_string(limit)}));
  std::vector<v1::Tenant> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) out.push_back(TenantFromRow(rows, i));
  return out;
}

absl::StatusOr<v1::Tenant> TenantStore::Update(Connection& conn, absl::string_view id,
                                               absl::string_view etag,
                                               const TenantChanges& changes) {
  MANDANT_ASSIGN_OR_RETURN(v1::Tenant current, Get(conn, id, /*for_update=*/true));
  if (!etag.empty() && etag != current.etag()) {
    return EtagMismatch(id, current.etag(), etag);
  }
  tenants::QuotaLimits quota{current.quota().max_clusters(), current.quota().max_nodes(),
                             current.quota().max_vcpus(), current.quota().max_memory_mib(),
                             current.quota().max_storage_gib()};
  if (changes.quota) {
    quota = tenants::MergeQuota(quota, *changes.quota);
    const v1::TenantUsage& u = current.usage();
    tenants::QuotaUsage usage{u.clusters(), u.nodes(), u.vcpus(), u.memory_mib(), u.storage_gib()};
    std::vector<std::string> exceeded = tenants::CheckQuota(quota, usage, tenants::QuotaUsage{});
    if (!exceeded.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "tenant \"", id,
          "\": the new quota is below what the tenant uses now: ", absl::StrJoin(exceeded, "; ")));
    }
  }
  MANDANT_RETURN_IF_ERROR(
      conn.Query("UPDATE tenants SET display_name = $2, state = $3, quota_clusters = $4, "
                 "quota_nodes = $5, quota_vcpus = $6, quota_memory_mib = $7, "
                 "quota_storage_gib = $8, generation = generation + 1, update_time = now() "
                 "WHERE name = $1",
                 {std::string(id), changes.display_name.value_or(current.display_name()),
                  TenantStateText(changes.state.value_or(current.state())),
                  std::to_string(quota.max_clusters), std::to_string(quota.max_nodes),
                  std::to_string(quota.max_vcpus), std::to_string(quota.max_memory_mib),
                  std::to_string(quota.max_storage_gib)})
          .status());
  return Get(conn, id);
}

absl::Status TenantStore::Delete(Connection& conn, absl::string_view id, absl::string_view etag) {
  MANDANT_ASSIGN_OR_RETURN(v1::Tenant current, Get(conn, id, /*for_update=*/true));
  if (!etag.empty() && etag != current.etag()) {
    return EtagMismatch(id, current.etag(), etag);
  }
  MANDANT_ASSIGN_OR_RETURN(
      Rows clusters,
      conn.Query("SELECT c.name FROM clusters c JOIN tenants t ON t.id = c.tenant_id "
                 "WHERE t.name = $1 ORDER BY c.name",
                 {std::string(id)}));
  if (!clusters.empty()) {
    std::vector<std::string> names;
    for (int i = 0; i < clusters.size() && i < 20; ++i) {
      names.push_back(absl::StrCat("tenants/", id, "/clusters/", clusters.Text(i, 0)));
    }
    absl::Status st = absl::FailedPreconditionError(absl::StrCat(
        "tenant \"", id, "\" still has ", clusters.size(), " cluster(s): ",
        absl::StrJoin(names, ", "), clusters.size() > 20 ? ", ..." : "", "; delete them first"));
    google::rpc::PreconditionFailure failure;
    for (const std::string& name : names) {
      auto* v = failure.add_violations();
      v->set_type("CLUSTER_EXISTS");
      v->set_subject(name);
      v->set_description("delete the cluster before its tenant");
    }
    st.SetPayload("type.googleapis.com/google.rpc.PreconditionFailure",
                  absl::Cord(failure.SerializeAsString()));
    return st;
  }
  return conn.Query("DELETE FROM tenants WHERE name = $1", {std::string(id)}).status();
}

}  // namespace mandant::controller::store
