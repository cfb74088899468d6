#ifndef MANDANT_PKI_KUBERNETES_PKI_H_
#define MANDANT_PKI_KUBERNETES_PKI_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pki/key.h"
#include "pki/secret_bytes.h"

namespace mandant::pki {

// One CA of a cluster, in the files kubeadm reads from /etc/kubernetes/pki.
struct KubernetesCa {
  std::string certificate_pem;  // ca.crt
  SecretBytes private_key_pem;  // ca.key, unencrypted PKCS#8
};

// The per-cluster Kubernetes PKI, given to kubeadm as "external" CAs so that
// it signs the cluster's own certificates from them. Each CA is a
// self-signed root of its own, never chained to the Mandant root nor to each
// other, so trusting one cluster's CA trusts nothing else.
struct KubernetesPki {
  KubernetesCa cluster_ca;      // CN=kubernetes      pki/ca.{crt,key}
  KubernetesCa etcd_ca;         // CN=etcd-ca         pki/etcd/ca.{crt,key}
  KubernetesCa front_proxy_ca;  // CN=front-proxy-ca  pki/front-proxy-ca.{crt,key}
  // The service-account token signing key pair: pki/sa.key (PKCS#8) and
  // pki/sa.pub (SubjectPublicKeyInfo PEM).
  SecretBytes service_account_private_key_pem;
  std::string service_account_public_key_pem;
  // "sha256:" + hex SHA-256 of the cluster CA's DER SubjectPublicKeyInfo:
  // kubeadm join's --discovery-token-ca-cert-hash.
  std::string ca_cert_hash;
};

struct KubernetesPkiOptions {
  // The CAs' key type. ECDSA P-256 like the rest of Mandant; kubeadm accepts
  // external CAs of any type it can parse.
  KeyType ca_key_type = KeyType::kEcdsaP256;
  // kubeadm's own CA lifetime.
  absl::Duration ca_validity = absl::Hours(24 * 365 * 10);
  // RSA 2048, as kubeadm generates sa.key.
  KeyType service_account_key_type = KeyType::kRsa;
  int service_account_rsa_bits = 2048;
};

// Generates the four key pairs and three CA certificates, valid from `now`
// (minus a minute). Each CA has CA:TRUE with path length 0 (kubeadm signs
// only leaves with them), keyCertSign and cRLSign, and no name constraints.
// INVALID_ARGUMENT for bad options; INTERNAL when OpenSSL fails.
// Thread-safe.
absl::StatusOr<KubernetesPki> GenerateKubernetesPki(absl::Time now,
                                                    const KubernetesPkiOptions& options = {});

}  // namespace mandant::pki

#endif  // MANDANT_PKI_KUBERNETES_PKI_H_
