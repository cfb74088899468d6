// CertificateService and the tenant PKI against a real PostgreSQL and a
// real gRPC server: issuance under policy and name constraints, chains
// checked by the openssl command, revocation and CRLs, tenant isolation,
// keys at rest.

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/health_check_service_interface.h"
#include "gtest/gtest.h"

#include "controller/pki/issuers.h"
#include "controller/store/pki_store.h"
#include "pki/certificate_info.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "pki/sealing.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_controller.h"
#include "tests/unit/pki/pki_test_util.h"

namespace mandant {
namespace {

using controller::auth::Role;
using testing::GrpcIs;
using ::testing::HasSubstr;
using testing::TestController;

struct KeyAndCsr {
  pki::EvpPkeyPtr key;
  std::string csr_pem;
};

KeyAndCsr MakeCsr(const std::vector<std::string>& dns, const std::vector<std::string>& uris = {},
                  const std::vector<std::string>& ips = {}, absl::string_view cn = "") {
  KeyAndCsr out;
  auto key = pki::GenerateKey(pki::KeyType::kEcdsaP256);
  EXPECT_TRUE(key.ok());
  out.key = *std::move(key);
  pki::SubjectAltNames names;
  names.dns_names = dns;
  names.uris = uris;
  names.ip_addresses = ips;
  auto csr = pki::BuildCsr(out.key.get(), cn, names);
  EXPECT_TRUE(csr.ok()) << csr.status();
  auto pem = pki::CsrToPem(csr->get());
  EXPECT_TRUE(pem.ok());
  out.csr_pem = *pem;
  return out;
}

std::vector<std::string> Fields(const grpc::Status& status) {
  google::rpc::Status details;
  std::vector<std::string> out;
  if (!details.ParseFromString(status.error_details())) return out;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&bad)) {
      for (const auto& v : bad.field_violations()) out.push_back(v.field());
    }
  }
  return out;
}

class CertificateServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = TestController::Start();
    ASSERT_OK(c);
    controller_ = *std::move(c);
    certs_ = controller_->Certificates();
    admin_ = controller_->Token(Role::kProviderAdmin, "", "operator");
    CreateTenant("acme");
    CreateTenant("beta");
    acme_admin_ = controller_->Token(Role::kTenantAdmin, "acme", "alice");
    acme_viewer_ = controller_->Token(Role::kTenantViewer, "acme", "victor");
    beta_admin_ = controller_->Token(Role::kTenantAdmin, "beta", "bob");
    auto root = controller_->Sql(
        "SELECT certificate_pem FROM pki_issuers WHERE kind = 'ROOT' AND state = 'ACTIVE'");
    ASSERT_OK(root);
    root_pem_ = *root;
  }

  void CreateTenant(const std::string& id) {
    v1::CreateTenantRequest req;
    req.set_tenant_id(id);
    req.mutable_tenant()->set_display_name(id);
    v1::Tenant t;
    auto ctx = TestController::Context(admin_);
    ASSERT_TRUE(controller_->Tenants()->CreateTenant(ctx.get(), req, &t).ok());
  }

  grpc::Status Issue(const std::string& token, const std::string& parent, const std::string& csr,
                     v1::IssueCertificateResponse* out,
                     std::vector<v1::CertificateUsage> usages = {
                         v1::CERTIFICATE_USAGE_SERVER_AUTH}) {
    v1::IssueCertificateRequest req;
    req.set_parent(parent);
    req.set_csr(csr);
    for (auto u : usages) req.add_usages(u);
    auto ctx = TestController::Context(token);
    return certs_->IssueCertificate(ctx.get(), req, out);
  }

  std::string TrustBundle(const std::string& token, const std::string& scope) {
    v1::GetTrustBundleRequest req;
    req.set_name(absl::StrCat(scope, "/trustBundle"));
    v1::TrustBundle bundle;
    auto ctx = TestController::Context(token);
    EXPECT_TRUE(certs_->GetTrustBundle(ctx.get(), req, &bundle).ok());
    return bundle.ca_certificates_pem();
  }

  std::string CrlPem(const std::string& token, const std::string& issuer) {
    v1::GetCrlRequest req;
    req.set_name(absl::StrCat(issuer, "/crl"));
    v1::Crl crl;
    auto ctx = TestController::Context(token);
    grpc::Status st = certs_->GetCrl(ctx.get(), req, &crl);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return crl.crl_pem();
  }

  int64_t Count(const std::string& sql) {
    auto out = controller_->Sql(sql);
    EXPECT_TRUE(out.ok());
    int64_t n = -1;
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*out), &n)) << *out;
    return n;
  }

  std::unique_ptr<TestController> controller_;
  std::unique_ptr<v1::CertificateService::Stub> certs_;
  std::string admin_, acme_admin_, acme_viewer_, beta_admin_;
  std::string root_pem_;
};

TEST_F(CertificateServiceTest, IssuedChainVerifiesStrictlyUpToTheMandantRoot) {
  KeyAndCsr k = MakeCsr({"api.acme.svc.mandant.internal"},
                        {"spiffe://acme.tenants.mandant.internal/ns/prod/sa/api"});
  v1::IssueCertificateResponse resp;
  grpc::Status st = Issue(acme_admin_, "tenants/acme", k.csr_pem, &resp,
                          {v1::CERTIFICATE_USAGE_SERVER_AUTH, v1::CERTIFICATE_USAGE_CLIENT_AUTH});
  ASSERT_TRUE(st.ok()) << st.error_message();
  const v1::Certificate& c = resp.certificate();
  EXPECT_EQ(c.name(), absl::StrCat("tenants/acme/certificates/", c.serial()));
  EXPECT_EQ(c.tenant(), "tenants/acme");
  EXPECT_EQ(c.subject(), "CN=api.acme.svc.mandant.internal");
  EXPECT_GE(c.serial().size(), 30u);  // 128 random bits
  // The default TTL of a tenant policy is 24 hours.
  EXPECT_EQ(c.not_after().seconds() - c.not_before().seconds(), 24 * 3600 + 60);
  EXPECT_OK(pki::testing::VerifyWithOpenSslCli(resp.certificate_pem(), {root_pem_},
                                               {resp.chain_pem()}, "", {"-purpose", "sslserver"}));
  EXPECT_OK(pki::testing::VerifyWithOpenSslCli(resp.certificate_pem(), {root_pem_},
                                               {resp.chain_pem()}, "", {"-purpose", "sslclient"}));

  // In the inventory, readable by the tenant's viewer, listed by expiry.
  v1::GetCertificateRequest get;
  get.set_name(c.name());
  v1::Certificate got;
  auto ctx = TestController::Context(acme_viewer_);
  ASSERT_TRUE(certs_->GetCertificate(ctx.get(), get, &got).ok());
  EXPECT_EQ(got.certificate_pem(), resp.certificate_pem());
  EXPECT_EQ(got.public_key_sha256().size(), 64u);
  v1::ListCertificatesRequest list;
  list.set_parent("tenants/acme");
  v1::ListCertificatesResponse listed;
  ctx = TestController::Context(acme_viewer_);
  ASSERT_TRUE(certs_->ListCertificates(ctx.get(), list, &listed).ok());
  ASSERT_EQ(listed.certificates_size(), 1);
  EXPECT_EQ(listed.certificates(0).name(), c.name());
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM audit_log WHERE method = 'IssueCertificate' "
                               "AND code = 'OK' AND object = '",
                               c.name(), "'")),
            1);
}

