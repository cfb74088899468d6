#include "controller/store/pki_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

#include "common/status_macros.h"
#include "controller/store/tenant_store.h"

namespace mandant::controller::store {
namespace {

// Timestamps travel as microseconds since the epoch: exact both ways.
absl::Time TimeAt(const Rows& r, int i, int col) { return absl::FromUnixMicros(r.Int64(i, col)); }

std::optional<absl::Time> OptionalTimeAt(const Rows& r, int i, int col) {
  if (r.IsNull(i, col)) return std::nullopt;
  return TimeAt(r, i, col);
}

// Arrays are selected as JSON text (array_to_json), which has one
// well-defined quoting, instead of PostgreSQL's array literal syntax.
std::vector<std::string> ArrayAt(const Rows& r, int i, int col) {
  std::vector<std::string> out;
  if (r.IsNull(i, col)) return out;
  nlohmann::json j = nlohmann::json::parse(r.Text(i, col), nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::string IssuerColumns() {
  return absl::StrCat(
      "id, scope, coalesce(tenant_uid::text, ''), kind, state, generation, "
      "coalesce(signed_by, ''), subject, key_type, public_key_sha256, serial, ",
      MicrosSql("not_before"), ", ", MicrosSql("not_after"),
      ", certificate_pem, sealed_key, coalesce(kek_id, ''), "
      "array_to_json(permitted_dns)::text, array_to_json(permitted_uri)::text, crl_number, "
      "crl_der, ",
      MicrosSql("crl_this_update"), ", ", MicrosSql("crl_next_update"), ", ",
      MicrosSql("create_time"), ", ", MicrosSql("activate_time"), ", ", MicrosSql("retire_time"),
      " FROM pki_issuers ");
}

IssuerRow IssuerFromRow(const Rows& r, int i) {
  IssuerRow row;
  row.id = std::string(r.Text(i, 0));
  row.scope = std::string(r.Text(i, 1));
  row.tenant_uid = std::string(r.Text(i, 2));
  // The schema's CHECK constraints allow no other text; should one appear,
  // the issuer is read as a tenant CA that signs nothing.
  row.kind = IssuerKindFromText(r.Text(i, 3)).value_or(IssuerKind::kTenant);
  row.state = IssuerStateFromText(r.Text(i, 4)).value_or(IssuerState::kRetired);
  row.generation = r.Int64(i, 5);
  row.signed_by = std::string(r.Text(i, 6));
  row.subject = std::string(r.Text(i, 7));
  row.key_type = std::string(r.Text(i, 8));
  row.public_key_sha256 = std::string(r.Text(i, 9));
  row.serial = std::string(r.Text(i, 10));
  row.not_before = TimeAt(r, i, 11);
  row.not_after = TimeAt(r, i, 12);
  row.certificate_pem = std::string(r.Text(i, 13));
  if (!r.IsNull(i, 14)) row.sealed_key = r.Bytes(i, 14);
  row.kek_id = std::string(r.Text(i, 15));
  row.permitted_dns = ArrayAt(r, i, 16);
  row.permitted_uri = ArrayAt(r, i, 17);
  row.crl_number = r.Int64(i, 18);
  if (!r.IsNull(i, 19)) row.crl_der = r.Bytes(i, 19);
  if (!r.IsNull(i, 20)) row.crl_this_update = TimeAt(r, i, 20);
  if (!r.IsNull(i, 21)) row.crl_next_update = TimeAt(r, i, 21);
  row.create_time = TimeAt(r, i, 22);
  row.activate_time = OptionalTimeAt(r, i, 23);
  row.retire_time = OptionalTimeAt(r, i, 24);
  return row;
}

std::string CertificateColumns() {
  return absl::StrCat(
      "serial, issuer_id, scope, coalesce(tenant_uid::text, ''), subject, "
      "array_to_json(dns_names)::text, array_to_json(uris)::text, "
      "array_to_json(ip_addresses)::text, array_to_json(usages)::text, key_type, rsa_bits, "
      "public_key_sha256, ",
      MicrosSql("not_before"), ", ", MicrosSql("not_after"), ", certificate_pem, generation, ",
      MicrosSql("revoke_time"), ", coalesce(revoke_reason, 0), ", MicrosSql("create_time"),
      " FROM pki_certificates ");
}

CertificateRow CertificateFromRow(const Rows& r, int i) {
  CertificateRow row;
  row.serial = std::string(r.Text(i, 0));
  row.issuer_id = std::string(r.Text(i, 1));
  row.scope = std::string(r.Text(i, 2));
  row.tenant_uid = std::string(r.Text(i, 3));
  row.subject = std::string(r.Text(i, 4));
  row.dns_names = ArrayAt(r, i, 5);
  row.uris = ArrayAt(r, i, 6);
  row.ip_addresses = ArrayAt(r, i, 7);
  row.usages = ArrayAt(r, i, 8);
  row.key_type = std::string(r.Text(i, 9));
  row.rsa_bits = static_cast<int>(r.Int64(i, 10));
  row.public_key_sha256 = std::string(r.Text(i, 11));
  row.not_before = TimeAt(r, i, 12);
  row.not_after = TimeAt(r, i, 13);
  row.certificate_pem = std::string(r.Text(i, 14));
  row.generation = r.Int64(i, 15);
  row.revoke_time = OptionalTimeAt(r, i, 16);
  row.revoke_reason = static_cast<int>(r.Int64(i, 17));
  row.create_time = TimeAt(r, i, 18);
  return row;
}

// "tenant_uid IS NULL" for the infrastructure scope, else "= $n".
std::string TenantMatch(absl::string_view tenant_uid, int param) {
  if (tenant_uid.empty()) return "tenant_uid IS NULL";
  return absl::StrCat("tenant_uid = $", param, "::uuid");
}

}  // namespace

absl::string_view IssuerKindText(IssuerKind kind) {
  switch (kind) {
    case IssuerKind::kRoot:
      return "ROOT";
    case IssuerKind::kInfrastructure:
      return "INFRASTRUCTURE";
    case IssuerKind::kTenant:
      return "TENANT";
  }
  return "TENANT";
}

absl::string_view IssuerStateText(IssuerState state) {
  switch (state) {
    case IssuerState::kPrepared:
      return "PREPARED";
    case IssuerState::kActive:
      return "ACTIVE";
    case IssuerState::kRetired:
      return "RETIRED";
  }
  return "RETIRED";
}

std::optional<IssuerKind> IssuerKindFromText(absl::string_view text) {
  for (IssuerKind k : {IssuerKind::kRoot, IssuerKind::kInfrastructure, IssuerKind::kTenant}) {
    if (text == IssuerKindText(k)) return k;
  }
  return std::nullopt;
}

std::optional<IssuerState> IssuerStateFromText(absl::string_view text) {
  for (IssuerState s : {IssuerState::kPrepared, IssuerState::kActive, IssuerState::kRetired}) {
    if (text == IssuerStateText(s)) return s;
  }
  return std::nullopt;
}

std::string TimestampParam(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6S+00:00", t, absl::UTCTimeZone());
}

std::string TextArrayParam(const std::vector<std::string>& values) {
  std::vector<std::string> quoted;
  quoted.reserve(values.size());
  for (const std::string& v : values) {
    std::string q = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') q.push_back('\\');
      q.push_back(c);
    }
    q.push_back('"');
    quoted.push_back(std::move(q));
  }
  return absl::StrCat("{", absl::StrJoin(quoted, ","), "}");
}

absl::StatusOr<TenantRef> PkiStore::GetTenantRef(Connection& conn, absl::string_view tenant) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query("SELECT uid::text, state FROM tenants WHERE name = $1", {std::string(tenant)}));
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("tenant \"", tenant, "\" not found"));
  return TenantRef{std::string(rows.Text(0, 0)), TenantStateFromText(rows.Text(0, 1))};
}

