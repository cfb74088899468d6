#ifndef MANDANT_TESTS_UNIT_PKI_PKI_TEST_UTIL_H_
#define MANDANT_TESTS_UNIT_PKI_PKI_TEST_UTIL_H_

// Helpers shared by the pki tests: chain verification through OpenSSL's own
// verifier and through the openssl command line, and a small tenant
// hierarchy.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include <openssl/x509.h>

#include "pki/certificate_authority.h"
#include "pki/csr.h"
#include "pki/openssl_ptr.h"

namespace mandant::pki::testing {

struct VerifyOptions {
  std::vector<X509*> trusted;
  std::vector<X509*> untrusted;
  std::vector<X509_CRL*> crls;
  // Added to X509_V_FLAG_X509_STRICT, which is always set.
  unsigned long flags = 0;
  // Verification time; now when unset.
  absl::Time at = absl::InfinitePast();
};

// X509_verify_cert's result: X509_V_OK or the X509_V_ERR_* code.
int VerifyWithOpenSsl(X509* leaf, const VerifyOptions& options);
// "ok" or OpenSSL's text for the code, for failure messages.
std::string VerifyErrorText(int code);

// Runs `openssl verify -x509_strict [extra...] -CAfile <trusted>
// [-untrusted <untrusted>] [-CRLfile <crl>] <leaf>` on PEMs written to a
// fresh temporary directory. OK when the command succeeds; otherwise the
// status carries openssl's output.
absl::Status VerifyWithOpenSslCli(const std::string& leaf_pem,
                                  const std::vector<std::string>& trusted_pems,
                                  const std::vector<std::string>& untrusted_pems,
                                  const std::string& crl_pem = "",
                                  const std::vector<std::string>& extra_args = {});

// Runs a shell pipeline with `input` written to a temporary file named by
// "$IN" in `script`; returns stdout.
absl::StatusOr<std::string> RunShell(const std::string& script, absl::string_view input);

std::string Pem(const X509* cert);

// A root and the intermediate of tenant `tenant`, constrained to
// "<tenant>.svc.example.net", SPIFFE trust domain "<tenant>.example.net" and
// `ip_range`.
struct TenantHierarchy {
  CertificateAuthority root;
  CertificateAuthority intermediate;
};
NameConstraints TenantConstraints(absl::string_view tenant, absl::string_view ip_range);
absl::StatusOr<CertificateAuthority> MakeRoot(absl::Time now);
absl::StatusOr<CertificateAuthority> MakeTenantCa(const CertificateAuthority& root,
                                                  absl::string_view tenant,
                                                  absl::string_view ip_range, absl::Time now);

// A leaf for `names` (server and client auth, 1 day) with a fresh P-256 key.
struct Leaf {
  X509Ptr cert;
  EvpPkeyPtr key;
};
absl::StatusOr<Leaf> IssueTestLeaf(const CertificateAuthority& ca, const SubjectAltNames& names,
                                   absl::Time now);
// The same, through the raw builder: no issuer or name-constraint checks, as
// a CA key holder could make it by hand.
absl::StatusOr<Leaf> HandMadeLeaf(const CertificateAuthority& ca, const SubjectAltNames& names,
                                  absl::Time now);

// A CSR for `common_name` (may be empty) and `names`, signed by `key`, as
// PEM; and the same through ParseCsr, as the controller gets it.
absl::StatusOr<std::string> CsrPem(EVP_PKEY* key, absl::string_view common_name,
                                   const SubjectAltNames& names);
absl::StatusOr<ParsedCsr> ParsedCsrFor(EVP_PKEY* key, absl::string_view common_name,
                                       const SubjectAltNames& names);

// Keys Mandant does not accept, by name: "DSA", "RSA-1024", "P-521",
// "secp256k1", "Ed448", "X25519", "RSA-PSS".
absl::StatusOr<EvpPkeyPtr> GenerateUnsupportedKey(absl::string_view kind);

}  // namespace mandant::pki::testing

#endif  // MANDANT_TESTS_UNIT_PKI_PKI_TEST_UTIL_H_
