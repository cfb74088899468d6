#ifndef MANDANT_CONTROLLER_STORE_PKI_STORE_H_
#define MANDANT_CONTROLLER_STORE_PKI_STORE_H_

// Rows of Mandant's PKI (migrations/0002_pki.sql): issuers with their sealed
// keys and current CRL, the certificate inventory, tenants' issuance
// policies. SQL only; what the rows mean and every crypto operation is in
// controller/pki/. All methods run on the caller's connection, inside the
// caller's transaction.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "controller/store/pg.h"
#include "mandant/v1/tenant.pb.h"

namespace mandant::controller::store {

inline constexpr absl::string_view kInfrastructureScope = "infrastructure";

// pki_issuers.kind and pki_issuers.state, converted to and from their
// column text here only.
enum class IssuerKind { kRoot, kInfrastructure, kTenant };
enum class IssuerState { kPrepared, kActive, kRetired };
absl::string_view IssuerKindText(IssuerKind kind);
absl::string_view IssuerStateText(IssuerState state);
// Nullopt for text the schema does not allow.
std::optional<IssuerKind> IssuerKindFromText(absl::string_view text);
std::optional<IssuerState> IssuerStateFromText(absl::string_view text);

struct IssuerRow {
  // "20261126-0a1b2c3d".
  std::string id;
  // "infrastructure" or "tenants/{name}".
  std::string scope;
  // Empty in the infrastructure scope.
  std::string tenant_uid;
  IssuerKind kind = IssuerKind::kTenant;
  IssuerState state = IssuerState::kActive;
  int64_t generation = 1;
  // Empty for a root.
  std::string signed_by;
  std::string subject;
  std::string key_type;
  std::string public_key_sha256;
  std::string serial;
  absl::Time not_before;
  absl::Time not_after;
  std::string certificate_pem;
  // Empty when the key is held offline.
  std::string sealed_key;
  std::string kek_id;
  std::vector<std::string> permitted_dns;
  std::vector<std::string> permitted_uri;
  int64_t crl_number = 0;
  std::string crl_der;
  absl::Time crl_this_update = absl::InfinitePast();
  absl::Time crl_next_update = absl::InfinitePast();
  absl::Time create_time;
  std::optional<absl::Time> activate_time;
  std::optional<absl::Time> retire_time;
};

struct CertificateRow {
  std::string serial;
  std::string issuer_id;
  std::string scope;
  std::string tenant_uid;
  std::string subject;
  std::vector<std::string> dns_names;
  std::vector<std::string> uris;
  std::vector<std::string> ip_addresses;
  // "SERVER_AUTH", "CLIENT_AUTH".
  std::vector<std::string> usages;
  std::string key_type;
  int rsa_bits = 0;
  std::string public_key_sha256;
  absl::Time not_before;
  absl::Time not_after;
  std::string certificate_pem;
  int64_t generation = 1;
  std::optional<absl::Time> revoke_time;
  int revoke_reason = 0;
  absl::Time create_time;
};

// One revoked certificate, as a CRL lists it.
struct RevokedSerial {
  std::string serial;
  absl::Time revoke_time;
  int reason = 0;
};

struct CertificateFilter {
  std::string scope;
  std::string tenant_uid;
  // Only this issuer's certificates, when not empty.
  std::string issuer_id;
  // Only certificates with not_after before this, when set.
  std::optional<absl::Time> expire_before;
  // Leave out certificates with not_after <= this, when set.
  std::optional<absl::Time> expired_at;
  // Keyset pagination: (not_after, serial) strictly after these, when set.
  std::optional<absl::Time> after_not_after;
  std::string after_serial;
  int limit = 50;
};

// The tenant a tenant scope belongs to.
struct TenantRef {
  std::string uid;
  v1::TenantState state = v1::TENANT_STATE_UNSPECIFIED;
};

// A tenant intermediate waiting for the offline root to sign it.
struct PendingIssuerRow {
  int64_t id = 0;
  std::string scope;
  std::string tenant_uid;
  std::vector<std::string> ip_ranges;
  // False when the tenant was deleted meanwhile.
  bool tenant_exists = false;
};

class PkiStore {
 public:
  // NOT_FOUND, with the text every missing tenant gets, when there is none.
  absl::StatusOr<TenantRef> GetTenantRef(Connection& conn, absl::string_view tenant);
  // ALREADY_EXISTS when the scope already has an issuer of that kind in
  // that state (PREPARED or ACTIVE), with the constraint's name.
  absl::Status InsertIssuer(Connection& conn, const IssuerRow& row);
  // NOT_FOUND when there is no such issuer in the scope (of that tenant).
  absl::StatusOr<IssuerRow> GetIssuer(Connection& conn, absl::string_view scope,
                                      absl::string_view tenant_uid, absl::string_view id,
                                      bool for_update = false);
  // Any scope; for CRL distribution, which names issuers by id alone.
  absl::StatusOr<IssuerRow> GetIssuerById(Connection& conn, absl::string_view id,
                                          bool for_update = false);
  // The ACTIVE issuer of `kind` in the scope, or nullopt.
  absl::StatusOr<std::optional<IssuerRow>> ActiveIssuer(Connection& conn, absl::string_view scope,
                                                        absl::string_view tenant_uid,
                                                        IssuerKind kind);
  // Newest first. Scopes hold few issuers, so pages are by offset.
  absl::StatusOr<std::vector<IssuerRow>> ListIssuers(Connection& conn, absl::string_view scope,
                                                     absl::string_view tenant_uid, int offset,
                                                     int limit);
  // Removes an issuer's sealed key (its key is then held offline only).
  absl::Status RemoveSealedKey(Connection& conn, absl::string_view id);