absl::Status PkiStore::InsertIssuer(Connection& conn, const IssuerRow& row) {
  auto st = conn.Query(
      "INSERT INTO pki_issuers (id, scope, tenant_uid, kind, state, signed_by, subject, "
      "key_type, public_key_sha256, serial, not_before, not_after, certificate_pem, "
      "sealed_key, kek_id, permitted_dns, permitted_uri, activate_time) "
      "VALUES ($1, $2, $3::uuid, $4, $5, $6, $7, $8, $9, $10, $11::timestamptz, "
      "$12::timestamptz, $13, $14::bytea, $15, $16::text[], $17::text[], "
      "CASE WHEN $5 = 'ACTIVE' THEN now() END)",
      {row.id, row.scope, row.tenant_uid.empty() ? Param() : Param(row.tenant_uid),
       std::string(IssuerKindText(row.kind)), std::string(IssuerStateText(row.state)),
       row.signed_by.empty() ? Param() : Param(row.signed_by), row.subject, row.key_type,
       row.public_key_sha256, row.serial, TimestampParam(row.not_before),
       TimestampParam(row.not_after), row.certificate_pem,
       row.sealed_key.empty() ? Param() : Param(ByteaParam(row.sealed_key)),
       row.kek_id.empty() ? Param() : Param(row.kek_id), TextArrayParam(row.permitted_dns),
       TextArrayParam(row.permitted_uri)});
  if (!st.ok()) {
    auto pg = PgErrorOf(st.status());
    if (pg && pg->sqlstate == kUniqueViolation &&
        (pg->constraint == "pki_issuers_one_active" ||
         pg->constraint == "pki_issuers_one_prepared")) {
      return absl::AlreadyExistsError(
          absl::StrCat(row.scope, " already has a ", IssuerStateText(row.state), " ",
                       IssuerKindText(row.kind), " issuer (", pg->constraint, ")"));
    }
    return st.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<IssuerRow> PkiStore::GetIssuer(Connection& conn, absl::string_view scope,
                                              absl::string_view tenant_uid, absl::string_view id,
                                              bool for_update) {
  std::vector<Param> params = {std::string(id), std::string(scope)};
  if (!tenant_uid.empty()) params.push_back(std::string(tenant_uid));
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query(absl::StrCat("SELECT ", IssuerColumns(), "WHERE id = $1 AND scope = $2 AND ",
                              TenantMatch(tenant_uid, 3), for_update ? " FOR UPDATE" : ""),
                 params));
  if (rows.empty()) {
    return absl::NotFoundError(absl::StrCat("issuer \"", scope, "/issuers/", id, "\" not found"));
  }
  return IssuerFromRow(rows, 0);
}

absl::StatusOr<IssuerRow> PkiStore::GetIssuerById(Connection& conn, absl::string_view id,
                                                  bool for_update) {
  MANDANT_ASSIGN_OR_RETURN(Rows rows,
                           conn.Query(absl::StrCat("SELECT ", IssuerColumns(), "WHERE id = $1",
                                                   for_update ? " FOR UPDATE" : ""),
                                      {std::string(id)}));
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("issuer \"", id, "\" not found"));
  return IssuerFromRow(rows, 0);
}

