#include "pki/issuance_policy.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "pki/certificate_info.h"
#include "pki/key.h"
#include "tenants/field_violations.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/pki/pki_test_util.h"

namespace mandant::pki {
namespace {

using ::mandant::tenants::FieldViolation;
using ::mandant::tenants::ViolationsOf;
using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kZone[] = "acme.svc.example.net";
constexpr char kTrustDomain[] = "acme.example.net";

// A violation on `field` whose description contains `substring`.
::testing::Matcher<FieldViolation> Violation(const std::string& field,
                                             const std::string& substring) {
  return AllOf(Field(&FieldViolation::field, field),
               Field(&FieldViolation::description, HasSubstr(substring)));
}

std::vector<std::string> FieldsOf(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const FieldViolation& v : ViolationsOf(status)) fields.push_back(v.field);
  return fields;
}

IssuancePolicy AcmePolicy() { return DefaultIssuancePolicy(kZone, kTrustDomain); }

// --- DefaultIssuancePolicy and ValidateIssuancePolicy ---

TEST(DefaultIssuancePolicyTest, IsWhatTheApiPromisesAndValid) {
  const IssuancePolicy policy = AcmePolicy();
  EXPECT_EQ(policy.dns_zone, kZone);
  EXPECT_EQ(policy.spiffe_trust_domain, kTrustDomain);
  EXPECT_THAT(policy.allowed_dns_names, ElementsAre("*.acme.svc.example.net"));
  EXPECT_THAT(policy.allowed_uris, ElementsAre("spiffe://acme.example.net/*"));
  EXPECT_THAT(policy.allowed_ip_ranges, IsEmpty());
  EXPECT_THAT(policy.allowed_key_types, ElementsAre(KeyType::kEcdsaP256, KeyType::kEcdsaP384,
                                                    KeyType::kEd25519, KeyType::kRsa));
  EXPECT_EQ(policy.min_rsa_bits, 2048);
  EXPECT_EQ(policy.default_ttl, absl::Hours(24));
  EXPECT_EQ(policy.max_ttl, absl::Hours(24 * 90));
  EXPECT_OK(ValidateIssuancePolicy(policy, "policy"));
}

TEST(ValidateIssuancePolicyTest, AcceptsNarrowPatternsInsideTheTenant) {
  IssuancePolicy policy = AcmePolicy();
  policy.allowed_dns_names = {"acme.svc.example.net", "api.acme.svc.example.net",
                              "*.web.acme.svc.example.net", "xn--bcher-kva.acme.svc.example.net"};
  policy.allowed_uris = {"spiffe://acme.example.net/ns/prod/sa/api",
                         "spiffe://acme.example.net/ns/dev/*", "spiffe://acme.example.net/a.b_c-d"};
  policy.allowed_ip_ranges = {"10.64.3.0/24", "10.64.4.7/32", "fd00:0:0:7::/64", "::/0"};
  policy.allowed_key_types = {KeyType::kEd25519};
  policy.min_rsa_bits = 8192;
  policy.max_ttl = absl::Hours(24 * 397);
  policy.default_ttl = absl::Hours(24 * 397);
  EXPECT_OK(ValidateIssuancePolicy(policy, "policy"));
  policy.max_ttl = absl::Minutes(5);
  policy.default_ttl = absl::Minutes(5);
  policy.allowed_dns_names.clear();
  policy.allowed_uris.clear();
  policy.allowed_ip_ranges.clear();
  EXPECT_OK(ValidateIssuancePolicy(policy, "policy"));
}

TEST(ValidateIssuancePolicyTest, RefusesBadDnsPatterns) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "is empty"},
      {"API.acme.svc.example.net", "must be lower case"},
      {"*.ACME.svc.example.net", "must be lower case"},
      {"api.acme.svc.example.net.", "is not a DNS name"},
      {"svc.example.net", "is outside the tenant's DNS zone \"acme.svc.example.net\""},
      {"*.svc.example.net", "is outside the tenant's DNS zone"},
      {"evil-acme.svc.example.net", "is outside the tenant's DNS zone"},
      {"acme.svc.example.net.evil.com", "is outside the tenant's DNS zone"},
      {"*", "has a wildcard other than a leading \"*.\""},
      {"*.", "is not a DNS name"},
      {"api*.acme.svc.example.net", "has a wildcard other than a leading \"*.\""},
      {"a.*.acme.svc.example.net", "has a wildcard other than a leading \"*.\""},
      {"*.*.acme.svc.example.net", "has a wildcard other than a leading \"*.\""},
      {"b\u00fccher.acme.svc.example.net", "xn-- form"},
      {std::string("api\0.acme.svc.example.net", 25), "is not a DNS name"},
      {"-api.acme.svc.example.net", "is not a DNS name"},
  };
  for (const auto& [pattern, message] : cases) {
    SCOPED_TRACE(pattern);
    IssuancePolicy policy = AcmePolicy();
    policy.allowed_dns_names = {"*.acme.svc.example.net", pattern};
    absl::Status status = ValidateIssuancePolicy(policy, "policy");
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, message));
    EXPECT_THAT(ViolationsOf(status), ElementsAre(Violation("policy.allowed_dns_names[1]",
                                                            tenants::QuoteForMessage(pattern))));
  }
}

