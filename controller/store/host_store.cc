#include "controller/store/host_store.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "nlohmann/json.hpp"

#include "common/status_macros.h"
#include "common/uuid.h"
#include "controller/store/database.h"
#include "controller/store/pki_store.h"

namespace mandant::controller::store {
namespace {

using google::protobuf::util::TimeUtil;
using nlohmann::json;

std::string DurationParam(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Microseconds(d), " microseconds");
}

// Columns of a host row, in the order HostFromRow reads them.
const std::string& HostColumns() {
  static const std::string* columns = new std::string(absl::StrCat(
      "h.name, h.uid, host(h.underlay_address), h.cordoned, h.cordon_reason, h.capacity_vcpus, "
      "h.capacity_memory_mib, h.capacity_disk_gib, h.base_images::text, h.agent_version, "
      "h.libvirt_version, h.qemu_version, h.certificate_serial IS NOT NULL, ",
      MicrosSql("h.last_seen_time"),
      ", h.spec_version, h.applied_spec_version, h.host_errors::text, ", MicrosSql("h.create_time"),
      ", ", MicrosSql("h.update_time"), ", h.generation, h.id, ",
      "(SELECT coalesce(json_agg(json_build_object('tenant', t.name, 'cluster', c.name, "
      "'machine', m.name, 'machine_id', m.machine_id, 'vcpus', m.vcpus, "
      "'memory_mib', m.memory_mib, 'disk_gib', m.disk_gib) ORDER BY t.name, c.name, m.name), "
      "'[]')::text FROM machines m JOIN tenants t ON t.id = m.tenant_id "
      "JOIN clusters c ON c.id = m.cluster_id WHERE m.host_id = h.id), ",
      MicrosSql("h.connect_time"), ", ", MicrosSql("h.disconnect_time"), ", ",
      MicrosSql("h.lease_expire_time"), ", ", MicrosSql("now()"), ", h.session_id IS NOT NULL, ",
      MicrosSql("h.enroll_time"), ", h.refusal_reason, h.refusal_message, ",
      MicrosSql("h.refusal_time")));
  return *columns;
}

google::protobuf::Timestamp TimestampAt(const Rows& r, int i, int col) {
  return TimeUtil::MicrosecondsToTimestamp(r.Int64(i, col));
}

void AddCondition(v1::Host& host, absl::string_view type, bool ok, absl::string_view reason,
                  absl::string_view message, const Rows& r, int i, int time_col) {
  v1::Condition* c = host.add_conditions();
  c->set_type(std::string(type));
  c->set_status(ok ? v1::CONDITION_STATUS_TRUE : v1::CONDITION_STATUS_FALSE);
  c->set_reason(std::string(reason));
  c->set_message(std::string(message));
  if (time_col >= 0 && !r.IsNull(i, time_col)) {
    *c->mutable_last_transition_time() = TimestampAt(r, i, time_col);
  }
  c->set_observed_generation(host.generation());
}

v1::Host HostFromRow(const Rows& r, int i) {
  v1::Host h;
  h.set_name(absl::StrCat("hosts/", r.Text(i, 0)));
  h.set_uid(std::string(r.Text(i, 1)));
  h.set_underlay_address(std::string(r.Text(i, 2)));
  h.set_cordoned(r.Bool(i, 3));
  h.set_cordon_reason(std::string(r.Text(i, 4)));
  h.mutable_capacity()->set_vcpus(static_cast<int32_t>(r.Int64(i, 5)));
  h.mutable_capacity()->set_memory_mib(r.Int64(i, 6));
  h.mutable_capacity()->set_disk_gib(r.Int64(i, 7));
  for (const json& image : json::parse(r.Text(i, 8), nullptr, false)) {
    if (!image.is_object()) continue;
    v1::BaseImage* b = h.add_base_images();
    b->set_name(image.value("name", ""));
    b->set_sha256(image.value("sha256", ""));
    b->set_size_bytes(image.value("size_bytes", int64_t{0}));
  }
  h.set_agent_version(std::string(r.Text(i, 9)));
  h.set_libvirt_version(std::string(r.Text(i, 10)));
  h.set_qemu_version(std::string(r.Text(i, 11)));
  const bool enrolled = r.Bool(i, 12);
  if (!r.IsNull(i, 13)) *h.mutable_last_seen_time() = TimestampAt(r, i, 13);
  h.set_spec_version(r.Int64(i, 14));
  h.set_applied_spec_version(r.Int64(i, 15));
  std::vector<std::string> host_errors;
  for (const json& e : json::parse(r.Text(i, 16), nullptr, false)) {
    if (e.is_string()) host_errors.push_back(e.get<std::string>());
  }
  *h.mutable_create_time() = TimestampAt(r, i, 17);
  *h.mutable_update_time() = TimestampAt(r, i, 18);
  h.set_generation(r.Int64(i, 19));
  for (const json& a : json::parse(r.Text(i, 21), nullptr, false)) {
    v1::HostAllocation* alloc = h.add_allocations();
    alloc->set_cluster(
        absl::StrCat("tenants/", a.value("tenant", ""), "/clusters/", a.value("cluster", "")));
    alloc->set_machine(a.value("machine", ""));
    alloc->set_machine_id(a.value("machine_id", ""));
    alloc->mutable_resources()->set_vcpus(a.value("vcpus", 0));
    alloc->mutable_resources()->set_memory_mib(a.value("memory_mib", int64_t{0}));
    alloc->mutable_resources()->set_disk_gib(a.value("disk_gib", int64_t{0}));
    v1::Resources* sum = h.mutable_allocated();
    sum->set_vcpus(sum->vcpus() + alloc->resources().vcpus());
    sum->set_memory_mib(sum->memory_mib() + alloc->resources().memory_mib());
    sum->set_disk_gib(sum->disk_gib() + alloc->resources().disk_gib());
  }
  const bool has_session = r.Bool(i, 26);
  const bool lease_valid = !r.IsNull(i, 24) && r.Int64(i, 24) > r.Int64(i, 25);
  const bool connected = has_session && lease_valid;

  AddCondition(h, "Enrolled", enrolled, enrolled ? "CertificateIssued" : "AwaitingEnrollment",
               enrolled ? "the agent holds a client certificate"
                        : "waiting for the agent to enroll with its bootstrap token",
               r, i, 27);
  std::string reason = "Connected";
  std::string message = "the agent's stream is open";
  int time_col = 22;
  if (!connected) {
    time_col = 23;
    if (!r.Text(i, 28).empty()) {
      reason = std::string(r.Text(i, 28));
      message = std::string(r.Text(i, 29));
      time_col = 30;
    } else if (r.IsNull(i, 22)) {
      reason = "NeverConnected";
      message = "the agent has not connected yet";
    } else if (has_session) {
      reason = "LeaseExpired";
      message = "no message from the agent within its lease; its VMs' state is unknown";
      time_col = 24;
    } else {
      reason = "Disconnected";
      message = "the agent's stream is closed";
    }
  }
  AddCondition(h, "Connected", connected, reason, message, r, i, time_col);
  bool ready = connected;
  if (!connected) {
    reason = "NotConnected";
    message = "the agent is not connected";
  } else if (!host_errors.empty()) {
    ready = false;
    reason = "HostErrors";
    message = absl::StrCat("the agent reports: ", host_errors.front());
  } else if (h.applied_spec_version() < h.spec_version()) {
    ready = false;
    reason = "SpecNotApplied";
    message = absl::StrCat("the agent has applied spec version ", h.applied_spec_version(), " of ",
                           h.spec_version());
  } else {
    reason = "Ready";
    message = "connected and the latest spec is applied";
  }
  AddCondition(h, "Ready", ready, reason, message, r, i, time_col);
  h.set_etag(HostEtag(h.uid(), h.generation()));
  return h;
}

v1::NetworkMode NetworkModeFromText(absl::string_view text) {
  return text == "VLAN" ? v1::NETWORK_MODE_VLAN : v1::NETWORK_MODE_VXLAN;
}

std::string VmStateText(v1::VmState s) {
  std::string name = v1::VmState_Name(s);
  return name.empty() ? "UNSPECIFIED" : name.substr(sizeof("VM_STATE_") - 1);
}

std::string GuestPhaseText(v1::GuestPhase p) {
  std::string name = v1::GuestPhase_Name(p);
  return name.empty() ? "UNSPECIFIED" : name.substr(sizeof("GUEST_PHASE_") - 1);
}

BootstrapTokenRow TokenFromRow(const Rows& r) {
  BootstrapTokenRow t;
  t.host_id = r.Int64(0, 0);
  t.host = std::string(r.Text(0, 1));
  if (!r.IsNull(0, 2)) t.sealed_token = r.Bytes(0, 2);
  t.expire_time = absl::FromUnixMicros(r.Int64(0, 3));
  if (!r.IsNull(0, 4)) t.used_time = absl::FromUnixMicros(r.Int64(0, 4));
  t.enroll_request_id = std::string(r.Text(0, 5));
  if (!r.IsNull(0, 6)) t.enroll_csr_sha256 = r.Bytes(0, 6);
  t.certificate_pem = std::string(r.Text(0, 7));
  t.chain_pem = std::string(r.Text(0, 8));
  return t;
}

const std::string& TokenColumns() {
  static const std::string* columns = new std::string(
      absl::StrCat("b.host_id, h.name, b.sealed_token, ", MicrosSql("b.expire_time"), ", ",
                   MicrosSql("b.used_time"),
                   ", coalesce(b.enroll_request_id::text, ''), b.enroll_csr_sha256, "
                   "coalesce(b.certificate_pem, ''), coalesce(b.chain_pem, '') "
                   "FROM host_bootstrap_tokens b JOIN hosts h ON h.id = b.host_id"));
  return *columns;
}

}  // namespace

