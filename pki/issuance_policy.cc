#include "pki/issuance_policy.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"

#include "pki/subject_alt_names.h"
#include "tenants/cidr.h"
#include "tenants/field_violations.h"

namespace mandant::pki {
namespace {

using ::mandant::tenants::Cidr;
using ::mandant::tenants::FieldViolations;

// Values quoted in messages are cut to this many bytes; a DNS name fits.
constexpr size_t kQuoteBytes = 256;
// Messages list at most this many of the policy's patterns...
constexpr size_t kListedPatterns = 5;
// ...and report at most this many refused SANs one by one.
constexpr int kReportedNames = 10;
// SPIFFE IDs are at most 2048 bytes (SPIFFE-ID spec, section 2.3).
constexpr size_t kMaxSpiffeId = 2048;
// X.520 ub-common-name; BuildCertificate refuses longer CNs.
constexpr size_t kMaxCommonName = 64;
constexpr char kSpiffeScheme[] = "spiffe://";
constexpr char kDnsSyntax[] =
    "labels of 1-63 letters, digits and inner hyphens, at most 253 characters, no trailing "
    "dot; internationalized names in their xn-- form";

std::string Quote(absl::string_view s) { return tenants::QuoteForMessage(s, kQuoteBytes); }

bool HasUpper(absl::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return absl::ascii_isupper(static_cast<unsigned char>(c)); });
}

// "" when `zone` may be a tenant's DNS zone or SPIFFE trust domain.
std::string DomainProblem(absl::string_view zone) {
  if (zone.empty()) return "is empty";
  if (!ValidateDnsName(zone).ok()) return absl::StrCat("is not a DNS name (", kDnsSyntax, ")");
  if (HasUpper(zone)) return "must be lower case";
  return "";
}

// `name` is `domain` or below it, on a label boundary. Both lower case.
bool InDomain(absl::string_view name, absl::string_view domain) {
  if (name == domain) return true;
  return name.size() > domain.size() && absl::EndsWith(name, domain) &&
         name[name.size() - domain.size() - 1] == '.';
}

// "" when `pattern` is a valid DNS pattern inside `zone` (a valid zone, or
// empty when the tenant has none). On success sets *domain and *wildcard.
std::string DnsPatternProblem(absl::string_view pattern, absl::string_view zone,
                              absl::string_view* domain, bool* wildcard) {
  if (pattern.empty()) return "is empty";
  absl::string_view d = pattern;
  *wildcard = absl::ConsumePrefix(&d, "*.");
  if (absl::StrContains(d, '*')) {
    return "has a wildcard other than a leading \"*.\"; a pattern is a DNS name, or \"*.\" "
           "followed by a domain for every name below it";
  }
  if (!ValidateDnsName(d).ok()) {
    return absl::StrCat("is not a DNS name or \"*.\" followed by one (", kDnsSyntax, ")");
  }
  if (HasUpper(d)) return "must be lower case";
  if (zone.empty()) return "cannot be allowed: the tenant has no valid DNS zone";
  if (!InDomain(d, zone)) {
    return absl::StrCat("is outside the tenant's DNS zone ", Quote(zone), "; patterns are ",
                        Quote(zone), ", a name below it, or \"*.\" followed by one of these");
  }
  *domain = d;
  return "";
}

