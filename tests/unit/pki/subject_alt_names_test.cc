#include "pki/subject_alt_names.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOk;
using ::mandant::testing::StatusIs;

TEST(ValidateDnsNameTest, AcceptsHostNames) {
  for (const char* name : {"localhost", "api.acme.svc.example.net", "a-b.c1.example", "X.Y",
                           "xn--bcher-kva.example"}) {
    EXPECT_OK(ValidateDnsName(name)) << name;
  }
  EXPECT_OK(ValidateDnsName(std::string(63, 'a') + ".example"));
}

TEST(ValidateDnsNameTest, RefusesEverythingElse) {
  EXPECT_THAT(ValidateDnsName(""), StatusIs(absl::StatusCode::kInvalidArgument, "empty"));
  EXPECT_THAT(ValidateDnsName("*.acme.net"),
              StatusIs(absl::StatusCode::kInvalidArgument, "is a wildcard"));
  EXPECT_THAT(ValidateDnsName("acme.net."),
              StatusIs(absl::StatusCode::kInvalidArgument, "empty label"));
  EXPECT_THAT(ValidateDnsName("a..b"), StatusIs(absl::StatusCode::kInvalidArgument, "empty label"));
  EXPECT_THAT(ValidateDnsName("-a.b"), StatusIs(absl::StatusCode::kInvalidArgument, "'-'"));
  EXPECT_THAT(ValidateDnsName("a_b.c"),
              StatusIs(absl::StatusCode::kInvalidArgument, "other than letters"));
  EXPECT_THAT(ValidateDnsName("a b"),
              StatusIs(absl::StatusCode::kInvalidArgument, "other than letters"));
  EXPECT_THAT(ValidateDnsName(std::string(64, 'a') + ".example"),
              StatusIs(absl::StatusCode::kInvalidArgument, "label longer than 63"));
  std::string long_name;
  while (long_name.size() < 254) long_name += "abcdefghi.";
  long_name += "x";
  EXPECT_THAT(ValidateDnsName(long_name),
              StatusIs(absl::StatusCode::kInvalidArgument, "longer than 253"));
  EXPECT_THAT(ValidateDnsName(std::string("a\nb")),
              StatusIs(absl::StatusCode::kInvalidArgument, "\"a\\x0ab\""));
}

TEST(ValidateUriTest, AcceptsIdentityUris) {
  for (const char* uri :
       {"spiffe://acme.example.net/ns/prod/sa/api", "spiffe://acme.example.net",
        "mandant://infra/host/agent-1", "spiffe://td/a%20b/c:d@e", "urn+x://h/p"}) {
    EXPECT_OK(ValidateUri(uri)) << uri;
  }
  EXPECT_EQ(UriHost("spiffe://acme.example.net/ns/x"), "acme.example.net");
  EXPECT_EQ(UriHost("spiffe://acme.example.net"), "acme.example.net");
}

TEST(ValidateUriTest, RefusesAnythingWithAnAmbiguousHost) {
  EXPECT_THAT(ValidateUri("acme.example.net/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "scheme://host"));
  EXPECT_THAT(ValidateUri("Spiffe://a/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "lower-case"));
  EXPECT_THAT(ValidateUri("spiffe://user@acme.example.net/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "user info"));
  EXPECT_THAT(ValidateUri("https://acme.example.net:8443/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "port"));
  EXPECT_THAT(ValidateUri("https://[::1]/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "IP literal"));
  EXPECT_THAT(ValidateUri("spiffe:///x"), StatusIs(absl::StatusCode::kInvalidArgument, "host"));
  EXPECT_THAT(ValidateUri("spiffe://a/x?y=1"),
              StatusIs(absl::StatusCode::kInvalidArgument, "query"));
  EXPECT_THAT(ValidateUri("spiffe://a/x y"),
              StatusIs(absl::StatusCode::kInvalidArgument, "percent-encode"));
  EXPECT_THAT(ValidateUri("spiffe://a/%zz"),
              StatusIs(absl::StatusCode::kInvalidArgument, "percent-encode"));
}

TEST(IpAddressTest, ParsesAndFormatsBothFamilies) {
  absl::StatusOr<std::string> v4 = ParseIpAddress("10.64.3.7");
  ASSERT_OK(v4);
  EXPECT_EQ(*v4, std::string("\x0a\x40\x03\x07", 4));
  EXPECT_EQ(FormatIpAddress(*v4), "10.64.3.7");
  absl::StatusOr<std::string> v6 = ParseIpAddress("FD00:0:0:7:0:0:0:1");
  ASSERT_OK(v6);
  EXPECT_EQ(v6->size(), 16u);
  EXPECT_EQ(FormatIpAddress(*v6), "fd00:0:0:7::1");
  for (const char* bad : {"10.64.3", "010.64.3.7", "10.64.3.256", "fe80::1%eth0", "host", ""}) {
    EXPECT_THAT(ParseIpAddress(bad), StatusIs(absl::StatusCode::kInvalidArgument, "IP address"))
        << bad;
  }
  // A NUL cannot hide a suffix from the check.
  EXPECT_THAT(ParseIpAddress(absl::string_view("10.0.0.1\0junk", 13)),
              StatusIs(absl::StatusCode::kInvalidArgument, "IP address"));
  pki::SubjectAltNames names;
  names.ip_addresses = {std::string("10.0.0.1\0junk", 13)};
  EXPECT_FALSE(ToGeneralNames(names).ok());
}

TEST(GeneralNamesTest, RoundTripsInOrder) {
  SubjectAltNames names{{"a.example", "b.example"}, {"spiffe://td/x"}, {"10.0.0.1", "fd00::1"}};
  absl::StatusOr<GeneralNamesPtr> gens = ToGeneralNames(names);
  ASSERT_OK(gens);
  EXPECT_EQ(sk_GENERAL_NAME_num(gens->get()), 5);
  absl::StatusOr<SubjectAltNames> back = FromGeneralNames(gens->get());
  ASSERT_OK(back);
  EXPECT_EQ(*back, names);
}

TEST(GeneralNamesTest, RefusesDuplicatesAndBadNames) {
  EXPECT_THAT(ToGeneralNames({{"a.example", "A.example"}, {}, {}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "listed twice"));
  EXPECT_THAT(ToGeneralNames({{}, {}, {"fd00::1", "fd00:0::1"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "listed twice"));
  EXPECT_THAT(ToGeneralNames({{"*.a.example"}, {}, {}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "wildcard"));
}

TEST(GeneralNamesTest, RefusesNameTypesMandantDoesNotIssue) {
  GeneralNamesPtr gens(GENERAL_NAMES_new());
  GENERAL_NAME* email = GENERAL_NAME_new();
  ASN1_IA5STRING* value = ASN1_IA5STRING_new();
  ASN1_STRING_set(value, "a@b.example", -1);
  GENERAL_NAME_set0_value(email, GEN_EMAIL, value);
  sk_GENERAL_NAME_push(gens.get(), email);
  EXPECT_THAT(FromGeneralNames(gens.get()),
              StatusIs(absl::StatusCode::kInvalidArgument, "e-mail subject alternative names"));
}

}  // namespace
}  // namespace mandant::pki
