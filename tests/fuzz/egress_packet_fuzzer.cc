// Feeds arbitrary bytes to ParseEgressPacket (agents/edge/egress_packet.h),
// whose input is chosen by whoever sends from a tenant network. The first
// byte picks the log prefix (even: "allow", odd: "deny"; every eighth: the
// next bytes up to a NUL); the rest is the packet. Checks that an accepted
// packet is IPv4 with dotted-quad addresses, its verdict matches the
// prefix, and only a TCP or UDP packet has a port.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

#include "agents/edge/egress_packet.h"

namespace mandant::agent {
namespace {

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

bool IsQuad(const std::string& s) {
  int dots = 0;
  for (char c : s) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3 && s.size() >= 7 && s.size() <= 15;
}

}  // namespace
}  // namespace mandant::agent

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using mandant::agent::EgressVerdict;
  if (size == 0) return 0;
  absl::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string prefix = data[0] % 2 == 0 ? "allow" : "deny";
  if (data[0] % 8 == 7) {
    const size_t nul = input.find('\0');
    prefix = std::string(input.substr(0, nul));
    input = nul == absl::string_view::npos ? absl::string_view() : input.substr(nul + 1);
  }
  std::optional<mandant::agent::EgressPacket> got =
      mandant::agent::ParseEgressPacket(prefix, input);
  if (!got) return 0;
  FUZZ_CHECK(input.size() >= 20);
  FUZZ_CHECK((static_cast<uint8_t>(input[0]) >> 4) == 4);
  FUZZ_CHECK(mandant::agent::IsQuad(got->source_address));
  FUZZ_CHECK(mandant::agent::IsQuad(got->destination_address));
  FUZZ_CHECK(got->protocol == static_cast<uint8_t>(input[9]));
  FUZZ_CHECK(got->verdict ==
             (absl::StartsWith(prefix, "deny") ? EgressVerdict::kDeny : EgressVerdict::kAllow));
  if (got->protocol != 6 && got->protocol != 17) FUZZ_CHECK(got->destination_port == 0);
  return 0;
}