absl::Status CheckHostEtag(absl::string_view id, const v1::Host& current, absl::string_view etag) {
  if (etag.empty() || etag == current.etag()) return absl::OkStatus();
  return absl::AbortedError(absl::StrCat("host \"", id, "\" was changed concurrently (etag ",
                                         current.etag(), ", request had ", etag,
                                         "); read it again and retry"));
}

std::string HostEtag(absl::string_view uid, int64_t generation) {
  return absl::StrCat(uid.substr(0, 8), "-", generation);
}

absl::StatusOr<std::vector<v1::Host>> HostStore::Select(Connection& conn, absl::string_view where,
                                                        const std::vector<Param>& params,
                                                        absl::string_view suffix) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query(absl::StrCat("SELECT ", HostColumns(), " FROM hosts h WHERE ", where, " ", suffix),
                 params));
  std::vector<v1::Host> hosts;
  hosts.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) hosts.push_back(HostFromRow(rows, i));
  return hosts;
}

absl::StatusOr<v1::Host> HostStore::Create(Connection& conn, absl::string_view id,
                                           absl::string_view underlay_address) {
  MANDANT_ASSIGN_OR_RETURN(Rows taken,
                           conn.Query("SELECT name, host(underlay_address) FROM hosts "
                                      "WHERE name = $1 OR underlay_address = $2::inet",
                                      {std::string(id), std::string(underlay_address)}));
  for (int i = 0; i < taken.size(); ++i) {
    if (taken.Text(i, 0) == id) {
      return absl::AlreadyExistsError(absl::StrCat("host \"", id, "\" already exists"));
    }
    return absl::AlreadyExistsError(absl::StrCat("underlay_address ", underlay_address,
                                                 " is already host \"", taken.Text(i, 0),
                                                 "\"'s; every host needs its own"));
  }
  auto inserted =
      conn.Query("INSERT INTO hosts (uid, name, underlay_address) VALUES ($1, $2, $3::inet)",
                 {NewUuid(), std::string(id), std::string(underlay_address)});
  if (!inserted.ok()) {
    auto pg = PgErrorOf(inserted.status());
    if (pg && pg->sqlstate == kUniqueViolation) {
      return MarkRetryable(absl::AbortedError(
          absl::StrCat("host \"", id, "\" or its underlay address was taken concurrently")));
    }
    return inserted.status();
  }
  return Get(conn, id);
}