// "" when `uri` is a SPIFFE ID in `trust_domain` (valid, or empty when the
// tenant has none), with "/*" as last segment when `allow_prefix`; then sets
// *prefix when it ends in "/*".
std::string SpiffeIdProblem(absl::string_view uri, absl::string_view trust_domain,
                            bool allow_prefix, bool* prefix) {
  *prefix = false;
  if (uri.empty()) return "is empty";
  if (uri.size() > kMaxSpiffeId) {
    return absl::StrCat("is longer than ", kMaxSpiffeId, " characters");
  }
  absl::string_view rest = uri;
  if (!absl::ConsumePrefix(&rest, kSpiffeScheme)) {
    return "is not a SPIFFE ID: only \"spiffe://\" URIs are issued";
  }
  const size_t slash = rest.find('/');
  const absl::string_view host = rest.substr(0, slash);
  if (trust_domain.empty()) return "cannot be allowed: the tenant has no valid SPIFFE trust domain";
  if (host != trust_domain) {
    if (absl::EqualsIgnoreCase(host, trust_domain)) {
      return absl::StrCat("must name the trust domain in lower case, ", Quote(trust_domain));
    }
    return absl::StrCat("is not in the tenant's SPIFFE trust domain ", Quote(trust_domain));
  }
  if (slash == absl::string_view::npos || slash + 1 == rest.size()) {
    return absl::StrCat("has no path; e.g. \"spiffe://", trust_domain, "/ns/prod/sa/api\"",
                        allow_prefix ? absl::StrCat(", or \"spiffe://", trust_domain,
                                                    "/*\" for every ID in the trust domain")
                                     : "");
  }
  const std::vector<absl::string_view> segments =
      absl::StrSplit(rest.substr(slash + 1), absl::ByChar('/'));
  for (size_t i = 0; i < segments.size(); ++i) {
    const absl::string_view segment = segments[i];
    if (segment.empty()) return "has an empty path segment (\"//\" or a trailing \"/\")";
    if (segment == "*" && allow_prefix && i + 1 == segments.size()) {
      *prefix = true;
      break;
    }
    if (segment == "." || segment == "..") return "has a \".\" or \"..\" path segment";
    for (char c : segment) {
      if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') {
        continue;
      }
      if (c == '*') {
        return allow_prefix ? "may have \"*\" only as its whole last path segment (\"/*\")"
                            : "contains \"*\"; certificates name single SPIFFE IDs";
      }
      if (c == '%') return "is percent-encoded, which SPIFFE IDs do not allow";
      if (c == '?' || c == '#') return "has a query or fragment, which SPIFFE IDs do not allow";
      return "has a path character other than letters, digits, '.', '-' and '_'";
    }
  }
  return "";
}

const Cidr& Ipv4MappedRange() {
  static const Cidr* const kRange = new Cidr(*Cidr::Parse("::ffff:0:0/96"));
  return *kRange;
}

bool IsIpv4Mapped(absl::string_view bytes) {
  static constexpr char kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\xff', '\xff'};
  return bytes.size() == 16 && bytes.substr(0, 12) == absl::string_view(kPrefix, 12);
}

// A policy's IP range: a CIDR, not IPv4-mapped. INVALID_ARGUMENT with a
// description that names the range.
absl::StatusOr<Cidr> ParsePolicyRange(absl::string_view text) {
  absl::StatusOr<Cidr> cidr = Cidr::Parse(text);
  if (!cidr.ok()) return cidr.status();
  if (!cidr->is_v4() && Ipv4MappedRange().Contains(*cidr)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quote(text),
                     " is an IPv4-mapped IPv6 range, which is never issued; allow the IPv4 "
                     "range itself"));
  }
  return cidr;
}

// The proto's names, which the caller of UpdateIssuancePolicy writes.
absl::string_view ProtoKeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
      return "KEY_TYPE_ECDSA_P256";
    case KeyType::kEcdsaP384:
      return "KEY_TYPE_ECDSA_P384";
    case KeyType::kEd25519:
      return "KEY_TYPE_ED25519";
    case KeyType::kRsa:
      return "KEY_TYPE_RSA";
  }
  return "";
}

bool IsKnownKeyType(KeyType type) { return !ProtoKeyTypeName(type).empty(); }

std::string DescribeDuration(absl::Duration d) {
  std::string out = absl::FormatDuration(d);
  const absl::Duration day = absl::Hours(24);
  if (d >= 2 * day && d < absl::InfiniteDuration() && d % day == absl::ZeroDuration()) {
    absl::StrAppend(&out, " (", d / day, " days)");
  }
  return out;
}

