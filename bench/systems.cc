#include "bench/systems.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/client_unary_call.h"
#include "grpcpp/impl/rpc_method.h"
#include <libpq-fe.h>
#include <openssl/sha.h>

#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/uuid.h"
#include "controller/store/idempotency.h"
#include "controller/store/pg.h"
#include "controller/store/tenant_store.h"
#include "mandant/v1/tenant.grpc.pb.h"
#include "tenants/cidr.h"
#include "tenants/quota.h"

namespace mandant::bench {
namespace {

namespace store = controller::store;

constexpr int kListPageSize = 50;
constexpr absl::string_view kDisplayName = "loadgen tenant";
constexpr auto kRpcDeadline = std::chrono::seconds(30);

// The SQL the baselines send: the tenant SELECT comes from the store itself;
// the others are copies of the text in controller/store/idempotency.cc and
// controller/api/rpc_call.cc, and CheckBaselinesAgree catches a schema drift.

struct Statement {
  const char* name;
  std::string sql;
};

std::vector<Statement> RawStatements() {
  return {
      {"get", absl::StrCat(store::kTenantSelectSql, "WHERE t.name = $1")},
      {"list", absl::StrCat(store::kTenantSelectSql,
                            "WHERE t.name > $1 AND ($2 = '' OR t.state = $2) "
                            "AND ($3 = '' OR t.name = $3) ORDER BY t.name LIMIT $4")},
      {"idem_lookup",
       "SELECT request_sha256, response FROM idempotency_keys "
       "WHERE principal = $1 AND method = $2 AND request_id = $3 "
       "AND create_time > now() - interval '24 hours'"},
      {"idem_expire",
       "DELETE FROM idempotency_keys WHERE principal = $1 AND method = $2 AND "
       "request_id = $3 AND create_time <= now() - interval '24 hours'"},
      {"idem_claim",
       "INSERT INTO idempotency_keys (principal, method, request_id, request_sha256, response) "
       "VALUES ($1, $2, $3, $4, '')"},
      {"idem_complete",
       "UPDATE idempotency_keys SET response = $4 "
       "WHERE principal = $1 AND method = $2 AND request_id = $3"},
      {"name_taken", "SELECT 1 FROM tenants WHERE name = $1"},
      {"free_vni",
       "SELECT s FROM generate_series($1::int, $2::int) s "
       "WHERE NOT EXISTS (SELECT 1 FROM tenants WHERE vni = s) LIMIT 1"},
      {"cidrs_in", "SELECT cidr::text FROM tenant_cidrs WHERE cidr && $1::cidr"},
      {"insert_tenant",
       "INSERT INTO tenants (uid, name, display_name, state, network_mode, vni, vlan_id, "
       "quota_clusters, quota_nodes, quota_vcpus, quota_memory_mib, quota_storage_gib) "
       "VALUES ($1, $2, $3, 'ACTIVE', $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id"},
      {"insert_cidrs",
       "INSERT INTO tenant_cidrs (tenant_id, purpose, cidr) "
       "VALUES ($1, 'NODE', $2::cidr), ($1, 'STORAGE', $3::cidr)"},
      {"audit",
       "INSERT INTO audit_log (principal, role, method, object, request_id, code, message) "
       "VALUES ($1, $2, $3, $4, $5, $6, $7)"},
  };
}

absl::Status FromGrpc(const grpc::Status& st) {
  if (st.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
}

std::string Sha256(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

// The backoff of controller::store::Database::Transact, so that the libpq
// baseline waits as long as mandantd after a conflict.
absl::Duration Backoff(int attempt, absl::BitGen& rng) {
  double base_ms = std::min(1000.0, 5.0 * (1 << std::min(attempt, 8)));
  return absl::Milliseconds(base_ms * absl::Uniform(rng, 0.5, 1.0));
}
constexpr int kMaxAttempts = 20;

std::shared_ptr<grpc::Channel> MakeChannel(const GrpcTarget& t, bool own_connection) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = t.ca_pem;
  grpc::ChannelArguments args;
  if (!t.server_name.empty()) args.SetSslTargetNameOverride(t.server_name);
  // Channels with equal arguments share one connection through gRPC's global
  // subchannel pool; a local pool gives this channel a connection of its own.
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(t.address, grpc::SslCredentials(ssl), args);
}

absl::Status AwaitConnected(grpc::Channel& channel, const std::string& address) {
  if (channel.WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(15))) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat("cannot connect to mandantd at ", address, " within 15 s (TLS or address?)"));
}

void PrepareContext(grpc::ClientContext& ctx, const std::string& bearer) {
  ctx.AddMetadata("authorization", bearer);
  ctx.set_deadline(std::chrono::system_clock::now() + kRpcDeadline);
}

// ---------------------------------------------------------------- mandantd

class GrpcWorker : public Worker {
 public:
  GrpcWorker(std::shared_ptr<grpc::Channel> channel, const GrpcTarget& target, Workload workload,
             TenantIds* ids)
      : channel_(channel),
        health_method_("/grpc.health.v1.Health/Check", grpc::internal::RpcMethod::NORMAL_RPC),
        stub_(v1::TenantService::NewStub(channel)),
        bearer_(absl::StrCat("Bearer ", target.token)),
        workload_(workload),
        ids_(ids) {}

