#ifndef MANDANT_AGENTS_EDGE_DNSMASQ_CONFIG_H_
#define MANDANT_AGENTS_EDGE_DNSMASQ_CONFIG_H_

// The dnsmasq configuration of one tenant edge: DHCP with static leases only
// (one per machine, dhcp_hosts) on the node network, and a DNS forwarder to
// the spec's resolvers, both only on the namespace's "inside" interface.
//
// How the agent runs it (dnsmasq 2.90), inside the edge namespace:
//   check:  dnsmasq --test --conf-file=FILE
//   start:  dnsmasq --conf-file=FILE     (daemonizes; pid in the pid file)
//   reload: a changed file means a restart (SIGTERM, start): dnsmasq
//           re-reads only hosts and lease data on SIGHUP, not its options.
// --conf-file= keeps dnsmasq from reading /etc/dnsmasq.conf.
//
// Listening: "interface=inside" with "except-interface=lo" (dnsmasq adds the
// loopback to any interface list by itself) and "bind-dynamic", not
// "bind-interfaces": the gateway address is a keepalived VIP that appears
// only when this copy becomes master, and bind-dynamic binds addresses that
// appear later, where bind-interfaces would bind only those present at
// start. Nothing of the host is read: no /etc/hosts (no-hosts), no
// /etc/resolv.conf (no-resolv).

#include <string>

#include "absl/status/statusor.h"

#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

// How long a static lease lasts before the machine renews it.
inline constexpr char kDhcpLeaseTime[] = "12h";

struct DnsmasqConfigOptions {
  // Where dnsmasq keeps its leases and writes its pid. Required; see
  // CheckConfigPath.
  std::string lease_file;
  std::string pid_file;
};

// The configuration text. Requires tenants::ValidateEdgeSpec(spec) to pass,
// and checks it again: INVALID_ARGUMENT (nothing rendered) for an invalid
// spec or a bad option. Only validated values reach the text: node_cidr,
// addresses, the MTU, MACs, hostnames (DNS-1123 labels) and the tenant name.
// DHCP options: router and DNS server the gateway address, the interface MTU
// the spec's mtu. Without dns_servers, dnsmasq answers only the names of its
// leases. Deterministic.
absl::StatusOr<std::string> RenderDnsmasqConfig(const mandant::v1::EdgeSpec& spec,
                                                const DnsmasqConfigOptions& options);

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_EDGE_DNSMASQ_CONFIG_H_