// The policy's patterns as matching uses them: only those
// ValidateIssuancePolicy accepts, so an unvalidated policy fails closed.
struct DnsPattern {
  std::string domain;
  bool wildcard;
};
struct UriPattern {
  // For a prefix "spiffe://td/ns/*", "spiffe://td/ns/".
  std::string text;
  bool prefix;
};
struct CompiledPolicy {
  // Empty when the policy's is not valid.
  std::string zone;
  std::string trust_domain;
  std::vector<DnsPattern> dns;
  std::vector<UriPattern> uris;
  std::vector<Cidr> ranges;
};

template <typename T>
absl::Span<const T> Limited(const std::vector<T>& list) {
  return absl::MakeConstSpan(list).subspan(0, kMaxPolicyPatterns);
}

CompiledPolicy Compile(const IssuancePolicy& policy) {
  CompiledPolicy c;
  if (DomainProblem(policy.dns_zone).empty()) c.zone = policy.dns_zone;
  if (DomainProblem(policy.spiffe_trust_domain).empty()) {
    c.trust_domain = policy.spiffe_trust_domain;
  }
  for (const std::string& pattern : Limited(policy.allowed_dns_names)) {
    absl::string_view domain;
    bool wildcard = false;
    if (DnsPatternProblem(pattern, c.zone, &domain, &wildcard).empty()) {
      c.dns.push_back({std::string(domain), wildcard});
    }
  }
  for (const std::string& pattern : Limited(policy.allowed_uris)) {
    bool prefix = false;
    if (SpiffeIdProblem(pattern, c.trust_domain, /*allow_prefix=*/true, &prefix).empty()) {
      // Drop the "*", keep the "/" so that matching stays on a segment boundary.
      c.uris.push_back({prefix ? pattern.substr(0, pattern.size() - 1) : pattern, prefix});
    }
  }
  for (const std::string& range : Limited(policy.allowed_ip_ranges)) {
    if (absl::StatusOr<Cidr> cidr = ParsePolicyRange(range); cidr.ok()) c.ranges.push_back(*cidr);
  }
  return c;
}

std::string ListPatterns(const std::vector<std::string>& patterns, absl::string_view kind) {
  if (patterns.empty()) return absl::StrCat("the policy allows no ", kind);
  std::string out = absl::StrCat("allowed ", kind, ": ");
  const size_t listed = std::min(patterns.size(), kListedPatterns);
  for (size_t i = 0; i < listed; ++i) {
    absl::StrAppend(&out, i > 0 ? ", " : "", tenants::QuoteForMessage(patterns[i], 128));
  }
  if (patterns.size() > listed) absl::StrAppend(&out, " and ", patterns.size() - listed, " more");
  return out;
}

// Each returns "" when the name is allowed, else why not. *canonical gets the
// form the certificate carries.
std::string DnsNameRefusal(const CompiledPolicy& c, const IssuancePolicy& policy,
                           absl::string_view name, std::string* canonical) {
  if (!ValidateDnsName(name).ok()) {
    return absl::StrCat("DNS name ", Quote(name), " is not a valid host name (", kDnsSyntax,
                        "; no wildcards)");
  }
  const std::string lower = absl::AsciiStrToLower(name);
  if (c.zone.empty() || !InDomain(lower, c.zone)) {
    return absl::StrCat("DNS name ", Quote(name), " is outside the tenant's DNS zone ",
                        Quote(policy.dns_zone));
  }
  for (const DnsPattern& p : c.dns) {
    const bool match =
        p.wildcard ? lower != p.domain && InDomain(lower, p.domain) : lower == p.domain;
    if (match) {
      *canonical = lower;
      return "";
    }
  }
  return absl::StrCat("DNS name ", Quote(name), " is not allowed by the issuance policy; ",
                      ListPatterns(policy.allowed_dns_names, "DNS names"));
}

std::string UriRefusal(const CompiledPolicy& c, const IssuancePolicy& policy,
                       absl::string_view uri) {
  bool prefix = false;
  if (std::string problem = SpiffeIdProblem(uri, c.trust_domain, /*allow_prefix=*/false, &prefix);
      !problem.empty()) {
    return absl::StrCat("URI ", Quote(uri), " ", problem);
  }
  for (const UriPattern& p : c.uris) {
    const bool match =
        p.prefix ? uri.size() > p.text.size() && absl::StartsWith(uri, p.text) : uri == p.text;
    if (match) return "";
  }
  return absl::StrCat("URI ", Quote(uri), " is not allowed by the issuance policy; ",
                      ListPatterns(policy.allowed_uris, "URIs"));
}

