#include "controller/auth/principal.h"

#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::controller::auth {
namespace {

using testing::IsOk;
using testing::StatusIs;

Principal Make(Role role, std::string tenant = "") {
  return Principal{"someone", role, std::move(tenant)};
}

TEST(PrincipalTest, ProviderAdminMayDoEverything) {
  Principal p = Make(Role::kProviderAdmin);
  EXPECT_THAT(CheckTenantRead(p, "acme"), IsOk());
  EXPECT_THAT(CheckTenantWrite(p, "acme"), IsOk());
  EXPECT_THAT(RequireProviderAdmin(p, "deleting tenants"), IsOk());
}

TEST(PrincipalTest, ForeignTenantIsIndistinguishableFromMissing) {
  for (Role role : {Role::kTenantAdmin, Role::kTenantViewer, Role::kAgent}) {
    Principal p = Make(role, "acme");
    absl::Status foreign = CheckTenantRead(p, "beta");
    EXPECT_EQ(foreign, TenantNotFound("beta"));
    EXPECT_EQ(CheckTenantWrite(p, "beta"), TenantNotFound("beta"));
  }
}

TEST(PrincipalTest, TenantRoles) {
  EXPECT_THAT(CheckTenantWrite(Make(Role::kTenantAdmin, "acme"), "acme"), IsOk());
  EXPECT_THAT(CheckTenantRead(Make(Role::kTenantViewer, "acme"), "acme"), IsOk());
  EXPECT_THAT(CheckTenantWrite(Make(Role::kTenantViewer, "acme"), "acme"),
              StatusIs(absl::StatusCode::kPermissionDenied, "viewer"));
  EXPECT_THAT(RequireProviderAdmin(Make(Role::kTenantAdmin, "acme"), "creating tenants"),
              StatusIs(absl::StatusCode::kPermissionDenied, "creating tenants"));
}

TEST(PrincipalTest, RoleNamesRoundTrip) {
  for (Role role : {Role::kProviderAdmin, Role::kTenantAdmin, Role::kTenantViewer, Role::kAgent}) {
    EXPECT_THAT(ParseRole(RoleName(role)), testing::IsOkAndHolds(role));
  }
  EXPECT_THAT(ParseRole("tenant-admin"), testing::IsOkAndHolds(Role::kTenantAdmin));
  EXPECT_THAT(ParseRole("root"), StatusIs(absl::StatusCode::kInvalidArgument, "\"root\""));
  EXPECT_EQ(Make(Role::kTenantAdmin, "acme").ToString(), "tenant-admin:acme/someone");
  EXPECT_EQ(Make(Role::kProviderAdmin).ToString(), "provider-admin:someone");
}

}  // namespace
}  // namespace mandant::controller::auth
