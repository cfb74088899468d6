#include "tests/unit/cli/fake_certificate_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

#include "pki/certificate_info.h"
#include "pki/crl.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/key.h"

namespace mandant::cli::testing {
namespace {

grpc::Status Invalid(absl::string_view message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(message));
}

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  out->set_seconds(absl::ToUnixSeconds(t));
}

v1::KeyType ProtoKeyType(pki::KeyType type) {
  switch (type) {
    case pki::KeyType::kEcdsaP256:
      return v1::KEY_TYPE_ECDSA_P256;
    case pki::KeyType::kEcdsaP384:
      return v1::KEY_TYPE_ECDSA_P384;
    case pki::KeyType::kEd25519:
      return v1::KEY_TYPE_ED25519;
    case pki::KeyType::kRsa:
      return v1::KEY_TYPE_RSA;
  }
  return v1::KEY_TYPE_UNSPECIFIED;
}

// The scope of "{scope}/certificates/..." or "{scope}/issuers/...".
std::string ScopeOf(const std::string& name) {
  if (absl::StartsWith(name, "infrastructure")) return "infrastructure";
  size_t second = name.find('/', name.find('/') + 1);
  return name.substr(0, second);
}

}  // namespace

absl::StatusOr<std::unique_ptr<FakeCertificateService>> FakeCertificateService::Create() {
  const absl::Time start = absl::Now() - absl::Hours(24);
  pki::RootCaSpec root_spec;
  root_spec.common_name = "Fake Mandant root";
  root_spec.validity = absl::Hours(24 * 365 * 3);
  absl::StatusOr<pki::CertificateAuthority> root = pki::CreateRootCa(root_spec, start);
  if (!root.ok()) return root.status();
  pki::IntermediateCaSpec spec;
  spec.common_name = "Fake Mandant infrastructure";
  spec.validity = absl::Hours(24 * 365 * 2);
  absl::StatusOr<pki::CertificateAuthority> intermediate =
      pki::CreateIntermediateCa(*root, spec, start);
  if (!intermediate.ok()) return intermediate.status();
  absl::StatusOr<std::string> root_pem = pki::CertificateToPem(root->certificate());
  if (!root_pem.ok()) return root_pem.status();
  absl::StatusOr<std::string> intermediate_pem = pki::CertificateToPem(intermediate->certificate());
  if (!intermediate_pem.ok()) return intermediate_pem.status();
  return std::unique_ptr<FakeCertificateService>(
      new FakeCertificateService(*std::move(root), *std::move(intermediate), *std::move(root_pem),
                                 *std::move(intermediate_pem)));
}

FakeCertificateService::FakeCertificateService(pki::CertificateAuthority root,
                                               pki::CertificateAuthority intermediate,
                                               std::string root_pem, std::string intermediate_pem)
    : root_(std::move(root)),
      intermediate_(std::move(intermediate)),
      root_pem_(std::move(root_pem)),
      intermediate_pem_(std::move(intermediate_pem)) {
  policy_.set_dns_zone("acme.svc.example.net");
  policy_.set_spiffe_trust_domain("acme.example.net");
  policy_.add_allowed_dns_names("*.acme.svc.example.net");
  policy_.add_allowed_key_types(v1::KEY_TYPE_ECDSA_P256);
  policy_.mutable_max_ttl()->set_seconds(90 * 24 * 3600);
  policy_.mutable_default_ttl()->set_seconds(24 * 3600);
  policy_.set_etag("p1");
}

void FakeCertificateService::AddToken(const std::string& token, const std::string& identity) {
  absl::MutexLock lock(&mu_);
  tokens_[token] = identity;
}

void FakeCertificateService::FailNext(const std::string& method, grpc::Status status,
                                      bool after_work) {
  absl::MutexLock lock(&mu_);
  failures_[method].push_back({std::move(status), after_work});
}

std::vector<std::string> FakeCertificateService::methods() const {
  absl::MutexLock lock(&mu_);
  return methods_;
}

std::vector<FakeCaller> FakeCertificateService::callers() const {
  absl::MutexLock lock(&mu_);
  return callers_;
}

int FakeCertificateService::issued_count() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(inventory_.size());
}

void FakeCertificateService::SetPolicy(const v1::IssuancePolicy& policy) {
  absl::MutexLock lock(&mu_);
  policy_ = policy;
}

