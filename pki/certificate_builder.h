#ifndef MANDANT_PKI_CERTIFICATE_BUILDER_H_
#define MANDANT_PKI_CERTIFICATE_BUILDER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/name_constraints.h"
#include "pki/openssl_ptr.h"
#include "pki/subject_alt_names.h"

namespace mandant::pki {

enum class ExtendedKeyUsage {
  kServerAuth,
  kClientAuth,
};

// What makes a certificate a CA certificate.
struct CaExtensions {
  // basicConstraints pathLenConstraint: how many CAs may follow below this
  // one. 1 for the Mandant root, 0 for intermediates; -1 leaves it out.
  int path_length = 0;
  // Critical name constraints, when set.
  std::optional<NameConstraints> name_constraints;
};

// Everything a certificate says, as the caller has already decided it.
struct CertificateTemplate {
  // Subject: CN and O, each left out when empty. Leaves in a tenant scope use
  // CN = their first DNS name or no subject at all; a CA needs a CN.
  std::string common_name;
  std::string organization;
  // The subject's key; only its public part is used. Not owned; must outlive
  // the call.
  const EVP_PKEY* public_key = nullptr;
  // Written as given, after syntax checks (pki/subject_alt_names.h). Which
  // names a subject may have is the issuance policy's decision, made before.
  SubjectAltNames subject_alt_names;
  absl::Time not_before;
  absl::Time not_after;
  // Set for a CA certificate, unset for a leaf.
  std::optional<CaExtensions> ca;
  // Leaves: the extended key usages, at least one.
  std::vector<ExtendedKeyUsage> extended_key_usages;
  // Optional "http://" or "https://" URL of the issuer's CRL, written as the
  // certificate's CRL distribution point.
  std::string crl_distribution_point;
};

// Builds and signs an X.509 v3 certificate. This is the raw builder: it
// checks that the template is well-formed, not that the issuer may issue it
// (validity, name constraints, policy); use CertificateAuthority for that.
//
// Always written: a 128-bit random serial (pki/serial.h), the validity as
// given, subjectKeyIdentifier (SHA-1 of the public key, RFC 5280 method 1),
// authorityKeyIdentifier (the issuer's subjectKeyIdentifier), a critical
// basicConstraints and a critical keyUsage. A CA gets CA:TRUE with the path
// length, keyCertSign and cRLSign; a leaf gets CA:FALSE, digitalSignature
// (plus keyEncipherment for an RSA key with serverAuth, for TLS 1.2 RSA key
// exchange) and the extended key usages. The subjectAltName extension is
// critical exactly when the subject is empty (RFC 5280 4.2.1.6). The digest
// follows the signing key (pki/key.h SignatureDigest). A P-256 or P-384
// subject key is written as an uncompressed point, whatever form the key had
// (RFC 5480's mandatory form).
//
// `issuer_cert` nullptr makes the certificate self-signed: `issuer_key` must
// then be the private key of `public_key`. Neither is owned.
//
// INVALID_ARGUMENT naming the field for a malformed template: no public key
// or an unsupported key type (pki/key.h), a malformed name, not_after not
// after not_before, a leaf with neither subject nor SANs or without extended
// key usages, a CA without a CN, a bad CRL URL, an issuer certificate
// without subjectKeyIdentifier, a self-signed template whose key does not
// match issuer_key. INTERNAL when OpenSSL fails.
absl::StatusOr<X509Ptr> BuildCertificate(const CertificateTemplate& tmpl, X509* issuer_cert,
                                         EVP_PKEY* issuer_key);

// Checks a CRL distribution point URL: "http://" or "https://", a host,
// printable ASCII without spaces, at most 2048 characters.
absl::Status ValidateCrlUrl(absl::string_view url);

}  // namespace mandant::pki

#endif  // MANDANT_PKI_CERTIFICATE_BUILDER_H_
