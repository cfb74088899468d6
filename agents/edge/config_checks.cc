#include "agents/edge/config_checks.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "tenants/edge_validation.h"
#include "tenants/field_violations.h"

namespace mandant::agent {
namespace {

constexpr size_t kMaxPathLength = 1024;

bool IsPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ',' || c == '+' || c == '@' || c == '/' || c == '-';
}

}  // namespace

absl::Status CheckRenderableEdgeSpec(const mandant::v1::EdgeSpec& spec, absl::string_view what) {
  const absl::Status status = tenants::ValidateEdgeSpec(spec).ToStatus();
  if (status.ok()) return status;
  return absl::InvalidArgumentError(
      absl::StrCat("refusing to render ", what, " for an invalid EdgeSpec: ", status.message()));
}

absl::Status CheckConfigPath(absl::string_view path, absl::string_view option) {
  bool ok = !path.empty() && path.size() <= kMaxPathLength && path.front() == '/';
  for (size_t i = 0; ok && i < path.size(); ++i) ok = IsPathChar(path[i]);
  if (ok) {
    for (absl::string_view part : absl::StrSplit(path.substr(1), '/')) {
      if (part == "." || part == "..") ok = false;
    }
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(option, " must be an absolute path of at most ", kMaxPathLength,
                   " bytes from [A-Za-z0-9_.,+@/-] without \".\" or \"..\" parts, got ",
                   tenants::QuoteForMessage(path)));
}

}  // namespace mandant::agent
