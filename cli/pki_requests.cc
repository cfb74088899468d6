#include "cli/pki_requests.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "cli/tenant_requests.h"
#include "common/status_macros.h"

namespace mandant::cli {
namespace {

constexpr absl::string_view kInfrastructure = "infrastructure";
constexpr absl::string_view kTenantsPrefix = "tenants/";

struct Named {
  absl::string_view name;
  int value;
};

constexpr Named kReasons[] = {
    {"unspecified", v1::REVOCATION_REASON_UNSPECIFIED},
    {"key-compromise", v1::REVOCATION_REASON_KEY_COMPROMISE},
    {"ca-compromise", v1::REVOCATION_REASON_CA_COMPROMISE},
    {"affiliation-changed", v1::REVOCATION_REASON_AFFILIATION_CHANGED},
    {"superseded", v1::REVOCATION_REASON_SUPERSEDED},
    {"cessation-of-operation", v1::REVOCATION_REASON_CESSATION_OF_OPERATION},
    {"privilege-withdrawn", v1::REVOCATION_REASON_PRIVILEGE_WITHDRAWN},
    {"aa-compromise", v1::REVOCATION_REASON_AA_COMPROMISE},
};

constexpr Named kPolicyKeyTypes[] = {
    {"p256", v1::KEY_TYPE_ECDSA_P256},
    {"p384", v1::KEY_TYPE_ECDSA_P384},
    {"ed25519", v1::KEY_TYPE_ED25519},
    {"rsa", v1::KEY_TYPE_RSA},
};

constexpr Named kIssuerKinds[] = {
    {"root", v1::ISSUER_KIND_ROOT},
    {"infrastructure", v1::ISSUER_KIND_INFRASTRUCTURE},
    {"tenant", v1::ISSUER_KIND_TENANT},
};

constexpr Named kUsages[] = {
    {"server", v1::CERTIFICATE_USAGE_SERVER_AUTH},
    {"client", v1::CERTIFICATE_USAGE_CLIENT_AUTH},
};

template <size_t N>
absl::StatusOr<int> Lookup(const Named (&table)[N], absl::string_view flag,
                           absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  for (const Named& n : table) {
    if (n.name == lower) return n.value;
  }
  std::vector<absl::string_view> names;
  for (const Named& n : table) names.push_back(n.name);
  return absl::InvalidArgumentError(
      absl::StrCat(flag, " \"", text, "\" is not one of ", absl::StrJoin(names, ", ")));
}

// Every value of a repeatable flag, each also split at commas.
std::vector<std::string> SplitValues(const Invocation& inv, absl::string_view flag) {
  std::vector<std::string> out;
  for (const std::string& v : inv.GetAll(flag)) {
    for (absl::string_view part : absl::StrSplit(v, ',')) {
      out.emplace_back(absl::StripAsciiWhitespace(part));
    }
  }
  return out;
}

// A repeatable list flag where a single "" clears the list.
absl::StatusOr<std::vector<std::string>> ListFlag(const Invocation& inv, absl::string_view flag) {
  std::vector<std::string> values = inv.GetAll(flag);
  if (values.size() == 1 && values[0].empty()) return std::vector<std::string>();
  for (const std::string& v : values) {
    if (v.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", flag, " \"\" clears the list and cannot be combined with other values"));
    }
  }
  return values;
}

absl::StatusOr<std::string> RequiredParent(const Invocation& inv) {
  if (!inv.Has("parent")) {
    return absl::InvalidArgumentError(
        "--parent is required: --parent tenants/ID for a tenant's certificates, or --parent "
        "infrastructure for Mandant's own");
  }
  return ScopeFromArg(inv.Get("parent"), "--parent");
}

absl::StatusOr<std::string> Arg(const Invocation& inv, absl::string_view what) {
  if (inv.args.empty()) return absl::InvalidArgumentError(absl::StrCat("missing argument ", what));
  return inv.args[0];
}