absl::StatusOr<std::optional<IssuerRow>> PkiStore::ActiveIssuer(Connection& conn,
                                                                absl::string_view scope,
                                                                absl::string_view tenant_uid,
                                                                IssuerKind kind) {
  std::vector<Param> params = {std::string(scope), std::string(IssuerKindText(kind))};
  if (!tenant_uid.empty()) params.push_back(std::string(tenant_uid));
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows, conn.Query(absl::StrCat("SELECT ", IssuerColumns(),
                                         "WHERE scope = $1 AND kind = $2 AND state = 'ACTIVE' "
                                         "AND ",
                                         TenantMatch(tenant_uid, 3)),
                            params));
  if (rows.empty()) return std::optional<IssuerRow>();
  return std::optional<IssuerRow>(IssuerFromRow(rows, 0));
}

absl::StatusOr<std::vector<IssuerRow>> PkiStore::ListIssuers(Connection& conn,
                                                             absl::string_view scope,
                                                             absl::string_view tenant_uid,
                                                             int offset, int limit) {
  std::vector<Param> params = {std::string(scope), std::to_string(offset), std::to_string(limit)};
  if (!tenant_uid.empty()) params.push_back(std::string(tenant_uid));
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query(absl::StrCat("SELECT ", IssuerColumns(), "WHERE scope = $1 AND ",
                              TenantMatch(tenant_uid, 4),
                              " ORDER BY create_time DESC, id DESC OFFSET $2::int LIMIT $3::int"),
                 params));
  std::vector<IssuerRow> out;
  for (int i = 0; i < rows.size(); ++i) out.push_back(IssuerFromRow(rows, i));
  return out;
}