absl::StatusOr<v1::Host> HostStore::Get(Connection& conn, absl::string_view id, bool for_update) {
  MANDANT_ASSIGN_OR_RETURN(auto hosts, Select(conn, "h.name = $1", {std::string(id)},
                                              for_update ? "FOR UPDATE OF h" : ""));
  if (hosts.empty()) return absl::NotFoundError(absl::StrCat("host \"", id, "\" not found"));
  return std::move(hosts.front());
}

absl::StatusOr<int64_t> HostStore::InternalId(Connection& conn, absl::string_view id) {
  MANDANT_ASSIGN_OR_RETURN(Rows rows,
                           conn.Query("SELECT id FROM hosts WHERE name = $1", {std::string(id)}));
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("host \"", id, "\" not found"));
  return rows.Int64(0, 0);
}

absl::StatusOr<std::vector<v1::Host>> HostStore::List(Connection& conn, absl::string_view after_id,
                                                      int limit) {
  return Select(conn, "h.name > $1", {std::string(after_id), std::to_string(limit)},
                "ORDER BY h.name LIMIT $2::int");
}

absl::StatusOr<v1::Host> HostStore::SetCordon(Connection& conn, absl::string_view id,
                                              absl::string_view etag, bool cordoned,
                                              absl::string_view reason) {
  MANDANT_ASSIGN_OR_RETURN(v1::Host current, Get(conn, id, /*for_update=*/true));
  MANDANT_RETURN_IF_ERROR(CheckHostEtag(id, current, etag));
  if (current.cordoned() == cordoned && current.cordon_reason() == reason) return current;
  MANDANT_RETURN_IF_ERROR(
      conn.Query("UPDATE hosts SET cordoned = $2, cordon_reason = $3, "
                 "generation = generation + 1, update_time = now() WHERE name = $1",
                 {std::string(id), cordoned ? "true" : "false", std::string(reason)})
          .status());
  return Get(conn, id);
}

