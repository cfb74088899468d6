#include "cli/pki_commands.h"

#include <optional>
#include <ostream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include <openssl/crypto.h>

#include "cli/client_certificate.h"
#include "cli/output.h"
#include "cli/paged_list.h"
#include "cli/pki_requests.h"
#include "cli/rpc_error.h"
#include "cli/staged_file.h"
#include "common/secrets.h"
#include "pki/asn1_time.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "pki/openssl_ptr.h"
#include "pki/secret_bytes.h"

namespace mandant::cli {
namespace {

// --- Command line ----------------------------------------------------------

FlagSpec Repeatable(FlagSpec flag) {
  flag.repeatable = true;
  return flag;
}

const FlagSpec kParentFlag{"parent", '\0', "SCOPE",
                           "tenants/ID for a tenant's certificates, or infrastructure"};
const FlagSpec kRequestIdFlag{"request-id", '\0', "UUID",
                              "idempotency key; reuse the one a failed call printed"};
const FlagSpec kPageSizeFlag{"page-size", '\0', "N",
                             "entries per page, 1-1000 (server default 50)"};
const FlagSpec kPageTokenFlag{"page-token", '\0', "TOKEN", "continue from a previous page"};
const FlagSpec kAllFlag{"all", '\0', "", "fetch every page"};

std::vector<CommandSpec> BuildSpecs() {
  const FlagSpec etag_cert{"etag", '\0', "ETAG",
                           "revoke only if the certificate still has this etag (from 'pki get')"};
  const FlagSpec etag_issuer{"etag", '\0', "ETAG",
                             "change only if the issuer still has this etag (from 'pki issuers "
                             "-o json')"};
  std::vector<CommandSpec> specs;
  specs.push_back(
      {{"pki", "issue"},
       {},
       "Generate a key locally and get a certificate for it",
       "The private key is generated here and written to --out-key with mode 0600; only a CSR\n"
       "is sent. Existing files are not replaced unless --force is given. If the outcome of\n"
       "the call is unknown (timeout, lost connection), the new key is kept and the request id\n"
       "printed: run the same command with --request-id ID --reuse-key to get the certificate\n"
       "of the first attempt instead of a second one.",
       {kParentFlag,
        Repeatable({"dns", '\0', "NAME", "DNS name (SAN); no wildcards"}),
        Repeatable({"uri", '\0', "URI", "URI SAN, e.g. spiffe://acme.example.net/ns/prod/sa/api"}),
        Repeatable({"ip", '\0', "ADDRESS", "IP address SAN"}),
        Repeatable({"usage", '\0', "USAGE",
                    "server or client, repeatable or comma-separated (default server)"}),
        {"ttl", '\0', "DURATION", "lifetime, e.g. 24h or 30d (default: the policy's default_ttl)"},
        {"key-type", '\0', "TYPE", "p256 (default), p384, ed25519, rsa2048, rsa3072 or rsa4096"},
        {"common-name", '\0', "CN",
         "subject CN of the CSR (default: the first DNS name); names the principal in "
         "infrastructure"},
        {"out-cert", '\0', "FILE", "where to write the certificate (PEM); required"},
        {"out-key", '\0', "FILE", "where to write the private key (PEM, mode 0600); required"},
        {"out-chain", '\0', "FILE", "where to write the issuing CA certificate (PEM)"},
        {"force", '\0', "", "replace existing output files"},
        {"reuse-key", '\0', "",
         "use the key already in --out-key instead of generating one (renewal, or a retry)"},
        kRequestIdFlag}});
  specs.push_back(
      {{"pki", "list"},
       {},
       "List the certificates of a scope, soonest expiry first",
       "Without --all, one page is shown; the token for the next page is printed to stderr.",
       {kParentFlag,
        {"issuer", '\0', "ISSUER", "only certificates of this issuer (name or id)"},
        {"expire-before", '\0', "TIME",
         "only certificates expiring before this time (2025-03-01, RFC 3339) or within this "
         "duration (30d)"},
        {"include-expired", '\0', "", "include expired certificates"},
        kPageSizeFlag,
        kPageTokenFlag,
        kAllFlag}});
  specs.push_back({{"pki", "get"},
                   {"NAME"},
                   "Show one certificate",
                   "NAME is SCOPE/certificates/SERIAL, e.g. tenants/acme/certificates/7f3a9c.",
                   {}});
  specs.push_back({{"pki", "revoke"},
                   {"NAME"},
                   "Revoke a certificate; its issuer's CRL is re-signed at once",
                   "Revocation is final.",
                   {{"reason", '\0', "REASON",
                     "unspecified (default), key-compromise, ca-compromise, affiliation-changed, "
                     "superseded, cessation-of-operation, privilege-withdrawn, aa-compromise"},
                    etag_cert,
                    kRequestIdFlag}});
  specs.push_back({{"pki", "crl"},
                   {"ISSUER_NAME"},
                   "Fetch the current CRL of an issuer",
                   "Without --out the CRL goes to stdout (with -o json/yaml: the Crl object).",
                   {{"format", '\0', "FORMAT", "pem (default) or der"},
                    {"out", '\0', "FILE", "write the CRL to this file (replaced if it exists)"}}});
  specs.push_back(
      {{"pki", "bundle"},
       {"SCOPE"},
       "Fetch the CA certificates to trust in a scope",
       "SCOPE is tenants/ID or infrastructure. Without --out the PEM bundle goes to stdout\n"
       "(with -o json/yaml: the TrustBundle object).",
       {{"out", '\0', "FILE", "write the bundle to this file (replaced if it exists)"}}});
  specs.push_back({{"pki", "issuers"},
                   {},
                   "List the issuing CAs of a scope, newest first",
                   "",
                   {kParentFlag, kPageSizeFlag, kPageTokenFlag, kAllFlag}});
  specs.push_back(
      {{"pki", "prepare-issuer"},
       {},
       "Create a new CA in state PREPARED (in the trust bundle, signing nothing yet)",
       "Give verifiers time to fetch the new trust bundle, then run 'pki activate-issuer'.",
       {kParentFlag,
        {"kind", '\0', "KIND",
         "root or infrastructure (in infrastructure; required there), tenant (the default in a "
         "tenant scope)"},
        {"key-type", '\0', "TYPE", "p256 (default) or p384"},
        {"validity", '\0', "DURATION",
         "lifetime, e.g. 365d (default: 10 years for roots, 1 year for intermediates)"},
        kRequestIdFlag}});
  specs.push_back({{"pki", "activate-issuer"},
                   {"NAME"},
                   "Make a PREPARED issuer sign; the previous ACTIVE one is retired",
                   "",
                   {etag_issuer, kRequestIdFlag}});
  specs.push_back({{"pki", "retire-issuer"},
                   {"NAME"},
                   "Stop an issuer from signing (discards a PREPARED one)",
                   "",
                   {etag_issuer, kRequestIdFlag}});
  specs.push_back({{"pki", "policy", "get"},
                   {"TENANT"},
                   "Show a tenant's issuance policy",
                   "TENANT is the tenant id (acme) or name (tenants/acme).",
                   {}});
  specs.push_back(
      {{"pki", "policy", "update"},
       {"TENANT"},
       "Change a tenant's issuance policy",
       "Only the fields given as flags are changed. A list flag replaces the whole list;\n"
       "give it once with \"\" to empty it. Without --etag the policy is read first and its\n"
       "etag sent along, so a change made by someone else in between is detected (ABORTED).",
       {Repeatable({"allow-dns", '\0', "PATTERN",
                    "allowed DNS names: a name or *.domain, inside the tenant's DNS zone"}),
        Repeatable({"allow-uri", '\0', "PATTERN",
                    "allowed URIs: a URI or a prefix ending in /*, in the tenant's trust domain"}),
        Repeatable({"allow-ip", '\0', "CIDR", "ranges IP SANs must lie in"}),
        Repeatable({"key-types", '\0', "TYPES",
                    "allowed key types: p256, p384, ed25519, rsa; repeatable or comma-separated"}),
        {"min-rsa-bits", '\0', "N", "smallest RSA key accepted, 2048-8192"},
        {"max-ttl", '\0', "DURATION", "longest lifetime, e.g. 90d"},
        {"default-ttl", '\0', "DURATION", "lifetime when a request gives none, e.g. 24h"},
        {"etag", '\0', "ETAG", "apply only if the policy still has this etag"},
        kRequestIdFlag}});
  specs.push_back(
      {{"login"},
       {},
       "Exchange the token for a short-lived client certificate used by later commands",
       "Generates a key here and asks for a client certificate naming the same principal as\n"
       "the token. The key (mode 0600) and the certificate are stored next to the config file\n"
       "and recorded in it as client_key and client_cert; from then on commands authenticate\n"
       "with the certificate (mTLS) and send no token. Run it again when the certificate\n"
       "expires; login itself uses the token when one is configured.",
       {{"ttl", '\0', "DURATION", "lifetime, 5m to 30d (server default 12h)"},
        {"key-type", '\0', "TYPE", "p256 (default), p384, ed25519, rsa2048, rsa3072 or rsa4096"}}});
  return specs;
}

// --- Helpers ---------------------------------------------------------------

std::string WithNewline(absl::string_view pem) {
  std::string out(pem);
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  return out;
}

std::string FormatTime(const google::protobuf::Timestamp& ts) {
  return pki::FormatCertTime(absl::FromUnixSeconds(ts.seconds()));
}

// The key a command generated or read, with its PEM form for the key file.
struct LocalKey {
  pki::EvpPkeyPtr key;
  // Empty for a reused key, which is already in its file.
  pki::SecretBytes pem;
};

absl::StatusOr<LocalKey> GenerateLocalKey(const KeyChoice& choice) {
  absl::StatusOr<pki::EvpPkeyPtr> key =
      pki::GenerateKey(choice.type, choice.type == pki::KeyType::kRsa ? choice.rsa_bits : 2048);
  if (!key.ok()) {
    return absl::Status(key.status().code(), absl::StrCat("generating the private key failed: ",
                                                          key.status().message()));
  }
  absl::StatusOr<pki::SecretBytes> pem = pki::PrivateKeyToPem(key->get());
  if (!pem.ok()) return pem.status();
  return LocalKey{*std::move(key), *std::move(pem)};
}

// The key in `path` for --reuse-key: a private file (mode 0600) holding a
// key of a type the PKI accepts.
absl::StatusOr<LocalKey> ReadLocalKey(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadSecretFile(path);
  if (!pem.ok()) {
    return absl::Status(pem.status().code(), absl::StrCat("--reuse-key: ", pem.status().message()));
  }
  pki::SecretBytes secret(*pem);
  OPENSSL_cleanse(pem->data(), pem->size());
  absl::StatusOr<pki::EvpPkeyPtr> key = pki::ParsePrivateKey(secret.view());
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--reuse-key: \"", path, "\": ", key.status().message()));
  }
  if (absl::StatusOr<pki::KeyInfo> info = pki::ClassifyKey(key->get()); !info.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--reuse-key: \"", path, "\": ", info.status().message()));
  }
  return LocalKey{*std::move(key), pki::SecretBytes()};
}