std::string IpAddressRefusal(const CompiledPolicy& c, const IssuancePolicy& policy,
                             absl::string_view address, std::string* canonical) {
  // inet_pton would stop at a NUL and accept what precedes it.
  absl::StatusOr<std::string> bytes = absl::StrContains(address, '\0')
                                          ? absl::InvalidArgumentError("NUL")
                                          : ParseIpAddress(address);
  if (!bytes.ok()) return absl::StrCat("IP address ", Quote(address), " is not an IP address");
  if (IsIpv4Mapped(*bytes)) {
    return absl::StrCat("IP address ", Quote(address),
                        " is IPv4-mapped, which is never issued; ask for the IPv4 address ",
                        FormatIpAddress(bytes->substr(12)), " itself");
  }
  const std::string text = FormatIpAddress(*bytes);
  absl::StatusOr<Cidr> host = Cidr::Parse(absl::StrCat(text, bytes->size() == 4 ? "/32" : "/128"));
  if (host.ok()) {
    for (const Cidr& range : c.ranges) {
      if (range.Contains(*host)) {
        *canonical = text;
        return "";
      }
    }
  }
  return absl::StrCat("IP address ", Quote(address), " is not allowed by the issuance policy; ",
                      ListPatterns(policy.allowed_ip_ranges, "IP ranges"));
}

// The usage as the proto names it.
absl::string_view UsageName(ExtendedKeyUsage usage) {
  switch (usage) {
    case ExtendedKeyUsage::kServerAuth:
      return "CERTIFICATE_USAGE_SERVER_AUTH";
    case ExtendedKeyUsage::kClientAuth:
      return "CERTIFICATE_USAGE_CLIENT_AUTH";
  }
  return "";
}

// Collects the refusals of the CSR's names: the first kReportedNames one by
// one, then a count.
class NameRefusals {
 public:
  explicit NameRefusals(FieldViolations* out) : out_(out) {}
  void Add(std::string description) {
    if (++count_ <= kReportedNames) out_->Add("csr", std::move(description));
  }
  void Finish() {
    if (count_ > kReportedNames) {
      out_->Add("csr", absl::StrCat("and ", count_ - kReportedNames,
                                    " more subject alternative names are refused"));
    }
  }

 private:
  FieldViolations* out_;
  int count_ = 0;
};

