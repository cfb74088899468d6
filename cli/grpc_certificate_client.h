#ifndef MANDANT_CLI_GRPC_CERTIFICATE_CLIENT_H_
#define MANDANT_CLI_GRPC_CERTIFICATE_CLIENT_H_

#include <memory>

#include "absl/status/statusor.h"

#include "cli/certificate_client.h"
#include "cli/connection.h"

namespace mandant::cli {

// A CertificateClient over a TLS channel (cli/connection.h NewTlsChannel),
// with mTLS when options carry a client certificate. INVALID_ARGUMENT as
// NewTlsChannel.
absl::StatusOr<std::unique_ptr<CertificateClient>> NewGrpcCertificateClient(
    const ConnectionOptions& options);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_GRPC_CERTIFICATE_CLIENT_H_
