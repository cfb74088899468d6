#ifndef MANDANT_CONTROLLER_STORE_TENANT_STORE_H_
#define MANDANT_CONTROLLER_STORE_TENANT_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "controller/store/addresses.h"
#include "controller/store/pg.h"
#include "mandant/v1/tenant.pb.h"
#include "tenants/cidr.h"
#include "tenants/quota.h"

namespace mandant::controller::store {

struct SegmentRange {
  uint32_t first = 0;
  uint32_t last = 0;
};

// Where tenant networks come from; read from the controller's configuration.
struct NetworkPools {
  SegmentRange vni{10000, 19999};
  std::optional<SegmentRange> vlan;  // VLAN mode only when set
  tenants::Cidr node_supernet = tenants::Cidr::Parse("10.64.0.0/12").value();
  tenants::Cidr storage_supernet = tenants::Cidr::Parse("10.96.0.0/12").value();
  int default_prefix_length = 24;
  // Where egress and endpoint addresses come from (edge.external_networks);
  // new tenants get their egress address from the first. Empty: no edges.
  std::vector<ExternalNetwork> external_networks;
};

// Checks a pool configuration: ranges inside their limits, supernets disjoint
// and large enough for the default prefix length. Errors name the key.
absl::Status ValidateNetworkPools(const NetworkPools& pools);

// What a new tenant row holds besides its network.
struct NewTenant {
  std::string id;
  std::string display_name;
  tenants::QuotaLimits quota;
  v1::NetworkMode mode = v1::NETWORK_MODE_VXLAN;
  int node_prefix_length = 0;
  int storage_prefix_length = 0;
};

// Changes to a tenant; unset members stay as they are.
struct TenantChanges {
  std::optional<std::string> display_name;
  std::optional<v1::TenantState> state;
  // Quota fields set here replace the tenant's; unset ones stay.
  std::optional<v1::TenantQuota> quota;
};

// SQL for tenants. Every method runs on the caller's connection, inside the
// caller's transaction, so allocations, audit rows and idempotency records
// commit together.
class TenantStore {
 public:
  explicit TenantStore(NetworkPools pools) : pools_(std::move(pools)) {}

  // Inserts the tenant and allocates its segment and CIDRs, reserves its
  // gateway address, gives it the default egress policy and, when an
  // external network is configured, its egress address. `spread` > 0
  // starts the search for free resources at a random place (used on retries
  // so that concurrent creators stop picking the same block). ALREADY_EXISTS
  // when the id is taken; RESOURCE_EXHAUSTED naming the pool (or external
  // network) when it is full;
  // a retryable status (IsRetryable) when a concurrent create took the same
  // segment or block.
  absl::StatusOr<v1::Tenant> Create(Connection& conn, const NewTenant& tenant, uint64_t spread);

  // NOT_FOUND when there is no such tenant.
  absl::StatusOr<v1::Tenant> Get(Connection& conn, absl::string_view id, bool for_update = false);

  // Tenants ordered by id, after `after_id`, optionally only those in `state`
  // or only tenant `only_id`. Returns up to `limit` rows.
  absl::StatusOr<std::vector<v1::Tenant>> List(Connection& conn, absl::string_view after_id,
                                               v1::TenantState state, absl::string_view only_id,
                                               int limit);

  // Applies `changes` and bumps the generation. ABORTED when `etag` is not
  // empty and differs; FAILED_PRECONDITION when a quota falls below usage.
  absl::StatusOr<v1::Tenant> Update(Connection& conn, absl::string_view id, absl::string_view etag,
                                    const TenantChanges& changes);

  // Deletes the tenant and frees its network. FAILED_PRECONDITION naming
  // the clusters while it has any; ABORTED on an etag mismatch.
  absl::Status Delete(Connection& conn, absl::string_view id, absl::string_view etag);

  const NetworkPools& pools() const { return pools_; }

 private:
  absl::StatusOr<uint32_t> AllocateSegment(Connection& conn, v1::NetworkMode mode, uint64_t spread);
  absl::StatusOr<tenants::Cidr> AllocateCidr(Connection& conn, const tenants::Cidr& supernet,
                                             int prefix_length, absl::string_view pool_name,
                                             uint64_t spread);

  const NetworkPools pools_;
};

// The SELECT list of every tenant read (22 columns, TenantFromRow's order),
// ending in "FROM tenants t "; callers append the WHERE clause. Public so
// that bench/ sends the very same query in its libpq baseline.
inline constexpr int kTenantSelectColumns = 22;
inline constexpr absl::string_view kTenantSelectSql =
    "SELECT t.name, t.uid, t.display_name, t.state, t.generation, t.network_mode, "
    "coalesce(t.vni, 0), coalesce(t.vlan_id, 0), "
    "t.quota_clusters, t.quota_nodes, t.quota_vcpus, t.quota_memory_mib, t.quota_storage_gib, "
    "t.usage_clusters, t.usage_nodes, t.usage_vcpus, t.usage_memory_mib, t.usage_storage_gib, "
    "(SELECT c.cidr::text FROM tenant_cidrs c WHERE c.tenant_id = t.id AND c.purpose = 'NODE'), "
    "(SELECT c.cidr::text FROM tenant_cidrs c WHERE c.tenant_id = t.id AND c.purpose = 'STORAGE'), "
    "(extract(epoch FROM t.create_time) * 1000000)::bigint, "
    "(extract(epoch FROM t.update_time) * 1000000)::bigint "
    "FROM tenants t ";

// The tenants.state column <-> the API enum. Unknown text is UNSPECIFIED;
// every state but SUSPENDED is stored as "ACTIVE".
v1::TenantState TenantStateFromText(absl::string_view text);
std::string TenantStateText(v1::TenantState state);
// The tenants.network_mode column <-> the API enum; VXLAN unless "VLAN".
v1::NetworkMode NetworkModeFromText(absl::string_view text);
std::string NetworkModeText(v1::NetworkMode mode);

// The etag of a tenant row: changes with every generation and differs
// between a deleted tenant and a new one of the same name.
std::string TenantEtag(absl::string_view uid, int64_t generation);

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_TENANT_STORE_H_