TEST_F(CertificateServiceTest, NamesOutsideTheTenantAreRefusedAndAudited) {
  v1::IssueCertificateResponse resp;
  // Another tenant's zone, a look-alike, a foreign trust domain.
  for (const KeyAndCsr& k :
       {MakeCsr({"api.beta.svc.mandant.internal"}), MakeCsr({"evil-acme.svc.mandant.internal"}),
        MakeCsr({}, {"spiffe://beta.tenants.mandant.internal/x"}),
        MakeCsr({"api.acme.svc.mandant.internal"}, {}, {"10.80.0.5"})}) {
    grpc::Status st = Issue(acme_admin_, "tenants/acme", k.csr_pem, &resp);
    EXPECT_THAT(st, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, ""));
    EXPECT_THAT(Fields(st), ::testing::Contains("csr")) << st.error_message();
  }
  EXPECT_EQ(Count("SELECT count(*) FROM pki_certificates WHERE scope = 'tenants/acme'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'IssueCertificate' "
                  "AND code = 'INVALID_ARGUMENT'"),
            4);
}

TEST_F(CertificateServiceTest, HandMadeLeafViolatingConstraintsFailsOpenSslVerification) {
  // The policy refuses such names; a CA that signed one anyway (a bug, or a
  // stolen key) still cannot make it verify: the tenant CA's name
  // constraints are critical.
  auto rows = controller_->Sql(
      "SELECT id FROM pki_issuers WHERE scope = 'tenants/acme' AND state = 'ACTIVE'");
  ASSERT_OK(rows);
  auto keys = controller_->KeyRing();
  ASSERT_OK(keys);
  controller::Issuers issuers(controller::PkiOptions(), *std::move(keys));
  controller::store::PkiStore store;
  auto conn = controller::store::Connection::Open(
      testing::SharedPostgres().conninfo(controller_->dbname()), "");
  ASSERT_OK(conn);
  auto row = store.GetIssuerById(**conn, absl::StripAsciiWhitespace(*rows));
  ASSERT_OK(row);
  auto ca = issuers.Authority(*row);
  ASSERT_OK(ca);
  pki::SubjectAltNames names;
  names.dns_names = {"api.beta.svc.mandant.internal"};
  auto leaf = pki::testing::HandMadeLeaf(**ca, names, absl::Now());
  ASSERT_OK(leaf);
  absl::Status verified = pki::testing::VerifyWithOpenSslCli(pki::testing::Pem(leaf->cert.get()),
                                                             {root_pem_}, {row->certificate_pem});
  EXPECT_FALSE(verified.ok());
  EXPECT_THAT(std::string(verified.message()), HasSubstr("permitted subtree violation"));
}

TEST_F(CertificateServiceTest, RevokedCertificateFailsVerificationWithTheCrl) {
  KeyAndCsr k = MakeCsr({"db.acme.svc.mandant.internal"});
  v1::IssueCertificateResponse resp;
  ASSERT_TRUE(Issue(acme_admin_, "tenants/acme", k.csr_pem, &resp).ok());
  const std::string issuer = resp.certificate().issuer();
  const std::string crl_before = CrlPem(acme_viewer_, issuer);
  EXPECT_OK(pki::testing::VerifyWithOpenSslCli(resp.certificate_pem(), {root_pem_},
                                               {resp.chain_pem()}, crl_before, {"-crl_check"}));

  // A viewer may not revoke; the tenant admin may, once.
  v1::RevokeCertificateRequest revoke;
  revoke.set_name(resp.certificate().name());
  revoke.set_reason(v1::REVOCATION_REASON_KEY_COMPROMISE);
  v1::Certificate revoked;
  auto ctx = TestController::Context(acme_viewer_);
  EXPECT_THAT(certs_->RevokeCertificate(ctx.get(), revoke, &revoked),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED, ""));
  ctx = TestController::Context(acme_admin_);
  ASSERT_TRUE(certs_->RevokeCertificate(ctx.get(), revoke, &revoked).ok());
  EXPECT_EQ(revoked.revocation().reason(), v1::REVOCATION_REASON_KEY_COMPROMISE);
  ctx = TestController::Context(acme_admin_);
  v1::Certificate again;
  ASSERT_TRUE(certs_->RevokeCertificate(ctx.get(), revoke, &again).ok());
  EXPECT_EQ(again.revocation().revoke_time().seconds(),
            revoked.revocation().revoke_time().seconds());

  const std::string crl_after = CrlPem(acme_viewer_, issuer);
  absl::Status verified = pki::testing::VerifyWithOpenSslCli(
      resp.certificate_pem(), {root_pem_}, {resp.chain_pem()}, crl_after, {"-crl_check"});
  EXPECT_FALSE(verified.ok());
  EXPECT_THAT(std::string(verified.message()), HasSubstr("revoked"));
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'RevokeCertificate' "
                  "AND code = 'OK'"),
            2);
}

