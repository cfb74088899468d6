#ifndef MANDANT_PKI_OPENSSL_ERROR_H_
#define MANDANT_PKI_OPENSSL_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mandant::pki {

// Drains this thread's OpenSSL error queue into a Status: "<what>: <reason>
// (<library>)[; <reason> ...]", or "<what>" alone when the queue is empty.
// OpenSSL's reason strings and their attached data name the failing
// operation, never key material, so the text is safe to log. The code is
// INTERNAL unless given.
absl::Status OpenSslError(absl::string_view what);
absl::Status OpenSslError(absl::StatusCode code, absl::string_view what);

// Empties this thread's OpenSSL error queue, so that a later OpenSslError
// reports only what the next operation left there.
void ClearOpenSslErrors();

}  // namespace mandant::pki

#endif  // MANDANT_PKI_OPENSSL_ERROR_H_
