#ifndef MANDANT_CONTROLLER_STORE_CREDENTIAL_STORE_H_
#define MANDANT_CONTROLLER_STORE_CREDENTIAL_STORE_H_

// SQL for what callers authenticate with: bearer tokens (only their SHA-256
// is stored) and the inventory state of infrastructure client certificates.

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "controller/store/pg.h"

namespace mandant::controller::store {

struct NewTokenRow {
  std::string id;
  std::string subject;
  // The role's API name ("TENANT_ADMIN"); the auth layer owns the enum.
  std::string role;
  // The tenant's name for tenant roles, empty for provider admins.
  std::string tenant;
  std::string token_sha256;
  absl::Time expire_time;
};

// An unrevoked token found by its digest.
struct TokenRow {
  std::string subject;
  std::string role;
  std::string tenant;  // name; empty for provider admins
  absl::Time expire_time;
};

// What the inventory says of an infrastructure certificate.
struct ClientCertificateState {
  // Issued by Mandant's infrastructure CA (not the root, not a tenant CA).
  bool issued_by_infrastructure_ca = false;
  bool revoked = false;
};

// Every method runs on the caller's connection, inside the caller's
// transaction if there is one. Errors are the database's.
class CredentialStore {
 public:
  // Inserts a token. NOT_FOUND when `row.tenant` names no tenant.
  absl::Status InsertToken(Connection& conn, const NewTokenRow& row) const;

  // The unrevoked token with this digest (expired ones included: the caller
  // tells the two apart for its message), or nullopt.
  absl::StatusOr<std::optional<TokenRow>> FindToken(Connection& conn,
                                                    absl::string_view token_sha256) const;

  // The inventory state of the infrastructure certificate with serial
  // `serial_hex`, or nullopt when no such certificate is in the inventory.
  absl::StatusOr<std::optional<ClientCertificateState>> FindClientCertificate(
      Connection& conn, absl::string_view serial_hex) const;

  // Whether a tenant of this name exists (a tenant principal's tenant may
  // have been deleted since its credential was issued).
  absl::StatusOr<bool> TenantExists(Connection& conn, absl::string_view tenant) const;
};

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_CREDENTIAL_STORE_H_
