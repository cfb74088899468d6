#ifndef MANDANT_CONTROLLER_PKI_ISSUERS_H_
#define MANDANT_CONTROLLER_PKI_ISSUERS_H_

// Mandant's CA hierarchy as mandantd runs it: the root and the
// infrastructure intermediate created by `mandantd pki init`, one
// intermediate per tenant, leaves signed into the inventory, CRLs, and the
// re-wrapping of sealed keys under a new KEK. Rows are in PostgreSQL
// (controller/store/pki_store.h), private keys sealed under the KEK ring;
// a CA's decoded key is kept in memory once loaded (OpenSSL 3 key decoding
// is slow). Every method that takes a Connection works inside the caller's
// transaction and writes nothing when it fails.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "controller/store/pg.h"
#include "controller/store/pki_store.h"
#include "pki/certificate_authority.h"
#include "pki/kek.h"
#include "pki/secret_bytes.h"

namespace mandant::controller {

struct PkiOptions {
  // A tenant's DNS zone is "{tenant}.{dns_base_domain}".
  std::string dns_base_domain = "svc.mandant.internal";
  // A tenant's SPIFFE trust domain is "{tenant}.{spiffe_base_domain}".
  std::string spiffe_base_domain = "tenants.mandant.internal";
  // The trust domain of infrastructure identities (certificate.proto,
  // ClientIdentity).
  std::string trust_domain = "mandant.internal";
  // When set, e.g. "http://mandant.example.net:9464/crl/": certificates name
  // "{crl_base_url}{issuer id}.crl" as their CRL distribution point.
  std::string crl_base_url;
  // How long a signed CRL is valid (its nextUpdate); it is re-signed before.
  absl::Duration crl_validity = absl::Hours(24);
  absl::Duration root_validity = absl::Hours(24 * 365 * 10);
  absl::Duration intermediate_validity = absl::Hours(24 * 365);
};

// A leaf that was signed and recorded.
struct IssuedCertificate {
  store::CertificateRow row;
  // PEM of the issuing CA, what a TLS peer sends after the leaf.
  std::string chain_pem;
};

// mandantd's own serving certificate; the key never leaves memory.
struct ServingIdentity {
  pki::SecretBytes key_pem;
  // The leaf followed by the infrastructure intermediate.
  std::string cert_chain_pem;
  absl::Time not_after;
};

// Thread-safe.
class Issuers {
 public:
  Issuers(PkiOptions options, pki::KeyRing keys);

  const PkiOptions& options() const { return options_; }
  // The KEK ring; other secrets at rest (bootstrap tokens, machine seeds)
  // are sealed under it too.
  const pki::KeyRing& keys() const { return keys_; }
  std::string TenantDnsZone(absl::string_view tenant) const;
  std::string TenantTrustDomain(absl::string_view tenant) const;

  // Creates the Mandant root and the infrastructure intermediate, both
  // ACTIVE. FAILED_PRECONDITION when the infrastructure scope already has an
  // ACTIVE root (init is done once; rotation is PrepareIssuer's job).
  absl::StatusOr<std::vector<store::IssuerRow>> Init(store::Connection& conn, absl::Time now);

  // A new intermediate for a scope, signed by the ACTIVE root: a tenant's
  // (name-constrained to the tenant's zone, trust domain and CIDRs, pathlen
  // 0) or the infrastructure one; or a new root. `state` is ACTIVE for a new
  // tenant, PREPARED for a rotation. FAILED_PRECONDITION when there is no
  // ACTIVE root to sign it or its key is not online.
  struct NewIssuer {
    store::IssuerKind kind = store::IssuerKind::kTenant;
    std::string scope;
    std::string tenant;
    std::string tenant_uid;
    std::vector<std::string> ip_ranges;
    store::IssuerState state = store::IssuerState::kActive;
    pki::KeyType key_type = pki::KeyType::kEcdsaP256;
    absl::Duration validity = absl::ZeroDuration();
  };
  absl::StatusOr<store::IssuerRow> CreateIssuer(store::Connection& conn, const NewIssuer& spec,
                                                absl::Time now);

  // As CreateIssuer for a new tenant's ACTIVE intermediate, but when the
  // root's key is offline the intermediate is recorded as pending (see
  // SignPending) and nullopt is returned: the tenant can be created, and
  // issues certificates once the root has signed its CA.
  absl::StatusOr<std::optional<store::IssuerRow>> CreateTenantIssuer(store::Connection& conn,
                                                                     const NewIssuer& spec,
                                                                     absl::Time now);

  // Makes an offline root usable for this process's operations (the
  // ceremony of `mandantd pki sign-pending`). FAILED_PRECONDITION unless
  // `root` is the key and certificate of the ACTIVE root.
  absl::Status AttachOfflineRoot(store::Connection& conn,
                                 std::shared_ptr<const pki::CertificateAuthority> root);
  // Creates and signs every pending tenant intermediate (of tenants that
  // still exist) and re-signs the root's CRL. Returns how many were signed.
  absl::StatusOr<int> SignPending(store::Connection& conn, absl::Time now);

  // The ACTIVE root's certificate and private key (PEM), for keeping it
  // offline; with `remove`, its sealed key is deleted from the database in
  // the caller's transaction, so that nothing can use it any more.
  struct ExportedRoot {
    std::string id;
    std::string certificate_pem;
    pki::SecretBytes key_pem;
  };
  absl::StatusOr<ExportedRoot> ExportRoot(store::Connection& conn, bool remove);

