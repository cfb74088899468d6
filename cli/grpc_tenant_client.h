#ifndef MANDANT_CLI_GRPC_TENANT_CLIENT_H_
#define MANDANT_CLI_GRPC_TENANT_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/tenant_client.h"

namespace mandant::cli {

struct GrpcTenantClientOptions {
  // HOST:PORT of mandantd.
  std::string server;
  // PEM certificates to trust for the server's TLS certificate; empty for the
  // system's root certificates.
  std::string ca_pem;
  // Sent as "authorization: Bearer <token>" on every call; empty for none.
  std::string token;
  // Deadline of each call, counted from its start.
  absl::Duration timeout = absl::Seconds(30);
};

// A TenantClient over a TLS channel to options.server (plaintext is never
// used). The channel connects lazily, so an unreachable server shows up as
// UNAVAILABLE on the first call. INVALID_ARGUMENT for an empty server.
absl::StatusOr<std::unique_ptr<TenantClient>> NewGrpcTenantClient(
    const GrpcTenantClientOptions& options);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_GRPC_TENANT_CLIENT_H_
