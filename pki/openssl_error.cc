#include "pki/openssl_error.h"

#include <string>

#include "absl/strings/str_cat.h"
#include <openssl/err.h>

namespace mandant::pki {

absl::Status OpenSslError(absl::string_view what) {
  return OpenSslError(absl::StatusCode::kInternal, what);
}

absl::Status OpenSslError(absl::StatusCode code, absl::string_view what) {
  std::string text(what);
  const char* sep = ": ";
  const char* data = nullptr;
  int flags = 0;
  // The queue is bounded (16 entries), so this loop ends.
  while (unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    const char* reason = ERR_reason_error_string(e);
    const char* lib = ERR_lib_error_string(e);
    absl::StrAppend(&text, sep, reason != nullptr ? reason : absl::StrCat("error ", e));
    if (lib != nullptr) absl::StrAppend(&text, " (", lib, ")");
    if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') {
      absl::StrAppend(&text, " [", data, "]");
    }
    sep = "; ";
  }
  return absl::Status(code, text);
}

void ClearOpenSslErrors() { ERR_clear_error(); }

}  // namespace mandant::pki