absl::Status PkiStore::RemoveSealedKey(Connection& conn, absl::string_view id) {
  return conn
      .Query("UPDATE pki_issuers SET sealed_key = NULL, kek_id = NULL WHERE id = $1",
             {std::string(id)})
      .status();
}

absl::Status PkiStore::InsertPendingIssuer(Connection& conn, absl::string_view scope,
                                           absl::string_view tenant_uid,
                                           const std::vector<std::string>& ip_ranges) {
  return conn
      .Query(
          "INSERT INTO pki_pending_issuers (scope, tenant_uid, ip_ranges) "
          "VALUES ($1, $2::uuid, $3::text[])",
          {std::string(scope), std::string(tenant_uid), TextArrayParam(ip_ranges)})
      .status();
}

absl::StatusOr<bool> PkiStore::HasPendingIssuer(Connection& conn, absl::string_view scope) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query("SELECT 1 FROM pki_pending_issuers WHERE scope = $1", {std::string(scope)}));
  return !rows.empty();
}

absl::StatusOr<std::vector<PendingIssuerRow>> PkiStore::LockPendingIssuers(Connection& conn) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query("SELECT p.id, p.scope, p.tenant_uid::text, array_to_json(p.ip_ranges)::text, "
                 "t.name IS NOT NULL FROM pki_pending_issuers p "
                 "LEFT JOIN tenants t ON t.uid = p.tenant_uid "
                 "ORDER BY p.id FOR UPDATE OF p"));
  std::vector<PendingIssuerRow> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    PendingIssuerRow row;
    row.id = rows.Int64(i, 0);
    row.scope = std::string(rows.Text(i, 1));
    row.tenant_uid = std::string(rows.Text(i, 2));
    row.ip_ranges = ArrayAt(rows, i, 3);
    row.tenant_exists = rows.Bool(i, 4);
    out.push_back(std::move(row));
  }
  return out;
}

absl::Status PkiStore::DeletePendingIssuer(Connection& conn, int64_t id) {
  return conn.Query("DELETE FROM pki_pending_issuers WHERE id = $1", {std::to_string(id)}).status();
}

absl::Status PkiStore::DeletePendingIssuers(Connection& conn, absl::string_view scope,
                                            absl::string_view tenant_uid) {
  return conn
      .Query("DELETE FROM pki_pending_issuers WHERE scope = $1 AND tenant_uid = $2::uuid",
             {std::string(scope), std::string(tenant_uid)})
      .status();
}

absl::StatusOr<std::vector<std::string>> PkiStore::TenantCidrs(Connection& conn,
                                                               absl::string_view tenant) {
  MANDANT_ASSIGN_OR_RETURN(Rows rows,
                           conn.Query("SELECT c.cidr::text FROM tenant_cidrs c JOIN tenants t "
                                      "ON t.id = c.tenant_id WHERE t.name = $1 ORDER BY c.purpose",
                                      {std::string(tenant)}));
  std::vector<std::string> out;
  for (int i = 0; i < rows.size(); ++i) out.emplace_back(rows.Text(i, 0));
  return out;
}

