#include "agents/edge/dnsmasq_config.h"

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "agents/edge/config_checks.h"
#include "tenants/cidr.h"
#include "tenants/edge_names.h"

namespace mandant::agent {
namespace {

// "255.255.255.0" for 24.
std::string Netmask(int prefix_length) {
  const uint32_t mask = prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - prefix_length);
  return absl::StrFormat("%u.%u.%u.%u", mask >> 24, (mask >> 16) & 0xff, (mask >> 8) & 0xff,
                         mask & 0xff);
}

}  // namespace

absl::StatusOr<std::string> RenderDnsmasqConfig(const mandant::v1::EdgeSpec& spec,
                                                const DnsmasqConfigOptions& options) {
  if (absl::Status s = CheckRenderableEdgeSpec(spec, "the dnsmasq configuration"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckConfigPath(options.lease_file, "lease_file"); !s.ok()) return s;
  if (absl::Status s = CheckConfigPath(options.pid_file, "pid_file"); !s.ok()) return s;
  // The spec is valid, so node_cidr parses.
  const tenants::Cidr node = *tenants::Cidr::Parse(spec.node_cidr());

  std::string out = absl::StrCat("# dnsmasq configuration of edge ", spec.namespace_(), " (",
                                 spec.tenant(), "), rendered by mandant-agent.\n",
                                 "# Run as: dnsmasq --conf-file=THIS_FILE\n\n");
  absl::StrAppend(&out, "# Only the node network; nothing from the host.\n",
                  "interface=", tenants::kEdgeInsideInterface, "\n",  //
                  "except-interface=lo\n",                            //
                  "bind-dynamic\n",                                   //
                  "no-hosts\n",                                       //
                  "no-resolv\n",                                      //
                  "pid-file=", options.pid_file, "\n",                //
                  "\n# DNS: forward to the provider's resolvers.\n",  //
                  "domain-needed\n",                                  //
                  "bogus-priv\n");
  for (const std::string& server : spec.dns_servers()) {
    absl::StrAppend(&out, "server=", server, "\n");
  }
  absl::StrAppend(&out, "\n# DHCP: static leases only.\n",                         //
                  "dhcp-leasefile=", options.lease_file, "\n",                     //
                  "dhcp-range=", node.NetworkAddress(), ",static,",                //
                  Netmask(node.prefix_length()), ",", kDhcpLeaseTime, "\n",        //
                  "dhcp-option=option:router,", spec.gateway_address(), "\n",      //
                  "dhcp-option=option:dns-server,", spec.gateway_address(), "\n",  //
                  "dhcp-option=option:mtu,", spec.mtu(), "\n");
  for (const mandant::v1::DhcpHost& host : spec.dhcp_hosts()) {
    absl::StrAppend(&out, "dhcp-host=", host.mac_address(), ",", host.address(), ",",
                    host.hostname(), "\n");
  }
  return out;
}

}  // namespace mandant::agent
