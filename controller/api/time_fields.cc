#include "controller/api/time_fields.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace mandant::controller::api {
namespace {

constexpr int32_t kMaxNanos = 999999999;

std::string DescribeRaw(int64_t seconds, int32_t nanos) {
  return absl::StrCat("{seconds: ", seconds, ", nanos: ", nanos, "}");
}

}  // namespace

std::string DurationFormProblem(const google::protobuf::Duration& d) {
  if (d.nanos() < -kMaxNanos || d.nanos() > kMaxNanos) {
    return absl::StrCat("nanos must be -999999999 to 999999999, got ",
                        DescribeRaw(d.seconds(), d.nanos()));
  }
  if ((d.seconds() > 0 && d.nanos() < 0) || (d.seconds() < 0 && d.nanos() > 0)) {
    return absl::StrCat("seconds and nanos must have the same sign, got ",
                        DescribeRaw(d.seconds(), d.nanos()));
  }
  return "";
}

std::optional<absl::Duration> CheckedDuration(const google::protobuf::Duration& d,
                                              absl::string_view field, const DurationRange& range,
                                              tenants::FieldViolations& bad) {
  const std::string allowed =
      absl::StrCat(absl::FormatDuration(range.min), " to ", absl::FormatDuration(range.max),
                   range.whole_seconds ? " in whole seconds" : "");
  if (std::string problem = DurationFormProblem(d); !problem.empty()) {
    bad.Add(std::string(field), absl::StrCat("is not a valid duration: ", problem));
    return std::nullopt;
  }
  // absl::Duration holds any int64 seconds exactly, so this cannot
  // overflow; the bounds below are far inside its range.
  const absl::Duration value = absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
  if (value < absl::ZeroDuration() || value < range.min || value > range.max) {
    bad.Add(std::string(field),
            absl::StrCat("must be ", allowed, ", got ", absl::FormatDuration(value)));
    return std::nullopt;
  }
  if (range.whole_seconds && d.nanos() != 0) {
    bad.Add(std::string(field),
            absl::StrCat("must be ", allowed, ", got ", absl::FormatDuration(value)));
    return std::nullopt;
  }
  return value;
}

std::optional<absl::Time> CheckedTimestamp(const google::protobuf::Timestamp& t,
                                           absl::string_view field, tenants::FieldViolations& bad) {
  if (t.nanos() < 0 || t.nanos() > kMaxNanos || t.seconds() < 0 ||
      t.seconds() > kMaxTimestampSeconds) {
    bad.Add(std::string(field),
            absl::StrCat("must be a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z "
                         "(seconds 0 to ",
                         kMaxTimestampSeconds, ", nanos 0 to 999999999), got ",
                         DescribeRaw(t.seconds(), t.nanos())));
    return std::nullopt;
  }
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

}  // namespace mandant::controller::api