absl::Status PkiStore::SetIssuerState(Connection& conn, absl::string_view id, IssuerState state,
                                      absl::Time now) {
  auto st = conn.Query(
      "UPDATE pki_issuers SET state = $2, generation = generation + 1, "
      "activate_time = CASE WHEN $2 = 'ACTIVE' THEN $3::timestamptz ELSE activate_time END, "
      "retire_time = CASE WHEN $2 = 'RETIRED' THEN $3::timestamptz ELSE retire_time END "
      "WHERE id = $1",
      {std::string(id), std::string(IssuerStateText(state)), TimestampParam(now)});
  if (!st.ok()) {
    auto pg = PgErrorOf(st.status());
    if (pg && pg->sqlstate == kUniqueViolation) {
      return absl::FailedPreconditionError(
          absl::StrCat("issuer ", id, ": its scope already has an ", IssuerStateText(state),
                       " issuer of the same kind"));
    }
    return st.status();
  }
  return absl::OkStatus();
}

absl::Status PkiStore::StoreCrl(Connection& conn, absl::string_view id, int64_t crl_number,
                                absl::string_view der, absl::Time this_update,
                                absl::Time next_update) {
  return conn
      .Query(
          "UPDATE pki_issuers SET crl_number = $2, crl_der = $3::bytea, "
          "crl_this_update = $4::timestamptz, crl_next_update = $5::timestamptz "
          "WHERE id = $1",
          {std::string(id), std::to_string(crl_number), ByteaParam(der),
           TimestampParam(this_update), TimestampParam(next_update)})
      .status();
}

absl::StatusOr<std::vector<std::string>> PkiStore::IssuersNotSealedWith(Connection& conn,
                                                                        absl::string_view kek_id) {
  MANDANT_ASSIGN_OR_RETURN(Rows rows,
                           conn.Query("SELECT id FROM pki_issuers WHERE sealed_key IS NOT NULL AND "
                                      "kek_id <> $1 ORDER BY id",
                                      {std::string(kek_id)}));
  std::vector<std::string> ids;
  for (int i = 0; i < rows.size(); ++i) ids.emplace_back(rows.Text(i, 0));
  return ids;
}

absl::Status PkiStore::ReplaceSealedKey(Connection& conn, absl::string_view id,
                                        absl::string_view blob, absl::string_view kek_id) {
  return conn
      .Query("UPDATE pki_issuers SET sealed_key = $2::bytea, kek_id = $3 WHERE id = $1",
             {std::string(id), ByteaParam(blob), std::string(kek_id)})
      .status();
}

absl::Status PkiStore::InsertCertificate(Connection& conn, const CertificateRow& row) {
  return conn
      .Query(
          "INSERT INTO pki_certificates (serial, issuer_id, scope, tenant_uid, subject, "
          "dns_names, uris, ip_addresses, usages, key_type, rsa_bits, public_key_sha256, "
          "not_before, not_after, certificate_pem) "
          "VALUES ($1, $2, $3, $4::uuid, $5, $6::text[], $7::text[], $8::text[], $9::text[], "
          "$10, $11::int, $12, $13::timestamptz, $14::timestamptz, $15)",
          {row.serial, row.issuer_id, row.scope,
           row.tenant_uid.empty() ? Param() : Param(row.tenant_uid), row.subject,
           TextArrayParam(row.dns_names), TextArrayParam(row.uris),
           TextArrayParam(row.ip_addresses), TextArrayParam(row.usages), row.key_type,
           std::to_string(row.rsa_bits), row.public_key_sha256, TimestampParam(row.not_before),
           TimestampParam(row.not_after), row.certificate_pem})
      .status();
}

