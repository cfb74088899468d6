#include "tenants/edge_names.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

#include "tenants/network_names.h"

namespace mandant::tenants {
namespace {

using ::mandant::v1::NetworkMode;

// The segment suffix: the tenant bridge's name without "mb-".
absl::StatusOr<std::string> SegmentSuffix(NetworkMode mode, uint32_t segment_id) {
  absl::StatusOr<std::string> bridge = TenantBridgeName(mode, segment_id);
  if (!bridge.ok()) return bridge.status();
  absl::string_view suffix = *bridge;
  absl::ConsumePrefix(&suffix, kTenantBridgePrefix);
  return std::string(suffix);
}

absl::StatusOr<std::string> EdgeName(absl::string_view prefix, NetworkMode mode,
                                     uint32_t segment_id) {
  absl::StatusOr<std::string> suffix = SegmentSuffix(mode, segment_id);
  if (!suffix.ok()) return suffix.status();
  return absl::StrCat(prefix, *suffix);
}

}  // namespace

absl::StatusOr<std::string> EdgeNamespaceName(NetworkMode mode, uint32_t segment_id) {
  return EdgeName(kEdgeNamespacePrefix, mode, segment_id);
}

absl::StatusOr<std::string> EdgeInsideLinkName(NetworkMode mode, uint32_t segment_id) {
  return EdgeName(kEdgeInsideLinkPrefix, mode, segment_id);
}

absl::StatusOr<std::string> EdgeOutsideLinkName(NetworkMode mode, uint32_t segment_id) {
  return EdgeName(kEdgeOutsideLinkPrefix, mode, segment_id);
}

std::optional<ParsedEdgeName> ParseEdgeName(absl::string_view name) {
  struct Form {
    absl::string_view prefix;
    EdgeObject object;
  };
  static constexpr Form kForms[] = {
      {kEdgeNamespacePrefix, EdgeObject::kNamespace},
      {kEdgeInsideLinkPrefix, EdgeObject::kInsideLink},
      {kEdgeOutsideLinkPrefix, EdgeObject::kOutsideLink},
  };
  for (const Form& form : kForms) {
    absl::string_view suffix = name;
    if (!absl::ConsumePrefix(&suffix, form.prefix)) continue;
    // The suffix is valid exactly when "mb-" + suffix is a tenant bridge name.
    std::optional<ParsedLinkName> bridge =
        ParseTenantLinkName(absl::StrCat(kTenantBridgePrefix, suffix));
    if (!bridge.has_value() || !bridge->is_bridge) return std::nullopt;
    return ParsedEdgeName{form.object, bridge->mode, bridge->segment_id};
  }
  return std::nullopt;
}

}  // namespace mandant::tenants
