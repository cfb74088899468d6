#ifndef MANDANT_CLI_CLIENT_CERTIFICATE_H_
#define MANDANT_CLI_CLIENT_CERTIFICATE_H_

// The client certificate mandantctl authenticates with after `mandantctl
// login`: reading and checking the configured one before a call, and
// storing a new one next to the config file.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cli/settings.h"

namespace mandant::cli {

// A certificate that expires sooner than this is used, with a warning.
inline constexpr absl::Duration kClientCertificateWarning = absl::Hours(1);

// File names `mandantctl login` writes in the config file's folder.
inline constexpr absl::string_view kClientCertFileName = "client.crt";
inline constexpr absl::string_view kClientKeyFileName = "client.key";

// A client certificate and its key, read and checked.
struct ClientCertificate {
  // The file as read: the leaf first, then its chain.
  std::string cert_pem;
  // Secret. Never printed or logged.
  std::string key_pem;
  absl::Time not_after;
  // The leaf's first URI SAN (the principal, e.g.
  // "spiffe://mandant.internal/provider-admin/op"), else its subject.
  std::string identity;
};

// OK when `key` is the private key of `cert`; INVALID_ARGUMENT otherwise.
absl::Status CheckKeyMatchesCertificate(const X509* cert, const EVP_PKEY* key);

// Reads the client certificate and key named in `settings`
// (HasClientCertificate() must be true) and checks them at `now`. Messages
// name the file and where its name came from, never key material:
//   NOT_FOUND, PERMISSION_DENIED: a file cannot be read, or the key file is
//     readable by group or others (mandant::ReadSecretFile);
//   INVALID_ARGUMENT: no PEM certificate, a key that does not parse, or a
//     key that does not belong to the certificate;
//   FAILED_PRECONDITION: the certificate has expired, or is not valid yet;
//     the message tells the user to run `mandantctl login` again.
absl::StatusOr<ClientCertificate> LoadClientCertificate(const ClientSettings& settings,
                                                        absl::Time now);

// The not_after of the first certificate in the PEM file at `path`, for
// showing it. Errors as mandant::ReadFile and pki::ParseCertificate.
absl::StatusOr<absl::Time> ReadCertificateNotAfter(const std::string& path);

// A warning line (newline-terminated) when `cert` expires within
// kClientCertificateWarning of `now`; "" otherwise.
std::string ClientCertificateExpiryWarning(const ClientCertificate& cert,
                                           const ClientSettings& settings, absl::Time now);

// Where StoreClientCertificate put the files (absolute paths).
struct StoredClientCertificate {
  std::string cert_path;
  std::string key_path;
};

// Stores a certificate from IssueClientCertificate: the key (mode 0600,
// created that way) in kClientKeyFileName and the certificate followed by
// `chain_pem` in kClientCertFileName, in the folder of `config_path`
// (created with mode 0700 when missing), replacing earlier ones; then
// records both paths as client_cert and client_key in the config file,
// keeping its other keys. Errors as StagedFile::Write, ReadConfigFile and
// WriteConfigFile; nothing is recorded in the config file unless both files
// were written.
absl::StatusOr<StoredClientCertificate> StoreClientCertificate(const std::string& config_path,
                                                               const Environment& env,
                                                               absl::string_view key_pem,
                                                               absl::string_view cert_pem,
                                                               absl::string_view chain_pem);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_CLIENT_CERTIFICATE_H_
