#include "tenants/names.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

#include "tenants/field_violations.h"

namespace mandant::tenants {
namespace {

bool IsLowerAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLabelChar(char c) { return IsLowerAlpha(c) || IsDigit(c) || c == '-'; }

// What follows the tenant id in a cluster name.
constexpr char kClusterCollection[] = "clusters/";

// "tenants/{tenant_id}/clusters/{cluster_id}" split into its ids, which are
// not checked; nullopt when the fixed parts are missing.
std::optional<ParsedClusterName> SplitClusterName(absl::string_view name) {
  absl::string_view rest = name;
  if (!absl::ConsumePrefix(&rest, kTenantNamePrefix)) return std::nullopt;
  const size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) return std::nullopt;
  absl::string_view cluster_id = rest.substr(slash + 1);
  if (!absl::ConsumePrefix(&cluster_id, kClusterCollection)) return std::nullopt;
  return ParsedClusterName{std::string(rest.substr(0, slash)), std::string(cluster_id)};
}

// The first character outside [a-z0-9-], described with its position, or an
// empty string when there is none.
std::string CheckLabelCharacters(absl::string_view id) {
  for (size_t i = 0; i < id.size(); ++i) {
    if (!IsLabelChar(id[i])) {
      return absl::StrCat("must contain only lowercase letters a-z, digits 0-9 and '-'; found ",
                          QuoteForMessage(id.substr(i, 1)), " at position ", i);
    }
  }
  return "";
}

}  // namespace

std::string CheckTenantId(absl::string_view id) {
  if (id.empty()) return "required";
  if (id.size() < static_cast<size_t>(kMinTenantIdLength) ||
      id.size() > static_cast<size_t>(kMaxTenantIdLength)) {
    return absl::StrFormat("must be %d-%d characters, got %d", kMinTenantIdLength,
                           kMaxTenantIdLength, id.size());
  }
  if (std::string problem = CheckLabelCharacters(id); !problem.empty()) return problem;
  if (!IsLowerAlpha(id.front())) {
    return absl::StrCat("must start with a lowercase letter a-z, got ",
                        QuoteForMessage(id.substr(0, 1)));
  }
  if (id.back() == '-') return "must not end with '-'";
  return "";
}

std::string CheckResourceId(absl::string_view id) {
  if (id.empty()) return "required";
  if (id.size() > static_cast<size_t>(kMaxResourceIdLength)) {
    return absl::StrFormat("must be 1-%d characters, got %d", kMaxResourceIdLength, id.size());
  }
  if (std::string problem = CheckLabelCharacters(id); !problem.empty()) return problem;
  if (id.front() == '-') return "must start with a lowercase letter or digit, got \"-\"";
  if (id.back() == '-') return "must not end with '-'";
  return "";
}

std::string CheckTenantName(absl::string_view name) {
  if (name.empty()) return "required";
  if (name.substr(0, sizeof(kTenantNamePrefix) - 1) != kTenantNamePrefix) {
    return absl::StrCat("must have the form \"tenants/{tenant_id}\", got ", QuoteForMessage(name));
  }
  absl::string_view id = name.substr(sizeof(kTenantNamePrefix) - 1);
  if (id.empty()) return "must have the form \"tenants/{tenant_id}\"; the tenant id is missing";
  if (std::string problem = CheckTenantId(id); !problem.empty()) {
    return absl::StrCat("tenant id ", QuoteForMessage(id),
                        " in \"tenants/{tenant_id}\": ", problem);
  }
  return "";
}

absl::StatusOr<std::string> ParseTenantName(absl::string_view name, absl::string_view field) {
  if (std::string problem = CheckTenantName(name); !problem.empty()) {
    FieldViolations violations;
    violations.Add(std::string(field), std::move(problem));
    return violations.ToStatus();
  }
  return std::string(name.substr(sizeof(kTenantNamePrefix) - 1));
}

std::string TenantName(absl::string_view id) { return absl::StrCat(kTenantNamePrefix, id); }

std::string CheckClusterName(absl::string_view name) {
  if (name.empty()) return "required";
  constexpr absl::string_view kForm = "\"tenants/{tenant_id}/clusters/{cluster_id}\"";
  std::optional<ParsedClusterName> parts = SplitClusterName(name);
  if (!parts.has_value()) {
    return absl::StrCat("must have the form ", kForm, ", got ", QuoteForMessage(name));
  }
  if (std::string problem = CheckTenantId(parts->tenant_id); !problem.empty()) {
    return absl::StrCat("tenant id ", QuoteForMessage(parts->tenant_id), " in ", kForm, ": ",
                        problem);
  }
  if (std::string problem = CheckResourceId(parts->cluster_id); !problem.empty()) {
    return absl::StrCat("cluster id ", QuoteForMessage(parts->cluster_id), " in ", kForm, ": ",
                        problem);
  }
  return "";
}

std::optional<ParsedClusterName> ParseClusterName(absl::string_view name) {
  if (!CheckClusterName(name).empty()) return std::nullopt;
  return SplitClusterName(name);
}

}  // namespace mandant::tenants
