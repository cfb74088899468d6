#ifndef MANDANT_CLI_GRPC_TENANT_CLIENT_H_
#define MANDANT_CLI_GRPC_TENANT_CLIENT_H_

#include <memory>

#include "absl/status/statusor.h"

#include "cli/connection.h"
#include "cli/tenant_client.h"

namespace mandant::cli {

// A TenantClient over a TLS channel (cli/connection.h NewTlsChannel).
// INVALID_ARGUMENT as NewTlsChannel.
absl::StatusOr<std::unique_ptr<TenantClient>> NewGrpcTenantClient(const ConnectionOptions& options);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_GRPC_TENANT_CLIENT_H_
