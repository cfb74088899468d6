#include "pki/name_constraints.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;

class NameConstraintsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NameConstraints c;
    c.permitted_dns_domains = {"acme.svc.example.net"};
    c.permitted_uri_hosts = {"acme.example.net", ".zone.acme.example.net"};
    c.permitted_ip_ranges = {"10.64.3.0/24", "fd00:0:0:7::/64"};
    absl::StatusOr<NameConstraintsPtr> nc = ToX509NameConstraints(c);
    ASSERT_OK(nc);
    nc_ = *std::move(nc);
  }

  absl::Status Dns(const std::string& name) {
    return CheckNamesPermitted(nc_.get(), "", {{name}, {}, {}});
  }
  absl::Status Uri(const std::string& uri) {
    return CheckNamesPermitted(nc_.get(), "", {{}, {uri}, {}});
  }
  absl::Status Ip(const std::string& ip) {
    return CheckNamesPermitted(nc_.get(), "", {{}, {}, {ip}});
  }

  NameConstraintsPtr nc_;
};

TEST_F(NameConstraintsTest, DnsDomainPermitsItselfAndEverythingBelow) {
  EXPECT_OK(Dns("acme.svc.example.net"));
  EXPECT_OK(Dns("api.acme.svc.example.net"));
  EXPECT_OK(Dns("a.b.c.acme.svc.example.net"));
  EXPECT_OK(Dns("API.ACME.svc.example.net"));
  EXPECT_THAT(Dns("xacme.svc.example.net"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     "outside the issuer's name constraints"));
  EXPECT_THAT(Dns("svc.example.net"), StatusIs(absl::StatusCode::kInvalidArgument, "outside"));
  EXPECT_THAT(Dns("acme.svc.example.net.evil.com"),
              StatusIs(absl::StatusCode::kInvalidArgument, "outside"));
}

