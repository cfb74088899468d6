#include "common/uuid.h"

#include <cstdlib>
#include <cstring>

#include "absl/random/random.h"
#include <openssl/rand.h>

namespace mandant {
namespace {

// Canonical 8-4-4-4-12 text of 16 bytes, with the version 4 and variant bits set.
std::string FormatUuidV4(unsigned char b[16]) {
  static constexpr char kHex[] = "0123456789abcdef";
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  std::string out(36, '-');
  size_t pos = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++pos;  // keep the '-'
    out[pos++] = kHex[b[i] >> 4];
    out[pos++] = kHex[b[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string NewUuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) std::abort();  // the CSPRNG failing is not recoverable
  return FormatUuidV4(b);
}

std::string NewCallId() {
  thread_local absl::BitGen rng;
  const uint64_t hi = absl::Uniform<uint64_t>(rng), lo = absl::Uniform<uint64_t>(rng);
  unsigned char b[16];
  std::memcpy(b, &hi, 8);
  std::memcpy(b + 8, &lo, 8);
  return FormatUuidV4(b);
}

}  // namespace mandant
