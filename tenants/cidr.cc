#include "tenants/cidr.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

#include "tenants/field_violations.h"

namespace mandant::tenants {
namespace {

constexpr uint64_t kMaxSubnetCount = uint64_t{1} << 62;
// Parts of the text quoted in a message besides the whole text are cut
// shorter, so that a hostile value cannot blow up the message.
constexpr size_t kMaxQuotedPart = 16;
constexpr char kExpectedForm[] = "expected address/prefix-length such as 10.64.0.0/24 or fd00::/64";

// Bits [0, n) set; n may be anything in [0, 128].
absl::uint128 LowBits(int n) {
  if (n <= 0) return 0;
  if (n >= 128) return absl::Uint128Max();
  return (absl::uint128(1) << n) - 1;
}

absl::uint128 ShiftRight(absl::uint128 x, int n) { return n >= 128 ? absl::uint128(0) : x >> n; }

bool IsDecimal(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a dotted quad. Returns the problem, or an empty string on success.
std::string ParseIpv4(absl::string_view text, uint32_t* out) {
  const size_t octets = std::count(text.begin(), text.end(), '.') + 1;
  if (octets != 4) {
    return absl::StrCat("an IPv4 address has exactly 4 dot-separated octets, got ", octets);
  }
  uint32_t value = 0;
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    const size_t dot = i < 3 ? text.find('.', pos) : text.size();
    absl::string_view octet = text.substr(pos, dot - pos);
    pos = dot + 1;
    if (octet.empty()) return "empty octet in IPv4 address";
    if (!IsDecimal(octet)) {
      return absl::StrCat("IPv4 octet ", QuoteForMessage(octet, kMaxQuotedPart),
                          " is not a decimal number 0-255");
    }
    if (octet.size() > 1 && octet[0] == '0') {
      return absl::StrCat("IPv4 octet ", QuoteForMessage(octet, kMaxQuotedPart),
                          " has a leading zero (it could be read as octal); write it without");
    }
    // IsDecimal checked the digits; at most 3 of them cannot overflow.
    uint32_t n = 0;
    for (char c : octet.substr(0, 4)) n = n * 10 + static_cast<uint32_t>(c - '0');
    if (octet.size() > 3 || n > 255) {
      return absl::StrCat("IPv4 octet ", QuoteForMessage(octet, kMaxQuotedPart),
                          " is greater than 255");
    }
    value = (value << 8) | n;
  }
  *out = value;
  return "";
}

// Parses colon-separated groups (one side of "::"), appending 16-bit groups.
// `may_end_in_ipv4` allows a dotted quad as the last part.
std::string ParseIpv6Groups(absl::string_view text, bool may_end_in_ipv4,
                            std::vector<uint16_t>* groups) {
  if (text.empty()) return "";
  size_t pos = 0;
  while (true) {
    size_t colon = text.find(':', pos);
    bool last = colon == absl::string_view::npos;
    absl::string_view group = text.substr(pos, last ? colon : colon - pos);
    if (group.empty()) return "empty group in IPv6 address (a single ':' at the start or end?)";
    if (group.find('.') != absl::string_view::npos) {
      if (!last || !may_end_in_ipv4) {
        return "an embedded IPv4 address is allowed only as the last 32 bits of an IPv6 address";
      }
      uint32_t v4 = 0;
      if (std::string problem = ParseIpv4(group, &v4); !problem.empty()) return problem;
      groups->push_back(static_cast<uint16_t>(v4 >> 16));
      groups->push_back(static_cast<uint16_t>(v4 & 0xffff));
      return "";
    }
    if (group.size() > 4) {
      return absl::StrCat("IPv6 group ", QuoteForMessage(group, kMaxQuotedPart),
                          " has more than 4 hex digits");
    }
    uint16_t value = 0;
    for (char c : group) {
      int digit = HexValue(c);
      if (digit < 0) {
        return absl::StrCat("IPv6 group ", QuoteForMessage(group, kMaxQuotedPart),
                            " is not hexadecimal (0-9, a-f)");
      }
      value = static_cast<uint16_t>((value << 4) | digit);
    }
    groups->push_back(value);
    if (last) return "";
    pos = colon + 1;
  }
}

std::string ParseIpv6(absl::string_view text, absl::uint128* out) {
  size_t gap = text.find("::");
  std::vector<uint16_t> head;
  std::vector<uint16_t> tail;
  if (gap == absl::string_view::npos) {
    if (std::string problem = ParseIpv6Groups(text, true, &head); !problem.empty()) return problem;
    if (head.size() != 8) {
      return absl::StrCat("an IPv6 address has 8 groups (or \"::\" for a run of zeros), got ",
                          head.size());
    }
  } else {
    if (text.find("::", gap + 1) != absl::string_view::npos) {
      return "\"::\" may appear only once in an IPv6 address";
    }
    if (std::string problem = ParseIpv6Groups(text.substr(0, gap), false, &head);
        !problem.empty()) {
      return problem;
    }
    if (std::string problem = ParseIpv6Groups(text.substr(gap + 2), true, &tail);
        !problem.empty()) {
      return problem;
    }
    if (head.size() + tail.size() > 7) {
      return absl::StrCat("an IPv6 address with \"::\" has at most 7 other groups, got ",
                          head.size() + tail.size());
    }
    head.resize(8 - tail.size(), 0);
    head.insert(head.end(), tail.begin(), tail.end());
  }
  absl::uint128 value = 0;
  for (uint16_t group : head) value = (value << 16) | group;
  *out = value;
  return "";
}

std::string FormatIpv4(uint32_t a) {
  return absl::StrFormat("%d.%d.%d.%d", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

std::string FormatIpv6(absl::uint128 a) {
  uint16_t groups[8];
  for (int i = 7; i >= 0; --i) {
    groups[i] = static_cast<uint16_t>(absl::Uint128Low64(a) & 0xffff);
    a >>= 16;
  }
  // RFC 5952 section 4.2: compress the longest run of two or more zero
  // groups, the first one on a tie.
  int best_start = -1;
  int best_len = 1;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    absl::StrAppendFormat(&out, "%x", groups[i]);
  }
  return out;
}

std::string FormatAddress(bool v4, absl::uint128 a) {
  return v4 ? FormatIpv4(static_cast<uint32_t>(absl::Uint128Low64(a))) : FormatIpv6(a);
}

absl::Status ParseError(absl::string_view text, const std::string& problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid CIDR ", QuoteForMessage(text), ": ", problem));
}

}  // namespace

absl::StatusOr<Cidr> Cidr::Parse(absl::string_view text) {
  if (text.empty()) return ParseError(text, absl::StrCat("empty; ", kExpectedForm));
  size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return ParseError(text, absl::StrCat("missing prefix length; ", kExpectedForm));
  }
  absl::string_view address_text = text.substr(0, slash);
  absl::string_view length_text = text.substr(slash + 1);
  if (address_text.empty()) {
    return ParseError(text, absl::StrCat("missing address; ", kExpectedForm));
  }
  if (address_text.find('%') != absl::string_view::npos) {
    return ParseError(text, "a zone index (%...) is not allowed in a network prefix");
  }
  for (char c : address_text) {
    if (!(HexValue(c) >= 0 || c == '.' || c == ':')) {
      return ParseError(text, absl::StrCat("unexpected character ", QuoteForMessage({&c, 1}),
                                           " in the address; ", kExpectedForm));
    }
  }
  const bool v4 = address_text.find(':') == absl::string_view::npos;
  const int max_length = v4 ? 32 : 128;
  absl::uint128 address = 0;
  if (v4) {
    uint32_t a = 0;
    if (std::string problem = ParseIpv4(address_text, &a); !problem.empty()) {
      return ParseError(text, problem);
    }
    address = a;
  } else if (std::string problem = ParseIpv6(address_text, &address); !problem.empty()) {
    return ParseError(text, problem);
  }
  if (!IsDecimal(length_text) || (length_text.size() > 1 && length_text[0] == '0') ||
      length_text.size() > 3 || std::stoi(std::string(length_text)) > max_length) {
    return ParseError(text, absl::StrFormat("prefix length %s must be a decimal number 0-%d "
                                            "without leading zeros for an %s address",
                                            QuoteForMessage(length_text, kMaxQuotedPart),
                                            max_length, v4 ? "IPv4" : "IPv6"));
  }
  const int length = std::stoi(std::string(length_text));
  Cidr cidr(v4, address, length);
  if ((address & cidr.host_mask()) != 0) {
    Cidr network(v4, address & ~cidr.host_mask(), length);
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(text), " has host bits set; did you mean ", network.ToString(), "?"));
  }
  return cidr;
}

