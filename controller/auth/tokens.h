#ifndef MANDANT_CONTROLLER_AUTH_TOKENS_H_
#define MANDANT_CONTROLLER_AUTH_TOKENS_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "controller/auth/principal.h"
#include "controller/store/database.h"

namespace mandant::controller::auth {

struct NewToken {
  std::string id;     // the row's UUID, safe to log
  std::string token;  // the secret, shown once; only its SHA-256 is stored
  absl::Time expire_time;
};

// Creates a bearer token for `subject` with `role` (for tenant roles, on
// tenant id `tenant`, which must exist). `ttl` 1 minute to 10 years.
absl::StatusOr<NewToken> CreateToken(store::Database& db, absl::string_view subject, Role role,
                                     absl::string_view tenant, absl::Duration ttl);

// Resolves "authorization: Bearer <token>" values to principals. Results are
// cached for `cache_ttl`, so a revoked or expired token stops working within
// that time. Thread-safe.
class TokenAuthenticator {
 public:
  TokenAuthenticator(store::Database* db, absl::Duration cache_ttl = absl::Seconds(5));

  // `authorization` is the metadata value. UNAUTHENTICATED (without echoing
  // the token) when it is missing, malformed, unknown, expired or revoked;
  // UNAVAILABLE when the database cannot be asked.
  absl::StatusOr<Principal> Authenticate(absl::string_view authorization);

 private:
  struct Entry {
    Principal principal;
    absl::Time expire_time;
    absl::Time cached_until;
  };

  store::Database* const db_;
  const absl::Duration cache_ttl_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);  // by SHA-256
};

}  // namespace mandant::controller::auth

#endif  // MANDANT_CONTROLLER_AUTH_TOKENS_H_