absl::StatusOr<std::string> CsrPem(EVP_PKEY* key, absl::string_view common_name,
                                   const pki::SubjectAltNames& names) {
  absl::StatusOr<pki::X509ReqPtr> csr = pki::BuildCsr(key, common_name, names);
  if (!csr.ok()) {
    return absl::Status(csr.status().code(),
                        absl::StrCat("building the CSR failed: ", csr.status().message()));
  }
  return pki::CsrToPem(csr->get());
}

// OK when `certificate_pem` is a certificate for `key`; INVALID_ARGUMENT
// when it is for another key, INTERNAL when it does not parse.
absl::Status CheckIssuedForKey(absl::string_view certificate_pem, EVP_PKEY* key) {
  absl::StatusOr<pki::X509Ptr> cert = pki::ParseCertificate(certificate_pem);
  if (!cert.ok()) {
    return absl::InternalError(absl::StrCat(
        "the server returned a certificate that does not parse: ", cert.status().message()));
  }
  return CheckKeyMatchesCertificate(cert->get(), key);
}

// --- Commands --------------------------------------------------------------

class PkiCommands {
 public:
  explicit PkiCommands(CommandContext& ctx)
      : ctx_(ctx), inv_(ctx.invocation()), out_(ctx.out()), err_(ctx.err()) {}

