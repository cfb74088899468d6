#include "agents/edge/egress_packet.h"

#include <netinet/in.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mandant::agent {
namespace {

constexpr size_t kMinIpv4Header = 20;

uint8_t Byte(absl::string_view bytes, size_t i) { return static_cast<uint8_t>(bytes[i]); }

uint16_t Be16(absl::string_view bytes, size_t i) {
  return static_cast<uint16_t>(Byte(bytes, i) << 8 | Byte(bytes, i + 1));
}

std::string Quad(absl::string_view bytes, size_t i) {
  return absl::StrCat(Byte(bytes, i), ".", Byte(bytes, i + 1), ".", Byte(bytes, i + 2), ".",
                      Byte(bytes, i + 3));
}

}  // namespace

std::optional<EgressPacket> ParseEgressPacket(absl::string_view prefix, absl::string_view packet) {
  EgressPacket out;
  prefix = absl::StripTrailingAsciiWhitespace(prefix);
  if (prefix == kEgressAllowPrefix) {
    out.verdict = EgressVerdict::kAllow;
  } else if (prefix == kEgressDenyPrefix) {
    out.verdict = EgressVerdict::kDeny;
  } else {
    return std::nullopt;
  }
  if (packet.size() < kMinIpv4Header || Byte(packet, 0) >> 4 != 4) return std::nullopt;
  const size_t header_length = static_cast<size_t>(Byte(packet, 0) & 0x0f) * 4;
  const size_t total_length = Be16(packet, 2);
  if (header_length < kMinIpv4Header || packet.size() < header_length ||
      total_length < header_length) {
    return std::nullopt;
  }
  out.protocol = Byte(packet, 9);
  out.source_address = Quad(packet, 12);
  out.destination_address = Quad(packet, 16);
  const uint16_t fragment_offset = Be16(packet, 6) & 0x1fff;
  if ((out.protocol == IPPROTO_TCP || out.protocol == IPPROTO_UDP) && fragment_offset == 0) {
    // Source port at +0, destination port at +2 of the transport header.
    if (packet.size() < header_length + 4 || total_length < header_length + 4) {
      return std::nullopt;
    }
    out.destination_port = Be16(packet, header_length + 2);
  }
  return out;
}

}  // namespace mandant::agent