  // For tenant deletion: revokes (cessationOfOperation) and retires every
  // issuer of the tenant, revokes (affiliationChanged) the client
  // certificates of the tenant's users, so that none of them works for a
  // later tenant of the same name, and re-signs the CRLs that changed.
  absl::Status RevokeTenantIssuers(store::Connection& conn, absl::string_view tenant,
                                   absl::string_view tenant_uid, absl::Time now);

  // The CA of an issuer row, decoded once and cached by issuer id.
  // FAILED_PRECONDITION when the key is offline or sealed under a KEK this
  // mandantd does not hold; DATA_LOSS when the sealed key does not open.
  absl::StatusOr<std::shared_ptr<const pki::CertificateAuthority>> Authority(
      const store::IssuerRow& row);

  // Signs a leaf with `issuer` and records it in the inventory.
  absl::StatusOr<IssuedCertificate> IssueLeaf(store::Connection& conn,
                                              const store::IssuerRow& issuer, pki::LeafSpec spec,
                                              absl::Time now);

  // Signs and stores a fresh CRL of `issuer` (re-reading it FOR UPDATE so
  // CRL numbers never repeat) and returns the updated row.
  absl::StatusOr<store::IssuerRow> ResignCrl(store::Connection& conn, absl::string_view issuer_id,
                                             absl::Time now);

  // `row` with a CRL a verifier may hold: re-signed when it has none or
  // half its validity has passed, so that nobody holds one past its
  // nextUpdate. When re-signing fails (an offline root) the stored CRL is
  // kept; the error is returned only when there is none.
  absl::StatusOr<store::IssuerRow> RefreshCrl(store::Connection& conn, store::IssuerRow row,
                                              absl::Time now);

  // Re-wraps every sealed key that is not under the current KEK. Returns
  // how many were re-wrapped.
  absl::StatusOr<int> RewrapKeys(store::Connection& conn);

  // A fresh key and a server certificate for `names` (DNS names or IP
  // addresses) from the ACTIVE infrastructure issuer, recorded in the
  // inventory. FAILED_PRECONDITION when the PKI is not initialized.
  absl::StatusOr<ServingIdentity> IssueServingIdentity(store::Connection& conn,
                                                       const std::vector<std::string>& names,
                                                       absl::Duration ttl, absl::Time now);

  // A client certificate for the agent of `host` (CN "host/{host}", URI SAN
  // "spiffe://{trust_domain}/host/{host}", clientAuth only) from the ACTIVE
  // infrastructure issuer, for `public_key`, cut short to that issuer's
  // lifetime. FAILED_PRECONDITION when the PKI is not initialized.
  absl::StatusOr<IssuedCertificate> IssueAgentCertificate(store::Connection& conn,
                                                          absl::string_view host,
                                                          const EVP_PKEY* public_key,
                                                          absl::Duration ttl, absl::Time now);
  // Revokes every certificate of the agent of `host` except `keep_serial`
  // (empty: all) and re-signs the CRLs that changed.
  absl::Status RevokeAgentCertificates(store::Connection& conn, absl::string_view host,
                                       absl::string_view keep_serial, absl::Time now);
  // "spiffe://{trust_domain}/host/{host}".
  std::string AgentIdentity(absl::string_view host) const;

  // The infrastructure CAs that verify Mandant's client certificates (the
  // intermediates, not the root, so that no tenant certificate verifies).
  absl::StatusOr<std::string> InfrastructureBundle(store::Connection& conn, absl::Time now);

  // "{crl_base_url}{id}.crl", or empty.
  std::string CrlUrl(absl::string_view issuer_id) const;

 private:
  // FAILED_PRECONDITION when the PKI is not initialized.
  absl::StatusOr<store::IssuerRow> ActiveInfrastructureIssuer(store::Connection& conn);
  // Re-signs the CRLs of `issuer_ids`; an offline root's is left for its
  // ceremony (the revocation is recorded and goes into its next CRL).
  absl::Status ResignCrls(store::Connection& conn, const std::vector<std::string>& issuer_ids,
                          absl::Time now);
  absl::StatusOr<store::IssuerRow> StoreIssuer(store::Connection& conn,
                                               const pki::CertificateAuthority& ca,
                                               const NewIssuer& spec, absl::string_view id,
                                               absl::string_view signed_by,
                                               std::vector<std::string> dns,
                                               std::vector<std::string> uri);

  const PkiOptions options_;
  const pki::KeyRing keys_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const pki::CertificateAuthority>> cache_
      ABSL_GUARDED_BY(mu_);
  // Offline roots attached for a ceremony, by issuer id.
  absl::flat_hash_map<std::string, std::shared_ptr<const pki::CertificateAuthority>> offline_
      ABSL_GUARDED_BY(mu_);
  store::PkiStore store_;
};

// The inventory row of a certificate signed by issuer `issuer_id`.
// INVALID_ARGUMENT for a certificate DescribeCertificate cannot read.
absl::StatusOr<store::CertificateRow> InventoryRow(const X509* cert, absl::string_view issuer_id,
                                                   absl::string_view scope,
                                                   absl::string_view tenant_uid);

// "20261126-0a1b2c3d": the date and 32 random bits.
std::string NewIssuerId(absl::Time now);

// Text forms used in rows and in the API.
std::string KeyTypeText(const pki::KeyInfo& key);
std::string UsageText(pki::ExtendedKeyUsage usage);

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_PKI_ISSUERS_H_
