#ifndef MANDANT_CONTROLLER_AGENTS_AGENT_MESSAGE_VALIDATION_H_
#define MANDANT_CONTROLLER_AGENTS_AGENT_MESSAGE_VALIDATION_H_

// Validation of what an agent sends on its stream (proto/mandant/v1/agent.proto).
// An agent runs on a hypervisor host that a tenant's VM may have broken out
// of, so its messages are untrusted input, checked like any API request:
// every problem collected at once as field violations (field path, what is
// wrong, what is allowed), nothing stored when there is one. Pure functions,
// no I/O, thread-safe.
//
// Which host a message may speak about is not decided here: a VmStatus of a
// machine not placed on the stream's host is dropped by the store's write
// (HostStore::RecordStatus) and logged by the stream.

#include <cstddef>

#include "mandant/v1/agent.pb.h"
#include "tenants/field_violations.h"

namespace mandant::controller {

// Hello.
inline constexpr size_t kMaxVersionLength = 64;
inline constexpr int kMaxBaseImages = 1000;
inline constexpr size_t kMaxBaseImageNameLength = 100;

// HostStatus. A host is given at most kMaxVmsPerHost VMs; while a spec
// replaces them it may report as many again that it is still removing, so
// a status lists at most twice that. A tenant network exists on a host only
// for a tenant with a VM there (plus those being removed): the same bound.
inline constexpr int kMaxVmsPerHost = 512;
inline constexpr int kMaxStatusVms = 2 * kMaxVmsPerHost;
inline constexpr int kMaxStatusNetworks = 2 * kMaxVmsPerHost;
// A flood list names the other hosts that run one tenant's VMs.
inline constexpr int kMaxNetworkPeers = 1024;
// INET6_ADDRSTRLEN - 1.
inline constexpr size_t kMaxAddressLength = 45;
inline constexpr int kMaxHostErrors = 64;
// Errors are the agent's own status messages (libvirt, netlink, nftables);
// guest messages are cut to 1024 bytes by the agent (agents.md).
inline constexpr size_t kMaxErrorLength = 4096;
inline constexpr size_t kMaxGuestMessageLength = 1024;
inline constexpr size_t kMaxTenantNameLength = 100;
// A refused HostStatus names its first 20 problems and counts the rest.
inline constexpr size_t kMaxReportedViolations = 20;
// EdgeStatus: haproxy, dnsmasq and keepalived (and room for restarts being
// reported); an EdgeSpec has at most one endpoint per cluster, and an
// endpoint's backends are the cluster's control planes.
inline constexpr int kMaxEdgeProcesses = 8;
inline constexpr int kMaxEdgeEndpoints = 64;
inline constexpr int kMaxEdgeBackends = 64;
// EgressEventBatch (agent.proto).
inline constexpr int kMaxEgressEventsPerBatch = 1000;

// Hello: versions of at most 64 bytes; non-negative capacity; an underlay
// MTU of 0 (unknown) or 1280-65535; at most 1000 base images, each named
// [a-zA-Z0-9._-]{1,100} with a SHA-256 of 64 lower-case hex digits. Field
// paths start with "hello.".
tenants::FieldViolations ValidateHello(const v1::Hello& hello);

// HostStatus; field paths start with "status.":
//   applied_spec_version: >= 0;
//   vms: at most kMaxStatusVms; machine_id a canonical UUID, each once;
//     state a known VmState; error at most kMaxErrorLength bytes;
//     guest.phase a known GuestPhase, guest.message at most
//     kMaxGuestMessageLength bytes, guest.receive_time a valid timestamp;
//   networks: at most kMaxStatusNetworks; bridge_name 1-15 bytes, each once;
//     tenant empty or "tenants/{tenant}" of at most kMaxTenantNameLength
//     bytes; mode a known NetworkMode; vni <= 16777215; vlan_id <= 4094;
//     mtu 0-65535; at most kMaxNetworkPeers peer addresses of at most
//     kMaxAddressLength bytes; error at most kMaxErrorLength bytes;
//   host_errors: at most kMaxHostErrors, each 1-kMaxErrorLength bytes;
//   observe_time: a valid timestamp when set;
//   edges: at most kMaxStatusNetworks; namespace an edge namespace name
//     (tenants::ParseEdgeName), each once; tenant "tenants/{tenant}";
//     vrrp_state a known VrrpState; at most kMaxEdgeProcesses processes
//     named haproxy, dnsmasq or keepalived with pid >= 0; at most
//     kMaxEdgeEndpoints endpoints, cluster "tenants/{t}/clusters/{c}",
//     0 <= healthy_backends <= backends <= kMaxEdgeBackends; error at most
//     kMaxErrorLength bytes.
// No string may contain a NUL byte (PostgreSQL text cannot hold one).
// Whether an edge's namespace belongs to its tenant and is placed on the
// host is the store's to check (EdgeStore::RecordStatus).
tenants::FieldViolations ValidateHostStatus(const v1::HostStatus& status);

// EgressEventBatch; field paths start with "egress_events.":
//   events: at most kMaxEgressEventsPerBatch; each with namespace an edge
//     namespace name (tenants::ParseEdgeName), time set and valid,
//     source_address and destination_address dotted-quad IPv4 text,
//     destination_port 0-65535, protocol_number 0-255, action ALLOW or DENY.
// Which namespaces the host may report is the store's to check
// (EgressLogStore::Append).
tenants::FieldViolations ValidateEgressEventBatch(const v1::EgressEventBatch& batch);

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_AGENTS_AGENT_MESSAGE_VALIDATION_H_
