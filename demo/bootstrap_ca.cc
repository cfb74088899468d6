#include "demo/bootstrap_ca.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include <openssl/x509.h>

#include "common/files.h"
#include "common/status_macros.h"
#include "pki/certificate_builder.h"
#include "pki/encoding.h"
#include "pki/key.h"

namespace mandant::demo {
namespace {

constexpr char kOrganization[] = "Mandant demo";

struct Pair {
  pki::X509Ptr cert;
  pki::EvpPkeyPtr key;
};

// The certificate and key in `stem`.crt / .key, when both parse and the
// certificate is valid for another day (and, with `issuer`, signed by it).
absl::StatusOr<Pair> Load(const std::string& stem, X509* issuer) {
  MANDANT_ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(stem + ".crt"));
  MANDANT_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(stem + ".key"));
  Pair pair;
  MANDANT_ASSIGN_OR_RETURN(pair.cert, pki::ParseCertificate(cert_pem));
  MANDANT_ASSIGN_OR_RETURN(pair.key, pki::ParsePrivateKey(key_pem));
  if (!CertificateValidForADay(stem + ".crt")) {
    return absl::FailedPreconditionError(absl::StrCat(stem, ".crt expires within a day"));
  }
  if (X509_check_private_key(pair.cert.get(), pair.key.get()) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(stem, ".key does not match"));
  }
  if (issuer != nullptr && X509_verify(pair.cert.get(), X509_get0_pubkey(issuer)) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(stem, ".crt is not signed by the CA"));
  }
  return pair;
}

// Key first: a certificate without its key is made again on the next run.
absl::Status Save(const std::string& stem, const Pair& pair) {
  MANDANT_ASSIGN_OR_RETURN(pki::SecretBytes key_pem, pki::PrivateKeyToPem(pair.key.get()));
  MANDANT_RETURN_IF_ERROR(WriteFileAtomically(stem + ".key", key_pem.view(), 0600));
  MANDANT_ASSIGN_OR_RETURN(std::string cert_pem, pki::CertificateToPem(pair.cert.get()));
  return WriteFileAtomically(stem + ".crt", cert_pem, 0644);
}

absl::StatusOr<Pair> Issue(pki::CertificateTemplate tmpl, const Pair* issuer) {
  Pair pair;
  MANDANT_ASSIGN_OR_RETURN(pair.key, pki::GenerateKey(pki::KeyType::kEcdsaP256));
  tmpl.public_key = pair.key.get();
  tmpl.organization = kOrganization;
  tmpl.not_before = absl::Now() - absl::Minutes(5);
  MANDANT_ASSIGN_OR_RETURN(pair.cert,
                           pki::BuildCertificate(tmpl, issuer ? issuer->cert.get() : nullptr,
                                                 issuer ? issuer->key.get() : pair.key.get()));
  return pair;
}

}  // namespace

bool CertificateValidForADay(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) return false;
  absl::StatusOr<pki::X509Ptr> cert = pki::ParseCertificate(*pem);
  if (!cert.ok()) return false;
  time_t tomorrow = absl::ToTimeT(absl::Now() + absl::Hours(24));
  return X509_cmp_time(X509_get0_notAfter(cert->get()), &tomorrow) > 0;
}

absl::Status EnsureBootstrapCa(const std::string& tls_dir) {
  const std::string ca_stem = tls_dir + "/ca";
  const std::string server_stem = tls_dir + "/postgres";
  absl::StatusOr<Pair> ca = Load(ca_stem, nullptr);
  if (!ca.ok()) {
    std::printf("==> creating the demo CA (%s.crt)\n", ca_stem.c_str());
    pki::CertificateTemplate tmpl;
    tmpl.common_name = "Mandant demo CA";
    tmpl.not_after = absl::Now() + absl::Hours(24 * 825);
    tmpl.ca = pki::CaExtensions{};
    MANDANT_ASSIGN_OR_RETURN(ca, Issue(tmpl, nullptr));
    MANDANT_RETURN_IF_ERROR(Save(ca_stem, *ca));
  }
  if (Load(server_stem, ca->cert.get()).ok()) return absl::OkStatus();
  std::printf("==> issuing the postgres server certificate (%s.crt)\n", server_stem.c_str());
  pki::CertificateTemplate tmpl;
  tmpl.common_name = "localhost";
  tmpl.subject_alt_names.dns_names = {"localhost"};
  tmpl.subject_alt_names.ip_addresses = {"127.0.0.1", "::1"};
  tmpl.not_after = absl::Now() + absl::Hours(24 * 397);
  tmpl.extended_key_usages = {pki::ExtendedKeyUsage::kServerAuth};
  MANDANT_ASSIGN_OR_RETURN(Pair server, Issue(tmpl, &*ca));
  return Save(server_stem, server);
}

}  // namespace mandant::demo
