#ifndef MANDANT_TESTS_SUPPORT_STATUS_MATCHERS_H_
#define MANDANT_TESTS_SUPPORT_STATUS_MATCHERS_H_

// IsOk(), StatusIs(code, substring), IsOkAndHolds(m), ASSERT_OK / EXPECT_OK
// for absl::Status and absl::StatusOr, and GrpcIs(code, substring) for
// grpc::Status.

#include <string>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "grpcpp/support/status.h"

namespace mandant::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "status: " << s;
  return s.ok();
}

MATCHER_P2(StatusIs, code, substring,
           std::string("has code ") + absl::StatusCodeToString(code) + " and a message with \"" +
               std::string(substring) + "\"") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status: " << s;
  return s.code() == code && s.message().find(substring) != absl::string_view::npos;
}

MATCHER_P(IsOkAndHolds, matcher, "is OK and holds a value that matches") {
  if (!arg.ok()) {
    *result_listener << "status: " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(matcher, *arg, result_listener);
}

MATCHER_P2(GrpcIs, code, substring,
           std::string("has gRPC code ") + std::to_string(static_cast<int>(code)) +
               " and a message with \"" + std::string(substring) + "\"") {
  *result_listener << "gRPC status: " << static_cast<int>(arg.error_code()) << " "
                   << arg.error_message();
  return arg.error_code() == code && arg.error_message().find(substring) != std::string::npos;
}

}  // namespace mandant::testing

#define ASSERT_OK(expr) ASSERT_THAT(expr, ::mandant::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT(expr, ::mandant::testing::IsOk())
#define ASSERT_GRPC_OK(expr)                                                                      \
  do {                                                                                            \
    const ::grpc::Status mandant_grpc_status_ = (expr);                                           \
    ASSERT_TRUE(mandant_grpc_status_.ok()) << static_cast<int>(mandant_grpc_status_.error_code()) \
                                           << " " << mandant_grpc_status_.error_message();        \
  } while (0)

#endif  // MANDANT_TESTS_SUPPORT_STATUS_MATCHERS_H_
