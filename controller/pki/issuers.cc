#include "controller/pki/issuers.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include <openssl/rand.h>

#include "common/logging.h"
#include "common/status_macros.h"
#include "pki/certificate_info.h"
#include "pki/crl.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "pki/sealing.h"
#include "pki/subject_alt_names.h"
#include "tenants/names.h"

namespace mandant::controller {
namespace {

std::string ScopeTitle(const Issuers::NewIssuer& spec) {
  if (spec.kind == store::IssuerKind::kRoot) return "root";
  if (spec.kind == store::IssuerKind::kInfrastructure) return "infrastructure";
  return absl::StrCat("tenant ", spec.tenant);
}

}  // namespace

std::string NewIssuerId(absl::Time now) {
  unsigned char b[4];
  if (RAND_bytes(b, sizeof(b)) != 1) std::abort();  // the CSPRNG failing is not recoverable
  return absl::StrCat(absl::FormatTime("%Y%m%d", now, absl::UTCTimeZone()), "-",
                      absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(b), 4)));
}

absl::StatusOr<store::CertificateRow> InventoryRow(const X509* cert, absl::string_view issuer_id,
                                                   absl::string_view scope,
                                                   absl::string_view tenant_uid) {
  MANDANT_ASSIGN_OR_RETURN(pki::CertificateInfo info, pki::DescribeCertificate(cert));
  store::CertificateRow row;
  row.serial = info.serial_hex;
  row.issuer_id = std::string(issuer_id);
  row.scope = std::string(scope);
  row.tenant_uid = std::string(tenant_uid);
  row.subject = info.subject;
  row.dns_names = info.subject_alt_names.dns_names;
  row.uris = info.subject_alt_names.uris;
  row.ip_addresses = info.subject_alt_names.ip_addresses;
  for (pki::ExtendedKeyUsage u : info.extended_key_usages) row.usages.push_back(UsageText(u));
  row.key_type = KeyTypeText(info.key);
  row.rsa_bits = info.key.rsa_bits;
  row.public_key_sha256 = info.public_key_sha256;
  row.not_before = info.not_before;
  row.not_after = info.not_after;
  MANDANT_ASSIGN_OR_RETURN(row.certificate_pem, pki::CertificateToPem(cert));
  return row;
}

std::string KeyTypeText(const pki::KeyInfo& key) {
  switch (key.type) {
    case pki::KeyType::kEcdsaP256:
      return "ECDSA_P256";
    case pki::KeyType::kEcdsaP384:
      return "ECDSA_P384";
    case pki::KeyType::kEd25519:
      return "ED25519";
    case pki::KeyType::kRsa:
      return "RSA";
  }
  return "UNSPECIFIED";
}

std::string UsageText(pki::ExtendedKeyUsage usage) {
  return usage == pki::ExtendedKeyUsage::kServerAuth ? "SERVER_AUTH" : "CLIENT_AUTH";
}

Issuers::Issuers(PkiOptions options, pki::KeyRing keys)
    : options_(std::move(options)), keys_(std::move(keys)) {}

std::string Issuers::TenantDnsZone(absl::string_view tenant) const {
  return absl::StrCat(tenant, ".", options_.dns_base_domain);
}

std::string Issuers::TenantTrustDomain(absl::string_view tenant) const {
  return absl::StrCat(tenant, ".", options_.spiffe_base_domain);
}

std::string Issuers::CrlUrl(absl::string_view issuer_id) const {
  if (options_.crl_base_url.empty()) return "";
  return absl::StrCat(options_.crl_base_url, issuer_id, ".crl");
}

absl::StatusOr<std::vector<store::IssuerRow>> Issuers::Init(store::Connection& conn,
                                                            absl::Time now) {
  MANDANT_ASSIGN_OR_RETURN(auto root, store_.ActiveIssuer(conn, store::kInfrastructureScope, "",
                                                          store::IssuerKind::kRoot));
  if (root) {
    return absl::FailedPreconditionError(
        absl::StrCat("Mandant's PKI is already initialized (root infrastructure/issuers/", root->id,
                     "); rotate issuers with PrepareIssuer and ActivateIssuer instead"));
  }
  std::vector<store::IssuerRow> out;
  NewIssuer spec;
  spec.kind = store::IssuerKind::kRoot;
  spec.scope = std::string(store::kInfrastructureScope);
  MANDANT_ASSIGN_OR_RETURN(store::IssuerRow root_row, CreateIssuer(conn, spec, now));
  out.push_back(std::move(root_row));
  spec.kind = store::IssuerKind::kInfrastructure;
  MANDANT_ASSIGN_OR_RETURN(store::IssuerRow infra_row, CreateIssuer(conn, spec, now));
  out.push_back(std::move(infra_row));
  return out;
}