absl::Status HostStore::Delete(Connection& conn, absl::string_view id, absl::string_view etag) {
  MANDANT_ASSIGN_OR_RETURN(v1::Host current, Get(conn, id, /*for_update=*/true));
  MANDANT_RETURN_IF_ERROR(CheckHostEtag(id, current, etag));
  if (current.allocations_size() > 0) {
    google::rpc::PreconditionFailure failure;
    for (const v1::HostAllocation& a : current.allocations()) {
      auto* v = failure.add_violations();
      v->set_type("MACHINE_PLACED");
      v->set_subject(absl::StrCat(a.cluster(), "/machines/", a.machine()));
      v->set_description(absl::StrCat("machine ", a.machine_id(), " is placed on the host"));
    }
    absl::Status st = absl::FailedPreconditionError(absl::StrCat(
        "host \"", id, "\" still has ", current.allocations_size(),
        " machine(s) placed on it; cordon it and wait until their clusters move them"));
    st.SetPayload("type.googleapis.com/google.rpc.PreconditionFailure",
                  absl::Cord(failure.SerializeAsString()));
    return st;
  }
  // Wakes the host's stream, on whichever replica holds it: it finds the
  // host gone and ends.
  return conn
      .Query(
          "WITH gone AS (DELETE FROM hosts WHERE name = $1 RETURNING id) "
          "SELECT pg_notify('mandant_host_spec', id::text) FROM gone",
          {std::string(id)})
      .status();
}

absl::Status HostStore::PutBootstrapToken(Connection& conn, int64_t host_id,
                                          absl::string_view token_sha256,
                                          absl::string_view sealed_token, absl::string_view kek_id,
                                          absl::Time expire_time) {
  return conn
      .Query(
          "INSERT INTO host_bootstrap_tokens (host_id, token_sha256, sealed_token, kek_id, "
          "expire_time) VALUES ($1, $2::bytea, $3::bytea, $4, $5::timestamptz) "
          "ON CONFLICT (host_id) DO UPDATE SET token_sha256 = EXCLUDED.token_sha256, "
          "sealed_token = EXCLUDED.sealed_token, kek_id = EXCLUDED.kek_id, "
          "expire_time = EXCLUDED.expire_time, create_time = now(), used_time = NULL, "
          "enroll_request_id = NULL, enroll_csr_sha256 = NULL, certificate_pem = NULL, "
          "chain_pem = NULL",
          {std::to_string(host_id), ByteaParam(token_sha256), ByteaParam(sealed_token),
           std::string(kek_id), TimestampParam(expire_time)})
      .status();
}

