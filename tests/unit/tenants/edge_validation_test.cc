#include "tenants/edge_validation.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "mandant/v1/agent.pb.h"
#include "mandant/v1/edge.pb.h"
#include "tenants/field_violations.h"

namespace mandant::tenants {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

// The redundant edge of docs/edge.md: tenant acme on VNI 1001.
v1::EdgeSpec ValidSpec() {
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
  endpoint->set_internal_address("10.64.3.4");
  endpoint->set_external_address("198.51.100.8");
  endpoint->set_port(6443);
  endpoint->add_allowed_cidrs("203.0.113.0/24");
  endpoint->add_allowed_cidrs("0.0.0.0/0");
  for (int i = 1; i <= 3; ++i) {
    v1::EdgeBackend* backend = endpoint->add_backends();
    backend->set_name(absl::StrCat("cp-", i));
    backend->set_address(absl::StrCat("10.64.3.1", i));
    backend->set_port(6443);
    v1::DhcpHost* host = spec.add_dhcp_hosts();
    host->set_mac_address(absl::StrCat("02:00:0a:40:03:1", i));
    host->set_address(absl::StrCat("10.64.3.1", i));
    host->set_hostname(absl::StrCat("cp-", i));
  }
  spec.add_dns_servers("192.0.2.53");
  spec.add_dns_servers("192.0.2.54");
  v1::EgressRule* rule = spec.mutable_egress_policy()->add_rules();
  rule->set_destination_cidr("192.0.2.0/24");
  rule->set_protocol(v1::IP_PROTOCOL_TCP);
  rule->set_port_from(443);
  rule->set_action(v1::EGRESS_ACTION_ALLOW);
  rule->set_description("the package mirror");
  spec.mutable_egress_policy()->set_default_action(v1::EGRESS_ACTION_DENY);
  spec.mutable_vrrp()->set_virtual_router_id(233);
  spec.mutable_vrrp()->set_priority(150);
  spec.mutable_vrrp()->add_peer_addresses("10.64.3.3");
  return spec;
}

std::vector<std::string> FieldsOf(const FieldViolations& v) {
  std::vector<std::string> fields;
  for (const FieldViolation& f : v.violations()) fields.push_back(f.field);
  return fields;
}

// The description of the only violation, or a failure.
std::string OnlyProblem(const v1::EdgeSpec& spec, const std::string& field) {
  FieldViolations v = ValidateEdgeSpec(spec);
  EXPECT_THAT(FieldsOf(v), ElementsAre(field));
  return v.violations().empty() ? "" : v.violations()[0].description;
}

TEST(ValidateEdgeSpecTest, AcceptsRedundantAndSingleEdges) {
  EXPECT_THAT(ValidateEdgeSpec(ValidSpec()).violations(), IsEmpty());
  v1::EdgeSpec single = ValidSpec();
  single.clear_vrrp();
  single.clear_egress_policy();
  single.clear_dns_servers();
  EXPECT_THAT(ValidateEdgeSpec(single).violations(), IsEmpty());
  v1::EdgeSpec vlan = ValidSpec();
  vlan.set_tenant_bridge("mb-v0ffe");
  vlan.set_namespace_("mandant-ev0ffe");
  vlan.set_inside_link("mei-v0ffe");
  vlan.set_outside_link("meo-v0ffe");
  EXPECT_THAT(ValidateEdgeSpec(vlan).violations(), IsEmpty());
}

TEST(ValidateEdgeSpecTest, FieldPathsCarryThePrefix) {
  v1::EdgeSpec spec = ValidSpec();
  spec.set_mtu(0);
  spec.mutable_endpoints(0)->mutable_backends(1)->set_port(0);
  spec.mutable_egress_policy()->mutable_rules(0)->set_destination_cidr("x");
  EXPECT_THAT(FieldsOf(ValidateEdgeSpec(spec, "edges[2]")),
              UnorderedElementsAre("edges[2].mtu", "edges[2].endpoints[0].backends[1].port",
                                   "edges[2].egress_policy.rules[0].destination_cidr"));
}

TEST(ValidateEdgeSpecTest, EmptySpecNamesEveryRequiredField) {
  EXPECT_THAT(FieldsOf(ValidateEdgeSpec(v1::EdgeSpec())),
              UnorderedElementsAre("tenant", "tenant_bridge", "mtu", "external_bridge", "node_cidr",
                                   "external_cidr", "gateway_address", "instance_address",
                                   "external_gateway", "egress_address"));
}

TEST(ValidateEdgeSpecTest, TenantName) {
  v1::EdgeSpec spec = ValidSpec();
  spec.set_tenant("acme");
  // The clusters cannot be matched against a bad tenant; only the tenant is named.
  EXPECT_THAT(OnlyProblem(spec, "tenant"), HasSubstr("tenants/{tenant_id}"));
}

TEST(ValidateEdgeSpecTest, NamesAreDerivedFromTheTenantBridge) {
  v1::EdgeSpec spec = ValidSpec();
  spec.set_namespace_("mandant-ex0003ea");
  spec.set_inside_link("mei-v0ffe");
  spec.set_outside_link("eth0");
  FieldViolations v = ValidateEdgeSpec(spec);
  EXPECT_THAT(FieldsOf(v), ElementsAre("namespace", "inside_link", "outside_link"));
  EXPECT_EQ(v.violations()[0].description,
            "must be \"mandant-ex0003e9\" for tenant_bridge \"mb-x0003e9\", got "
            "\"mandant-ex0003ea\"");

  for (const char* bridge : {"mx-0003e9", "br0", "mb-x0003E9", ""}) {
    v1::EdgeSpec b = ValidSpec();
    b.set_tenant_bridge(bridge);
    EXPECT_THAT(OnlyProblem(b, "tenant_bridge"), HasSubstr("Mandant tenant bridge name")) << bridge;
  }
}

TEST(ValidateEdgeSpecTest, Mtu) {
  for (int mtu : {575, 9001, -1}) {
    v1::EdgeSpec spec = ValidSpec();
    spec.set_mtu(mtu);
    EXPECT_EQ(OnlyProblem(spec, "mtu"), absl::StrCat("must be 576-9000, got ", mtu));
  }
  for (int mtu : {576, 9000}) {
    v1::EdgeSpec spec = ValidSpec();
    spec.set_mtu(mtu);
    EXPECT_THAT(ValidateEdgeSpec(spec).violations(), IsEmpty());
  }
}

TEST(ValidateEdgeSpecTest, ExternalBridge) {
  for (const char* ok : {"br-ext", "vmbr0", "br_ext.100", "A"}) {
    v1::EdgeSpec spec = ValidSpec();
    spec.set_external_bridge(ok);
    EXPECT_THAT(ValidateEdgeSpec(spec).violations(), IsEmpty()) << ok;
  }
  for (const char* bad : {"br ext", "br/ext", "br\"ext", "-br", "..", "a23456789012345x",
                          "mb-x0003e9", "meo-x0003e9", "br-ext\n"}) {
    v1::EdgeSpec spec = ValidSpec();
    spec.set_external_bridge(bad);
    OnlyProblem(spec, "external_bridge");
  }
}

TEST(ValidateEdgeSpecTest, Networks) {
  struct Case {
    const char* node;
    const char* problem;
  };
  for (const Case& c :
       {Case{"10.64.3.1/24", "host bits set"}, Case{"fd00::/64", "IPv4 CIDR"},
        Case{"10.64.3.0", "invalid CIDR"}, Case{"10.64.3.0/31", "prefix length of at most /30"},
        Case{"127.0.0.0/24", "reserved range 127.0.0.0/8"}}) {
    v1::EdgeSpec spec = ValidSpec();
    spec.set_node_cidr(c.node);
    FieldViolations v = ValidateEdgeSpec(spec);
    // Addresses are not checked against a network that is not one.
    ASSERT_THAT(FieldsOf(v), ElementsAre("node_cidr")) << c.node;
    EXPECT_THAT(v.violations()[0].description, HasSubstr(c.problem)) << c.node;
  }
  v1::EdgeSpec overlap = ValidSpec();
  overlap.set_external_cidr("10.64.0.0/16");
  EXPECT_EQ(OnlyProblem(overlap, "external_cidr"), "10.64.0.0/16 overlaps node_cidr 10.64.3.0/24");
  v1::EdgeSpec multicast = ValidSpec();
  multicast.set_external_cidr("224.1.0.0/24");
  EXPECT_THAT(OnlyProblem(multicast, "external_cidr"), HasSubstr("reserved range 224.0.0.0/3"));
}

TEST(ValidateEdgeSpecTest, NodeAddressesAreInTheNodeCidrAndDistinct) {
  struct Case {
    void (*set)(v1::EdgeSpec*);
    const char* field;
    const char* problem;
  };
  const Case cases[] = {
      {[](v1::EdgeSpec* s) { s->set_gateway_address("10.64.4.1"); }, "gateway_address",
       "10.64.4.1 is not in node_cidr 10.64.3.0/24"},
      {[](v1::EdgeSpec* s) { s->set_gateway_address("10.64.3.0"); }, "gateway_address",
       "10.64.3.0 is the network address of node_cidr 10.64.3.0/24"},
      {[](v1::EdgeSpec* s) { s->set_instance_address("10.64.3.255"); }, "instance_address",
       "10.64.3.255 is the broadcast address of node_cidr 10.64.3.0/24"},
      {[](v1::EdgeSpec* s) { s->set_instance_address("10.64.3.1"); }, "instance_address",
       "10.64.3.1 is already used by gateway_address"},
      {[](v1::EdgeSpec* s) { s->set_instance_address("10.64.3.02"); }, "instance_address",
       "must be an IPv4 address such as \"192.0.2.1\", got \"10.64.3.02\""},
      {[](v1::EdgeSpec* s) { s->set_instance_address("10.64.3.2/24"); }, "instance_address",
       "must be an IPv4 address"},
      {[](v1::EdgeSpec* s) { s->set_instance_address("fd00::2"); }, "instance_address",
       "must be an IPv4 address"},
      {[](v1::EdgeSpec* s) { s->mutable_vrrp()->set_peer_addresses(0, "10.64.3.2"); },
       "vrrp.peer_addresses[0]", "10.64.3.2 is already used by instance_address"},
      {[](v1::EdgeSpec* s) { s->mutable_endpoints(0)->set_internal_address("10.64.3.3"); },
       "endpoints[0].internal_address", "10.64.3.3 is already used by vrrp.peer_addresses[0]"},
      {[](v1::EdgeSpec* s) { s->mutable_endpoints(0)->set_internal_address("198.51.100.8"); },
       "endpoints[0].internal_address", "198.51.100.8 is not in node_cidr 10.64.3.0/24"},
      {[](v1::EdgeSpec* s) { s->mutable_dhcp_hosts(1)->set_address("10.64.3.4"); },
       "dhcp_hosts[1].address", "10.64.3.4 is already used by endpoints[0].internal_address"},
      {[](v1::EdgeSpec* s) { s->mutable_dhcp_hosts(1)->set_address("10.64.3.11"); },
       "dhcp_hosts[1].address", "10.64.3.11 is already used by dhcp_hosts[0].address"},
      {[](v1::EdgeSpec* s) { s->mutable_dhcp_hosts(2)->set_address("10.64.5.1"); },
       "dhcp_hosts[2].address", "not in node_cidr"},
  };
  for (const Case& c : cases) {
    v1::EdgeSpec spec = ValidSpec();
    c.set(&spec);
    EXPECT_THAT(OnlyProblem(spec, c.field), HasSubstr(c.problem)) << c.field;
  }
}

TEST(ValidateEdgeSpecTest, ExternalAddressesAreInTheExternalCidrAndDistinct) {
  struct Case {
    void (*set)(v1::EdgeSpec*);
    const char* field;
    const char* problem;
  };
  const Case cases[] = {
      {[](v1::EdgeSpec* s) { s->set_external_gateway("198.51.101.1"); }, "external_gateway",
       "198.51.101.1 is not in external_cidr 198.51.100.0/24"},
      {[](v1::EdgeSpec* s) { s->set_egress_address("198.51.100.1"); }, "egress_address",
       "198.51.100.1 is already used by external_gateway"},
      {[](v1::EdgeSpec* s) { s->set_egress_address("198.51.100.255"); }, "egress_address",
       "broadcast address"},
      {[](v1::EdgeSpec* s) { s->set_egress_address(""); }, "egress_address", "required"},
      {[](v1::EdgeSpec* s) { s->mutable_endpoints(0)->set_external_address("198.51.100.7"); },
       "endpoints[0].external_address", "198.51.100.7 is already used by egress_address"},
      {[](v1::EdgeSpec* s) { s->mutable_endpoints(0)->set_external_address("10.64.3.4"); },
       "endpoints[0].external_address", "not in external_cidr"},
  };
  for (const Case& c : cases) {
    v1::EdgeSpec spec = ValidSpec();
    c.set(&spec);
    EXPECT_THAT(OnlyProblem(spec, c.field), HasSubstr(c.problem)) << c.field;
  }
}

TEST(ValidateEdgeSpecTest, Endpoints) {
  v1::EdgeSpec spec = ValidSpec();
  spec.mutable_endpoints(0)->set_port(0);
  v1::EdgeEndpointSpec* other = spec.add_endpoints();
  *other = spec.endpoints(0);
  other->set_internal_address("10.64.3.5");
  other->set_external_address("198.51.100.9");
  other->set_port(65536);
  other->add_allowed_cidrs("10.0.0.1/8");
  other->add_allowed_cidrs("fd00::/8");
  FieldViolations v = ValidateEdgeSpec(spec);
  EXPECT_THAT(FieldsOf(v),
              ElementsAre("endpoints[0].port", "endpoints[1].cluster", "endpoints[1].port",
                          "endpoints[1].allowed_cidrs[2]", "endpoints[1].allowed_cidrs[3]"));
  EXPECT_EQ(v.violations()[1].description,
            "\"tenants/acme/clusters/prod\" has more than one endpoint");

  v1::EdgeSpec foreign = ValidSpec();
  foreign.mutable_endpoints(0)->set_cluster("tenants/beta/clusters/prod");
  EXPECT_EQ(OnlyProblem(foreign, "endpoints[0].cluster"),
            "must be a cluster of tenants/acme, got \"tenants/beta/clusters/prod\"");
  v1::EdgeSpec malformed = ValidSpec();
  malformed.mutable_endpoints(0)->set_cluster("tenants/acme/clusters/pr od");
  EXPECT_THAT(OnlyProblem(malformed, "endpoints[0].cluster"), HasSubstr("cluster id"));
}

TEST(ValidateEdgeSpecTest, CountLimits) {
  v1::EdgeSpec spec = ValidSpec();
  spec.clear_endpoints();
  spec.clear_dhcp_hosts();
  for (int i = 0; i < kMaxEdgeEndpoints + 1; ++i) {
    v1::EdgeEndpointSpec* e = spec.add_endpoints();
    e->set_cluster(absl::StrCat("tenants/acme/clusters/c", i));
    e->set_internal_address(absl::StrCat("10.64.3.", 10 + i));
    e->set_external_address(absl::StrCat("198.51.100.", 10 + i));
    e->set_port(6443);
  }
  EXPECT_EQ(OnlyProblem(spec, "endpoints"), "must have at most 64 entries, got 65");

  v1::EdgeSpec many = ValidSpec();
  v1::EdgeEndpointSpec* e = many.mutable_endpoints(0);
  e->clear_backends();
  for (int i = 0; i < kMaxEdgeBackends + 1; ++i) {
    v1::EdgeBackend* b = e->add_backends();
    b->set_name(absl::StrCat("cp-", i));
    b->set_address(absl::StrCat("10.64.3.", 100 + i));
    b->set_port(6443);
  }
  for (int i = 0; i < kMaxEdgeAllowedCidrs - 1; ++i) {
    e->add_allowed_cidrs(absl::StrCat("10.", i, ".0.0/16"));
  }
  many.add_dns_servers("192.0.2.55");
  many.add_dns_servers("192.0.2.56");
  EXPECT_THAT(FieldsOf(ValidateEdgeSpec(many)),
              ElementsAre("endpoints[0].allowed_cidrs", "endpoints[0].backends", "dns_servers"));

  v1::EdgeSpec leases = ValidSpec();
  leases.clear_dhcp_hosts();
  for (int i = 0; i < kMaxEdgeDhcpHosts + 1; ++i) {
    v1::DhcpHost* h = leases.add_dhcp_hosts();
    h->set_mac_address(absl::StrFormat("02:00:00:00:%02x:%02x", i / 256, i % 256));
    h->set_address(absl::StrFormat("10.%d.%d.%d", 65 + i / 65536, (i / 256) % 256, i % 256));
    h->set_hostname("m");
  }
  leases.set_node_cidr("10.64.0.0/10");
  leases.set_gateway_address("10.64.0.1");
  leases.set_instance_address("10.64.0.2");
  leases.mutable_vrrp()->set_peer_addresses(0, "10.64.0.3");
  leases.mutable_endpoints(0)->set_internal_address("10.64.0.4");
  for (v1::EdgeBackend& b : *leases.mutable_endpoints(0)->mutable_backends()) {
    b.set_address(absl::StrCat("10.66.0.", b.name().back() - '0'));
  }
  EXPECT_EQ(OnlyProblem(leases, "dhcp_hosts"), "must have at most 4096 entries, got 4097");
}

TEST(ValidateEdgeSpecTest, Backends) {
  v1::EdgeSpec spec = ValidSpec();
  v1::EdgeEndpointSpec* e = spec.mutable_endpoints(0);
  e->mutable_backends(0)->set_name("CP-1");
  e->mutable_backends(1)->set_name("cp-3");
  e->mutable_backends(1)->set_address("10.64.3.1");
  e->mutable_backends(2)->set_address("10.64.3.11");
  e->mutable_backends(2)->set_port(70000);
  FieldViolations v = ValidateEdgeSpec(spec);
  EXPECT_THAT(FieldsOf(v),
              ElementsAre("endpoints[0].backends[0].name", "endpoints[0].backends[1].address",
                          "endpoints[0].backends[2].name", "endpoints[0].backends[2].address",
                          "endpoints[0].backends[2].port"));
  EXPECT_THAT(v.violations()[0].description, HasSubstr("DNS-1123 label"));
  EXPECT_EQ(v.violations()[1].description, "10.64.3.1 is already used by gateway_address");
  EXPECT_EQ(v.violations()[2].description, "\"cp-3\" is listed twice in this endpoint");
  EXPECT_EQ(v.violations()[3].description, "10.64.3.11 is listed twice in this endpoint");
  EXPECT_EQ(v.violations()[4].description, "must be 1-65535, got 70000");

  // A backend may be a machine with a lease, and may serve two endpoints.
  v1::EdgeSpec shared = ValidSpec();
  v1::EdgeEndpointSpec* second = shared.add_endpoints();
  *second = shared.endpoints(0);
  second->set_cluster("tenants/acme/clusters/dev");
  second->set_internal_address("10.64.3.5");
  second->set_external_address("198.51.100.9");
  EXPECT_THAT(ValidateEdgeSpec(shared).violations(), IsEmpty());
}

TEST(ValidateEdgeSpecTest, DhcpHosts) {
  for (const char* mac :
       {"02:00:0A:40:03:11", "00:16:3e:00:00:01", "03:00:0a:40:03:11", "02:00:0a:40:03",
        "02-00-0a-40-03-11", "02:00:0a:40:03:1g", "02:00:0a:40:03:111", ""}) {
    v1::EdgeSpec spec = ValidSpec();
    spec.mutable_dhcp_hosts(0)->set_mac_address(mac);
    OnlyProblem(spec, "dhcp_hosts[0].mac_address");
  }
  for (const char* mac : {"02:00:0a:40:03:99", "fe:ff:ff:ff:ff:ff", "0a:00:00:00:00:01"}) {
    v1::EdgeSpec spec = ValidSpec();
    spec.mutable_dhcp_hosts(0)->set_mac_address(mac);
    EXPECT_THAT(ValidateEdgeSpec(spec).violations(), IsEmpty()) << mac;
  }
  v1::EdgeSpec twice = ValidSpec();
  twice.mutable_dhcp_hosts(1)->set_mac_address("02:00:0a:40:03:11");
  EXPECT_EQ(OnlyProblem(twice, "dhcp_hosts[1].mac_address"),
            "02:00:0a:40:03:11 is listed twice in dhcp_hosts");
  const std::vector<std::string> bad_names = {"",    "cp_1",       "-cp",
                                              "cp-", "cp.example", std::string(64, 'a')};
  for (const std::string& name : bad_names) {
    v1::EdgeSpec spec = ValidSpec();
    spec.mutable_dhcp_hosts(0)->set_hostname(name);
    OnlyProblem(spec, "dhcp_hosts[0].hostname");
  }
  v1::EdgeSpec longest = ValidSpec();
  longest.mutable_dhcp_hosts(0)->set_hostname(std::string(63, 'a'));
  EXPECT_THAT(ValidateEdgeSpec(longest).violations(), IsEmpty());
}

TEST(ValidateEdgeSpecTest, DnsServers) {
  struct Case {
    const char* address;
    const char* problem;
  };
  for (const Case& c : {Case{"192.0.2.54", "listed twice"}, Case{"127.0.0.1", "127.0.0.0/8"},
                        Case{"0.0.0.0", "0.0.0.0/8"}, Case{"255.255.255.255", "224.0.0.0/3"},
                        Case{"dns.example", "IPv4 address"}, Case{"2001:db8::53", "IPv4"}}) {
    v1::EdgeSpec spec = ValidSpec();
    spec.add_dns_servers(c.address);
    EXPECT_THAT(OnlyProblem(spec, "dns_servers[2]"), HasSubstr(c.problem)) << c.address;
  }
}

TEST(ValidateEdgeSpecTest, Vrrp) {
  v1::EdgeSpec spec = ValidSpec();
  spec.mutable_vrrp()->set_virtual_router_id(256);
  spec.mutable_vrrp()->set_priority(255);
  spec.mutable_vrrp()->add_peer_addresses("10.64.3.9");
  EXPECT_THAT(FieldsOf(ValidateEdgeSpec(spec)),
              ElementsAre("vrrp.virtual_router_id", "vrrp.priority", "vrrp.peer_addresses"));
  v1::EdgeSpec zero = ValidSpec();
  zero.mutable_vrrp()->set_virtual_router_id(0);
  zero.mutable_vrrp()->set_priority(0);
  zero.mutable_vrrp()->clear_peer_addresses();
  FieldViolations v = ValidateEdgeSpec(zero);
  EXPECT_THAT(FieldsOf(v),
              ElementsAre("vrrp.virtual_router_id", "vrrp.priority", "vrrp.peer_addresses"));
  EXPECT_EQ(v.violations()[0].description, "must be 1-255, got 0");
  EXPECT_EQ(v.violations()[1].description, "must be 1-254, got 0");
  EXPECT_THAT(v.violations()[2].description, HasSubstr("exactly one address"));
  v1::EdgeSpec edges = ValidSpec();
  edges.mutable_vrrp()->set_virtual_router_id(1);
  edges.mutable_vrrp()->set_priority(254);
  EXPECT_THAT(ValidateEdgeSpec(edges).violations(), IsEmpty());
}

TEST(ValidateEdgeSpecTest, EgressPolicyIsCheckedInPlace) {
  v1::EdgeSpec spec = ValidSpec();
  spec.mutable_egress_policy()->mutable_rules(0)->set_action(v1::EGRESS_ACTION_UNSPECIFIED);
  EXPECT_THAT(OnlyProblem(spec, "egress_policy.rules[0].action"),
              HasSubstr("EGRESS_ACTION_ALLOW or EGRESS_ACTION_DENY"));
}

TEST(ValidateEdgeSpecTest, HostileValuesAreQuotedAndCut) {
  v1::EdgeSpec spec = ValidSpec();
  spec.set_gateway_address(std::string(10000, 'x') + "\n");
  spec.set_external_bridge("a\"b");
  const FieldViolations problems = ValidateEdgeSpec(spec);
  ASSERT_THAT(problems.violations(), SizeIs(2));
  for (const FieldViolation& v : problems.violations()) {
    EXPECT_LT(v.description.size(), 200u) << v.field;
    EXPECT_THAT(v.description, Not(HasSubstr("\n"))) << v.field;
  }
}

v1::EgressRule Rule(const char* cidr, v1::IpProtocol protocol, uint32_t from, uint32_t to,
                    v1::EgressAction action) {
  v1::EgressRule rule;
  rule.set_destination_cidr(cidr);
  rule.set_protocol(protocol);
  rule.set_port_from(from);
  rule.set_port_to(to);
  rule.set_action(action);
  return rule;
}

TEST(ValidateEgressPolicyTest, AcceptsGoodRules) {
  v1::EgressPolicy policy;
  *policy.add_rules() =
      Rule("0.0.0.0/0", v1::IP_PROTOCOL_UNSPECIFIED, 0, 0, v1::EGRESS_ACTION_DENY);
  *policy.add_rules() = Rule("192.0.2.0/24", v1::IP_PROTOCOL_TCP, 443, 0, v1::EGRESS_ACTION_ALLOW);
  *policy.add_rules() =
      Rule("192.0.2.7/32", v1::IP_PROTOCOL_UDP, 1, 65535, v1::EGRESS_ACTION_ALLOW);
  *policy.add_rules() = Rule("10.0.0.0/8", v1::IP_PROTOCOL_ICMP, 0, 0, v1::EGRESS_ACTION_ALLOW);
  *policy.add_rules() = Rule("10.0.0.0/8", v1::IP_PROTOCOL_TCP, 80, 80, v1::EGRESS_ACTION_ALLOW);
  policy.mutable_rules(1)->set_description("Paketspiegel für Ubuntu – HTTPS");
  // Output-only fields are ignored.
  policy.set_name("anything");
  policy.set_generation(-4);
  EXPECT_THAT(ValidateEgressPolicy(policy, "policy").violations(), IsEmpty());
  for (auto action :
       {v1::EGRESS_ACTION_UNSPECIFIED, v1::EGRESS_ACTION_ALLOW, v1::EGRESS_ACTION_DENY}) {
    policy.set_default_action(action);
    EXPECT_THAT(ValidateEgressPolicy(policy).violations(), IsEmpty());
  }
}

TEST(ValidateEgressPolicyTest, EachBadValueByItsFieldPath) {
  v1::EgressPolicy policy;
  policy.set_default_action(static_cast<v1::EgressAction>(9));
  *policy.add_rules() = Rule("192.0.2.1/24", v1::IP_PROTOCOL_TCP, 443, 0, v1::EGRESS_ACTION_ALLOW);
  *policy.add_rules() = Rule("2001:db8::/32", v1::IP_PROTOCOL_ICMP, 1, 2, v1::EGRESS_ACTION_DENY);
  *policy.add_rules() = Rule("10.0.0.0/8", v1::IP_PROTOCOL_TCP, 0, 80, v1::EGRESS_ACTION_ALLOW);
  *policy.add_rules() = Rule("10.0.0.0/8", v1::IP_PROTOCOL_UDP, 90, 80, v1::EGRESS_ACTION_ALLOW);
  *policy.add_rules() =
      Rule("10.0.0.0/8", v1::IP_PROTOCOL_UDP, 65536, 70000, v1::EGRESS_ACTION_UNSPECIFIED);
  *policy.add_rules() =
      Rule("", static_cast<v1::IpProtocol>(7), 0, 0, static_cast<v1::EgressAction>(3));
  *policy.add_rules() =
      Rule("10.0.0.0/8", v1::IP_PROTOCOL_UNSPECIFIED, 22, 0, v1::EGRESS_ACTION_ALLOW);
  policy.mutable_rules(6)->set_description(std::string(201, 'x'));
  *policy.add_rules() = Rule("10.0.0.0/8", v1::IP_PROTOCOL_TCP, 22, 0, v1::EGRESS_ACTION_ALLOW);
  policy.mutable_rules(7)->set_description("line\nbreak");
  FieldViolations v = ValidateEgressPolicy(policy, "policy");
  EXPECT_THAT(
      FieldsOf(v),
      ElementsAre("policy.default_action", "policy.rules[0].destination_cidr",
                  "policy.rules[1].destination_cidr", "policy.rules[1].port_from",
                  "policy.rules[1].port_to", "policy.rules[2].port_from", "policy.rules[3].port_to",
                  "policy.rules[4].port_from", "policy.rules[4].port_to", "policy.rules[4].action",
                  "policy.rules[5].destination_cidr", "policy.rules[5].protocol",
                  "policy.rules[5].action", "policy.rules[6].port_from",
                  "policy.rules[6].description", "policy.rules[7].description"));
  EXPECT_THAT(v.violations()[1].description, HasSubstr("did you mean 192.0.2.0/24?"));
  EXPECT_EQ(v.violations()[3].description,
            "must be 0: ports apply only to IP_PROTOCOL_TCP and IP_PROTOCOL_UDP");
  EXPECT_EQ(v.violations()[5].description, "required when port_to is set");
  EXPECT_EQ(v.violations()[6].description, "must be at least port_from 90, got 80");
}

TEST(ValidateEgressPolicyTest, AtMost256Rules) {
  v1::EgressPolicy policy;
  for (int i = 0; i < kMaxEgressRules; ++i) {
    *policy.add_rules() =
        Rule("192.0.2.0/24", v1::IP_PROTOCOL_TCP, i + 1, 0, v1::EGRESS_ACTION_ALLOW);
  }
  EXPECT_THAT(ValidateEgressPolicy(policy).violations(), IsEmpty());
  *policy.add_rules() = policy.rules(0);
  EXPECT_THAT(FieldsOf(ValidateEgressPolicy(policy, "policy")), ElementsAre("policy.rules"));
}

}  // namespace
}  // namespace mandant::tenants