  absl::Status Once() override {
    grpc::ClientContext ctx;
    PrepareContext(ctx, bearer_);
    switch (workload_) {
      case Workload::kGet: {
        v1::GetTenantRequest req;
        req.set_name(
            absl::StrCat("tenants/", ids_->Seeded(absl::Uniform(rng_, 0, ids_->seeded()))));
        v1::Tenant resp;
        return FromGrpc(stub_->GetTenant(&ctx, req, &resp));
      }
      case Workload::kList: {
        v1::ListTenantsRequest req;
        req.set_page_size(kListPageSize);
        req.set_page_token(page_token_);
        v1::ListTenantsResponse resp;
        grpc::Status st = stub_->ListTenants(&ctx, req, &resp);
        if (st.ok()) page_token_ = resp.next_page_token();
        return FromGrpc(st);
      }
      case Workload::kCreate: {
        v1::CreateTenantRequest req;
        req.set_tenant_id(ids_->Fresh("m"));
        req.mutable_tenant()->set_display_name(std::string(kDisplayName));
        req.set_request_id(NewUuid());
        v1::Tenant resp;
        return FromGrpc(stub_->CreateTenant(&ctx, req, &resp));
      }
      case Workload::kHealth: {
        // An empty grpc.health.v1.HealthCheckRequest: the server's overall
        // status. Sent as bytes, which needs no generated health stub.
        grpc::Slice empty("", 0);
        grpc::ByteBuffer req(&empty, 1);
        grpc::ByteBuffer resp;
        return FromGrpc(grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
            channel_.get(), health_method_, &ctx, req, &resp));
      }
    }
    return absl::InternalError("unknown workload");
  }

 private:
  const std::shared_ptr<grpc::Channel> channel_;
  const grpc::internal::RpcMethod health_method_;
  std::unique_ptr<v1::TenantService::Stub> stub_;
  const std::string bearer_;
  const Workload workload_;
  TenantIds* const ids_;
  absl::BitGen rng_;
  std::string page_token_;
};

// ---------------------------------------------------------------- store

class StoreWorker : public Worker {
 public:
  StoreWorker(store::Database* db, std::shared_ptr<const store::TenantStore> tenant_store,
              Workload workload, TenantIds* ids)
      : db_(db), store_(std::move(tenant_store)), workload_(workload), ids_(ids) {}