void CheckCsr(const IssuancePolicy& policy, const ParsedCsr& csr, LeafSpec* spec,
              FieldViolations* out) {
  const CompiledPolicy c = Compile(policy);
  const SubjectAltNames& names = csr.subject_alt_names;
  if (names.empty()) {
    out->Add("csr",
             "the CSR requests no subject alternative names; at least one DNS name, URI or IP "
             "address is needed (the subject CN is ignored)");
  }
  NameRefusals refusals(out);
  std::set<std::string> seen;
  for (const std::string& name : names.dns_names) {
    std::string canonical;
    if (std::string why = DnsNameRefusal(c, policy, name, &canonical); !why.empty()) {
      refusals.Add(std::move(why));
    } else if (!seen.insert("dns:" + canonical).second) {
      refusals.Add(absl::StrCat("DNS name ", Quote(name), " is requested twice"));
    } else {
      spec->subject_alt_names.dns_names.push_back(std::move(canonical));
    }
  }
  for (const std::string& uri : names.uris) {
    if (std::string why = UriRefusal(c, policy, uri); !why.empty()) {
      refusals.Add(std::move(why));
    } else if (!seen.insert("uri:" + uri).second) {
      refusals.Add(absl::StrCat("URI ", Quote(uri), " is requested twice"));
    } else {
      spec->subject_alt_names.uris.push_back(uri);
    }
  }
  for (const std::string& address : names.ip_addresses) {
    std::string canonical;
    if (std::string why = IpAddressRefusal(c, policy, address, &canonical); !why.empty()) {
      refusals.Add(std::move(why));
    } else if (!seen.insert("ip:" + canonical).second) {
      refusals.Add(absl::StrCat("IP address ", Quote(address), " is requested twice"));
    } else {
      spec->subject_alt_names.ip_addresses.push_back(std::move(canonical));
    }
  }
  refusals.Finish();

  // The key's own type, not csr.key, in case the two disagree.
  if (csr.public_key == nullptr) {
    out->Add("csr", "the CSR has no public key");
    return;
  }
  absl::StatusOr<KeyInfo> key = ClassifyKey(csr.public_key.get());
  if (!key.ok()) {
    out->Add("csr", std::string(key.status().message()));
    return;
  }
  spec->public_key = csr.public_key.get();
  const bool allowed = std::find(policy.allowed_key_types.begin(), policy.allowed_key_types.end(),
                                 key->type) != policy.allowed_key_types.end();
  if (!allowed) {
    std::vector<std::string> listed;
    for (KeyType type : policy.allowed_key_types) {
      if (IsKnownKeyType(type)) listed.emplace_back(ProtoKeyTypeName(type));
    }
    out->Add("csr", absl::StrCat(
                        "key type ", DescribeKey(*key), " is not allowed by the issuance policy; ",
                        listed.empty()
                            ? "the policy allows no key types"
                            : absl::StrCat("allowed key types: ", absl::StrJoin(listed, ", "))));
  } else if (key->type == KeyType::kRsa) {
    const int min_bits = std::max(policy.min_rsa_bits, kMinRsaBits);
    if (key->rsa_bits < min_bits) {
      out->Add("csr", absl::StrCat("RSA key of ", key->rsa_bits,
                                   " bits is shorter than the issuance policy's minimum of ",
                                   min_bits, " bits"));
    }
  }
}

}  // namespace

IssuancePolicy DefaultIssuancePolicy(absl::string_view dns_zone,
                                     absl::string_view spiffe_trust_domain) {
  IssuancePolicy policy;
  policy.dns_zone = std::string(dns_zone);
  policy.spiffe_trust_domain = std::string(spiffe_trust_domain);
  policy.allowed_dns_names = {absl::StrCat("*.", dns_zone)};
  policy.allowed_uris = {absl::StrCat(kSpiffeScheme, spiffe_trust_domain, "/*")};
  policy.allowed_key_types = {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519,
                              KeyType::kRsa};
  policy.min_rsa_bits = kMinRsaBits;
  policy.max_ttl = kDefaultPolicyMaxTtl;
  policy.default_ttl = kDefaultPolicyDefaultTtl;
  return policy;
}

