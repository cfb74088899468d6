#ifndef MANDANT_CONTROLLER_AGENTS_HOST_SPEC_H_
#define MANDANT_CONTROLLER_AGENTS_HOST_SPEC_H_

// A host's desired state (HostSpec, agent.proto), derived from the machine
// rows placed on it, never stored: one tenant network per tenant with a
// machine on the host, whose flood list names the other hosts with machines
// of that tenant and whose MTU is the smallest underlay MTU of those hosts
// minus the encapsulation overhead; one VM per machine, with its seed
// unsealed; one EdgeSpec per edge copy placed on the host
// (controller/edge/edge_spec.h). The version grows when the content's SHA-256 changes, so an
// unchanged spec keeps its version across reconnects.
//
// BuildHostSpec, HostSpecDigest and NextSpecVersion are pure (no I/O) and
// thread-safe; DesiredHostSpec reads and writes through the store.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "controller/edge/edge_settings.h"
#include "controller/store/host_store.h"
#include "controller/store/pg.h"
#include "mandant/v1/agent.pb.h"
#include "pki/kek.h"

namespace mandant::controller {

// Assumed for hosts whose agent has not reported its underlay MTU.
inline constexpr int kDefaultUnderlayMtu = 1500;

// The spec `sources` describe, without its version: networks ordered by
// bridge name (names from tenants/network_names.h, MTU by
// tenants::TenantNetworkMtu), VMs in the sources' order, each with one NIC
// on its tenant's bridge and its seed unsealed with `keys`.
// INVALID_ARGUMENT for a segment id or MTU the network rules refuse;
// DATA_LOSS (or Unseal's errors) for a seed that does not open or parse.
absl::StatusOr<v1::HostSpec> BuildHostSpec(const store::HostSpecSources& sources,
                                           const pki::KeyRing& keys,
                                           const EdgeSettings& edge_settings = {});

// SHA-256 (raw bytes) of the spec's deterministic serialization.
std::string HostSpecDigest(const v1::HostSpec& spec);

// The version of a spec whose digest is `digest`, when the last one was
// `current` with `current_digest` (empty when none): unchanged content keeps
// its version, anything else gets the next one.
int64_t NextSpecVersion(int64_t current, absl::string_view current_digest,
                        absl::string_view digest);

// The host's complete desired state with its version, recording a new
// version when the content changed. Must run in a REPEATABLE READ
// transaction (store::HostStore::SpecSources); NOT_FOUND when the host is
// gone; errors of BuildHostSpec.
absl::StatusOr<v1::HostSpec> DesiredHostSpec(store::Connection& conn, store::HostStore& store,
                                             int64_t host_id, const pki::KeyRing& keys,
                                             const EdgeSettings& edge_settings);

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_AGENTS_HOST_SPEC_H_
