#include "controller/store/machine_store.h"

#include "absl/strings/str_cat.h"

#include "common/status_macros.h"
#include "common/uuid.h"
#include "controller/store/addresses.h"
#include "controller/store/host_store.h"
#include "pki/sealing.h"

namespace mandant::controller::store {
namespace {

absl::Status NotFound(absl::string_view machine_id) {
  return absl::NotFoundError(absl::StrCat("machine ", machine_id, " not found"));
}

template <typename Enum>
Enum EnumFromText(absl::string_view text, absl::string_view prefix,
                  bool (*parse)(const std::string&, Enum*), Enum fallback) {
  Enum value = fallback;
  return parse(absl::StrCat(prefix, text), &value) ? value : fallback;
}

}  // namespace

absl::Status MachineStore::CreateCluster(Connection& conn, absl::string_view tenant,
                                         absl::string_view cluster) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query("INSERT INTO clusters (uid, tenant_id, name) SELECT $1, id, $3 FROM tenants "
                 "WHERE name = $2 ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id",
                 {NewUuid(), std::string(tenant), std::string(cluster)}));
  if (!rows.empty()) return absl::OkStatus();
  MANDANT_ASSIGN_OR_RETURN(
      Rows t, conn.Query("SELECT 1 FROM tenants WHERE name = $1", {std::string(tenant)}));
  if (t.empty()) return absl::NotFoundError(absl::StrCat("tenant \"", tenant, "\" not found"));
  return absl::AlreadyExistsError(
      absl::StrCat("cluster \"tenants/", tenant, "/clusters/", cluster, "\" already exists"));
}

absl::Status MachineStore::Insert(Connection& conn, const NewMachine& m, const pki::Kek& kek) {
  MANDANT_ASSIGN_OR_RETURN(std::string sealed, pki::Seal(kek, m.seed.SerializeAsString(),
                                                         SeedAssociatedData(m.machine_id)));
  auto inserted = conn.Query(
      "INSERT INTO machines (machine_id, tenant_id, cluster_id, name, host_id, vcpus, "
      "memory_mib, disk_gib, base_image, base_image_sha256, node_mac, power_state, "
      "sealed_seed, kek_id, role) "
      "SELECT $1::uuid, t.id, c.id, $4, h.id, $6, $7, $8, $9, $10, $11::macaddr, $12, "
      "$13::bytea, $14, $15 FROM tenants t JOIN clusters c ON c.tenant_id = t.id AND c.name = $3 "
      "LEFT JOIN hosts h ON h.name = $5 WHERE t.name = $2 AND ($5 IS NULL OR h.id IS NOT NULL) "
      "RETURNING tenant_id",
      {m.machine_id, m.tenant, m.cluster, m.name, m.host.empty() ? Param() : Param(m.host),
       std::to_string(m.resources.vcpus()), std::to_string(m.resources.memory_mib()),
       std::to_string(m.resources.disk_gib()), m.base_image, m.base_image_sha256, m.node_mac,
       m.power_state == v1::POWER_STATE_OFF ? "OFF" : "ON", ByteaParam(sealed), kek.id(),
       m.role == v1::MACHINE_ROLE_CONTROL_PLANE ? "CONTROL_PLANE" : "WORKER"});
  if (!inserted.ok()) {
    auto pg = PgErrorOf(inserted.status());
    if (pg && pg->sqlstate == kUniqueViolation) {
      return absl::AlreadyExistsError(
          absl::StrCat("machine ", m.machine_id, " (", m.name, "): ", pg->constraint, " is taken"));
    }
    if (pg && pg->sqlstate.rfind("23", 0) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("machine ", m.machine_id, ": ", inserted.status().message()));
    }
    return inserted.status();
  }
  if (inserted->empty()) {
    return absl::NotFoundError(absl::StrCat("machine ", m.machine_id, ": tenant \"", m.tenant,
                                            "\", its cluster \"", m.cluster, "\" or host \"",
                                            m.host, "\" not found"));
  }
  return AllocateNodeAddress(conn, inserted->Int64(0, 0), NodeAddressPurpose::kMachine,
                             m.machine_id)
      .status();
}

absl::StatusOr<std::string> MachineStore::NodeAddress(Connection& conn,
                                                      absl::string_view machine_id) {
  MANDANT_ASSIGN_OR_RETURN(Rows rows, conn.Query("SELECT host(address) FROM tenant_node_addresses "
                                                 "WHERE machine_id::text = $1",
                                                 {std::string(machine_id)}));
  if (rows.empty()) return NotFound(machine_id);
  return std::string(rows.Text(0, 0));
}

absl::Status MachineStore::Place(Connection& conn, absl::string_view machine_id,
                                 absl::string_view host) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query("UPDATE machines SET host_id = (SELECT id FROM hosts WHERE name = $2) "
                 "WHERE machine_id::text = $1 AND ($2::text IS NULL OR EXISTS "
                 "(SELECT 1 FROM hosts WHERE name = $2)) RETURNING 1",
                 {std::string(machine_id), host.empty() ? Param() : Param(std::string(host))}));
  if (rows.empty()) {
    return absl::NotFoundError(
        absl::StrCat("machine ", machine_id, " or host \"", host, "\" not found"));
  }
  return absl::OkStatus();
}

absl::Status MachineStore::SetPowerState(Connection& conn, absl::string_view machine_id,
                                         v1::PowerState power_state) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query("UPDATE machines SET power_state = $2 WHERE machine_id::text = $1 "
                 "RETURNING 1",
                 {std::string(machine_id), power_state == v1::POWER_STATE_OFF ? "OFF" : "ON"}));
  return rows.empty() ? NotFound(machine_id) : absl::OkStatus();
}

absl::Status MachineStore::Delete(Connection& conn, absl::string_view machine_id) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows, conn.Query("DELETE FROM machines WHERE machine_id::text = $1 RETURNING 1",
                            {std::string(machine_id)}));
  return rows.empty() ? NotFound(machine_id) : absl::OkStatus();
}

absl::StatusOr<MachineObservation> MachineStore::Observation(Connection& conn,
                                                             absl::string_view machine_id) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query(absl::StrCat("SELECT coalesce(h.name, ''), m.vm_state, m.vm_error, "
                              "m.guest_phase, m.guest_message, ",
                              MicrosSql("m.guest_time"), ", ", MicrosSql("m.status_time"),
                              " FROM machines m LEFT JOIN hosts h ON h.id = m.host_id "
                              "WHERE m.machine_id::text = $1"),
                 {std::string(machine_id)}));
  if (rows.empty()) return NotFound(machine_id);
  MachineObservation o;
  o.host = std::string(rows.Text(0, 0));
  o.vm_state = EnumFromText<v1::VmState>(rows.Text(0, 1), "VM_STATE_", &v1::VmState_Parse,
                                         v1::VM_STATE_UNSPECIFIED);
  o.vm_error = std::string(rows.Text(0, 2));
  o.guest_phase = EnumFromText<v1::GuestPhase>(rows.Text(0, 3), "GUEST_PHASE_",
                                               &v1::GuestPhase_Parse, v1::GUEST_PHASE_UNSPECIFIED);
  o.guest_message = std::string(rows.Text(0, 4));
  if (!rows.IsNull(0, 5)) o.guest_time = absl::FromUnixMicros(rows.Int64(0, 5));
  if (!rows.IsNull(0, 6)) o.status_time = absl::FromUnixMicros(rows.Int64(0, 6));
  return o;
}

}  // namespace mandant::controller::store
