#include "cli/tenant_requests.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

#include "common/status_macros.h"

namespace mandant::cli {
namespace {

struct QuotaFlag {
  const char* flag;
  const char* field;
  const char* help;
  void (v1::TenantQuota::*set)(int64_t);
};

const QuotaFlag kQuotaFlags[] = {
    {"max-clusters", "max_clusters", "most clusters the tenant may have",
     &v1::TenantQuota::set_max_clusters},
    {"max-nodes", "max_nodes", "most nodes over all its clusters", &v1::TenantQuota::set_max_nodes},
    {"max-vcpus", "max_vcpus", "most vCPUs over all its nodes", &v1::TenantQuota::set_max_vcpus},
    {"max-memory-mib", "max_memory_mib", "most memory over all its nodes, in MiB",
     &v1::TenantQuota::set_max_memory_mib},
    {"max-storage-gib", "max_storage_gib", "most disk over all its nodes, in GiB",
     &v1::TenantQuota::set_max_storage_gib},
};

absl::StatusOr<int64_t> NonNegative(const Invocation& inv, absl::string_view flag) {
  const std::string text = inv.Get(flag);
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " \"", text, "\" is not a whole number >= 0"));
  }
  return value;
}

absl::StatusOr<int32_t> InRange(const Invocation& inv, absl::string_view flag, int32_t lo,
                                int32_t hi) {
  const std::string text = inv.Get(flag);
  int32_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < lo || value > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " \"", text, "\" is not a whole number from ", lo, " to ", hi));
  }
  return value;
}

// Sets the quota fields whose flags were given; appends their mask paths.
absl::Status ApplyQuotaFlags(const Invocation& inv, v1::TenantQuota* quota,
                             std::vector<std::string>* paths) {
  for (const QuotaFlag& q : kQuotaFlags) {
    if (!inv.Has(q.flag)) continue;
    MANDANT_ASSIGN_OR_RETURN(int64_t value, NonNegative(inv, q.flag));
    (quota->*q.set)(value);
    if (paths != nullptr) paths->push_back(absl::StrCat("quota.", q.field));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::TenantState> ParseState(const Invocation& inv) {
  const std::string text = absl::AsciiStrToLower(inv.Get("state"));
  if (text == "active") return v1::TENANT_STATE_ACTIVE;
  if (text == "suspended") return v1::TENANT_STATE_SUSPENDED;
  return absl::InvalidArgumentError(
      absl::StrCat("--state \"", inv.Get("state"), "\" is not one of active, suspended"));
}

absl::StatusOr<std::string> NameArg(const Invocation& inv) {
  if (inv.args.empty()) return absl::InvalidArgumentError("missing argument ID");
  return TenantNameFromArg(inv.args[0]);
}

}  // namespace

std::vector<FlagSpec> QuotaFlagSpecs() {
  std::vector<FlagSpec> flags;
  for (const QuotaFlag& q : kQuotaFlags) flags.push_back({q.flag, '\0', "N", q.help});
  return flags;
}

absl::StatusOr<std::string> TenantNameFromArg(absl::string_view arg) {
  absl::string_view id = arg;
  if (absl::StartsWith(id, "tenants/")) id.remove_prefix(8);
  if (id.empty() || id.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", arg, "\" is not a tenant id; give the id (e.g. acme) or the name (tenants/acme)"));
  }
  return absl::StrCat("tenants/", id);
}

absl::StatusOr<v1::CreateTenantRequest> BuildCreateTenantRequest(
    const Invocation& inv, absl::string_view generated_request_id) {
  v1::CreateTenantRequest request;
  MANDANT_ASSIGN_OR_RETURN(std::string name, NameArg(inv));
  request.set_tenant_id(name.substr(8));
  v1::Tenant* tenant = request.mutable_tenant();
  if (inv.Has("display-name")) tenant->set_display_name(inv.Get("display-name"));
  MANDANT_RETURN_IF_ERROR(ApplyQuotaFlags(inv, tenant->mutable_quota(), nullptr));
  if (tenant->quota().ByteSizeLong() == 0) tenant->clear_quota();

  if (inv.Has("network-mode")) {
    const std::string mode = absl::AsciiStrToLower(inv.Get("network-mode"));
    if (mode == "vxlan") {
      tenant->mutable_network_request()->set_mode(v1::NETWORK_MODE_VXLAN);
    } else if (mode == "vlan") {
      tenant->mutable_network_request()->set_mode(v1::NETWORK_MODE_VLAN);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--network-mode \"", inv.Get("network-mode"),
                                                     "\" is not one of vxlan, vlan"));
    }
  }
  if (inv.Has("node-prefix-length")) {
    MANDANT_ASSIGN_OR_RETURN(int32_t len, InRange(inv, "node-prefix-length", 1, 32));
    tenant->mutable_network_request()->set_node_prefix_length(len);
  }
  if (inv.Has("storage-prefix-length")) {
    MANDANT_ASSIGN_OR_RETURN(int32_t len, InRange(inv, "storage-prefix-length", 1, 32));
    tenant->mutable_network_request()->set_storage_prefix_length(len);
  }

  MANDANT_ASSIGN_OR_RETURN(*request.mutable_request_id(),
                           RequestIdFromFlags(inv, generated_request_id));
  return request;
}