absl::StatusOr<BootstrapTokenRow> HostStore::FindBootstrapToken(Connection& conn,
                                                                absl::string_view token_sha256) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows, conn.Query(absl::StrCat("SELECT ", TokenColumns(),
                                         " WHERE b.token_sha256 = $1::bytea FOR UPDATE OF b"),
                            {ByteaParam(token_sha256)}));
  if (rows.empty()) return absl::NotFoundError("no such bootstrap token");
  return TokenFromRow(rows);
}

absl::StatusOr<BootstrapTokenRow> HostStore::HostBootstrapToken(Connection& conn, int64_t host_id) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows, conn.Query(absl::StrCat("SELECT ", TokenColumns(), " WHERE b.host_id = $1"),
                            {std::to_string(host_id)}));
  if (rows.empty()) return absl::NotFoundError("the host has no bootstrap token");
  return TokenFromRow(rows);
}

absl::StatusOr<std::string> HostStore::CompleteEnrollment(Connection& conn, int64_t host_id,
                                                          absl::string_view request_id,
                                                          absl::string_view csr_sha256,
                                                          absl::string_view certificate_serial,
                                                          absl::string_view certificate_pem,
                                                          absl::string_view chain_pem) {
  MANDANT_RETURN_IF_ERROR(
      conn.Query("UPDATE host_bootstrap_tokens SET used_time = now(), sealed_token = NULL, "
                 "kek_id = NULL, enroll_request_id = $2, enroll_csr_sha256 = $3::bytea, "
                 "certificate_pem = $4, chain_pem = $5 WHERE host_id = $1",
                 {std::to_string(host_id),
                  request_id.empty() ? Param() : Param(std::string(request_id)),
                  ByteaParam(csr_sha256), std::string(certificate_pem), std::string(chain_pem)})
          .status());
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query("UPDATE hosts h SET certificate_serial = $2, enroll_time = now() "
                 "FROM (SELECT certificate_serial FROM hosts WHERE id = $1 FOR UPDATE) old "
                 "WHERE h.id = $1 RETURNING coalesce(old.certificate_serial, '')",
                 {std::to_string(host_id), std::string(certificate_serial)}));
  if (rows.empty()) return absl::NotFoundError("the host was deleted");
  // Wakes a stream still open with the previous certificate, which is
  // revoked now: it ends at its next spec.
  MANDANT_RETURN_IF_ERROR(
      conn.Query("SELECT pg_notify('mandant_host_spec', $1)", {std::to_string(host_id)}).status());
  return std::string(rows.Text(0, 0));
}

absl::Status HostStore::SetCertificate(Connection& conn, int64_t host_id,
                                       absl::string_view serial) {
  return conn
      .Query("UPDATE hosts SET certificate_serial = $2 WHERE id = $1",
             {std::to_string(host_id), std::string(serial)})
      .status();
}