// Splits "{scope}/{rest}" into scope and rest; INVALID_ARGUMENT when `arg`
// does not start with a scope.
absl::StatusOr<std::pair<std::string, std::string>> SplitScope(absl::string_view arg,
                                                               absl::string_view what,
                                                               absl::string_view example) {
  const std::string bad =
      absl::StrCat(what, " \"", arg, "\" is not a resource name; write it as ", example);
  if (absl::StartsWith(arg, kTenantsPrefix)) {
    absl::string_view rest = arg.substr(kTenantsPrefix.size());
    size_t slash = rest.find('/');
    if (slash == 0 || slash == absl::string_view::npos) return absl::InvalidArgumentError(bad);
    return std::make_pair(absl::StrCat(kTenantsPrefix, rest.substr(0, slash)),
                          std::string(rest.substr(slash + 1)));
  }
  if (absl::StartsWith(arg, absl::StrCat(kInfrastructure, "/"))) {
    return std::make_pair(std::string(kInfrastructure),
                          std::string(arg.substr(kInfrastructure.size() + 1)));
  }
  return absl::InvalidArgumentError(bad);
}

absl::StatusOr<std::string> CanonicalSerial(absl::string_view serial, absl::string_view arg) {
  std::string hex;
  for (char c : serial) {
    if (c == ':') continue;
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", arg, "\": the serial \"", serial, "\" is not hexadecimal"));
    }
    hex.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  size_t first = hex.find_first_not_of('0');
  if (hex.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", arg, "\" names no serial"));
  }
  return first == std::string::npos ? std::string("0") : hex.substr(first);
}

absl::StatusOr<absl::Time> ParseExpireBefore(absl::string_view text, absl::Time now) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  if (absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &err)) return t;
  absl::StatusOr<absl::Duration> d = ParseDurationFlag("--expire-before", text);
  if (d.ok()) return now + *d;
  return absl::InvalidArgumentError(absl::StrCat(
      "--expire-before \"", text,
      "\" is neither a time (2025-03-01T12:00:00Z, 2025-03-01) nor a duration from now (30d, "
      "72h)"));
}

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  out->set_seconds(absl::ToInt64Seconds(d));
}

}  // namespace

absl::StatusOr<std::string> ScopeFromArg(absl::string_view arg, absl::string_view what) {
  if (arg == kInfrastructure) return std::string(kInfrastructure);
  if (absl::StartsWith(arg, kTenantsPrefix)) {
    absl::string_view id = arg.substr(kTenantsPrefix.size());
    if (!id.empty() && id.find('/') == absl::string_view::npos) return std::string(arg);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, " \"", arg,
                   "\" is not a scope; write tenants/ID (e.g. tenants/acme) or infrastructure"));
}

absl::StatusOr<std::string> CertificateNameFromArg(absl::string_view arg) {
  constexpr absl::string_view kExample =
      "SCOPE/certificates/SERIAL, e.g. tenants/acme/certificates/7f3a9c";
  MANDANT_ASSIGN_OR_RETURN(auto parts, SplitScope(arg, "certificate", kExample));
  absl::string_view rest = parts.second;
  if (!absl::ConsumePrefix(&rest, "certificates/") || rest.empty() ||
      rest.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate \"", arg, "\" is not a certificate name; write it as ", kExample));
  }
  MANDANT_ASSIGN_OR_RETURN(std::string serial, CanonicalSerial(rest, arg));
  return absl::StrCat(parts.first, "/certificates/", serial);
}

absl::StatusOr<std::string> IssuerNameFromArg(absl::string_view arg) {
  constexpr absl::string_view kExample =
      "SCOPE/issuers/ID, e.g. tenants/acme/issuers/20250301-7f3a (see 'mandantctl pki issuers')";
  MANDANT_ASSIGN_OR_RETURN(auto parts, SplitScope(arg, "issuer", kExample));
  absl::string_view rest = parts.second;
  absl::ConsumeSuffix(&rest, "/crl");
  if (!absl::ConsumePrefix(&rest, "issuers/") || rest.empty() ||
      rest.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("issuer \"", arg, "\" is not an issuer name; write it as ", kExample));
  }
  return absl::StrCat(parts.first, "/issuers/", rest);
}

