#ifndef MANDANT_TESTS_UNIT_AGENTS_EDGE_EDGE_SPECS_H_
#define MANDANT_TESTS_UNIT_AGENTS_EDGE_EDGE_SPECS_H_

// The EdgeSpecs the edge renderer tests share; both pass ValidateEdgeSpec.

#include "mandant/v1/agent.pb.h"

namespace mandant::agent::testing {

// Tenant acme on VNI 1001 with one host: one endpoint (three control
// planes, the third draining), three static leases, one resolver, no egress
// policy (default ALLOW), no VRRP.
mandant::v1::EdgeSpec SingleEdge();

// Tenant beta on VLAN 42, the master-to-be of a redundant pair: two
// endpoints (one without allowed CIDRs, one with overlapping ones), an
// egress policy of default DENY with allow and deny rules of every
// protocol, three resolvers, VRRP with one peer.
mandant::v1::EdgeSpec RedundantEdge();

}  // namespace mandant::agent::testing

#endif  // MANDANT_TESTS_UNIT_AGENTS_EDGE_EDGE_SPECS_H_