  absl::Status Once() override {
    switch (workload_) {
      case Workload::kGet: {
        const std::string id = ids_->Seeded(absl::Uniform(rng_, 0, ids_->seeded()));
        return db_->Run("get tenant", [&](store::Connection& conn) -> absl::Status {
          MANDANT_ASSIGN_OR_RETURN(v1::Tenant t, Store().Get(conn, id));
          return absl::OkStatus();
        });
      }
      case Workload::kList:
        return db_->Run("list tenants", [&](store::Connection& conn) -> absl::Status {
          MANDANT_ASSIGN_OR_RETURN(
              std::vector<v1::Tenant> rows,
              Store().List(conn, after_, v1::TENANT_STATE_UNSPECIFIED, "", kListPageSize + 1));
          v1::ListTenantsResponse page;
          const bool more = static_cast<int>(rows.size()) > kListPageSize;
          if (more) rows.pop_back();
          for (v1::Tenant& t : rows) *page.add_tenants() = std::move(t);
          after_ = more ? page.tenants().rbegin()->name().substr(8) : "";  // "tenants/"
          return absl::OkStatus();
        });
      case Workload::kCreate:
        return Create();
      case Workload::kHealth:
        break;
    }
    return absl::InternalError("no baseline for this workload");
  }

 private:
  // TenantStore's methods are not const but touch nothing but the
  // connection; the store is shared like mandantd shares its one.
  store::TenantStore& Store() { return const_cast<store::TenantStore&>(*store_); }

  // What TenantServiceImpl::Create runs in its transaction.
  absl::Status Create() {
    v1::CreateTenantRequest request;
    request.set_tenant_id(ids_->Fresh("t"));
    request.mutable_tenant()->set_display_name(std::string(kDisplayName));
    request.set_request_id(NewUuid());
    store::NewTenant tenant;
    tenant.id = request.tenant_id();
    tenant.display_name = request.tenant().display_name();
    tenant.quota = tenants::DefaultQuota();
    const store::IdempotencyKey key(std::string(kBaselinePrincipal), "CreateTenant",
                                    request.request_id(), request);
    int attempt = 0;
    v1::Tenant response;
    return db_->Transact("create tenant", [&](store::Connection& conn) -> absl::Status {
      MANDANT_ASSIGN_OR_RETURN(auto replay, key.Lookup(conn));
      if (replay) return absl::InternalError("fresh request_id found in idempotency_keys");
      MANDANT_RETURN_IF_ERROR(key.Claim(conn));
      const uint64_t spread = attempt++ == 0 ? 0 : (absl::Uniform<uint64_t>(rng_) | 1);
      MANDANT_ASSIGN_OR_RETURN(response, Store().Create(conn, tenant, spread));
      MANDANT_RETURN_IF_ERROR(key.Complete(conn, response));
      return conn
          .Query(
              "INSERT INTO audit_log (principal, role, method, object, request_id, code, "
              "message) VALUES ($1, $2, $3, $4, $5, $6, $7)",
              {std::string(kBaselinePrincipal), "PROVIDER_ADMIN", "CreateTenant",
               absl::StrCat("tenants/", tenant.id), request.request_id(), "OK", ""})
          .status();
    });
  }

  store::Database* const db_;
  const std::shared_ptr<const store::TenantStore> store_;
  const Workload workload_;
  TenantIds* const ids_;
  absl::BitGen rng_;
  std::string after_;
};

// ---------------------------------------------------------------- libpq

struct PgResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, PgResultFree>;
struct PgConnFree {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using ConnPtr = std::unique_ptr<PGconn, PgConnFree>;

class LibpqWorker : public Worker {
 public:
  static absl::StatusOr<std::unique_ptr<Worker>> Connect(const std::string& conninfo,
                                                         const store::NetworkPools& pools,
                                                         Workload workload, TenantIds* ids) {
    ConnPtr conn(PQconnectdb(conninfo.c_str()));
    if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
      return absl::UnavailableError(
          absl::StrCat("libpq baseline: cannot connect to PostgreSQL: ",
                       conn ? PQerrorMessage(conn.get()) : "out of memory"));
    }
    std::unique_ptr<LibpqWorker> w(new LibpqWorker(std::move(conn), pools, workload, ids));
    for (const Statement& s : RawStatements()) {
      ResultPtr r(PQprepare(w->conn_.get(), s.name, s.sql.c_str(), 0, nullptr));
      if (r == nullptr || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        return absl::FailedPreconditionError(absl::StrCat(
            "libpq baseline: cannot prepare \"", s.name, "\": ", PQerrorMessage(w->conn_.get())));
      }
    }
    return std::unique_ptr<Worker>(std::move(w));
  }

