#ifndef MANDANT_CONTROLLER_STORE_HOST_STORE_H_
#define MANDANT_CONTROLLER_STORE_HOST_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "controller/store/edge_store.h"
#include "controller/store/pg.h"
#include "mandant/v1/agent.pb.h"
#include "mandant/v1/host.pb.h"

namespace mandant::controller::store {

// How long an agent's stream may be silent before its host is not Ready.
struct LeaseSettings {
  absl::Duration heartbeat_interval = absl::Seconds(10);
  absl::Duration lease_duration = absl::Seconds(40);
};

// A bootstrap token as stored: never the token itself in clear.
struct BootstrapTokenRow {
  int64_t host_id = 0;
  std::string host;  // the host id, e.g. "hv1"
  std::string sealed_token;
  absl::Time expire_time;
  std::optional<absl::Time> used_time;
  std::string enroll_request_id;
  std::string enroll_csr_sha256;
  std::string certificate_pem;
  std::string chain_pem;
};

// The session an agent's stream holds on its host.
struct AgentSession {
  int64_t host_id = 0;
  std::string host;
  std::string session_id;
};

// One tenant network a host needs: a tenant with a machine or an edge copy
// placed there.
struct TenantNetworkRow {
  std::string tenant;  // tenant id, e.g. "acme"
  v1::NetworkMode mode = v1::NETWORK_MODE_UNSPECIFIED;
  uint32_t segment_id = 0;  // VNI or VLAN ID
  // The other hosts with machines of the tenant, sorted.
  std::vector<std::string> peer_underlay_addresses;
  // The smallest underlay MTU reported by the hosts the tenant spans (this
  // one included); 0 when none reported one.
  int min_underlay_mtu = 0;
};

// A machine placed on a host, as its row holds it.
struct PlacedMachineRow {
  std::string machine_id;
  std::string tenant;   // tenant id
  std::string cluster;  // cluster id in the tenant
  std::string name;
  v1::Resources resources;
  std::string base_image;
  std::string base_image_sha256;
  std::string node_mac;
  v1::PowerState power_state = v1::POWER_STATE_ON;
  std::string sealed_seed;
  v1::NetworkMode mode = v1::NETWORK_MODE_UNSPECIFIED;  // its tenant's
  uint32_t segment_id = 0;
};

// Everything a host's desired state is derived from
// (controller/agents/host_spec.h), read in one snapshot.
struct HostSpecSources {
  int64_t spec_version = 0;
  // Of the last spec computed; empty when none was.
  std::string spec_sha256;
  std::vector<TenantNetworkRow> networks;
  // Ordered by machine_id.
  std::vector<PlacedMachineRow> machines;
  // The edge copies on the host, ordered by tenant.
  std::vector<EdgeSpecRow> edges;
};

// SQL for hosts, their bootstrap tokens, agent sessions and the rows each
// host's desired state is derived from. Every method runs on the caller's
// connection, inside the caller's transaction.
class HostStore {
 public:
  explicit HostStore(LeaseSettings lease = {}) : lease_(lease) {}

  // ALREADY_EXISTS when the id or the underlay address is taken.
  absl::StatusOr<v1::Host> Create(Connection& conn, absl::string_view id,
                                  absl::string_view underlay_address);
  // NOT_FOUND when there is no such host. Conditions are computed against
  // the database's clock.
  absl::StatusOr<v1::Host> Get(Connection& conn, absl::string_view id, bool for_update = false);
  // The host's row id, which other tables refer to. NOT_FOUND.
  absl::StatusOr<int64_t> InternalId(Connection& conn, absl::string_view id);
  // Hosts ordered by id after `after_id`, up to `limit`.
  absl::StatusOr<std::vector<v1::Host>> List(Connection& conn, absl::string_view after_id,
                                             int limit);
  // ABORTED when `etag` is set and differs; NOT_FOUND.
  absl::StatusOr<v1::Host> SetCordon(Connection& conn, absl::string_view id, absl::string_view etag,
                                     bool cordoned, absl::string_view reason);
  // FAILED_PRECONDITION (google.rpc.PreconditionFailure, one violation per
  // machine) while machines are placed on the host; ABORTED; NOT_FOUND.
  absl::Status Delete(Connection& conn, absl::string_view id, absl::string_view etag);

