#include "tenants/tenant_validation.h"

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

#include "mandant/v1/tenant.pb.h"
#include "tenants/field_violations.h"
#include "tenants/names.h"
#include "tenants/quota.h"

namespace mandant::tenants {
namespace {

using mandant::v1::NetworkMode;
using mandant::v1::TenantState;

constexpr char kQuotaPathPrefix[] = "quota.";

// Decodes one UTF-8 sequence at s[*pos] (Unicode 15, table 3-7: no overlong
// forms, no surrogates, nothing above U+10FFFF) and advances *pos. Returns
// false on an ill-formed sequence.
bool DecodeUtf8(absl::string_view s, size_t* pos, uint32_t* code_point) {
  const auto byte = [&s](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = byte(*pos);
  int length;
  uint8_t lo = 0x80;
  uint8_t hi = 0xbf;
  if (b0 < 0x80) {
    *code_point = b0;
    ++*pos;
    return true;
  } else if (b0 >= 0xc2 && b0 <= 0xdf) {
    length = 2;
    *code_point = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    *code_point = b0 & 0x0f;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    *code_point = b0 & 0x07;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return false;
  }
  if (*pos + length > s.size()) return false;
  for (int i = 1; i < length; ++i) {
    const uint8_t b = byte(*pos + i);
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xbf)) return false;
    *code_point = (*code_point << 6) | (b & 0x3f);
  }
  *pos += length;
  return true;
}

bool IsControlOrLayoutCharacter(uint32_t c) {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 ||
         (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

void ValidateTenantNameField(absl::string_view name, absl::string_view field,
                             FieldViolations* out) {
  if (std::string problem = CheckTenantName(name); !problem.empty()) {
    out->Add(std::string(field), std::move(problem));
  }
}

void ValidatePrefixLength(int32_t length, absl::string_view field, const NetworkDefaults& net,
                          FieldViolations* out) {
  if (length == 0 || (length >= net.min_prefix_length && length <= net.max_prefix_length)) return;
  out->Add(std::string(field),
           absl::StrFormat("must be between %d and %d, or 0 for the default of %d; got %d",
                           net.min_prefix_length, net.max_prefix_length, net.default_prefix_length,
                           length));
}

void ValidateNetworkRequest(const mandant::v1::NetworkRequest& request, const NetworkDefaults& net,
                            FieldViolations* out) {
  const int mode = request.mode();
  switch (mode) {
    case mandant::v1::NETWORK_MODE_UNSPECIFIED:
    case mandant::v1::NETWORK_MODE_VXLAN:
      break;
    case mandant::v1::NETWORK_MODE_VLAN:
      if (!net.vlan_enabled) {
        out->Add("tenant.network_request.mode",
                 "VLAN mode is not enabled on this controller (no VLAN pool configured); use "
                 "NETWORK_MODE_VXLAN or leave it unset");
      }
      break;
    default:
      out->Add("tenant.network_request.mode",
               absl::StrFormat("unknown value %d; allowed: NETWORK_MODE_VXLAN (the default), "
                               "NETWORK_MODE_VLAN",
                               mode));
  }
  ValidatePrefixLength(request.node_prefix_length(), "tenant.network_request.node_prefix_length",
                       net, out);
  ValidatePrefixLength(request.storage_prefix_length(),
                       "tenant.network_request.storage_prefix_length", net, out);
}

std::string AllowedUpdatePaths() {
  std::string joined;
  for (absl::string_view path : kUpdatableTenantPaths) {
    if (!joined.empty()) joined += ", ";
    absl::StrAppend(&joined, path);
  }
  return joined;
}

bool IsUpdatablePath(absl::string_view path) {
  for (absl::string_view allowed : kUpdatableTenantPaths) {
    if (path == allowed) return true;
  }
  return false;
}

}  // namespace

void ValidateRequestId(absl::string_view request_id, FieldViolations* out) {
  if (request_id.empty() || IsCanonicalUuid(request_id)) return;
  out->Add("request_id",
           absl::StrCat("must be empty or a UUID of the form 8-4-4-4-12 hex digits, e.g. "
                        "\"123e4567-e89b-12d3-a456-426614174000\"; got ",
                        QuoteForMessage(request_id)));
}

bool IsCanonicalUuid(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

void ValidateDisplayName(absl::string_view display_name, absl::string_view field,
                         FieldViolations* out) {
  size_t pos = 0;
  int64_t code_points = 0;
  while (pos < display_name.size()) {
    const size_t start = pos;
    uint32_t c = 0;
    if (!DecodeUtf8(display_name, &pos, &c)) {
      out->Add(std::string(field),
               absl::StrFormat("must be valid UTF-8; invalid byte 0x%02x at byte offset %d",
                               static_cast<uint8_t>(display_name[start]), start));
      return;
    }
    if (IsControlOrLayoutCharacter(c)) {
      out->Add(std::string(field),
               absl::StrFormat("must hold printable characters only; found control or layout "
                               "character U+%04X at character %d",
                               c, code_points));
      return;
    }
    ++code_points;
  }
  if (code_points > kMaxDisplayNameLength) {
    out->Add(std::string(field), absl::StrFormat("must be at most %d characters, got %d",
                                                 kMaxDisplayNameLength, code_points));
  }
}

FieldViolations ValidateCreateTenantRequest(const mandant::v1::CreateTenantRequest& req,
                                            const NetworkDefaults& net) {
  FieldViolations out;
  if (std::string problem = CheckTenantId(req.tenant_id()); !problem.empty()) {
    out.Add("tenant_id", std::move(problem));
  }
  if (!req.has_tenant()) {
    out.Add("tenant", "required");
  } else {
    const mandant::v1::Tenant& tenant = req.tenant();
    if (!tenant.name().empty() && tenant.name() != TenantName(req.tenant_id())) {
      out.Add("tenant.name", absl::StrCat("must be empty or \"tenants/\" followed by tenant_id (",
                                          QuoteForMessage(TenantName(req.tenant_id())), "); got ",
                                          QuoteForMessage(tenant.name())));
    }
    ValidateDisplayName(tenant.display_name(), "tenant.display_name", &out);
    if (tenant.has_quota()) ValidateQuota(tenant.quota(), "tenant.quota", &out);
    if (tenant.has_network_request()) ValidateNetworkRequest(tenant.network_request(), net, &out);
  }
  ValidateRequestId(req.request_id(), &out);
  return out;
}

FieldViolations ValidateGetTenantRequest(const mandant::v1::GetTenantRequest& req) {
  FieldViolations out;
  ValidateTenantNameField(req.name(), "name", &out);
  return out;
}

FieldViolations ValidateListTenantsRequest(const mandant::v1::ListTenantsRequest& req) {
  FieldViolations out;
  if (req.page_size() < 0 || req.page_size() > kMaxPageSize) {
    out.Add("page_size", absl::StrFormat("must be between 0 and %d (0 for the default), got %d",
                                         kMaxPageSize, req.page_size()));
  }
  if (req.page_token().size() > static_cast<size_t>(kMaxPageTokenLength)) {
    out.Add("page_token",
            absl::StrFormat("must be at most %d bytes, got %d; pass next_page_token unchanged",
                            kMaxPageTokenLength, req.page_token().size()));
  }
  if (!mandant::v1::TenantState_IsValid(req.state())) {
    out.Add("state", absl::StrFormat("unknown value %d; allowed: TENANT_STATE_UNSPECIFIED (all "
                                     "states), TENANT_STATE_ACTIVE, TENANT_STATE_SUSPENDED",
                                     static_cast<int>(req.state())));
  }
  return out;
}

FieldViolations ValidateUpdateTenantRequest(const mandant::v1::UpdateTenantRequest& req) {
  FieldViolations out;
  if (!req.has_tenant()) {
    out.Add("tenant", "required");
  } else {
    ValidateTenantNameField(req.tenant().name(), "tenant.name", &out);
  }
  if (!req.has_update_mask() || req.update_mask().paths().empty()) {
    out.Add("update_mask",
            absl::StrCat("required; name the fields to change, from: ", AllowedUpdatePaths()));
  }
  const mandant::v1::Tenant& tenant = req.tenant();
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::string& path : req.update_mask().paths()) {
    if (!IsUpdatablePath(path)) {
      out.Add("update_mask", absl::StrCat("unknown path ", QuoteForMessage(path),
                                          "; allowed: ", AllowedUpdatePaths()));
      continue;
    }
    if (!seen.insert(path).second) {
      out.Add("update_mask", absl::StrCat("path ", QuoteForMessage(path), " is named twice"));
      continue;
    }
    if (!req.has_tenant()) continue;
    if (path == "display_name") {
      ValidateDisplayName(tenant.display_name(), "tenant.display_name", &out);
    } else if (path == "state") {
      if (tenant.state() != mandant::v1::TENANT_STATE_ACTIVE &&
          tenant.state() != mandant::v1::TENANT_STATE_SUSPENDED) {
        const std::string& name = mandant::v1::TenantState_Name(tenant.state());
        out.Add("tenant.state",
                absl::StrCat("must be TENANT_STATE_ACTIVE or TENANT_STATE_SUSPENDED when "
                             "update_mask names \"state\"; got ",
                             name.empty()
                                 ? absl::StrCat("unknown value ", static_cast<int>(tenant.state()))
                                 : name));
      }
    }
  }
  // "quota" covers every quota field; a field also named on its own is
  // checked once.
  if (!req.has_tenant()) {
    // Already reported; the fields named in the mask have nothing to check.
  } else if (seen.contains("quota")) {
    ValidateQuota(tenant.quota(), "tenant.quota", &out);
  } else {
    for (absl::string_view path : kUpdatableTenantPaths) {
      if (path.substr(0, sizeof(kQuotaPathPrefix) - 1) == kQuotaPathPrefix && seen.contains(path)) {
        ValidateQuotaField(tenant.quota(), path.substr(sizeof(kQuotaPathPrefix) - 1),
                           "tenant.quota", &out);
      }
    }
  }
  ValidateRequestId(req.request_id(), &out);
  return out;
}

FieldViolations ValidateDeleteTenantRequest(const mandant::v1::DeleteTenantRequest& req) {
  FieldViolations out;
  ValidateTenantNameField(req.name(), "name", &out);
  ValidateRequestId(req.request_id(), &out);
  return out;
}

}  // namespace mandant::tenants
