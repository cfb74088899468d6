#include "tenants/network_names.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "tenants/host_validation.h"
#include "tenants/names.h"

namespace mandant::tenants {
namespace {

using ::mandant::v1::NetworkMode;

constexpr char kVxlanBridgePrefix[] = "mb-x";
constexpr char kVlanBridgePrefix[] = "mb-v";
constexpr char kVxlanLinkPrefix[] = "mx-";
constexpr char kVlanLinkPrefix[] = "mv-";
constexpr int kVniHexDigits = 6;
constexpr int kVlanHexDigits = 4;

absl::Status CheckSegment(NetworkMode mode, uint32_t segment_id) {
  switch (mode) {
    case mandant::v1::NETWORK_MODE_VXLAN:
      if (segment_id < kMinVni || segment_id > kMaxVni) {
        return absl::InvalidArgumentError(
            absl::StrFormat("VNI %u is out of range; use %u-%u", segment_id, kMinVni, kMaxVni));
      }
      return absl::OkStatus();
    case mandant::v1::NETWORK_MODE_VLAN:
      if (segment_id < kMinVlanId || segment_id > kMaxVlanId) {
        return absl::InvalidArgumentError(absl::StrFormat("VLAN ID %u is out of range; use %u-%u",
                                                          segment_id, kMinVlanId, kMaxVlanId));
      }
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("network mode ", static_cast<int>(mode),
                       " is not NETWORK_MODE_VXLAN or NETWORK_MODE_VLAN"));
  }
}

std::string Hex(uint32_t value, int digits) { return absl::StrFormat("%0*x", digits, value); }

// Parses exactly `digits` lowercase hex digits.
std::optional<uint32_t> ParseHex(absl::string_view text, int digits) {
  if (text.size() != static_cast<size_t>(digits)) return std::nullopt;
  uint32_t value = 0;
  for (char c : text) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    value = value * 16 + d;
  }
  return value;
}

std::string Field(absl::string_view prefix, absl::string_view name) {
  return prefix.empty() ? std::string(name) : absl::StrCat(prefix, ".", name);
}

}  // namespace

absl::StatusOr<std::string> TenantBridgeName(NetworkMode mode, uint32_t segment_id) {
  if (absl::Status s = CheckSegment(mode, segment_id); !s.ok()) return s;
  return mode == mandant::v1::NETWORK_MODE_VXLAN
             ? absl::StrCat(kVxlanBridgePrefix, Hex(segment_id, kVniHexDigits))
             : absl::StrCat(kVlanBridgePrefix, Hex(segment_id, kVlanHexDigits));
}

absl::StatusOr<std::string> TenantLinkName(NetworkMode mode, uint32_t segment_id) {
  if (absl::Status s = CheckSegment(mode, segment_id); !s.ok()) return s;
  return mode == mandant::v1::NETWORK_MODE_VXLAN
             ? absl::StrCat(kVxlanLinkPrefix, Hex(segment_id, kVniHexDigits))
             : absl::StrCat(kVlanLinkPrefix, Hex(segment_id, kVlanHexDigits));
}

std::optional<ParsedLinkName> ParseTenantLinkName(absl::string_view name) {
  struct Form {
    absl::string_view prefix;
    bool is_bridge;
    NetworkMode mode;
    int digits;
  };
  static constexpr Form kForms[] = {
      {kVxlanBridgePrefix, true, mandant::v1::NETWORK_MODE_VXLAN, kVniHexDigits},
      {kVlanBridgePrefix, true, mandant::v1::NETWORK_MODE_VLAN, kVlanHexDigits},
      {kVxlanLinkPrefix, false, mandant::v1::NETWORK_MODE_VXLAN, kVniHexDigits},
      {kVlanLinkPrefix, false, mandant::v1::NETWORK_MODE_VLAN, kVlanHexDigits},
  };
  for (const Form& form : kForms) {
    if (name.substr(0, form.prefix.size()) != form.prefix) continue;
    std::optional<uint32_t> id = ParseHex(name.substr(form.prefix.size()), form.digits);
    if (!id.has_value() || !CheckSegment(form.mode, *id).ok()) return std::nullopt;
    return ParsedLinkName{form.is_bridge, form.mode, *id};
  }
  return std::nullopt;
}

bool IsMandantLinkName(absl::string_view name) { return ParseTenantLinkName(name).has_value(); }

bool IsMandantBridgeName(absl::string_view name) {
  std::optional<ParsedLinkName> parsed = ParseTenantLinkName(name);
  return parsed.has_value() && parsed->is_bridge;
}

absl::StatusOr<int> TenantNetworkMtu(NetworkMode mode, int underlay_mtu) {
  int overhead;
  switch (mode) {
    case mandant::v1::NETWORK_MODE_VXLAN:
      overhead = kVxlanOverhead;
      break;
    case mandant::v1::NETWORK_MODE_VLAN:
      overhead = 0;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("network mode ", static_cast<int>(mode),
                       " is not NETWORK_MODE_VXLAN or NETWORK_MODE_VLAN"));
  }
  const int64_t mtu = static_cast<int64_t>(underlay_mtu) - overhead;
  if (mtu < kMinTenantNetworkMtu) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "underlay MTU %d leaves %d for tenant networks, below the minimum %d; raise the "
        "underlay MTU to at least %d",
        underlay_mtu, mtu, kMinTenantNetworkMtu, kMinTenantNetworkMtu + overhead));
  }
  return mtu > kMaxTenantNetworkMtu ? kMaxTenantNetworkMtu : static_cast<int>(mtu);
}

