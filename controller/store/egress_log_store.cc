#include "controller/store/egress_log_store.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

#include "common/status_macros.h"

namespace mandant::controller::store {
namespace {

using google::protobuf::util::TimeUtil;
using nlohmann::json;

constexpr absl::string_view kPartitionPrefix = "egress_events_";
constexpr absl::string_view kDayFormat = "%Y%m%d";

// Serializes the creation and dropping of partitions among replicas and
// agent sessions; held until the transaction ends.
absl::Status LockPartitions(Connection& conn) {
  return conn.Query("SELECT pg_advisory_xact_lock(hashtext('mandant.egress_events.partitions'))")
      .status();
}

absl::Time StartOfUtcDay(absl::Time t) {
  const absl::CivilDay day = absl::ToCivilDay(t, absl::UTCTimeZone());
  return absl::FromCivil(day, absl::UTCTimeZone());
}

std::string TimestampText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S+00", t, absl::UTCTimeZone());
}

std::string MicrosText(absl::Time t) { return std::to_string(absl::ToUnixMicros(t)); }

}  // namespace

absl::Time ClampEgressEventTime(absl::Time time, absl::Time now) {
  return std::clamp(time, now - kMaxEgressEventAge, now);
}

std::string EgressPartitionName(absl::Time t) {
  return absl::StrCat(kPartitionPrefix, absl::FormatTime(kDayFormat, t, absl::UTCTimeZone()));
}

absl::StatusOr<EgressAppendResult> EgressLogStore::Append(
    Connection& conn, int64_t host_id,
    const google::protobuf::RepeatedPtrField<v1::EgressRecord>& records, absl::Time now) {
  EgressAppendResult result;
  if (records.empty()) return result;
  json rows = json::array();
  for (int i = 0; i < records.size(); ++i) {
    const v1::EgressRecord& r = records[i];
    const absl::Time seen = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(r.time()));
    rows.push_back({{"n", i},
                    {"namespace", r.namespace_()},
                    {"us", absl::ToUnixMicros(ClampEgressEventTime(seen, now))},
                    {"src", r.source_address()},
                    {"dst", r.destination_address()},
                    {"port", r.destination_port()},
                    {"proto", r.protocol_number()},
                    {"allowed", r.action() == v1::EGRESS_ACTION_ALLOW}});
  }
  // One statement: the host's edges, the events of their namespaces with
  // each source address's machine, and the namespaces that are not theirs.
  // Rows are inserted in the batch's order (oldest first), so that events
  // of the same microsecond get ids, the cursor's tie-breaker, in the order
  // the edge saw them.
  MANDANT_ASSIGN_OR_RETURN(
      Rows out,
      conn.Query(
          "WITH s AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS s(n integer, namespace text, "
          "us bigint, src text, dst text, port integer, proto smallint, allowed boolean)), "
          "placed AS (SELECT e.namespace, i.tenant_id FROM edge_instances i "
          "JOIN edges e ON e.tenant_id = i.tenant_id WHERE i.host_id = $1), "
          "ins AS (INSERT INTO egress_events (tenant_id, time, host_id, source_address, "
          "machine_id, destination_address, destination_port, protocol, allowed) "
          "SELECT p.tenant_id, 'epoch'::timestamptz + s.us * interval '1 microsecond', $1, "
          "s.src::inet, a.machine_id, s.dst::inet, s.port, s.proto, s.allowed "
          "FROM s JOIN placed p ON p.namespace = s.namespace "
          "LEFT JOIN tenant_node_addresses a ON a.tenant_id = p.tenant_id "
          "AND a.address = s.src::inet AND a.purpose = 'MACHINE' ORDER BY s.n RETURNING 1) "
          "SELECT (SELECT count(*) FROM ins), "
          "(SELECT coalesce(json_agg(DISTINCT s.namespace), '[]')::text FROM s "
          "WHERE s.namespace NOT IN (SELECT namespace FROM placed))",
          {std::to_string(host_id), rows.dump(-1, ' ', false, json::error_handler_t::replace)}));
  result.stored = out.Int64(0, 0);
  result.dropped = records.size() - result.stored;
  for (const json& n : json::parse(out.Text(0, 1), nullptr, false)) {
    if (n.is_string()) result.foreign_namespaces.push_back(n.get<std::string>());
  }
  return result;
}