absl::StatusOr<store::IssuerRow> Issuers::CreateIssuer(store::Connection& conn,
                                                       const NewIssuer& spec, absl::Time now) {
  const std::string id = NewIssuerId(now);
  const std::string common_name = absl::StrCat("Mandant ", ScopeTitle(spec), " ", id);
  if (spec.kind == store::IssuerKind::kRoot) {
    pki::RootCaSpec root;
    root.common_name = common_name;
    root.organization = "Mandant";
    root.key_type = spec.key_type;
    root.validity = spec.validity > absl::ZeroDuration() ? spec.validity : options_.root_validity;
    MANDANT_ASSIGN_OR_RETURN(pki::CertificateAuthority ca, pki::CreateRootCa(root, now));
    return StoreIssuer(conn, ca, spec, id, "", {}, {});
  }

  MANDANT_ASSIGN_OR_RETURN(auto root_row, store_.ActiveIssuer(conn, store::kInfrastructureScope, "",
                                                              store::IssuerKind::kRoot));
  if (!root_row) {
    return absl::FailedPreconditionError(
        "Mandant's PKI is not initialized: there is no ACTIVE root; run `mandantd pki init`");
  }
  MANDANT_ASSIGN_OR_RETURN(auto root, Authority(*root_row));
  pki::IntermediateCaSpec inter;
  inter.common_name = common_name;
  inter.organization = "Mandant";
  inter.key_type = spec.key_type;
  inter.crl_distribution_point = CrlUrl(root_row->id);
  if (spec.validity > absl::ZeroDuration()) {
    inter.validity = spec.validity;
  } else {
    // The default lifetime ends with the root at the latest; an explicit
    // one beyond it is refused by CreateIntermediateCa.
    inter.validity =
        std::min(options_.intermediate_validity, root->not_after() - now - pki::kBackdate);
  }
  std::vector<std::string> dns, uri;
  if (spec.kind == store::IssuerKind::kTenant) {
    dns.push_back(TenantDnsZone(spec.tenant));
    uri.push_back(TenantTrustDomain(spec.tenant));
    pki::NameConstraints nc;
    nc.permitted_dns_domains = dns;
    nc.permitted_uri_hosts = uri;
    nc.permitted_ip_ranges = spec.ip_ranges;
    inter.name_constraints = std::move(nc);
  }
  MANDANT_ASSIGN_OR_RETURN(pki::CertificateAuthority ca,
                           pki::CreateIntermediateCa(*root, inter, now));
  MANDANT_ASSIGN_OR_RETURN(store::IssuerRow row,
                           StoreIssuer(conn, ca, spec, id, root_row->id, dns, uri));
  // The intermediate is in its root's inventory, so that its revocation
  // lands in the root's CRL.
  MANDANT_ASSIGN_OR_RETURN(pki::CertificateInfo info, pki::DescribeCertificate(ca.certificate()));
  store::CertificateRow cert;
  cert.serial = info.serial_hex;
  cert.issuer_id = root_row->id;
  cert.scope = std::string(store::kInfrastructureScope);
  cert.subject = info.subject;
  cert.key_type = KeyTypeText(info.key);
  cert.rsa_bits = info.key.rsa_bits;
  cert.public_key_sha256 = info.public_key_sha256;
  cert.not_before = info.not_before;
  cert.not_after = info.not_after;
  cert.certificate_pem = row.certificate_pem;
  MANDANT_RETURN_IF_ERROR(store_.InsertCertificate(conn, cert));
  return row;
}

