#include "cli/host_requests.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::cli {
namespace {

using ::mandant::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kRequestId[] = "0b7f4a7e-3c1d-4e59-8a77-5f0c2d9e1b23";

Invocation Command(std::vector<std::string> args, std::map<std::string, std::string> flags) {
  Invocation inv;
  inv.args = std::move(args);
  inv.flags = std::move(flags);
  return inv;
}

TEST(BuildCreateHostRequestTest, TakesEveryFlag) {
  absl::StatusOr<v1::CreateHostRequest> r = BuildCreateHostRequest(
      Command({"hosts/hv1"}, {{"underlay-address", "10.0.0.1"}, {"token-ttl", "2h30m"}}),
      kRequestId);
  ASSERT_OK(r);
  EXPECT_EQ(r->host_id(), "hv1");
  EXPECT_EQ(r->host().underlay_address(), "10.0.0.1");
  ASSERT_TRUE(r->has_bootstrap_token_ttl());
  EXPECT_EQ(r->bootstrap_token_ttl().seconds(), 9000);
  EXPECT_EQ(r->request_id(), kRequestId);
}

TEST(BuildCreateHostRequestTest, LeavesTheTokenLifetimeToTheServerWhenNotGiven) {
  absl::StatusOr<v1::CreateHostRequest> r =
      BuildCreateHostRequest(Command({"hv1"}, {{"underlay-address", "fd00::1"}}), kRequestId);
  ASSERT_OK(r);
  EXPECT_FALSE(r->has_bootstrap_token_ttl());
  EXPECT_EQ(r->host().underlay_address(), "fd00::1");
}

TEST(BuildCreateHostRequestTest, DaysAndAGivenRequestIdAreAccepted) {
  absl::StatusOr<v1::CreateHostRequest> r = BuildCreateHostRequest(
      Command({"hv1"}, {{"underlay-address", "10.0.0.1"},
                        {"token-ttl", "7d"},
                        {"request-id", "0B7F4A7E-3C1D-4E59-8A77-5F0C2D9E1B99"}}),
      kRequestId);
  ASSERT_OK(r);
  EXPECT_EQ(r->bootstrap_token_ttl().seconds(), 7 * 24 * 3600);
  EXPECT_EQ(r->request_id(), "0b7f4a7e-3c1d-4e59-8a77-5f0c2d9e1b99");
}

TEST(BuildCreateHostRequestTest, RejectsWhatCannotBeSent) {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> flags;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"hv1"}, {}, "host create needs --underlay-address ADDR"},
           {{"hosts/"}, {{"underlay-address", "10.0.0.1"}}, "\"hosts/\" is not a host id"},
           {{"hosts/a/b"}, {{"underlay-address", "10.0.0.1"}}, "is not a host id"},
           {{"hv1"},
            {{"underlay-address", "10.0.0.1"}, {"token-ttl", "soon"}},
            "--token-ttl \"soon\" is not a positive duration"},
           {{"hv1"},
            {{"underlay-address", "10.0.0.1"}, {"token-ttl", "-1h"}},
            "--token-ttl \"-1h\" is not a positive duration"},
           {{"hv1"},
            {{"underlay-address", "10.0.0.1"}, {"request-id", "retry-1"}},
            "--request-id \"retry-1\" is not a UUID"},
       }) {
    EXPECT_THAT(BuildCreateHostRequest(Command(c.args, c.flags), kRequestId),
                StatusIs(absl::StatusCode::kInvalidArgument, c.message))
        << c.message;
  }
}

TEST(BuildIssueBootstrapTokenRequestTest, NameTtlEtagAndRequestId) {
  absl::StatusOr<v1::IssueBootstrapTokenRequest> r = BuildIssueBootstrapTokenRequest(
      Command({"hv1"}, {{"token-ttl", "30m"}, {"etag", "e4"}}), kRequestId);
  ASSERT_OK(r);
  EXPECT_EQ(r->name(), "hosts/hv1");
  EXPECT_EQ(r->bootstrap_token_ttl().seconds(), 1800);
  EXPECT_EQ(r->etag(), "e4");
  EXPECT_EQ(r->request_id(), kRequestId);

  absl::StatusOr<v1::IssueBootstrapTokenRequest> bare =
      BuildIssueBootstrapTokenRequest(Command({"hv1"}, {}), kRequestId);
  ASSERT_OK(bare);
  EXPECT_FALSE(bare->has_bootstrap_token_ttl());
  EXPECT_EQ(bare->etag(), "");
}

