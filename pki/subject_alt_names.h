#ifndef MANDANT_PKI_SUBJECT_ALT_NAMES_H_
#define MANDANT_PKI_SUBJECT_ALT_NAMES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "pki/openssl_ptr.h"

namespace mandant::pki {

// The subject alternative names Mandant puts into certificates. Other name
// types (e-mail, directory names, otherName) are never issued.
struct SubjectAltNames {
  // Host names, e.g. "api.acme.svc.example.net". No wildcards.
  std::vector<std::string> dns_names;
  // Identity URIs, e.g. "spiffe://acme.example.net/ns/prod/sa/api".
  std::vector<std::string> uris;
  // IPv4 or IPv6 addresses in text form, e.g. "10.64.3.7", "fd00::7".
  std::vector<std::string> ip_addresses;

  bool empty() const { return dns_names.empty() && uris.empty() && ip_addresses.empty(); }
  friend bool operator==(const SubjectAltNames& a, const SubjectAltNames& b) {
    return a.dns_names == b.dns_names && a.uris == b.uris && a.ip_addresses == b.ip_addresses;
  }
};

// A host name: dot-separated labels of letters, digits and inner hyphens,
// 1-63 characters each, at most 253 in all, no trailing dot, no wildcard.
// INVALID_ARGUMENT naming the name and the rule it breaks.
absl::Status ValidateDnsName(absl::string_view name);

// An identity URI "scheme://host[/path]": a lower-case scheme, a host that
// passes ValidateDnsName, and a path of RFC 3986 path characters
// (percent-escapes allowed). No user info, port, query or fragment: RFC 5280
// name constraints match a URI by its host, so the host must be unambiguous,
// and SPIFFE IDs forbid the rest anyway. At most 2048 characters.
// INVALID_ARGUMENT naming the URI and the rule it breaks.
absl::Status ValidateUri(absl::string_view uri);

// The host of a URI that passes ValidateUri, e.g. "acme.example.net" for
// "spiffe://acme.example.net/api".
absl::string_view UriHost(absl::string_view uri);

// Parses an IPv4 dotted quad or an IPv6 address (no zone) into its 4 or 16
// network-order bytes. INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> ParseIpAddress(absl::string_view text);
// The canonical text of 4 or 16 address bytes ("10.0.0.1", RFC 5952 IPv6).
std::string FormatIpAddress(absl::string_view bytes);

// Validates every name (INVALID_ARGUMENT naming the first bad one, also for
// duplicates) and builds the GENERAL_NAMES of a subjectAltName extension, in
// the order DNS names, URIs, IP addresses.
absl::StatusOr<GeneralNamesPtr> ToGeneralNames(const SubjectAltNames& names);

// Reads the DNS, URI and IP names from `names` (nullptr gives no names).
// INVALID_ARGUMENT for a name type Mandant does not issue, or a malformed
// name, so that a CSR or certificate asking for one is refused rather than
// silently trimmed.
absl::StatusOr<SubjectAltNames> FromGeneralNames(const GENERAL_NAMES* names);

}  // namespace mandant::pki

#endif  // MANDANT_PKI_SUBJECT_ALT_NAMES_H_