absl::StatusOr<std::string> PolicyNameFromArg(absl::string_view arg) {
  absl::string_view tenant = arg;
  absl::ConsumeSuffix(&tenant, "/issuancePolicy");
  if (tenant == kInfrastructure) {
    return absl::InvalidArgumentError(
        "the infrastructure scope has no issuance policy; only tenants have one");
  }
  absl::StatusOr<std::string> name = TenantNameFromArg(tenant);
  if (!name.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", arg, "\" is not a tenant; give the tenant id (acme) or name (tenants/acme)"));
  }
  return absl::StrCat(*name, "/issuancePolicy");
}

absl::StatusOr<std::string> TrustBundleNameFromArg(absl::string_view arg) {
  absl::string_view scope = arg;
  absl::ConsumeSuffix(&scope, "/trustBundle");
  MANDANT_ASSIGN_OR_RETURN(std::string name, ScopeFromArg(scope, "scope"));
  return absl::StrCat(name, "/trustBundle");
}

absl::StatusOr<absl::Duration> ParseDurationFlag(absl::string_view flag, absl::string_view text) {
  absl::Duration d;
  bool ok = absl::ParseDuration(text, &d);
  if (!ok && absl::EndsWith(text, "d")) {
    int64_t days = 0;
    ok = absl::SimpleAtoi(text.substr(0, text.size() - 1), &days) && days > 0 && days < 100 * 365;
    if (ok) d = absl::Hours(24 * days);
  }
  if (!ok || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " \"", text, "\" is not a positive duration; write e.g. 24h, 90m or 30d"));
  }
  if (d != absl::Trunc(d, absl::Seconds(1))) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " \"", text, "\" is not a whole number of seconds"));
  }
  return d;
}

absl::StatusOr<KeyChoice> ParseKeyChoice(absl::string_view flag, absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "p256") return KeyChoice{pki::KeyType::kEcdsaP256, 0};
  if (lower == "p384") return KeyChoice{pki::KeyType::kEcdsaP384, 0};
  if (lower == "ed25519") return KeyChoice{pki::KeyType::kEd25519, 0};
  if (lower == "rsa2048") return KeyChoice{pki::KeyType::kRsa, 2048};
  if (lower == "rsa3072") return KeyChoice{pki::KeyType::kRsa, 3072};
  if (lower == "rsa4096") return KeyChoice{pki::KeyType::kRsa, 4096};
  return absl::InvalidArgumentError(absl::StrCat(
      flag, " \"", text, "\" is not one of p256, p384, ed25519, rsa2048, rsa3072, rsa4096"));
}

absl::StatusOr<IssueArguments> BuildIssueArguments(const Invocation& inv,
                                                   absl::string_view generated_request_id) {
  IssueArguments args;
  v1::IssueCertificateRequest& request = args.request;
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_parent(), RequiredParent(inv));

  for (const std::string& dns : inv.GetAll("dns")) {
    if (absl::Status s = pki::ValidateDnsName(dns); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--dns: ", s.message()));
    }
    args.names.dns_names.push_back(absl::AsciiStrToLower(dns));
  }
  for (const std::string& uri : inv.GetAll("uri")) {
    if (absl::Status s = pki::ValidateUri(uri); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--uri: ", s.message()));
    }
    args.names.uris.push_back(uri);
  }
  for (const std::string& ip : inv.GetAll("ip")) {
    absl::StatusOr<std::string> bytes = pki::ParseIpAddress(ip);
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--ip: ", bytes.status().message()));
    }
    args.names.ip_addresses.push_back(pki::FormatIpAddress(*bytes));
  }
  if (args.names.empty()) {
    return absl::InvalidArgumentError(
        "a certificate needs at least one name: give --dns NAME, --uri URI or --ip ADDRESS");
  }
  args.common_name = inv.Has("common-name")         ? inv.Get("common-name")
                     : args.names.dns_names.empty() ? std::string()
                                                    : args.names.dns_names.front();

  std::vector<std::string> usages = SplitValues(inv, "usage");
  if (usages.empty()) usages.push_back("server");
  for (const std::string& u : usages) {
    MANDANT_ASSIGN_OR_RETURN(int usage, Lookup(kUsages, "--usage", u));
    const auto& have = request.usages();
    if (std::find(have.begin(), have.end(), usage) == have.end())
      request.add_usages(static_cast<v1::CertificateUsage>(usage));
  }
  if (inv.Has("ttl")) {
    MANDANT_ASSIGN_OR_RETURN(absl::Duration ttl, ParseDurationFlag("--ttl", inv.Get("ttl")));
    SetDuration(ttl, request.mutable_ttl());
  }

  args.reuse_key = inv.Has("reuse-key");
  if (args.reuse_key && inv.Has("key-type")) {
    return absl::InvalidArgumentError(
        "--key-type and --reuse-key exclude each other: a reused key keeps its type");
  }
  if (inv.Has("key-type")) {
    MANDANT_ASSIGN_OR_RETURN(args.key, ParseKeyChoice("--key-type", inv.Get("key-type")));
  }

  for (const char* flag : {"out-cert", "out-key"}) {
    if (!inv.Has(flag) || inv.Get(flag).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", flag, " FILE is required: pki issue writes the key and the certificate to files"));
    }
  }
  args.out_cert = inv.Get("out-cert");
  args.out_key = inv.Get("out-key");
  args.out_chain = inv.Get("out-chain");
  if (args.out_cert == args.out_key || args.out_chain == args.out_key ||
      args.out_chain == args.out_cert) {
    return absl::InvalidArgumentError(
        "--out-cert, --out-key and --out-chain must name "
        "different files");
  }
  args.force = inv.Has("force");
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_request_id(),
                           RequestIdFromFlags(inv, generated_request_id));
  return args;
}