TEST(ValidateIssuancePolicyTest, RefusesBadUriPatterns) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "is empty"},
      {"https://acme.example.net/api", "only \"spiffe://\" URIs"},
      {"SPIFFE://acme.example.net/api", "only \"spiffe://\" URIs"},
      {"spiffe://ACME.example.net/api", "must name the trust domain in lower case"},
      {"spiffe://beta.example.net/api", "is not in the tenant's SPIFFE trust domain"},
      {"spiffe://evil-acme.example.net/api", "is not in the tenant's SPIFFE trust domain"},
      {"spiffe://acme.example.net.evil.com/api", "is not in the tenant's SPIFFE trust domain"},
      {"spiffe://x.acme.example.net/api", "is not in the tenant's SPIFFE trust domain"},
      {"spiffe://user@acme.example.net/api", "is not in the tenant's SPIFFE trust domain"},
      {"spiffe://acme.example.net:443/api", "is not in the tenant's SPIFFE trust domain"},
      {"spiffe://acme.example.net", "has no path"},
      {"spiffe://acme.example.net/", "has no path"},
      {"spiffe://acme.example.net/ns//api", "empty path segment"},
      {"spiffe://acme.example.net/ns/", "empty path segment"},
      {"spiffe://acme.example.net/ns/../api", "\"..\" path segment"},
      {"spiffe://acme.example.net/./api", "\"..\" path segment"},
      {"spiffe://acme.example.net/ns/%2e%2e/api", "percent-encoded"},
      {"spiffe://acme.example.net/api?x=1", "query or fragment"},
      {"spiffe://acme.example.net/api#f", "query or fragment"},
      {"spiffe://acme.example.net/ns/a*", "only as its whole last path segment"},
      {"spiffe://acme.example.net/*/api", "only as its whole last path segment"},
      {"spiffe://acme.example.net/ns/**", "only as its whole last path segment"},
      {"spiffe://acme.example.net/ns/a b", "other than letters, digits"},
      {std::string("spiffe://acme.example.net/a\0b", 29), "other than letters, digits"},
      {"spiffe://acme.example.net/" + std::string(2048, 'a'), "longer than 2048"},
  };
  for (const auto& [pattern, message] : cases) {
    SCOPED_TRACE(pattern);
    IssuancePolicy policy = AcmePolicy();
    policy.allowed_uris = {pattern};
    absl::Status status = ValidateIssuancePolicy(policy, "policy");
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, message));
    EXPECT_THAT(FieldsOf(status), ElementsAre("policy.allowed_uris[0]"));
  }
}

TEST(ValidateIssuancePolicyTest, RefusesBadIpRanges) {
  const std::pair<std::string, std::string> cases[] = {
      {"10.64.3.7/24", "host bits set"},
      {"10.64.3.0", "missing prefix length"},
      {"10.64.3.0/33", ""},
      {"010.64.3.0/24", "leading zero"},
      {"fd00::1/64", "host bits set"},
      {"fd00::/129", ""},
      {"fe80::/64%eth0", ""},
      {"::ffff:10.64.3.0/120", "IPv4-mapped"},
      {"::ffff:0:0/96", "IPv4-mapped"},
      {"10.64.3.0/24 ", ""},
      {std::string("10.64.3.0/24\0", 13), ""},
  };
  for (const auto& [range, message] : cases) {
    SCOPED_TRACE(range);
    IssuancePolicy policy = AcmePolicy();
    policy.allowed_ip_ranges = {range};
    absl::Status status = ValidateIssuancePolicy(policy, "policy");
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, message));
    EXPECT_THAT(FieldsOf(status), ElementsAre("policy.allowed_ip_ranges[0]"));
  }
}

TEST(ValidateIssuancePolicyTest, ReportsEveryProblemAtOnce) {
  IssuancePolicy policy = AcmePolicy();
  policy.allowed_dns_names = {"api.acme.svc.example.net", "www.example.com",
                              "api.acme.svc.example.net"};
  policy.allowed_uris = {"spiffe://beta.example.net/*"};
  policy.allowed_ip_ranges = {"10.0.0.1/8", "10.0.0.0/8", "10.0.0.0/8"};
  policy.allowed_key_types = {KeyType::kRsa, static_cast<KeyType>(17), KeyType::kRsa};
  policy.min_rsa_bits = 1024;
  policy.max_ttl = absl::Hours(24 * 398);
  policy.default_ttl = absl::Minutes(4);
  absl::Status status = ValidateIssuancePolicy(policy, "policy");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, "policy.allowed_dns_names[1]"));
  EXPECT_THAT(
      ViolationsOf(status),
      ElementsAre(
          Violation("policy.allowed_dns_names[1]", "\"www.example.com\" is outside"),
          Violation("policy.allowed_dns_names[2]", "\"api.acme.svc.example.net\" is listed twice"),
          Violation("policy.allowed_uris[0]", "\"spiffe://beta.example.net/*\""),
          Violation("policy.allowed_ip_ranges[0]", "did you mean 10.0.0.0/8"),
          Violation("policy.allowed_ip_ranges[2]", "is listed twice"),
          Violation("policy.allowed_key_types[1]", "key type 17 is unspecified"),
          Violation("policy.allowed_key_types[2]", "KEY_TYPE_RSA is listed twice"),
          Violation("policy.min_rsa_bits", "1024 is outside 2048-8192"),
          Violation("policy.max_ttl", "9552h (398 days) is outside 5m to 9528h"),
          Violation("policy.default_ttl", "4m is outside 5m")));
}

TEST(ValidateIssuancePolicyTest, FieldPrefixMayBeEmpty) {
  IssuancePolicy policy = AcmePolicy();
  policy.allowed_key_types.clear();
  EXPECT_THAT(FieldsOf(ValidateIssuancePolicy(policy, "")), ElementsAre("allowed_key_types"));
  EXPECT_THAT(FieldsOf(ValidateIssuancePolicy(policy, "request.policy")),
              ElementsAre("request.policy.allowed_key_types"));
}

