#include "controller/store/credential_store.h"

#include "absl/strings/str_cat.h"

#include "common/status_macros.h"

namespace mandant::controller::store {

absl::Status CredentialStore::InsertToken(Connection& conn, const NewTokenRow& row) const {
  Param tenant_id;
  if (!row.tenant.empty()) {
    MANDANT_ASSIGN_OR_RETURN(Rows t,
                             conn.Query("SELECT id FROM tenants WHERE name = $1", {row.tenant}));
    if (t.empty())
      return absl::NotFoundError(absl::StrCat("tenant \"", row.tenant, "\" not found"));
    tenant_id = std::string(t.Text(0, 0));
  }
  return conn
      .Query(
          "INSERT INTO api_tokens (id, subject, role, tenant_id, token_sha256, expire_time) "
          "VALUES ($1, $2, $3, $4, $5, to_timestamp($6))",
          {row.id, row.subject, row.role, tenant_id, ByteaParam(row.token_sha256),
           std::to_string(absl::ToUnixSeconds(row.expire_time))})
      .status();
}

absl::StatusOr<std::optional<TokenRow>> CredentialStore::FindToken(
    Connection& conn, absl::string_view token_sha256) const {
  MANDANT_ASSIGN_OR_RETURN(Rows rows,
                           conn.Query("SELECT k.subject, k.role, coalesce(t.name, ''), "
                                      "extract(epoch FROM k.expire_time)::bigint "
                                      "FROM api_tokens k LEFT JOIN tenants t ON t.id = k.tenant_id "
                                      "WHERE k.token_sha256 = $1 AND k.revoke_time IS NULL",
                                      {ByteaParam(token_sha256)}));
  if (rows.empty()) return std::nullopt;
  TokenRow out;
  out.subject = std::string(rows.Text(0, 0));
  out.role = std::string(rows.Text(0, 1));
  out.tenant = std::string(rows.Text(0, 2));
  out.expire_time = absl::FromUnixSeconds(rows.Int64(0, 3));
  return out;
}

absl::StatusOr<std::optional<ClientCertificateState>> CredentialStore::FindClientCertificate(
    Connection& conn, absl::string_view serial_hex) const {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows, conn.Query("SELECT c.revoke_time IS NOT NULL, i.kind = 'INFRASTRUCTURE' "
                            "FROM pki_certificates c JOIN pki_issuers i ON i.id = c.issuer_id "
                            "WHERE c.serial = $1 AND c.scope = 'infrastructure'",
                            {std::string(serial_hex)}));
  if (rows.empty()) return std::nullopt;
  ClientCertificateState out;
  out.revoked = rows.Bool(0, 0);
  out.issued_by_infrastructure_ca = rows.Bool(0, 1);
  return out;
}

absl::StatusOr<bool> CredentialStore::TenantExists(Connection& conn,
                                                   absl::string_view tenant) const {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows, conn.Query("SELECT 1 FROM tenants WHERE name = $1", {std::string(tenant)}));
  return !rows.empty();
}

}  // namespace mandant::controller::store