absl::StatusOr<store::IssuerRow> Issuers::StoreIssuer(store::Connection& conn,
                                                      const pki::CertificateAuthority& ca,
                                                      const NewIssuer& spec, absl::string_view id,
                                                      absl::string_view signed_by,
                                                      std::vector<std::string> dns,
                                                      std::vector<std::string> uri) {
  MANDANT_ASSIGN_OR_RETURN(pki::CertificateInfo info, pki::DescribeCertificate(ca.certificate()));
  MANDANT_ASSIGN_OR_RETURN(std::string pem, pki::CertificateToPem(ca.certificate()));
  MANDANT_ASSIGN_OR_RETURN(std::string sealed,
                           pki::SealPrivateKey(keys_.current(), ca.private_key(), id));
  store::IssuerRow row;
  row.id = std::string(id);
  row.scope = spec.scope;
  row.tenant_uid = spec.tenant_uid;
  row.kind = spec.kind;
  row.state = spec.state;
  row.signed_by = std::string(signed_by);
  row.subject = info.subject;
  row.key_type = KeyTypeText(info.key);
  row.public_key_sha256 = info.public_key_sha256;
  row.serial = info.serial_hex;
  row.not_before = info.not_before;
  row.not_after = info.not_after;
  row.certificate_pem = std::move(pem);
  row.sealed_key = std::move(sealed);
  row.kek_id = keys_.current().id();
  row.permitted_dns = std::move(dns);
  row.permitted_uri = std::move(uri);
  MANDANT_RETURN_IF_ERROR(store_.InsertIssuer(conn, row));
  // Every issuer has a CRL from the start, so that a distribution point
  // never answers 404.
  return ResignCrl(conn, row.id, absl::Now());
}

absl::StatusOr<std::optional<store::IssuerRow>> Issuers::CreateTenantIssuer(store::Connection& conn,
                                                                            const NewIssuer& spec,
                                                                            absl::Time now) {
  MANDANT_ASSIGN_OR_RETURN(auto root, store_.ActiveIssuer(conn, store::kInfrastructureScope, "",
                                                          store::IssuerKind::kRoot));
  if (root && root->sealed_key.empty()) {
    bool attached = false;
    {
      absl::MutexLock lock(&mu_);
      attached = offline_.contains(root->id);
    }
    if (!attached) {
      MANDANT_RETURN_IF_ERROR(
          store_.InsertPendingIssuer(conn, spec.scope, spec.tenant_uid, spec.ip_ranges));
      MANDANT_LOG(warn, "tenant intermediate pending: the Mandant root is offline",
                  {{"scope", spec.scope}});
      return std::optional<store::IssuerRow>();
    }
  }
  MANDANT_ASSIGN_OR_RETURN(store::IssuerRow row, CreateIssuer(conn, spec, now));
  return std::optional<store::IssuerRow>(std::move(row));
}

absl::Status Issuers::AttachOfflineRoot(store::Connection& conn,
                                        std::shared_ptr<const pki::CertificateAuthority> root) {
  MANDANT_ASSIGN_OR_RETURN(auto row, store_.ActiveIssuer(conn, store::kInfrastructureScope, "",
                                                         store::IssuerKind::kRoot));
  if (!row) return absl::FailedPreconditionError("there is no ACTIVE root");
  MANDANT_ASSIGN_OR_RETURN(std::string sha, pki::PublicKeySha256Hex(root->private_key()));
  if (sha != row->public_key_sha256) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the given key is not the key of the ACTIVE root infrastructure/issuers/", row->id));
  }
  absl::MutexLock lock(&mu_);
  offline_[row->id] = std::move(root);
  return absl::OkStatus();
}

absl::StatusOr<int> Issuers::SignPending(store::Connection& conn, absl::Time now) {
  MANDANT_ASSIGN_OR_RETURN(std::vector<store::PendingIssuerRow> pending,
                           store_.LockPendingIssuers(conn));
  int signed_count = 0;
  for (const store::PendingIssuerRow& p : pending) {
    if (p.tenant_exists) {
      NewIssuer spec;
      spec.kind = store::IssuerKind::kTenant;
      spec.scope = p.scope;
      MANDANT_ASSIGN_OR_RETURN(spec.tenant, tenants::ParseTenantName(p.scope, "scope"));
      spec.tenant_uid = p.tenant_uid;
      spec.ip_ranges = p.ip_ranges;
      MANDANT_RETURN_IF_ERROR(CreateIssuer(conn, spec, now).status());
      ++signed_count;
    }
    MANDANT_RETURN_IF_ERROR(store_.DeletePendingIssuer(conn, p.id));
  }
  MANDANT_ASSIGN_OR_RETURN(auto root, store_.ActiveIssuer(conn, store::kInfrastructureScope, "",
                                                          store::IssuerKind::kRoot));
  if (root) MANDANT_RETURN_IF_ERROR(ResignCrl(conn, root->id, now).status());
  return signed_count;
}

