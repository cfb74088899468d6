// Feeds arbitrary bytes to ParseCsr and the issuance policy, and checks their
// invariants. The same input is used three ways:
//  1. as a CSR (PEM or DER): one that ParseCsr accepts goes through
//     ApplyIssuancePolicy under a fixed policy;
//  2. when 1 fails but DecodeCsr reads the bytes, the request is re-signed
//     with a fixed key, so that mutated names get past the signature check,
//     and goes through 1 again;
//  3. as lines of text that make a policy and a hand-made CSR:
//       zone=, td=         the tenant's DNS zone and trust domain
//       dns=, uri=, ip=    allowed_dns_names, allowed_uris, allowed_ip_ranges
//       key=0123           allowed_key_types (digits are KeyType values)
//       rsa=, max=, def=   min_rsa_bits, max_ttl and default_ttl in seconds
//       san-dns=, san-uri=, san-ip=   the CSR's names (key: a fixed P-256 one)
//       ttl=               the requested ttl in seconds
//       usage=             a digit, an ExtendedKeyUsage value
//     The policy goes through ValidateIssuancePolicy and, valid or not,
//     through ApplyIssuancePolicy with that CSR.
// Whatever ApplyIssuancePolicy accepts must be allowed name by name, inside
// the tenant's zone and trust domain, writable by BuildCertificate, and, for a
// valid policy, permitted by the tenant CA's name constraints.
//
// The seed corpus (tests/fuzz/corpus/csr_policy) holds real CSRs made once
// with the openssl command line, e.g.
//   openssl req -new -key p256.pem -subj /CN=api -outform DER -out p256_allowed.der
//     -addext "subjectAltName=DNS:api.acme.svc.example.net,URI:spiffe://acme.example.net/api"
// (one line), and a few policy texts in the line format above.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/issuance_policy.h"
#include "pki/key.h"
#include "pki/name_constraints.h"
#include "pki/openssl_error.h"
#include "pki/subject_alt_names.h"
#include "tenants/cidr.h"
#include "tenants/field_violations.h"