absl::StatusOr<LoginArguments> BuildLoginArguments(const Invocation& inv) {
  LoginArguments args;
  if (inv.Has("ttl")) {
    MANDANT_ASSIGN_OR_RETURN(absl::Duration ttl, ParseDurationFlag("--ttl", inv.Get("ttl")));
    SetDuration(ttl, args.request.mutable_ttl());
  }
  if (inv.Has("key-type")) {
    MANDANT_ASSIGN_OR_RETURN(args.key, ParseKeyChoice("--key-type", inv.Get("key-type")));
  }
  return args;
}

absl::StatusOr<v1::GetCertificateRequest> BuildGetCertificateRequest(const Invocation& inv) {
  v1::GetCertificateRequest request;
  MANDANT_ASSIGN_OR_RETURN(std::string arg, Arg(inv, "NAME"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_name(), CertificateNameFromArg(arg));
  return request;
}

absl::StatusOr<v1::ListCertificatesRequest> BuildListCertificatesRequest(const Invocation& inv,
                                                                         absl::Time now) {
  v1::ListCertificatesRequest request;
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_parent(), RequiredParent(inv));
  if (inv.Has("issuer")) {
    const std::string issuer = inv.Get("issuer");
    if (issuer.find('/') == std::string::npos && !issuer.empty()) {
      request.set_issuer(absl::StrCat(request.parent(), "/issuers/", issuer));
    } else {
      MANDANT_ASSIGN_OR_RETURN(*request.mutable_issuer(), IssuerNameFromArg(issuer));
    }
  }
  if (inv.Has("expire-before")) {
    MANDANT_ASSIGN_OR_RETURN(absl::Time t, ParseExpireBefore(inv.Get("expire-before"), now));
    request.mutable_expire_before()->set_seconds(absl::ToUnixSeconds(t));
  }
  request.set_include_expired(inv.Has("include-expired"));
  if (inv.Has("page-size")) {
    MANDANT_ASSIGN_OR_RETURN(int32_t size, PageSizeFromFlags(inv));
    request.set_page_size(size);
  }
  if (inv.Has("page-token")) request.set_page_token(inv.Get("page-token"));
  return request;
}