TEST(BuildCordonHostRequestTest, ReasonEtagAndRequestId) {
  absl::StatusOr<v1::CordonHostRequest> r = BuildCordonHostRequest(
      Command({"hosts/hv1"}, {{"reason", "disk replacement"}, {"etag", "e2"}}), kRequestId);
  ASSERT_OK(r);
  EXPECT_EQ(r->name(), "hosts/hv1");
  EXPECT_EQ(r->reason(), "disk replacement");
  EXPECT_EQ(r->etag(), "e2");
  EXPECT_EQ(r->request_id(), kRequestId);
}

TEST(BuildUncordonAndDeleteHostRequestTest, NameEtagAndRequestId) {
  absl::StatusOr<v1::UncordonHostRequest> u =
      BuildUncordonHostRequest(Command({"hv1"}, {{"etag", "e3"}}), kRequestId);
  ASSERT_OK(u);
  EXPECT_EQ(u->name(), "hosts/hv1");
  EXPECT_EQ(u->etag(), "e3");
  EXPECT_EQ(u->request_id(), kRequestId);

  absl::StatusOr<v1::DeleteHostRequest> d =
      BuildDeleteHostRequest(Command({"hv1"}, {}), kRequestId);
  ASSERT_OK(d);
  EXPECT_EQ(d->name(), "hosts/hv1");
  EXPECT_EQ(d->etag(), "");
  EXPECT_EQ(d->request_id(), kRequestId);
}

TEST(BuildListHostsRequestTest, Paging) {
  absl::StatusOr<v1::ListHostsRequest> r =
      BuildListHostsRequest(Command({}, {{"page-size", "10"}, {"page-token", "p2"}}));
  ASSERT_OK(r);
  EXPECT_EQ(r->page_size(), 10);
  EXPECT_EQ(r->page_token(), "p2");
  EXPECT_THAT(BuildListHostsRequest(Command({}, {{"page-size", "0"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, "--page-size \"0\""));
}

TEST(TokenDestinationTest, FileOrStdout) {
  absl::StatusOr<TokenDestination> printed = TokenDestinationFromFlags(Command({"hv1"}, {}));
  ASSERT_OK(printed);
  EXPECT_EQ(printed->out_token, "");
  EXPECT_FALSE(printed->force);

  absl::StatusOr<TokenDestination> file =
      TokenDestinationFromFlags(Command({"hv1"}, {{"out-token", "hv1.token"}, {"force", ""}}));
  ASSERT_OK(file);
  EXPECT_EQ(file->out_token, "hv1.token");
  EXPECT_TRUE(file->force);

  EXPECT_THAT(TokenDestinationFromFlags(Command({"hv1"}, {{"out-token", ""}})),
              StatusIs(absl::StatusCode::kInvalidArgument, "--out-token \"\" names no file"));
  EXPECT_THAT(TokenDestinationFromFlags(Command({"hv1"}, {{"force", ""}})),
              StatusIs(absl::StatusCode::kInvalidArgument, "without --out-token"));
}

TEST(HostNameTest, IdAndNameBothWays) {
  EXPECT_EQ(*HostNameFromArg("hv1"), "hosts/hv1");
  EXPECT_EQ(*HostNameFromArg("hosts/hv1"), "hosts/hv1");
  EXPECT_EQ(HostIdFromName("hosts/hv1"), "hv1");
  EXPECT_EQ(HostIdFromName("tenants/acme"), "tenants/acme");
  EXPECT_THAT(HostNameFromArg(""), StatusIs(absl::StatusCode::kInvalidArgument, "not a host id"));
}

}  // namespace
}  // namespace mandant::cli