absl::StatusOr<AgentSession> HostStore::Connect(Connection& conn, absl::string_view host,
                                                absl::string_view session_id,
                                                const v1::Hello& hello) {
  json images = json::array();
  for (const v1::BaseImage& b : hello.base_images()) {
    images.push_back({{"name", b.name()}, {"sha256", b.sha256()}, {"size_bytes", b.size_bytes()}});
  }
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query(
          "UPDATE hosts h SET session_id = $2::uuid, connect_time = now(), "
          "last_seen_time = now(), lease_expire_time = now() + $3::interval, "
          "refusal_reason = '', refusal_message = '', refusal_time = NULL, "
          "capacity_vcpus = $4, capacity_memory_mib = $5, capacity_disk_gib = $6, "
          "underlay_mtu = $7, agent_version = $8, libvirt_version = $9, "
          "qemu_version = $10, base_images = $11::jsonb "
          "FROM (SELECT underlay_mtu AS old_mtu FROM hosts WHERE name = $1 FOR UPDATE) o "
          "WHERE name = $1 RETURNING id, o.old_mtu <> $7",
          {std::string(host), std::string(session_id), DurationParam(lease_.lease_duration),
           std::to_string(hello.capacity().vcpus()), std::to_string(hello.capacity().memory_mib()),
           std::to_string(hello.capacity().disk_gib()), std::to_string(hello.underlay_mtu()),
           hello.agent_version(), hello.libvirt_version(), hello.qemu_version(), images.dump()}));
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("host \"", host, "\" not found"));
  AgentSession session{rows.Int64(0, 0), std::string(host), std::string(session_id)};
  if (!rows.Bool(0, 1)) return session;
  // The MTU of tenant networks is the smallest over the hosts they span, so
  // peers' specs change with this host's.
  MANDANT_RETURN_IF_ERROR(
      conn.Query("SELECT pg_notify('mandant_host_spec', m2.host_id::text) FROM "
                 "(SELECT DISTINCT m2.host_id FROM machines m1 JOIN machines m2 "
                 "ON m2.tenant_id = m1.tenant_id WHERE m1.host_id = $1 "
                 "AND m2.host_id IS NOT NULL) m2",
                 {std::to_string(session.host_id)})
          .status());
  return session;
}

absl::Status HostStore::RecordRefusal(Connection& conn, absl::string_view host,
                                      absl::string_view reason, absl::string_view message) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows, conn.Query("UPDATE hosts SET refusal_reason = $2, refusal_message = $3, "
                            "refusal_time = now() WHERE name = $1 RETURNING id",
                            {std::string(host), std::string(reason), std::string(message)}));
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("host \"", host, "\" not found"));
  return absl::OkStatus();
}

absl::Status HostStore::Heartbeat(Connection& conn, const AgentSession& session) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query("UPDATE hosts SET last_seen_time = now(), "
                 "lease_expire_time = now() + $3::interval WHERE id = $1 AND session_id = $2::uuid "
                 "RETURNING id",
                 {std::to_string(session.host_id), session.session_id,
                  DurationParam(lease_.lease_duration)}));
  if (!rows.empty()) return absl::OkStatus();
  MANDANT_ASSIGN_OR_RETURN(Rows exists, conn.Query("SELECT 1 FROM hosts WHERE id = $1",
                                                   {std::to_string(session.host_id)}));
  if (exists.empty()) {
    return absl::NotFoundError(absl::StrCat("host \"", session.host, "\" was deleted"));
  }
  return absl::AbortedError(
      absl::StrCat("a newer stream of host \"", session.host, "\" replaced this one"));
}