  absl::Status Once() override {
    switch (workload_) {
      case Workload::kGet: {
        const std::string id = ids_->Seeded(absl::Uniform(rng_, 0, ids_->seeded()));
        MANDANT_ASSIGN_OR_RETURN(ResultPtr r, Run("get", {id.c_str()}));
        if (PQntuples(r.get()) != 1) return absl::NotFoundError(absl::StrCat("tenant ", id));
        Touch(r.get());
        return absl::OkStatus();
      }
      case Workload::kList: {
        const std::string limit = std::to_string(kListPageSize + 1);
        MANDANT_ASSIGN_OR_RETURN(ResultPtr r, Run("list", {after_.c_str(), "", "", limit.c_str()}));
        Touch(r.get());
        const int n = PQntuples(r.get());
        after_ = n > kListPageSize ? PQgetvalue(r.get(), kListPageSize - 1, 0) : "";
        return absl::OkStatus();
      }
      case Workload::kCreate:
        return Create();
      case Workload::kHealth:
        break;
    }
    return absl::InternalError("no baseline for this workload");
  }

 private:
  LibpqWorker(ConnPtr conn, const store::NetworkPools& pools, Workload workload, TenantIds* ids)
      : conn_(std::move(conn)), pools_(pools), workload_(workload), ids_(ids) {}

  // Reads every value, as a client decoding the rows would.
  void Touch(const PGresult* r) {
    size_t bytes = 0;
    for (int i = 0; i < PQntuples(r); ++i) {
      for (int j = 0; j < PQnfields(r); ++j) bytes += PQgetlength(r, i, j);
    }
    touched_ += bytes;
  }

  absl::StatusOr<ResultPtr> Run(const char* name, std::initializer_list<const char*> params) {
    std::vector<const char*> values(params);
    ResultPtr r(PQexecPrepared(conn_.get(), name, static_cast<int>(values.size()), values.data(),
                               nullptr, nullptr, 0));
    return Check(std::move(r), name);
  }

  absl::StatusOr<ResultPtr> Check(ResultPtr r, absl::string_view what) {
    sqlstate_.clear();
    constraint_.clear();
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return r;
    if (r != nullptr) {
      const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
      const char* constraint = PQresultErrorField(r.get(), PG_DIAG_CONSTRAINT_NAME);
      sqlstate_ = state ? state : "";
      constraint_ = constraint ? constraint : "";
    }
    return absl::AbortedError(absl::StrCat("libpq baseline: ", what, ": SQLSTATE ", sqlstate_, ": ",
                                           PQerrorMessage(conn_.get())));
  }

  absl::Status Exec(const char* sql) {
    return Check(ResultPtr(PQexec(conn_.get(), sql)), sql).status();
  }

  // The conflicts Database::Transact retries (IsRetryable): a concurrent
  // create took the same VNI (unique violation, not on the name) or an
  // overlapping CIDR (exclusion violation), or serialization and deadlocks.
  bool Retryable() const {
    if (sqlstate_ == store::kUniqueViolation) return constraint_ != "tenants_name_key";
    return sqlstate_ == store::kExclusionViolation || sqlstate_ == store::kSerializationFailure ||
           sqlstate_ == store::kDeadlockDetected;
  }

  absl::StatusOr<std::string> FreeVni(uint64_t spread) {
    const store::SegmentRange range = pools_.vni;
    const uint64_t size = uint64_t{range.last} - range.first + 1;
    const uint32_t start = range.first + static_cast<uint32_t>(spread % size);
    for (auto [lo, hi] : {std::pair<uint32_t, uint32_t>{start, range.last},
                          std::pair<uint32_t, uint32_t>{range.first, start}}) {
      const std::string a = std::to_string(lo), b = std::to_string(hi);
      MANDANT_ASSIGN_OR_RETURN(ResultPtr r, Run("free_vni", {a.c_str(), b.c_str()}));
      if (PQntuples(r.get()) > 0) return std::string(PQgetvalue(r.get(), 0, 0));
    }
    return absl::ResourceExhaustedError("libpq baseline: VNI pool exhausted");
  }

