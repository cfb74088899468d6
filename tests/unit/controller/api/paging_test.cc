#include "controller/api/paging.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tenants/field_violations.h"

namespace mandant::controller::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> Fields(const tenants::FieldViolations& bad) {
  std::vector<std::string> out;
  for (const auto& v : bad.violations()) out.push_back(v.field);
  return out;
}

PageRequest Parse(int32_t size, absl::string_view token, tenants::FieldViolations& bad,
                  absl::string_view method = "ListThings", absl::string_view filters = "f",
                  size_t fields = 2) {
  return ParsePageRequest(size, token, method, filters, fields, bad);
}

TEST(PageSizeTest, ZeroMeansTheDefault) {
  tenants::FieldViolations bad;
  EXPECT_EQ(Parse(0, "", bad).page_size, kDefaultPageSize);
  EXPECT_TRUE(bad.empty());
}

TEST(PageSizeTest, BoundsAreInclusive) {
  tenants::FieldViolations bad;
  EXPECT_EQ(Parse(1, "", bad).page_size, 1);
  EXPECT_EQ(Parse(kMaxPageSize, "", bad).page_size, kMaxPageSize);
  EXPECT_TRUE(bad.empty());
}

TEST(PageSizeTest, OutOfRangeIsAViolation) {
  for (int32_t size : {-1, kMaxPageSize + 1, INT32_MIN, INT32_MAX}) {
    tenants::FieldViolations bad;
    Parse(size, "", bad);
    EXPECT_THAT(Fields(bad), ElementsAre("page_size")) << size;
  }
}

TEST(PageTokenTest, RoundTripKeepsThePosition) {
  const std::vector<std::string> position = {"1700000000000000", "0a1b"};
  const std::string token = NextPageToken("ListThings", "f", position);
  tenants::FieldViolations bad;
  PageRequest page = Parse(10, token, bad);
  EXPECT_TRUE(bad.empty()) << bad.ToStatus();
  EXPECT_EQ(page.page_size, 10);
  EXPECT_EQ(page.position, position);
}

TEST(PageTokenTest, AnyBytesSurviveInPositions) {
  const std::vector<std::string> position = {std::string("a:b|c\0d", 7), ""};
  tenants::FieldViolations bad;
  PageRequest page = Parse(0, NextPageToken("ListThings", "f", position), bad);
  EXPECT_TRUE(bad.empty());
  EXPECT_EQ(page.position, position);
}

TEST(PageTokenTest, TokenIsUrlSafeAndShort) {
  const std::string token = NextPageToken("ListThings", "f", {"1700000000000000", "0a1b"});
  EXPECT_EQ(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  EXPECT_LE(token.size(), 100u);
}

TEST(PageTokenTest, EmptyTokenIsTheFirstPage) {
  tenants::FieldViolations bad;
  EXPECT_THAT(Parse(0, "", bad).position, IsEmpty());
  EXPECT_TRUE(bad.empty());
}

TEST(PageTokenTest, OtherFiltersOrMethodAreRefused) {
  const std::string token = NextPageToken("ListThings", "f", {"1", "2"});
  tenants::FieldViolations other_filters;
  EXPECT_THAT(Parse(0, token, other_filters, "ListThings", "g").position, IsEmpty());
  ASSERT_THAT(Fields(other_filters), ElementsAre("page_token"));
  EXPECT_THAT(other_filters.violations()[0].description, HasSubstr("other filters"));

  tenants::FieldViolations other_method;
  Parse(0, token, other_method, "ListOthers", "f");
  EXPECT_THAT(Fields(other_method), ElementsAre("page_token"));
}

TEST(PageTokenTest, WrongNumberOfPositionFieldsIsRefused) {
  const std::string token = NextPageToken("ListThings", "f", {"1", "2"});
  for (size_t fields : {0u, 1u, 3u}) {
    tenants::FieldViolations bad;
    Parse(0, token, bad, "ListThings", "f", fields);
    EXPECT_THAT(Fields(bad), ElementsAre("page_token")) << fields;
  }
}

TEST(PageTokenTest, EveryAlteredByteIsRefused) {
  const std::string token = NextPageToken("ListThings", "f", {"1700000000000000", "0a1b"});
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string tampered = raw;
    tampered[i] ^= 0x01;
    tenants::FieldViolations bad;
    PageRequest page = Parse(0, absl::WebSafeBase64Escape(tampered), bad);
    EXPECT_THAT(Fields(bad), ElementsAre("page_token")) << "byte " << i;
    EXPECT_THAT(page.position, IsEmpty());
  }
}

TEST(PageTokenTest, TruncatedOrExtendedTokensAreRefused) {
  const std::string token = NextPageToken("ListThings", "f", {"1", "2"});
  for (const std::string& t :
       {token.substr(0, token.size() - 1), token.substr(0, 4), token + "A", token + token}) {
    tenants::FieldViolations bad;
    Parse(0, t, bad);
    EXPECT_THAT(Fields(bad), ElementsAre("page_token")) << t;
  }
}

TEST(PageTokenTest, GarbageIsRefused) {
  for (absl::string_view garbage :
       {"garbage!", "garbage", "====", "dDE6YWNtZQ", "\xff\xfe", "c1|x|1|a", " "}) {
    tenants::FieldViolations bad;
    Parse(0, garbage, bad);
    EXPECT_THAT(Fields(bad), ElementsAre("page_token")) << garbage;
  }
}

TEST(PageTokenTest, OversizedTokenIsRefusedBeforeDecoding) {
  tenants::FieldViolations at_limit;
  Parse(0, std::string(kMaxPageTokenLength, 'A'), at_limit);
  ASSERT_THAT(Fields(at_limit), ElementsAre("page_token"));
  EXPECT_THAT(at_limit.violations()[0].description, HasSubstr("not a token"));

  tenants::FieldViolations over;
  Parse(0, std::string(kMaxPageTokenLength + 1, 'A'), over);
  ASSERT_THAT(Fields(over), ElementsAre("page_token"));
  EXPECT_THAT(over.violations()[0].description, HasSubstr("at most 1024 bytes"));
}

TEST(PageTokenTest, SizeAndTokenProblemsAreReportedTogether) {
  tenants::FieldViolations bad;
  Parse(-5, "garbage", bad);
  EXPECT_THAT(Fields(bad), ElementsAre("page_size", "page_token"));
}

TEST(TrimToPageTest, DropsTheLookAheadRow) {
  std::vector<int> rows = {1, 2, 3};
  EXPECT_TRUE(TrimToPage(rows, 2));
  EXPECT_THAT(rows, ElementsAre(1, 2));
  EXPECT_FALSE(TrimToPage(rows, 2));
  EXPECT_THAT(rows, ElementsAre(1, 2));
  EXPECT_FALSE(TrimToPage(rows, 5));
}

}  // namespace
}  // namespace mandant::controller::api