namespace mandant::pki {
namespace {

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

constexpr size_t kMaxLines = 256;
constexpr size_t kMaxMessage = 64 * 1024;

const absl::Time kNow = absl::FromUnixSeconds(1750000000);

// Generated once; the replay build has no LLVMFuzzerInitialize.
EVP_PKEY* FixedKey() {
  static EVP_PKEY* const key = [] {
    absl::StatusOr<EvpPkeyPtr> k = GenerateKey(KeyType::kEcdsaP256);
    FUZZ_CHECK(k.ok());
    return k->release();
  }();
  return key;
}

IssuancePolicy FixedPolicy() {
  IssuancePolicy policy = DefaultIssuancePolicy("acme.svc.example.net", "acme.example.net");
  policy.allowed_dns_names.push_back("acme.svc.example.net");
  policy.allowed_uris = {"spiffe://acme.example.net/ns/*", "spiffe://acme.example.net/api"};
  policy.allowed_ip_ranges = {"10.64.3.0/24", "fd00:0:0:7::/64"};
  return policy;
}

bool InDomain(absl::string_view name, absl::string_view domain) {
  return name == domain ||
         (name.size() > domain.size() && absl::EndsWith(name, absl::StrCat(".", domain)));
}

void CheckFailure(const absl::Status& status) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  FUZZ_CHECK(status.message().size() < kMaxMessage);
  const std::vector<tenants::FieldViolation> violations = tenants::ViolationsOf(status);
  FUZZ_CHECK(!violations.empty());
  for (const tenants::FieldViolation& v : violations) {
    FUZZ_CHECK(v.field == "csr" || v.field == "ttl" || v.field == "usages");
    FUZZ_CHECK(!v.description.empty());
  }
}

// The invariants of a LeafSpec that ApplyIssuancePolicy made.
void CheckSpec(const IssuancePolicy& policy, const IssuanceRequest& request, const LeafSpec& spec,
               bool policy_valid) {
  const SubjectAltNames& names = spec.subject_alt_names;
  FUZZ_CHECK(!names.empty());
  FUZZ_CHECK(spec.public_key == request.csr->public_key.get());
  absl::StatusOr<KeyInfo> key = ClassifyKey(spec.public_key);
  FUZZ_CHECK(key.ok());
  FUZZ_CHECK(std::find(policy.allowed_key_types.begin(), policy.allowed_key_types.end(),
                       key->type) != policy.allowed_key_types.end());
  FUZZ_CHECK(key->type != KeyType::kRsa || key->rsa_bits >= policy.min_rsa_bits);
  for (const std::string& dns : names.dns_names) {
    FUZZ_CHECK(IsDnsNameAllowed(policy, dns));
    FUZZ_CHECK(ValidateDnsName(dns).ok());
    FUZZ_CHECK(InDomain(dns, policy.dns_zone));
    for (char c : dns) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
  }
  for (const std::string& uri : names.uris) {
    FUZZ_CHECK(IsUriAllowed(policy, uri));
    FUZZ_CHECK(ValidateUri(uri).ok());
    FUZZ_CHECK(absl::StartsWith(uri, absl::StrCat("spiffe://", policy.spiffe_trust_domain, "/")));
    FUZZ_CHECK(UriHost(uri) == policy.spiffe_trust_domain);
    FUZZ_CHECK(!absl::StrContains(uri, "/../") && !absl::StrContains(uri, "%"));
  }
  for (const std::string& ip : names.ip_addresses) {
    FUZZ_CHECK(IsIpAddressAllowed(policy, ip));
    absl::StatusOr<std::string> bytes = ParseIpAddress(ip);
    FUZZ_CHECK(bytes.ok());
    FUZZ_CHECK(FormatIpAddress(*bytes) == ip);
    FUZZ_CHECK(!absl::StartsWith(*bytes, absl::string_view("\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)));
  }
  // BuildCertificate writes these names: valid and not repeated.
  FUZZ_CHECK(ToGeneralNames(names).ok());
  if (names.dns_names.empty() || names.dns_names.front().size() > 64) {
    FUZZ_CHECK(spec.common_name.empty());
  } else {
    FUZZ_CHECK(spec.common_name == names.dns_names.front());
  }
  const absl::Duration ttl = spec.not_after - kNow;
  FUZZ_CHECK(ttl >= kMinCertificateTtl && ttl <= policy.max_ttl && ttl <= kMaxPolicyTtl);
  FUZZ_CHECK(!request.ttl.has_value() || *request.ttl == ttl);
  FUZZ_CHECK(spec.extended_key_usages == request.usages);
  FUZZ_CHECK(!spec.extended_key_usages.empty());

  if (!policy_valid) return;
  // The policy never allows what the tenant CA's constraints would refuse.
  NameConstraints constraints;
  constraints.permitted_dns_domains = {policy.dns_zone};
  constraints.permitted_uri_hosts = {policy.spiffe_trust_domain};
  for (const std::string& range : policy.allowed_ip_ranges) {
    absl::StatusOr<tenants::Cidr> cidr = tenants::Cidr::Parse(range);
    FUZZ_CHECK(cidr.ok());
    constraints.permitted_ip_ranges.push_back(cidr->ToString());
  }
  absl::StatusOr<NameConstraintsPtr> x509 = ToX509NameConstraints(constraints);
  FUZZ_CHECK(x509.ok());
  absl::Status permitted = CheckNamesPermitted(x509->get(), spec.common_name, names);
  if (!permitted.ok()) {
    std::fprintf(stderr, "%s\n", std::string(permitted.message()).c_str());
    FUZZ_CHECK(permitted.ok());
  }
}

void Apply(const IssuancePolicy& policy, const IssuanceRequest& request, bool policy_valid) {
  absl::StatusOr<LeafSpec> spec = ApplyIssuancePolicy(policy, request, kNow);
  if (spec.ok()) {
    CheckSpec(policy, request, *spec, policy_valid);
  } else {
    CheckFailure(spec.status());
  }
}

void ApplyFixedPolicy(const ParsedCsr& csr, size_t variant) {
  static const IssuancePolicy* const policy = new IssuancePolicy(FixedPolicy());
  IssuanceRequest request;
  request.csr = &csr;
  request.usages = {ExtendedKeyUsage::kServerAuth};
  if (variant % 3 == 1) request.ttl = absl::Minutes(5);
  if (variant % 3 == 2) request.ttl = absl::Hours(24 * 91);
  Apply(*policy, request, /*policy_valid=*/true);
}

void FuzzCsr(absl::string_view input) {
  absl::StatusOr<ParsedCsr> csr = ParseCsr(input);
  if (csr.ok()) {
    ApplyFixedPolicy(*csr, input.size());
    return;
  }
  FUZZ_CHECK(csr.status().code() == absl::StatusCode::kInvalidArgument);
  absl::StatusOr<X509ReqPtr> req = DecodeCsr(input);
  ClearOpenSslErrors();
  if (!req.ok()) return;
  // Whatever the request held, it now verifies with the fixed key.
  if (X509_REQ_set_pubkey(req->get(), FixedKey()) != 1 ||
      X509_REQ_sign(req->get(), FixedKey(), EVP_sha256()) <= 0) {
    ClearOpenSslErrors();
    return;
  }
  absl::StatusOr<std::string> der = CsrToDer(req->get());
  ClearOpenSslErrors();
  if (!der.ok()) return;
  csr = ParseCsr(*der);
  ClearOpenSslErrors();
  if (csr.ok()) ApplyFixedPolicy(*csr, input.size());
}

std::optional<absl::Duration> ParseSeconds(absl::string_view text) {
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(text, &seconds)) return std::nullopt;
  return absl::Seconds(seconds);
}

// A sample name each valid pattern must allow.
void CheckPatternsMatch(const IssuancePolicy& policy) {
  for (const std::string& pattern : policy.allowed_dns_names) {
    if (absl::StartsWith(pattern, "*.")) {
      const std::string below = absl::StrCat("x", pattern.substr(1));
      if (below.size() <= 253) FUZZ_CHECK(IsDnsNameAllowed(policy, below));
    } else {
      FUZZ_CHECK(IsDnsNameAllowed(policy, pattern));
    }
  }
  for (const std::string& pattern : policy.allowed_uris) {
    if (absl::EndsWith(pattern, "/*")) {
      const std::string below = absl::StrCat(pattern.substr(0, pattern.size() - 1), "x");
      FUZZ_CHECK(IsUriAllowed(policy, below));
      FUZZ_CHECK(!IsUriAllowed(policy, pattern));
    } else {
      FUZZ_CHECK(IsUriAllowed(policy, pattern));
    }
  }
  for (const std::string& range : policy.allowed_ip_ranges) {
    absl::StatusOr<tenants::Cidr> cidr = tenants::Cidr::Parse(range);
    FUZZ_CHECK(cidr.ok());
    FUZZ_CHECK(IsIpAddressAllowed(policy, cidr->NetworkAddress()));
  }
}

void FuzzPolicyText(absl::string_view input) {
  IssuancePolicy policy = DefaultIssuancePolicy("acme.svc.example.net", "acme.example.net");
  policy.allowed_dns_names.clear();
  policy.allowed_uris.clear();
  ParsedCsr csr;
  csr.public_key = UpRef(FixedKey());
  csr.key = KeyInfo{KeyType::kEcdsaP256, 0};
  IssuanceRequest request;
  request.csr = &csr;
  bool any_usage = false;
  size_t lines = 0;
  for (absl::string_view rest = input; !rest.empty() && lines < kMaxLines; ++lines) {
    const size_t newline = rest.find('\n');
    const absl::string_view line = rest.substr(0, newline);
    rest = newline == absl::string_view::npos ? absl::string_view() : rest.substr(newline + 1);
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    const absl::string_view tag = line.substr(0, eq);
    const absl::string_view value = line.substr(eq + 1);
    if (tag == "zone") {
      policy.dns_zone = std::string(value);
    } else if (tag == "td") {
      policy.spiffe_trust_domain = std::string(value);
    } else if (tag == "dns") {
      policy.allowed_dns_names.emplace_back(value);
    } else if (tag == "uri") {
      policy.allowed_uris.emplace_back(value);
    } else if (tag == "ip") {
      policy.allowed_ip_ranges.emplace_back(value);
    } else if (tag == "key") {
      policy.allowed_key_types.clear();
      for (char c : value) policy.allowed_key_types.push_back(static_cast<KeyType>(c - '0'));
    } else if (tag == "rsa") {
      if (!absl::SimpleAtoi(value, &policy.min_rsa_bits)) policy.min_rsa_bits = 0;
    } else if (tag == "max") {
      policy.max_ttl = ParseSeconds(value).value_or(absl::ZeroDuration());
    } else if (tag == "def") {
      policy.default_ttl = ParseSeconds(value).value_or(absl::ZeroDuration());
    } else if (tag == "san-dns") {
      csr.subject_alt_names.dns_names.emplace_back(value);
    } else if (tag == "san-uri") {
      csr.subject_alt_names.uris.emplace_back(value);
    } else if (tag == "san-ip") {
      csr.subject_alt_names.ip_addresses.emplace_back(value);
    } else if (tag == "ttl") {
      request.ttl = ParseSeconds(value);
    } else if (tag == "usage" && !value.empty()) {
      request.usages.push_back(static_cast<ExtendedKeyUsage>(value[0] - '0'));
      any_usage = true;
    }
  }
  if (!any_usage) request.usages = {ExtendedKeyUsage::kServerAuth};

  const absl::Status status = ValidateIssuancePolicy(policy, "policy");
  const std::vector<tenants::FieldViolation> violations = tenants::ViolationsOf(status);
  FUZZ_CHECK(status.ok() == violations.empty());
  FUZZ_CHECK(status.ok() || status.code() == absl::StatusCode::kInvalidArgument);
  FUZZ_CHECK(status.message().size() < 4 * kMaxMessage);
  for (const tenants::FieldViolation& v : violations) {
    FUZZ_CHECK(absl::StartsWith(v.field, "policy."));
    FUZZ_CHECK(!v.description.empty());
  }
  if (status.ok()) CheckPatternsMatch(policy);
  Apply(policy, request, status.ok());
}

}  // namespace
}  // namespace mandant::pki

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  mandant::pki::FuzzCsr(input);
  mandant::pki::FuzzPolicyText(input);
  return 0;
}