absl::StatusOr<std::vector<std::string>> HostStore::RecordStatus(Connection& conn,
                                                                 const AgentSession& session,
                                                                 const v1::HostStatus& status) {
  json errors = json::array();
  for (const std::string& e : status.host_errors()) errors.push_back(e);
  json networks = json::array();
  for (const v1::TenantNetworkStatus& n : status.networks()) {
    networks.push_back({{"bridge_name", n.bridge_name()},
                        {"tenant", n.tenant()},
                        {"up", n.up()},
                        {"peers", std::vector<std::string>(n.peer_underlay_addresses().begin(),
                                                           n.peer_underlay_addresses().end())},
                        {"error", n.error()}});
  }
  json vms = json::array();
  std::vector<std::string> reported;
  reported.reserve(status.vms_size());
  for (const v1::VmStatus& vm : status.vms()) {
    const bool has_guest = vm.has_guest() && vm.guest().has_receive_time();
    reported.push_back(absl::AsciiStrToLower(vm.machine_id()));
    vms.push_back(
        {{"machine_id", reported.back()},
         {"vm_state", VmStateText(vm.state())},
         {"vm_error", vm.error()},
         {"has_guest", has_guest},
         {"guest_phase", GuestPhaseText(vm.guest().phase())},
         {"guest_message", vm.guest().message()},
         {"guest_us", has_guest ? json(TimeUtil::TimestampToMicroseconds(vm.guest().receive_time()))
                                : json(nullptr)}});
  }
  auto dump = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  // One statement: the lease, the host's part, and every VM's part in its
  // machine row, written only while this session holds the host and only
  // for machines placed on it.
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query(
          "WITH h AS (UPDATE hosts SET last_seen_time = now(), "
          "lease_expire_time = now() + $3::interval, "
          "applied_spec_version = greatest(0, least($4::bigint, spec_version)), "
          "host_errors = $5::jsonb, network_status = $6::jsonb, status_time = now() "
          "WHERE id = $1 AND session_id = $2::uuid RETURNING id), "
          "v AS (UPDATE machines m SET vm_state = s.vm_state, vm_error = s.vm_error, "
          "status_time = now(), "
          "guest_phase = CASE WHEN s.has_guest THEN s.guest_phase ELSE m.guest_phase END, "
          "guest_message = CASE WHEN s.has_guest THEN s.guest_message ELSE m.guest_message END, "
          "guest_time = CASE WHEN s.has_guest "
          "THEN 'epoch'::timestamptz + s.guest_us * interval '1 microsecond' "
          "ELSE m.guest_time END "
          "FROM h, jsonb_to_recordset($7::jsonb) AS s(machine_id uuid, vm_state text, "
          "vm_error text, has_guest boolean, guest_phase text, guest_message text, "
          "guest_us bigint) "
          "WHERE m.machine_id = s.machine_id AND m.host_id = h.id RETURNING m.machine_id) "
          "SELECT (SELECT count(*) FROM h), "
          "(SELECT coalesce(json_agg(machine_id::text), '[]')::text FROM v)",
          {std::to_string(session.host_id), session.session_id,
           DurationParam(lease_.lease_duration), std::to_string(status.applied_spec_version()),
           dump(errors), dump(networks), dump(vms)}));
  if (rows.empty() || rows.Int64(0, 0) == 0) {
    // Nothing was written; say why as Heartbeat does.
    MANDANT_RETURN_IF_ERROR(Heartbeat(conn, session));
    return absl::InternalError("the host's status was not recorded");
  }
  absl::flat_hash_set<std::string> written;
  for (const json& id : json::parse(rows.Text(0, 1), nullptr, false)) {
    if (id.is_string()) written.insert(id.get<std::string>());
  }
  std::vector<std::string> not_placed;
  for (std::string& id : reported) {
    if (!written.contains(id)) not_placed.push_back(std::move(id));
  }
  return not_placed;
}

absl::Status HostStore::Disconnect(Connection& conn, const AgentSession& session) {
  return conn
      .Query(
          "UPDATE hosts SET session_id = NULL, disconnect_time = now(), "
          "lease_expire_time = now() WHERE id = $1 AND session_id = $2::uuid",
          {std::to_string(session.host_id), session.session_id})
      .status();
}

