#ifndef MANDANT_PKI_CERTIFICATE_AUTHORITY_H_
#define MANDANT_PKI_CERTIFICATE_AUTHORITY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/certificate_builder.h"
#include "pki/key.h"
#include "pki/name_constraints.h"
#include "pki/openssl_ptr.h"
#include "pki/subject_alt_names.h"

namespace mandant::pki {

// Certificates are backdated by this much, so that a verifier whose clock is
// a little behind accepts them at once.
inline constexpr absl::Duration kBackdate = absl::Minutes(1);

// A CA that can sign: its certificate and its private key, decoded once and
// kept (OpenSSL 3 key decoding is slow). Move-only. All const methods are
// safe to call from several threads at once: OpenSSL 3 allows concurrent
// signing with one EVP_PKEY, and the certificate is not modified after
// Create().
class CertificateAuthority {
 public:
  // Takes ownership of both. INVALID_ARGUMENT when `cert` is not a CA
  // certificate (basicConstraints CA:TRUE and keyUsage keyCertSign), when
  // `key` is not the private key of `cert`, or for an unsupported key type.
  static absl::StatusOr<CertificateAuthority> Create(X509Ptr cert, EvpPkeyPtr key);
  // As Create, from the PEM certificate and the PEM or DER private key.
  static absl::StatusOr<CertificateAuthority> FromPem(absl::string_view cert_pem,
                                                      absl::string_view key_pem_or_der);

  CertificateAuthority(CertificateAuthority&&) = default;
  CertificateAuthority& operator=(CertificateAuthority&&) = default;

  // Owned by this object, valid while it lives. Callers must not modify
  // them (the thread-safety above depends on it).
  X509* certificate() const { return cert_.get(); }
  EVP_PKEY* private_key() const { return key_.get(); }
  const KeyInfo& key_info() const { return key_info_; }
  // RFC 4514, e.g. "CN=Mandant tenant acme,O=Mandant".
  const std::string& subject() const { return subject_; }
  absl::Time not_before() const { return not_before_; }
  absl::Time not_after() const { return not_after_; }
  // -1 when the certificate sets no path length.
  int path_length() const { return path_length_; }
  // Null when the certificate has none.
  const NAME_CONSTRAINTS* name_constraints() const { return name_constraints_.get(); }

  // OK when this CA may sign, at `now`, something valid until `not_after`.
  // FAILED_PRECONDITION naming the dates when the CA is not yet valid or has
  // expired at `now`, or when `not_after` is after the CA's own not_after.
  absl::Status CheckCanIssueUntil(absl::Time now, absl::Time not_after) const;

 private:
  CertificateAuthority(X509Ptr cert, EvpPkeyPtr key, KeyInfo key_info, std::string subject,
                       absl::Time not_before, absl::Time not_after, int path_length,
                       NameConstraintsPtr name_constraints);

  X509Ptr cert_;
  EvpPkeyPtr key_;
  KeyInfo key_info_;
  std::string subject_;
  absl::Time not_before_;
  absl::Time not_after_;
  int path_length_;
  NameConstraintsPtr name_constraints_;
};

// A self-signed root.
struct RootCaSpec {
  std::string common_name;
  std::string organization;
  // kEcdsaP256 or kEcdsaP384 for Mandant's roots; the Kubernetes PKI uses
  // the same function.
  KeyType key_type = KeyType::kEcdsaP256;
  absl::Duration validity = absl::Hours(24 * 365 * 10);
  // 1 lets the root sign intermediates that sign leaves.
  int path_length = 1;
};

// Generates a key and a self-signed CA certificate valid from `now` (minus
// kBackdate) for `validity`. INVALID_ARGUMENT for an empty common name, a
// non-positive validity, or a bad key type; INTERNAL when OpenSSL fails.
absl::StatusOr<CertificateAuthority> CreateRootCa(const RootCaSpec& spec, absl::Time now);

// An intermediate, signed by a root.
struct IntermediateCaSpec {
  std::string common_name;
  std::string organization;
  KeyType key_type = KeyType::kEcdsaP256;
  absl::Duration validity = absl::Hours(24 * 365);
  // Tenant intermediates carry the tenant's constraints; see
  // pki/name_constraints.h for their semantics.
  std::optional<NameConstraints> name_constraints;
  // Optional: the URL of the signing root's CRL.
  std::string crl_distribution_point;
};

// Generates a key and a CA certificate with path length 0 signed by
// `issuer`, valid from `now` (minus kBackdate, but not before the issuer) for
// `validity`. FAILED_PRECONDITION (CheckCanIssueUntil) when the issuer is not
// valid at `now` or expires before the new CA would, and when the issuer's
// path length is 0. INVALID_ARGUMENT as CreateRootCa, and for bad
// constraints.
absl::StatusOr<CertificateAuthority> CreateIntermediateCa(const CertificateAuthority& issuer,
                                                          const IntermediateCaSpec& spec,
                                                          absl::Time now);

// An end-entity certificate, as the issuance policy allowed it.
struct LeafSpec {
  // Not owned; only the public part is read.
  const EVP_PKEY* public_key = nullptr;
  // May be empty (then there must be SANs).
  std::string common_name;
  SubjectAltNames subject_alt_names;
  std::vector<ExtendedKeyUsage> extended_key_usages;
  absl::Time not_after;
  // Optional: the URL of the issuer's CRL.
  std::string crl_distribution_point;
};

// Signs a leaf valid from `now` (minus kBackdate, but not before the issuer)
// until spec.not_after. Refuses rather than clamps: the caller cuts a TTL
// short to the issuer's not_after before calling, and says so.
// FAILED_PRECONDITION (CheckCanIssueUntil) when the issuer is expired or not
// yet valid at `now`, or when the leaf would outlive the issuer.
// INVALID_ARGUMENT when not_after is not after `now`, for a malformed spec
// (see BuildCertificate), and when a name is outside the issuer's name
// constraints (CheckNamesPermitted), so that Mandant never signs what a
// verifier would refuse.
absl::StatusOr<X509Ptr> IssueLeaf(const CertificateAuthority& issuer, const LeafSpec& spec,
                                  absl::Time now);

}  // namespace mandant::pki

#endif  // MANDANT_PKI_CERTIFICATE_AUTHORITY_H_
