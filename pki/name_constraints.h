#ifndef MANDANT_PKI_NAME_CONSTRAINTS_H_
#define MANDANT_PKI_NAME_CONSTRAINTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "pki/openssl_ptr.h"
#include "pki/subject_alt_names.h"

namespace mandant::pki {

// The X.509 name constraints (RFC 5280 4.2.1.10) of a name-constrained CA,
// such as a tenant's intermediate. Mandant's constraints are closed: a CA
// carrying them permits exactly the names listed here and nothing else. The
// extension is always critical. Semantics, as OpenSSL (and Go's crypto/x509)
// check them when verifying a chain:
//
//  - DNS: "acme.svc.example.net" permits that name and every name below it
//    ("api.acme.svc.example.net", "a.b.acme.svc.example.net"), compared
//    case-insensitively; "xacme.svc.example.net" is outside. A leaf without
//    DNS SANs also has a host-like subject CN checked against these.
//  - URI: a constraint names a host, never a scheme or path. "acme.example.net"
//    permits URIs whose host is exactly acme.example.net, whatever the scheme
//    and path ("spiffe://acme.example.net/ns/x" but also
//    "https://acme.example.net/"); ".acme.example.net" permits hosts strictly
//    below it and not acme.example.net itself. This is how a SPIFFE trust
//    domain is constrained: the trust domain is the URI's host. Keeping the
//    scheme to "spiffe" is the issuance policy's job.
//  - IP: CIDRs; an address SAN must lie in one of them. A permitted range of
//    one family also excludes every address of the other family.
//
// An empty list closes its name type: DNS names and URIs are then permitted
// only in the reserved TLD ".invalid" (RFC 6761), which no real name is in,
// and every IP address is excluded (0.0.0.0/0 and ::/0). E-mail addresses are
// always closed the same way, since Mandant never issues them.
struct NameConstraints {
  std::vector<std::string> permitted_dns_domains;
  std::vector<std::string> permitted_uri_hosts;
  std::vector<std::string> permitted_ip_ranges;

  friend bool operator==(const NameConstraints& a, const NameConstraints& b) {
    return a.permitted_dns_domains == b.permitted_dns_domains &&
           a.permitted_uri_hosts == b.permitted_uri_hosts &&
           a.permitted_ip_ranges == b.permitted_ip_ranges;
  }
};

// Builds the extension value. INVALID_ARGUMENT naming the entry for a DNS
// domain that is not a host name (no leading dot, no wildcard), a URI host
// that is not a host name with an optional leading dot, and a CIDR that does
// not parse or has host bits set.
absl::StatusOr<NameConstraintsPtr> ToX509NameConstraints(const NameConstraints& constraints);

// Reads the permitted subtrees back, leaving out the closing entries
// described above. Ranges come back as "10.64.3.0/24". INVALID_ARGUMENT for
// an IP subtree that is not an address and a contiguous mask.
absl::StatusOr<NameConstraints> FromX509NameConstraints(const NAME_CONSTRAINTS* constraints);

// Checks names against `constraints` exactly as OpenSSL does when it
// verifies a chain: every SAN, and the subject CN when there is no DNS SAN.
// OK when `constraints` is nullptr. INVALID_ARGUMENT naming the first name
// outside the constraints and what they permit. The hard limit under any
// issuance policy: a CA's constraints cannot be widened by policy.
absl::Status CheckNamesPermitted(const NAME_CONSTRAINTS* constraints, absl::string_view common_name,
                                 const SubjectAltNames& names);

}  // namespace mandant::pki

#endif  // MANDANT_PKI_NAME_CONSTRAINTS_H_