TEST(ValidateIssuancePolicyTest, TtlBounds) {
  struct Case {
    absl::Duration max_ttl;
    absl::Duration default_ttl;
    std::vector<std::string> fields;
  };
  const Case cases[] = {
      {absl::Minutes(5), absl::Minutes(5), {}},
      {absl::Hours(24 * 397), absl::Hours(24), {}},
      {absl::Hours(24 * 397) + absl::Seconds(1), absl::Hours(24), {"max_ttl"}},
      {absl::Minutes(5) - absl::Seconds(1), absl::Minutes(5), {"max_ttl"}},
      {absl::Minutes(5) - absl::Seconds(1), absl::Minutes(4), {"max_ttl", "default_ttl"}},
      {absl::Hours(1) + absl::Milliseconds(500), absl::Hours(1), {"max_ttl"}},
      {absl::Hours(1), absl::Hours(1) + absl::Seconds(1), {"default_ttl"}},
      {absl::Hours(1), absl::Minutes(5) - absl::Nanoseconds(1), {"default_ttl"}},
      {absl::Hours(1), absl::Minutes(30) + absl::Milliseconds(1), {}},
      {absl::ZeroDuration(), absl::ZeroDuration(), {"max_ttl", "default_ttl"}},
      {-absl::Hours(1), absl::Hours(1), {"max_ttl"}},
      {absl::InfiniteDuration(), absl::Hours(1), {"max_ttl"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(
        absl::StrCat(absl::FormatDuration(c.max_ttl), " ", absl::FormatDuration(c.default_ttl)));
    IssuancePolicy policy = AcmePolicy();
    policy.max_ttl = c.max_ttl;
    policy.default_ttl = c.default_ttl;
    EXPECT_EQ(FieldsOf(ValidateIssuancePolicy(policy, "")), c.fields);
  }
}

TEST(ValidateIssuancePolicyTest, AtMostOneHundredPatternsPerList) {
  IssuancePolicy policy = AcmePolicy();
  policy.allowed_dns_names.clear();
  for (int i = 0; i < 100; ++i) {
    policy.allowed_dns_names.push_back(absl::StrCat("s", i, ".acme.svc.example.net"));
  }
  EXPECT_OK(ValidateIssuancePolicy(policy, "policy"));
  policy.allowed_dns_names.push_back("x.acme.svc.example.net");
  policy.allowed_dns_names.push_back("not valid");
  EXPECT_THAT(ViolationsOf(ValidateIssuancePolicy(policy, "policy")),
              ElementsAre(Violation("policy.allowed_dns_names", "has 102 entries; at most 100")));
}

TEST(ValidateIssuancePolicyTest, RefusesABrokenZoneOrTrustDomain) {
  IssuancePolicy policy = DefaultIssuancePolicy("", "Acme.example.net");
  policy.allowed_dns_names = {"*.acme.svc.example.net"};
  policy.allowed_uris = {"spiffe://acme.example.net/*"};
  EXPECT_THAT(ViolationsOf(ValidateIssuancePolicy(policy, "policy")),
              ElementsAre(Violation("policy.dns_zone", "\"\" is empty"),
                          Violation("policy.spiffe_trust_domain", "must be lower case"),
                          Violation("policy.allowed_dns_names[0]", "no valid DNS zone"),
                          Violation("policy.allowed_uris[0]", "no valid SPIFFE trust domain")));
}

// --- Matching ---

TEST(IsDnsNameAllowedTest, WildcardMatchesEveryNameStrictlyBelow) {
  const IssuancePolicy policy = AcmePolicy();
  for (const char* name :
       {"api.acme.svc.example.net", "a.b.c.acme.svc.example.net", "API.Acme.SVC.Example.NET",
        "xn--bcher-kva.acme.svc.example.net", "1.acme.svc.example.net"}) {
    EXPECT_TRUE(IsDnsNameAllowed(policy, name)) << name;
  }
  const std::string refused[] = {
      "acme.svc.example.net",  // "*.zone" is below the zone, not the zone
      "api.acme.svc.example.net.",
      "evil-acme.svc.example.net",
      "xacme.svc.example.net",
      "api.xacme.svc.example.net",
      "acme.svc.example.net.evil.com",
      "svc.example.net",
      "*.acme.svc.example.net",
      ".acme.svc.example.net",
      "a..acme.svc.example.net",
      "",
      std::string("api\0.acme.svc.example.net", 25),
      std::string("evil.com\0.acme.svc.example.net", 30),
      "b\u00fccher.acme.svc.example.net",
      "api_x.acme.svc.example.net",
      "api.acme.svc.example.net ",
      std::string(250, 'a') + ".acme.svc.example.net",
  };
  for (const std::string& name : refused) {
    EXPECT_FALSE(IsDnsNameAllowed(policy, name)) << tenants::QuoteForMessage(name);
  }
}

TEST(IsDnsNameAllowedTest, ExactPatternsAndTheZoneItself) {
  IssuancePolicy policy = AcmePolicy();
  policy.allowed_dns_names = {"acme.svc.example.net", "api.acme.svc.example.net",
                              "*.web.acme.svc.example.net"};
  EXPECT_TRUE(IsDnsNameAllowed(policy, "acme.svc.example.net"));
  EXPECT_TRUE(IsDnsNameAllowed(policy, "api.acme.svc.example.net"));
  EXPECT_TRUE(IsDnsNameAllowed(policy, "Api.Acme.Svc.Example.Net"));
  EXPECT_TRUE(IsDnsNameAllowed(policy, "a.web.acme.svc.example.net"));
  EXPECT_TRUE(IsDnsNameAllowed(policy, "a.b.web.acme.svc.example.net"));
  EXPECT_FALSE(IsDnsNameAllowed(policy, "web.acme.svc.example.net"));
  EXPECT_FALSE(IsDnsNameAllowed(policy, "x.api.acme.svc.example.net"));
  EXPECT_FALSE(IsDnsNameAllowed(policy, "db.acme.svc.example.net"));
  EXPECT_FALSE(IsDnsNameAllowed(policy, "a.xweb.acme.svc.example.net"));
  policy.allowed_dns_names.clear();
  EXPECT_FALSE(IsDnsNameAllowed(policy, "api.acme.svc.example.net"));
}

TEST(IsDnsNameAllowedTest, AnUnvalidatedPolicyFailsClosed) {
  IssuancePolicy policy = AcmePolicy();
  // Patterns outside the zone, upper case, malformed: all match nothing.
  policy.allowed_dns_names = {"*.example.net", "*.ACME.svc.example.net", "*.acme.svc.example.net.",
                              "*"};
  EXPECT_FALSE(IsDnsNameAllowed(policy, "api.acme.svc.example.net"));
  EXPECT_FALSE(IsDnsNameAllowed(policy, "other.example.net"));
  // A broken zone allows nothing, whatever the patterns say.
  policy = DefaultIssuancePolicy("ACME.svc.example.net", kTrustDomain);
  EXPECT_FALSE(IsDnsNameAllowed(policy, "api.acme.svc.example.net"));
  policy = DefaultIssuancePolicy("", kTrustDomain);
  policy.allowed_dns_names = {"*.net"};
  EXPECT_FALSE(IsDnsNameAllowed(policy, "api.acme.svc.example.net"));
}

TEST(IsUriAllowedTest, OnlySpiffeIdsInTheTrustDomain) {
  const IssuancePolicy policy = AcmePolicy();
  for (const char* uri :
       {"spiffe://acme.example.net/api", "spiffe://acme.example.net/ns/prod/sa/api",
        "spiffe://acme.example.net/A.b_c-D", "spiffe://acme.example.net/..."}) {
    EXPECT_TRUE(IsUriAllowed(policy, uri)) << uri;
  }
  const std::string refused[] = {
      "spiffe://acme.example.net",
      "spiffe://acme.example.net/",
      "spiffe://acme.example.net/api/",
      "spiffe://acme.example.net//api",
      "spiffe://acme.example.net/ns/../api",
      "spiffe://acme.example.net/ns/./api",
      "spiffe://acme.example.net/ns/%2e%2e/api",
      "spiffe://acme.example.net/ns/%41",
      "spiffe://acme.example.net/api?x=1",
      "spiffe://acme.example.net/api#x",
      "spiffe://acme.example.net/*",
      "spiffe://ACME.example.net/api",
      "SPIFFE://acme.example.net/api",
      "https://acme.example.net/api",
      "spiffe://evil-acme.example.net/api",
      "spiffe://acme.example.net.evil.com/api",
      "spiffe://acme.example.net:8443/api",
      "spiffe://user@acme.example.net/api",
      "spiffe://x.acme.example.net/api",
      std::string("spiffe://acme.example.net/api\0/x", 32),
      std::string("spiffe://acme.example.net\0/api", 30),
      "spiffe://acme.example.net/" + std::string(2030, 'a'),
  };
  for (const std::string& uri : refused) {
    EXPECT_FALSE(IsUriAllowed(policy, uri)) << tenants::QuoteForMessage(uri);
  }
}

TEST(IsUriAllowedTest, PrefixesMatchOnSegmentBoundaries) {
  IssuancePolicy policy = AcmePolicy();
  policy.allowed_uris = {"spiffe://acme.example.net/ns/*", "spiffe://acme.example.net/api"};
  EXPECT_TRUE(IsUriAllowed(policy, "spiffe://acme.example.net/ns/a"));
  EXPECT_TRUE(IsUriAllowed(policy, "spiffe://acme.example.net/ns/a/b"));
  EXPECT_TRUE(IsUriAllowed(policy, "spiffe://acme.example.net/api"));
  EXPECT_FALSE(IsUriAllowed(policy, "spiffe://acme.example.net/ns"));
  EXPECT_FALSE(IsUriAllowed(policy, "spiffe://acme.example.net/ns/"));
  EXPECT_FALSE(IsUriAllowed(policy, "spiffe://acme.example.net/nsx"));
  EXPECT_FALSE(IsUriAllowed(policy, "spiffe://acme.example.net/nsx/a"));
  EXPECT_FALSE(IsUriAllowed(policy, "spiffe://acme.example.net/NS/a"));
  EXPECT_FALSE(IsUriAllowed(policy, "spiffe://acme.example.net/ns/../api2"));
  EXPECT_FALSE(IsUriAllowed(policy, "spiffe://acme.example.net/api/x"));
  EXPECT_FALSE(IsUriAllowed(policy, "spiffe://acme.example.net/API"));
  EXPECT_FALSE(IsUriAllowed(policy, "spiffe://acme.example.net/apix"));
  // A pattern in another trust domain is ignored, not honoured.
  policy.allowed_uris = {"spiffe://beta.example.net/*"};
  EXPECT_FALSE(IsUriAllowed(policy, "spiffe://beta.example.net/api"));
}

TEST(IsIpAddressAllowedTest, AddressesLieInARangeOfTheirFamily) {
  IssuancePolicy policy = AcmePolicy();
  EXPECT_FALSE(IsIpAddressAllowed(policy, "10.64.3.7"));  // the default allows none
  policy.allowed_ip_ranges = {"10.64.3.0/24", "fd00:0:0:7::/64", "192.0.2.9/32"};
  for (const char* ip : {"10.64.3.0", "10.64.3.7", "10.64.3.255", "fd00:0:0:7::1",
                         "FD00:0000:0000:0007:0000:0000:0000:0001", "192.0.2.9"}) {
    EXPECT_TRUE(IsIpAddressAllowed(policy, ip)) << ip;
  }
  const std::string refused[] = {
      "10.64.4.1",
      "10.64.2.255",
      "192.0.2.10",
      "fd00:0:0:8::1",
      "::ffff:10.64.3.7",
      "::ffff:a40:307",
      "0:0:0:0:0:ffff:10.64.3.7",
      "010.64.3.7",
      "10.64.3",
      "10.64.3.7/32",
      "fd00:0:0:7::1%eth0",
      std::string("10.64.3.7\0junk", 14),
      std::string("10.64.3.7\0", 10),
      "",
  };
  for (const std::string& ip : refused) {
    EXPECT_FALSE(IsIpAddressAllowed(policy, ip)) << tenants::QuoteForMessage(ip);
  }
}

TEST(IsIpAddressAllowedTest, Ipv4MappedAddressesAreNeverAllowed) {
  IssuancePolicy policy = AcmePolicy();
  policy.allowed_ip_ranges = {"::/0", "0.0.0.0/0"};
  EXPECT_TRUE(IsIpAddressAllowed(policy, "10.0.0.1"));
  EXPECT_TRUE(IsIpAddressAllowed(policy, "fd00::1"));
  EXPECT_FALSE(IsIpAddressAllowed(policy, "::ffff:10.0.0.1"));
  EXPECT_FALSE(IsIpAddressAllowed(policy, "::ffff:0.0.0.0"));
  // Unvalidated, the mapped range itself is ignored.
  policy.allowed_ip_ranges = {"::ffff:0:0/96"};
  EXPECT_FALSE(IsIpAddressAllowed(policy, "::ffff:10.0.0.1"));
}

// --- ApplyIssuancePolicy ---

class ApplyIssuancePolicyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
    ASSERT_OK(key);
    p256_ = key->release();
  }
  static void TearDownTestSuite() { EVP_PKEY_free(p256_); }

  static ParsedCsr Csr(const SubjectAltNames& names, absl::string_view cn = "",
                       EVP_PKEY* key = p256_) {
    absl::StatusOr<ParsedCsr> csr = testing::ParsedCsrFor(key, cn, names);
    EXPECT_OK(csr);
    return csr.ok() ? *std::move(csr) : ParsedCsr();
  }

  // What a client could hand-make: names that BuildCsr would refuse, put
  // straight into a ParsedCsr.
  static ParsedCsr HandMadeCsr(const SubjectAltNames& names) {
    ParsedCsr csr;
    csr.public_key = UpRef(p256_);
    csr.key = KeyInfo{KeyType::kEcdsaP256, 0};
    csr.subject_alt_names = names;
    return csr;
  }

  static IssuanceRequest Request(const ParsedCsr& csr) {
    IssuanceRequest request;
    request.csr = &csr;
    request.usages = {ExtendedKeyUsage::kServerAuth};
    return request;
  }

  static EVP_PKEY* p256_;
  const absl::Time now_ = absl::FromUnixSeconds(1750000000);
  IssuancePolicy policy_ = AcmePolicy();
};

