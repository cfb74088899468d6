#ifndef MANDANT_CLI_GRPC_EDGE_CLIENT_H_
#define MANDANT_CLI_GRPC_EDGE_CLIENT_H_

#include <memory>

#include "absl/status/statusor.h"

#include "cli/connection.h"
#include "cli/edge_client.h"

namespace mandant::cli {

// An EdgeClient over a TLS channel (cli/connection.h NewTlsChannel), with
// mTLS when options carry a client certificate. INVALID_ARGUMENT as
// NewTlsChannel.
absl::StatusOr<std::unique_ptr<EdgeClient>> NewGrpcEdgeClient(const ConnectionOptions& options);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_GRPC_EDGE_CLIENT_H_
