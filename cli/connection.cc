#include "cli/connection.h"

#include "absl/status/status.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace mandant::cli {

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewTlsChannel(const ConnectionOptions& options) {
  if (options.server.empty()) {
    return absl::InvalidArgumentError("no server address given (want HOST:PORT)");
  }
  if (options.client_cert_pem.empty() != options.client_key_pem.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs its private key, and a key its certificate");
  }
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = options.ca_pem;
  tls.pem_cert_chain = options.client_cert_pem;
  tls.pem_private_key = options.client_key_pem;
  grpc::ChannelArguments args;
  args.SetUserAgentPrefix("mandantctl");
  return grpc::CreateCustomChannel(options.server, grpc::SslCredentials(tls), args);
}

void PrepareCall(absl::Duration timeout, const std::string& token, grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
}

}  // namespace mandant::cli