  int Run() {
    const std::string command = absl::StrJoin(inv_.command->path, " ");
    if (command == "pki issue") return Issue();
    if (command == "pki list") return ListCertificates();
    if (command == "pki get") return GetCertificate();
    if (command == "pki revoke") return Revoke();
    if (command == "pki crl") return Crl();
    if (command == "pki bundle") return Bundle();
    if (command == "pki issuers") return ListIssuers();
    if (command == "pki prepare-issuer") return PrepareIssuer();
    if (command == "pki activate-issuer") return ActivateIssuer();
    if (command == "pki retire-issuer") return RetireIssuer();
    if (command == "pki policy get") return GetPolicy();
    if (command == "pki policy update") return UpdatePolicy();
    if (command == "login") return Login();
    // The parser accepts only commands listed above.
    err_ << "error: unknown command '" << command << "'\n";
    return kExitUsage;
  }

 private:
  bool Table() const { return ctx_.settings().output == OutputFormat::kTable; }

  // An error about a local file or key after the server did its part.
  int LocalError(const absl::Status& status) {
    err_ << "error: " << status.message() << "\n";
    return kExitServerError;
  }

  int PrintCertificate(const v1::Certificate& c) {
    return ctx_.Print(c, [&] { return RenderCertificateDetail(c); });
  }
  int PrintIssuer(const v1::Issuer& i) {
    return ctx_.Print(i, [&] { return RenderIssuerDetail(i); });
  }
  int PrintPolicy(const v1::IssuancePolicy& p) {
    return ctx_.Print(p, [&] { return RenderIssuancePolicyDetail(p); });
  }

