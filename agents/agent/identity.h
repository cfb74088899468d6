#ifndef MANDANT_AGENTS_AGENT_IDENTITY_H_
#define MANDANT_AGENTS_AGENT_IDENTITY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include "pki/openssl_ptr.h"
#include "pki/secret_bytes.h"

namespace mandant::agent {

// The agent's credentials in STATE_DIR/identity/ (mode 0700):
//   ca.pem           the Mandant root that verifies mandantd (from --ca_file)
//   credentials.pem  its client certificate and the issuing CA, then its
//                    private key (mode 0600; the key never leaves the host)
// Files are replaced atomically (written aside, fsynced, renamed), and the
// key travels with its certificate in one file, so a crash leaves the old or
// the new credentials, never a new key with an old certificate.
class AgentIdentity {
 public:
  // Reads the identity. NOT_FOUND when the agent has not enrolled yet;
  // DATA_LOSS when the files are unreadable or the key does not match the
  // certificate.
  static absl::StatusOr<AgentIdentity> Load(const std::string& state_dir);

  // Enrolls at `controller` ("host:port") with the one-time bootstrap token:
  // generates a key, sends only a CSR, verifies mandantd with `ca_pem`, and
  // stores the result. UNAUTHENTICATED (from mandantd) for a bad token;
  // UNAVAILABLE when mandantd cannot be reached.
  static absl::StatusOr<AgentIdentity> Enroll(const std::string& state_dir,
                                              const std::string& controller,
                                              const std::string& host, const std::string& token,
                                              const std::string& ca_pem);

  // TLS credentials with the client certificate, verifying mandantd with ca.
  std::shared_ptr<grpc::ChannelCredentials> Credentials() const;

  // A new key and a CSR for it (PEM), for a renewal; the key is kept in
  // memory until Renewed() stores it with its certificate.
  absl::StatusOr<std::string> PrepareRenewal();
  // Stores the renewed certificate with the key of PrepareRenewal.
  // FAILED_PRECONDITION without a pending renewal or when the certificate
  // is not for that key; INVALID_ARGUMENT when it does not parse. On error
  // the current identity stays, in memory and on disk.
  absl::Status Renewed(absl::string_view certificate_pem, absl::string_view chain_pem);

  absl::Time not_before() const { return not_before_; }
  absl::Time not_after() const { return not_after_; }
  const std::string& ca_pem() const { return ca_pem_; }

 private:
  AgentIdentity() = default;
  static absl::StatusOr<AgentIdentity> FromPem(std::string state_dir, std::string ca_pem,
                                               pki::SecretBytes key_pem, std::string cert_pem);
  absl::Status Store() const;

  std::string state_dir_;
  std::string ca_pem_;
  pki::SecretBytes key_pem_;
  std::string cert_pem_;
  absl::Time not_before_;
  absl::Time not_after_;
  // The key of a renewal in flight.
  std::shared_ptr<pki::SecretBytes> pending_key_pem_;
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_AGENT_IDENTITY_H_