EVP_PKEY* ApplyIssuancePolicyTest::p256_ = nullptr;

TEST_F(ApplyIssuancePolicyTest, BuildsTheLeafSpec) {
  const ParsedCsr csr = Csr({{"API.acme.svc.example.net", "www.acme.svc.example.net"},
                             {"spiffe://acme.example.net/ns/prod/sa/api"},
                             {}},
                            "evil.example.com");
  IssuanceRequest request = Request(csr);
  request.usages = {ExtendedKeyUsage::kClientAuth, ExtendedKeyUsage::kServerAuth};
  absl::StatusOr<LeafSpec> spec = ApplyIssuancePolicy(policy_, request, now_);
  ASSERT_OK(spec);
  EXPECT_EQ(spec->public_key, csr.public_key.get());
  // The CSR's CN is ignored; DNS names are lower-cased.
  EXPECT_EQ(spec->common_name, "api.acme.svc.example.net");
  EXPECT_THAT(spec->subject_alt_names.dns_names,
              ElementsAre("api.acme.svc.example.net", "www.acme.svc.example.net"));
  EXPECT_THAT(spec->subject_alt_names.uris,
              ElementsAre("spiffe://acme.example.net/ns/prod/sa/api"));
  EXPECT_THAT(spec->extended_key_usages,
              ElementsAre(ExtendedKeyUsage::kClientAuth, ExtendedKeyUsage::kServerAuth));
  EXPECT_EQ(spec->not_after, now_ + absl::Hours(24));
  EXPECT_THAT(spec->crl_distribution_point, IsEmpty());
}