  int Issue() {
    absl::StatusOr<IssueArguments> args = BuildIssueArguments(inv_, ctx_.NewRequestId());
    if (!args.ok()) return ctx_.UsageError(args.status());
    // Check the files before a key is generated or anything is sent.
    if (!args->reuse_key) {
      if (absl::Status s = CheckCanWrite(args->out_key, args->force, "--out-key"); !s.ok()) {
        return ctx_.UsageError(s);
      }
    }
    if (absl::Status s = CheckCanWrite(args->out_cert, args->force, "--out-cert"); !s.ok()) {
      return ctx_.UsageError(s);
    }
    if (!args->out_chain.empty()) {
      if (absl::Status s = CheckCanWrite(args->out_chain, args->force, "--out-chain"); !s.ok()) {
        return ctx_.UsageError(s);
      }
    }
    // The credential is checked before a key is made (RSA 4096 takes a while).
    int code = kExitOk;
    std::unique_ptr<CertificateClient> client = ctx_.ConnectCertificates(&code);
    if (client == nullptr) return code;
    absl::StatusOr<LocalKey> key =
        args->reuse_key ? ReadLocalKey(args->out_key) : GenerateLocalKey(args->key);
    if (!key.ok()) return ctx_.UsageError(key.status());
    absl::StatusOr<std::string> csr = CsrPem(key->key.get(), args->common_name, args->names);
    if (!csr.ok()) return ctx_.UsageError(csr.status());

    // The new key goes to disk before the call: if the answer is lost, the
    // key of a certificate the server may have issued is not lost with it.
    std::optional<StagedFile> key_file;
    if (!args->reuse_key) {
      absl::StatusOr<StagedFile> staged = StagedFile::Write(args->out_key, key->pem.view(), 0600);
      if (!staged.ok()) return ctx_.UsageError(staged.status());
      key_file = *std::move(staged);
    }

    v1::IssueCertificateRequest& request = args->request;
    request.set_csr(*csr);
    v1::IssueCertificateResponse response;
    grpc::Status status = client->IssueCertificate(request, &response);
    if (!status.ok()) {
      code = ctx_.RpcError(status);
      if (!OutcomeUnknown(status)) return code;
      if (args->reuse_key) {
        ctx_.PrintRetryHint(request.request_id());
      } else if (key_file->Commit(args->force).ok()) {
        err_ << "note: the server may have issued the certificate; its new private key is kept "
                "in "
             << args->out_key << "\n";
        ctx_.PrintRetryHint(request.request_id(), "--reuse-key");
      }
      return code;
    }

    const std::string cert_pem =
        WithNewline(!response.certificate_pem().empty() ? response.certificate_pem()
                                                        : response.certificate().certificate_pem());
    if (absl::Status s = CheckIssuedForKey(cert_pem, key->key.get()); absl::IsInternal(s)) {
      return LocalError(s);
    } else if (!s.ok()) {
      err_ << "error: " << s.message() << ": the server returned certificate "
           << SanitizeForTerminal(response.certificate().name()) << " for a different key";
      if (inv_.Has("request-id")) {
        err_ << "; request id " << request.request_id()
             << " was first used with another key: run the command with that key "
                "(--reuse-key), or without --request-id";
      }
      err_ << "\n";
      return kExitServerError;
    }

    absl::StatusOr<StagedFile> cert_file = StagedFile::Write(args->out_cert, cert_pem, 0644);
    if (!cert_file.ok()) return IssuedButNotSaved(response, cert_file.status());
    std::optional<StagedFile> chain_file;
    if (!args->out_chain.empty()) {
      absl::StatusOr<StagedFile> staged =
          StagedFile::Write(args->out_chain, WithNewline(response.chain_pem()), 0644);
      if (!staged.ok()) return IssuedButNotSaved(response, staged.status());
      chain_file = *std::move(staged);
    }
    if (key_file.has_value()) {
      if (absl::Status s = key_file->Commit(args->force); !s.ok()) {
        return IssuedButNotSaved(response, s);
      }
    }
    if (absl::Status s = cert_file->Commit(args->force); !s.ok()) {
      return IssuedButNotSaved(response, s);
    }
    if (chain_file.has_value()) {
      if (absl::Status s = chain_file->Commit(args->force); !s.ok()) {
        return IssuedButNotSaved(response, s);
      }
    }
    err_ << "wrote certificate " << args->out_cert;
    if (!args->out_chain.empty()) err_ << ", chain " << args->out_chain;
    if (!args->reuse_key) err_ << ", private key " << args->out_key << " (mode 0600)";
    err_ << "\n";
    return PrintCertificate(response.certificate());
  }