absl::Status ValidateIssuancePolicy(const IssuancePolicy& policy, absl::string_view field_prefix) {
  FieldViolations v;
  auto field = [field_prefix](absl::string_view name) {
    return field_prefix.empty() ? std::string(name) : absl::StrCat(field_prefix, ".", name);
  };
  // Empty when not valid; patterns are then refused as outside.
  std::string zone = policy.dns_zone;
  std::string trust_domain = policy.spiffe_trust_domain;
  if (std::string problem = DomainProblem(zone); !problem.empty()) {
    v.Add(field("dns_zone"),
          absl::StrCat(Quote(zone), " ", problem, "; it is the tenant's DNS zone"));
    zone.clear();
  }
  if (std::string problem = DomainProblem(trust_domain); !problem.empty()) {
    v.Add(field("spiffe_trust_domain"),
          absl::StrCat(Quote(trust_domain), " ", problem, "; it is the tenant's trust domain"));
    trust_domain.clear();
  }

  // `check` returns "" and sets the key by which duplicates are found, or
  // describes the problem.
  auto check_list = [&](absl::string_view name, const std::vector<std::string>& list, auto check) {
    if (list.size() > static_cast<size_t>(kMaxPolicyPatterns)) {
      v.Add(field(name), absl::StrCat("has ", list.size(), " entries; at most ", kMaxPolicyPatterns,
                                      " are allowed"));
    }
    std::set<std::string> seen;
    const absl::Span<const std::string> limited = Limited(list);
    for (size_t i = 0; i < limited.size(); ++i) {
      const std::string entry_field = absl::StrCat(field(name), "[", i, "]");
      std::string key;
      if (std::string problem = check(limited[i], &key); !problem.empty()) {
        v.Add(entry_field, std::move(problem));
      } else if (!seen.insert(key).second) {
        v.Add(entry_field, absl::StrCat(Quote(limited[i]), " is listed twice"));
      }
    }
  };
  check_list("allowed_dns_names", policy.allowed_dns_names,
             [&zone](absl::string_view pattern, std::string* key) -> std::string {
               absl::string_view domain;
               bool wildcard = false;
               std::string problem = DnsPatternProblem(pattern, zone, &domain, &wildcard);
               if (!problem.empty()) return absl::StrCat(Quote(pattern), " ", problem);
               *key = std::string(pattern);
               return "";
             });
  check_list("allowed_uris", policy.allowed_uris,
             [&trust_domain](absl::string_view pattern, std::string* key) -> std::string {
               bool prefix = false;
               std::string problem =
                   SpiffeIdProblem(pattern, trust_domain, /*allow_prefix=*/true, &prefix);
               if (!problem.empty()) return absl::StrCat(Quote(pattern), " ", problem);
               *key = std::string(pattern);
               return "";
             });
  check_list("allowed_ip_ranges", policy.allowed_ip_ranges,
             [](absl::string_view range, std::string* key) -> std::string {
               absl::StatusOr<Cidr> cidr = ParsePolicyRange(range);
               if (!cidr.ok()) return std::string(cidr.status().message());
               *key = cidr->ToString();
               return "";
             });

  if (policy.allowed_key_types.empty()) {
    v.Add(field("allowed_key_types"),
          "must list at least one of KEY_TYPE_ECDSA_P256, KEY_TYPE_ECDSA_P384, "
          "KEY_TYPE_ED25519, KEY_TYPE_RSA");
  }
  if (policy.allowed_key_types.size() > static_cast<size_t>(kMaxPolicyPatterns)) {
    v.Add(field("allowed_key_types"),
          absl::StrCat("has ", policy.allowed_key_types.size(), " entries; there are 4 key types"));
  }
  std::set<KeyType> seen_types;
  const absl::Span<const KeyType> key_types = Limited(policy.allowed_key_types);
  for (size_t i = 0; i < key_types.size(); ++i) {
    const KeyType type = key_types[i];
    const std::string entry_field = absl::StrCat(field("allowed_key_types"), "[", i, "]");
    if (!IsKnownKeyType(type)) {
      v.Add(entry_field, absl::StrCat("key type ", static_cast<int>(type),
                                      " is unspecified or unknown; allowed are "
                                      "KEY_TYPE_ECDSA_P256, KEY_TYPE_ECDSA_P384, "
                                      "KEY_TYPE_ED25519, KEY_TYPE_RSA"));
    } else if (!seen_types.insert(type).second) {
      v.Add(entry_field, absl::StrCat(ProtoKeyTypeName(type), " is listed twice"));
    }
  }

  if (policy.min_rsa_bits < kMinRsaBits || policy.min_rsa_bits > kMaxRsaBits) {
    v.Add(field("min_rsa_bits"),
          absl::StrCat(policy.min_rsa_bits, " is outside ", kMinRsaBits, "-", kMaxRsaBits));
  }

  bool max_ok = true;
  if (policy.max_ttl < kMinCertificateTtl || policy.max_ttl > kMaxPolicyTtl) {
    max_ok = false;
    v.Add(field("max_ttl"), absl::StrCat(DescribeDuration(policy.max_ttl), " is outside ",
                                         DescribeDuration(kMinCertificateTtl), " to ",
                                         DescribeDuration(kMaxPolicyTtl)));
  } else if (policy.max_ttl % absl::Seconds(1) != absl::ZeroDuration()) {
    max_ok = false;
    v.Add(field("max_ttl"),
          absl::StrCat(DescribeDuration(policy.max_ttl), " is not a whole number of seconds"));
  }
  const absl::Duration default_max = max_ok ? policy.max_ttl : kMaxPolicyTtl;
  if (policy.default_ttl < kMinCertificateTtl || policy.default_ttl > default_max) {
    v.Add(field("default_ttl"),
          absl::StrCat(DescribeDuration(policy.default_ttl), " is outside ",
                       DescribeDuration(kMinCertificateTtl), " to ",
                       max_ok ? absl::StrCat("max_ttl (", DescribeDuration(default_max), ")")
                              : DescribeDuration(default_max)));
  }
  return v.ToStatus();
}