absl::Status PkiStore::InsertCertificates(Connection& conn,
                                          const std::vector<CertificateRow>& rows) {
  if (rows.empty()) return absl::OkStatus();
  // One text array per column; the per-row arrays travel as array literals
  // and are cast back, since PostgreSQL arrays of arrays must be rectangular.
  std::vector<std::vector<std::string>> cols(15);
  for (const CertificateRow& r : rows) {
    const std::string values[15] = {r.serial,
                                    r.issuer_id,
                                    r.scope,
                                    r.tenant_uid,
                                    r.subject,
                                    TextArrayParam(r.dns_names),
                                    TextArrayParam(r.uris),
                                    TextArrayParam(r.ip_addresses),
                                    TextArrayParam(r.usages),
                                    r.key_type,
                                    std::to_string(r.rsa_bits),
                                    r.public_key_sha256,
                                    TimestampParam(r.not_before),
                                    TimestampParam(r.not_after),
                                    r.certificate_pem};
    for (int c = 0; c < 15; ++c) cols[c].push_back(values[c]);
  }
  std::vector<Param> params;
  for (const auto& col : cols) params.push_back(TextArrayParam(col));
  return conn
      .Query(
          "INSERT INTO pki_certificates (serial, issuer_id, scope, tenant_uid, subject, "
          "dns_names, uris, ip_addresses, usages, key_type, rsa_bits, public_key_sha256, "
          "not_before, not_after, certificate_pem) "
          "SELECT s, i, sc, NULLIF(tu, '')::uuid, sub, d::text[], u::text[], ip::text[], "
          "us::text[], kt, rb::int, pk, nb::timestamptz, na::timestamptz, pem "
          "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
          "$6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], "
          "$12::text[], $13::text[], $14::text[], $15::text[]) "
          "AS x(s, i, sc, tu, sub, d, u, ip, us, kt, rb, pk, nb, na, pem)",
          params)
      .status();
}

absl::StatusOr<CertificateRow> PkiStore::GetCertificate(Connection& conn, absl::string_view scope,
                                                        absl::string_view tenant_uid,
                                                        absl::string_view serial, bool for_update) {
  std::vector<Param> params = {std::string(serial), std::string(scope)};
  if (!tenant_uid.empty()) params.push_back(std::string(tenant_uid));
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query(
          absl::StrCat("SELECT ", CertificateColumns(), "WHERE serial = $1 AND scope = $2 AND ",
                       TenantMatch(tenant_uid, 3), for_update ? " FOR UPDATE" : ""),
          params));
  if (rows.empty()) {
    return absl::NotFoundError(
        absl::StrCat("certificate \"", scope, "/certificates/", serial, "\" not found"));
  }
  return CertificateFromRow(rows, 0);
}

absl::StatusOr<std::vector<CertificateRow>> PkiStore::ListCertificates(Connection& conn,
                                                                       const CertificateFilter& f) {
  std::vector<Param> params = {f.scope, std::to_string(f.limit)};
  std::string where = "scope = $1";
  auto add = [&](std::string value, absl::string_view condition_template) {
    params.push_back(std::move(value));
    where += absl::StrCat(" AND ", absl::StrReplaceAll(condition_template,
                                                       {{"$$", absl::StrCat("$", params.size())}}));
  };
  if (f.tenant_uid.empty()) {
    where += " AND tenant_uid IS NULL";
  } else {
    add(f.tenant_uid, "tenant_uid = $$::uuid");
  }
  if (!f.issuer_id.empty()) add(f.issuer_id, "issuer_id = $$");
  if (f.expire_before) add(TimestampParam(*f.expire_before), "not_after < $$::timestamptz");
  if (f.expired_at) add(TimestampParam(*f.expired_at), "not_after > $$::timestamptz");
  if (f.after_not_after) {
    params.push_back(TimestampParam(*f.after_not_after));
    params.push_back(f.after_serial);
    where += absl::StrCat(" AND (not_after, serial) > ($", params.size() - 1, "::timestamptz, $",
                          params.size(), ")");
  }
  MANDANT_ASSIGN_OR_RETURN(Rows rows,
                           conn.Query(absl::StrCat("SELECT ", CertificateColumns(), "WHERE ", where,
                                                   " ORDER BY not_after, serial LIMIT $2::int"),
                                      params));
  std::vector<CertificateRow> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) out.push_back(CertificateFromRow(rows, i));
  return out;
}

absl::Status PkiStore::Revoke(Connection& conn, absl::string_view serial, int reason,
                              absl::Time now) {
  return conn
      .Query(
          "UPDATE pki_certificates SET revoke_time = $2::timestamptz, revoke_reason = $3::int, "
          "generation = generation + 1 WHERE serial = $1 AND revoke_time IS NULL",
          {std::string(serial), TimestampParam(now), std::to_string(reason)})
      .status();
}

