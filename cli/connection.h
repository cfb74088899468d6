#ifndef MANDANT_CLI_CONNECTION_H_
#define MANDANT_CLI_CONNECTION_H_

// The gRPC channel mandantctl talks to mandantd over: always TLS, and either
// a client certificate (mTLS) or a bearer token as the credential.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace mandant::cli {

struct ConnectionOptions {
  // HOST:PORT of mandantd.
  std::string server;
  // PEM certificates to trust for the server's TLS certificate; empty for the
  // system's root certificates.
  std::string ca_pem;
  // Sent as "authorization: Bearer <token>" on every call; empty for none.
  // Empty whenever a client certificate is set: mandantctl authenticates
  // with one credential, never both.
  std::string token;
  // Client certificate for mTLS, PEM, the leaf first and then its chain, and
  // its private key (PEM, secret). Both set or both empty.
  std::string client_cert_pem;
  std::string client_key_pem;
  // Deadline of each call, counted from its start.
  absl::Duration timeout = absl::Seconds(30);
};

// A TLS channel to options.server (plaintext is never used), presenting the
// client certificate when one is set. The channel connects lazily, so an
// unreachable server or a refused handshake shows up as UNAVAILABLE on the
// first call. INVALID_ARGUMENT for an empty server or a client certificate
// without its key (or the reverse).
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewTlsChannel(const ConnectionOptions& options);

// What every call carries: the deadline `timeout` from now, and the bearer
// token when `token` is not empty.
void PrepareCall(absl::Duration timeout, const std::string& token, grpc::ClientContext* context);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_CONNECTION_H_