absl::uint128 Cidr::host_mask() const { return LowBits(max_prefix_length() - prefix_length_); }

std::string Cidr::ToString() const {
  return absl::StrCat(FormatAddress(v4_, address_), "/", prefix_length_);
}

std::string Cidr::NetworkAddress() const { return FormatAddress(v4_, address_); }

std::string Cidr::FirstHostAddress() const {
  if (prefix_length_ == max_prefix_length()) return NetworkAddress();
  return FormatAddress(v4_, address_ + 1);
}

bool Cidr::Contains(const Cidr& other) const {
  return v4_ == other.v4_ && prefix_length_ <= other.prefix_length_ &&
         (other.address_ & ~host_mask()) == address_;
}

bool Cidr::Overlaps(const Cidr& other) const { return Contains(other) || other.Contains(*this); }

uint64_t Cidr::SubnetCount(int len) const {
  if (len < prefix_length_ || len > max_prefix_length()) return 0;
  const int bits = len - prefix_length_;
  return bits >= 62 ? kMaxSubnetCount : uint64_t{1} << bits;
}

absl::StatusOr<Cidr> Cidr::Subnet(int len, uint64_t index) const {
  if (len < prefix_length_ || len > max_prefix_length()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cannot split %s into /%d blocks: the block prefix length must be %d-%d",
                        ToString(), len, prefix_length_, max_prefix_length()));
  }
  const int bits = len - prefix_length_;
  if (bits < 64 && index >= (uint64_t{1} << bits)) {
    return absl::OutOfRangeError(
        absl::StrFormat("block %d of %s does not exist: it has %d /%d blocks", index, ToString(),
                        uint64_t{1} << bits, len));
  }
  const int block_bits = max_prefix_length() - len;
  absl::uint128 offset = index == 0 ? absl::uint128(0) : absl::uint128(index) << block_bits;
  return Cidr(v4_, address_ | offset, len);
}