absl::StatusOr<std::vector<std::string>> PkiStore::RevokeByUriPrefix(Connection& conn,
                                                                     absl::string_view scope,
                                                                     absl::string_view uri_prefix,
                                                                     int reason, absl::Time now) {
  return RevokeWhereUri(conn, "starts_with(u, $2)", scope, uri_prefix, "", reason, now);
}

absl::StatusOr<std::vector<std::string>> PkiStore::RevokeByUri(Connection& conn,
                                                               absl::string_view scope,
                                                               absl::string_view uri,
                                                               absl::string_view except_serial,
                                                               int reason, absl::Time now) {
  return RevokeWhereUri(conn, "u = $2", scope, uri, except_serial, reason, now);
}

absl::StatusOr<std::vector<std::string>> PkiStore::RevokeWhereUri(
    Connection& conn, absl::string_view condition, absl::string_view scope, absl::string_view uri,
    absl::string_view except_serial, int reason, absl::Time now) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query(absl::StrCat("UPDATE pki_certificates SET revoke_time = $3::timestamptz, "
                              "revoke_reason = $4::int, generation = generation + 1 "
                              "WHERE scope = $1 AND revoke_time IS NULL AND serial <> $5 "
                              "AND EXISTS (SELECT 1 FROM unnest(uris) u WHERE ",
                              condition, ") RETURNING issuer_id"),
                 {std::string(scope), std::string(uri), TimestampParam(now), std::to_string(reason),
                  std::string(except_serial)}));
  std::vector<std::string> issuers;
  for (int i = 0; i < rows.size(); ++i) {
    std::string id(rows.Text(i, 0));
    if (std::find(issuers.begin(), issuers.end(), id) == issuers.end()) issuers.push_back(id);
  }
  return issuers;
}

absl::StatusOr<std::vector<RevokedSerial>> PkiStore::RevokedBy(Connection& conn,
                                                               absl::string_view issuer_id,
                                                               absl::Time now) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows, conn.Query(absl::StrCat("SELECT serial, ", MicrosSql("revoke_time"),
                                         ", revoke_reason FROM pki_certificates "
                                         "WHERE issuer_id = $1 AND revoke_time IS NOT NULL "
                                         "AND not_after > $2::timestamptz ORDER BY serial"),
                            {std::string(issuer_id), TimestampParam(now)}));
  std::vector<RevokedSerial> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    out.push_back(
        {std::string(rows.Text(i, 0)), TimeAt(rows, i, 1), static_cast<int>(rows.Int64(i, 2))});
  }
  return out;
}

absl::StatusOr<std::pair<std::string, int64_t>> PkiStore::GetPolicy(Connection& conn,
                                                                    absl::string_view tenant) {
  MANDANT_ASSIGN_OR_RETURN(Rows rows,
                           conn.Query("SELECT p.policy, p.generation FROM pki_issuance_policies p "
                                      "JOIN tenants t ON t.id = p.tenant_id WHERE t.name = $1",
                                      {std::string(tenant)}));
  if (rows.empty()) {
    return absl::NotFoundError(absl::StrCat("tenant \"", tenant, "\" has no issuance policy"));
  }
  return std::make_pair(rows.Bytes(0, 0), rows.Int64(0, 1));
}

absl::StatusOr<int64_t> PkiStore::PutPolicy(Connection& conn, absl::string_view tenant,
                                            absl::string_view serialized) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query("INSERT INTO pki_issuance_policies (tenant_id, policy) "
                 "SELECT id, $2::bytea FROM tenants WHERE name = $1 "
                 "ON CONFLICT (tenant_id) DO UPDATE SET policy = EXCLUDED.policy, "
                 "generation = pki_issuance_policies.generation + 1, update_time = now() "
                 "RETURNING generation",
                 {std::string(tenant), ByteaParam(serialized)}));
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("tenant \"", tenant, "\" not found"));
  return rows.Int64(0, 0);
}

}  // namespace mandant::controller::store