absl::StatusOr<v1::RevokeCertificateRequest> BuildRevokeCertificateRequest(
    const Invocation& inv, absl::string_view generated_request_id) {
  v1::RevokeCertificateRequest request;
  MANDANT_ASSIGN_OR_RETURN(std::string arg, Arg(inv, "NAME"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_name(), CertificateNameFromArg(arg));
  if (inv.Has("reason")) {
    MANDANT_ASSIGN_OR_RETURN(int reason, Lookup(kReasons, "--reason", inv.Get("reason")));
    request.set_reason(static_cast<v1::RevocationReason>(reason));
  }
  if (inv.Has("etag")) request.set_etag(inv.Get("etag"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_request_id(),
                           RequestIdFromFlags(inv, generated_request_id));
  return request;
}

absl::StatusOr<v1::GetCrlRequest> BuildGetCrlRequest(const Invocation& inv) {
  v1::GetCrlRequest request;
  MANDANT_ASSIGN_OR_RETURN(std::string arg, Arg(inv, "ISSUER_NAME"));
  MANDANT_ASSIGN_OR_RETURN(std::string issuer, IssuerNameFromArg(arg));
  request.set_name(absl::StrCat(issuer, "/crl"));
  return request;
}

absl::StatusOr<v1::GetTrustBundleRequest> BuildGetTrustBundleRequest(const Invocation& inv) {
  v1::GetTrustBundleRequest request;
  MANDANT_ASSIGN_OR_RETURN(std::string arg, Arg(inv, "SCOPE"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_name(), TrustBundleNameFromArg(arg));
  return request;
}

absl::StatusOr<v1::ListIssuersRequest> BuildListIssuersRequest(const Invocation& inv) {
  v1::ListIssuersRequest request;
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_parent(), RequiredParent(inv));
  if (inv.Has("page-size")) {
    MANDANT_ASSIGN_OR_RETURN(int32_t size, PageSizeFromFlags(inv));
    request.set_page_size(size);
  }
  if (inv.Has("page-token")) request.set_page_token(inv.Get("page-token"));
  return request;
}

absl::StatusOr<v1::PrepareIssuerRequest> BuildPrepareIssuerRequest(
    const Invocation& inv, absl::string_view generated_request_id) {
  v1::PrepareIssuerRequest request;
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_parent(), RequiredParent(inv));
  if (inv.Has("kind")) {
    MANDANT_ASSIGN_OR_RETURN(int kind, Lookup(kIssuerKinds, "--kind", inv.Get("kind")));
    request.set_kind(static_cast<v1::IssuerKind>(kind));
  }
  if (inv.Has("key-type")) {
    const std::string text = absl::AsciiStrToLower(inv.Get("key-type"));
    if (text == "p256") {
      request.set_key_type(v1::KEY_TYPE_ECDSA_P256);
    } else if (text == "p384") {
      request.set_key_type(v1::KEY_TYPE_ECDSA_P384);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--key-type \"", inv.Get("key-type"), "\" is not one of p256, p384 (CA keys are ECDSA)"));
    }
  }
  if (inv.Has("validity")) {
    MANDANT_ASSIGN_OR_RETURN(absl::Duration d,
                             ParseDurationFlag("--validity", inv.Get("validity")));
    SetDuration(d, request.mutable_validity());
  }
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_request_id(),
                           RequestIdFromFlags(inv, generated_request_id));
  return request;
}