grpc::Status FakeCertificateService::Begin(grpc::ServerContext* context, const std::string& method,
                                           const google::protobuf::Message& request,
                                           FakeCaller* caller, grpc::Status* after_work) {
  const auto& metadata = context->client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    std::string value(it->second.data(), it->second.size());
    caller->token = absl::StartsWith(value, "Bearer ") ? value.substr(7) : value;
  }
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  if (auth != nullptr) {
    for (const grpc::string_ref& pem : auth->FindPropertyValues("x509_pem_cert")) {
      absl::StatusOr<pki::X509Ptr> cert =
          pki::ParseCertificate(absl::string_view(pem.data(), pem.size()));
      if (!cert.ok()) continue;
      absl::StatusOr<pki::CertificateInfo> info = pki::DescribeCertificate(cert->get());
      if (info.ok() && !info->subject_alt_names.uris.empty()) {
        caller->client_identity = info->subject_alt_names.uris.front();
      }
    }
  }
  absl::MutexLock lock(&mu_);
  methods_.push_back(method);
  callers_.push_back(*caller);
  last_requests_[method] = request.SerializeAsString();
  *after_work = grpc::Status::OK;
  if (auto it = failures_.find(method); it != failures_.end() && !it->second.empty()) {
    Failure failure = it->second.front();
    it->second.pop_front();
    if (!failure.after_work) return failure.status;
    *after_work = failure.status;
  }
  if (!caller->client_identity.empty()) return grpc::Status::OK;
  if (caller->token.empty()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no credential");
  }
  if (tokens_.count(caller->token) == 0) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "token not accepted");
  }
  return grpc::Status::OK;
}

grpc::Status FakeCertificateService::Sign(const std::string& scope, const std::string& csr_pem,
                                          const std::vector<int>& usages, absl::Duration ttl,
                                          const std::string& identity_uri,
                                          v1::IssueCertificateResponse* response) {
  absl::StatusOr<pki::ParsedCsr> csr = pki::ParseCsr(csr_pem);
  if (!csr.ok()) return Invalid(csr.status().message());
  pki::LeafSpec leaf;
  leaf.public_key = csr->public_key.get();
  if (identity_uri.empty()) {
    leaf.subject_alt_names = csr->subject_alt_names;
    leaf.common_name =
        !leaf.subject_alt_names.dns_names.empty() ? leaf.subject_alt_names.dns_names.front() : "";
  } else {
    leaf.subject_alt_names.uris.push_back(identity_uri);
  }
  if (leaf.subject_alt_names.empty()) return Invalid("the CSR names nothing");
  for (int u : usages) {
    leaf.extended_key_usages.push_back(u == v1::CERTIFICATE_USAGE_CLIENT_AUTH
                                           ? pki::ExtendedKeyUsage::kClientAuth
                                           : pki::ExtendedKeyUsage::kServerAuth);
  }
  const absl::Time now = absl::Now();
  leaf.not_after = now + ttl;
  absl::StatusOr<pki::X509Ptr> cert = pki::IssueLeaf(intermediate_, leaf, now);
  if (!cert.ok()) return Invalid(cert.status().message());
  absl::StatusOr<pki::CertificateInfo> info = pki::DescribeCertificate(cert->get());
  absl::StatusOr<std::string> pem = pki::CertificateToPem(cert->get());
  if (!info.ok() || !pem.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "describe");

  v1::Certificate* c = response->mutable_certificate();
  c->set_name(absl::StrCat(scope, "/certificates/", info->serial_hex));
  c->set_serial(info->serial_hex);
  c->set_issuer(absl::StrCat(scope, "/issuers/fake-1"));
  if (scope != "infrastructure") c->set_tenant(scope);
  c->set_subject(info->subject);
  for (const auto& n : info->subject_alt_names.dns_names) c->add_dns_names(n);
  for (const auto& n : info->subject_alt_names.uris) c->add_uris(n);
  for (const auto& n : info->subject_alt_names.ip_addresses) c->add_ip_addresses(n);
  for (int u : usages) c->add_usages(static_cast<v1::CertificateUsage>(u));
  c->set_key_type(ProtoKeyType(info->key.type));
  c->set_rsa_bits(info->key.rsa_bits);
  c->set_public_key_sha256(info->public_key_sha256);
  SetTime(info->not_before, c->mutable_not_before());
  SetTime(info->not_after, c->mutable_not_after());
  c->set_certificate_pem(*pem);
  c->set_etag("c1");
  response->set_certificate_pem(*pem);
  response->set_chain_pem(intermediate_pem_);
  absl::MutexLock lock(&mu_);
  inventory_[c->name()] = *c;
  return grpc::Status::OK;
}

