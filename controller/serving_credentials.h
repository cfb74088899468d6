#ifndef MANDANT_CONTROLLER_SERVING_CREDENTIALS_H_
#define MANDANT_CONTROLLER_SERVING_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/server_credentials.h"

namespace mandant::controller {

// mandantd's TLS identity (key and certificate chain) and the CAs whose
// client certificates it accepts, kept in memory-backed anonymous files
// (memfd) that gRPC's certificate provider re-reads every `refresh`
// seconds: a renewed certificate or a rotated infrastructure CA takes
// effect without a restart, and the key never touches a disk. Update is
// safe to call from any thread.
class ServingCredentials {
 public:
  // `key_pem`, `cert_chain_pem`: the serving identity. `client_cas`: PEM CAs
  // for client certificates; empty to not ask for client certificates (then
  // it stays so for this object's life).
  static absl::StatusOr<std::unique_ptr<ServingCredentials>> Create(
      absl::string_view key_pem, absl::string_view cert_chain_pem, absl::string_view client_cas,
      unsigned refresh_seconds);
  ~ServingCredentials();

  // Replaces the contents; gRPC picks them up within the refresh interval.
  // An identity whose key and certificate do not match is kept out by gRPC
  // (it logs and keeps the previous pair).
  absl::Status Update(absl::string_view key_pem, absl::string_view cert_chain_pem,
                      absl::string_view client_cas);

  std::shared_ptr<grpc::ServerCredentials> credentials() const { return credentials_; }

 private:
  ServingCredentials() = default;

  int key_fd_ = -1;
  int cert_fd_ = -1;
  int ca_fd_ = -1;
  bool request_client_certs_ = false;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
};

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_SERVING_CREDENTIALS_H_