  // Tenant intermediates recorded while the root's key was offline.
  absl::Status InsertPendingIssuer(Connection& conn, absl::string_view scope,
                                   absl::string_view tenant_uid,
                                   const std::vector<std::string>& ip_ranges);
  // Whether `scope` has one.
  absl::StatusOr<bool> HasPendingIssuer(Connection& conn, absl::string_view scope);
  // All of them, oldest first, locked FOR UPDATE.
  absl::StatusOr<std::vector<PendingIssuerRow>> LockPendingIssuers(Connection& conn);
  absl::Status DeletePendingIssuer(Connection& conn, int64_t id);
  // Those of one tenant (at its deletion).
  absl::Status DeletePendingIssuers(Connection& conn, absl::string_view scope,
                                    absl::string_view tenant_uid);

  // The node and storage CIDRs of a tenant (by name), which its
  // intermediate's name constraints permit.
  absl::StatusOr<std::vector<std::string>> TenantCidrs(Connection& conn, absl::string_view tenant);

  // Changes state (and the matching activate/retire time to `now`) and
  // bumps the generation.
  absl::Status SetIssuerState(Connection& conn, absl::string_view id, IssuerState state,
                              absl::Time now);
  absl::Status StoreCrl(Connection& conn, absl::string_view id, int64_t crl_number,
                        absl::string_view der, absl::Time this_update, absl::Time next_update);
  // Ids of issuers whose key is sealed under a KEK other than `kek_id`.
  absl::StatusOr<std::vector<std::string>> IssuersNotSealedWith(Connection& conn,
                                                                absl::string_view kek_id);
  absl::Status ReplaceSealedKey(Connection& conn, absl::string_view id, absl::string_view blob,
                                absl::string_view kek_id);

  absl::Status InsertCertificate(Connection& conn, const CertificateRow& row);
  // Many rows in one statement (one round trip), for batched inventory
  // writes.
  absl::Status InsertCertificates(Connection& conn, const std::vector<CertificateRow>& rows);
  // NOT_FOUND when the serial is not in that scope (of that tenant).
  absl::StatusOr<CertificateRow> GetCertificate(Connection& conn, absl::string_view scope,
                                                absl::string_view tenant_uid,
                                                absl::string_view serial, bool for_update = false);
  // Ordered by not_after, then serial.
  absl::StatusOr<std::vector<CertificateRow>> ListCertificates(Connection& conn,
                                                               const CertificateFilter& filter);
  absl::Status Revoke(Connection& conn, absl::string_view serial, int reason, absl::Time now);
  // Revokes every unrevoked certificate of `scope` with a URI SAN starting
  // with `uri_prefix`; returns the ids of the issuers whose CRLs changed.
  absl::StatusOr<std::vector<std::string>> RevokeByUriPrefix(Connection& conn,
                                                             absl::string_view scope,
                                                             absl::string_view uri_prefix,
                                                             int reason, absl::Time now);
  // As RevokeByUriPrefix for certificates naming exactly `uri`, except the
  // one with serial `except_serial` (empty: none is kept).
  absl::StatusOr<std::vector<std::string>> RevokeByUri(Connection& conn, absl::string_view scope,
                                                       absl::string_view uri,
                                                       absl::string_view except_serial, int reason,
                                                       absl::Time now);
  // Revoked certificates of an issuer that have not expired by `now`
  // (RFC 5280 lets a CRL drop expired entries).
  absl::StatusOr<std::vector<RevokedSerial>> RevokedBy(Connection& conn,
                                                       absl::string_view issuer_id, absl::Time now);

  // The serialized mandant.v1.IssuancePolicy of a tenant (by tenant name),
  // with its generation; NOT_FOUND when none is stored.
  absl::StatusOr<std::pair<std::string, int64_t>> GetPolicy(Connection& conn,
                                                            absl::string_view tenant);
  // Inserts or replaces; returns the new generation.
  absl::StatusOr<int64_t> PutPolicy(Connection& conn, absl::string_view tenant,
                                    absl::string_view serialized);

 private:
  // Revokes the unrevoked certificates of `scope` with a URI SAN `u` for
  // which the SQL `condition` (over u and $2 = `uri`) holds.
  absl::StatusOr<std::vector<std::string>> RevokeWhereUri(
      Connection& conn, absl::string_view condition, absl::string_view scope, absl::string_view uri,
      absl::string_view except_serial, int reason, absl::Time now);
};

// Text forms PostgreSQL reads exactly.
std::string TimestampParam(absl::Time t);
std::string TextArrayParam(const std::vector<std::string>& values);

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_PKI_STORE_H_