  int IssuedButNotSaved(const v1::IssueCertificateResponse& response, const absl::Status& why) {
    err_ << "error: certificate " << SanitizeForTerminal(response.certificate().name())
         << " was issued but cannot be saved: " << why.message()
         << "\nhint: revoke it with 'mandantctl pki revoke "
         << SanitizeForTerminal(response.certificate().name())
         << " --reason superseded' and run the command again\n";
    return kExitServerError;
  }

  int Login() {
    absl::StatusOr<LoginArguments> args = BuildLoginArguments(inv_);
    if (!args.ok()) return ctx_.UsageError(args.status());
    const ClientSettings& settings = ctx_.settings();
    if (settings.config_path.empty()) {
      return ctx_.UsageError(absl::FailedPreconditionError(
          "login stores the certificate next to the config file, but there is none: pass "
          "--config PATH, or set HOME or XDG_CONFIG_HOME"));
    }
    const bool has_token = !settings.TokenSource().empty();
    if (!has_token && !settings.HasClientCertificate()) {
      err_ << "error: login needs a credential to exchange for a certificate: name a token file "
              "with --token-file, MANDANT_TOKEN_FILE or token_file in the config file, or set "
              "MANDANT_TOKEN\n";
      return kExitUnreachable;
    }
    if (!has_token) {
      // Without a token the current certificate is the only credential; if
      // it cannot be used, "run mandantctl login" would send the user in a
      // circle.
      if (absl::StatusOr<ClientCertificate> current = LoadClientCertificate(settings, ctx_.Now());
          !current.ok()) {
        err_ << "error: login needs a credential to exchange, but no token is configured and "
                "the client certificate cannot be used: "
             << current.status().message()
             << "\nhint: name a token file with --token-file, MANDANT_TOKEN_FILE or token_file "
                "in the config file, or set MANDANT_TOKEN, and run 'mandantctl login' again\n";
        return kExitUnreachable;
      }
      err_ << "note: no token is configured; logging in with the current client certificate, "
              "and the new one cannot outlive it\n";
    }
    int code = kExitOk;
    std::unique_ptr<CertificateClient> client =
        ctx_.ConnectCertificates(&code, CredentialChoice::kPreferToken);
    if (client == nullptr) return code;
    absl::StatusOr<LocalKey> key = GenerateLocalKey(args->key);
    if (!key.ok()) return ctx_.UsageError(key.status());
    absl::StatusOr<std::string> csr = CsrPem(key->key.get(), "", pki::SubjectAltNames());
    if (!csr.ok()) return ctx_.UsageError(csr.status());

    v1::IssueClientCertificateRequest& request = args->request;
    request.set_csr(*csr);
    v1::IssueCertificateResponse response;
    grpc::Status status = client->IssueClientCertificate(request, &response);
    if (!status.ok()) return ctx_.RpcError(status);

    const std::string cert_pem =
        WithNewline(!response.certificate_pem().empty() ? response.certificate_pem()
                                                        : response.certificate().certificate_pem());
    if (absl::Status s = CheckIssuedForKey(cert_pem, key->key.get()); absl::IsInternal(s)) {
      return LocalError(s);
    } else if (!s.ok()) {
      return LocalError(absl::InternalError(
          absl::StrCat(s.message(), ": the server returned a certificate for a different key")));
    }
    absl::StatusOr<StoredClientCertificate> stored = StoreClientCertificate(
        settings.config_path, ctx_.options().env, key->pem.view(), cert_pem, response.chain_pem());
    if (!stored.ok()) {
      return LocalError(absl::Status(
          stored.status().code(),
          absl::StrCat("the client certificate cannot be stored: ", stored.status().message())));
    }
    if (settings.HasClientCertificate() &&
        !absl::StartsWith(settings.client_cert.source, "config file")) {
      err_ << "note: " << settings.client_cert.source
           << " names another client certificate and still takes precedence over the stored "
              "one\n";
    }
    const v1::Certificate& c = response.certificate();
    if (!Table()) return ctx_.PrintMessage(c);
    const std::string identity = !c.uris().empty() ? c.uris(0) : c.subject();
    out_ << "Logged in as " << SanitizeForTerminal(identity) << " until "
         << FormatTime(c.not_after()) << ".\n"
         << "Client certificate: " << stored->cert_path << "\n"
         << "Client key:         " << stored->key_path << " (mode 0600)\n"
         << "Recorded in " << settings.config_path
         << "; later commands authenticate with this certificate and send no token.\n";
    return kExitOk;
  }

