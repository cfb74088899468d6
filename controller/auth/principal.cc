#include "controller/auth/principal.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace mandant::controller::auth {

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kProviderAdmin:
      return "PROVIDER_ADMIN";
    case Role::kTenantAdmin:
      return "TENANT_ADMIN";
    case Role::kTenantViewer:
      return "TENANT_VIEWER";
    case Role::kAgent:
      return "AGENT";
  }
  return "UNKNOWN";
}

absl::StatusOr<Role> ParseRole(absl::string_view text) {
  std::string norm = absl::AsciiStrToUpper(absl::StrReplaceAll(text, {{"-", "_"}}));
  for (Role r : {Role::kProviderAdmin, Role::kTenantAdmin, Role::kTenantViewer, Role::kAgent}) {
    if (norm == RoleName(r)) return r;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "role \"", text, "\" is unknown; use provider-admin, tenant-admin or tenant-viewer"));
}

std::string Principal::ToString() const {
  std::string role = absl::AsciiStrToLower(absl::StrReplaceAll(RoleName(this->role), {{"_", "-"}}));
  if (tenant.empty()) return absl::StrCat(role, ":", subject);
  return absl::StrCat(role, ":", tenant, "/", subject);
}

absl::Status TenantNotFound(absl::string_view tenant) {
  return absl::NotFoundError(absl::StrCat("tenant \"", tenant, "\" not found"));
}

absl::Status CheckTenantRead(const Principal& p, absl::string_view tenant) {
  switch (p.role) {
    case Role::kProviderAdmin:
      return absl::OkStatus();
    case Role::kTenantAdmin:
    case Role::kTenantViewer:
      if (p.tenant == tenant) return absl::OkStatus();
      return TenantNotFound(tenant);
    case Role::kAgent:
      return TenantNotFound(tenant);
  }
  return TenantNotFound(tenant);
}

absl::Status CheckTenantWrite(const Principal& p, absl::string_view tenant) {
  if (absl::Status st = CheckTenantRead(p, tenant); !st.ok()) return st;
  if (p.role == Role::kTenantViewer) {
    return absl::PermissionDeniedError(absl::StrCat("\"", p.subject, "\" is a viewer of tenant \"",
                                                    tenant, "\" and may not change it"));
  }
  return absl::OkStatus();
}

absl::Status RequireProviderAdmin(const Principal& p, absl::string_view action) {
  if (p.role == Role::kProviderAdmin) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(action, " is reserved to provider admins; \"",
                                                  p.subject, "\" is ",
                                                  absl::AsciiStrToLower(RoleName(p.role))));
}

}  // namespace mandant::controller::auth