TEST_F(NameConstraintsTest, UriConstraintMatchesTheHostOnly) {
  EXPECT_OK(Uri("spiffe://acme.example.net/ns/prod/sa/api"));
  EXPECT_OK(Uri("spiffe://acme.example.net"));
  // The scheme is not constrained: keeping URIs to spiffe:// is the policy's job.
  EXPECT_OK(Uri("https://acme.example.net/anything"));
  // An exact host does not extend to hosts below it...
  EXPECT_THAT(Uri("spiffe://sub.acme.example.net/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "outside"));
  EXPECT_THAT(Uri("spiffe://beta.example.net/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "outside"));
  // ...a leading dot permits hosts strictly below, not the domain itself.
  EXPECT_OK(Uri("spiffe://a.zone.acme.example.net/x"));
  EXPECT_THAT(Uri("spiffe://zone.acme.example.net/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "outside"));
}

TEST_F(NameConstraintsTest, IpRangesAreCidrsOfEitherFamily) {
  EXPECT_OK(Ip("10.64.3.0"));
  EXPECT_OK(Ip("10.64.3.255"));
  EXPECT_OK(Ip("fd00:0:0:7::1"));
  EXPECT_THAT(Ip("10.64.4.0"), StatusIs(absl::StatusCode::kInvalidArgument, "outside"));
  EXPECT_THAT(Ip("fd00:0:0:8::1"), StatusIs(absl::StatusCode::kInvalidArgument, "outside"));
}

TEST_F(NameConstraintsTest, CommonNameIsCheckedOnlyWithoutDnsNames) {
  EXPECT_OK(CheckNamesPermitted(nc_.get(), "api.acme.svc.example.net", {}));
  EXPECT_THAT(CheckNamesPermitted(nc_.get(), "evil.example.com", {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "subject common name \"evil.example.com\" is outside"));
  // A CN that is not a host name is not a DNS identity.
  EXPECT_OK(CheckNamesPermitted(nc_.get(), "host/agent-1", {}));
}

TEST_F(NameConstraintsTest, ErrorNamesTheOffenderAndWhatIsPermitted) {
  EXPECT_THAT(
      CheckNamesPermitted(nc_.get(), "", {{"api.acme.svc.example.net"}, {}, {"10.9.9.9"}}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "IP address \"10.9.9.9\" is outside the issuer's name constraints (DNS domains: "
               "acme.svc.example.net; URI hosts: acme.example.net, .zone.acme.example.net; IP "
               "ranges: 10.64.3.0/24, fd00:0:0:7::/64)"));
}

TEST(NameConstraintsClosedTest, EmptyListsPermitNothingOfThatType) {
  absl::StatusOr<NameConstraintsPtr> nc = ToX509NameConstraints(NameConstraints{});
  ASSERT_OK(nc);
  EXPECT_THAT(CheckNamesPermitted(nc->get(), "", {{"example.com"}, {}, {}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "outside"));
  EXPECT_THAT(CheckNamesPermitted(nc->get(), "", {{}, {"spiffe://example.com/x"}, {}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "outside"));
  EXPECT_THAT(CheckNamesPermitted(nc->get(), "", {{}, {}, {"10.0.0.1"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "outside"));
  EXPECT_THAT(CheckNamesPermitted(nc->get(), "", {{}, {}, {"::1"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "outside"));
  // The closing entries are not reported as permitted names.
  absl::StatusOr<NameConstraints> back = FromX509NameConstraints(nc->get());
  ASSERT_OK(back);
  EXPECT_EQ(*back, NameConstraints{});
}

TEST(NameConstraintsClosedTest, NoConstraintsPermitEverything) {
  EXPECT_OK(CheckNamesPermitted(nullptr, "x", {{"example.com"}, {"a://b"}, {"1.2.3.4"}}));
}

TEST(NameConstraintsRoundTripTest, ReadsBackWhatWasWritten) {
  NameConstraints c;
  c.permitted_dns_domains = {"acme.svc.example.net", "acme.internal"};
  c.permitted_uri_hosts = {"acme.example.net"};
  c.permitted_ip_ranges = {"10.64.3.0/24", "192.168.0.0/16", "fd00::/8", "10.1.2.3/32"};
  absl::StatusOr<NameConstraintsPtr> nc = ToX509NameConstraints(c);
  ASSERT_OK(nc);
  absl::StatusOr<NameConstraints> back = FromX509NameConstraints(nc->get());
  ASSERT_OK(back);
  EXPECT_EQ(*back, c);
}

TEST(NameConstraintsValidationTest, RefusesMalformedEntries) {
  auto with = [](auto setter) {
    NameConstraints c;
    setter(c);
    return ToX509NameConstraints(c).status();
  };
  EXPECT_THAT(with([](NameConstraints& c) { c.permitted_dns_domains = {"*.acme.net"}; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "permitted DNS domain \"*.acme.net\""));
  EXPECT_THAT(with([](NameConstraints& c) { c.permitted_dns_domains = {".acme.net"}; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "empty label"));
  EXPECT_THAT(with([](NameConstraints& c) { c.permitted_uri_hosts = {"spiffe://acme.net"}; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "permitted URI host"));
  EXPECT_THAT(with([](NameConstraints& c) { c.permitted_ip_ranges = {"10.64.3.1/24"}; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "has host bits set"));
  EXPECT_THAT(with([](NameConstraints& c) { c.permitted_ip_ranges = {"10.64.3.0"}; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not a CIDR"));
  EXPECT_THAT(with([](NameConstraints& c) { c.permitted_ip_ranges = {"10.64.3.0/33"}; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "prefix length 33"));
  EXPECT_THAT(with([](NameConstraints& c) { c.permitted_ip_ranges = {"fd00::/129"}; }),
              StatusIs(absl::StatusCode::kInvalidArgument, "prefix length 129"));
}

}  // namespace
}  // namespace mandant::pki