  int GetCertificate() {
    absl::StatusOr<v1::GetCertificateRequest> request = BuildGetCertificateRequest(inv_);
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<CertificateClient> client = ctx_.ConnectCertificates(&code);
    if (client == nullptr) return code;
    v1::Certificate certificate;
    grpc::Status status = client->GetCertificate(*request, &certificate);
    if (!status.ok()) return ctx_.RpcError(status);
    return PrintCertificate(certificate);
  }

  int ListCertificates() {
    return ListAll(
        BuildListCertificatesRequest(inv_, ctx_.Now()), &CertificateClient::ListCertificates,
        [](v1::ListCertificatesResponse* r) { return r->mutable_certificates(); },
        &RenderCertificateTable, "certificates");
  }

  int ListIssuers() {
    return ListAll(
        BuildListIssuersRequest(inv_), &CertificateClient::ListIssuers,
        [](v1::ListIssuersResponse* r) { return r->mutable_issuers(); }, &RenderIssuerTable,
        "issuers");
  }

  // A list command: the request from the flags, then ListPages.
  template <typename Request, typename Response, typename Items, typename Render>
  int ListAll(absl::StatusOr<Request> request,
              grpc::Status (CertificateClient::*method)(const Request&, Response*), Items items,
              Render render, absl::string_view what) {
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<CertificateClient> client = ctx_.ConnectCertificates(&code);
    if (client == nullptr) return code;
    return ListPages<Response>(
        ctx_, *request, [&](const Request& r, Response* p) { return ((*client).*method)(r, p); },
        items, render, what);
  }

  int Revoke() {
    absl::StatusOr<v1::RevokeCertificateRequest> request =
        BuildRevokeCertificateRequest(inv_, ctx_.NewRequestId());
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<CertificateClient> client = ctx_.ConnectCertificates(&code);
    if (client == nullptr) return code;
    v1::Certificate certificate;
    grpc::Status status = client->RevokeCertificate(*request, &certificate);
    if (!status.ok()) {
      code = ctx_.RpcError(status);
      ctx_.PrintEtagHint(status, "certificate",
                         absl::StrCat("mandantctl pki get ", request->name()));
      if (OutcomeUnknown(status)) ctx_.PrintRetryHint(request->request_id());
      return code;
    }
    return PrintCertificate(certificate);
  }

