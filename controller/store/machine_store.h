#ifndef MANDANT_CONTROLLER_STORE_MACHINE_STORE_H_
#define MANDANT_CONTROLLER_STORE_MACHINE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "controller/store/pg.h"
#include "mandant/v1/agent.pb.h"
#include "mandant/v1/cluster.pb.h"
#include "pki/kek.h"

namespace mandant::controller::store {

// A VM to place: what the cluster reconciler decides for one machine.
struct NewMachine {
  // A UUID; the libvirt domain's UUID on its host.
  std::string machine_id;
  std::string tenant;   // tenant id, e.g. "acme"
  std::string cluster;  // cluster id in the tenant, e.g. "prod"
  std::string name;     // hostname, e.g. "cp-1"
  // Control planes are the backends of their cluster's endpoint.
  v1::MachineRole role = v1::MACHINE_ROLE_WORKER;
  // Host id, e.g. "hv1"; empty while not placed.
  std::string host;
  v1::Resources resources;
  std::string base_image;
  std::string base_image_sha256;
  // The NIC on the tenant's node network.
  std::string node_mac;
  v1::PowerState power_state = v1::POWER_STATE_ON;
  v1::Seed seed;
};

// What the host's agent last reported of a machine.
struct MachineObservation {
  std::string host;
  v1::VmState vm_state = v1::VM_STATE_UNSPECIFIED;
  std::string vm_error;
  v1::GuestPhase guest_phase = v1::GUEST_PHASE_UNSPECIFIED;
  std::string guest_message;
  std::optional<absl::Time> guest_time;
  std::optional<absl::Time> status_time;
};

// SQL for machines (VMs), the rows each host's desired state is derived
// from (HostStore::SpecSources, controller/agents/host_spec.h). Written by
// the cluster reconciler; every change wakes the agents' sessions of the
// hosts it touches (a trigger notifies "mandant_host_spec"). Runs inside the
// caller's transaction.
class MachineStore {
 public:
  // A minimal cluster row for machines to belong to, until the cluster
  // lifecycle owns that table. ALREADY_EXISTS; NOT_FOUND for the tenant.
  absl::Status CreateCluster(Connection& conn, absl::string_view tenant, absl::string_view cluster);

  // Inserts the machine with its seed sealed under `kek` and gives it the
  // lowest free address of its tenant's node network (NodeAddress).
  // ALREADY_EXISTS for a taken machine_id, name or MAC; NOT_FOUND for the
  // tenant, cluster or host; INVALID_ARGUMENT for values the table refuses;
  // RESOURCE_EXHAUSTED when the node network is full.
  absl::Status Insert(Connection& conn, const NewMachine& machine, const pki::Kek& kek);
  // The machine's address on its tenant's node network. NOT_FOUND.
  absl::StatusOr<std::string> NodeAddress(Connection& conn, absl::string_view machine_id);
  // Places (or, with an empty host, unplaces) a machine. NOT_FOUND.
  absl::Status Place(Connection& conn, absl::string_view machine_id, absl::string_view host);
  absl::Status SetPowerState(Connection& conn, absl::string_view machine_id,
                             v1::PowerState power_state);
  // NOT_FOUND when there is no such machine.
  absl::Status Delete(Connection& conn, absl::string_view machine_id);
  absl::StatusOr<MachineObservation> Observation(Connection& conn, absl::string_view machine_id);
};

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_MACHINE_STORE_H_
