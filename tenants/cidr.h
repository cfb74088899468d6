#ifndef MANDANT_TENANTS_CIDR_H_
#define MANDANT_TENANTS_CIDR_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mandant::tenants {

// An IPv4 or IPv6 network prefix such as 10.64.3.0/24 or fd00:0:0:7::/64,
// always in canonical form (no host bits set). A value type; cheap to copy.
class Cidr {
 public:
  // Parses "10.64.0.0/24" or "fd00::/64". Strict on purpose, since these come
  // from operators and API callers: no whitespace, the prefix length is
  // required, IPv4 octets are decimal without leading zeros ("010.0.0.0" is
  // rejected, inet_aton would read it as octal), IPv6 has no zone index and at
  // most one "::", and an IPv4 dotted quad is accepted only as the last 32 bits
  // of an IPv6 address. Host bits must be clear. INVALID_ARGUMENT naming the
  // text and the problem, e.g. "10.64.0.1/24 has host bits set; did you mean
  // 10.64.0.0/24?".
  static absl::StatusOr<Cidr> Parse(absl::string_view text);

  bool is_v4() const { return v4_; }
  int prefix_length() const { return prefix_length_; }
  // 32 for IPv4, 128 for IPv6.
  int max_prefix_length() const { return v4_ ? 32 : 128; }

  // Canonical text: dotted quad for IPv4; RFC 5952 for IPv6 (lowercase, no
  // leading zeros, the longest run of two or more zero groups as "::").
  std::string ToString() const;
  // The network address alone, e.g. "10.64.3.0".
  std::string NetworkAddress() const;
  // The network address plus one, e.g. "10.64.3.1" for 10.64.3.0/24: the
  // gateway of a tenant network. For /32 and /128 the only address.
  std::string FirstHostAddress() const;

  // True when every address of `other` is in this prefix. False across
  // address families.
  bool Contains(const Cidr& other) const;
  // True when the two prefixes share at least one address. False across
  // address families.
  bool Overlaps(const Cidr& other) const;

  // The number of aligned blocks of prefix length `len` in this prefix:
  // 2^(len - prefix_length()), saturating at 2^62 for huge IPv6 counts; 0 when
  // `len` is shorter than prefix_length() or longer than max_prefix_length().
  uint64_t SubnetCount(int len) const;
  // The `index`-th aligned block of prefix length `len`, counting from the
  // network address. INVALID_ARGUMENT for a `len` outside
  // [prefix_length(), max_prefix_length()], OUT_OF_RANGE for an index past the
  // last block.
  absl::StatusOr<Cidr> Subnet(int len, uint64_t index) const;

  // Ordered by family (IPv4 first), then network address, then prefix length.
  friend bool operator==(const Cidr& a, const Cidr& b) {
    return a.v4_ == b.v4_ && a.address_ == b.address_ && a.prefix_length_ == b.prefix_length_;
  }
  friend bool operator!=(const Cidr& a, const Cidr& b) { return !(a == b); }
  friend bool operator<(const Cidr& a, const Cidr& b);
  friend std::ostream& operator<<(std::ostream& os, const Cidr& c) { return os << c.ToString(); }
  template <typename H>
  friend H AbslHashValue(H h, const Cidr& c) {
    return H::combine(std::move(h), c.v4_, absl::Uint128High64(c.address_),
                      absl::Uint128Low64(c.address_), c.prefix_length_);
  }

 private:
  friend std::optional<Cidr> FindFreeBlock(const Cidr& supernet, int len, std::vector<Cidr> taken,
                                           uint64_t start);

  Cidr(bool v4, absl::uint128 address, int prefix_length)
      : v4_(v4), address_(address), prefix_length_(prefix_length) {}

  // Addresses with the host bits of this prefix set.
  absl::uint128 host_mask() const;
  absl::uint128 last_address() const { return address_ | host_mask(); }

  bool v4_;
  // The network address; an IPv4 address uses the low 32 bits.
  absl::uint128 address_;
  int prefix_length_;
};

// Finds a free aligned block of prefix length `len` inside `supernet` that
// overlaps none of `taken`. `taken` may hold prefixes of any length and either
// family, in any order, overlapping each other or reaching outside
// `supernet`. The scan starts at block index `start` (modulo the number of
// blocks, see Cidr::SubnetCount) and wraps around once, so callers can spread
// allocations instead of always reusing the lowest free block. std::nullopt
// when every block is taken, or when `len` is outside
// [supernet.prefix_length(), supernet.max_prefix_length()].
// O(n log n) in taken.size(), independent of the number of blocks.
std::optional<Cidr> FindFreeBlock(const Cidr& supernet, int len, std::vector<Cidr> taken,
                                  uint64_t start);

}  // namespace mandant::tenants

#endif  // MANDANT_TENANTS_CIDR_H_
