#include "cli/tenant_requests.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::cli {
namespace {

using ::mandant::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kRequestId[] = "0b7f4a7e-3c1d-4e59-8a77-5f0c2d9e1b23";

Invocation Command(std::vector<std::string> args, std::map<std::string, std::string> flags) {
  Invocation inv;
  inv.args = std::move(args);
  inv.flags = std::move(flags);
  return inv;
}

TEST(BuildCreateTenantRequestTest, TakesEveryFlag) {
  absl::StatusOr<v1::CreateTenantRequest> r =
      BuildCreateTenantRequest(Command({"acme"}, {{"display-name", "Acme Corp"},
                                                  {"max-clusters", "3"},
                                                  {"max-memory-mib", "0"},
                                                  {"network-mode", "vlan"},
                                                  {"node-prefix-length", "26"},
                                                  {"storage-prefix-length", "27"}}),
                               kRequestId);
  ASSERT_OK(r);
  EXPECT_EQ(r->tenant_id(), "acme");
  EXPECT_EQ(r->request_id(), kRequestId);
  EXPECT_EQ(r->tenant().display_name(), "Acme Corp");
  EXPECT_TRUE(r->tenant().quota().has_max_clusters());
  EXPECT_EQ(r->tenant().quota().max_clusters(), 3);
  // An explicit 0 is sent, not confused with "unset".
  EXPECT_TRUE(r->tenant().quota().has_max_memory_mib());
  EXPECT_FALSE(r->tenant().quota().has_max_nodes());
  EXPECT_EQ(r->tenant().network_request().mode(), v1::NETWORK_MODE_VLAN);
  EXPECT_EQ(r->tenant().network_request().node_prefix_length(), 26);
  EXPECT_EQ(r->tenant().network_request().storage_prefix_length(), 27);
}

TEST(BuildCreateTenantRequestTest, MinimalRequestLeavesDefaultsToTheServer) {
  absl::StatusOr<v1::CreateTenantRequest> r =
      BuildCreateTenantRequest(Command({"tenants/acme"}, {}), kRequestId);
  ASSERT_OK(r);
  EXPECT_EQ(r->tenant_id(), "acme");
  EXPECT_FALSE(r->tenant().has_quota());
  EXPECT_FALSE(r->tenant().has_network_request());
}

TEST(BuildCreateTenantRequestTest, GivenRequestIdIsUsedForRetries) {
  absl::StatusOr<v1::CreateTenantRequest> r = BuildCreateTenantRequest(
      Command({"acme"}, {{"request-id", "0B7F4A7E-3C1D-4E59-8A77-5F0C2D9E1B99"}}), kRequestId);
  ASSERT_OK(r);
  EXPECT_EQ(r->request_id(), "0b7f4a7e-3c1d-4e59-8a77-5f0c2d9e1b99");

  absl::StatusOr<v1::CreateTenantRequest> bad =
      BuildCreateTenantRequest(Command({"acme"}, {{"request-id", "retry-1"}}), kRequestId);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--request-id \"retry-1\" is not a UUID"));
}

TEST(BuildCreateTenantRequestTest, RejectsValuesThatCannotBeSent) {
  struct Case {
    std::map<std::string, std::string> flags;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{{"max-nodes", "ten"}}, "--max-nodes \"ten\" is not a whole number >= 0"},
           {{{"max-vcpus", "-1"}}, "--max-vcpus \"-1\" is not a whole number >= 0"},
           {{{"max-storage-gib", "1e3"}}, "--max-storage-gib \"1e3\""},
           {{{"max-clusters", "99999999999999999999"}}, "--max-clusters"},
           {{{"network-mode", "gre"}}, "--network-mode \"gre\" is not one of vxlan, vlan"},
           {{{"node-prefix-length", "33"}},
            "--node-prefix-length \"33\" is not a whole number "
            "from 1 to 32"},
       }) {
    absl::StatusOr<v1::CreateTenantRequest> r =
        BuildCreateTenantRequest(Command({"acme"}, c.flags), kRequestId);
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(c.message));
  }
}

