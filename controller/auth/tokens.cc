#include "controller/auth/tokens.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include <openssl/rand.h>

#include "common/logging.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/uuid.h"
#include "controller/store/credential_store.h"
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
    return absl::InvalidArgumentError(tenant_role ? "tenant: required for tenant roles"
                                                  : "tenant: must be empty for provider admins");
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof(raw)) != 1) return absl::InternalError("RAND_bytes failed");
  NewToken out;
  out.token = absl::StrCat(kTokenPrefix, absl::WebSafeBase64Escape(absl::string_view(
                                             reinterpret_cast<const char*>(raw), sizeof(raw))));
  out.id = NewUuid();
  out.expire_time = absl::Now() + ttl;
  store::NewTokenRow row;
  row.id = out.id;
  row.subject = std::string(subject);
  row.role = std::string(RoleName(role));
  row.tenant = std::string(tenant);
  row.token_sha256 = Sha256(out.token);
  row.expire_time = out.expire_time;
  MANDANT_RETURN_IF_ERROR(db.Transact("create token", [&](store::Connection& conn) {
    return store::CredentialStore().InsertToken(conn, row);
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
  const std::string digest = Sha256(token);
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
  std::optional<store::TokenRow> row;
  MANDANT_RETURN_IF_ERROR(db_->Run("authenticate", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(row, store::CredentialStore().FindToken(conn, digest));
    return absl::OkStatus();
  }));
  if (!row) return Refused("unknown or revoked", "-");
  Entry entry;
  entry.principal.subject = row->subject;
  MANDANT_ASSIGN_OR_RETURN(entry.principal.role, ParseRole(row->role));
  entry.principal.tenant = row->tenant;
  entry.expire_time = row->expire_time;
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
