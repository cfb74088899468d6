#ifndef MANDANT_CONTROLLER_STORE_EGRESS_LOG_STORE_H_
#define MANDANT_CONTROLLER_STORE_EGRESS_LOG_STORE_H_

// SQL for the egress log (docs/edge.md, "Egress log"): the events the edges'
// agents relay, stored in `egress_events`, one partition per UTC day
// ("egress_events_YYYYMMDD"), and read back newest first. Every method runs
// on the caller's connection; the partition methods must run inside a
// transaction (they take a transaction-level advisory lock so that replicas
// and agent sessions creating the same partition wait for each other).
// Stateless and thread-compatible: one instance may serve many threads, each
// with its own connection.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/repeated_ptr_field.h"

#include "controller/store/pg.h"
#include "mandant/v1/agent.pb.h"
#include "mandant/v1/edge.pb.h"

namespace mandant::controller::store {

// How far back an agent may date an event. Agents' clocks are untrusted (a
// host may be compromised or simply wrong): an event is stored with its time
// clamped to [now - kMaxEgressEventAge, now], so it can neither hide in a
// partition about to be dropped nor claim to come from the future. An agent
// relays at least every second; an hour covers any reconnect backlog.
inline constexpr absl::Duration kMaxEgressEventAge = absl::Hours(1);

// `time` clamped to [now - kMaxEgressEventAge, now].
absl::Time ClampEgressEventTime(absl::Time time, absl::Time now);

// What Append did with a batch.
struct EgressAppendResult {
  int64_t stored = 0;
  // Records of namespaces that are not an edge placed on the host, and
  // those namespaces (each once), for the caller to count and log.
  int64_t dropped = 0;
  std::vector<std::string> foreign_namespaces;
};

// One page of a tenant's egress log, newest first.
struct EgressLogQuery {
  std::string tenant;  // tenant id
  // Only events at or after this time.
  std::optional<absl::Time> since;
  // Only allowed (true) or denied (false) events.
  std::optional<bool> allowed;
  // Start after this event (the last of the previous page).
  struct Cursor {
    absl::Time time;
    int64_t id = 0;
  };
  std::optional<Cursor> after;
  int limit = 100;
};

// One stored event with its cursor position.
struct EgressEventRow {
  int64_t id = 0;
  absl::Time time;
  v1::EgressEvent event;
};

class EgressLogStore {
 public:
  // Stores the events of `records` (validated by ValidateEgressEventBatch,
  // controller/agents/agent_message_validation.h) that the agent of
  // `host_id` may report: those of a namespace of an edge placed on that
  // host; the others are counted as dropped. Each is stored for the edge's
  // tenant, with its time clamped (ClampEgressEventTime against `now`) and
  // its machine when the source address is one of the tenant's machines'.
  // One statement: the batch is stored whole or not at all. A PostgreSQL
  // check_violation when no partition covers a time (EnsurePartitions was
  // not run for it).
  absl::StatusOr<EgressAppendResult> Append(
      Connection& conn, int64_t host_id,
      const google::protobuf::RepeatedPtrField<v1::EgressRecord>& records, absl::Time now);

  // Creates the daily partitions from the UTC day of now - kMaxEgressEventAge
  // through `days_ahead` days after the day of `now`, unless they exist.
  // Returns the names of those it created.
  absl::StatusOr<std::vector<std::string>> EnsurePartitions(Connection& conn, absl::Time now,
                                                            int days_ahead);
  // Drops the daily partitions whose whole day lies before `cutoff` (never
  // deleting rows one by one). Returns the names of those it dropped.
  absl::StatusOr<std::vector<std::string>> DropPartitionsBefore(Connection& conn,
                                                                absl::Time cutoff);

  // Events of the tenant as `query` selects, newest first (time, then id,
  // descending), at most query.limit. NOT_FOUND for an unknown tenant.
  // Events name their machine ("tenants/{t}/clusters/{c}/machines/{m}")
  // while it exists and their host ("hosts/{h}") while it exists.
  absl::StatusOr<std::vector<EgressEventRow>> List(Connection& conn, const EgressLogQuery& query);

  // The sum of the tenant's edge copies' egress_events_dropped. NOT_FOUND
  // for an unknown tenant.
  absl::StatusOr<int64_t> DroppedEvents(Connection& conn, absl::string_view tenant);
};

// The partition that holds the UTC day of `t`: "egress_events_YYYYMMDD".
std::string EgressPartitionName(absl::Time t);

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_EGRESS_LOG_STORE_H_