absl::StatusOr<Issuers::ExportedRoot> Issuers::ExportRoot(store::Connection& conn, bool remove) {
  MANDANT_ASSIGN_OR_RETURN(auto row, store_.ActiveIssuer(conn, store::kInfrastructureScope, "",
                                                         store::IssuerKind::kRoot));
  if (!row)
    return absl::FailedPreconditionError("there is no ACTIVE root; run `mandantd pki init`");
  if (row->sealed_key.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the key of root infrastructure/issuers/", row->id,
                     " is already offline; use the copy exported before"));
  }
  MANDANT_ASSIGN_OR_RETURN(auto ca, Authority(*row));
  ExportedRoot out;
  out.id = row->id;
  out.certificate_pem = row->certificate_pem;
  MANDANT_ASSIGN_OR_RETURN(out.key_pem, pki::PrivateKeyToPem(ca->private_key()));
  if (remove) {
    MANDANT_RETURN_IF_ERROR(store_.RemoveSealedKey(conn, row->id));
  }
  return out;
}

absl::Status Issuers::RevokeTenantIssuers(store::Connection& conn, absl::string_view tenant,
                                          absl::string_view tenant_uid, absl::Time now) {
  const std::string scope = absl::StrCat("tenants/", tenant);
  MANDANT_RETURN_IF_ERROR(store_.DeletePendingIssuers(conn, scope, tenant_uid));
  MANDANT_ASSIGN_OR_RETURN(std::vector<store::IssuerRow> rows,
                           store_.ListIssuers(conn, scope, tenant_uid, 0, 1000));
  std::vector<std::string> roots;
  for (const store::IssuerRow& row : rows) {
    MANDANT_RETURN_IF_ERROR(store_.Revoke(
        conn, row.serial, static_cast<int>(pki::RevocationReason::kCessationOfOperation), now));
    if (row.state != store::IssuerState::kRetired)
      MANDANT_RETURN_IF_ERROR(
          store_.SetIssuerState(conn, row.id, store::IssuerState::kRetired, now));
    if (std::find(roots.begin(), roots.end(), row.signed_by) == roots.end()) {
      roots.push_back(row.signed_by);
    }
  }
  MANDANT_ASSIGN_OR_RETURN(
      std::vector<std::string> user_issuers,
      store_.RevokeByUriPrefix(
          conn, store::kInfrastructureScope,
          absl::StrCat("spiffe://", options_.trust_domain, "/tenants/", tenant, "/"),
          static_cast<int>(pki::RevocationReason::kAffiliationChanged), now));
  for (std::string& id : user_issuers) {
    if (std::find(roots.begin(), roots.end(), id) == roots.end()) roots.push_back(std::move(id));
  }
  return ResignCrls(conn, roots, now);
}

absl::Status Issuers::ResignCrls(store::Connection& conn,
                                 const std::vector<std::string>& issuer_ids, absl::Time now) {
  for (const std::string& id : issuer_ids) {
    absl::Status st = ResignCrl(conn, id, now).status();
    if (absl::IsFailedPrecondition(st)) {
      // An offline root signs its CRL where its key is; the revocation is
      // recorded and goes into that CRL.
      MANDANT_LOG(warn, "CRL not re-signed", {{"issuer", id}, {"reason", st.message()}});
      continue;
    }
    MANDANT_RETURN_IF_ERROR(st);
  }
  return absl::OkStatus();
}

absl::StatusOr<store::IssuerRow> Issuers::ActiveInfrastructureIssuer(store::Connection& conn) {
  MANDANT_ASSIGN_OR_RETURN(auto issuer, store_.ActiveIssuer(conn, store::kInfrastructureScope, "",
                                                            store::IssuerKind::kInfrastructure));
  if (!issuer) {
    return absl::FailedPreconditionError(
        "Mandant's PKI is not initialized: no ACTIVE infrastructure issuer; run `mandantd pki "
        "init`");
  }
  return *std::move(issuer);
}

