#include "controller/auth/client_certificates.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/store/credential_store.h"
#include "pki/certificate_info.h"
#include "pki/encoding.h"
#include "tenants/field_violations.h"
#include "tenants/names.h"

namespace mandant::controller::auth {
namespace {

absl::Status Refused(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("client certificate refused: ", why));
}

// A well-formed Mandant identity that does not authenticate. The caller is
// told the same whether the certificate is unknown, expired, revoked or of a
// deleted tenant (docs/api.md, Authentication); the log has the reason.
absl::Status Invalid(absl::string_view reason, absl::string_view serial,
                     const Principal& principal) {
  MANDANT_LOG(info, "client certificate refused",
              {{"reason", reason}, {"serial", serial}, {"principal", principal.ToString()}});
  return Refused("it is expired, unknown or revoked");
}

bool IsSubject(absl::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '@' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<Principal> PrincipalFromIdentity(absl::string_view uri,
                                                absl::string_view trust_domain) {
  absl::string_view rest = uri;
  if (!absl::ConsumePrefix(&rest, absl::StrCat("spiffe://", trust_domain, "/"))) {
    return Refused(absl::StrCat("identity \"", tenants::QuoteForMessage(uri),
                                "\" is not in trust domain ", trust_domain));
  }
  std::vector<absl::string_view> parts = absl::StrSplit(rest, '/');
  Principal p;
  if (parts.size() == 2 && parts[0] == "provider-admin" && IsSubject(parts[1])) {
    p.role = Role::kProviderAdmin;
    p.subject = std::string(parts[1]);
    return p;
  }
  if (parts.size() == 2 && parts[0] == "host" && IsSubject(parts[1])) {
    p.role = Role::kAgent;
    p.subject = std::string(parts[1]);
    return p;
  }
  if (parts.size() == 4 && parts[0] == "tenants" && (parts[2] == "admin" || parts[2] == "viewer") &&
      IsSubject(parts[3]) && tenants::CheckTenantId(parts[1]).empty()) {
    p.role = parts[2] == "admin" ? Role::kTenantAdmin : Role::kTenantViewer;
    p.tenant = std::string(parts[1]);
    p.subject = std::string(parts[3]);
    return p;
  }
  return Refused(
      absl::StrCat("identity \"", tenants::QuoteForMessage(uri), "\" names no principal"));
}

CertificateAuthenticator::CertificateAuthenticator(store::Database* db, std::string trust_domain,
                                                   absl::Duration cache_ttl)
    : db_(db), trust_domain_(std::move(trust_domain)), cache_ttl_(cache_ttl) {}

absl::StatusOr<Principal> CertificateAuthenticator::Authenticate(absl::string_view pem) {
  const absl::Time now = absl::Now();
  const std::string key(pem);
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && now < it->second.cached_until) {
      if (now >= it->second.not_after) return Invalid("expired", "-", it->second.principal);
      return it->second.principal;
    }
  }
  auto cert = pki::ParseCertificate(pem);
  if (!cert.ok()) return Refused("it does not parse");
  auto info = pki::DescribeCertificate(cert->get());
  if (!info.ok()) return Refused(info.status().message());
  if (info->subject_alt_names.uris.size() != 1) {
    return Refused("a client identity has exactly one URI SAN");
  }
  MANDANT_ASSIGN_OR_RETURN(Principal principal,
                           PrincipalFromIdentity(info->subject_alt_names.uris[0], trust_domain_));
  if (now >= info->not_after) return Invalid("expired", info->serial_hex, principal);

  absl::Status checked =
      db_->Run("authenticate certificate", [&](store::Connection& conn) -> absl::Status {
        const store::CredentialStore credentials;
        MANDANT_ASSIGN_OR_RETURN(std::optional<store::ClientCertificateState> state,
                                 credentials.FindClientCertificate(conn, info->serial_hex));
        if (!state || !state->issued_by_infrastructure_ca) {
          return Invalid("not in the infrastructure inventory", info->serial_hex, principal);
        }
        if (state->revoked) return Invalid("revoked", info->serial_hex, principal);
        if (!principal.tenant.empty()) {
          MANDANT_ASSIGN_OR_RETURN(bool exists, credentials.TenantExists(conn, principal.tenant));
          if (!exists) return Invalid("its tenant no longer exists", info->serial_hex, principal);
        }
        return absl::OkStatus();
      });
  if (!checked.ok()) return checked;
  absl::MutexLock lock(&mu_);
  if (cache_.size() > 10000) cache_.clear();  // bounded; refills from the database
  cache_[key] = Entry{principal, info->not_after, now + cache_ttl_};
  return principal;
}

}  // namespace mandant::controller::auth
