#include "pki/kek.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/secrets.h"
#include "pki/openssl_error.h"

namespace mandant::pki {
namespace {

constexpr size_t kMaxIdLength = 64;

absl::Status ValidateId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("KEK id must be 1 to ", kMaxIdLength, " characters"));
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("KEK id \"", absl::CHexEscape(id), "\" may contain only A-Z a-z 0-9 . _ -"));
    }
  }
  return absl::OkStatus();
}

void Wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(&s[0], s.size());
}

// Takes the secret text by value so that this copy, at least, is wiped.
absl::StatusOr<Kek> ParseAndWipe(std::string text, absl::string_view source) {
  absl::StatusOr<Kek> kek = Kek::Parse(text);
  Wipe(text);
  if (!kek.ok() && !source.empty()) {
    return absl::Status(kek.status().code(), absl::StrCat(source, ": ", kek.status().message()));
  }
  return kek;
}

}  // namespace

absl::StatusOr<Kek> Kek::Parse(absl::string_view text) {
  static constexpr absl::string_view kFormat = "expected one line \"<id>:<base64 of 32 bytes>\"";
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("malformed KEK: ", kFormat));
  }
  const absl::string_view id = text.substr(0, colon);
  if (absl::Status s = ValidateId(id); !s.ok()) return s;
  std::string decoded;
  const bool ok = absl::Base64Unescape(text.substr(colon + 1), &decoded);
  if (!ok || decoded.size() != kKeySize) {
    const size_t size = decoded.size();
    Wipe(decoded);
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("KEK \"", id, "\": the key is not valid base64; ", kFormat));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("KEK \"", id, "\": the key has ", size, " bytes, needs ", kKeySize));
  }
  SecretBytes key(decoded);
  Wipe(decoded);
  return Kek(std::string(id), std::move(key));
}

absl::StatusOr<Kek> Kek::FromFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSecretFile(path);
  if (!text.ok()) return text.status();
  return ParseAndWipe(*std::move(text), absl::StrCat("KEK file \"", path, "\""));
}

absl::StatusOr<Kek> Kek::Load(absl::string_view env, const std::string& file) {
  absl::StatusOr<std::string> text = ReadSecret(env, file);
  if (!text.ok()) return text.status();
  return ParseAndWipe(*std::move(text), absl::StrCat("KEK from ", env, " or \"", file, "\""));
}

absl::StatusOr<Kek> Kek::Generate(absl::string_view id) {
  if (absl::Status s = ValidateId(id); !s.ok()) return s;
  SecretBytes key(kKeySize);
  ClearOpenSslErrors();
  if (RAND_priv_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return OpenSslError("generating a KEK failed");
  }
  return Kek(std::string(id), std::move(key));
}

SecretBytes Kek::ToText() const {
  std::string encoded;
  absl::Base64Escape(key_.view(), &encoded);
  std::string text = absl::StrCat(id_, ":", encoded, "\n");
  SecretBytes out(text);
  Wipe(encoded);
  Wipe(text);
  return out;
}

absl::StatusOr<KeyRing> KeyRing::Create(Kek current, std::vector<Kek> previous) {
  std::vector<Kek> keks;
  keks.reserve(previous.size() + 1);
  keks.push_back(std::move(current));
  for (Kek& kek : previous) {
    for (const Kek& have : keks) {
      if (have.id() == kek.id()) {
        return absl::InvalidArgumentError(
            absl::StrCat("two KEKs have the id \"", kek.id(), "\"; KEK ids must be unique"));
      }
    }
    keks.push_back(std::move(kek));
  }
  return KeyRing(std::move(keks));
}

const Kek* KeyRing::Find(absl::string_view id) const {
  for (const Kek& kek : keks_) {
    if (kek.id() == id) return &kek;
  }
  return nullptr;
}

std::vector<std::string> KeyRing::ids() const {
  std::vector<std::string> out;
  for (const Kek& kek : keks_) out.push_back(kek.id());
  return out;
}

}  // namespace mandant::pki