grpc::Status FakeCertificateService::IssueCertificate(grpc::ServerContext* context,
                                                      const v1::IssueCertificateRequest* request,
                                                      v1::IssueCertificateResponse* response) {
  FakeCaller caller;
  grpc::Status after;
  grpc::Status status = Begin(context, "IssueCertificate", *request, &caller, &after);
  if (!status.ok()) return status;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = by_request_id_.find(request->request_id());
        !request->request_id().empty() && it != by_request_id_.end()) {
      *response = it->second;
      return after;
    }
  }
  std::vector<int> usages(request->usages().begin(), request->usages().end());
  absl::Duration ttl =
      request->has_ttl() ? absl::Seconds(request->ttl().seconds()) : absl::Hours(24);
  status = Sign(request->parent(), request->csr(), usages, ttl, "", response);
  if (!status.ok()) return status;
  if (!request->request_id().empty()) {
    absl::MutexLock lock(&mu_);
    by_request_id_[request->request_id()] = *response;
  }
  return after;
}

grpc::Status FakeCertificateService::IssueClientCertificate(
    grpc::ServerContext* context, const v1::IssueClientCertificateRequest* request,
    v1::IssueCertificateResponse* response) {
  FakeCaller caller;
  grpc::Status after;
  grpc::Status status = Begin(context, "IssueClientCertificate", *request, &caller, &after);
  if (!status.ok()) return status;
  std::string identity = caller.client_identity;
  if (identity.empty()) {
    absl::MutexLock lock(&mu_);
    identity = tokens_[caller.token];
  }
  absl::Duration ttl =
      request->has_ttl() ? absl::Seconds(request->ttl().seconds()) : absl::Hours(12);
  status = Sign("infrastructure", request->csr(), {v1::CERTIFICATE_USAGE_CLIENT_AUTH}, ttl,
                identity, response);
  return status.ok() ? after : status;
}

grpc::Status FakeCertificateService::GetCertificate(grpc::ServerContext* context,
                                                    const v1::GetCertificateRequest* request,
                                                    v1::Certificate* response) {
  FakeCaller caller;
  grpc::Status after;
  grpc::Status status = Begin(context, "GetCertificate", *request, &caller, &after);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  auto it = inventory_.find(request->name());
  if (it == inventory_.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, request->name() + " not found");
  }
  *response = it->second;
  return after;
}

grpc::Status FakeCertificateService::ListCertificates(grpc::ServerContext* context,
                                                      const v1::ListCertificatesRequest* request,
                                                      v1::ListCertificatesResponse* response) {
  FakeCaller caller;
  grpc::Status after;
  grpc::Status status = Begin(context, "ListCertificates", *request, &caller, &after);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  std::vector<const v1::Certificate*> matching;
  for (const auto& [name, c] : inventory_) {
    if (ScopeOf(name) == request->parent()) matching.push_back(&c);
  }
  size_t start = 0;
  if (!request->page_token().empty() && !absl::SimpleAtoi(request->page_token(), &start)) {
    return Invalid("bad page token");
  }
  const size_t size = request->page_size() > 0 ? request->page_size() : 50;
  for (size_t i = start; i < matching.size() && i < start + size; ++i) {
    *response->add_certificates() = *matching[i];
  }
  if (start + size < matching.size()) response->set_next_page_token(absl::StrCat(start + size));
  return after;
}

grpc::Status FakeCertificateService::RevokeCertificate(grpc::ServerContext* context,
                                                       const v1::RevokeCertificateRequest* request,
                                                       v1::Certificate* response) {
  FakeCaller caller;
  grpc::Status after;
  grpc::Status status = Begin(context, "RevokeCertificate", *request, &caller, &after);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  auto it = inventory_.find(request->name());
  if (it == inventory_.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, request->name() + " not found");
  }
  if (!request->etag().empty() && request->etag() != it->second.etag()) {
    return grpc::Status(grpc::StatusCode::ABORTED, "etag mismatch");
  }
  if (!it->second.has_revocation()) {
    SetTime(absl::Now(), it->second.mutable_revocation()->mutable_revoke_time());
    it->second.mutable_revocation()->set_reason(request->reason());
    it->second.set_etag("c2");
  }
  *response = it->second;
  return after;
}

