#include "controller/auth/tokens.h"

#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/store/uuid.h"
#include "pki/encoding.h"

namespace mandant::controller::auth {
namespace {

constexpr absl::string_view kTokenPrefix = "mdt_";

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat(
      why, "; send \"authorization: Bearer <token>\" with a token from \"mandantd token create\""));
}

// A well-formed token that does not authenticate. The caller is told the
// same whether it is unknown, expired or revoked (docs/api.md,
// Authentication), so that a token found somewhere cannot be tested for
// having been real; the log has the reason.
absl::Status Refused(absl::string_view reason, absl::string_view principal) {
  MANDANT_LOG(info, "bearer token refused", {{"reason", reason}, {"principal", principal}});
  return Unauthenticated("the token is expired, unknown or revoked");
}

}  // namespace

absl::StatusOr<NewToken> CreateToken(store::Database& db, absl::string_view subject, Role role,
                                     absl::string_view tenant, absl::Duration ttl) {
  if (subject.empty() || subject.size() > 200) {
    return absl::InvalidArgumentError("subject: must be 1-200 characters");
  }
  if (ttl < absl::Minutes(1) || ttl > absl::Hours(24 * 3650)) {
    return absl::InvalidArgumentError("ttl: must be between 1 minute and 10 years");
  }
  if (role == Role::kAgent) {
    return absl::InvalidArgumentError(
        "role: agents authenticate with client certificates, not tokens");
  }
  const bool tenant_role = role != Role::kProviderAdmin;
  if (tenant_role == tenant.empty()) {
    return absl::InvalidArgumentError(tenant_role
                                          ? "tenant: required for tenant roles"
                                          : "tenant: must be empty for provider admins");
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof(raw)) != 1) return absl::InternalError("RAND_bytes failed");
  NewToken out;
  out.token = absl::StrCat(kTokenPrefix, absl::WebSafeBase64Escape(absl::string_view(
                                             reinterpret_cast<const char*>(raw), sizeof(raw))));
  out.id = store::NewUuid();
  out.expire_time = absl::Now() + ttl;
  MANDANT_RETURN_IF_ERROR(db.Transact("create token", [&](store::Connection& conn) -> absl::Status {
    store::Param tenant_id;
    if (tenant_role) {
      MANDANT_ASSIGN_OR_RETURN(store::Rows t,
                               conn.Query("SELECT id FROM tenants WHERE name = $1",
                                          {std::string(tenant)}));
      if (t.empty()) return TenantNotFound(tenant);
      tenant_id = std::string(t.Text(0, 0));
    }
    return conn
        .Query("INSERT INTO api_tokens (id, subject, role, tenant_id, token_sha256, expire_time) "
               "VALUES ($1, $2, $3, $4, $5, to_timestamp($6))",
               {out.id, std::string(subject), std::string(RoleName(role)), tenant_id,
                store::ByteaParam(pki::Sha256(out.token)),
                std::to_string(absl::ToUnixSeconds(out.expire_time))})
        .status();
  }));
  return out;
}

TokenAuthenticator::TokenAuthenticator(store::Database* db, absl::Duration cache_ttl)
    : db_(db), cache_ttl_(cache_ttl) {}

absl::StatusOr<Principal> TokenAuthenticator::Authenticate(absl::string_view authorization) {
  if (authorization.empty()) return Unauthenticated("no credentials");
  absl::string_view token = authorization;
  if (!absl::ConsumePrefix(&token, "Bearer ") && !absl::ConsumePrefix(&token, "bearer ")) {
    return Unauthenticated("the authorization header is not a bearer token");
  }
  token = absl::StripAsciiWhitespace(token);
  if (!absl::StartsWith(token, kTokenPrefix) || token.size() > 200) {
    return Unauthenticated("the bearer token is malformed");
  }
  const std::string digest = pki::Sha256(token);
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(digest);
    if (it != cache_.end() && it->second.cached_until > now) {
      if (it->second.expire_time <= now) {
        return Refused("expired", it->second.principal.ToString());
      }
      return it->second.principal;
    }
  }
  Entry entry;
  bool found = false;
  MANDANT_RETURN_IF_ERROR(db_->Run("authenticate", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(
        store::Rows rows,
        conn.Query("SELECT k.subject, k.role, coalesce(t.name, ''), "
                   "extract(epoch FROM k.expire_time)::bigint "
                   "FROM api_tokens k LEFT JOIN tenants t ON t.id = k.tenant_id "
                   "WHERE k.token_sha256 = $1 AND k.revoke_time IS NULL",
                   {store::ByteaParam(digest)}));
    if (rows.empty()) return absl::OkStatus();
    found = true;
    entry.principal.subject = std::string(rows.Text(0, 0));
    MANDANT_ASSIGN_OR_RETURN(entry.principal.role, ParseRole(rows.Text(0, 1)));
    entry.principal.tenant = std::string(rows.Text(0, 2));
    entry.expire_time = absl::FromUnixSeconds(rows.Int64(0, 3));
    return absl::OkStatus();
  }));
  if (!found) return Refused("unknown or revoked", "-");
  entry.cached_until = now + cache_ttl_;
  {
    absl::MutexLock lock(&mu_);
    if (cache_.size() > 10000) cache_.clear();
    cache_[digest] = entry;
  }
  if (entry.expire_time <= now) return Refused("expired", entry.principal.ToString());
  return entry.principal;
}

}  // namespace mandant::controller::auth