TEST_F(ApplyIssuancePolicyTest, CommonNameIsTheFirstDnsNameOrEmpty) {
  const ParsedCsr uri_only = Csr({{}, {"spiffe://acme.example.net/api"}, {}}, "api");
  absl::StatusOr<LeafSpec> spec = ApplyIssuancePolicy(policy_, Request(uri_only), now_);
  ASSERT_OK(spec);
  EXPECT_THAT(spec->common_name, IsEmpty());

  // 65 characters: too long for a CN (X.520), so the subject stays empty.
  const std::string long_name = std::string(44, 'a') + ".acme.svc.example.net";
  ASSERT_EQ(long_name.size(), 65u);
  const ParsedCsr long_csr = Csr({{long_name, "b.acme.svc.example.net"}, {}, {}});
  spec = ApplyIssuancePolicy(policy_, Request(long_csr), now_);
  ASSERT_OK(spec);
  EXPECT_THAT(spec->common_name, IsEmpty());
  EXPECT_THAT(spec->subject_alt_names.dns_names, ElementsAre(long_name, "b.acme.svc.example.net"));
}

TEST_F(ApplyIssuancePolicyTest, RefusesNamesThePolicyDoesNotAllow) {
  policy_.allowed_dns_names = {"*.web.acme.svc.example.net"};
  policy_.allowed_uris = {"spiffe://acme.example.net/ns/prod/*"};
  policy_.allowed_ip_ranges = {"10.64.3.0/24"};
  const std::pair<SubjectAltNames, std::string> cases[] = {
      {{{"db.acme.svc.example.net"}, {}, {}},
       "DNS name \"db.acme.svc.example.net\" is not allowed by the issuance policy; allowed DNS "
       "names: \"*.web.acme.svc.example.net\""},
      {{{"web.acme.svc.example.net"}, {}, {}}, "is not allowed by the issuance policy"},
      {{{"www.example.com"}, {}, {}},
       "DNS name \"www.example.com\" is outside the tenant's DNS zone \"acme.svc.example.net\""},
      {{{"a.web.evil-acme.svc.example.net"}, {}, {}}, "is outside the tenant's DNS zone"},
      {{{}, {"spiffe://acme.example.net/ns/prodx/a"}, {}},
       "allowed URIs: \"spiffe://acme.example.net/ns/prod/*\""},
      {{{}, {"spiffe://acme.example.net/ns/prod"}, {}}, "is not allowed by the issuance policy"},
      {{{}, {"spiffe://beta.example.net/ns/prod/a"}, {}},
       "is not in the tenant's SPIFFE trust domain \"acme.example.net\""},
      {{{}, {"https://acme.example.net/ns/prod/a"}, {}}, "is not a SPIFFE ID"},
      {{{}, {"spiffe://acme.example.net/ns/prod/%2e%2e"}, {}}, "percent-encoded"},
      {{{}, {"spiffe://acme.example.net/ns/prod/../../x"}, {}}, "\"..\" path segment"},
      {{{}, {}, {"10.64.4.1"}}, "allowed IP ranges: \"10.64.3.0/24\""},
      {{{}, {}, {"::ffff:10.64.3.7"}},
       "is IPv4-mapped, which is never issued; ask for the IPv4 address 10.64.3.7 itself"},
  };
  for (const auto& [names, message] : cases) {
    SCOPED_TRACE(message);
    const ParsedCsr csr = Csr(names);
    absl::StatusOr<LeafSpec> spec = ApplyIssuancePolicy(policy_, Request(csr), now_);
    EXPECT_THAT(spec, StatusIs(absl::StatusCode::kInvalidArgument, message));
    EXPECT_THAT(ViolationsOf(spec.status()), ElementsAre(Violation("csr", message)));
  }
}