  absl::StatusOr<std::string> FreeCidr(const tenants::Cidr& supernet, uint64_t spread) {
    const std::string net = supernet.ToString();
    MANDANT_ASSIGN_OR_RETURN(ResultPtr r, Run("cidrs_in", {net.c_str()}));
    std::vector<tenants::Cidr> taken;
    taken.reserve(PQntuples(r.get()));
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      MANDANT_ASSIGN_OR_RETURN(tenants::Cidr c, tenants::Cidr::Parse(PQgetvalue(r.get(), i, 0)));
      taken.push_back(c);
    }
    const int len = pools_.default_prefix_length;
    const uint64_t blocks = supernet.SubnetCount(len);
    auto found =
        tenants::FindFreeBlock(supernet, len, std::move(taken), blocks == 0 ? 0 : spread % blocks);
    if (!found) return absl::ResourceExhaustedError(absl::StrCat("libpq baseline: ", net, " full"));
    return found->ToString();
  }

  absl::Status CreateOnce(const std::string& id, const std::string& request_id,
                          const std::string& request_sha, uint64_t spread) {
    const std::string principal(kBaselinePrincipal);
    const char* method = "CreateTenant";
    MANDANT_RETURN_IF_ERROR(Exec("BEGIN"));
    MANDANT_ASSIGN_OR_RETURN(ResultPtr lookup,
                             Run("idem_lookup", {principal.c_str(), method, request_id.c_str()}));
    if (PQntuples(lookup.get()) > 0) return absl::InternalError("fresh request_id already used");
    MANDANT_RETURN_IF_ERROR(
        Run("idem_expire", {principal.c_str(), method, request_id.c_str()}).status());
    MANDANT_RETURN_IF_ERROR(
        Run("idem_claim", {principal.c_str(), method, request_id.c_str(), request_sha.c_str()})
            .status());
    MANDANT_ASSIGN_OR_RETURN(ResultPtr taken, Run("name_taken", {id.c_str()}));
    if (PQntuples(taken.get()) > 0) return absl::AlreadyExistsError(id);
    MANDANT_ASSIGN_OR_RETURN(std::string vni, FreeVni(spread));
    MANDANT_ASSIGN_OR_RETURN(std::string node, FreeCidr(pools_.node_supernet, spread));
    MANDANT_ASSIGN_OR_RETURN(std::string storage, FreeCidr(pools_.storage_supernet, spread));
    const tenants::QuotaLimits q = tenants::DefaultQuota();
    const std::string uid = NewUuid();
    const std::string qc = std::to_string(q.max_clusters), qn = std::to_string(q.max_nodes),
                      qv = std::to_string(q.max_vcpus), qm = std::to_string(q.max_memory_mib),
                      qs = std::to_string(q.max_storage_gib);
    const std::string display(kDisplayName);
    MANDANT_ASSIGN_OR_RETURN(
        ResultPtr inserted, Run("insert_tenant", {uid.c_str(), id.c_str(), display.c_str(), "VXLAN",
                                                  vni.c_str(), nullptr, qc.c_str(), qn.c_str(),
                                                  qv.c_str(), qm.c_str(), qs.c_str()}));
    const std::string row_id = PQgetvalue(inserted.get(), 0, 0);
    MANDANT_RETURN_IF_ERROR(
        Run("insert_cidrs", {row_id.c_str(), node.c_str(), storage.c_str()}).status());
    MANDANT_ASSIGN_OR_RETURN(ResultPtr row, Run("get", {id.c_str()}));
    // The stored response: the row's values, about the size of the
    // serialized Tenant that mandantd stores.
    std::string response;
    for (int j = 0; j < PQnfields(row.get()); ++j) response += PQgetvalue(row.get(), 0, j);
    const std::string response_hex = store::ByteaParam(response);
    MANDANT_RETURN_IF_ERROR(
        Run("idem_complete", {principal.c_str(), method, request_id.c_str(), response_hex.c_str()})
            .status());
    const std::string object = absl::StrCat("tenants/", id);
    MANDANT_RETURN_IF_ERROR(Run("audit", {principal.c_str(), "PROVIDER_ADMIN", method,
                                          object.c_str(), request_id.c_str(), "OK", ""})
                                .status());
    return Exec("COMMIT");
  }

  absl::Status Create() {
    const std::string id = ids_->Fresh("r");
    const std::string request_id = NewUuid();
    const std::string request_sha = store::ByteaParam(Sha256(absl::StrCat(id, request_id)));
    absl::Status st;
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      if (attempt > 0) absl::SleepFor(Backoff(attempt, rng_));
      st = CreateOnce(id, request_id, request_sha,
                      attempt == 0 ? 0 : (absl::Uniform<uint64_t>(rng_) | 1));
      if (st.ok()) return st;
      const bool retry = Retryable();
      (void)Exec("ROLLBACK");
      if (!retry) return st;
    }
    return st;
  }

  ConnPtr conn_;
  const store::NetworkPools pools_;
  const Workload workload_;
  TenantIds* const ids_;
  absl::BitGen rng_;
  std::string after_;
  std::string sqlstate_;
  std::string constraint_;
  size_t touched_ = 0;
};

}  // namespace

