#include "tenants/field_violations.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/rpc/error_details.pb.h"

namespace mandant::tenants {

void FieldViolations::Add(std::string field, std::string description) {
  violations_.push_back(FieldViolation{std::move(field), std::move(description)});
}

absl::Status FieldViolations::ToStatus() const {
  if (violations_.empty()) return absl::OkStatus();
  google::rpc::BadRequest bad_request;
  for (const FieldViolation& v : violations_) {
    google::rpc::BadRequest::FieldViolation* out = bad_request.add_field_violations();
    out->set_field(v.field);
    out->set_description(v.description);
  }
  absl::Status status(
      absl::StatusCode::kInvalidArgument,
      absl::StrJoin(violations_, "; ", [](std::string* out, const FieldViolation& v) {
        absl::StrAppend(out, v.field, ": ", v.description);
      }));
  status.SetPayload(kBadRequestTypeUrl, absl::Cord(bad_request.SerializeAsString()));
  return status;
}

std::vector<FieldViolation> ViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> result;
  auto payload = status.GetPayload(kBadRequestTypeUrl);
  if (!payload.has_value()) return result;
  google::rpc::BadRequest bad_request;
  if (!bad_request.ParseFromString(std::string(*payload))) return result;
  for (const auto& v : bad_request.field_violations()) {
    result.push_back(FieldViolation{v.field(), v.description()});
  }
  return result;
}

std::string QuoteForMessage(absl::string_view text, size_t max_bytes) {
  const bool cut = text.size() > max_bytes;
  if (cut) text = text.substr(0, max_bytes);
  return absl::StrCat("\"", absl::CHexEscape(absl::string_view(text.data(), text.size())),
                      cut ? "...\"" : "\"");
}

}  // namespace mandant::tenants
