#include "pki/sealing.h"

#include <cstdint>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "pki/encoding.h"
#include "pki/openssl_error.h"

namespace mandant::pki {
namespace {

constexpr absl::string_view kMagic = "MNSK";
constexpr uint8_t kVersion = 1;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr size_t kDataKeySize = 32;
constexpr size_t kMaxKekId = 64;

// The parts of a blob, as views into it.
struct Blob {
  absl::string_view header;  // magic, version, id length, id
  absl::string_view kek_id;
  absl::string_view wrap_nonce;
  absl::string_view wrapped_key;
  absl::string_view wrap_tag;
  absl::string_view data_nonce;
  absl::string_view ciphertext;
  absl::string_view data_tag;
};

std::string Label(absl::string_view associated_data) {
  return absl::StrCat("\"", absl::CHexEscape(associated_data.substr(0, 200)), "\"");
}

void AppendLength32(std::string* out, size_t n) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((n >> shift) & 0xff));
}

std::string WrapAad(absl::string_view kek_id, absl::string_view associated_data) {
  std::string aad("mandant-seal-v1-wrap");
  aad.push_back('\0');
  aad.push_back(static_cast<char>(kek_id.size()));
  aad.append(kek_id.data(), kek_id.size());
  AppendLength32(&aad, associated_data.size());
  aad.append(associated_data.data(), associated_data.size());
  return aad;
}

std::string DataAad(absl::string_view associated_data) {
  std::string aad("mandant-seal-v1-data");
  aad.push_back('\0');
  AppendLength32(&aad, associated_data.size());
  aad.append(associated_data.data(), associated_data.size());
  return aad;
}

absl::StatusOr<Blob> ParseBlob(absl::string_view blob, absl::string_view associated_data) {
  auto malformed = [&](absl::string_view why) {
    return absl::DataLossError(
        absl::StrCat("sealed blob for ", Label(associated_data), " is malformed: ", why));
  };
  if (blob.size() < kMagic.size() + 2 || blob.substr(0, kMagic.size()) != kMagic) {
    return malformed("it does not start with the sealed-blob magic");
  }
  const uint8_t version = static_cast<uint8_t>(blob[kMagic.size()]);
  if (version != kVersion) {
    return absl::FailedPreconditionError(absl::StrCat("sealed blob for ", Label(associated_data),
                                                      " has format version ", version,
                                                      "; this build reads version ", kVersion));
  }
  const size_t id_len = static_cast<uint8_t>(blob[kMagic.size() + 1]);
  const size_t header_len = kMagic.size() + 2 + id_len;
  const size_t fixed = header_len + kNonceSize + kDataKeySize + kTagSize + kNonceSize + kTagSize;
  if (id_len == 0 || id_len > kMaxKekId) return malformed("bad KEK id length");
  if (blob.size() <= fixed) return malformed("it is truncated");
  Blob out;
  size_t pos = 0;
  auto take = [&](size_t n) {
    absl::string_view part = blob.substr(pos, n);
    pos += n;
    return part;
  };
  out.header = blob.substr(0, header_len);
  take(kMagic.size() + 2);
  out.kek_id = take(id_len);
  out.wrap_nonce = take(kNonceSize);
  out.wrapped_key = take(kDataKeySize);
  out.wrap_tag = take(kTagSize);
  out.data_nonce = take(kNonceSize);
  out.ciphertext = take(blob.size() - fixed);
  out.data_tag = take(kTagSize);
  return out;
}

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// AES-256-GCM of `plaintext` into `out` (same size); writes the tag.
absl::Status GcmEncrypt(absl::string_view key, absl::string_view nonce, absl::string_view aad,
                        absl::string_view plaintext, uint8_t* out, uint8_t* tag) {
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), Bytes(key), Bytes(nonce), nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + len, &len) != 1) {
    return OpenSslError("AES-256-GCM encryption failed");
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kTagSize),
      OSSL_PARAM_construct_end()};
  if (EVP_CIPHER_CTX_get_params(ctx.get(), params) != 1) {
    return OpenSslError("reading the AES-256-GCM tag failed");
  }
  return absl::OkStatus();
}

