#ifndef MANDANT_PKI_ISSUANCE_POLICY_H_
#define MANDANT_PKI_ISSUANCE_POLICY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "pki/certificate_authority.h"
#include "pki/certificate_builder.h"
#include "pki/csr.h"
#include "pki/key.h"

namespace mandant::pki {

// A tenant's issuance policy: which names, key types and lifetimes its
// service certificates may have. Pure logic, no I/O; every function here is
// thread-safe. The tenant intermediate's name constraints stay the hard limit
// (IssueLeaf checks them); the policy narrows what a tenant admin allows
// inside them, and keeps URIs to SPIFFE IDs, which name constraints cannot.
// See docs/pki.md "Issuance policy".

inline constexpr int kMaxPolicyPatterns = 100;
// The shortest certificate lifetime anyone may ask for.
inline constexpr absl::Duration kMinCertificateTtl = absl::Minutes(5);
// The longest max_ttl a policy may set (the CA/Browser Forum's 397 days).
inline constexpr absl::Duration kMaxPolicyTtl = absl::Hours(24 * 397);
inline constexpr absl::Duration kDefaultPolicyMaxTtl = absl::Hours(24 * 90);
inline constexpr absl::Duration kDefaultPolicyDefaultTtl = absl::Hours(24);

// Mirrors mandant.v1.IssuancePolicy (proto/mandant/v1/certificate.proto)
// without its output-only name, update_time and etag.
//
// Patterns:
//  - allowed_dns_names: a lower-case DNS name ("api.acme.svc.example.net"),
//    matching that name only, or "*." and a domain ("*.acme.svc.example.net"),
//    matching every name strictly below the domain at any depth but not the
//    domain itself. Names are compared case-insensitively.
//  - allowed_uris: a SPIFFE ID "spiffe://{trust domain}/{path}", matching
//    exactly, or a prefix ending in "/*" ("spiffe://acme.example.net/ns/*"),
//    matching every ID strictly below it on a path-segment boundary
//    (".../ns/a" and ".../ns/a/b", not ".../ns" nor ".../nsx"). Paths are
//    compared case-sensitively, as SPIFFE says.
//  - allowed_ip_ranges: CIDRs, IPv4 ("10.64.3.0/24") or IPv6
//    ("fd00:0:0:7::/64"). An address matches a range of its own family only.
struct IssuancePolicy {
  // The tenant's DNS zone and SPIFFE trust domain, e.g.
  // "acme.svc.example.net" and "acme.example.net"; set by the controller from
  // the tenant, never by the caller.
  std::string dns_zone;
  std::string spiffe_trust_domain;
  std::vector<std::string> allowed_dns_names;
  std::vector<std::string> allowed_uris;
  std::vector<std::string> allowed_ip_ranges;
  std::vector<KeyType> allowed_key_types;
  int min_rsa_bits = kMinRsaBits;
  absl::Duration max_ttl = kDefaultPolicyMaxTtl;
  absl::Duration default_ttl = kDefaultPolicyDefaultTtl;
};

// A new tenant's policy: "*.{dns_zone}", "spiffe://{spiffe_trust_domain}/*",
// no IP addresses, every key type, RSA from 2048 bits, default_ttl 24 hours,
// max_ttl 90 days. Passes ValidateIssuancePolicy when the zone and trust
// domain are lower-case DNS names.
IssuancePolicy DefaultIssuancePolicy(absl::string_view dns_zone,
                                     absl::string_view spiffe_trust_domain);

// What UpdateIssuancePolicy checks before storing a policy. OK, or
// INVALID_ARGUMENT listing every problem at once, with a google.rpc.BadRequest
// payload (mandant::tenants::ViolationsOf reads it back). Field paths are
// `field_prefix` + "." + the proto field name, e.g. with field_prefix
// "policy": "policy.allowed_dns_names[2]", "policy.max_ttl"; an empty prefix
// leaves out the prefix and the dot. Each description quotes the bad value
// and says what is allowed. Checked:
//  - dns_zone and spiffe_trust_domain are lower-case DNS names;
//  - at most kMaxPolicyPatterns patterns per list (entries past the limit
//    are not checked one by one), none listed twice;
//  - DNS patterns as described at IssuancePolicy, lower-case, each equal to
//    or below dns_zone;
//  - URI patterns are SPIFFE IDs in spiffe_trust_domain, at most 2048
//    characters, with a non-empty path of segments of letters, digits, '.',
//    '-' and '_' (no empty, "." or ".." segments, no percent-encoding, query
//    or fragment); "*" only as the whole last segment;
//  - IP ranges are CIDRs without host bits set (tenants::Cidr::Parse), and
//    not IPv4-mapped IPv6 ranges (inside ::ffff:0:0/96: write the IPv4 range);
//  - allowed_key_types is not empty and holds only KeyType values, none
//    twice (map KEY_TYPE_UNSPECIFIED to a value outside the enum, say
//    static_cast<KeyType>(-1), and it is refused here);
//  - min_rsa_bits in [kMinRsaBits, kMaxRsaBits];
//  - max_ttl in [kMinCertificateTtl, kMaxPolicyTtl], whole seconds;
//  - default_ttl in [kMinCertificateTtl, max_ttl].
absl::Status ValidateIssuancePolicy(const IssuancePolicy& policy, absl::string_view field_prefix);

// Whether a certificate under `policy` may carry this name. Whatever
// ValidateIssuancePolicy would refuse in the policy itself matches nothing (a
// malformed pattern, one outside the zone or trust domain, any pattern when
// the zone or trust domain is not valid), and patterns past the first
// kMaxPolicyPatterns of a list are ignored, so an unvalidated policy fails
// closed. Each call compiles the policy anew (O(patterns)).
//
// A DNS name must be an LDH host name (ValidateDnsName: no trailing dot, no
// wildcard, no IDNA U-labels, no NUL), inside dns_zone, and match a pattern;
// case does not matter.
bool IsDnsNameAllowed(const IssuancePolicy& policy, absl::string_view name);
// A URI must be a SPIFFE ID in spiffe_trust_domain (scheme "spiffe", the
// lower-case trust domain as host, a path as for URI patterns, without "*")
// and match a pattern.
bool IsUriAllowed(const IssuancePolicy& policy, absl::string_view uri);
// An IP address (IPv4 dotted quad or IPv6) must lie in an allowed range of
// its own family. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are never
// allowed, whatever the ranges: some verifiers (Go's net.IP.Equal) treat them
// as the IPv4 address, others (OpenSSL) do not, so such a certificate would
// mean different things to different peers. Ask for the IPv4 address instead.
bool IsIpAddressAllowed(const IssuancePolicy& policy, absl::string_view address);

// An IssueCertificate request, as the controller decoded it.
struct IssuanceRequest {
  // Parsed and verified by ParseCsr. Not owned; must outlive the LeafSpec
  // made from it (the LeafSpec points at its public key).
  const ParsedCsr* csr = nullptr;
  // Unset: the policy's default_ttl.
  std::optional<absl::Duration> ttl;
  std::vector<ExtendedKeyUsage> usages;
};

// Checks `request` against `policy` and builds the LeafSpec to pass to
// IssueLeaf. The certificate gets:
//  - the CSR's DNS, URI and IP SANs, each allowed (IsDnsNameAllowed,
//    IsUriAllowed, IsIpAddressAllowed), at least one, none twice; DNS names
//    in lower case, IP addresses in canonical text, order kept;
//  - common_name = the first DNS SAN, or empty when there is none or it is
//    longer than 64 characters (the X.520 limit); the CSR's own CN and other
//    subject attributes are ignored;
//  - the CSR's public key, whose type (read from the key itself) must be in
//    allowed_key_types, and for RSA have at least min_rsa_bits;
//  - not_after = now + ttl, where ttl (default default_ttl) is in
//    [kMinCertificateTtl, max_ttl]. Not cut short to the issuer: IssueLeaf
//    refuses a leaf that would outlive its issuer (FAILED_PRECONDITION);
//  - the requested usages, at least one, none twice.
// crl_distribution_point is left empty for the caller to set.
// INVALID_ARGUMENT listing every problem at once (google.rpc.BadRequest
// payload) under the fields "csr" (naming each refused SAN and what the
// policy allows, or the key), "ttl" and "usages".
absl::StatusOr<LeafSpec> ApplyIssuancePolicy(const IssuancePolicy& policy,
                                             const IssuanceRequest& request, absl::Time now);

}  // namespace mandant::pki

#endif  // MANDANT_PKI_ISSUANCE_POLICY_H_
