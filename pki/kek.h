#ifndef MANDANT_PKI_KEK_H_
#define MANDANT_PKI_KEK_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "pki/secret_bytes.h"

namespace mandant::pki {

// A key-encryption key: a 256-bit AES key with an id, which sealed blobs
// name (pki/sealing.h) so that the right KEK is found after a rotation.
//
// Text form, in a file (mode 0600, see mandant::ReadSecretFile) or an
// environment variable: one line "<id>:<base64 of the 32 key bytes>", e.g.
//   kek-2025-03:q5X0...Vw8=
// The id is 1-64 characters of A-Z a-z 0-9 . _ -; the key is standard
// base64 (RFC 4648, padding optional). Generate one with Kek::Generate, or
// with: printf 'kek-1:%s\n' "$(openssl rand -base64 32)" > kek && chmod 600 kek
//
// The key bytes are wiped when the Kek is destroyed. Move-only; const access
// is thread-safe.
class Kek {
 public:
  static constexpr size_t kKeySize = 32;

  // INVALID_ARGUMENT naming the problem (never the key) for a malformed text.
  static absl::StatusOr<Kek> Parse(absl::string_view text);
  // Reads the text form from a 0600 file. NOT_FOUND, PERMISSION_DENIED as
  // ReadSecretFile; INVALID_ARGUMENT naming the file for a malformed text.
  static absl::StatusOr<Kek> FromFile(const std::string& path);
  // From environment variable `env` when it is set, otherwise from `file`
  // (mandant::ReadSecret). NOT_FOUND when neither is given.
  static absl::StatusOr<Kek> Load(absl::string_view env, const std::string& file);
  // A fresh random KEK. INVALID_ARGUMENT for a bad id; INTERNAL when the
  // DRBG fails.
  static absl::StatusOr<Kek> Generate(absl::string_view id);

  Kek(Kek&&) = default;
  Kek& operator=(Kek&&) = default;

  const std::string& id() const { return id_; }
  // The 32 key bytes.
  absl::string_view key() const { return key_.view(); }
  // The text form, to be written to a 0600 file.
  SecretBytes ToText() const;

 private:
  Kek(std::string id, SecretBytes key) : id_(std::move(id)), key_(std::move(key)) {}

  std::string id_;
  SecretBytes key_;
};

// The KEKs mandantd holds: the current one, which seals, and older ones,
// which only unseal blobs sealed before a rotation until they are rewrapped.
// Immutable after Create; thread-safe.
class KeyRing {
 public:
  // INVALID_ARGUMENT when two KEKs share an id.
  static absl::StatusOr<KeyRing> Create(Kek current, std::vector<Kek> previous = {});

  KeyRing(KeyRing&&) = default;
  KeyRing& operator=(KeyRing&&) = default;

  const Kek& current() const { return keks_.front(); }
  // Null when no KEK has that id.
  const Kek* Find(absl::string_view id) const;
  // Current first.
  std::vector<std::string> ids() const;

 private:
  explicit KeyRing(std::vector<Kek> keks) : keks_(std::move(keks)) {}

  std::vector<Kek> keks_;
};

}  // namespace mandant::pki

#endif  // MANDANT_PKI_KEK_H_
