#ifndef MANDANT_PKI_CSR_H_
#define MANDANT_PKI_CSR_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/key.h"
#include "pki/openssl_ptr.h"
#include "pki/subject_alt_names.h"

namespace mandant::pki {

inline constexpr size_t kMaxCsrSize = 64 * 1024;

// What a client asked for in a PKCS#10 CSR. Only the public key and the
// names are taken from it; other subject attributes and requested
// extensions (key usages, basic constraints, ...) are never copied into a
// certificate.
struct ParsedCsr {
  // The request as parsed. Its key is not decoded (X509_REQ_get0_pubkey
  // returns null): that was done once, into public_key.
  X509ReqPtr request;
  // The requested key, verified to have signed the CSR.
  EvpPkeyPtr public_key;
  KeyInfo key;
  // The subject's (first) CN, empty when there is none.
  std::string common_name;
  // From the requested subjectAltName extension.
  SubjectAltNames subject_alt_names;
};

// Parses a CSR (PEM "CERTIFICATE REQUEST" or DER, at most kMaxCsrSize
// bytes), verifies its self-signature and classifies its key. Which of the
// names a certificate may carry is for the issuance policy to decide.
// INVALID_ARGUMENT, saying what is wrong, for: oversize or unparsable input,
// a signature that does not verify, a key type that is not accepted (see
// ClassifyKey), a key that fails ValidatePublicKey, a CN that is not
// text of at most 64 characters, a repeated subjectAltName extension, and SANs
// of types other than DNS, URI and IP or malformed ones (wildcards included).
// Thread-safe.
absl::StatusOr<ParsedCsr> ParseCsr(absl::string_view pem_or_der);

// Builds a CSR signed by `key` for `common_name` (may be empty) and
// `names`: what `mandantctl pki issue` sends, having generated the key
// locally. INVALID_ARGUMENT for malformed names; INTERNAL when OpenSSL fails.
absl::StatusOr<X509ReqPtr> BuildCsr(EVP_PKEY* key, absl::string_view common_name,
                                    const SubjectAltNames& names);

}  // namespace mandant::pki

#endif  // MANDANT_PKI_CSR_H_