  // Replaces the host's bootstrap token.
  absl::Status PutBootstrapToken(Connection& conn, int64_t host_id, absl::string_view token_sha256,
                                 absl::string_view sealed_token, absl::string_view kek_id,
                                 absl::Time expire_time);
  // The token with this SHA-256, locked; NOT_FOUND when there is none.
  absl::StatusOr<BootstrapTokenRow> FindBootstrapToken(Connection& conn,
                                                       absl::string_view token_sha256);
  // The host's current token; NOT_FOUND when there is none.
  absl::StatusOr<BootstrapTokenRow> HostBootstrapToken(Connection& conn, int64_t host_id);
  // Marks the token used by an Enroll call and records what it returned;
  // forgets the sealed token. Records the host's new certificate and
  // returns the serial of the previous one (empty when none). Wakes the
  // host's stream at commit.
  absl::StatusOr<std::string> CompleteEnrollment(Connection& conn, int64_t host_id,
                                                 absl::string_view request_id,
                                                 absl::string_view csr_sha256,
                                                 absl::string_view certificate_serial,
                                                 absl::string_view certificate_pem,
                                                 absl::string_view chain_pem);
  // Records a renewed certificate.
  absl::Status SetCertificate(Connection& conn, int64_t host_id, absl::string_view serial);

  // Takes the host for a new stream (replacing any other) and records what
  // the agent reported. Its lease starts now.
  absl::StatusOr<AgentSession> Connect(Connection& conn, absl::string_view host,
                                       absl::string_view session_id, const v1::Hello& hello);
  // Records why a stream of the host was refused: the host shows
  // Connected=False with `reason` (e.g. "UnderlayAddressMismatch") and
  // `message` until a stream is accepted. NOT_FOUND.
  absl::Status RecordRefusal(Connection& conn, absl::string_view host, absl::string_view reason,
                             absl::string_view message);
  // Extends the lease. ABORTED when another stream took the host over;
  // NOT_FOUND when the host is gone.
  absl::Status Heartbeat(Connection& conn, const AgentSession& session);
  // Records what the agent observed in one statement: the lease (as
  // Heartbeat), the host's part, and each VM's part in its machine row, for
  // machines placed on this host only. Returns the (lower-case) machine ids
  // of the reported VMs that are not placed on the host and were not
  // written. `status` must have passed ValidateHostStatus
  // (controller/agents/agent_message_validation.h), which keeps it within
  // what the columns hold. ABORTED/NOT_FOUND as Heartbeat, writing nothing.
  absl::StatusOr<std::vector<std::string>> RecordStatus(Connection& conn,
                                                        const AgentSession& session,
                                                        const v1::HostStatus& status);
  // Ends the session if it still holds the host (the lease then runs out
  // at once: the host is not Ready).
  absl::Status Disconnect(Connection& conn, const AgentSession& session);

  // What the host's desired state is derived from; locks the host row.
  // Its reads must see one snapshot, so the caller's transaction must be
  // REPEATABLE READ (INTERNAL otherwise); retry its serialization failures.
  // NOT_FOUND when the host is gone.
  absl::StatusOr<HostSpecSources> SpecSources(Connection& conn, int64_t host_id);
  // Records the version and SHA-256 of the host's latest desired state.
  absl::Status SetSpecVersion(Connection& conn, int64_t host_id, int64_t version,
                              absl::string_view spec_sha256);

 private:
  absl::StatusOr<std::vector<v1::Host>> Select(Connection& conn, absl::string_view where,
                                               const std::vector<Param>& params,
                                               absl::string_view suffix);
  const LeaseSettings lease_;
};

std::string HostEtag(absl::string_view uid, int64_t generation);

// OK when `etag` is empty or `current`'s; ABORTED naming host `id` otherwise.
absl::Status CheckHostEtag(absl::string_view id, const v1::Host& current, absl::string_view etag);

// What a machine's sealed seed is bound to, so that a seed copied into
// another machine's row does not open.
std::string SeedAssociatedData(absl::string_view machine_id);

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_HOST_STORE_H_
