#include "controller/store/pki_store.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace mandant::controller::store {
namespace {

TEST(TimestampParamTest, MicrosecondsInUtc) {
  EXPECT_EQ(TimestampParam(absl::FromUnixMicros(1700000000123456)),
            "2023-11-14T22:13:20.123456+00:00");
  EXPECT_EQ(TimestampParam(absl::UnixEpoch()), "1970-01-01T00:00:00.000000+00:00");
}

TEST(TextArrayParamTest, QuotesEveryElement) {
  EXPECT_EQ(TextArrayParam({}), "{}");
  EXPECT_EQ(TextArrayParam({"a", "b c"}), "{\"a\",\"b c\"}");
  // PostgreSQL array literal quoting: only '"' and '\' are escaped.
  EXPECT_EQ(TextArrayParam({"x\"y", "back\\slash", "{,}"}),
            "{\"x\\\"y\",\"back\\\\slash\",\"{,}\"}");
  EXPECT_EQ(TextArrayParam({""}), "{\"\"}");
}

}  // namespace
}  // namespace mandant::controller::store