TEST_F(CertificateServiceTest, TenantsNeverSeeOrTrustEachOther) {
  KeyAndCsr k = MakeCsr({"api.beta.svc.mandant.internal"});
  v1::IssueCertificateResponse beta_cert;
  ASSERT_TRUE(Issue(beta_admin_, "tenants/beta", k.csr_pem, &beta_cert).ok());

  // acme cannot issue in, read, list or revoke in beta's scope: NOT_FOUND,
  // as for a tenant that does not exist.
  v1::IssueCertificateResponse resp;
  EXPECT_THAT(Issue(acme_admin_, "tenants/beta", k.csr_pem, &resp),
              GrpcIs(grpc::StatusCode::NOT_FOUND, "tenant \"beta\" not found"));
  v1::GetCertificateRequest get;
  get.set_name(beta_cert.certificate().name());
  v1::Certificate c;
  auto ctx = TestController::Context(acme_admin_);
  EXPECT_THAT(certs_->GetCertificate(ctx.get(), get, &c),
              GrpcIs(grpc::StatusCode::NOT_FOUND, "tenant \"beta\" not found"));
  // The same serial under acme's own scope does not exist either.
  get.set_name(absl::StrCat("tenants/acme/certificates/", beta_cert.certificate().serial()));
  ctx = TestController::Context(acme_admin_);
  EXPECT_THAT(certs_->GetCertificate(ctx.get(), get, &c), GrpcIs(grpc::StatusCode::NOT_FOUND, ""));
  // Infrastructure is for provider admins.
  EXPECT_THAT(Issue(acme_admin_, "infrastructure", k.csr_pem, &resp),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED, ""));

  // A verifier trusting acme's bundle refuses beta's certificate, and
  // accepts acme's own.
  const std::string acme_bundle = TrustBundle(acme_admin_, "tenants/acme");
  ASSERT_THAT(acme_bundle, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_FALSE(pki::testing::VerifyWithOpenSslCli(beta_cert.certificate_pem(), {acme_bundle},
                                                  {beta_cert.chain_pem()}, "", {"-partial_chain"})
                   .ok());
  KeyAndCsr mine = MakeCsr({"api.acme.svc.mandant.internal"});
  ASSERT_TRUE(Issue(acme_admin_, "tenants/acme", mine.csr_pem, &resp).ok());
  EXPECT_OK(pki::testing::VerifyWithOpenSslCli(resp.certificate_pem(), {acme_bundle}, {}, "",
                                               {"-partial_chain"}));
}

TEST_F(CertificateServiceTest, DeletingATenantRevokesItsIntermediate) {
  KeyAndCsr k = MakeCsr({"api.beta.svc.mandant.internal"});
  v1::IssueCertificateResponse beta_cert;
  ASSERT_TRUE(Issue(beta_admin_, "tenants/beta", k.csr_pem, &beta_cert).ok());
  auto root_id =
      controller_->Sql("SELECT id FROM pki_issuers WHERE kind = 'ROOT' AND state = 'ACTIVE'");
  ASSERT_OK(root_id);
  const std::string root_issuer =
      absl::StrCat("infrastructure/issuers/", absl::StripAsciiWhitespace(*root_id));

  v1::DeleteTenantRequest del;
  del.set_name("tenants/beta");
  google::protobuf::Empty empty;
  auto ctx = TestController::Context(admin_);
  ASSERT_TRUE(controller_->Tenants()->DeleteTenant(ctx.get(), del, &empty).ok());

  // The root's CRL now lists beta's intermediate, so everything below it
  // fails a revocation-checking verifier.
  const std::string root_crl = CrlPem(admin_, root_issuer);
  EXPECT_OK(pki::testing::VerifyWithOpenSslCli(beta_cert.chain_pem(), {root_pem_}, {}, "", {}));
  absl::Status verified = pki::testing::VerifyWithOpenSslCli(beta_cert.chain_pem(), {root_pem_}, {},
                                                             root_crl, {"-crl_check"});
  EXPECT_FALSE(verified.ok());
  EXPECT_THAT(std::string(verified.message()), HasSubstr("revoked"));

  // A new tenant of the same name gets a new CA and sees nothing of the old.
  CreateTenant("beta");
  const std::string token = controller_->Token(Role::kTenantAdmin, "beta", "bob2");
  v1::ListCertificatesRequest list;
  list.set_parent("tenants/beta");
  v1::ListCertificatesResponse listed;
  ctx = TestController::Context(token);
  ASSERT_TRUE(certs_->ListCertificates(ctx.get(), list, &listed).ok());
  EXPECT_EQ(listed.certificates_size(), 0);
  const std::string bundle = TrustBundle(token, "tenants/beta");
  EXPECT_EQ(bundle.find(beta_cert.chain_pem()), std::string::npos);
}

TEST_F(CertificateServiceTest, ADatabaseDumpHoldsNoPrivateKeyInClear) {
  auto dump = testing::SharedPostgres().Dump(controller_->dbname());
  ASSERT_OK(dump);
  ASSERT_THAT(*dump, HasSubstr("pki_issuers"));
  EXPECT_EQ(dump->find("PRIVATE KEY"), std::string::npos);

  // Every CA key, opened with the KEK, appears nowhere in the dump: neither
  // its PKCS#8 DER (bytea is dumped as hex) nor its base64.
  auto keys = controller_->KeyRing();
  ASSERT_OK(keys);
  auto conn = controller::store::Connection::Open(
      testing::SharedPostgres().conninfo(controller_->dbname()), "");
  ASSERT_OK(conn);
  auto ids = (*conn)->Query("SELECT id FROM pki_issuers");
  ASSERT_OK(ids);
  ASSERT_GE(ids->size(), 4);  // root, infrastructure, acme, beta
  controller::store::PkiStore store;
  for (int i = 0; i < ids->size(); ++i) {
    auto row = store.GetIssuerById(**conn, ids->Text(i, 0));
    ASSERT_OK(row);
    auto key = pki::UnsealPrivateKey(*keys, row->sealed_key, row->id);
    ASSERT_OK(key);
    auto der = pki::PrivateKeyToDer(key->get());
    ASSERT_OK(der);
    EXPECT_EQ(dump->find(absl::BytesToHexString(der->view())), std::string::npos);
    EXPECT_EQ(dump->find(absl::Base64Escape(der->view())), std::string::npos);
  }
}

TEST_F(CertificateServiceTest, TamperedOrMovedSealedKeysAreRefused) {
  auto keys = controller_->KeyRing();
  ASSERT_OK(keys);
  controller::Issuers issuers(controller::PkiOptions(), *std::move(keys));
  controller::store::PkiStore store;
  auto conn = controller::store::Connection::Open(
      testing::SharedPostgres().conninfo(controller_->dbname()), "");
  ASSERT_OK(conn);
  auto ids = (*conn)->Query(
      "SELECT id FROM pki_issuers WHERE kind = 'TENANT' ORDER BY scope");  // acme, beta
  ASSERT_OK(ids);
  ASSERT_EQ(ids->size(), 2);
  auto acme = store.GetIssuerById(**conn, ids->Text(0, 0));
  auto beta = store.GetIssuerById(**conn, ids->Text(1, 0));
  ASSERT_OK(acme);
  ASSERT_OK(beta);

  // beta's sealed key copied onto acme's row.
  controller::store::IssuerRow moved = *acme;
  moved.sealed_key = beta->sealed_key;
  EXPECT_THAT(issuers.Authority(moved), testing::StatusIs(absl::StatusCode::kDataLoss, ""));
  // One changed byte of the ciphertext.
  controller::store::IssuerRow flipped = *acme;
  flipped.sealed_key.back() ^= 0x01;
  EXPECT_THAT(issuers.Authority(flipped), testing::StatusIs(absl::StatusCode::kDataLoss, ""));
  // The untouched row opens.
  EXPECT_OK(issuers.Authority(*acme).status());
}

