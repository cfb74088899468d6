#ifndef MANDANT_TENANTS_FIELD_VIOLATIONS_H_
#define MANDANT_TENANTS_FIELD_VIOLATIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mandant::tenants {

// The type URL under which ToStatus() attaches a serialized google.rpc.BadRequest
// as a payload of the absl::Status. The RPC layer copies it into the
// google.rpc.Status details, so gRPC clients see the standard error model.
inline constexpr char kBadRequestTypeUrl[] = "type.googleapis.com/google.rpc.BadRequest";

// One bad field of a request: its path (proto field names joined by '.', e.g.
// "tenant.quota.max_vcpus") and what is wrong with it and what is allowed.
struct FieldViolation {
  std::string field;
  std::string description;

  friend bool operator==(const FieldViolation& a, const FieldViolation& b) {
    return a.field == b.field && a.description == b.description;
  }
};

// Collects every problem of a request so that the caller learns all of them in
// one round trip, not one per retry. Not thread-safe.
class FieldViolations {
 public:
  void Add(std::string field, std::string description);

  bool empty() const { return violations_.empty(); }
  const std::vector<FieldViolation>& violations() const { return violations_; }

  // OK when empty. Otherwise INVALID_ARGUMENT whose message lists every
  // violation in order ("tenant_id: must be ...; tenant.quota.max_vcpus: ...")
  // and which carries a serialized google.rpc.BadRequest under
  // kBadRequestTypeUrl.
  absl::Status ToStatus() const;

 private:
  std::vector<FieldViolation> violations_;
};

// The violations carried by a status made by FieldViolations::ToStatus(); empty
// when the status is OK or carries no (parseable) BadRequest payload.
std::vector<FieldViolation> ViolationsOf(const absl::Status& status);

// Outside input quoted for an error message: in double quotes, non-printable
// bytes and quotes escaped, cut to at most `max_bytes` bytes of input (with
// "..." appended when cut), so a hostile value cannot flood a log or a terminal.
std::string QuoteForMessage(absl::string_view text, size_t max_bytes = 64);

}  // namespace mandant::tenants

#endif  // MANDANT_TENANTS_FIELD_VIOLATIONS_H_
