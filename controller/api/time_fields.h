#ifndef MANDANT_CONTROLLER_API_TIME_FIELDS_H_
#define MANDANT_CONTROLLER_API_TIME_FIELDS_H_

// Range checks for the google.protobuf.Duration and Timestamp fields of
// requests. A client can send any int64 seconds and int32 nanos; these turn
// them into absl::Duration / absl::Time only after checking them, so that no
// arithmetic on a request's value can overflow, and report a field
// violation naming the allowed range otherwise.
//
// Request fields with a Duration or Timestamp (proto/mandant/v1/*.proto):
//   IssueCertificateRequest.ttl, IssueClientCertificateRequest.ttl,
//   ListCertificatesRequest.expire_before, IssuancePolicy.max_ttl and
//   .default_ttl (UpdateIssuancePolicy), PrepareIssuerRequest.validity,
//   CreateHostRequest.bootstrap_token_ttl,
//   IssueBootstrapTokenRequest.bootstrap_token_ttl,
//   GetKubeconfigRequest.ttl (ClusterService, not served yet).
// Output-only timestamps inside request resources (create_time,
// update_time, ...) are ignored by the handlers, as docs/api.md says.
//
// Pure functions, thread-safe.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

#include "tenants/field_violations.h"

namespace mandant::controller::api {

// The latest time a request may name: 9999-12-31T23:59:59.999999999Z, the
// end of google.protobuf.Timestamp's range (RFC 3339 has four-digit years).
inline constexpr int64_t kMaxTimestampSeconds = 253402300799;

// The values a Duration field accepts.
struct DurationRange {
  absl::Duration min;
  absl::Duration max;
  // Whether a fraction of a second is refused.
  bool whole_seconds = true;
};

// Whether `d` is a well-formed google.protobuf.Duration: nanos within
// -999999999..999999999 and of the same sign as seconds. Empty when it is,
// else what is wrong (without echoing more than the two numbers).
std::string DurationFormProblem(const google::protobuf::Duration& d);

// The duration of a request's field: well-formed, within `range`, whole
// seconds when the range asks for them. Otherwise nullopt and one violation
// on `field` ("must be 5m to 2160h, got ..."); a negative value is refused
// whatever `range.min` says.
std::optional<absl::Duration> CheckedDuration(const google::protobuf::Duration& d,
                                              absl::string_view field, const DurationRange& range,
                                              tenants::FieldViolations& bad);

// The time of a request's Timestamp field: nanos 0..999999999 and seconds
// from 0 (1970-01-01T00:00:00Z) to kMaxTimestampSeconds. Otherwise nullopt
// and one violation on `field`.
std::optional<absl::Time> CheckedTimestamp(const google::protobuf::Timestamp& t,
                                           absl::string_view field, tenants::FieldViolations& bad);

}  // namespace mandant::controller::api

#endif  // MANDANT_CONTROLLER_API_TIME_FIELDS_H_
