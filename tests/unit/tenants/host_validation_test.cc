#include "tenants/host_validation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::tenants {
namespace {

using ::mandant::testing::IsOkAndHolds;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(HostValidationTest, HostIds) {
  EXPECT_EQ(CheckHostId("hv1"), "");
  EXPECT_EQ(CheckHostId("rack-7-node-12"), "");
  EXPECT_EQ(CheckHostId(std::string(40, 'a')), "");
  EXPECT_THAT(CheckHostId(""), HasSubstr("1-40 characters"));
  EXPECT_THAT(CheckHostId(std::string(41, 'a')), HasSubstr("1-40 characters"));
  EXPECT_THAT(CheckHostId("HV1"), HasSubstr("a-z, 0-9 and '-'"));
  EXPECT_THAT(CheckHostId("hv_1"), HasSubstr("a-z, 0-9 and '-'"));
  EXPECT_THAT(CheckHostId("-hv"), HasSubstr("start and end"));
  EXPECT_THAT(CheckHostId("hv-"), HasSubstr("start and end"));
}

TEST(HostValidationTest, HostNamesNameTheFieldOnce) {
  EXPECT_THAT(ParseHostName("hosts/hv1"), IsOkAndHolds("hv1"));
  FieldViolations bad;
  EXPECT_EQ(ParseHostName("hv1", "name", &bad), "");
  EXPECT_EQ(ParseHostName("hosts/HV", "host", &bad), "");
  ASSERT_EQ(bad.violations().size(), 2u);
  EXPECT_EQ(bad.violations()[0].field, "name");
  EXPECT_THAT(bad.violations()[0].description, HasSubstr("must be \"hosts/{host}\""));
  EXPECT_EQ(bad.violations()[1].field, "host");
  const std::string message(bad.ToStatus().message());
  EXPECT_THAT(message, Not(HasSubstr("name: name")));
  EXPECT_THAT(message, Not(HasSubstr("host: host:")));
}

TEST(HostValidationTest, UnderlayAddresses) {
  FieldViolations bad;
  EXPECT_EQ(CanonicalUnderlayAddress("192.0.2.11", "a", &bad), "192.0.2.11");
  EXPECT_EQ(CanonicalUnderlayAddress("2001:DB8:0:0::1", "a", &bad), "2001:db8::1");
  EXPECT_TRUE(bad.empty());
  for (const char* refused : {"", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::", "ff02::1",
                              "10.0.0.300", "10.0.0.1/24", "host.example"}) {
    FieldViolations one;
    EXPECT_EQ(CanonicalUnderlayAddress(refused, "host.underlay_address", &one), "") << refused;
    ASSERT_EQ(one.violations().size(), 1u) << refused;
    EXPECT_EQ(one.violations()[0].field, "host.underlay_address");
  }
  FieldViolations nul;
  EXPECT_EQ(CanonicalUnderlayAddress(std::string("10.0.0.1\0x", 10), "a", &nul), "");
  EXPECT_FALSE(nul.empty());
}

TEST(HostValidationTest, BootstrapTokenLifetimes) {
  FieldViolations bad;
  EXPECT_EQ(BootstrapTokenTtl(nullptr, "ttl", &bad), absl::Hours(24));
  google::protobuf::Duration d;
  d.set_seconds(600);
  EXPECT_EQ(BootstrapTokenTtl(&d, "ttl", &bad), absl::Minutes(10));
  d.set_seconds(7 * 24 * 3600);
  EXPECT_EQ(BootstrapTokenTtl(&d, "ttl", &bad), absl::Hours(168));
  EXPECT_TRUE(bad.empty());
  d.set_seconds(599);
  BootstrapTokenTtl(&d, "ttl", &bad);
  d.set_seconds(7 * 24 * 3600 + 1);
  BootstrapTokenTtl(&d, "ttl", &bad);
  EXPECT_EQ(bad.violations().size(), 2u);
}

}  // namespace
}  // namespace mandant::tenants
