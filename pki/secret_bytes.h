#ifndef MANDANT_PKI_SECRET_BYTES_H_
#define MANDANT_PKI_SECRET_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"

namespace mandant::pki {

// Bytes that must not outlive their use: private keys in PEM or DER, data
// keys, key-encryption keys. The buffer is wiped with OPENSSL_cleanse when
// the object is destroyed or assigned over. Move-only, so that no stray
// copy is left behind; a move hands the buffer over without copying it.
// Not thread-safe for concurrent mutation; const access may be shared.
class SecretBytes {
 public:
  SecretBytes() = default;
  // A zero-filled buffer of `size` bytes, to be written through data().
  explicit SecretBytes(size_t size);
  // Copies `bytes`; the caller remains responsible for wiping its own copy.
  explicit SecretBytes(absl::string_view bytes);
  ~SecretBytes();

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  absl::string_view view() const {
    return absl::string_view(reinterpret_cast<const char*>(bytes_.data()), bytes_.size());
  }
  // Wipes the bytes past `size` and drops them; no-op when already smaller.
  void Truncate(size_t size);

 private:
  void Wipe();

  std::vector<uint8_t> bytes_;
};

}  // namespace mandant::pki

#endif  // MANDANT_PKI_SECRET_BYTES_H_