std::string Issuers::AgentIdentity(absl::string_view host) const {
  return absl::StrCat("spiffe://", options_.trust_domain, "/host/", host);
}

absl::StatusOr<IssuedCertificate> Issuers::IssueAgentCertificate(store::Connection& conn,
                                                                 absl::string_view host,
                                                                 const EVP_PKEY* public_key,
                                                                 absl::Duration ttl,
                                                                 absl::Time now) {
  MANDANT_ASSIGN_OR_RETURN(store::IssuerRow issuer, ActiveInfrastructureIssuer(conn));
  pki::LeafSpec spec;
  spec.public_key = public_key;
  spec.common_name = absl::StrCat("host/", host);
  spec.subject_alt_names.uris.push_back(AgentIdentity(host));
  spec.extended_key_usages = {pki::ExtendedKeyUsage::kClientAuth};
  spec.not_after = std::min(now + ttl, issuer.not_after);
  return IssueLeaf(conn, issuer, std::move(spec), now);
}

absl::Status Issuers::RevokeAgentCertificates(store::Connection& conn, absl::string_view host,
                                              absl::string_view keep_serial, absl::Time now) {
  MANDANT_ASSIGN_OR_RETURN(
      std::vector<std::string> issuers,
      store_.RevokeByUri(conn, store::kInfrastructureScope, AgentIdentity(host), keep_serial,
                         static_cast<int>(pki::RevocationReason::kSuperseded), now));
  return ResignCrls(conn, issuers, now);
}

absl::StatusOr<std::shared_ptr<const pki::CertificateAuthority>> Issuers::Authority(
    const store::IssuerRow& row) {
  {
    absl::MutexLock lock(&mu_);
    auto offline = offline_.find(row.id);
    if (offline != offline_.end()) return offline->second;
    // A key removed from the database (export-root --remove) is not used
    // from memory either.
    auto it = cache_.find(row.id);
    if (it != cache_.end() && !row.sealed_key.empty()) return it->second;
  }
  if (row.sealed_key.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("issuer ", row.scope, "/issuers/", row.id, " has its key offline"));
  }
  MANDANT_ASSIGN_OR_RETURN(pki::EvpPkeyPtr key,
                           pki::UnsealPrivateKey(keys_, row.sealed_key, row.id));
  MANDANT_ASSIGN_OR_RETURN(pki::X509Ptr cert, pki::ParseCertificate(row.certificate_pem));
  MANDANT_ASSIGN_OR_RETURN(pki::CertificateAuthority ca,
                           pki::CertificateAuthority::Create(std::move(cert), std::move(key)));
  auto shared = std::make_shared<const pki::CertificateAuthority>(std::move(ca));
  absl::MutexLock lock(&mu_);
  // Another thread may have loaded it meanwhile; either copy is the same CA.
  return cache_.try_emplace(row.id, std::move(shared)).first->second;
}

absl::StatusOr<IssuedCertificate> Issuers::IssueLeaf(store::Connection& conn,
                                                     const store::IssuerRow& issuer,
                                                     pki::LeafSpec spec, absl::Time now) {
  MANDANT_ASSIGN_OR_RETURN(auto ca, Authority(issuer));
  spec.crl_distribution_point = CrlUrl(issuer.id);
  MANDANT_ASSIGN_OR_RETURN(pki::X509Ptr cert, pki::IssueLeaf(*ca, spec, now));
  IssuedCertificate out;
  MANDANT_ASSIGN_OR_RETURN(out.row,
                           InventoryRow(cert.get(), issuer.id, issuer.scope, issuer.tenant_uid));
  store::CertificateRow& row = out.row;
  row.create_time = now;
  MANDANT_RETURN_IF_ERROR(store_.InsertCertificate(conn, row));
  out.chain_pem = issuer.certificate_pem;
  return out;
}