TEST(BuildUpdateTenantRequestTest, MaskNamesExactlyTheGivenFlags) {
  absl::StatusOr<v1::UpdateTenantRequest> r = BuildUpdateTenantRequest(
      Command({"acme"}, {{"display-name", ""}, {"state", "suspended"}, {"max-nodes", "20"}}));
  ASSERT_OK(r);
  EXPECT_EQ(r->tenant().name(), "tenants/acme");
  EXPECT_THAT(r->update_mask().paths(), ElementsAre("display_name", "state", "quota.max_nodes"));
  EXPECT_EQ(r->tenant().display_name(), "");
  EXPECT_EQ(r->tenant().state(), v1::TENANT_STATE_SUSPENDED);
  EXPECT_EQ(r->tenant().quota().max_nodes(), 20);
  EXPECT_FALSE(r->tenant().quota().has_max_clusters());
  EXPECT_EQ(r->tenant().etag(), "");
}

TEST(BuildUpdateTenantRequestTest, EtagFlagIsSent) {
  absl::StatusOr<v1::UpdateTenantRequest> r =
      BuildUpdateTenantRequest(Command({"acme"}, {{"max-clusters", "1"}, {"etag", "e7"}}));
  ASSERT_OK(r);
  EXPECT_EQ(r->tenant().etag(), "e7");
  EXPECT_THAT(r->update_mask().paths(), ElementsAre("quota.max_clusters"));
}

TEST(BuildUpdateTenantRequestTest, NothingToUpdateIsAnError) {
  absl::StatusOr<v1::UpdateTenantRequest> r =
      BuildUpdateTenantRequest(Command({"acme"}, {{"etag", "e7"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("nothing to update: give at least one of --display-name, --state, "
                        "--max-clusters"));
}

TEST(BuildUpdateTenantRequestTest, StateMustBeKnown) {
  absl::StatusOr<v1::UpdateTenantRequest> r =
      BuildUpdateTenantRequest(Command({"acme"}, {{"state", "paused"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("--state \"paused\" is not one of active, suspended"));
}

TEST(BuildListTenantsRequestTest, FiltersAndPaging) {
  absl::StatusOr<v1::ListTenantsRequest> r = BuildListTenantsRequest(
      Command({}, {{"state", "Active"}, {"page-size", "10"}, {"page-token", "p2"}}));
  ASSERT_OK(r);
  EXPECT_EQ(r->state(), v1::TENANT_STATE_ACTIVE);
  EXPECT_EQ(r->page_size(), 10);
  EXPECT_EQ(r->page_token(), "p2");

  EXPECT_THAT(BuildListTenantsRequest(Command({}, {{"page-size", "0"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, "--page-size \"0\""));
  EXPECT_THAT(BuildListTenantsRequest(Command({}, {{"page-size", "1001"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, "from 1 to 1000"));
}

TEST(BuildDeleteTenantRequestTest, NameAndEtag) {
  absl::StatusOr<v1::DeleteTenantRequest> r =
      BuildDeleteTenantRequest(Command({"acme"}, {{"etag", "e1"}}));
  ASSERT_OK(r);
  EXPECT_EQ(r->name(), "tenants/acme");
  EXPECT_EQ(r->etag(), "e1");
}

TEST(TenantNameFromArgTest, AcceptsIdOrName) {
  EXPECT_EQ(*TenantNameFromArg("acme"), "tenants/acme");
  EXPECT_EQ(*TenantNameFromArg("tenants/acme"), "tenants/acme");
  for (const char* bad : {"", "tenants/", "tenants/acme/clusters/prod"}) {
    EXPECT_THAT(TenantNameFromArg(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, "is not a tenant id"))
        << bad;
  }
}

TEST(RequestIdTest, NewIdsAreVersion4UuidsAndDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = NewRequestId();
    ASSERT_TRUE(IsUuid(id)) << id;
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_FALSE(IsUuid("0b7f4a7e3c1d4e598a775f0c2d9e1b23"));
  EXPECT_FALSE(IsUuid("0b7f4a7e-3c1d-4e59-8a77-5f0c2d9e1b2g"));
}

}  // namespace
}  // namespace mandant::cli