TEST_F(CertificateServiceTest, KekRotationRewrapsEveryKeyWithoutChangingIt) {
  auto old_keys = controller_->KeyRing();
  ASSERT_OK(old_keys);
  auto old_text = old_keys->current().ToText();
  auto next = pki::Kek::Generate("test-kek-2");
  ASSERT_OK(next);
  auto previous = pki::Kek::Parse(old_text.view());
  ASSERT_OK(previous);
  std::vector<pki::Kek> prev;
  prev.push_back(*std::move(previous));
  auto next_copy = pki::Kek::Parse(next->ToText().view());
  ASSERT_OK(next_copy);
  auto ring = pki::KeyRing::Create(*std::move(next), std::move(prev));
  ASSERT_OK(ring);
  controller::Issuers rotating(controller::PkiOptions(), *std::move(ring));
  auto conn = controller::store::Connection::Open(
      testing::SharedPostgres().conninfo(controller_->dbname()), "");
  ASSERT_OK(conn);
  auto done = rotating.RewrapKeys(**conn);
  ASSERT_OK(done);
  EXPECT_EQ(*done, 4);
  EXPECT_EQ(Count("SELECT count(*) FROM pki_issuers WHERE kek_id <> 'test-kek-2'"), 0);

  // Only the new KEK is needed from now on, and the server keeps issuing.
  auto only_new = pki::KeyRing::Create(*std::move(next_copy));
  ASSERT_OK(only_new);
  controller::Issuers after(controller::PkiOptions(), *std::move(only_new));
  controller::store::PkiStore store;
  auto ids = (*conn)->Query("SELECT id FROM pki_issuers");
  ASSERT_OK(ids);
  for (int i = 0; i < ids->size(); ++i) {
    auto row = store.GetIssuerById(**conn, ids->Text(i, 0));
    ASSERT_OK(row);
    EXPECT_OK(after.Authority(*row).status()) << row->id;
  }
  KeyAndCsr k = MakeCsr({"api.acme.svc.mandant.internal"});
  v1::IssueCertificateResponse resp;
  EXPECT_TRUE(Issue(acme_admin_, "tenants/acme", k.csr_pem, &resp).ok());
}

TEST_F(CertificateServiceTest, BadRequestsNameTheirFields) {
  v1::IssueCertificateRequest req;
  req.set_parent("tenants/acme");
  req.set_csr("not a csr");
  req.add_usages(static_cast<v1::CertificateUsage>(7));
  req.set_request_id("nope");
  req.mutable_ttl()->set_seconds(-5);
  v1::IssueCertificateResponse resp;
  auto ctx = TestController::Context(acme_admin_);
  grpc::Status st = certs_->IssueCertificate(ctx.get(), req, &resp);
  EXPECT_THAT(st, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, ""));
  EXPECT_THAT(Fields(st), ::testing::UnorderedElementsAre("usages[0]", "ttl", "request_id"));

  // A CSR that does not parse is named as such.
  req.clear_usages();
  req.add_usages(v1::CERTIFICATE_USAGE_SERVER_AUTH);
  req.clear_ttl();
  req.clear_request_id();
  ctx = TestController::Context(acme_admin_);
  st = certs_->IssueCertificate(ctx.get(), req, &resp);
  EXPECT_THAT(Fields(st), ::testing::ElementsAre("csr"));

  // No credentials at all.
  ctx = TestController::Context("");
  EXPECT_THAT(certs_->IssueCertificate(ctx.get(), req, &resp),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, ""));
}

TEST_F(CertificateServiceTest, OutOfRangeTimesAreFieldViolations) {
  // Seconds near INT64_MAX overflowed the conversion to microseconds.
  v1::ListCertificatesRequest list;
  list.set_parent("tenants/acme");
  list.mutable_expire_before()->set_seconds(INT64_MAX);
  v1::ListCertificatesResponse listed;
  auto ctx = TestController::Context(acme_admin_);
  grpc::Status st = certs_->ListCertificates(ctx.get(), list, &listed);
  EXPECT_THAT(st, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "9999-12-31"));
  EXPECT_THAT(Fields(st), ::testing::ElementsAre("expire_before"));
  list.mutable_expire_before()->set_seconds(1700000000);
  list.mutable_expire_before()->set_nanos(-1);
  ctx = TestController::Context(acme_admin_);
  EXPECT_THAT(Fields(certs_->ListCertificates(ctx.get(), list, &listed)),
              ::testing::ElementsAre("expire_before"));

  KeyAndCsr k = MakeCsr({"api.acme.svc.mandant.internal"});
  v1::IssueCertificateRequest issue;
  issue.set_parent("tenants/acme");
  issue.set_csr(k.csr_pem);
  issue.add_usages(v1::CERTIFICATE_USAGE_SERVER_AUTH);
  for (auto [seconds, nanos] : std::vector<std::pair<int64_t, int32_t>>{
           {INT64_MAX, 0}, {3600, 1000000000}, {3600, -5}, {398 * 86400, 0}}) {
    issue.mutable_ttl()->set_seconds(seconds);
    issue.mutable_ttl()->set_nanos(nanos);
    v1::IssueCertificateResponse resp;
    ctx = TestController::Context(acme_admin_);
    EXPECT_THAT(Fields(certs_->IssueCertificate(ctx.get(), issue, &resp)),
                ::testing::ElementsAre("ttl"))
        << seconds << "s " << nanos << "ns";
  }

  v1::UpdateIssuancePolicyRequest policy;
  policy.mutable_policy()->set_name("tenants/acme/issuancePolicy");
  policy.mutable_policy()->mutable_max_ttl()->set_seconds(INT64_MIN);
  policy.mutable_update_mask()->add_paths("max_ttl");
  v1::IssuancePolicy updated;
  ctx = TestController::Context(acme_admin_);
  EXPECT_THAT(Fields(certs_->UpdateIssuancePolicy(ctx.get(), policy, &updated)),
              ::testing::ElementsAre("policy.max_ttl"));

  v1::PrepareIssuerRequest prepare;
  prepare.set_parent("tenants/acme");
  prepare.mutable_validity()->set_seconds(INT64_MAX);
  v1::Issuer issuer;
  ctx = TestController::Context(admin_);
  EXPECT_THAT(Fields(certs_->PrepareIssuer(ctx.get(), prepare, &issuer)),
              ::testing::ElementsAre("validity"));
}

