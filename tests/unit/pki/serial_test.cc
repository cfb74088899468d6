#include "pki/serial.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::IsOkAndHolds;
using ::mandant::testing::StatusIs;

int DerLength(const ASN1_INTEGER* serial) { return i2d_ASN1_INTEGER(serial, nullptr); }

TEST(SerialTest, RandomSerialsAre128BitsPositiveAndUnique) {
  std::set<std::string> seen;
  bool saw_top_bit = false;
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<Asn1IntegerPtr> serial = RandomSerial();
    ASSERT_OK(serial);
    EXPECT_EQ(ASN1_STRING_type(serial->get()), V_ASN1_INTEGER);  // not V_ASN1_NEG_INTEGER
    absl::StatusOr<std::string> hex = SerialToHex(serial->get());
    ASSERT_OK(hex);
    EXPECT_LE(hex->size(), 32u);
    EXPECT_NE((*hex)[0], '0');
    EXPECT_TRUE(seen.insert(*hex).second);
    if (hex->size() == 32 && (*hex)[0] >= '8') {
      saw_top_bit = true;
      // Tag, length, a zero byte that keeps it positive, 16 value bytes.
      EXPECT_EQ(DerLength(serial->get()), 2 + 17);
    }
  }
  // With 200 draws, the chance of never seeing the top bit set is 2^-200.
  EXPECT_TRUE(saw_top_bit);
}

TEST(SerialTest, HexRoundTrips) {
  for (const char* hex : {"1", "a", "ff01", "80000000000000000000000000000001",
                          "123456789abcdef0123456789abcdef012345678"}) {
    absl::StatusOr<Asn1IntegerPtr> serial = SerialFromHex(hex);
    ASSERT_OK(serial);
    EXPECT_THAT(SerialToHex(serial->get()), IsOkAndHolds(std::string(hex)));
  }
  absl::StatusOr<Asn1IntegerPtr> upper = SerialFromHex("00AbC");
  ASSERT_OK(upper);
  EXPECT_THAT(SerialToHex(upper->get()), IsOkAndHolds(std::string("abc")));
}

TEST(SerialTest, RefusesBadHexAndNegativeSerials) {
  for (const char* bad : {"", "xyz", "-1", "0x1f", "123456789abcdef0123456789abcdef0123456789"}) {
    EXPECT_THAT(SerialFromHex(bad), StatusIs(absl::StatusCode::kInvalidArgument, "hex digits"))
        << bad;
  }
  Asn1IntegerPtr negative(ASN1_INTEGER_new());
  ASN1_INTEGER_set(negative.get(), -5);
  EXPECT_THAT(SerialToHex(negative.get()),
              StatusIs(absl::StatusCode::kInvalidArgument, "negative"));
}

}  // namespace
}  // namespace mandant::pki
