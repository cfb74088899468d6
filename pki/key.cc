#include "pki/key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "pki/openssl_error.h"

namespace mandant::pki {

absl::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
      return "ECDSA P-256";
    case KeyType::kEcdsaP384:
      return "ECDSA P-384";
    case KeyType::kEd25519:
      return "Ed25519";
    case KeyType::kRsa:
      return "RSA";
  }
  return "unknown";
}

std::string DescribeKey(const KeyInfo& key) {
  if (key.type == KeyType::kRsa) return absl::StrCat("RSA ", key.rsa_bits);
  return std::string(KeyTypeName(key.type));
}

absl::StatusOr<EvpPkeyPtr> GenerateKey(KeyType type, int rsa_bits) {
  ClearOpenSslErrors();
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::kEcdsaP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::kEcdsaP384:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyType::kEd25519:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case KeyType::kRsa:
      if (rsa_bits < kMinRsaBits || rsa_bits > kMaxRsaBits || rsa_bits % 1024 != 0) {
        return absl::InvalidArgumentError(absl::StrCat("cannot generate an RSA key of ", rsa_bits,
                                                       " bits: allowed are multiples of 1024 from ",
                                                       kMinRsaBits, " to ", kMaxRsaBits));
      }
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(rsa_bits));
      break;
  }
  if (key == nullptr) {
    return OpenSslError(absl::StrCat("generating a ", KeyTypeName(type), " key failed"));
  }
  return EvpPkeyPtr(key);
}

absl::StatusOr<KeyInfo> ClassifyKey(const EVP_PKEY* key) {
  static constexpr absl::string_view kAccepted =
      "accepted are ECDSA P-256, ECDSA P-384, Ed25519 and RSA of 2048 to 8192 bits";
  if (key == nullptr) return absl::InvalidArgumentError("no public key");
  if (EVP_PKEY_is_a(key, "ED25519")) return KeyInfo{KeyType::kEd25519, 0};
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[80] = {0};
    size_t len = 0;
    if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        &len)) {
      ClearOpenSslErrors();
      return absl::InvalidArgumentError(
          absl::StrCat("EC key with explicit curve parameters is not supported; ", kAccepted));
    }
    const absl::string_view name(group, len);
    if (name == "prime256v1" || name == "P-256") return KeyInfo{KeyType::kEcdsaP256, 0};
    if (name == "secp384r1" || name == "P-384") return KeyInfo{KeyType::kEcdsaP384, 0};
    return absl::InvalidArgumentError(
        absl::StrCat("EC key on curve ", name, " is not supported; ", kAccepted));
  }
  // Plain "RSA" only: RSA-PSS keys carry restrictions that not every TLS
  // stack honours.
  if (EVP_PKEY_is_a(key, "RSA") && !EVP_PKEY_is_a(key, "RSA-PSS")) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits < kMinRsaBits || bits > kMaxRsaBits) {
      return absl::InvalidArgumentError(
          absl::StrCat("RSA key of ", bits, " bits is not supported; ", kAccepted));
    }
    return KeyInfo{KeyType::kRsa, bits};
  }
  const char* name = EVP_PKEY_get0_type_name(key);
  return absl::InvalidArgumentError(absl::StrCat("key type ", name != nullptr ? name : "(unknown)",
                                                 " is not supported; ", kAccepted));
}

namespace {

// True when the Ed25519 public key `raw` encodes one of the eight points of
// the torsion subgroup, in any encoding. Their y coordinates are 0, 1, p-1
// and +-y8 (orders 4, 1, 2 and 8); the sign bit picks x and is ignored, and
// y is reduced mod p to catch the non-canonical encodings p and p+1.
bool IsSmallOrderEd25519(const unsigned char raw[32]) {
  unsigned char y_bytes[32];
  std::memcpy(y_bytes, raw, sizeof(y_bytes));
  y_bytes[31] &= 0x7f;
  BignumPtr y(BN_lebin2bn(y_bytes, sizeof(y_bytes), nullptr));
  BignumPtr p(BN_new());
  BignumPtr y8(nullptr);
  BIGNUM* parsed = nullptr;
  BN_CTX* ctx = BN_CTX_new();
  bool small = true;  // Refuse when the arithmetic itself fails.
  if (y != nullptr && p != nullptr && ctx != nullptr && BN_set_bit(p.get(), 255) &&
      BN_sub_word(p.get(), 19) && BN_nnmod(y.get(), y.get(), p.get(), ctx) &&
      BN_dec2bn(&parsed,
                "2707385501144840649318225287225658788936804267575313519463743609750303402022")) {
    y8.reset(parsed);
    BignumPtr p_minus_1(BN_dup(p.get()));
    BignumPtr p_minus_y8(BN_new());
    if (p_minus_1 != nullptr && p_minus_y8 != nullptr && BN_sub_word(p_minus_1.get(), 1) &&
        BN_sub(p_minus_y8.get(), p.get(), y8.get())) {
      small = BN_is_zero(y.get()) || BN_is_one(y.get()) || BN_cmp(y.get(), p_minus_1.get()) == 0 ||
              BN_cmp(y.get(), y8.get()) == 0 || BN_cmp(y.get(), p_minus_y8.get()) == 0;
    }
  }
  BN_CTX_free(ctx);
  return small;
}

}  // namespace

absl::Status ValidatePublicKey(const EVP_PKEY* key, const KeyInfo& info) {
  ClearOpenSslErrors();
  if (info.type == KeyType::kEd25519) {
    unsigned char raw[32];
    size_t len = sizeof(raw);
    if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 || len != sizeof(raw)) {
      return OpenSslError(absl::StatusCode::kInvalidArgument, "the Ed25519 public key is invalid");
    }
    if (IsSmallOrderEd25519(raw)) {
      return absl::InvalidArgumentError(
          "the Ed25519 public key is a point of small order, for which anyone can forge "
          "signatures");
    }
    return absl::OkStatus();
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, const_cast<EVP_PKEY*>(key), nullptr));
  if (ctx == nullptr || EVP_PKEY_public_check(ctx.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat("the ", DescribeKey(info), " public key is invalid"));
  }
  return absl::OkStatus();
}

const EVP_MD* SignatureDigest(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP384:
      return EVP_sha384();
    case KeyType::kEd25519:
      return nullptr;
    case KeyType::kEcdsaP256:
    case KeyType::kRsa:
      return EVP_sha256();
  }
  return EVP_sha256();
}

}  // namespace mandant::pki
