#ifndef MANDANT_PKI_KEY_H_
#define MANDANT_PKI_KEY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/openssl_ptr.h"

namespace mandant::pki {

// The key types Mandant's PKI accepts. Everything Mandant generates itself is
// kEcdsaP256 unless asked otherwise.
enum class KeyType {
  kEcdsaP256,
  kEcdsaP384,
  kEd25519,
  kRsa,
};

inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 8192;

// A classified public key.
struct KeyInfo {
  KeyType type = KeyType::kEcdsaP256;
  // The modulus size for kRsa, 0 otherwise.
  int rsa_bits = 0;

  friend bool operator==(const KeyInfo& a, const KeyInfo& b) {
    return a.type == b.type && a.rsa_bits == b.rsa_bits;
  }
};

// "ECDSA P-256", "ECDSA P-384", "Ed25519", "RSA".
absl::string_view KeyTypeName(KeyType type);
// As KeyTypeName, with the size for RSA: "RSA 3072".
std::string DescribeKey(const KeyInfo& key);

// Generates a fresh private key. `rsa_bits` is used for kRsa only and must be
// a multiple of 1024 in [kMinRsaBits, kMaxRsaBits] (INVALID_ARGUMENT
// otherwise). INTERNAL when OpenSSL fails.
absl::StatusOr<EvpPkeyPtr> GenerateKey(KeyType type, int rsa_bits = 2048);

// Classifies `key` (public or private). INVALID_ARGUMENT naming what the key
// is and what is accepted for anything else: DSA, RSA-PSS, other curves,
// Ed448, RSA keys outside [kMinRsaBits, kMaxRsaBits].
absl::StatusOr<KeyInfo> ClassifyKey(const EVP_PKEY* key);

// Checks that a public key of a supported type is safe to certify: OpenSSL's
// public-key check and, for Ed25519, a point not of small order. OpenSSL 3.0
// decodes both the EC point at infinity and small-order Ed25519 points, and
// accepts signatures for them that anyone can forge, so a CSR's
// self-signature proves nothing for such a key. For P-256 and P-384 the
// check is OpenSSL's quick one (not the point at infinity, coordinates in
// range, on the curve): both curves have cofactor 1, so every other point of
// the curve has the group's prime order, and the full check's extra step
// (n*Q = infinity, a scalar multiplication of about 60 us) cannot fail; this
// is SP 800-56A's partial validation, which it allows for such curves. RSA
// gets the full check (a plausible modulus and exponent). INVALID_ARGUMENT
// naming the key type. About 10 us for P-256.
absl::Status ValidatePublicKey(const EVP_PKEY* key, const KeyInfo& info);

// Decodes the key of a SubjectPublicKeyInfo. ECDSA keys on a named P-256 or
// P-384 curve are built by copying a cached key of the curve and setting the
// encoded point, which must decode and lie on the curve (about 10 us);
// Ed25519 keys from their 32 bytes. Every other key, RSA included, goes
// through OpenSSL's generic decoder, which OpenSSL 3.0 sets up afresh for
// every call (about 250 us). Nothing is validated beyond decoding: classify
// with ClassifyKey and check with ValidatePublicKey. INVALID_ARGUMENT when the
// key does not decode. Thread-safe.
absl::StatusOr<EvpPkeyPtr> DecodePublicKey(const X509_PUBKEY* spki);

// The digest a key of this type signs certificates, CRLs and CSRs with:
// SHA-256 for P-256 and RSA, SHA-384 for P-384, nullptr (the algorithm has
// its own) for Ed25519.
const EVP_MD* SignatureDigest(KeyType type);

}  // namespace mandant::pki

#endif  // MANDANT_PKI_KEY_H_