absl::string_view WorkloadName(Workload w) {
  switch (w) {
    case Workload::kGet:
      return "get";
    case Workload::kList:
      return "list";
    case Workload::kCreate:
      return "create";
    case Workload::kHealth:
      return "health";
  }
  return "?";
}

std::string TenantIds::Seeded(int i) const { return absl::StrFormat("%s-s-%05d", tag_, i); }

std::string TenantIds::Fresh(absl::string_view system) {
  return absl::StrCat(tag_, "-", system, "-", next_.fetch_add(1));
}

std::string TenantIds::FreshPattern(absl::string_view system) const {
  return absl::StrCat(tag_, "-", system, "-%");
}

std::string NewRunTag() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  absl::BitGen rng;
  std::string tag = "lg";
  for (int i = 0; i < 4; ++i) tag.push_back(kAlphabet[absl::Uniform(rng, 0, 36)]);
  return tag;
}

bool HasBaseline(Workload workload) { return workload != Workload::kHealth; }

WorkerFactory MandantdWorkers(const GrpcTarget& target, Workload workload, TenantIds* ids) {
  auto shared = std::make_shared<std::shared_ptr<grpc::Channel>>();
  return [target, workload, ids, shared](int index) -> absl::StatusOr<std::unique_ptr<Worker>> {
    std::shared_ptr<grpc::Channel> channel;
    if (target.mode == ChannelMode::kShared) {
      if (index == 0 || *shared == nullptr) {
        *shared = MakeChannel(target, /*own_connection=*/false);
        MANDANT_RETURN_IF_ERROR(AwaitConnected(**shared, target.address));
      }
      channel = *shared;
    } else {
      channel = MakeChannel(target, /*own_connection=*/true);
      MANDANT_RETURN_IF_ERROR(AwaitConnected(*channel, target.address));
    }
    return std::unique_ptr<Worker>(new GrpcWorker(std::move(channel), target, workload, ids));
  };
}

WorkerFactory StoreWorkers(store::Database* db, const store::NetworkPools& pools, Workload workload,
                           TenantIds* ids) {
  auto tenant_store = std::make_shared<const store::TenantStore>(pools);
  return [db, tenant_store, workload, ids](int) -> absl::StatusOr<std::unique_ptr<Worker>> {
    return std::unique_ptr<Worker>(new StoreWorker(db, tenant_store, workload, ids));
  };
}

WorkerFactory LibpqWorkers(const std::string& conninfo, const store::NetworkPools& pools,
                           Workload workload, TenantIds* ids) {
  return [conninfo, pools, workload, ids](int) {
    return LibpqWorker::Connect(conninfo, pools, workload, ids);
  };
}

