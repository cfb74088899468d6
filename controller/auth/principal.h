#ifndef MANDANT_CONTROLLER_AUTH_PRINCIPAL_H_
#define MANDANT_CONTROLLER_AUTH_PRINCIPAL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mandant::controller::auth {

enum class Role {
  kProviderAdmin,  // everything
  kTenantAdmin,    // its own tenant, read and write
  kTenantViewer,   // its own tenant, read only
  kAgent,          // its own host only
};

// "PROVIDER_ADMIN", "TENANT_ADMIN", "TENANT_VIEWER", "AGENT" (as stored).
absl::string_view RoleName(Role role);
// Accepts the stored form and the flag form ("provider-admin").
absl::StatusOr<Role> ParseRole(absl::string_view text);

// Who is calling. Every RPC has one, whether it came from a bearer token or
// (once the PKI lands) from a client certificate.
struct Principal {
  std::string subject;
  Role role = Role::kTenantViewer;
  // The tenant id for tenant roles; empty for provider admins.
  std::string tenant;

  // "provider-admin:alice", "tenant-admin:acme/bob": used in audit rows and
  // as the owner of idempotency keys.
  std::string ToString() const;
};

// Authorization rules, in one place. All return OK or the status to send.
//
// A principal that may not see a tenant gets NOT_FOUND with the same text a
// missing tenant gets, so that no tenant learns another one exists.
absl::Status CheckTenantRead(const Principal& p, absl::string_view tenant);
// As CheckTenantRead, then PERMISSION_DENIED for viewers of that tenant.
absl::Status CheckTenantWrite(const Principal& p, absl::string_view tenant);
// PERMISSION_DENIED unless provider admin; `action` names what was refused.
absl::Status RequireProviderAdmin(const Principal& p, absl::string_view action);

// The NOT_FOUND status for a tenant, shared by "missing" and "not yours".
absl::Status TenantNotFound(absl::string_view tenant);

}  // namespace mandant::controller::auth

#endif  // MANDANT_CONTROLLER_AUTH_PRINCIPAL_H_