absl::StatusOr<HostSpecSources> HostStore::SpecSources(Connection& conn, int64_t host_id) {
  MANDANT_ASSIGN_OR_RETURN(Rows host,
                           conn.Query("SELECT spec_version, spec_sha256, "
                                      "current_setting('transaction_isolation') FROM hosts "
                                      "WHERE id = $1 FOR UPDATE",
                                      {std::to_string(host_id)}));
  if (host.empty()) return absl::NotFoundError("the host was deleted");
  if (host.Text(0, 2) == "read committed" || host.Text(0, 2) == "read uncommitted") {
    // Each statement below would see its own snapshot: a machine changing in
    // between would give a network without its VMs, or VMs without theirs.
    return absl::InternalError("HostStore::SpecSources must run in a REPEATABLE READ transaction");
  }
  HostSpecSources sources;
  sources.spec_version = host.Int64(0, 0);
  if (!host.IsNull(0, 1)) sources.spec_sha256 = host.Bytes(0, 1);

  // Networks: one per tenant with a machine or an edge copy here; the peers
  // are the other hosts with machines or edge copies of that tenant.
  MANDANT_ASSIGN_OR_RETURN(
      Rows nets,
      conn.Query(
          "SELECT t.name, t.network_mode, coalesce(t.vni, 0), coalesce(t.vlan_id, 0), "
          "(SELECT coalesce(json_agg(a ORDER BY a), '[]')::text FROM (SELECT DISTINCT "
          "host(h2.underlay_address) AS a FROM hosts h2 WHERE h2.id <> $1 AND h2.id IN "
          "(SELECT host_id FROM machines WHERE tenant_id = t.id "
          "UNION SELECT host_id FROM edge_instances WHERE tenant_id = t.id)) p), "
          "(SELECT coalesce(min(h3.underlay_mtu) FILTER (WHERE h3.underlay_mtu > 0), 0) "
          "FROM hosts h3 WHERE h3.id IN (SELECT host_id FROM machines WHERE tenant_id = t.id "
          "UNION SELECT host_id FROM edge_instances WHERE tenant_id = t.id)) "
          "FROM tenants t WHERE t.id IN (SELECT tenant_id FROM machines WHERE host_id = $1 "
          "UNION SELECT tenant_id FROM edge_instances WHERE host_id = $1)",
          {std::to_string(host_id)}));
  for (int i = 0; i < nets.size(); ++i) {
    TenantNetworkRow n;
    n.tenant = std::string(nets.Text(i, 0));
    n.mode = NetworkModeFromText(nets.Text(i, 1));
    n.segment_id = static_cast<uint32_t>(n.mode == v1::NETWORK_MODE_VLAN ? nets.Int64(i, 3)
                                                                         : nets.Int64(i, 2));
    for (const json& a : json::parse(nets.Text(i, 4), nullptr, false)) {
      if (a.is_string()) n.peer_underlay_addresses.push_back(a.get<std::string>());
    }
    n.min_underlay_mtu = static_cast<int>(nets.Int64(i, 5));
    sources.networks.push_back(std::move(n));
  }

  MANDANT_ASSIGN_OR_RETURN(
      Rows vms,
      conn.Query("SELECT m.machine_id::text, t.name, c.name, m.name, m.vcpus, m.memory_mib, "
                 "m.disk_gib, m.base_image, m.base_image_sha256, m.node_mac::text, m.power_state, "
                 "m.sealed_seed, t.network_mode, coalesce(t.vni, t.vlan_id) "
                 "FROM machines m JOIN tenants t ON t.id = m.tenant_id "
                 "JOIN clusters c ON c.id = m.cluster_id WHERE m.host_id = $1 "
                 "ORDER BY m.machine_id::text",
                 {std::to_string(host_id)}));
  for (int i = 0; i < vms.size(); ++i) {
    PlacedMachineRow m;
    m.machine_id = std::string(vms.Text(i, 0));
    m.tenant = std::string(vms.Text(i, 1));
    m.cluster = std::string(vms.Text(i, 2));
    m.name = std::string(vms.Text(i, 3));
    m.resources.set_vcpus(static_cast<int32_t>(vms.Int64(i, 4)));
    m.resources.set_memory_mib(vms.Int64(i, 5));
    m.resources.set_disk_gib(vms.Int64(i, 6));
    m.base_image = std::string(vms.Text(i, 7));
    m.base_image_sha256 = std::string(vms.Text(i, 8));
    m.node_mac = std::string(vms.Text(i, 9));
    m.power_state = vms.Text(i, 10) == "OFF" ? v1::POWER_STATE_OFF : v1::POWER_STATE_ON;
    m.sealed_seed = vms.Bytes(i, 11);
    m.mode = NetworkModeFromText(vms.Text(i, 12));
    m.segment_id = static_cast<uint32_t>(vms.Int64(i, 13));
    sources.machines.push_back(std::move(m));
  }
  EdgeStore edges;
  MANDANT_ASSIGN_OR_RETURN(sources.edges, edges.EdgesOnHost(conn, host_id));
  return sources;
}

absl::Status HostStore::SetSpecVersion(Connection& conn, int64_t host_id, int64_t version,
                                       absl::string_view spec_sha256) {
  return conn
      .Query("UPDATE hosts SET spec_version = $2, spec_sha256 = $3::bytea WHERE id = $1",
             {std::to_string(host_id), std::to_string(version), ByteaParam(spec_sha256)})
      .status();
}

std::string SeedAssociatedData(absl::string_view machine_id) {
  return absl::StrCat("machines/", machine_id, "/seed");
}

}  // namespace mandant::controller::store
