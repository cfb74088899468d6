#ifndef MANDANT_CLI_COMMAND_CONTEXT_H_
#define MANDANT_CLI_COMMAND_CONTEXT_H_

// What every mandantctl command works with: the parsed command line, the
// resolved settings, the output streams, and a way to connect to mandantd
// with the configured credential.

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/status.h"

#include "cli/certificate_client.h"
#include "cli/command_line.h"
#include "cli/connection.h"
#include "cli/edge_client.h"
#include "cli/grpc_certificate_client.h"
#include "cli/grpc_edge_client.h"
#include "cli/grpc_host_client.h"
#include "cli/grpc_tenant_client.h"
#include "cli/host_client.h"
#include "cli/rpc_error.h"
#include "cli/settings.h"
#include "cli/tenant_client.h"
#include "cli/tenant_requests.h"

namespace mandant::cli {

// Create the clients once the settings are known (server, CA PEM and the
// credential already read and checked).
using TenantClientFactory =
    std::function<absl::StatusOr<std::unique_ptr<TenantClient>>(const ConnectionOptions& options)>;
using CertificateClientFactory = std::function<absl::StatusOr<std::unique_ptr<CertificateClient>>(
    const ConnectionOptions& options)>;
using HostClientFactory =
    std::function<absl::StatusOr<std::unique_ptr<HostClient>>(const ConnectionOptions& options)>;
using EdgeClientFactory =
    std::function<absl::StatusOr<std::unique_ptr<EdgeClient>>(const ConnectionOptions& options)>;

struct RunOptions {
  Environment env;
  TenantClientFactory new_client = NewGrpcTenantClient;
  CertificateClientFactory new_certificate_client = NewGrpcCertificateClient;
  HostClientFactory new_host_client = NewGrpcHostClient;
  EdgeClientFactory new_edge_client = NewGrpcEdgeClient;
  // Request ids for calls that change something when --request-id is not
  // given.
  std::function<std::string()> new_request_id = NewRequestId;
  // The current time, for certificate expiry checks and relative times.
  std::function<absl::Time()> now = absl::Now;
  // Waits between the polls of `tenant egress-log --follow`; returns false
  // to stop following (the real one never does: Ctrl-C ends mandantctl).
  std::function<bool(absl::Duration)> wait = [](absl::Duration d) {
    absl::SleepFor(d);
    return true;
  };
  // Results go to `out`; errors, hints and notes to `err`. Not owned; must be
  // set.
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
};

// Which credential a command authenticates with when several are configured.
enum class CredentialChoice {
  // The client certificate when one is configured (then no token is sent),
  // else the bearer token. What every command but login uses.
  kPreferCertificate,
  // The bearer token when one is configured, else the client certificate:
  // `mandantctl login` replaces the certificate, and the server would not
  // issue one that outlives the certificate used to ask for it.
  kPreferToken,
};

// One command run. Not thread-safe; lives for one RunMandantctl call.
class CommandContext {
 public:
  // `options` and `invocation` must outlive the context.
  CommandContext(const RunOptions& options, const Invocation& invocation, ClientSettings settings);

  const RunOptions& options() const { return options_; }
  const Invocation& invocation() const { return invocation_; }
  const ClientSettings& settings() const { return settings_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  absl::Time Now() const { return options_.now(); }
  std::string NewRequestId() const { return options_.new_request_id(); }

  // Prints "error: <message>" and returns kExitUsage.
  int UsageError(const absl::Status& status);
  // Prints the rendered RPC error (cli/rpc_error.h) naming the credential
  // that was used, and returns its exit code.
  int RpcError(const grpc::Status& status);
  // After a failed call that carried `request_id`: how to retry it safely.
  // `extra_flags` are further flags the retry needs (e.g. "--reuse-key").
  void PrintRetryHint(absl::string_view request_id, absl::string_view extra_flags = "");
  // After ABORTED from a conditional change of a `what` ("certificate",
  // "host"): the object changed since its etag was read; `look` is the
  // command that shows it. Prints nothing for other codes.
  void PrintEtagHint(const grpc::Status& status, absl::string_view what, absl::string_view look);

  // Reads the CA file and the credential chosen by `choice` and checks them:
  // a client certificate must not have expired (a warning is printed when it
  // expires within the hour). On failure prints the error, sets *exit_code
  // (kExitUsage when no server is configured, kExitUnreachable when the CA
  // or the credential cannot be used) and returns nullopt.
  std::optional<ConnectionOptions> ResolveConnection(CredentialChoice choice, int* exit_code);

  // ResolveConnection, then the client from RunOptions. nullptr on failure,
  // with the error printed and *exit_code set.
  std::unique_ptr<TenantClient> ConnectTenants(int* exit_code);
  std::unique_ptr<CertificateClient> ConnectCertificates(
      int* exit_code, CredentialChoice choice = CredentialChoice::kPreferCertificate);
  std::unique_ptr<HostClient> ConnectHosts(int* exit_code);
  std::unique_ptr<EdgeClient> ConnectEdges(int* exit_code);

  // Prints `message` as JSON or YAML to out(); kExitServerError when it
  // cannot be rendered. Must not be called in table mode.
  int PrintMessage(const google::protobuf::Message& message);
  // In table mode prints `table()`, otherwise `message` as JSON or YAML.
  int Print(const google::protobuf::Message& message, absl::FunctionRef<std::string()> table);

 private:
  // ResolveConnection, then `factory`.
  template <typename Client, typename Factory>
  std::unique_ptr<Client> Connect(const Factory& factory, CredentialChoice choice, int* exit_code);

  const RunOptions& options_;
  const Invocation& invocation_;
  const ClientSettings settings_;
  std::ostream& out_;
  std::ostream& err_;
  // What error rendering may say about the connection; filled in by
  // ResolveConnection.
  RpcErrorContext rpc_context_;
};

}  // namespace mandant::cli

#endif  // MANDANT_CLI_COMMAND_CONTEXT_H_