grpc::Status FakeCertificateService::GetCrl(grpc::ServerContext* context,
                                            const v1::GetCrlRequest* request, v1::Crl* response) {
  FakeCaller caller;
  grpc::Status after;
  grpc::Status status = Begin(context, "GetCrl", *request, &caller, &after);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  pki::CrlSpec spec;
  spec.crl_number = ++crl_number_;
  spec.this_update = absl::Now() - absl::Minutes(1);
  spec.next_update = spec.this_update + absl::Hours(24);
  for (const auto& [name, c] : inventory_) {
    if (!c.has_revocation()) continue;
    spec.revoked.push_back({c.serial(),
                            absl::FromUnixSeconds(c.revocation().revoke_time().seconds()),
                            static_cast<pki::RevocationReason>(c.revocation().reason())});
  }
  absl::StatusOr<pki::SignedCrl> crl = pki::BuildCrl(intermediate_, spec);
  if (!crl.ok())
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string(crl.status().message()));
  response->set_name(request->name());
  response->set_crl_der(crl->der);
  response->set_crl_pem(crl->pem);
  response->set_crl_number(spec.crl_number);
  SetTime(spec.this_update, response->mutable_this_update());
  SetTime(spec.next_update, response->mutable_next_update());
  return after;
}

grpc::Status FakeCertificateService::GetTrustBundle(grpc::ServerContext* context,
                                                    const v1::GetTrustBundleRequest* request,
                                                    v1::TrustBundle* response) {
  FakeCaller caller;
  grpc::Status after;
  grpc::Status status = Begin(context, "GetTrustBundle", *request, &caller, &after);
  if (!status.ok()) return status;
  response->set_name(request->name());
  response->set_ca_certificates_pem(intermediate_pem_);
  response->add_issuers(ScopeOf(request->name()) + "/issuers/fake-1");
  return after;
}

grpc::Status FakeCertificateService::GetIssuancePolicy(grpc::ServerContext* context,
                                                       const v1::GetIssuancePolicyRequest* request,
                                                       v1::IssuancePolicy* response) {
  FakeCaller caller;
  grpc::Status after;
  grpc::Status status = Begin(context, "GetIssuancePolicy", *request, &caller, &after);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  *response = policy_;
  response->set_name(request->name());
  return after;
}

grpc::Status FakeCertificateService::UpdateIssuancePolicy(
    grpc::ServerContext* context, const v1::UpdateIssuancePolicyRequest* request,
    v1::IssuancePolicy* response) {
  FakeCaller caller;
  grpc::Status after;
  grpc::Status status = Begin(context, "UpdateIssuancePolicy", *request, &caller, &after);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  const v1::IssuancePolicy& in = request->policy();
  if (!in.etag().empty() && in.etag() != policy_.etag()) {
    return grpc::Status(grpc::StatusCode::ABORTED, "etag mismatch");
  }
  for (const std::string& path : request->update_mask().paths()) {
    if (path == "allowed_dns_names") {
      *policy_.mutable_allowed_dns_names() = in.allowed_dns_names();
    } else if (path == "allowed_uris") {
      *policy_.mutable_allowed_uris() = in.allowed_uris();
    } else if (path == "allowed_ip_ranges") {
      *policy_.mutable_allowed_ip_ranges() = in.allowed_ip_ranges();
    } else if (path == "allowed_key_types") {
      *policy_.mutable_allowed_key_types() = in.allowed_key_types();
    } else if (path == "min_rsa_bits") {
      policy_.set_min_rsa_bits(in.min_rsa_bits());
    } else if (path == "max_ttl") {
      *policy_.mutable_max_ttl() = in.max_ttl();
    } else if (path == "default_ttl") {
      *policy_.mutable_default_ttl() = in.default_ttl();
    } else {
      return Invalid("update_mask: unknown path " + path);
    }
  }
  policy_.set_etag(absl::StrCat("p", ++policy_version_));
  *response = policy_;
  response->set_name(in.name());
  return after;
}

std::vector<v1::Issuer> FakeCertificateService::Issuers(const std::string& scope) const {
  std::vector<v1::Issuer> issuers;
  for (int i = 3; i >= 1; --i) {
    v1::Issuer issuer;
    issuer.set_name(absl::StrCat(scope, "/issuers/fake-", i));
    issuer.set_kind(scope == "infrastructure" ? v1::ISSUER_KIND_INFRASTRUCTURE
                                              : v1::ISSUER_KIND_TENANT);
    issuer.set_state(i == 3   ? v1::ISSUER_STATE_PREPARED
                     : i == 2 ? v1::ISSUER_STATE_ACTIVE
                              : v1::ISSUER_STATE_RETIRED);
    issuer.mutable_not_after()->set_seconds(1900000000 + i);
    issuer.set_etag(absl::StrCat("i", i));
    issuers.push_back(issuer);
  }
  return issuers;
}