TEST_F(CertificateServiceTest, ListPageTokensAreCheckedAndBoundToTheirFilters) {
  for (int i = 0; i < 3; ++i) {
    KeyAndCsr k = MakeCsr({absl::StrCat("api", i, ".acme.svc.mandant.internal")});
    v1::IssueCertificateResponse resp;
    ASSERT_GRPC_OK(Issue(acme_admin_, "tenants/acme", k.csr_pem, &resp));
  }
  v1::ListCertificatesRequest req;
  req.set_parent("tenants/acme");
  req.set_page_size(2);
  v1::ListCertificatesResponse first;
  auto ctx = TestController::Context(acme_admin_);
  ASSERT_GRPC_OK(certs_->ListCertificates(ctx.get(), req, &first));
  ASSERT_EQ(first.certificates_size(), 2);
  ASSERT_FALSE(first.next_page_token().empty());
  req.set_page_token(first.next_page_token());
  v1::ListCertificatesResponse second;
  ctx = TestController::Context(acme_admin_);
  ASSERT_GRPC_OK(certs_->ListCertificates(ctx.get(), req, &second));
  EXPECT_EQ(second.certificates_size(), 1);
  EXPECT_EQ(second.next_page_token(), "");

  // The same token with other filters, in another tenant, or altered.
  req.set_include_expired(true);
  ctx = TestController::Context(acme_admin_);
  EXPECT_THAT(Fields(certs_->ListCertificates(ctx.get(), req, &second)),
              ::testing::ElementsAre("page_token"));
  req.set_include_expired(false);
  std::string altered = first.next_page_token();
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  for (const std::string& token : {altered, std::string("garbage!"), std::string(1025, 'A')}) {
    req.set_page_token(token);
    ctx = TestController::Context(acme_admin_);
    grpc::Status st = certs_->ListCertificates(ctx.get(), req, &second);
    EXPECT_THAT(st, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "page_token"));
    EXPECT_THAT(Fields(st), ::testing::ElementsAre("page_token"));
  }

  v1::ListIssuersRequest issuers;
  issuers.set_parent("tenants/acme");
  issuers.set_page_token(first.next_page_token());  // a ListCertificates token
  v1::ListIssuersResponse listed;
  ctx = TestController::Context(acme_admin_);
  EXPECT_THAT(Fields(certs_->ListIssuers(ctx.get(), issuers, &listed)),
              ::testing::ElementsAre("page_token"));
  issuers.set_page_token(std::string(4096, 'x'));
  issuers.set_page_size(1001);
  ctx = TestController::Context(acme_admin_);
  EXPECT_THAT(Fields(certs_->ListIssuers(ctx.get(), issuers, &listed)),
              ::testing::ElementsAre("page_size", "page_token"));
}

TEST_F(CertificateServiceTest, CallersStringsAreQuotedAndCutInErrors) {
  KeyAndCsr k = MakeCsr({"api.acme.svc.mandant.internal"});
  v1::IssueCertificateResponse issued;
  ASSERT_GRPC_OK(Issue(acme_admin_, "tenants/acme", k.csr_pem, &issued));
  v1::RevokeCertificateRequest revoke;
  revoke.set_name(issued.certificate().name());
  revoke.set_etag(std::string(1, '\x1b') + "[2J" + std::string(1000, 'e'));
  v1::Certificate cert;
  auto ctx = TestController::Context(acme_admin_);
  grpc::Status st = certs_->RevokeCertificate(ctx.get(), revoke, &cert);
  EXPECT_THAT(st, GrpcIs(grpc::StatusCode::ABORTED, "\"\\x1b[2Jeee"));
  EXPECT_THAT(st.error_message(), ::testing::Not(HasSubstr("\x1b")));
  EXPECT_LT(st.error_message().size(), 300u);

  v1::GetCertificateRequest get;
  get.set_name("tenants/acme/certificates/\n" + std::string(1000, 'z'));
  ctx = TestController::Context(acme_admin_);
  st = certs_->GetCertificate(ctx.get(), get, &cert);
  EXPECT_THAT(st, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "\\n"));
  EXPECT_LT(st.error_message().size(), 300u);
}

TEST_F(CertificateServiceTest, RequestIdReplaysTheFirstCertificate) {
  KeyAndCsr k = MakeCsr({"api.acme.svc.mandant.internal"});
  v1::IssueCertificateRequest req;
  req.set_parent("tenants/acme");
  req.set_csr(k.csr_pem);
  req.add_usages(v1::CERTIFICATE_USAGE_SERVER_AUTH);
  req.set_request_id("5f0c6d0e-6c1b-4a8e-9a53-3d3a0b8b2f10");
  v1::IssueCertificateResponse first, second;
  auto ctx = TestController::Context(acme_admin_);
  ASSERT_TRUE(certs_->IssueCertificate(ctx.get(), req, &first).ok());
  ctx = TestController::Context(acme_admin_);
  ASSERT_TRUE(certs_->IssueCertificate(ctx.get(), req, &second).ok());
  EXPECT_EQ(first.certificate().serial(), second.certificate().serial());
  EXPECT_EQ(Count("SELECT count(*) FROM pki_certificates WHERE scope = 'tenants/acme'"), 1);
}

