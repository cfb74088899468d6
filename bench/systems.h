#ifndef MANDANT_BENCH_SYSTEMS_H_
#define MANDANT_BENCH_SYSTEMS_H_

// The three systems the load generator compares, each doing the same tenant
// work:
//
//   mandantd  TenantService over gRPC + TLS with a bearer token (the product)
//   store     controller::store::TenantStore on a controller::store::Database
//             pool, in this process: mandantd without gRPC, TLS and auth
//   libpq     the same SQL text sent straight to PostgreSQL with libpq, one
//             connection per thread: what PostgreSQL itself can do
//
// and the workloads:
//
//   get     GetTenant of a random seeded tenant
//   list    ListTenants, page_size 50, walking the pages and starting over
//   create  CreateTenant of a fresh id with a request_id, i.e. the whole
//           transaction: idempotency key, name check, VNI and two CIDR
//           allocations, inserts, read back, audit row
//   health  grpc.health.v1.Health/Check on mandantd only: no auth, no
//           database, so the floor any RPC of this server pays for gRPC and
//           TLS on this machine

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "bench/load_runner.h"
#include "controller/store/database.h"
#include "controller/store/tenant_store.h"

namespace mandant::bench {

enum class Workload { kGet, kList, kCreate, kHealth };
absl::string_view WorkloadName(Workload w);

// Tenant ids of one run. Every id starts with a random run tag, so runs
// against a shared server never collide and can be cleaned up by prefix.
class TenantIds {
 public:
  TenantIds(std::string tag, int seeded) : tag_(std::move(tag)), seeded_(seeded) {}

  const std::string& tag() const { return tag_; }
  int seeded() const { return seeded_; }
  // The i-th seeded tenant: "<tag>-s-00042".
  std::string Seeded(int i) const;
  // A new id for a create by `system` ("m", "t" or "r"): "<tag>-m-17".
  // Thread-safe.
  std::string Fresh(absl::string_view system);
  // SQL LIKE pattern of every id Fresh made for `system`.
  std::string FreshPattern(absl::string_view system) const;
  // How many ids Fresh has handed out for any system.
  int64_t fresh_count() const { return next_.load(); }

 private:
  const std::string tag_;
  const int seeded_;
  std::atomic<int64_t> next_{0};
};

// A random run tag: "lg" and four [a-z0-9].
std::string NewRunTag();

// How the gRPC load reaches mandantd.
enum class ChannelMode {
  kShared,     // one channel (one HTTP/2 connection) for all threads, a stub each
  kPerThread,  // a channel and connection of its own for every thread
};

struct GrpcTarget {
  std::string address;      // host:port
  std::string server_name;  // TLS name to check; empty: the host of `address`
  std::string ca_pem;
  std::string token;
  ChannelMode mode = ChannelMode::kPerThread;
};

// The SQL identity the baselines record in idempotency keys and audit rows,
// as mandantd does for its principal.
inline constexpr absl::string_view kBaselinePrincipal = "provider-admin:mandant-loadgen";

// mandantd over gRPC. Workers of kPerThread connect before returning.
WorkerFactory MandantdWorkers(const GrpcTarget& target, Workload workload, TenantIds* ids);

// Whether the store and libpq baselines can run `workload` (not kHealth).
bool HasBaseline(Workload workload);

// TenantStore over `db` (owned by the caller, shared by the workers).
WorkerFactory StoreWorkers(controller::store::Database* db,
                           const controller::store::NetworkPools& pools, Workload workload,
                           TenantIds* ids);

// libpq, one connection per worker to `conninfo`.
WorkerFactory LibpqWorkers(const std::string& conninfo,
                           const controller::store::NetworkPools& pools, Workload workload,
                           TenantIds* ids);

// Creates tenants ids->Seeded(0..seeded-1) through mandantd with `threads`
// parallel clients. The first failure is returned.
absl::Status SeedTenants(const GrpcTarget& target, TenantIds* ids, int threads);

// Deletes tenants through mandantd's DeleteTenant; NOT_FOUND is not an error.
absl::Status DeleteTenantsByRpc(const GrpcTarget& target, const std::vector<std::string>& ids);

// Checks that the baselines' SQL runs against this schema and returns what
// mandantd returns: the libpq Get of ids->Seeded(0) has the uid that
// mandantd's GetTenant reports. FAILED_PRECONDITION naming the difference.
absl::Status CheckBaselinesAgree(const GrpcTarget& target, const std::string& conninfo,
                                 const TenantIds& ids);

}  // namespace mandant::bench

#endif  // MANDANT_BENCH_SYSTEMS_H_