absl::StatusOr<v1::ActivateIssuerRequest> BuildActivateIssuerRequest(
    const Invocation& inv, absl::string_view generated_request_id) {
  v1::ActivateIssuerRequest request;
  MANDANT_ASSIGN_OR_RETURN(std::string arg, Arg(inv, "NAME"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_name(), IssuerNameFromArg(arg));
  if (inv.Has("etag")) request.set_etag(inv.Get("etag"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_request_id(),
                           RequestIdFromFlags(inv, generated_request_id));
  return request;
}

absl::StatusOr<v1::RetireIssuerRequest> BuildRetireIssuerRequest(
    const Invocation& inv, absl::string_view generated_request_id) {
  v1::RetireIssuerRequest request;
  MANDANT_ASSIGN_OR_RETURN(std::string arg, Arg(inv, "NAME"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_name(), IssuerNameFromArg(arg));
  if (inv.Has("etag")) request.set_etag(inv.Get("etag"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_request_id(),
                           RequestIdFromFlags(inv, generated_request_id));
  return request;
}

absl::StatusOr<v1::GetIssuancePolicyRequest> BuildGetIssuancePolicyRequest(const Invocation& inv) {
  v1::GetIssuancePolicyRequest request;
  MANDANT_ASSIGN_OR_RETURN(std::string arg, Arg(inv, "TENANT"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_name(), PolicyNameFromArg(arg));
  return request;
}

absl::StatusOr<v1::UpdateIssuancePolicyRequest> BuildUpdateIssuancePolicyRequest(
    const Invocation& inv, absl::string_view generated_request_id) {
  v1::UpdateIssuancePolicyRequest request;
  v1::IssuancePolicy* policy = request.mutable_policy();
  MANDANT_ASSIGN_OR_RETURN(std::string arg, Arg(inv, "TENANT"));
  MANDANT_ASSIGN_OR_RETURN(*policy->mutable_name(), PolicyNameFromArg(arg));
  std::vector<std::string> paths;

  struct ListField {
    const char* flag;
    const char* path;
    google::protobuf::RepeatedPtrField<std::string>* (v1::IssuancePolicy::*field)();
  };
  const ListField lists[] = {
      {"allow-dns", "allowed_dns_names", &v1::IssuancePolicy::mutable_allowed_dns_names},
      {"allow-uri", "allowed_uris", &v1::IssuancePolicy::mutable_allowed_uris},
      {"allow-ip", "allowed_ip_ranges", &v1::IssuancePolicy::mutable_allowed_ip_ranges},
  };
  for (const ListField& l : lists) {
    if (!inv.Has(l.flag)) continue;
    MANDANT_ASSIGN_OR_RETURN(std::vector<std::string> values, ListFlag(inv, l.flag));
    for (std::string& v : values) (policy->*l.field)()->Add(std::move(v));
    paths.push_back(l.path);
  }
  if (inv.Has("key-types")) {
    for (const std::string& text : SplitValues(inv, "key-types")) {
      MANDANT_ASSIGN_OR_RETURN(int type, Lookup(kPolicyKeyTypes, "--key-types", text));
      const auto& have = policy->allowed_key_types();
      if (std::find(have.begin(), have.end(), type) == have.end()) {
        policy->add_allowed_key_types(static_cast<v1::KeyType>(type));
      }
    }
    paths.push_back("allowed_key_types");
  }
  if (inv.Has("min-rsa-bits")) {
    const std::string text = inv.Get("min-rsa-bits");
    int32_t bits = 0;
    if (!absl::SimpleAtoi(text, &bits) || bits <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--min-rsa-bits \"", text, "\" is not a positive whole number"));
    }
    policy->set_min_rsa_bits(bits);
    paths.push_back("min_rsa_bits");
  }
  if (inv.Has("max-ttl")) {
    MANDANT_ASSIGN_OR_RETURN(absl::Duration d, ParseDurationFlag("--max-ttl", inv.Get("max-ttl")));
    SetDuration(d, policy->mutable_max_ttl());
    paths.push_back("max_ttl");
  }
  if (inv.Has("default-ttl")) {
    MANDANT_ASSIGN_OR_RETURN(absl::Duration d,
                             ParseDurationFlag("--default-ttl", inv.Get("default-ttl")));
    SetDuration(d, policy->mutable_default_ttl());
    paths.push_back("default_ttl");
  }
  if (paths.empty()) {
    return absl::InvalidArgumentError(
        "nothing to update: give at least one of --allow-dns, --allow-uri, --allow-ip, "
        "--key-types, --min-rsa-bits, --max-ttl, --default-ttl");
  }
  for (const std::string& p : paths) request.mutable_update_mask()->add_paths(p);
  if (inv.Has("etag")) policy->set_etag(inv.Get("etag"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_request_id(),
                           RequestIdFromFlags(inv, generated_request_id));
  return request;
}

std::string RevocationReasonName(v1::RevocationReason reason) {
  for (const Named& n : kReasons) {
    if (n.value == reason) return std::string(n.name);
  }
  switch (reason) {
    case v1::REVOCATION_REASON_CERTIFICATE_HOLD:
      return "certificate-hold";
    case v1::REVOCATION_REASON_REMOVE_FROM_CRL:
      return "remove-from-crl";
    default:
      return absl::StrCat("reason-", static_cast<int>(reason));
  }
}

}  // namespace mandant::cli