absl::StatusOr<store::IssuerRow> Issuers::ResignCrl(store::Connection& conn,
                                                    absl::string_view issuer_id, absl::Time now) {
  MANDANT_ASSIGN_OR_RETURN(store::IssuerRow row,
                           store_.GetIssuerById(conn, issuer_id, /*for_update=*/true));
  MANDANT_ASSIGN_OR_RETURN(auto ca, Authority(row));
  MANDANT_ASSIGN_OR_RETURN(std::vector<store::RevokedSerial> revoked,
                           store_.RevokedBy(conn, row.id, now));
  pki::CrlSpec spec;
  spec.crl_number = row.crl_number + 1;
  spec.this_update = now - pki::kBackdate;
  spec.next_update = now + options_.crl_validity;
  for (const store::RevokedSerial& r : revoked) {
    spec.revoked.push_back({r.serial, r.revoke_time, static_cast<pki::RevocationReason>(r.reason)});
  }
  MANDANT_ASSIGN_OR_RETURN(pki::SignedCrl crl, pki::BuildCrl(*ca, spec));
  MANDANT_RETURN_IF_ERROR(
      store_.StoreCrl(conn, row.id, spec.crl_number, crl.der, spec.this_update, spec.next_update));
  row.crl_number = spec.crl_number;
  row.crl_der = std::move(crl.der);
  row.crl_this_update = spec.this_update;
  row.crl_next_update = spec.next_update;
  return row;
}

absl::StatusOr<ServingIdentity> Issuers::IssueServingIdentity(store::Connection& conn,
                                                              const std::vector<std::string>& names,
                                                              absl::Duration ttl, absl::Time now) {
  MANDANT_ASSIGN_OR_RETURN(store::IssuerRow issuer, ActiveInfrastructureIssuer(conn));
  MANDANT_ASSIGN_OR_RETURN(pki::EvpPkeyPtr key, pki::GenerateKey(pki::KeyType::kEcdsaP256));
  pki::LeafSpec spec;
  spec.public_key = key.get();
  spec.common_name = "mandantd";
  for (const std::string& name : names) {
    if (pki::ParseIpAddress(name).ok()) {
      spec.subject_alt_names.ip_addresses.push_back(name);
    } else {
      spec.subject_alt_names.dns_names.push_back(name);
    }
  }
  spec.extended_key_usages = {pki::ExtendedKeyUsage::kServerAuth};
  spec.not_after = now + ttl;
  MANDANT_ASSIGN_OR_RETURN(IssuedCertificate issued, IssueLeaf(conn, issuer, std::move(spec), now));
  ServingIdentity out;
  MANDANT_ASSIGN_OR_RETURN(out.key_pem, pki::PrivateKeyToPem(key.get()));
  out.cert_chain_pem = absl::StrCat(issued.row.certificate_pem, issued.chain_pem);
  out.not_after = issued.row.not_after;
  return out;
}

absl::StatusOr<std::string> Issuers::InfrastructureBundle(store::Connection& conn, absl::Time now) {
  MANDANT_ASSIGN_OR_RETURN(std::vector<store::IssuerRow> rows,
                           store_.ListIssuers(conn, store::kInfrastructureScope, "", 0, 1000));
  std::string pem;
  for (const store::IssuerRow& row : rows) {
    if (row.kind == store::IssuerKind::kInfrastructure && row.not_after > now) {
      absl::StrAppend(&pem, row.certificate_pem);
    }
  }
  return pem;
}

absl::StatusOr<store::IssuerRow> Issuers::RefreshCrl(store::Connection& conn, store::IssuerRow row,
                                                     absl::Time now) {
  if (!row.crl_der.empty() && now <= row.crl_next_update - options_.crl_validity / 2) return row;
  absl::StatusOr<store::IssuerRow> fresh = ResignCrl(conn, row.id, now);
  if (fresh.ok() || row.crl_der.empty()) return fresh;
  return row;
}

absl::StatusOr<int> Issuers::RewrapKeys(store::Connection& conn) {
  MANDANT_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                           store_.IssuersNotSealedWith(conn, keys_.current().id()));
  for (const std::string& id : ids) {
    MANDANT_ASSIGN_OR_RETURN(store::IssuerRow row,
                             store_.GetIssuerById(conn, id, /*for_update=*/true));
    MANDANT_ASSIGN_OR_RETURN(std::string blob,
                             pki::Rewrap(keys_, row.sealed_key, row.id, keys_.current()));
    MANDANT_RETURN_IF_ERROR(store_.ReplaceSealedKey(conn, row.id, blob, keys_.current().id()));
  }
  return static_cast<int>(ids.size());
}

}  // namespace mandant::controller
