#ifndef MANDANT_PKI_SEALING_H_
#define MANDANT_PKI_SEALING_H_

// Sealing of secrets at rest, above all CA private keys before they reach
// PostgreSQL. Envelope encryption:
//
//   data key   32 fresh random bytes per sealed secret
//   ciphertext AES-256-GCM(data key, random 96-bit nonce, secret)
//   wrapped    AES-256-GCM(KEK, random 96-bit nonce, data key)
//
// The caller's associated data (the row's id, e.g. the CA id) is bound to
// both layers and the KEK id to the wrapped key, so a blob copied to another
// row, or relabelled with another KEK id, does not unseal. Rewrap replaces
// only the wrapped data key, which is how a KEK rotation touches no
// ciphertext. The data key is wrapped with AES-GCM rather than AES key wrap
// (RFC 5649) because GCM authenticates associated data and KWP does not;
// with a random nonce per wrap, one KEK stays within NIST's 2^32 limit for
// far more wraps than Mandant will ever make.
//
// Blob format, version 1 (all integers big-endian):
//   4  magic "MNSK"
//   1  version = 1
//   1  n = length of the KEK id (1-64)
//   n  KEK id
//   12 nonce of the wrapped data key
//   32 wrapped data key
//   16 GCM tag of the wrapped data key
//   12 nonce of the ciphertext
//   m  ciphertext (as long as the secret)
//   16 GCM tag of the ciphertext
// Associated data of the wrap: "mandant-seal-v1-wrap" 0x00, n, KEK id,
// 4-byte length of the caller's data, the caller's data. Of the ciphertext:
// "mandant-seal-v1-data" 0x00, 4-byte length, the caller's data.
//
// Errors never contain key bytes or plaintext. All functions are thread-safe.

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include <openssl/evp.h>

#include "pki/kek.h"
#include "pki/openssl_ptr.h"
#include "pki/secret_bytes.h"

namespace mandant::pki {

inline constexpr size_t kMaxSealedSecret = 1 << 20;

// Seals `secret` (1 byte to kMaxSealedSecret) under `kek` for the row
// `associated_data`. INVALID_ARGUMENT for an empty or oversize secret;
// INTERNAL when OpenSSL fails.
absl::StatusOr<std::string> Seal(const Kek& kek, absl::string_view secret,
                                 absl::string_view associated_data);

// Opens a blob sealed for `associated_data` with any KEK in `ring`.
// DATA_LOSS when the blob is malformed or does not authenticate: a changed
// byte anywhere, or a blob sealed for another row (the two cannot be told
// apart). FAILED_PRECONDITION for a format version this build cannot read,
// and for a KEK id that is not in the ring (the message lists the ids the
// ring has).
absl::StatusOr<SecretBytes> Unseal(const KeyRing& ring, absl::string_view blob,
                                   absl::string_view associated_data);

// Re-wraps the data key of `blob` under `new_kek`, leaving nonce and
// ciphertext as they were. Errors as Unseal (the old wrap is authenticated
// first, so a blob of another row is not rewrapped either).
absl::StatusOr<std::string> Rewrap(const KeyRing& ring, absl::string_view blob,
                                   absl::string_view associated_data, const Kek& new_kek);

// The id of the KEK a blob is sealed with, e.g. to find the blobs a
// rotation has not rewrapped yet. DATA_LOSS for a malformed blob.
absl::StatusOr<std::string> SealedKekId(absl::string_view blob);

// Seal and Unseal for a private key, kept as PKCS#8 DER inside.
absl::StatusOr<std::string> SealPrivateKey(const Kek& kek, const EVP_PKEY* key,
                                           absl::string_view associated_data);
// Errors as Unseal, and DATA_LOSS when the unsealed bytes are not a key.
absl::StatusOr<EvpPkeyPtr> UnsealPrivateKey(const KeyRing& ring, absl::string_view blob,
                                            absl::string_view associated_data);

}  // namespace mandant::pki

#endif  // MANDANT_PKI_SEALING_H_