bool IsDnsNameAllowed(const IssuancePolicy& policy, absl::string_view name) {
  std::string canonical;
  return DnsNameRefusal(Compile(policy), policy, name, &canonical).empty();
}

bool IsUriAllowed(const IssuancePolicy& policy, absl::string_view uri) {
  return UriRefusal(Compile(policy), policy, uri).empty();
}

bool IsIpAddressAllowed(const IssuancePolicy& policy, absl::string_view address) {
  std::string canonical;
  return IpAddressRefusal(Compile(policy), policy, address, &canonical).empty();
}

absl::StatusOr<LeafSpec> ApplyIssuancePolicy(const IssuancePolicy& policy,
                                             const IssuanceRequest& request, absl::Time now) {
  FieldViolations v;
  LeafSpec spec;
  if (request.csr == nullptr) {
    v.Add("csr", "no CSR was given");
  } else {
    CheckCsr(policy, *request.csr, &spec, &v);
  }

  const absl::Duration max_ttl = std::min(policy.max_ttl, kMaxPolicyTtl);
  const absl::Duration ttl = request.ttl.value_or(policy.default_ttl);
  auto describe_ttl = [&request, ttl] {
    return request.ttl.has_value()
               ? DescribeDuration(ttl)
               : absl::StrCat("the policy's default_ttl ", DescribeDuration(ttl));
  };
  if (ttl < kMinCertificateTtl) {
    v.Add("ttl", absl::StrCat(describe_ttl(), " is shorter than the minimum of ",
                              DescribeDuration(kMinCertificateTtl)));
  } else if (ttl > max_ttl) {
    v.Add("ttl", absl::StrCat(describe_ttl(), " is longer than the issuance policy's max_ttl of ",
                              DescribeDuration(max_ttl)));
  }

  if (request.usages.empty()) {
    v.Add("usages",
          "at least one usage is required: CERTIFICATE_USAGE_SERVER_AUTH and/or "
          "CERTIFICATE_USAGE_CLIENT_AUTH");
  }
  // Each problem once, however long the list.
  std::set<ExtendedKeyUsage> seen;
  std::set<ExtendedKeyUsage> reported;
  bool reported_unknown = false;
  for (ExtendedKeyUsage usage : request.usages) {
    if (UsageName(usage).empty()) {
      if (!reported_unknown) {
        v.Add("usages", absl::StrCat("usage ", static_cast<int>(usage),
                                     " is unspecified or unknown; allowed are "
                                     "CERTIFICATE_USAGE_SERVER_AUTH and "
                                     "CERTIFICATE_USAGE_CLIENT_AUTH"));
      }
      reported_unknown = true;
    } else if (!seen.insert(usage).second && reported.insert(usage).second) {
      v.Add("usages", absl::StrCat(UsageName(usage), " is listed twice"));
    }
  }

  if (!v.empty()) return v.ToStatus();
  const std::vector<std::string>& dns = spec.subject_alt_names.dns_names;
  if (!dns.empty() && dns.front().size() <= kMaxCommonName) spec.common_name = dns.front();
  spec.extended_key_usages = request.usages;
  spec.not_after = now + ttl;
  return spec;
}

}  // namespace mandant::pki
