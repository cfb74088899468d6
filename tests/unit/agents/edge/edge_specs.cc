#include "tests/unit/agents/edge/edge_specs.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace mandant::agent::testing {
namespace {

void AddBackend(v1::EdgeEndpointSpec* endpoint, const std::string& name, const std::string& address,
                bool draining) {
  v1::EdgeBackend* backend = endpoint->add_backends();
  backend->set_name(name);
  backend->set_address(address);
  backend->set_port(6443);
  backend->set_draining(draining);
}

void AddLease(v1::EdgeSpec* spec, const std::string& mac, const std::string& address,
              const std::string& hostname) {
  v1::DhcpHost* host = spec->add_dhcp_hosts();
  host->set_mac_address(mac);
  host->set_address(address);
  host->set_hostname(hostname);
}

void AddRule(v1::EgressPolicy* policy, const std::string& cidr, v1::IpProtocol protocol,
             uint32_t from, uint32_t to, v1::EgressAction action, const std::string& description) {
  v1::EgressRule* rule = policy->add_rules();
  rule->set_destination_cidr(cidr);
  rule->set_protocol(protocol);
  rule->set_port_from(from);
  rule->set_port_to(to);
  rule->set_action(action);
  rule->set_description(description);
}

}  // namespace

v1::EdgeSpec SingleEdge() {
  v1::EdgeSpec spec;
  spec.set_tenant("tenants/acme");
  spec.set_namespace_("mandant-ex0003e9");
  spec.set_tenant_bridge("mb-x0003e9");
  spec.set_inside_link("mei-x0003e9");
  spec.set_outside_link("meo-x0003e9");
  spec.set_mtu(1450);
  spec.set_node_cidr("10.64.3.0/24");
  spec.set_gateway_address("10.64.3.1");
  spec.set_instance_address("10.64.3.2");
  spec.set_external_bridge("br-ext");
  spec.set_external_cidr("198.51.100.0/24");
  spec.set_external_gateway("198.51.100.1");
  spec.set_egress_address("198.51.100.7");
  v1::EdgeEndpointSpec* endpoint = spec.add_endpoints();
  endpoint->set_cluster("tenants/acme/clusters/prod");
  endpoint->set_internal_address("10.64.3.3");
  endpoint->set_external_address("198.51.100.8");
  endpoint->set_port(6443);
  endpoint->add_allowed_cidrs("203.0.113.0/24");
  endpoint->add_allowed_cidrs("192.0.2.10/32");
  AddBackend(endpoint, "cp-1", "10.64.3.11", false);
  AddBackend(endpoint, "cp-2", "10.64.3.12", false);
  AddBackend(endpoint, "cp-3", "10.64.3.13", true);
  AddLease(&spec, "02:00:0a:40:03:0b", "10.64.3.11", "cp-1");
  AddLease(&spec, "02:00:0a:40:03:0c", "10.64.3.12", "cp-2");
  AddLease(&spec, "02:00:0a:40:03:0d", "10.64.3.13", "cp-3");
  spec.add_dns_servers("192.0.2.53");
  return spec;
}

v1::EdgeSpec RedundantEdge() {
  v1::EdgeSpec spec;
  spec.set_tenant("tenants/beta");
  spec.set_namespace_("mandant-ev002a");
  spec.set_tenant_bridge("mb-v002a");
  spec.set_inside_link("mei-v002a");
  spec.set_outside_link("meo-v002a");
  spec.set_mtu(1500);
  spec.set_node_cidr("10.80.0.0/22");
  spec.set_gateway_address("10.80.0.1");
  spec.set_instance_address("10.80.0.2");
  spec.set_external_bridge("vmbr1");
  spec.set_external_cidr("203.0.113.0/26");
  spec.set_external_gateway("203.0.113.1");
  spec.set_egress_address("203.0.113.20");

  v1::EdgeEndpointSpec* dev = spec.add_endpoints();
  dev->set_cluster("tenants/beta/clusters/dev");
  dev->set_internal_address("10.80.0.4");
  dev->set_external_address("203.0.113.21");
  dev->set_port(6443);
  AddBackend(dev, "cp-1", "10.80.1.1", false);

  v1::EdgeEndpointSpec* prod = spec.add_endpoints();
  prod->set_cluster("tenants/beta/clusters/prod");
  prod->set_internal_address("10.80.0.5");
  prod->set_external_address("203.0.113.22");
  prod->set_port(443);
  prod->add_allowed_cidrs("198.51.100.0/24");
  prod->add_allowed_cidrs("198.51.100.64/26");  // inside the first
  prod->add_allowed_cidrs("192.0.2.7/32");
  prod->add_allowed_cidrs("198.51.100.0/24");  // twice
  AddBackend(prod, "cp-4", "10.80.2.4", false);
  AddBackend(prod, "cp-5", "10.80.2.5", false);
  AddBackend(prod, "cp-6", "10.80.2.6", false);

  AddLease(&spec, "02:00:0a:50:01:01", "10.80.1.1", "cp-1");
  AddLease(&spec, "02:00:0a:50:02:04", "10.80.2.4", "cp-4");
  AddLease(&spec, "02:00:0a:50:02:05", "10.80.2.5", "cp-5");
  AddLease(&spec, "02:00:0a:50:02:06", "10.80.2.6", "cp-6");
  AddLease(&spec, "02:00:0a:50:03:07", "10.80.3.7", "workers-7");
  spec.add_dns_servers("192.0.2.53");
  spec.add_dns_servers("192.0.2.54");
  spec.add_dns_servers("198.51.100.53");

  v1::EgressPolicy* policy = spec.mutable_egress_policy();
  policy->set_default_action(v1::EGRESS_ACTION_DENY);
  AddRule(policy, "192.0.2.0/24", v1::IP_PROTOCOL_TCP, 443, 0, v1::EGRESS_ACTION_ALLOW,
          "package mirror \"HTTPS\"; drop table");
  AddRule(policy, "192.0.2.0/24", v1::IP_PROTOCOL_UDP, 123, 123, v1::EGRESS_ACTION_ALLOW, "NTP");
  AddRule(policy, "198.51.100.0/24", v1::IP_PROTOCOL_TCP, 8000, 8099, v1::EGRESS_ACTION_DENY, "");
  AddRule(policy, "198.51.100.0/24", v1::IP_PROTOCOL_TCP, 0, 0, v1::EGRESS_ACTION_ALLOW, "");
  AddRule(policy, "0.0.0.0/0", v1::IP_PROTOCOL_ICMP, 0, 0, v1::EGRESS_ACTION_ALLOW, "ping");
  AddRule(policy, "10.0.0.0/8", v1::IP_PROTOCOL_UNSPECIFIED, 0, 0, v1::EGRESS_ACTION_DENY, "");

  v1::EdgeVrrp* vrrp = spec.mutable_vrrp();
  vrrp->set_virtual_router_id(42);
  vrrp->set_priority(150);
  vrrp->add_peer_addresses("10.80.0.3");
  return spec;
}

}  // namespace mandant::agent::testing
