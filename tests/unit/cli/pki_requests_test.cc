#include "cli/pki_requests.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "cli/app.h"
#include "tests/support/status_matchers.h"

namespace mandant::cli {
namespace {

using ::mandant::testing::IsOkAndHolds;
using ::mandant::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kRequestId[] = "0b7f4a7e-3c1d-4e59-8a77-5f0c2d9e1b23";
// 2025-03-01T00:00:00Z
const absl::Time kNow = absl::FromUnixSeconds(1740787200);

// Parses a real mandantctl command line, so that the flags are checked
// against the command specs as a user would type them.
Invocation Parse(std::vector<std::string> argv) {
  absl::StatusOr<Invocation> inv = ParseCommandLine(MandantctlCommandLine(), argv);
  EXPECT_TRUE(inv.ok()) << inv.status();
  return inv.ok() ? *inv : Invocation();
}

std::vector<std::string> IssueArgs(std::vector<std::string> extra) {
  std::vector<std::string> argv = {"pki",        "issue", "--parent",  "tenants/acme",
                                   "--out-cert", "a.crt", "--out-key", "a.key"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

TEST(ScopeFromArgTest, OnlyFullScopes) {
  EXPECT_THAT(ScopeFromArg("tenants/acme", "--parent"), IsOkAndHolds("tenants/acme"));
  EXPECT_THAT(ScopeFromArg("infrastructure", "--parent"), IsOkAndHolds("infrastructure"));
  // A bare id is refused: a tenant may be called "infrastructure".
  EXPECT_THAT(ScopeFromArg("acme", "--parent"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--parent \"acme\" is not a scope; write tenants/ID"));
  EXPECT_FALSE(ScopeFromArg("tenants/", "--parent").ok());
  EXPECT_FALSE(ScopeFromArg("tenants/acme/x", "--parent").ok());
}

TEST(NameFromArgTest, CertificateSerialsAreCanonical) {
  EXPECT_THAT(CertificateNameFromArg("tenants/acme/certificates/7f3a"),
              IsOkAndHolds("tenants/acme/certificates/7f3a"));
  // As openssl prints serials: upper case, colons, leading zeros.
  EXPECT_THAT(CertificateNameFromArg("infrastructure/certificates/00:7F:3A"),
              IsOkAndHolds("infrastructure/certificates/7f3a"));
  EXPECT_THAT(CertificateNameFromArg("tenants/acme/certificates/xyz"),
              StatusIs(absl::StatusCode::kInvalidArgument, "not hexadecimal"));
  EXPECT_THAT(CertificateNameFromArg("7f3a"),
              StatusIs(absl::StatusCode::kInvalidArgument, "SCOPE/certificates/SERIAL"));
  EXPECT_FALSE(CertificateNameFromArg("tenants/acme/issuers/7f3a").ok());
}

TEST(NameFromArgTest, IssuersPoliciesAndBundles) {
  EXPECT_THAT(IssuerNameFromArg("tenants/acme/issuers/20250301-7f3a"),
              IsOkAndHolds("tenants/acme/issuers/20250301-7f3a"));
  EXPECT_THAT(IssuerNameFromArg("infrastructure/issuers/r1/crl"),
              IsOkAndHolds("infrastructure/issuers/r1"));
  EXPECT_FALSE(IssuerNameFromArg("tenants/acme/issuers/").ok());
  EXPECT_FALSE(IssuerNameFromArg("20250301-7f3a").ok());

  EXPECT_THAT(PolicyNameFromArg("acme"), IsOkAndHolds("tenants/acme/issuancePolicy"));
  EXPECT_THAT(PolicyNameFromArg("tenants/acme"), IsOkAndHolds("tenants/acme/issuancePolicy"));
  EXPECT_THAT(PolicyNameFromArg("tenants/acme/issuancePolicy"),
              IsOkAndHolds("tenants/acme/issuancePolicy"));
  EXPECT_THAT(PolicyNameFromArg("infrastructure"),
              StatusIs(absl::StatusCode::kInvalidArgument, "only tenants have one"));

  EXPECT_THAT(TrustBundleNameFromArg("infrastructure"), IsOkAndHolds("infrastructure/trustBundle"));
  EXPECT_THAT(TrustBundleNameFromArg("tenants/acme/trustBundle"),
              IsOkAndHolds("tenants/acme/trustBundle"));
}

TEST(ParseDurationFlagTest, DurationsAndDays) {
  EXPECT_THAT(ParseDurationFlag("--ttl", "24h"), IsOkAndHolds(absl::Hours(24)));
  EXPECT_THAT(ParseDurationFlag("--ttl", "1h30m"), IsOkAndHolds(absl::Minutes(90)));
  EXPECT_THAT(ParseDurationFlag("--ttl", "30d"), IsOkAndHolds(absl::Hours(24 * 30)));
  EXPECT_THAT(ParseDurationFlag("--ttl", "0s"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--ttl \"0s\" is not a positive"));
  EXPECT_FALSE(ParseDurationFlag("--ttl", "-5m").ok());
  EXPECT_FALSE(ParseDurationFlag("--ttl", "d").ok());
  EXPECT_FALSE(ParseDurationFlag("--ttl", "tomorrow").ok());
  EXPECT_THAT(ParseDurationFlag("--ttl", "1.5s"),
              StatusIs(absl::StatusCode::kInvalidArgument, "whole number of seconds"));
}

TEST(ParseKeyChoiceTest, EveryKeyType) {
  struct Case {
    const char* text;
    pki::KeyType type;
    int bits;
  };
  for (const Case& c :
       {Case{"p256", pki::KeyType::kEcdsaP256, 0}, Case{"P384", pki::KeyType::kEcdsaP384, 0},
        Case{"ed25519", pki::KeyType::kEd25519, 0}, Case{"rsa2048", pki::KeyType::kRsa, 2048},
        Case{"rsa3072", pki::KeyType::kRsa, 3072}, Case{"rsa4096", pki::KeyType::kRsa, 4096}}) {
    absl::StatusOr<KeyChoice> k = ParseKeyChoice("--key-type", c.text);
    ASSERT_OK(k);
    EXPECT_EQ(k->type, c.type) << c.text;
    EXPECT_EQ(k->rsa_bits, c.bits) << c.text;
  }
  EXPECT_THAT(ParseKeyChoice("--key-type", "rsa1024"),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not one of p256, p384, ed25519"));
}

TEST(BuildIssueArgumentsTest, RepeatedNamesUsagesAndDefaults) {
  absl::StatusOr<IssueArguments> a = BuildIssueArguments(
      Parse(
          IssueArgs({"--dns", "API.acme.svc.example.net", "--dns", "b.acme.svc.example.net",
                     "--uri", "spiffe://acme.example.net/api", "--ip", "fd00:0:0::7", "--ip",
                     "10.64.3.7", "--usage", "client", "--usage", "server,client", "--ttl", "2h"})),
      kRequestId);
  ASSERT_OK(a);
  EXPECT_EQ(a->request.parent(), "tenants/acme");
  EXPECT_EQ(a->request.request_id(), kRequestId);
  EXPECT_EQ(a->request.ttl().seconds(), 7200);
  EXPECT_THAT(a->request.usages(),
              ElementsAre(v1::CERTIFICATE_USAGE_CLIENT_AUTH, v1::CERTIFICATE_USAGE_SERVER_AUTH));
  EXPECT_THAT(a->names.dns_names,
              ElementsAre("api.acme.svc.example.net", "b.acme.svc.example.net"));
  EXPECT_THAT(a->names.uris, ElementsAre("spiffe://acme.example.net/api"));
  EXPECT_THAT(a->names.ip_addresses, ElementsAre("fd00::7", "10.64.3.7"));
  EXPECT_EQ(a->common_name, "api.acme.svc.example.net");
  EXPECT_EQ(a->key.type, pki::KeyType::kEcdsaP256);
  EXPECT_EQ(a->out_cert, "a.crt");
  EXPECT_EQ(a->out_key, "a.key");
  EXPECT_EQ(a->out_chain, "");
  EXPECT_FALSE(a->force);
  EXPECT_FALSE(a->reuse_key);
  EXPECT_TRUE(a->request.csr().empty());

  // Without --usage: server. Without --ttl: the policy's default (unset).
  a = BuildIssueArguments(Parse(IssueArgs({"--uri", "spiffe://acme.example.net/api"})), kRequestId);
  ASSERT_OK(a);
  EXPECT_THAT(a->request.usages(), ElementsAre(v1::CERTIFICATE_USAGE_SERVER_AUTH));
  EXPECT_FALSE(a->request.has_ttl());
  EXPECT_EQ(a->common_name, "");
}

TEST(BuildIssueArgumentsTest, RefusesWhatCannotBeSent) {
  auto error = [](std::vector<std::string> extra) {
    return BuildIssueArguments(Parse(IssueArgs(extra)), kRequestId).status();
  };
  EXPECT_THAT(error({}), StatusIs(absl::StatusCode::kInvalidArgument, "at least one name"));
  EXPECT_THAT(error({"--dns", "*.acme.svc.example.net"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "--dns: "));
  EXPECT_THAT(error({"--uri", "spiffe://user@acme.example.net/x"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "--uri: "));
  EXPECT_THAT(error({"--ip", "10.0.0.256"}), StatusIs(absl::StatusCode::kInvalidArgument, "--ip"));
  EXPECT_THAT(error({"--dns", "a.example.net", "--usage", "code-signing"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not one of server, client"));
  EXPECT_THAT(error({"--dns", "a.example.net", "--reuse-key", "--key-type", "p384"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "exclude each other"));
  EXPECT_THAT(error({"--dns", "a.example.net", "--out-chain", "a.key"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "different files"));
  EXPECT_THAT(error({"--dns", "a.example.net", "--request-id", "again"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not a UUID"));

  absl::StatusOr<IssueArguments> no_key =
      BuildIssueArguments(Parse({"pki", "issue", "--parent", "infrastructure", "--dns",
                                 "a.example.net", "--out-cert", "a.crt"}),
                          kRequestId);
  EXPECT_THAT(no_key, StatusIs(absl::StatusCode::kInvalidArgument, "--out-key FILE is required"));
}

TEST(BuildListCertificatesRequestTest, FiltersAndRelativeTimes) {
  absl::StatusOr<v1::ListCertificatesRequest> r = BuildListCertificatesRequest(
      Parse({"pki", "list", "--parent", "tenants/acme", "--issuer", "20250301-7f3a",
             "--expire-before", "30d", "--include-expired", "--page-size", "10"}),
      kNow);
  ASSERT_OK(r);
  EXPECT_EQ(r->parent(), "tenants/acme");
  EXPECT_EQ(r->issuer(), "tenants/acme/issuers/20250301-7f3a");
  EXPECT_EQ(r->expire_before().seconds(), absl::ToUnixSeconds(kNow + absl::Hours(24 * 30)));
  EXPECT_TRUE(r->include_expired());
  EXPECT_EQ(r->page_size(), 10);

  r = BuildListCertificatesRequest(
      Parse({"pki", "list", "--parent", "infrastructure", "--expire-before", "2025-04-01"}), kNow);
  ASSERT_OK(r);
  EXPECT_EQ(r->expire_before().seconds(), 1743465600);
  EXPECT_FALSE(r->include_expired());
  EXPECT_TRUE(r->issuer().empty());

  r = BuildListCertificatesRequest(Parse({"pki", "list", "--parent", "infrastructure",
                                          "--expire-before", "2025-04-01T12:00:00+02:00"}),
                                   kNow);
  ASSERT_OK(r);
  EXPECT_EQ(r->expire_before().seconds(), 1743465600 + 10 * 3600);

  EXPECT_THAT(BuildListCertificatesRequest(Parse({"pki", "list"}), kNow),
              StatusIs(absl::StatusCode::kInvalidArgument, "--parent is required"));
  EXPECT_THAT(
      BuildListCertificatesRequest(
          Parse({"pki", "list", "--parent", "infrastructure", "--expire-before", "soon"}), kNow),
      StatusIs(absl::StatusCode::kInvalidArgument, "--expire-before \"soon\""));
}

TEST(BuildRevokeCertificateRequestTest, ReasonsByName) {
  absl::StatusOr<v1::RevokeCertificateRequest> r =
      BuildRevokeCertificateRequest(Parse({"pki", "revoke", "tenants/acme/certificates/AB",
                                           "--reason", "superseded", "--etag", "c1"}),
                                    kRequestId);
  ASSERT_OK(r);
  EXPECT_EQ(r->name(), "tenants/acme/certificates/ab");
  EXPECT_EQ(r->reason(), v1::REVOCATION_REASON_SUPERSEDED);
  EXPECT_EQ(r->etag(), "c1");
  EXPECT_EQ(r->request_id(), kRequestId);

  r = BuildRevokeCertificateRequest(Parse({"pki", "revoke", "infrastructure/certificates/1"}),
                                    kRequestId);
  ASSERT_OK(r);
  EXPECT_EQ(r->reason(), v1::REVOCATION_REASON_UNSPECIFIED);
  EXPECT_TRUE(r->etag().empty());

  EXPECT_THAT(
      BuildRevokeCertificateRequest(
          Parse({"pki", "revoke", "infrastructure/certificates/1", "--reason", "certificate-hold"}),
          kRequestId),
      StatusIs(absl::StatusCode::kInvalidArgument, "is not one of unspecified, key-compromise"));
  EXPECT_EQ(RevocationReasonName(v1::REVOCATION_REASON_CESSATION_OF_OPERATION),
            "cessation-of-operation");
}

TEST(BuildIssuerRequestsTest, PrepareActivateRetire) {
  absl::StatusOr<v1::PrepareIssuerRequest> p =
      BuildPrepareIssuerRequest(Parse({"pki", "prepare-issuer", "--parent", "infrastructure",
                                       "--kind", "infrastructure", "--validity", "365d"}),
                                kRequestId);
  ASSERT_OK(p);
  EXPECT_EQ(p->kind(), v1::ISSUER_KIND_INFRASTRUCTURE);
  EXPECT_EQ(p->validity().seconds(), 365 * 24 * 3600);
  EXPECT_EQ(p->key_type(), v1::KEY_TYPE_UNSPECIFIED);
  EXPECT_EQ(p->request_id(), kRequestId);

  p = BuildPrepareIssuerRequest(Parse({"pki", "prepare-issuer", "--parent", "tenants/acme"}),
                                kRequestId);
  ASSERT_OK(p);
  EXPECT_EQ(p->kind(), v1::ISSUER_KIND_UNSPECIFIED);
  EXPECT_FALSE(p->has_validity());
  EXPECT_THAT(BuildPrepareIssuerRequest(Parse({"pki", "prepare-issuer", "--parent", "tenants/acme",
                                               "--key-type", "ed25519"}),
                                        kRequestId),
              StatusIs(absl::StatusCode::kInvalidArgument, "CA keys are ECDSA"));

  absl::StatusOr<v1::ActivateIssuerRequest> a = BuildActivateIssuerRequest(
      Parse({"pki", "activate-issuer", "tenants/acme/issuers/n2", "--etag", "i3"}), kRequestId);
  ASSERT_OK(a);
  EXPECT_EQ(a->name(), "tenants/acme/issuers/n2");
  EXPECT_EQ(a->etag(), "i3");
  absl::StatusOr<v1::RetireIssuerRequest> r = BuildRetireIssuerRequest(
      Parse({"pki", "retire-issuer", "tenants/acme/issuers/n1"}), kRequestId);
  ASSERT_OK(r);
  EXPECT_TRUE(r->etag().empty());
}

TEST(BuildUpdateIssuancePolicyRequestTest, MaskNamesExactlyTheGivenFlags) {
  absl::StatusOr<v1::UpdateIssuancePolicyRequest> r = BuildUpdateIssuancePolicyRequest(
      Parse({"pki", "policy", "update", "acme", "--default-ttl", "12h", "--allow-dns",
             "*.acme.svc.example.net", "--allow-dns", "api.acme.svc.example.net"}),
      kRequestId);
  ASSERT_OK(r);
  EXPECT_EQ(r->policy().name(), "tenants/acme/issuancePolicy");
  EXPECT_THAT(r->update_mask().paths(), ElementsAre("allowed_dns_names", "default_ttl"));
  EXPECT_THAT(r->policy().allowed_dns_names(),
              ElementsAre("*.acme.svc.example.net", "api.acme.svc.example.net"));
  EXPECT_EQ(r->policy().default_ttl().seconds(), 12 * 3600);
  EXPECT_TRUE(r->policy().etag().empty());
  EXPECT_EQ(r->request_id(), kRequestId);

  // Every flag, in the proto's order whatever the order given.
  r = BuildUpdateIssuancePolicyRequest(Parse({"pki",
                                              "policy",
                                              "update",
                                              "tenants/acme",
                                              "--max-ttl",
                                              "90d",
                                              "--min-rsa-bits",
                                              "3072",
                                              "--key-types",
                                              "rsa",
                                              "--key-types",
                                              "p256,p384",
                                              "--allow-ip",
                                              "10.64.0.0/16",
                                              "--allow-uri",
                                              "spiffe://acme.example.net/*",
                                              "--allow-dns",
                                              "*.acme.svc.example.net",
                                              "--default-ttl",
                                              "1d",
                                              "--etag",
                                              "p7"}),
                                       kRequestId);
  ASSERT_OK(r);
  EXPECT_THAT(r->update_mask().paths(),
              ElementsAre("allowed_dns_names", "allowed_uris", "allowed_ip_ranges",
                          "allowed_key_types", "min_rsa_bits", "max_ttl", "default_ttl"));
  EXPECT_THAT(r->policy().allowed_key_types(),
              ElementsAre(v1::KEY_TYPE_RSA, v1::KEY_TYPE_ECDSA_P256, v1::KEY_TYPE_ECDSA_P384));
  EXPECT_EQ(r->policy().min_rsa_bits(), 3072);
  EXPECT_EQ(r->policy().max_ttl().seconds(), 90 * 24 * 3600);
  EXPECT_EQ(r->policy().etag(), "p7");

  // A single empty value clears a list: the path is in the mask, the list is
  // empty.
  r = BuildUpdateIssuancePolicyRequest(Parse({"pki", "policy", "update", "acme", "--allow-ip", ""}),
                                       kRequestId);
  ASSERT_OK(r);
  EXPECT_THAT(r->update_mask().paths(), ElementsAre("allowed_ip_ranges"));
  EXPECT_THAT(r->policy().allowed_ip_ranges(), IsEmpty());

  EXPECT_THAT(
      BuildUpdateIssuancePolicyRequest(Parse({"pki", "policy", "update", "acme"}), kRequestId),
      StatusIs(absl::StatusCode::kInvalidArgument, "nothing to update"));
  EXPECT_THAT(
      BuildUpdateIssuancePolicyRequest(Parse({"pki", "policy", "update", "acme", "--allow-dns", "",
                                              "--allow-dns", "a.acme.svc.example.net"}),
                                       kRequestId),
      StatusIs(absl::StatusCode::kInvalidArgument, "cannot be combined"));
  EXPECT_THAT(BuildUpdateIssuancePolicyRequest(
                  Parse({"pki", "policy", "update", "acme", "--key-types", "p521"}), kRequestId),
              StatusIs(absl::StatusCode::kInvalidArgument, "p256, p384, ed25519, rsa"));
  EXPECT_THAT(BuildUpdateIssuancePolicyRequest(
                  Parse({"pki", "policy", "update", "acme", "--min-rsa-bits", "many"}), kRequestId),
              StatusIs(absl::StatusCode::kInvalidArgument, "--min-rsa-bits"));
}

TEST(BuildOtherRequestsTest, NamesFromArguments) {
  EXPECT_THAT(
      BuildGetCrlRequest(Parse({"pki", "crl", "tenants/acme/issuers/n1"})),
      IsOkAndHolds(::testing::Property(&v1::GetCrlRequest::name, "tenants/acme/issuers/n1/crl")));
  EXPECT_THAT(BuildGetTrustBundleRequest(Parse({"pki", "bundle", "tenants/acme"})),
              IsOkAndHolds(::testing::Property(&v1::GetTrustBundleRequest::name,
                                               "tenants/acme/trustBundle")));
  EXPECT_THAT(BuildGetIssuancePolicyRequest(Parse({"pki", "policy", "get", "tenants/acme"})),
              IsOkAndHolds(::testing::Property(&v1::GetIssuancePolicyRequest::name,
                                               "tenants/acme/issuancePolicy")));
  absl::StatusOr<v1::ListIssuersRequest> issuers =
      BuildListIssuersRequest(Parse({"pki", "issuers", "--parent", "infrastructure"}));
  ASSERT_OK(issuers);
  EXPECT_EQ(issuers->parent(), "infrastructure");
  EXPECT_THAT(BuildListIssuersRequest(
                  Parse({"pki", "issuers", "--parent", "infrastructure", "--page-size", "0"})),
              StatusIs(absl::StatusCode::kInvalidArgument, "--page-size"));
  absl::StatusOr<LoginArguments> login = BuildLoginArguments(Parse({"login", "--ttl", "30m"}));
  ASSERT_OK(login);
  EXPECT_EQ(login->request.ttl().seconds(), 1800);
  EXPECT_TRUE(login->request.csr().empty());
}

}  // namespace
}  // namespace mandant::cli
