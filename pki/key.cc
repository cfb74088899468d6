#include "pki/key.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/params.h>

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
  // Cofactor 1 makes the quick check complete for these curves (key.h).
  const bool prime_order_curve =
      info.type == KeyType::kEcdsaP256 || info.type == KeyType::kEcdsaP384;
  if (ctx == nullptr || (prime_order_curve ? EVP_PKEY_public_check_quick(ctx.get())
                                           : EVP_PKEY_public_check(ctx.get())) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat("the ", DescribeKey(info), " public key is invalid"));
  }
  return absl::OkStatus();
}

namespace {

// A key holding only the domain parameters of `curve` ("P-256"), to copy:
// EVP_PKEY_dup copies the curve's group, where building a key by name
// (EVP_PKEY_fromdata, OpenSSL's decoder) computes it again (about 35 us).
// Never modified after construction, so it may be copied from any thread.
EVP_PKEY* MakeCurveParameters(const char* curve) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(curve), 0),
      OSSL_PARAM_construct_end()};
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_KEY_PARAMETERS, params) != 1) {
    return nullptr;
  }
  return key;
}

// Null when OpenSSL cannot make it; DecodePublicKey then takes the generic
// path.
EVP_PKEY* CurveParameters(int curve_nid) {
  static EVP_PKEY* const p256 = MakeCurveParameters("P-256");
  static EVP_PKEY* const p384 = MakeCurveParameters("P-384");
  switch (curve_nid) {
    case NID_X9_62_prime256v1:
      return p256;
    case NID_secp384r1:
      return p384;
    default:
      return nullptr;
  }
}

// The fast paths of DecodePublicKey; null for a key they do not cover.
EvpPkeyPtr DecodeKnownKey(const X509_PUBKEY* spki) {
  ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* bytes = nullptr;
  int len = 0;
  X509_ALGOR* algor = nullptr;
  if (X509_PUBKEY_get0_param(&algorithm, &bytes, &len, &algor, spki) != 1 || len <= 0) {
    return nullptr;
  }
  int param_type = V_ASN1_UNDEF;
  const void* param = nullptr;
  X509_ALGOR_get0(nullptr, &param_type, &param, algor);
  switch (OBJ_obj2nid(algorithm)) {
    case NID_X9_62_id_ecPublicKey: {
      // Named curves only: explicit parameters take the generic path, and
      // ClassifyKey refuses them.
      if (param_type != V_ASN1_OBJECT) return nullptr;
      EVP_PKEY* parameters = CurveParameters(OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(param)));
      if (parameters == nullptr) return nullptr;
      EvpPkeyPtr key(EVP_PKEY_dup(parameters));
      if (key == nullptr ||
          EVP_PKEY_set1_encoded_public_key(key.get(), bytes, static_cast<size_t>(len)) != 1) {
        return nullptr;
      }
      return key;
    }
    case NID_ED25519:
      if (param_type != V_ASN1_UNDEF || len != 32) return nullptr;
      return EvpPkeyPtr(EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, bytes, 32));
    default:
      return nullptr;
  }
}

}  // namespace

absl::StatusOr<EvpPkeyPtr> DecodePublicKey(const X509_PUBKEY* spki) {
  ClearOpenSslErrors();
  if (spki == nullptr) return absl::InvalidArgumentError("no public key");
  if (EvpPkeyPtr key = DecodeKnownKey(spki); key != nullptr) return key;
  // Whatever the fast path refused, the generic decoder decides on, with its
  // own errors.
  ClearOpenSslErrors();
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(spki, &der);
  if (len <= 0) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "public key does not encode");
  }
  const unsigned char* p = der;
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, len));
  OPENSSL_free(der);
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "public key does not parse");
  }
  return key;
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