grpc::Status FakeCertificateService::ListIssuers(grpc::ServerContext* context,
                                                 const v1::ListIssuersRequest* request,
                                                 v1::ListIssuersResponse* response) {
  FakeCaller caller;
  grpc::Status after;
  grpc::Status status = Begin(context, "ListIssuers", *request, &caller, &after);
  if (!status.ok()) return status;
  std::vector<v1::Issuer> issuers = Issuers(request->parent());
  size_t start = 0;
  if (!request->page_token().empty() && !absl::SimpleAtoi(request->page_token(), &start)) {
    return Invalid("bad page token");
  }
  const size_t size = request->page_size() > 0 ? request->page_size() : 50;
  for (size_t i = start; i < issuers.size() && i < start + size; ++i) {
    *response->add_issuers() = issuers[i];
  }
  if (start + size < issuers.size()) response->set_next_page_token(absl::StrCat(start + size));
  return after;
}

grpc::Status FakeCertificateService::PrepareIssuer(grpc::ServerContext* context,
                                                   const v1::PrepareIssuerRequest* request,
                                                   v1::Issuer* response) {
  FakeCaller caller;
  grpc::Status after;
  grpc::Status status = Begin(context, "PrepareIssuer", *request, &caller, &after);
  if (!status.ok()) return status;
  *response = Issuers(request->parent()).front();
  response->set_name(request->parent() + "/issuers/fake-4");
  return after;
}

grpc::Status FakeCertificateService::ActivateIssuer(grpc::ServerContext* context,
                                                    const v1::ActivateIssuerRequest* request,
                                                    v1::Issuer* response) {
  FakeCaller caller;
  grpc::Status after;
  grpc::Status status = Begin(context, "ActivateIssuer", *request, &caller, &after);
  if (!status.ok()) return status;
  if (!request->etag().empty() && request->etag() != "i3") {
    return grpc::Status(grpc::StatusCode::ABORTED, "etag mismatch");
  }
  *response = Issuers(ScopeOf(request->name())).front();
  response->set_state(v1::ISSUER_STATE_ACTIVE);
  return after;
}

grpc::Status FakeCertificateService::RetireIssuer(grpc::ServerContext* context,
                                                  const v1::RetireIssuerRequest* request,
                                                  v1::Issuer* response) {
  FakeCaller caller;
  grpc::Status after;
  grpc::Status status = Begin(context, "RetireIssuer", *request, &caller, &after);
  if (!status.ok()) return status;
  *response = Issuers(ScopeOf(request->name())).back();
  response->set_state(v1::ISSUER_STATE_RETIRED);
  return after;
}

absl::StatusOr<std::unique_ptr<FakeMandantServer>> FakeMandantServer::Start(
    FakeCertificateService* service) {
  absl::StatusOr<pki::EvpPkeyPtr> key = pki::GenerateKey(pki::KeyType::kEcdsaP256);
  if (!key.ok()) return key.status();
  pki::LeafSpec leaf;
  leaf.public_key = key->get();
  leaf.subject_alt_names.dns_names = {"localhost"};
  leaf.subject_alt_names.ip_addresses = {"127.0.0.1"};
  leaf.extended_key_usages = {pki::ExtendedKeyUsage::kServerAuth};
  leaf.not_after = absl::Now() + absl::Hours(24);
  absl::StatusOr<pki::X509Ptr> cert = pki::IssueLeaf(service->intermediate(), leaf, absl::Now());
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> cert_pem = pki::CertificateToPem(cert->get());
  absl::StatusOr<pki::SecretBytes> key_pem = pki::PrivateKeyToPem(key->get());
  if (!cert_pem.ok()) return cert_pem.status();
  if (!key_pem.ok()) return key_pem.status();

  grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = service->root_pem();
  tls.pem_key_cert_pairs.push_back(
      {std::string(key_pem->view()), *cert_pem + service->intermediate_pem()});
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(tls), &port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError("the fake CertificateService cannot listen on 127.0.0.1");
  }
  return std::unique_ptr<FakeMandantServer>(new FakeMandantServer(std::move(server), port));
}

FakeMandantServer::~FakeMandantServer() {
  server_->Shutdown(absl::ToChronoTime(absl::Now()));
  server_->Wait();
}

std::string FakeMandantServer::address() const { return absl::StrCat("localhost:", port_); }

}  // namespace mandant::cli::testing
