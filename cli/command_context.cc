#include "cli/command_context.h"

#include <ostream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "cli/client_certificate.h"
#include "cli/output.h"
#include "common/files.h"
#include "common/secrets.h"

namespace mandant::cli {
namespace {

// How mandantd's HostService begins every bootstrap token.
constexpr absl::string_view kBootstrapTokenPrefix = "mandant-bootstrap-";

}  // namespace

CommandContext::CommandContext(const RunOptions& options, const Invocation& invocation,
                               ClientSettings settings)
    : options_(options),
      invocation_(invocation),
      settings_(std::move(settings)),
      out_(*options.out),
      err_(*options.err) {
  rpc_context_.server = settings_.server.value;
}

int CommandContext::UsageError(const absl::Status& status) {
  err_ << "error: " << status.message() << "\n";
  return kExitUsage;
}

int CommandContext::RpcError(const grpc::Status& status) {
  err_ << RenderRpcError(status, rpc_context_);
  return ExitCodeForRpcStatus(status);
}

void CommandContext::PrintRetryHint(absl::string_view request_id, absl::string_view extra_flags) {
  err_ << "request id: " << request_id
       << " (to retry safely, run the same command with --request-id " << request_id
       << (extra_flags.empty() ? "" : " ") << extra_flags << ")\n";
}

void CommandContext::PrintEtagHint(const grpc::Status& status, absl::string_view what,
                                   absl::string_view look) {
  if (status.error_code() != grpc::StatusCode::ABORTED) return;
  err_ << "hint: the " << what << " changed since its etag was read; look at it with '" << look
       << "' and run the command again\n";
}

std::optional<ConnectionOptions> CommandContext::ResolveConnection(CredentialChoice choice,
                                                                   int* exit_code) {
  if (settings_.server.value.empty()) {
    err_ << "error: no server given: pass --server HOST:PORT, set MANDANT_SERVER, or store "
            "one with 'mandantctl config set-context --server HOST:PORT'\n";
    *exit_code = kExitUsage;
    return std::nullopt;
  }
  ConnectionOptions options;
  options.server = settings_.server.value;
  options.timeout = settings_.timeout;
  if (!settings_.ca_file.value.empty()) {
    absl::StatusOr<std::string> pem = ReadFile(settings_.ca_file.value);
    if (!pem.ok()) {
      err_ << "error: CA file (from " << settings_.ca_file.source << "): " << pem.status().message()
           << "\n";
      *exit_code = kExitUnreachable;
      return std::nullopt;
    }
    if (!absl::StrContains(*pem, "-----BEGIN CERTIFICATE-----")) {
      err_ << "error: CA file \"" << settings_.ca_file.value << "\" (from "
           << settings_.ca_file.source << ") holds no PEM certificate\n";
      *exit_code = kExitUnreachable;
      return std::nullopt;
    }
    options.ca_pem = *std::move(pem);
  }

  const bool has_token = !settings_.TokenSource().empty();
  const bool use_certificate = settings_.HasClientCertificate() &&
                               (choice == CredentialChoice::kPreferCertificate || !has_token);
  if (use_certificate) {
    absl::StatusOr<ClientCertificate> cert = LoadClientCertificate(settings_, Now());
    if (!cert.ok()) {
      err_ << "error: " << cert.status().message() << "\n";
      *exit_code = kExitUnreachable;
      return std::nullopt;
    }
    err_ << ClientCertificateExpiryWarning(*cert, settings_, Now());
    options.client_cert_pem = std::move(cert->cert_pem);
    options.client_key_pem = std::move(cert->key_pem);
    rpc_context_.client_cert_source = settings_.ClientCertificateSource();
    rpc_context_.token_source.clear();
    return options;
  }
  absl::StatusOr<std::string> token = LoadToken(settings_);
  if (!token.ok()) {
    err_ << "error: " << token.status().message() << "\n";
    *exit_code = kExitUnreachable;
    return std::nullopt;
  }
  if (absl::StartsWith(*token, kBootstrapTokenPrefix)) {
    // A host's bootstrap token (the prefix mandantd gives them) is no
    // credential for mandantctl; most likely --token-file was meant as the
    // place to write one to. It is not sent anywhere.
    err_ << "error: " << settings_.TokenSource()
         << " holds a host bootstrap token, not a bearer token for mandantctl; name your own "
            "token there (to write a bootstrap token to a file, use --out-token FILE)\n";
    *exit_code = kExitUnreachable;
    return std::nullopt;
  }
  options.token = *std::move(token);
  rpc_context_.token_source = settings_.TokenSource();
  rpc_context_.client_cert_source.clear();
  return options;
}

template <typename Client, typename Factory>
std::unique_ptr<Client> CommandContext::Connect(const Factory& factory, CredentialChoice choice,
                                                int* exit_code) {
  std::optional<ConnectionOptions> connection = ResolveConnection(choice, exit_code);
  if (!connection.has_value()) return nullptr;
  absl::StatusOr<std::unique_ptr<Client>> client = factory(*connection);
  if (!client.ok()) {
    err_ << "error: cannot set up a connection to " << settings_.server.value << ": "
         << client.status().message() << "\n";
    *exit_code = kExitUnreachable;
    return nullptr;
  }
  return *std::move(client);
}

std::unique_ptr<TenantClient> CommandContext::ConnectTenants(int* exit_code) {
  return Connect<TenantClient>(options_.new_client, CredentialChoice::kPreferCertificate,
                               exit_code);
}

std::unique_ptr<CertificateClient> CommandContext::ConnectCertificates(int* exit_code,
                                                                       CredentialChoice choice) {
  return Connect<CertificateClient>(options_.new_certificate_client, choice, exit_code);
}

std::unique_ptr<HostClient> CommandContext::ConnectHosts(int* exit_code) {
  return Connect<HostClient>(options_.new_host_client, CredentialChoice::kPreferCertificate,
                             exit_code);
}

std::unique_ptr<EdgeClient> CommandContext::ConnectEdges(int* exit_code) {
  return Connect<EdgeClient>(options_.new_edge_client, CredentialChoice::kPreferCertificate,
                             exit_code);
}

int CommandContext::PrintMessage(const google::protobuf::Message& message) {
  absl::StatusOr<std::string> text = RenderMessage(message, settings_.output);
  if (!text.ok()) {
    err_ << "error: " << text.status().message() << "\n";
    return kExitServerError;
  }
  out_ << *text;
  return kExitOk;
}

int CommandContext::Print(const google::protobuf::Message& message,
                          absl::FunctionRef<std::string()> table) {
  if (settings_.output == OutputFormat::kTable) {
    out_ << table();
    return kExitOk;
  }
  return PrintMessage(message);
}

}  // namespace mandant::cli