TEST_F(CertificateServiceTest, ClientCertificateNamesTheCallersPrincipal) {
  KeyAndCsr k = MakeCsr({"ignored.example.com"});
  v1::IssueClientCertificateRequest req;
  req.set_csr(k.csr_pem);
  v1::IssueCertificateResponse resp;
  auto ctx = TestController::Context(acme_admin_);
  grpc::Status st = certs_->IssueClientCertificate(ctx.get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_THAT(resp.certificate().uris(),
              ::testing::ElementsAre("spiffe://mandant.internal/tenants/acme/admin/alice"));
  EXPECT_TRUE(resp.certificate().dns_names().empty());
  EXPECT_THAT(resp.certificate().usages(),
              ::testing::ElementsAre(v1::CERTIFICATE_USAGE_CLIENT_AUTH));
  EXPECT_EQ(resp.certificate().not_after().seconds() - resp.certificate().not_before().seconds(),
            12 * 3600 + 60);
  const std::string infra_bundle = TrustBundle(acme_admin_, "infrastructure");
  EXPECT_OK(pki::testing::VerifyWithOpenSslCli(resp.certificate_pem(), {infra_bundle}, {}, "",
                                               {"-partial_chain", "-purpose", "sslclient"}));
}

// A channel that authenticates with a client certificate instead of a token.
std::shared_ptr<grpc::Channel> MtlsChannel(TestController& c, const std::string& key_pem,
                                           const std::string& cert_chain_pem) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = c.server_cert_pem();
  ssl.pem_private_key = key_pem;
  ssl.pem_cert_chain = cert_chain_pem;
  return grpc::CreateChannel(absl::StrCat("localhost:", c.server().port()),
                             grpc::SslCredentials(ssl));
}

std::string KeyPem(const pki::EvpPkeyPtr& key) {
  auto pem = pki::PrivateKeyToPem(key.get());
  EXPECT_TRUE(pem.ok());
  return std::string(pem->view());
}

TEST_F(CertificateServiceTest, IssuerRotationKeepsOldCertificatesTrusted) {
  KeyAndCsr k = MakeCsr({"api.acme.svc.mandant.internal"});
  v1::IssueCertificateResponse before;
  ASSERT_TRUE(Issue(acme_admin_, "tenants/acme", k.csr_pem, &before).ok());

  v1::PrepareIssuerRequest prepare;
  prepare.set_parent("tenants/acme");
  v1::Issuer prepared;
  auto ctx = TestController::Context(acme_admin_);
  EXPECT_THAT(certs_->PrepareIssuer(ctx.get(), prepare, &prepared),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED, ""));
  ctx = TestController::Context(admin_);
  ASSERT_TRUE(certs_->PrepareIssuer(ctx.get(), prepare, &prepared).ok());
  EXPECT_EQ(prepared.state(), v1::ISSUER_STATE_PREPARED);
  EXPECT_THAT(prepared.permitted_dns_domains(),
              ::testing::ElementsAre("acme.svc.mandant.internal"));
  ctx = TestController::Context(admin_);
  v1::Issuer second;
  EXPECT_THAT(certs_->PrepareIssuer(ctx.get(), prepare, &second),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION, "already has a PREPARED"));
  // Published before it signs anything.
  EXPECT_THAT(TrustBundle(acme_admin_, "tenants/acme"), HasSubstr(prepared.certificate_pem()));
  v1::IssueCertificateResponse during;
  ASSERT_TRUE(Issue(acme_admin_, "tenants/acme", k.csr_pem, &during).ok());
  EXPECT_EQ(during.certificate().issuer(), before.certificate().issuer());

  v1::ActivateIssuerRequest activate;
  activate.set_name(prepared.name());
  activate.set_etag("0000-1");
  v1::Issuer active;
  ctx = TestController::Context(admin_);
  EXPECT_THAT(certs_->ActivateIssuer(ctx.get(), activate, &active),
              GrpcIs(grpc::StatusCode::ABORTED, ""));
  activate.set_etag(prepared.etag());
  ctx = TestController::Context(admin_);
  ASSERT_TRUE(certs_->ActivateIssuer(ctx.get(), activate, &active).ok());
  EXPECT_EQ(active.state(), v1::ISSUER_STATE_ACTIVE);

  v1::IssueCertificateResponse after;
  ASSERT_TRUE(Issue(acme_admin_, "tenants/acme", k.csr_pem, &after).ok());
  EXPECT_EQ(after.certificate().issuer(), prepared.name());
  // Both generations verify against the bundle; the old CA is RETIRED.
  const std::string bundle = TrustBundle(acme_admin_, "tenants/acme");
  for (const auto* cert : {&before, &after}) {
    EXPECT_OK(pki::testing::VerifyWithOpenSslCli(cert->certificate_pem(), {bundle}, {}, "",
                                                 {"-partial_chain"}));
  }
  v1::RetireIssuerRequest retire;
  retire.set_name(prepared.name());
  v1::Issuer retired;
  ctx = TestController::Context(admin_);
  EXPECT_THAT(certs_->RetireIssuer(ctx.get(), retire, &retired),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION, "ACTIVE"));
  v1::ListIssuersRequest list;
  list.set_parent("tenants/acme");
  v1::ListIssuersResponse issuers;
  ctx = TestController::Context(acme_viewer_);
  ASSERT_TRUE(certs_->ListIssuers(ctx.get(), list, &issuers).ok());
  ASSERT_EQ(issuers.issuers_size(), 2);
  EXPECT_EQ(issuers.issuers(0).state(), v1::ISSUER_STATE_ACTIVE);
  EXPECT_EQ(issuers.issuers(1).state(), v1::ISSUER_STATE_RETIRED);
}