std::optional<IpAddress> CanonicalIpAddress(absl::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN || text.find('\0') != text.npos) {
    return std::nullopt;
  }
  const std::string input(text);
  unsigned char buf[sizeof(in6_addr)];
  char out[INET6_ADDRSTRLEN];
  for (int family : {AF_INET, AF_INET6}) {
    if (inet_pton(family, input.c_str(), buf) == 1 &&
        inet_ntop(family, buf, out, sizeof(out)) != nullptr) {
      return IpAddress{family, out};
    }
  }
  return std::nullopt;
}

FieldViolations ValidateTenantNetworkSpec(const mandant::v1::TenantNetworkSpec& spec,
                                          absl::string_view field_prefix) {
  FieldViolations out;
  if (std::string problem = CheckTenantName(spec.tenant()); !problem.empty()) {
    out.Add(Field(field_prefix, "tenant"), problem);
  }
  const NetworkMode mode = spec.mode();
  const bool vxlan = mode == mandant::v1::NETWORK_MODE_VXLAN;
  const bool vlan = mode == mandant::v1::NETWORK_MODE_VLAN;
  if (!vxlan && !vlan) {
    out.Add(Field(field_prefix, "mode"),
            absl::StrCat("must be NETWORK_MODE_VXLAN or NETWORK_MODE_VLAN, got ",
                         static_cast<int>(mode)));
  }
  if (vxlan) {
    if (spec.vni() < kMinVni || spec.vni() > kMaxVni) {
      out.Add(Field(field_prefix, "vni"),
              absl::StrFormat("must be %u-%u in VXLAN mode, got %u", kMinVni, kMaxVni, spec.vni()));
    }
    if (spec.vlan_id() != 0) {
      out.Add(Field(field_prefix, "vlan_id"),
              absl::StrFormat("must be 0 in VXLAN mode, got %u", spec.vlan_id()));
    }
  }
  if (vlan) {
    if (spec.vlan_id() < kMinVlanId || spec.vlan_id() > kMaxVlanId) {
      out.Add(Field(field_prefix, "vlan_id"),
              absl::StrFormat("must be %u-%u in VLAN mode, got %u", kMinVlanId, kMaxVlanId,
                              spec.vlan_id()));
    }
    if (spec.vni() != 0) {
      out.Add(Field(field_prefix, "vni"),
              absl::StrFormat("must be 0 in VLAN mode, got %u", spec.vni()));
    }
    if (spec.peer_underlay_addresses_size() != 0) {
      out.Add(Field(field_prefix, "peer_underlay_addresses"), "must be empty in VLAN mode");
    }
  }
  const uint32_t segment = vxlan ? spec.vni() : spec.vlan_id();
  absl::StatusOr<std::string> bridge = TenantBridgeName(mode, segment);
  absl::StatusOr<std::string> link = TenantLinkName(mode, segment);
  if (bridge.ok() && spec.bridge_name() != *bridge) {
    out.Add(Field(field_prefix, "bridge_name"),
            absl::StrCat("must be \"", *bridge, "\" for this mode and segment, got ",
                         QuoteForMessage(spec.bridge_name())));
  }
  if (link.ok() && spec.link_name() != *link) {
    out.Add(Field(field_prefix, "link_name"),
            absl::StrCat("must be \"", *link, "\" for this mode and segment, got ",
                         QuoteForMessage(spec.link_name())));
  }
  if (spec.mtu() < kMinTenantNetworkMtu || spec.mtu() > kMaxTenantNetworkMtu) {
    out.Add(Field(field_prefix, "mtu"),
            absl::StrFormat("must be %d-%d, got %d", kMinTenantNetworkMtu, kMaxTenantNetworkMtu,
                            spec.mtu()));
  }
  if (vxlan) {
    std::set<std::string> seen;
    int family = 0;
    for (int i = 0; i < spec.peer_underlay_addresses_size(); ++i) {
      const std::string& peer = spec.peer_underlay_addresses(i);
      const std::string field =
          Field(field_prefix, absl::StrCat("peer_underlay_addresses[", i, "]"));
      // One rule for what a host's underlay address may be, here and in HostService.
      FieldViolations problems;
      const std::string canonical = CanonicalUnderlayAddress(peer, field, &problems);
      if (!problems.empty()) {
        for (const FieldViolation& v : problems.violations()) out.Add(v.field, v.description);
        continue;
      }
      if (canonical != peer) {
        out.Add(field, absl::StrCat("must be in canonical form \"", canonical, "\", got ",
                                    QuoteForMessage(peer)));
        continue;
      }
      std::optional<IpAddress> address = CanonicalIpAddress(peer);
      if (family == 0) family = address->family;
      if (address->family != family) {
        out.Add(field, absl::StrCat("must be of the same address family as the first peer, got \"",
                                    peer, "\""));
        continue;
      }
      if (!seen.insert(peer).second) {
        out.Add(field, absl::StrCat("\"", peer, "\" is listed twice"));
      }
    }
  }
  return out;
}

}  // namespace mandant::tenants