// Decrypts into `out` (as large as the ciphertext). False when the tag does
// not authenticate.
absl::StatusOr<bool> GcmDecrypt(absl::string_view key, absl::string_view nonce,
                                absl::string_view aad, absl::string_view ciphertext,
                                absl::string_view tag, uint8_t* out) {
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), Bytes(key), Bytes(nonce), nullptr) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out, &len, Bytes(ciphertext),
                        static_cast<int>(ciphertext.size())) != 1) {
    return OpenSslError("AES-256-GCM decryption failed");
  }
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(
                             OSSL_CIPHER_PARAM_AEAD_TAG, const_cast<char*>(tag.data()), tag.size()),
                         OSSL_PARAM_construct_end()};
  if (EVP_CIPHER_CTX_set_params(ctx.get(), params) != 1) {
    return OpenSslError("setting the AES-256-GCM tag failed");
  }
  const bool ok = EVP_DecryptFinal_ex(ctx.get(), out + len, &len) == 1;
  ClearOpenSslErrors();
  return ok;
}

absl::Status RandomBytes(uint8_t* out, size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) return OpenSslError("the DRBG failed");
  return absl::OkStatus();
}

// Appends nonce, wrapped data key and tag for `data_key` under `kek`.
absl::Status AppendWrap(const Kek& kek, absl::string_view data_key,
                        absl::string_view associated_data, std::string* out) {
  uint8_t nonce[kNonceSize];
  uint8_t wrapped[kDataKeySize];
  uint8_t tag[kTagSize];
  if (absl::Status s = RandomBytes(nonce, sizeof(nonce)); !s.ok()) return s;
  const absl::string_view nonce_view(reinterpret_cast<char*>(nonce), sizeof(nonce));
  if (absl::Status s = GcmEncrypt(kek.key(), nonce_view, WrapAad(kek.id(), associated_data),
                                  data_key, wrapped, tag);
      !s.ok()) {
    return s;
  }
  out->append(nonce_view.data(), nonce_view.size());
  out->append(reinterpret_cast<char*>(wrapped), sizeof(wrapped));
  out->append(reinterpret_cast<char*>(tag), sizeof(tag));
  return absl::OkStatus();
}

std::string Header(const Kek& kek) {
  std::string header(kMagic);
  header.push_back(static_cast<char>(kVersion));
  header.push_back(static_cast<char>(kek.id().size()));
  header += kek.id();
  return header;
}

absl::StatusOr<SecretBytes> UnwrapDataKey(const KeyRing& ring, const Blob& blob,
                                          absl::string_view associated_data) {
  const Kek* kek = ring.Find(blob.kek_id);
  if (kek == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("sealed blob for ", Label(associated_data), " was sealed with KEK \"",
                     absl::CHexEscape(blob.kek_id), "\", which is not loaded (loaded: ",
                     absl::StrJoin(ring.ids(), ", "), "); add that KEK to the key ring"));
  }
  SecretBytes data_key(kDataKeySize);
  absl::StatusOr<bool> ok =
      GcmDecrypt(kek->key(), blob.wrap_nonce, WrapAad(kek->id(), associated_data), blob.wrapped_key,
                 blob.wrap_tag, data_key.data());
  if (!ok.ok()) return ok.status();
  if (!*ok) {
    return absl::DataLossError(
        absl::StrCat("sealed blob for ", Label(associated_data),
                     ": the data key does not authenticate under KEK \"", kek->id(),
                     "\"; the blob was changed, belongs to another row, or the KEK file holds "
                     "another key under this id"));
  }
  return data_key;
}

}  // namespace