TEST_F(CertificateServiceTest, PolicyUpdatesNarrowWhatIsIssued) {
  v1::UpdateIssuancePolicyRequest req;
  req.mutable_policy()->set_name("tenants/acme/issuancePolicy");
  req.mutable_policy()->add_allowed_dns_names("api.acme.svc.mandant.internal");
  req.mutable_update_mask()->add_paths("allowed_dns_names");
  v1::IssuancePolicy policy;
  auto ctx = TestController::Context(acme_viewer_);
  EXPECT_THAT(certs_->UpdateIssuancePolicy(ctx.get(), req, &policy),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED, ""));
  ctx = TestController::Context(acme_admin_);
  grpc::Status st = certs_->UpdateIssuancePolicy(ctx.get(), req, &policy);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_THAT(policy.allowed_dns_names(), ::testing::ElementsAre("api.acme.svc.mandant.internal"));
  EXPECT_EQ(policy.default_ttl().seconds(), 24 * 3600);  // untouched

  v1::IssueCertificateResponse resp;
  EXPECT_TRUE(
      Issue(acme_admin_, "tenants/acme", MakeCsr({"api.acme.svc.mandant.internal"}).csr_pem, &resp)
          .ok());
  EXPECT_THAT(
      Issue(acme_admin_, "tenants/acme", MakeCsr({"db.acme.svc.mandant.internal"}).csr_pem, &resp),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "db.acme.svc.mandant.internal"));

  // Outside the zone, a stale etag, an unknown key type: refused, nothing changed.
  v1::UpdateIssuancePolicyRequest bad = req;
  bad.mutable_policy()->set_allowed_dns_names(0, "*.beta.svc.mandant.internal");
  bad.mutable_policy()->add_allowed_key_types(v1::KEY_TYPE_UNSPECIFIED);
  bad.mutable_update_mask()->add_paths("allowed_key_types");
  ctx = TestController::Context(acme_admin_);
  st = certs_->UpdateIssuancePolicy(ctx.get(), bad, &policy);
  EXPECT_THAT(Fields(st), ::testing::UnorderedElementsAre("policy.allowed_key_types[0]"));
  bad.mutable_policy()->clear_allowed_key_types();
  bad.mutable_update_mask()->clear_paths();
  bad.mutable_update_mask()->add_paths("allowed_dns_names");
  ctx = TestController::Context(acme_admin_);
  st = certs_->UpdateIssuancePolicy(ctx.get(), bad, &policy);
  EXPECT_THAT(Fields(st), ::testing::ElementsAre("policy.allowed_dns_names[0]"));
  bad.mutable_policy()->set_allowed_dns_names(0, "web.acme.svc.mandant.internal");
  bad.mutable_policy()->set_etag("p-1");
  ctx = TestController::Context(acme_admin_);
  EXPECT_THAT(certs_->UpdateIssuancePolicy(ctx.get(), bad, &policy),
              GrpcIs(grpc::StatusCode::ABORTED, ""));
  v1::GetIssuancePolicyRequest get;
  get.set_name("tenants/acme/issuancePolicy");
  ctx = TestController::Context(acme_viewer_);
  ASSERT_TRUE(certs_->GetIssuancePolicy(ctx.get(), get, &policy).ok());
  EXPECT_THAT(policy.allowed_dns_names(), ::testing::ElementsAre("api.acme.svc.mandant.internal"));
  EXPECT_EQ(policy.etag(), "p-2");
}

// Two services of a tenant, each with a certificate from the API, trusting
// only their tenant's bundle: they authenticate each other over real TLS
// (gRPC, mutual), and a service of another tenant is refused.
TEST_F(CertificateServiceTest, ServicesOfOneTenantHandshakeAndOthersAreRefused) {
  auto issue = [&](const std::string& token, const std::string& tenant, const std::string& dns,
                   KeyAndCsr* k, v1::IssueCertificateResponse* out) {
    *k = MakeCsr({dns});
    ASSERT_TRUE(Issue(token, absl::StrCat("tenants/", tenant), k->csr_pem, out,
                      {v1::CERTIFICATE_USAGE_SERVER_AUTH, v1::CERTIFICATE_USAGE_CLIENT_AUTH})
                    .ok());
  };
  KeyAndCsr server_key, client_key, foreign_key;
  v1::IssueCertificateResponse server_cert, client_cert, foreign_cert;
  issue(acme_admin_, "acme", "api.acme.svc.mandant.internal", &server_key, &server_cert);
  issue(acme_admin_, "acme", "web.acme.svc.mandant.internal", &client_key, &client_cert);
  issue(beta_admin_, "beta", "web.beta.svc.mandant.internal", &foreign_key, &foreign_cert);
  const std::string acme_bundle = TrustBundle(acme_admin_, "tenants/acme");

  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = acme_bundle;
  ssl.pem_key_cert_pairs.push_back(
      {KeyPem(server_key.key), server_cert.certificate_pem() + server_cert.chain_pem()});
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port);
  grpc::HealthCheckServiceInterface* health = nullptr;
  grpc::EnableDefaultHealthCheckService(true);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  health = server->GetHealthCheckService();
  health->SetServingStatus(true);

  auto call = [&](const KeyAndCsr& k, const v1::IssueCertificateResponse& cert) {
    grpc::SslCredentialsOptions c;
    c.pem_root_certs = acme_bundle;
    c.pem_private_key = KeyPem(k.key);
    c.pem_cert_chain = cert.certificate_pem() + cert.chain_pem();
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("api.acme.svc.mandant.internal");
    auto channel =
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::SslCredentials(c), args);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    // grpc.health.v1.Health/Check with an empty HealthCheckRequest (zero
    // bytes, but one slice: an empty buffer would be no message at all).
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    grpc::GenericStub stub(channel);
    grpc::CompletionQueue cq;
    grpc::Status st;
    auto rpc = stub.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", request, &cq);
    rpc->StartCall();
    rpc->Finish(&response, &st, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    cq.Next(&tag, &ok);
    return st;
  };
  grpc::Status same = call(client_key, client_cert);
  EXPECT_TRUE(same.ok()) << same.error_message();
  grpc::Status other = call(foreign_key, foreign_cert);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::UNAVAILABLE) << other.error_message();
  server->Shutdown();
}

TEST_F(CertificateServiceTest, ClientCertificatesAuthenticateAsTheirPrincipal) {
  KeyAndCsr k = MakeCsr({});
  v1::IssueClientCertificateRequest req;
  req.set_csr(k.csr_pem);
  v1::IssueCertificateResponse login;
  auto ctx = TestController::Context(acme_admin_);
  ASSERT_TRUE(certs_->IssueClientCertificate(ctx.get(), req, &login).ok());

  auto stub = v1::CertificateService::NewStub(
      MtlsChannel(*controller_, KeyPem(k.key), login.certificate_pem() + login.chain_pem()));
  // No token: the certificate alone says "tenant admin alice of acme".
  KeyAndCsr service = MakeCsr({"api.acme.svc.mandant.internal"});
  v1::IssueCertificateRequest issue;
  issue.set_parent("tenants/acme");
  issue.set_csr(service.csr_pem);
  issue.add_usages(v1::CERTIFICATE_USAGE_SERVER_AUTH);
  v1::IssueCertificateResponse issued;
  ctx = TestController::Context("");
  grpc::Status st = stub->IssueCertificate(ctx.get(), issue, &issued);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'IssueCertificate' AND "
                  "principal = 'tenant-admin:acme/alice' AND code = 'OK'"),
            1);
  // ... and nothing of beta's.
  issue.set_parent("tenants/beta");
  ctx = TestController::Context("");
  EXPECT_THAT(stub->IssueCertificate(ctx.get(), issue, &issued),
              GrpcIs(grpc::StatusCode::NOT_FOUND, "tenant \"beta\" not found"));
}