TEST_F(ApplyIssuancePolicyTest, NamesFromHandMadeCsrsAreCheckedAgain) {
  // ParseCsr already refuses these; ApplyIssuancePolicy does not rely on it.
  const std::pair<SubjectAltNames, std::string> cases[] = {
      {{{"api.acme.svc.example.net."}, {}, {}}, "is not a valid host name"},
      {{{"*.acme.svc.example.net"}, {}, {}}, "is not a valid host name"},
      {{{std::string("evil.com\0.acme.svc.example.net", 30)}, {}, {}},
       "\"evil.com\\x00.acme.svc.example.net\" is not a valid host name"},
      {{{}, {std::string("spiffe://acme.example.net/a\0b", 29)}, {}}, "other than letters"},
      {{{}, {}, {std::string("10.64.3.7\0x", 11)}}, "is not an IP address"},
      {{{"api.acme.svc.example.net", "API.acme.svc.example.net"}, {}, {}},
       "DNS name \"API.acme.svc.example.net\" is requested twice"},
      {{{}, {"spiffe://acme.example.net/a", "spiffe://acme.example.net/a"}, {}},
       "is requested twice"},
      {{{}, {}, {"fd00::7:0:0:0:1", "fd00:0:0:7::1"}},
       "IP address \"fd00:0:0:7::1\" is requested twice"},
  };
  policy_.allowed_ip_ranges = {"10.64.3.0/24", "fd00:0:0:7::/64"};
  for (const auto& [names, message] : cases) {
    SCOPED_TRACE(message);
    const ParsedCsr csr = HandMadeCsr(names);
    absl::StatusOr<LeafSpec> spec = ApplyIssuancePolicy(policy_, Request(csr), now_);
    EXPECT_THAT(ViolationsOf(spec.status()), ElementsAre(Violation("csr", message)));
  }
}

TEST_F(ApplyIssuancePolicyTest, IpAddressesComeOutCanonical) {
  policy_.allowed_ip_ranges = {"10.64.3.0/24", "fd00:0:0:7::/64"};
  const ParsedCsr csr = Csr({{}, {}, {"10.64.3.7", "FD00:0:0:7:0:0:0:1"}});
  absl::StatusOr<LeafSpec> spec = ApplyIssuancePolicy(policy_, Request(csr), now_);
  ASSERT_OK(spec);
  EXPECT_THAT(spec->subject_alt_names.ip_addresses, ElementsAre("10.64.3.7", "fd00:0:0:7::1"));
  EXPECT_THAT(spec->common_name, IsEmpty());
}

TEST_F(ApplyIssuancePolicyTest, NeedsAtLeastOneName) {
  const ParsedCsr csr = Csr({}, "api.acme.svc.example.net");
  EXPECT_THAT(ApplyIssuancePolicy(policy_, Request(csr), now_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "csr: the CSR requests no subject alternative names"));
  EXPECT_THAT(
      ApplyIssuancePolicy(
          policy_, IssuanceRequest{nullptr, std::nullopt, {ExtendedKeyUsage::kServerAuth}}, now_),
      StatusIs(absl::StatusCode::kInvalidArgument, "csr: no CSR was given"));
}

TEST_F(ApplyIssuancePolicyTest, ReportsEveryProblemAtOnce) {
  policy_.allowed_key_types = {KeyType::kEd25519};
  const ParsedCsr csr = Csr({{"api.acme.svc.example.net", "www.example.com"},
                             {"spiffe://beta.example.net/api"},
                             {"10.0.0.1"}});
  IssuanceRequest request = Request(csr);
  request.ttl = absl::Hours(24 * 91);
  request.usages = {ExtendedKeyUsage::kServerAuth, ExtendedKeyUsage::kServerAuth,
                    static_cast<ExtendedKeyUsage>(9)};
  absl::StatusOr<LeafSpec> spec = ApplyIssuancePolicy(policy_, request, now_);
  EXPECT_THAT(spec, StatusIs(absl::StatusCode::kInvalidArgument, "csr: DNS name"));
  EXPECT_THAT(
      ViolationsOf(spec.status()),
      ElementsAre(Violation("csr", "\"www.example.com\" is outside"),
                  Violation("csr", "\"spiffe://beta.example.net/api\" is not in the tenant's"),
                  Violation("csr",
                            "\"10.0.0.1\" is not allowed by the issuance policy; the "
                            "policy allows no IP ranges"),
                  Violation("csr",
                            "key type ECDSA P-256 is not allowed by the issuance policy; "
                            "allowed key types: KEY_TYPE_ED25519"),
                  Violation("ttl",
                            "2184h (91 days) is longer than the issuance policy's max_ttl "
                            "of 2160h (90 days)"),
                  Violation("usages", "CERTIFICATE_USAGE_SERVER_AUTH is listed twice"),
                  Violation("usages", "usage 9 is unspecified or unknown")));
}

TEST_F(ApplyIssuancePolicyTest, ManyRefusedNamesAreSummarised) {
  std::vector<std::string> names;
  for (int i = 0; i < 25; ++i) names.push_back(absl::StrCat("h", i, ".example.com"));
  const ParsedCsr csr = Csr({names, {}, {}});
  policy_.allowed_dns_names.clear();
  for (int i = 0; i < 8; ++i) {
    policy_.allowed_dns_names.push_back(absl::StrCat("s", i, ".acme.svc.example.net"));
  }
  absl::StatusOr<LeafSpec> spec = ApplyIssuancePolicy(policy_, Request(csr), now_);
  const std::vector<FieldViolation> violations = ViolationsOf(spec.status());
  ASSERT_THAT(violations, SizeIs(11));
  EXPECT_THAT(violations.back(),
              Violation("csr", "and 15 more subject alternative names are refused"));
  // The allowed patterns are listed, but only the first few.
  const ParsedCsr inside = Csr({{"x.acme.svc.example.net"}, {}, {}});
  spec = ApplyIssuancePolicy(policy_, Request(inside), now_);
  EXPECT_THAT(spec,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "allowed DNS names: \"s0.acme.svc.example.net\", "
                       "\"s1.acme.svc.example.net\", \"s2.acme.svc.example.net\", "
                       "\"s3.acme.svc.example.net\", \"s4.acme.svc.example.net\" and 3 more"));
}

