#include "tenants/host_validation.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "tenants/tenant_validation.h"

namespace mandant::tenants {

std::string CheckHostId(absl::string_view id) {
  if (id.empty() || id.size() > 40) {
    return absl::StrCat("must be 1-40 characters, got ", id.size());
  }
  for (char c : id) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-') {
      return absl::StrCat("may hold only a-z, 0-9 and '-', got ", QuoteForMessage(id));
    }
  }
  if (id.front() == '-' || id.back() == '-') {
    return absl::StrCat("must start and end with a letter or digit, got ", QuoteForMessage(id));
  }
  return "";
}

std::string ParseHostName(absl::string_view name, absl::string_view field, FieldViolations* out) {
  if (!absl::StartsWith(name, "hosts/")) {
    out->Add(std::string(field),
             absl::StrCat("must be \"hosts/{host}\", got ", QuoteForMessage(name)));
    return "";
  }
  std::string id(name.substr(sizeof("hosts/") - 1));
  if (std::string problem = CheckHostId(id); !problem.empty()) {
    out->Add(std::string(field), absl::StrCat("host id ", problem));
    return "";
  }
  return id;
}

absl::StatusOr<std::string> ParseHostName(absl::string_view name, absl::string_view field) {
  FieldViolations bad;
  std::string id = ParseHostName(name, field, &bad);
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  return id;
}

absl::Duration BootstrapTokenTtl(const google::protobuf::Duration* ttl, absl::string_view field,
                                 FieldViolations* out) {
  if (ttl == nullptr) return kDefaultBootstrapTokenTtl;
  const absl::Duration d = absl::Seconds(ttl->seconds()) + absl::Nanoseconds(ttl->nanos());
  if (d < kMinBootstrapTokenTtl || d > kMaxBootstrapTokenTtl) {
    out->Add(std::string(field), absl::StrCat("must be 10m to 168h, got ", absl::FormatDuration(d)));
  }
  return d;
}

std::string CanonicalUnderlayAddress(absl::string_view address, absl::string_view field,
                                     FieldViolations* out) {
  const std::string text(address);
  unsigned char bytes[16];
  char canonical[INET6_ADDRSTRLEN];
  if (address.empty()) {
    out->Add(std::string(field), "is required: the IPv4 or IPv6 address of the host's underlay");
    return "";
  }
  if (text.find('\0') == std::string::npos && inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    const bool unusable = (bytes[0] == 0) || (bytes[0] >= 224) ||
                          (bytes[0] == 255 && bytes[1] == 255 && bytes[2] == 255 && bytes[3] == 255);
    if (unusable) {
      out->Add(std::string(field),
               absl::StrCat("must be a unicast address, got ", QuoteForMessage(address)));
      return "";
    }
    inet_ntop(AF_INET, bytes, canonical, sizeof(canonical));
    return canonical;
  }
  if (text.find('\0') == std::string::npos && inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    static const unsigned char kZero[16] = {};
    if (std::memcmp(bytes, kZero, 16) == 0 || bytes[0] == 0xff) {
      out->Add(std::string(field),
               absl::StrCat("must be a unicast address, got ", QuoteForMessage(address)));
      return "";
    }
    inet_ntop(AF_INET6, bytes, canonical, sizeof(canonical));
    return canonical;
  }
  out->Add(std::string(field), absl::StrCat("must be an IPv4 or IPv6 address without prefix, got ",
                                            QuoteForMessage(address)));
  return "";
}

FieldViolations ValidateCreateHostRequest(const v1::CreateHostRequest& req) {
  FieldViolations out;
  if (std::string problem = CheckHostId(req.host_id()); !problem.empty()) {
    out.Add("host_id", problem);
  }
  CanonicalUnderlayAddress(req.host().underlay_address(), "host.underlay_address", &out);
  BootstrapTokenTtl(req.has_bootstrap_token_ttl() ? &req.bootstrap_token_ttl() : nullptr,
                    "bootstrap_token_ttl", &out);
  ValidateRequestId(req.request_id(), &out);
  return out;
}

}  // namespace mandant::tenants