TEST_F(CertificateServiceTest, AClientCertificateCannotExtendItself) {
  KeyAndCsr k = MakeCsr({});
  v1::IssueClientCertificateRequest req;
  req.set_csr(k.csr_pem);
  req.mutable_ttl()->set_seconds(3600);
  v1::IssueCertificateResponse login;
  auto ctx = TestController::Context(acme_admin_);
  ASSERT_GRPC_OK(certs_->IssueClientCertificate(ctx.get(), req, &login));

  // Asked for 30 days with a certificate that has an hour left: an hour.
  auto stub = v1::CertificateService::NewStub(
      MtlsChannel(*controller_, KeyPem(k.key), login.certificate_pem() + login.chain_pem()));
  KeyAndCsr next = MakeCsr({});
  req.set_csr(next.csr_pem);
  req.mutable_ttl()->set_seconds(30 * 86400);
  v1::IssueCertificateResponse renewed;
  ctx = TestController::Context("");
  ASSERT_GRPC_OK(stub->IssueClientCertificate(ctx.get(), req, &renewed));
  EXPECT_LE(renewed.certificate().not_after().seconds(), login.certificate().not_after().seconds());
  EXPECT_EQ(renewed.certificate().uris(0), login.certificate().uris(0));

  // A bearer token is not limited that way.
  ctx = TestController::Context(acme_admin_);
  ASSERT_GRPC_OK(certs_->IssueClientCertificate(ctx.get(), req, &renewed));
  EXPECT_GT(renewed.certificate().not_after().seconds(),
            login.certificate().not_after().seconds() + 29 * 86400);
}

TEST_F(CertificateServiceTest, UsersOfADeletedTenantLoseAccessToItsSuccessor) {
  KeyAndCsr k = MakeCsr({});
  v1::IssueClientCertificateRequest req;
  req.set_csr(k.csr_pem);
  v1::IssueCertificateResponse login;
  auto ctx = TestController::Context(beta_admin_);
  ASSERT_TRUE(certs_->IssueClientCertificate(ctx.get(), req, &login).ok());
  v1::DeleteTenantRequest del;
  del.set_name("tenants/beta");
  google::protobuf::Empty empty;
  ctx = TestController::Context(admin_);
  ASSERT_TRUE(controller_->Tenants()->DeleteTenant(ctx.get(), del, &empty).ok());
  CreateTenant("beta");

  auto stub = v1::CertificateService::NewStub(
      MtlsChannel(*controller_, KeyPem(k.key), login.certificate_pem() + login.chain_pem()));
  v1::ListCertificatesRequest list;
  list.set_parent("tenants/beta");
  v1::ListCertificatesResponse listed;
  ctx = TestController::Context("");
  EXPECT_THAT(stub->ListCertificates(ctx.get(), list, &listed),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, "revoked"));
}

TEST_F(CertificateServiceTest, RevokedOrForeignClientCertificatesAreRefused) {
  // Revoked before first use.
  KeyAndCsr k = MakeCsr({});
  v1::IssueClientCertificateRequest req;
  req.set_csr(k.csr_pem);
  v1::IssueCertificateResponse login;
  auto ctx = TestController::Context(admin_);
  ASSERT_TRUE(certs_->IssueClientCertificate(ctx.get(), req, &login).ok());
  v1::RevokeCertificateRequest revoke;
  revoke.set_name(login.certificate().name());
  v1::Certificate revoked;
  ctx = TestController::Context(admin_);
  ASSERT_TRUE(certs_->RevokeCertificate(ctx.get(), revoke, &revoked).ok());
  auto stub = v1::CertificateService::NewStub(
      MtlsChannel(*controller_, KeyPem(k.key), login.certificate_pem() + login.chain_pem()));
  v1::ListCertificatesRequest list;
  list.set_parent("infrastructure");
  v1::ListCertificatesResponse listed;
  ctx = TestController::Context("");
  EXPECT_THAT(stub->ListCertificates(ctx.get(), list, &listed),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, "revoked"));

  // A tenant's service certificate (valid, and client-auth) is not an
  // identity of Mandant: the TLS layer already refuses it.
  KeyAndCsr svc = MakeCsr({"api.acme.svc.mandant.internal"});
  v1::IssueCertificateResponse acme_cert;
  ASSERT_TRUE(Issue(acme_admin_, "tenants/acme", svc.csr_pem, &acme_cert,
                    {v1::CERTIFICATE_USAGE_CLIENT_AUTH})
                  .ok());
  auto foreign = v1::CertificateService::NewStub(MtlsChannel(
      *controller_, KeyPem(svc.key), acme_cert.certificate_pem() + acme_cert.chain_pem()));
  ctx = TestController::Context(acme_admin_);
  list.set_parent("tenants/acme");
  grpc::Status st = foreign->ListCertificates(ctx.get(), list, &listed);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
}

// The serving certificate is renewed and served without a restart; new
// connections see the new one, and it is in the inventory.
TEST(ServingCertificateTest, RenewsWithoutRestart) {
  auto c = TestController::Start(testing::TestPools(), 4, [](controller::ServerOptions& o) {
    o.serving_certificate_ttl = absl::Hours(1);
    o.renew_before = absl::Hours(2);  // always due: renew at every check
    o.renew_check_interval = absl::Milliseconds(300);
    o.tls_refresh_seconds = 1;
  });
  ASSERT_OK(c);
  auto served = [&]() -> std::string {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = (*c)->server_cert_pem();
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);  // a new connection each time
    auto channel = grpc::CreateCustomChannel(absl::StrCat("localhost:", (*c)->server().port()),
                                             grpc::SslCredentials(ssl), args);
    auto stub = v1::CertificateService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetTrustBundleRequest req;
    req.set_name("infrastructure/trustBundle");
    v1::TrustBundle bundle;
    (void)stub->GetTrustBundle(&ctx, req, &bundle);  // unauthenticated is fine: TLS happened
    auto auth = ctx.auth_context();
    if (!auth) return "";
    auto pems = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    return pems.empty() ? "" : std::string(pems[0].data(), pems[0].size());
  };
  const std::string first = served();
  ASSERT_THAT(first, HasSubstr("BEGIN CERTIFICATE"));
  std::string later = first;
  for (int i = 0; i < 40 && later == first; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    later = served();
  }
  EXPECT_NE(later, first) << "the serving certificate was not replaced";
  ASSERT_THAT(later, HasSubstr("BEGIN CERTIFICATE"));
  auto parsed = pki::ParseCertificate(later);
  ASSERT_OK(parsed);
  auto info = pki::DescribeCertificate(parsed->get());
  ASSERT_OK(info);
  EXPECT_EQ(*(*c)->Sql(absl::StrCat("SELECT count(*) FROM pki_certificates WHERE serial = '",
                                    info->serial_hex, "'")),
            "1\n");
}

}  // namespace
}  // namespace mandant