bool operator<(const Cidr& a, const Cidr& b) {
  if (a.v4_ != b.v4_) return a.v4_;
  if (a.address_ != b.address_) return a.address_ < b.address_;
  return a.prefix_length_ < b.prefix_length_;
}

std::optional<Cidr> FindFreeBlock(const Cidr& supernet, int len, std::vector<Cidr> taken,
                                  uint64_t start) {
  const uint64_t count = supernet.SubnetCount(len);
  if (count == 0) return std::nullopt;
  const int block_bits = supernet.max_prefix_length() - len;

  // Each taken prefix that overlaps the supernet becomes the closed range of
  // block indexes it touches. Prefixes are aligned, so a taken prefix is
  // either inside one block or covers whole blocks.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  ranges.reserve(taken.size());
  for (const Cidr& t : taken) {
    if (!supernet.Overlaps(t)) continue;
    absl::uint128 first = std::max(t.address_, supernet.address_) - supernet.address_;
    absl::uint128 last = std::min(t.last_address(), supernet.last_address()) - supernet.address_;
    first = ShiftRight(first, block_bits);
    last = ShiftRight(last, block_bits);
    if (first >= count) continue;  // beyond the first 2^62 blocks that are considered
    ranges.emplace_back(absl::Uint128Low64(first),
                        last >= count ? count - 1 : absl::Uint128Low64(last));
  }
  taken.clear();
  std::sort(ranges.begin(), ranges.end());
  // Merge into disjoint, sorted ranges.
  std::vector<std::pair<uint64_t, uint64_t>> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }

  // The first free index in [from, to), or `to` when there is none.
  auto first_free = [&merged](uint64_t from, uint64_t to) {
    // The first merged range that ends at or after `from`.
    auto it = std::lower_bound(merged.begin(), merged.end(), from,
                               [](const auto& r, uint64_t v) { return r.second < v; });
    uint64_t candidate = from;
    for (; it != merged.end() && candidate < to; ++it) {
      if (it->first > candidate) break;
      candidate = it->second + 1;  // cannot overflow: second < count <= 2^62
    }
    return std::min(candidate, to);
  };

  const uint64_t begin = start % count;
  uint64_t index = first_free(begin, count);
  if (index == count) {
    index = first_free(0, begin);
    if (index == begin) return std::nullopt;
  }
  return supernet.Subnet(len, index).value();
}

}  // namespace mandant::tenants