  // Writes `data` to --out (replacing the file) and says so on stdout.
  int WriteOut(absl::string_view data, absl::string_view what) {
    const std::string path = inv_.Get("out");
    if (absl::Status s = WriteFileAtomically(path, data, 0644, /*replace=*/true); !s.ok()) {
      return LocalError(s);
    }
    out_ << "wrote " << what << " to " << path << "\n";
    return kExitOk;
  }

  int Crl() {
    absl::StatusOr<v1::GetCrlRequest> request = BuildGetCrlRequest(inv_);
    if (!request.ok()) return ctx_.UsageError(request.status());
    const std::string format = absl::AsciiStrToLower(inv_.Get("format", "pem"));
    if (format != "pem" && format != "der") {
      return ctx_.UsageError(absl::InvalidArgumentError(
          absl::StrCat("--format \"", inv_.Get("format"), "\" is not one of pem, der")));
    }
    if (inv_.Has("out")) {
      if (absl::Status s = CheckCanWrite(inv_.Get("out"), /*replace=*/true, "--out"); !s.ok()) {
        return ctx_.UsageError(s);
      }
    }
    int code = kExitOk;
    std::unique_ptr<CertificateClient> client = ctx_.ConnectCertificates(&code);
    if (client == nullptr) return code;
    v1::Crl crl;
    grpc::Status status = client->GetCrl(*request, &crl);
    if (!status.ok()) return ctx_.RpcError(status);
    if (!inv_.Has("out") && !Table()) return ctx_.PrintMessage(crl);

    absl::StatusOr<std::string> data = CrlIn(crl, format);
    if (!data.ok()) return LocalError(data.status());
    if (!inv_.Has("out")) {
      out_ << *data;
      return kExitOk;
    }
    return WriteOut(*data, absl::StrCat("CRL number ", crl.crl_number(), " of ",
                                        SanitizeForTerminal(crl.name()), " (next update ",
                                        FormatTime(crl.next_update()), ")"));
  }

  // The CRL in `format`, converted from the other form if the server left
  // this one out.
  static absl::StatusOr<std::string> CrlIn(const v1::Crl& crl, absl::string_view format) {
    if (format == "pem" && !crl.crl_pem().empty()) return WithNewline(crl.crl_pem());
    if (format == "der" && !crl.crl_der().empty()) return crl.crl_der();
    absl::string_view other = format == "pem" ? crl.crl_der() : crl.crl_pem();
    if (other.empty()) return absl::InternalError("the server returned an empty CRL");
    absl::StatusOr<pki::X509CrlPtr> parsed = pki::ParseCrl(other);
    if (!parsed.ok()) {
      return absl::InternalError(absl::StrCat("the server returned a CRL that does not parse: ",
                                              parsed.status().message()));
    }
    return format == "pem" ? pki::CrlToPem(parsed->get()) : pki::CrlToDer(parsed->get());
  }

  int Bundle() {
    absl::StatusOr<v1::GetTrustBundleRequest> request = BuildGetTrustBundleRequest(inv_);
    if (!request.ok()) return ctx_.UsageError(request.status());
    if (inv_.Has("out")) {
      if (absl::Status s = CheckCanWrite(inv_.Get("out"), /*replace=*/true, "--out"); !s.ok()) {
        return ctx_.UsageError(s);
      }
    }
    int code = kExitOk;
    std::unique_ptr<CertificateClient> client = ctx_.ConnectCertificates(&code);
    if (client == nullptr) return code;
    v1::TrustBundle bundle;
    grpc::Status status = client->GetTrustBundle(*request, &bundle);
    if (!status.ok()) return ctx_.RpcError(status);
    if (!inv_.Has("out")) {
      if (!Table()) return ctx_.PrintMessage(bundle);
      out_ << WithNewline(bundle.ca_certificates_pem());
      return kExitOk;
    }
    return WriteOut(
        WithNewline(bundle.ca_certificates_pem()),
        absl::StrCat("the trust bundle of ", SanitizeForTerminal(bundle.name()), " (",
                     bundle.issuers_size(), bundle.issuers_size() == 1 ? " issuer)" : " issuers)"));
  }

