#include "pki/kubernetes_pki.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "pki/certificate_authority.h"
#include "pki/encoding.h"

namespace mandant::pki {
namespace {

absl::StatusOr<KubernetesCa> MakeCa(absl::string_view common_name,
                                    const KubernetesPkiOptions& options, absl::Time now) {
  RootCaSpec spec;
  spec.common_name = std::string(common_name);
  spec.key_type = options.ca_key_type;
  spec.validity = options.ca_validity;
  spec.path_length = 0;
  absl::StatusOr<CertificateAuthority> ca = CreateRootCa(spec, now);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::string> cert = CertificateToPem(ca->certificate());
  if (!cert.ok()) return cert.status();
  absl::StatusOr<SecretBytes> key = PrivateKeyToPem(ca->private_key());
  if (!key.ok()) return key.status();
  return KubernetesCa{*std::move(cert), *std::move(key)};
}

}  // namespace

absl::StatusOr<KubernetesPki> GenerateKubernetesPki(absl::Time now,
                                                    const KubernetesPkiOptions& options) {
  KubernetesPki pki;
  const std::pair<absl::string_view, KubernetesCa*> cas[] = {
      {"kubernetes", &pki.cluster_ca},
      {"etcd-ca", &pki.etcd_ca},
      {"front-proxy-ca", &pki.front_proxy_ca},
  };
  for (const auto& [name, out] : cas) {
    absl::StatusOr<KubernetesCa> ca = MakeCa(name, options, now);
    if (!ca.ok()) return ca.status();
    *out = *std::move(ca);
  }

  absl::StatusOr<EvpPkeyPtr> sa =
      GenerateKey(options.service_account_key_type, options.service_account_rsa_bits);
  if (!sa.ok()) return sa.status();
  absl::StatusOr<SecretBytes> sa_key = PrivateKeyToPem(sa->get());
  if (!sa_key.ok()) return sa_key.status();
  absl::StatusOr<std::string> sa_pub = PublicKeyToPem(sa->get());
  if (!sa_pub.ok()) return sa_pub.status();
  pki.service_account_private_key_pem = *std::move(sa_key);
  pki.service_account_public_key_pem = *std::move(sa_pub);

  absl::StatusOr<X509Ptr> cluster_cert = ParseCertificate(pki.cluster_ca.certificate_pem);
  if (!cluster_cert.ok()) return cluster_cert.status();
  absl::StatusOr<std::string> hash = PublicKeySha256Hex(X509_get_X509_PUBKEY(cluster_cert->get()));
  if (!hash.ok()) return hash.status();
  pki.ca_cert_hash = absl::StrCat("sha256:", *hash);
  return pki;
}

}  // namespace mandant::pki