absl::StatusOr<std::vector<std::string>> EgressLogStore::EnsurePartitions(Connection& conn,
                                                                          absl::Time now,
                                                                          int days_ahead) {
  MANDANT_RETURN_IF_ERROR(LockPartitions(conn));
  MANDANT_ASSIGN_OR_RETURN(
      Rows existing,
      conn.Query("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                 "WHERE i.inhparent = 'egress_events'::regclass"));
  absl::flat_hash_set<std::string> have;
  for (int i = 0; i < existing.size(); ++i) have.insert(std::string(existing.Text(i, 0)));
  std::vector<std::string> created;
  const absl::Time last = StartOfUtcDay(now) + absl::Hours(24) * days_ahead;
  for (absl::Time day = StartOfUtcDay(now - kMaxEgressEventAge); day <= last;
       day += absl::Hours(24)) {
    const std::string name = EgressPartitionName(day);
    if (have.contains(name)) continue;
    // Names and bounds come from dates alone, never from input.
    MANDANT_RETURN_IF_ERROR(conn.Exec(absl::StrCat("CREATE TABLE IF NOT EXISTS ", name,
                                                   " PARTITION OF egress_events FOR VALUES "
                                                   "FROM ('",
                                                   TimestampText(day), "') TO ('",
                                                   TimestampText(day + absl::Hours(24)), "')")));
    created.push_back(name);
  }
  return created;
}

absl::StatusOr<std::vector<std::string>> EgressLogStore::DropPartitionsBefore(Connection& conn,
                                                                              absl::Time cutoff) {
  MANDANT_RETURN_IF_ERROR(LockPartitions(conn));
  MANDANT_ASSIGN_OR_RETURN(
      Rows existing,
      conn.Query("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                 "WHERE i.inhparent = 'egress_events'::regclass ORDER BY 1"));
  std::vector<std::string> dropped;
  for (int i = 0; i < existing.size(); ++i) {
    absl::string_view name = existing.Text(i, 0);
    absl::string_view day_text = name;
    int year = 0, month = 0, mday = 0;
    // Only partitions of the daily form are ours to drop. (absl::ParseTime's
    // %Y would read all eight digits as the year.)
    if (!absl::ConsumePrefix(&day_text, kPartitionPrefix) || day_text.size() != 8 ||
        !absl::SimpleAtoi(day_text.substr(0, 4), &year) ||
        !absl::SimpleAtoi(day_text.substr(4, 2), &month) ||
        !absl::SimpleAtoi(day_text.substr(6, 2), &mday)) {
      continue;
    }
    const absl::Time day = absl::FromCivil(absl::CivilDay(year, month, mday), absl::UTCTimeZone());
    const std::string canonical = EgressPartitionName(day);
    // A name that is not a real date (CivilDay normalises 20200230).
    if (canonical != name) continue;
    if (day + absl::Hours(24) > cutoff) continue;
    MANDANT_RETURN_IF_ERROR(conn.Exec(absl::StrCat("DROP TABLE ", canonical)));
    dropped.push_back(canonical);
  }
  return dropped;
}

absl::StatusOr<std::vector<EgressEventRow>> EgressLogStore::List(Connection& conn,
                                                                 const EgressLogQuery& query) {
  MANDANT_ASSIGN_OR_RETURN(Rows tenant,
                           conn.Query("SELECT id FROM tenants WHERE name = $1", {query.tenant}));
  if (tenant.empty()) {
    return absl::NotFoundError(absl::StrCat("tenant \"", query.tenant, "\" not found"));
  }
  const std::string tenant_id(tenant.Text(0, 0));
  Param since, allowed, after_time, after_id;
  if (query.since) since = MicrosText(*query.since);
  if (query.allowed) allowed = *query.allowed ? "true" : "false";
  if (query.after) {
    after_time = MicrosText(query.after->time);
    after_id = std::to_string(query.after->id);
  }
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query(
          absl::StrCat(
              "SELECT ev.id, ", MicrosSql("ev.time"),
              ", host(ev.source_address), coalesce(c.name, ''), coalesce(m.name, ''), "
              "host(ev.destination_address), ev.destination_port, ev.protocol, ev.allowed, "
              "coalesce(h.name, '') "
              "FROM egress_events ev "
              "LEFT JOIN machines m ON m.machine_id = ev.machine_id AND m.tenant_id = ev.tenant_id "
              "LEFT JOIN clusters c ON c.id = m.cluster_id "
              "LEFT JOIN hosts h ON h.id = ev.host_id "
              "WHERE ev.tenant_id = $1 "
              "AND ($2::bigint IS NULL OR ev.time >= 'epoch'::timestamptz + $2 * interval '1 "
              "microsecond') "
              "AND ($3::boolean IS NULL OR ev.allowed = $3) "
              "AND ($4::bigint IS NULL OR (ev.time, ev.id) < "
              "('epoch'::timestamptz + $4 * interval '1 microsecond', $5::bigint)) "
              "ORDER BY ev.time DESC, ev.id DESC LIMIT $6"),
          {tenant_id, since, allowed, after_time, after_id, std::to_string(query.limit)}));
  std::vector<EgressEventRow> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    EgressEventRow row;
    row.id = rows.Int64(i, 0);
    row.time = absl::FromUnixMicros(rows.Int64(i, 1));
    v1::EgressEvent& e = row.event;
    *e.mutable_time() = TimeUtil::MicrosecondsToTimestamp(rows.Int64(i, 1));
    e.set_source_address(std::string(rows.Text(i, 2)));
    if (!rows.Text(i, 3).empty() && !rows.Text(i, 4).empty()) {
      e.set_machine(absl::StrCat("tenants/", query.tenant, "/clusters/", rows.Text(i, 3),
                                 "/machines/", rows.Text(i, 4)));
    }
    e.set_destination_address(std::string(rows.Text(i, 5)));
    e.set_destination_port(static_cast<uint32_t>(rows.Int64(i, 6)));
    e.set_protocol_number(static_cast<uint32_t>(rows.Int64(i, 7)));
    e.set_action(rows.Bool(i, 8) ? v1::EGRESS_ACTION_ALLOW : v1::EGRESS_ACTION_DENY);
    if (!rows.Text(i, 9).empty()) e.set_host(absl::StrCat("hosts/", rows.Text(i, 9)));
    out.push_back(std::move(row));
  }
  return out;
}

absl::StatusOr<int64_t> EgressLogStore::DroppedEvents(Connection& conn, absl::string_view tenant) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows, conn.Query("SELECT least((SELECT coalesce(sum(i.egress_events_dropped), 0) "
                            "FROM edge_instances i WHERE i.tenant_id = t.id), "
                            "9223372036854775807)::bigint "
                            "FROM tenants t WHERE t.name = $1",
                            {std::string(tenant)}));
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("tenant \"", tenant, "\" not found"));
  return rows.Int64(0, 0);
}

}  // namespace mandant::controller::store