absl::StatusOr<std::string> Seal(const Kek& kek, absl::string_view secret,
                                 absl::string_view associated_data) {
  if (secret.empty()) return absl::InvalidArgumentError("nothing to seal: the secret is empty");
  if (secret.size() > kMaxSealedSecret) {
    return absl::InvalidArgumentError(absl::StrCat("secret of ", secret.size(),
                                                   " bytes is larger than the sealing limit of ",
                                                   kMaxSealedSecret));
  }
  ClearOpenSslErrors();
  SecretBytes data_key(kDataKeySize);
  if (RAND_priv_bytes(data_key.data(), static_cast<int>(data_key.size())) != 1) {
    return OpenSslError("generating a data key failed");
  }
  std::string out = Header(kek);
  if (absl::Status s = AppendWrap(kek, data_key.view(), associated_data, &out); !s.ok()) return s;
  uint8_t nonce[kNonceSize];
  if (absl::Status s = RandomBytes(nonce, sizeof(nonce)); !s.ok()) return s;
  const absl::string_view nonce_view(reinterpret_cast<char*>(nonce), sizeof(nonce));
  out.append(nonce_view.data(), nonce_view.size());
  const size_t at = out.size();
  out.resize(at + secret.size() + kTagSize);
  uint8_t* dst = reinterpret_cast<uint8_t*>(&out[at]);
  if (absl::Status s = GcmEncrypt(data_key.view(), nonce_view, DataAad(associated_data), secret,
                                  dst, dst + secret.size());
      !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<SecretBytes> Unseal(const KeyRing& ring, absl::string_view blob,
                                   absl::string_view associated_data) {
  ClearOpenSslErrors();
  absl::StatusOr<Blob> parts = ParseBlob(blob, associated_data);
  if (!parts.ok()) return parts.status();
  absl::StatusOr<SecretBytes> data_key = UnwrapDataKey(ring, *parts, associated_data);
  if (!data_key.ok()) return data_key.status();
  SecretBytes secret(parts->ciphertext.size());
  absl::StatusOr<bool> ok =
      GcmDecrypt(data_key->view(), parts->data_nonce, DataAad(associated_data), parts->ciphertext,
                 parts->data_tag, secret.data());
  if (!ok.ok()) return ok.status();
  if (!*ok) {
    return absl::DataLossError(absl::StrCat(
        "sealed blob for ", Label(associated_data),
        ": the ciphertext does not authenticate; the blob was changed or belongs to another row"));
  }
  return secret;
}

absl::StatusOr<std::string> Rewrap(const KeyRing& ring, absl::string_view blob,
                                   absl::string_view associated_data, const Kek& new_kek) {
  ClearOpenSslErrors();
  absl::StatusOr<Blob> parts = ParseBlob(blob, associated_data);
  if (!parts.ok()) return parts.status();
  absl::StatusOr<SecretBytes> data_key = UnwrapDataKey(ring, *parts, associated_data);
  if (!data_key.ok()) return data_key.status();
  std::string out = Header(new_kek);
  if (absl::Status s = AppendWrap(new_kek, data_key->view(), associated_data, &out); !s.ok()) {
    return s;
  }
  absl::StrAppend(&out, parts->data_nonce, parts->ciphertext, parts->data_tag);
  return out;
}

absl::StatusOr<std::string> SealedKekId(absl::string_view blob) {
  absl::StatusOr<Blob> parts = ParseBlob(blob, "");
  if (!parts.ok()) return parts.status();
  return std::string(parts->kek_id);
}

absl::StatusOr<std::string> SealPrivateKey(const Kek& kek, const EVP_PKEY* key,
                                           absl::string_view associated_data) {
  absl::StatusOr<SecretBytes> der = PrivateKeyToDer(key);
  if (!der.ok()) return der.status();
  return Seal(kek, der->view(), associated_data);
}

absl::StatusOr<EvpPkeyPtr> UnsealPrivateKey(const KeyRing& ring, absl::string_view blob,
                                            absl::string_view associated_data) {
  absl::StatusOr<SecretBytes> der = Unseal(ring, blob, associated_data);
  if (!der.ok()) return der.status();
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKey(der->view());
  if (!key.ok()) {
    return absl::DataLossError(
        absl::StrCat("sealed blob for ", Label(associated_data), " does not hold a private key"));
  }
  return key;
}

}  // namespace mandant::pki
