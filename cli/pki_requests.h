#ifndef MANDANT_CLI_PKI_REQUESTS_H_
#define MANDANT_CLI_PKI_REQUESTS_H_

// Builds CertificateService requests from a parsed `mandantctl pki ...` or
// `mandantctl login` command line. Pure: no I/O, no key generation. Every
// error is INVALID_ARGUMENT and names the flag or argument, the value given
// and what is allowed. As for tenants, limits the server checks (TTL ranges,
// policy sizes, CIDR syntax) are left to the server, whose answer lists every
// bad field; here only what cannot be sent at all is rejected, plus the SAN
// syntax, which must hold before a CSR can be built.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "cli/command_line.h"
#include "mandant/v1/certificate.pb.h"
#include "pki/key.h"
#include "pki/subject_alt_names.h"

namespace mandant::cli {

// --- Names -----------------------------------------------------------------
// Scopes are written in full, "tenants/acme" or "infrastructure": a tenant
// may be called "infrastructure", so a bare id would be ambiguous.

// "tenants/{id}" or "infrastructure". `what` names the flag or argument.
absl::StatusOr<std::string> ScopeFromArg(absl::string_view arg, absl::string_view what);

// "{scope}/certificates/{serial}". The serial may be written as OpenSSL
// prints it (upper case, colons, leading zeros); the result uses the
// canonical lower-case hex without leading zeros.
absl::StatusOr<std::string> CertificateNameFromArg(absl::string_view arg);

// "{scope}/issuers/{id}". A trailing "/crl" is accepted and dropped.
absl::StatusOr<std::string> IssuerNameFromArg(absl::string_view arg);

// "tenants/{id}/issuancePolicy" from "acme", "tenants/acme" or the full name.
absl::StatusOr<std::string> PolicyNameFromArg(absl::string_view arg);

// "{scope}/trustBundle" from the scope or the full name.
absl::StatusOr<std::string> TrustBundleNameFromArg(absl::string_view arg);

// --- Values ----------------------------------------------------------------

// A positive whole number of seconds, written as Go/absl durations ("24h",
// "90m", "1h30m") or whole days ("30d").
absl::StatusOr<absl::Duration> ParseDurationFlag(absl::string_view flag, absl::string_view text);

// The key a command generates locally.
struct KeyChoice {
  pki::KeyType type = pki::KeyType::kEcdsaP256;
  // For kRsa only.
  int rsa_bits = 0;
};

// p256 (the default), p384, ed25519, rsa2048, rsa3072, rsa4096.
absl::StatusOr<KeyChoice> ParseKeyChoice(absl::string_view flag, absl::string_view text);

// --- Requests --------------------------------------------------------------

// pki issue: everything except the CSR, which needs the key.
struct IssueArguments {
  // parent, ttl, usages and request_id set; csr empty.
  v1::IssueCertificateRequest request;
  // The CSR's subject CN: --common-name, else the first DNS name, else "".
  std::string common_name;
  // At least one name, each syntactically valid.
  pki::SubjectAltNames names;
  KeyChoice key;
  std::string out_cert;
  std::string out_key;
  // Empty when --out-chain was not given.
  std::string out_chain;
  // --force: existing output files are replaced.
  bool force = false;
  // --reuse-key: the key is read from out_key instead of generated.
  bool reuse_key = false;
};

// --parent, --dns/--uri/--ip (repeatable, at least one), --usage (server,
// client; repeatable or comma-separated; default server), --ttl,
// --key-type, --common-name, --out-cert, --out-key, --out-chain, --force,
// --reuse-key, --request-id (else `generated_request_id`). The output paths
// must differ; --key-type and --reuse-key exclude each other.
absl::StatusOr<IssueArguments> BuildIssueArguments(const Invocation& invocation,
                                                   absl::string_view generated_request_id);

// login: --ttl and --key-type (default p256).
struct LoginArguments {
  v1::IssueClientCertificateRequest request;
  KeyChoice key;
};
absl::StatusOr<LoginArguments> BuildLoginArguments(const Invocation& invocation);

absl::StatusOr<v1::GetCertificateRequest> BuildGetCertificateRequest(const Invocation& invocation);

// pki list: --parent (required), --issuer (a full issuer name or an issuer
// id in the parent's scope), --expire-before (RFC 3339 time, a date
// YYYY-MM-DD meaning its midnight UTC, or a duration from `now` such as
// "30d"), --include-expired, --page-size, --page-token. --all is the
// caller's.
absl::StatusOr<v1::ListCertificatesRequest> BuildListCertificatesRequest(
    const Invocation& invocation, absl::Time now);

// pki revoke NAME: --reason (key-compromise, superseded, ...; default
// unspecified), --etag, --request-id (else `generated_request_id`).
absl::StatusOr<v1::RevokeCertificateRequest> BuildRevokeCertificateRequest(
    const Invocation& invocation, absl::string_view generated_request_id);

// pki crl ISSUER_NAME.
absl::StatusOr<v1::GetCrlRequest> BuildGetCrlRequest(const Invocation& invocation);

// pki bundle SCOPE.
absl::StatusOr<v1::GetTrustBundleRequest> BuildGetTrustBundleRequest(const Invocation& invocation);

// pki issuers: --parent (required), --page-size, --page-token.
absl::StatusOr<v1::ListIssuersRequest> BuildListIssuersRequest(const Invocation& invocation);

// pki prepare-issuer: --parent (required), --kind (root, infrastructure,
// tenant; the server's default when not given), --key-type (p256, p384),
// --validity, --request-id.
absl::StatusOr<v1::PrepareIssuerRequest> BuildPrepareIssuerRequest(
    const Invocation& invocation, absl::string_view generated_request_id);

// pki activate-issuer NAME / pki retire-issuer NAME: --etag, --request-id.
absl::StatusOr<v1::ActivateIssuerRequest> BuildActivateIssuerRequest(
    const Invocation& invocation, absl::string_view generated_request_id);
absl::StatusOr<v1::RetireIssuerRequest> BuildRetireIssuerRequest(
    const Invocation& invocation, absl::string_view generated_request_id);

// pki policy get TENANT.
absl::StatusOr<v1::GetIssuancePolicyRequest> BuildGetIssuancePolicyRequest(
    const Invocation& invocation);

// pki policy update TENANT: update_mask names exactly the fields whose flags
// were given, in the proto's order: --allow-dns -> allowed_dns_names,
// --allow-uri -> allowed_uris, --allow-ip -> allowed_ip_ranges (each
// repeatable; a single empty value clears the list), --key-types ->
// allowed_key_types (p256, p384, ed25519, rsa; repeatable or
// comma-separated), --min-rsa-bits -> min_rsa_bits, --max-ttl -> max_ttl,
// --default-ttl -> default_ttl. policy.etag is --etag when given (the caller
// fills it in otherwise). INVALID_ARGUMENT when no field flag was given.
absl::StatusOr<v1::UpdateIssuancePolicyRequest> BuildUpdateIssuancePolicyRequest(
    const Invocation& invocation, absl::string_view generated_request_id);

// --- Names for people ------------------------------------------------------

// "key-compromise" for REVOCATION_REASON_KEY_COMPROMISE, and so on.
std::string RevocationReasonName(v1::RevocationReason reason);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_PKI_REQUESTS_H_
