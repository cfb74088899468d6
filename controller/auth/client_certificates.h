#ifndef MANDANT_CONTROLLER_AUTH_CLIENT_CERTIFICATES_H_
#define MANDANT_CONTROLLER_AUTH_CLIENT_CERTIFICATES_H_

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

// The principal an infrastructure identity URI names (certificate.proto,
// ClientIdentity), under trust domain `trust_domain`:
//   spiffe://T/provider-admin/{subject}, spiffe://T/tenants/{t}/admin/{subject},
//   spiffe://T/tenants/{t}/viewer/{subject}, spiffe://T/host/{host}.
// UNAUTHENTICATED, naming the URI, for anything else.
absl::StatusOr<Principal> PrincipalFromIdentity(absl::string_view uri,
                                                absl::string_view trust_domain);

// Resolves the client certificate of an mTLS call (already verified by the
// TLS layer against the infrastructure trust bundle) to a principal. The
// certificate must also be in the inventory as an infrastructure
// certificate, unrevoked and unexpired, so that revocation takes effect
// without waiting for a CRL; results are cached for `cache_ttl`.
// Thread-safe.
class CertificateAuthenticator {
 public:
  CertificateAuthenticator(store::Database* db, std::string trust_domain,
                           absl::Duration cache_ttl = absl::Seconds(5));

  // `pem` is the peer certificate as gRPC reports it. UNAUTHENTICATED for a
  // certificate that is not a Mandant client identity, unknown, revoked or
  // expired, or whose tenant is gone; UNAVAILABLE when the database cannot
  // be asked.
  absl::StatusOr<Principal> Authenticate(absl::string_view pem);

 private:
  struct Entry {
    Principal principal;
    absl::Time not_after;
    absl::Time cached_until;
  };
  store::Database* const db_;
  const std::string trust_domain_;
  const absl::Duration cache_ttl_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);  // by PEM
};

}  // namespace mandant::controller::auth

#endif  // MANDANT_CONTROLLER_AUTH_CLIENT_CERTIFICATES_H_