absl::Status SeedTenants(const GrpcTarget& target, TenantIds* ids, int threads) {
  std::shared_ptr<grpc::Channel> channel = MakeChannel(target, /*own_connection=*/false);
  MANDANT_RETURN_IF_ERROR(AwaitConnected(*channel, target.address));
  const std::string bearer = absl::StrCat("Bearer ", target.token);
  absl::Mutex mu;
  absl::Status first;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto stub = v1::TenantService::NewStub(channel);
      for (int i = t; i < ids->seeded(); i += threads) {
        {
          absl::MutexLock lock(&mu);
          if (!first.ok()) return;
        }
        grpc::ClientContext ctx;
        PrepareContext(ctx, bearer);
        v1::CreateTenantRequest req;
        req.set_tenant_id(ids->Seeded(i));
        req.mutable_tenant()->set_display_name(absl::StrCat("loadgen seed ", i));
        req.set_request_id(NewUuid());
        v1::Tenant resp;
        grpc::Status st = stub->CreateTenant(&ctx, req, &resp);
        if (!st.ok()) {
          absl::MutexLock lock(&mu);
          if (first.ok()) {
            first = absl::Status(FromGrpc(st).code(),
                                 absl::StrCat("seeding tenant ", req.tenant_id(),
                                              " through mandantd: ", st.error_message()));
          }
          return;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  return first;
}

absl::Status DeleteTenantsByRpc(const GrpcTarget& target, const std::vector<std::string>& ids) {
  std::shared_ptr<grpc::Channel> channel = MakeChannel(target, /*own_connection=*/false);
  auto stub = v1::TenantService::NewStub(channel);
  const std::string bearer = absl::StrCat("Bearer ", target.token);
  for (const std::string& id : ids) {
    grpc::ClientContext ctx;
    PrepareContext(ctx, bearer);
    v1::DeleteTenantRequest req;
    req.set_name(absl::StrCat("tenants/", id));
    google::protobuf::Empty resp;
    grpc::Status st = stub->DeleteTenant(&ctx, req, &resp);
    if (!st.ok() && st.error_code() != grpc::StatusCode::NOT_FOUND) {
      return absl::Status(FromGrpc(st).code(),
                          absl::StrCat("deleting tenant ", id, ": ", st.error_message()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckBaselinesAgree(const GrpcTarget& target, const std::string& conninfo,
                                 const TenantIds& ids) {
  const std::string id = ids.Seeded(0);
  std::shared_ptr<grpc::Channel> channel = MakeChannel(target, /*own_connection=*/false);
  auto stub = v1::TenantService::NewStub(channel);
  grpc::ClientContext ctx;
  PrepareContext(ctx, absl::StrCat("Bearer ", target.token));
  v1::GetTenantRequest req;
  req.set_name(absl::StrCat("tenants/", id));
  v1::Tenant tenant;
  MANDANT_RETURN_IF_ERROR(FromGrpc(stub->GetTenant(&ctx, req, &tenant)));

  ConnPtr conn(PQconnectdb(conninfo.c_str()));
  if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("--pg_conninfo: cannot connect: ",
                                               conn ? PQerrorMessage(conn.get()) : "no memory"));
  }
  const std::string sql = absl::StrCat(store::kTenantSelectSql, "WHERE t.name = $1");
  const char* params[] = {id.c_str()};
  ResultPtr r(PQexecParams(conn.get(), sql.c_str(), 1, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    return absl::FailedPreconditionError(
        absl::StrCat("the baselines' tenant SELECT fails on this database (schema changed? update "
                     "bench/systems.cc): ",
                     PQerrorMessage(conn.get())));
  }
  if (PQntuples(r.get()) != 1 || PQnfields(r.get()) != store::kTenantSelectColumns ||
      tenant.uid() != PQgetvalue(r.get(), 0, 1)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--pg_conninfo does not reach mandantd's database: tenant ", id, " has uid ",
                     tenant.uid(), " in mandantd but ",
                     PQntuples(r.get()) == 1 ? PQgetvalue(r.get(), 0, 1) : "no row", " there"));
  }
  return absl::OkStatus();
}

}  // namespace mandant::bench
