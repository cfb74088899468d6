#include "tenants/host_validation.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "common/status_macros.h"
#include "tenants/network_names.h"
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
    out->Add(std::string(field),
             absl::StrCat("must be 10m to 168h, got ", absl::FormatDuration(d)));
  }
  return d;
}

std::string CanonicalUnderlayAddress(absl::string_view address, absl::string_view field,
                                     FieldViolations* out) {
  if (address.empty()) {
    out->Add(std::string(field), "is required: the IPv4 or IPv6 address of the host's underlay");
    return "";
  }
  std::optional<IpAddress> ip = CanonicalIpAddress(address);
  if (!ip) {
    out->Add(std::string(field),
             absl::StrCat("must be an IPv4 or IPv6 address without prefix, got ",
                          QuoteForMessage(address)));
    return "";
  }
  unsigned char bytes[sizeof(in6_addr)] = {};
  inet_pton(ip->family, ip->text.c_str(), bytes);  // canonical, so it parses
  static const unsigned char kZero[sizeof(in6_addr)] = {};
  const bool unusable = ip->family == AF_INET
                            ? bytes[0] == 0 || bytes[0] >= 224  // unspecified, multicast, broadcast
                            : std::memcmp(bytes, kZero, sizeof(kZero)) == 0 || bytes[0] == 0xff;
  if (unusable) {
    out->Add(std::string(field),
             absl::StrCat("must be a unicast address, got ", QuoteForMessage(address)));
    return "";
  }
  return ip->text;
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