absl::StatusOr<v1::GetTenantRequest> BuildGetTenantRequest(const Invocation& inv) {
  v1::GetTenantRequest request;
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_name(), NameArg(inv));
  return request;
}

absl::StatusOr<v1::ListTenantsRequest> BuildListTenantsRequest(const Invocation& inv) {
  v1::ListTenantsRequest request;
  if (inv.Has("state")) {
    MANDANT_ASSIGN_OR_RETURN(v1::TenantState state, ParseState(inv));
    request.set_state(state);
  }
  if (inv.Has("page-size")) {
    MANDANT_ASSIGN_OR_RETURN(int32_t size, PageSizeFromFlags(inv));
    request.set_page_size(size);
  }
  if (inv.Has("page-token")) request.set_page_token(inv.Get("page-token"));
  return request;
}

absl::StatusOr<v1::UpdateTenantRequest> BuildUpdateTenantRequest(const Invocation& inv) {
  v1::UpdateTenantRequest request;
  v1::Tenant* tenant = request.mutable_tenant();
  MANDANT_ASSIGN_OR_RETURN(*tenant->mutable_name(), NameArg(inv));
  std::vector<std::string> paths;
  if (inv.Has("display-name")) {
    tenant->set_display_name(inv.Get("display-name"));
    paths.push_back("display_name");
  }
  if (inv.Has("state")) {
    MANDANT_ASSIGN_OR_RETURN(v1::TenantState state, ParseState(inv));
    tenant->set_state(state);
    paths.push_back("state");
  }
  MANDANT_RETURN_IF_ERROR(ApplyQuotaFlags(inv, tenant->mutable_quota(), &paths));
  if (paths.empty()) {
    std::vector<std::string> flags = {"--display-name", "--state"};
    for (const QuotaFlag& q : kQuotaFlags) flags.push_back(absl::StrCat("--", q.flag));
    return absl::InvalidArgumentError(
        absl::StrCat("nothing to update: give at least one of ", absl::StrJoin(flags, ", ")));
  }
  for (const std::string& p : paths) request.mutable_update_mask()->add_paths(p);
  if (inv.Has("etag")) tenant->set_etag(inv.Get("etag"));
  return request;
}

absl::StatusOr<v1::DeleteTenantRequest> BuildDeleteTenantRequest(const Invocation& inv) {
  v1::DeleteTenantRequest request;
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_name(), NameArg(inv));
  if (inv.Has("etag")) request.set_etag(inv.Get("etag"));
  return request;
}

absl::StatusOr<std::string> RequestIdFromFlags(const Invocation& inv, absl::string_view generated) {
  if (!inv.Has("request-id")) return std::string(generated);
  const std::string id = inv.Get("request-id");
  if (!IsUuid(id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--request-id \"", id,
        "\" is not a UUID (8-4-4-4-12 hex digits, e.g. the one printed by a failed call)"));
  }
  return absl::AsciiStrToLower(id);
}

absl::StatusOr<int32_t> PageSizeFromFlags(const Invocation& inv) {
  return InRange(inv, "page-size", 1, 1000);
}

std::string NewRequestId() {
  uint8_t b[16];
  size_t got = 0;
  while (got < sizeof(b)) {
    ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < sizeof(b)) {
    // getrandom is missing only on very old kernels; random_device still
    // reads the kernel's generator.
    std::random_device rd;
    for (uint8_t& x : b) x = static_cast<uint8_t>(rd());
  }
  b[6] = (b[6] & 0x0F) | 0x40;  // version 4
  b[8] = (b[8] & 0x3F) | 0x80;  // RFC 4122 variant
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                         b[12], b[13], b[14], b[15]);
}

bool IsUuid(absl::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace mandant::cli