  int PrepareIssuer() {
    absl::StatusOr<v1::PrepareIssuerRequest> request =
        BuildPrepareIssuerRequest(inv_, ctx_.NewRequestId());
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<CertificateClient> client = ctx_.ConnectCertificates(&code);
    if (client == nullptr) return code;
    v1::Issuer issuer;
    grpc::Status status = client->PrepareIssuer(*request, &issuer);
    if (!status.ok()) {
      code = ctx_.RpcError(status);
      ctx_.PrintRetryHint(request->request_id());
      return code;
    }
    err_ << "note: the new issuer is PREPARED: it is in the trust bundle but signs nothing yet. "
            "Once verifiers have fetched the new bundle, run 'mandantctl pki activate-issuer "
         << SanitizeForTerminal(issuer.name()) << "'\n";
    return PrintIssuer(issuer);
  }

  int ActivateIssuer() {
    return ChangeIssuerState(BuildActivateIssuerRequest(inv_, ctx_.NewRequestId()),
                             &CertificateClient::ActivateIssuer);
  }

  int RetireIssuer() {
    return ChangeIssuerState(BuildRetireIssuerRequest(inv_, ctx_.NewRequestId()),
                             &CertificateClient::RetireIssuer);
  }

  // activate-issuer and retire-issuer: one conditional state change.
  template <typename Request>
  int ChangeIssuerState(absl::StatusOr<Request> request,
                        grpc::Status (CertificateClient::*method)(const Request&, v1::Issuer*)) {
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<CertificateClient> client = ctx_.ConnectCertificates(&code);
    if (client == nullptr) return code;
    v1::Issuer issuer;
    grpc::Status status = ((*client).*method)(*request, &issuer);
    if (!status.ok()) {
      code = ctx_.RpcError(status);
      ctx_.PrintEtagHint(status, "issuer", "mandantctl pki issuers --parent SCOPE -o json");
      if (OutcomeUnknown(status)) ctx_.PrintRetryHint(request->request_id());
      return code;
    }
    return PrintIssuer(issuer);
  }

  int GetPolicy() {
    absl::StatusOr<v1::GetIssuancePolicyRequest> request = BuildGetIssuancePolicyRequest(inv_);
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<CertificateClient> client = ctx_.ConnectCertificates(&code);
    if (client == nullptr) return code;
    v1::IssuancePolicy policy;
    grpc::Status status = client->GetIssuancePolicy(*request, &policy);
    if (!status.ok()) return ctx_.RpcError(status);
    return PrintPolicy(policy);
  }

  int UpdatePolicy() {
    absl::StatusOr<v1::UpdateIssuancePolicyRequest> request =
        BuildUpdateIssuancePolicyRequest(inv_, ctx_.NewRequestId());
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<CertificateClient> client = ctx_.ConnectCertificates(&code);
    if (client == nullptr) return code;
    const std::string tenant = TenantIdFromName(
        absl::string_view(request->policy().name()).substr(0, request->policy().name().rfind('/')));
    if (!inv_.Has("etag")) {
      // Conditional on the version just read, as for tenant update.
      v1::GetIssuancePolicyRequest get;
      get.set_name(request->policy().name());
      v1::IssuancePolicy current;
      grpc::Status status = client->GetIssuancePolicy(get, &current);
      if (!status.ok()) return ctx_.RpcError(status);
      request->mutable_policy()->set_etag(current.etag());
    }
    v1::IssuancePolicy policy;
    grpc::Status status = client->UpdateIssuancePolicy(*request, &policy);
    if (!status.ok()) {
      code = ctx_.RpcError(status);
      ctx_.PrintEtagHint(status, "policy", absl::StrCat("mandantctl pki policy get ", tenant));
      if (OutcomeUnknown(status)) ctx_.PrintRetryHint(request->request_id());
      return code;
    }
    return PrintPolicy(policy);
  }

  CommandContext& ctx_;
  const Invocation& inv_;
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace

std::vector<CommandSpec> PkiCommandSpecs() { return BuildSpecs(); }

bool IsPkiCommand(const std::vector<std::string>& path) {
  return !path.empty() && (path[0] == "pki" || path[0] == "login");
}

int RunPkiCommand(CommandContext& ctx) { return PkiCommands(ctx).Run(); }

}  // namespace mandant::cli
