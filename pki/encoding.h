#ifndef MANDANT_PKI_ENCODING_H_
#define MANDANT_PKI_ENCODING_H_

// PEM and DER forms of certificates, CSRs, CRLs and keys. Parsers take
// either form: input that starts with "-----BEGIN " (after white space) is
// PEM, anything else DER. They return INVALID_ARGUMENT with OpenSSL's reason
// for input that does not parse, and never echo the input. Encoders return
// INTERNAL only when OpenSSL fails (out of memory). All functions are
// thread-safe.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/openssl_ptr.h"
#include "pki/secret_bytes.h"

namespace mandant::pki {

// True when `data` looks like PEM.
bool IsPem(absl::string_view data);

// Certificates.
absl::StatusOr<std::string> CertificateToPem(const X509* cert);
absl::StatusOr<std::string> CertificateToDer(const X509* cert);
// Exactly one certificate (trailing data after a PEM block is ignored).
absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem_or_der);
// One or more concatenated PEM certificates, e.g. a trust bundle.
// INVALID_ARGUMENT when there is none.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificateBundle(absl::string_view pem);

// Certificate signing requests (PKCS#10), without any checks: see
// pki/csr.h for parsing a CSR received from a client.
absl::StatusOr<std::string> CsrToPem(const X509_REQ* csr);
absl::StatusOr<std::string> CsrToDer(const X509_REQ* csr);
absl::StatusOr<X509ReqPtr> DecodeCsr(absl::string_view pem_or_der);

// Certificate revocation lists.
absl::StatusOr<std::string> CrlToPem(const X509_CRL* crl);
absl::StatusOr<std::string> CrlToDer(const X509_CRL* crl);
absl::StatusOr<X509CrlPtr> ParseCrl(absl::string_view pem_or_der);

// Private keys as unencrypted PKCS#8 ("-----BEGIN PRIVATE KEY-----"). The
// output is built in OpenSSL's secure heap and returned as SecretBytes.
// Encrypted keys are refused (INVALID_ARGUMENT): Mandant protects keys at
// rest by sealing them (pki/sealing.h), not by PEM passwords. The parser also
// takes the traditional "EC PRIVATE KEY" and "RSA PRIVATE KEY" forms.
absl::StatusOr<SecretBytes> PrivateKeyToPem(const EVP_PKEY* key);
absl::StatusOr<SecretBytes> PrivateKeyToDer(const EVP_PKEY* key);
absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(absl::string_view pem_or_der);

// Public keys as SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----").
absl::StatusOr<std::string> PublicKeyToPem(const EVP_PKEY* key);
absl::StatusOr<std::string> PublicKeyToDer(const EVP_PKEY* key);
absl::StatusOr<EvpPkeyPtr> ParsePublicKey(absl::string_view pem_or_der);

// SHA-256 of the DER SubjectPublicKeyInfo as 64 lower-case hex digits: the
// same key gives the same value in every certificate and CSR. kubeadm's
// --discovery-token-ca-cert-hash is "sha256:" followed by this for the CA.
absl::StatusOr<std::string> PublicKeySha256Hex(const EVP_PKEY* key);
// The same from a parsed SubjectPublicKeyInfo (X509_get_X509_PUBKEY,
// X509_REQ_get_X509_PUBKEY). About ten times faster than from an EVP_PKEY,
// which OpenSSL 3.0 runs through its slow encoder framework.
absl::StatusOr<std::string> PublicKeySha256Hex(const X509_PUBKEY* spki);

// RFC 4514 text of a name, e.g. "CN=api.acme.example.net,O=Mandant".
std::string NameToString(const X509_NAME* name);

}  // namespace mandant::pki

#endif  // MANDANT_PKI_ENCODING_H_