TEST_F(ApplyIssuancePolicyTest, TtlDefaultsAndBounds) {
  const ParsedCsr csr = Csr({{"api.acme.svc.example.net"}, {}, {}});
  policy_.default_ttl = absl::Hours(6);
  policy_.max_ttl = absl::Hours(48);
  struct Case {
    std::optional<absl::Duration> ttl;
    std::optional<absl::Duration> want;  // unset: refused
  };
  const Case cases[] = {
      {std::nullopt, absl::Hours(6)},
      {absl::Minutes(5), absl::Minutes(5)},
      {absl::Hours(48), absl::Hours(48)},
      {absl::Minutes(5) - absl::Seconds(1), std::nullopt},
      {absl::Hours(48) + absl::Seconds(1), std::nullopt},
      {absl::ZeroDuration(), std::nullopt},
      {-absl::Hours(1), std::nullopt},
      {absl::InfiniteDuration(), std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.ttl ? absl::FormatDuration(*c.ttl) : "unset");
    IssuanceRequest request = Request(csr);
    request.ttl = c.ttl;
    absl::StatusOr<LeafSpec> spec = ApplyIssuancePolicy(policy_, request, now_);
    if (c.want) {
      ASSERT_OK(spec);
      EXPECT_EQ(spec->not_after, now_ + *c.want);
    } else {
      EXPECT_THAT(FieldsOf(spec.status()), ElementsAre("ttl"));
    }
  }
}

TEST_F(ApplyIssuancePolicyTest, AnInvalidDefaultTtlIsNamedAsThePolicys) {
  const ParsedCsr csr = Csr({{"api.acme.svc.example.net"}, {}, {}});
  policy_.default_ttl = absl::Hours(100);
  policy_.max_ttl = absl::Hours(48);
  EXPECT_THAT(ApplyIssuancePolicy(policy_, Request(csr), now_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "ttl: the policy's default_ttl 100h is longer than"));
}

TEST_F(ApplyIssuancePolicyTest, KeyTypesAndRsaSize) {
  absl::StatusOr<EvpPkeyPtr> ed25519 = GenerateKey(KeyType::kEd25519);
  absl::StatusOr<EvpPkeyPtr> p384 = GenerateKey(KeyType::kEcdsaP384);
  absl::StatusOr<EvpPkeyPtr> rsa2048 = GenerateKey(KeyType::kRsa, 2048);
  absl::StatusOr<EvpPkeyPtr> rsa3072 = GenerateKey(KeyType::kRsa, 3072);
  ASSERT_OK(ed25519);
  ASSERT_OK(p384);
  ASSERT_OK(rsa2048);
  ASSERT_OK(rsa3072);
  const SubjectAltNames names{{"api.acme.svc.example.net"}, {}, {}};
  auto apply = [&](EVP_PKEY* key) {
    const ParsedCsr csr = Csr(names, "", key);
    return ApplyIssuancePolicy(policy_, Request(csr), now_).status();
  };
  for (EVP_PKEY* key : {p256_, p384->get(), ed25519->get(), rsa2048->get(), rsa3072->get()}) {
    EXPECT_OK(apply(key));
  }
  policy_.allowed_key_types = {KeyType::kEcdsaP384, KeyType::kRsa};
  policy_.min_rsa_bits = 3072;
  EXPECT_OK(apply(p384->get()));
  EXPECT_OK(apply(rsa3072->get()));
  EXPECT_THAT(apply(p256_), StatusIs(absl::StatusCode::kInvalidArgument,
                                     "csr: key type ECDSA P-256 is not allowed by the issuance "
                                     "policy; allowed key types: KEY_TYPE_ECDSA_P384, "
                                     "KEY_TYPE_RSA"));
  EXPECT_THAT(apply(ed25519->get()),
              StatusIs(absl::StatusCode::kInvalidArgument, "key type Ed25519 is not allowed"));
  EXPECT_THAT(apply(rsa2048->get()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "csr: RSA key of 2048 bits is shorter than the issuance policy's minimum "
                       "of 3072 bits"));
  policy_.allowed_key_types.clear();
  EXPECT_THAT(apply(p384->get()),
              StatusIs(absl::StatusCode::kInvalidArgument, "the policy allows no key types"));
}

TEST_F(ApplyIssuancePolicyTest, TheKeyTypeIsReadFromTheKey) {
  // A ParsedCsr whose KeyInfo claims P-256 for an Ed25519 key.
  absl::StatusOr<EvpPkeyPtr> ed25519 = GenerateKey(KeyType::kEd25519);
  ASSERT_OK(ed25519);
  ParsedCsr csr = HandMadeCsr({{"api.acme.svc.example.net"}, {}, {}});
  csr.public_key = std::move(*ed25519);
  policy_.allowed_key_types = {KeyType::kEcdsaP256};
  EXPECT_THAT(ApplyIssuancePolicy(policy_, Request(csr), now_),
              StatusIs(absl::StatusCode::kInvalidArgument, "key type Ed25519 is not allowed"));
}

TEST_F(ApplyIssuancePolicyTest, Usages) {
  const ParsedCsr csr = Csr({{"api.acme.svc.example.net"}, {}, {}});
  IssuanceRequest request = Request(csr);
  request.usages.clear();
  EXPECT_THAT(
      ApplyIssuancePolicy(policy_, request, now_),
      StatusIs(absl::StatusCode::kInvalidArgument, "usages: at least one usage is required"));
  request.usages = std::vector<ExtendedKeyUsage>(1000, ExtendedKeyUsage::kClientAuth);
  absl::StatusOr<LeafSpec> spec = ApplyIssuancePolicy(policy_, request, now_);
  EXPECT_THAT(ViolationsOf(spec.status()),
              ElementsAre(Violation("usages", "CERTIFICATE_USAGE_CLIENT_AUTH is listed twice")));
}

// --- End to end: CSR, policy, IssueLeaf, OpenSSL's verifier ---

class IssuancePolicyEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<CertificateAuthority> root = testing::MakeRoot(now_);
    ASSERT_OK(root);
    root_.emplace(*std::move(root));
    absl::StatusOr<CertificateAuthority> acme =
        testing::MakeTenantCa(*root_, "acme", "10.64.3.0/24", now_);
    ASSERT_OK(acme);
    acme_.emplace(*std::move(acme));
    policy_.allowed_ip_ranges = {"10.64.3.0/24"};
  }

  // The tenant's trust bundle holds only its intermediate, so verification
  // needs X509_V_FLAG_PARTIAL_CHAIN, as a tenant's peers do.
  int Verify(X509* leaf) {
    testing::VerifyOptions options;
    options.trusted = {acme_->certificate()};
    options.flags = X509_V_FLAG_PARTIAL_CHAIN;
    return testing::VerifyWithOpenSsl(leaf, options);
  }

  absl::StatusOr<X509Ptr> Issue(const ParsedCsr& csr, std::optional<absl::Duration> ttl) {
    IssuanceRequest request;
    request.csr = &csr;
    request.ttl = ttl;
    request.usages = {ExtendedKeyUsage::kServerAuth, ExtendedKeyUsage::kClientAuth};
    absl::StatusOr<LeafSpec> spec = ApplyIssuancePolicy(policy_, request, now_);
    if (!spec.ok()) return spec.status();
    return IssueLeaf(*acme_, *spec, now_);
  }

  const absl::Time now_ = absl::Now();
  std::optional<CertificateAuthority> root_;
  std::optional<CertificateAuthority> acme_;
  IssuancePolicy policy_ = AcmePolicy();
};

TEST_F(IssuancePolicyEndToEndTest, AllowedCsrsOfEveryKeyTypeGiveVerifiableLeaves) {
  const SubjectAltNames names{{"Api.acme.svc.example.net", "a.b.acme.svc.example.net"},
                              {"spiffe://acme.example.net/ns/prod/sa/api"},
                              {"10.64.3.7"}};
  for (KeyInfo type : {KeyInfo{KeyType::kEcdsaP256, 0}, KeyInfo{KeyType::kEcdsaP384, 0},
                       KeyInfo{KeyType::kEd25519, 0}, KeyInfo{KeyType::kRsa, 2048}}) {
    SCOPED_TRACE(DescribeKey(type));
    absl::StatusOr<EvpPkeyPtr> key = GenerateKey(type.type, type.rsa_bits ? type.rsa_bits : 2048);
    ASSERT_OK(key);
    absl::StatusOr<ParsedCsr> csr = testing::ParsedCsrFor(key->get(), "ignored", names);
    ASSERT_OK(csr);
    absl::StatusOr<X509Ptr> leaf = Issue(*csr, absl::Hours(2));
    ASSERT_OK(leaf);
    const int code = Verify(leaf->get());
    EXPECT_EQ(code, X509_V_OK) << testing::VerifyErrorText(code);
    EXPECT_OK(testing::VerifyWithOpenSslCli(testing::Pem(leaf->get()),
                                            {testing::Pem(acme_->certificate())}, {}, "",
                                            {"-partial_chain"}));
    absl::StatusOr<CertificateInfo> info = DescribeCertificate(leaf->get());
    ASSERT_OK(info);
    EXPECT_EQ(info->key, type);
    EXPECT_EQ(info->subject, "CN=api.acme.svc.example.net");
    EXPECT_THAT(info->subject_alt_names.dns_names,
                ElementsAre("api.acme.svc.example.net", "a.b.acme.svc.example.net"));
    EXPECT_THAT(info->subject_alt_names.uris,
                ElementsAre("spiffe://acme.example.net/ns/prod/sa/api"));
    EXPECT_THAT(info->subject_alt_names.ip_addresses, ElementsAre("10.64.3.7"));
    EXPECT_EQ(info->not_after, absl::FromUnixSeconds(absl::ToUnixSeconds(now_ + absl::Hours(2))));
    EXPECT_EQ(X509_check_host(leaf->get(), "api.acme.svc.example.net", 0, 0, nullptr), 1);
  }
}

TEST_F(IssuancePolicyEndToEndTest, AUriOnlyLeafHasAnEmptySubjectAndVerifies) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  absl::StatusOr<ParsedCsr> csr =
      testing::ParsedCsrFor(key->get(), "api.acme.svc.example.net",
                            {{}, {"spiffe://acme.example.net/ns/prod/sa/api"}, {}});
  ASSERT_OK(csr);
  absl::StatusOr<X509Ptr> leaf = Issue(*csr, std::nullopt);
  ASSERT_OK(leaf);
  EXPECT_EQ(Verify(leaf->get()), X509_V_OK);
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(leaf->get())), 0);
}

TEST_F(IssuancePolicyEndToEndTest, NamesOutsideTheTenantAreRefusedBeforeSigning) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  for (const SubjectAltNames& names : {SubjectAltNames{{"api.beta.svc.example.net"}, {}, {}},
                                       SubjectAltNames{{}, {"spiffe://beta.example.net/api"}, {}},
                                       SubjectAltNames{{}, {"https://acme.example.net/api"}, {}},
                                       SubjectAltNames{{}, {}, {"10.64.4.7"}}}) {
    absl::StatusOr<ParsedCsr> csr = testing::ParsedCsrFor(key->get(), "", names);
    ASSERT_OK(csr);
    EXPECT_THAT(FieldsOf(Issue(*csr, std::nullopt).status()), ElementsAre("csr"));
  }
}

TEST_F(IssuancePolicyEndToEndTest, NameConstraintsStayTheHardLimit) {
  // A policy that names the wrong tenant (a controller bug) passes its own
  // checks, but IssueLeaf refuses what acme's constraints do not permit.
  policy_ = DefaultIssuancePolicy("beta.svc.example.net", "beta.example.net");
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  absl::StatusOr<ParsedCsr> csr =
      testing::ParsedCsrFor(key->get(), "", {{"api.beta.svc.example.net"}, {}, {}});
  ASSERT_OK(csr);
  EXPECT_THAT(Issue(*csr, std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument, "api.beta.svc.example.net"));
}

TEST_F(IssuancePolicyEndToEndTest, ALeafOutlivingItsIssuerIsRefusedNotCut) {
  policy_.max_ttl = absl::Hours(24 * 397);
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  ASSERT_OK(key);
  absl::StatusOr<ParsedCsr> csr =
      testing::ParsedCsrFor(key->get(), "", {{"api.acme.svc.example.net"}, {}, {}});
  ASSERT_OK(csr);
  // The tenant intermediate lives one year.
  EXPECT_THAT(Issue(*csr, absl::Hours(24 * 397)),
              StatusIs(absl::StatusCode::kFailedPrecondition, ""));
  EXPECT_OK(Issue(*csr, absl::Hours(24 * 300)));
}

}  // namespace
}  // namespace mandant::pki
