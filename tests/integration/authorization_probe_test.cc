// The role probe: every RPC that mandantd serves, called by every kind of
// caller, against one mandantd and one PostgreSQL. Each (RPC, caller) cell
// has an expected outcome class, taken from the roles in DESIGN.md and
// docs/api.md ("Roles") as the code implements them:
//
//   allowed        the call got past authentication and authorization: any
//                  code but PERMISSION_DENIED, UNAUTHENTICATED, NOT_FOUND,
//                  UNIMPLEMENTED and UNAVAILABLE (the request may still fail
//                  its own checks: ABORTED for a stale etag, ...);
//   PERMISSION_DENIED, UNAUTHENTICATED, NOT_FOUND   exactly that code;
//   refused by TLS the connection is refused before any RPC (UNAVAILABLE).
//
// Every request is well-formed and names real objects of tenant "alpha" (or,
// in the "mixed" rows, alpha's objects under tenant "bravo"'s name), so an
// allowed caller really reaches the handler and a caller that must be
// refused fails the test when it gets OK or a validation error instead.
// A tenant or agent that gets NOT_FOUND for alpha's name must get exactly
// the code and text it gets for a tenant that does not exist, and all
// well-formed but invalid tokens (or certificates) get one and the same
// UNAUTHENTICATED text, whatever made them invalid.
//
// Where the code deviates from the documented rules, the cell asserts what
// the code does (so that a fix makes it fail and be updated) and the row's
// `deviation` says what the rules want and where; each run prints them.
//
// After the table, tenant alpha is suspended and its admins and viewers
// repeat the calls they may make: reads still succeed, changes and
// certificate requests give FAILED_PRECONDITION.
//
// Requests that would destroy the fixture (deleting alpha or its host)
// carry a stale etag: an allowed caller gets ABORTED, which proves it got
// past authorization without changing anything.

#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/empty.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "controller/auth/principal.h"
#include "controller/pki/issuers.h"
#include "controller/store/pki_store.h"
#include "mandant/v1/agent.grpc.pb.h"
#include "mandant/v1/certificate.grpc.pb.h"
#include "mandant/v1/edge.grpc.pb.h"
#include "mandant/v1/host.grpc.pb.h"
#include "mandant/v1/tenant.grpc.pb.h"
#include "pki/certificate_authority.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "tests/support/agent_client.h"
#include "tests/support/host_test_base.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_controller.h"

namespace mandant {
namespace {

using controller::auth::Role;
using testing::AgentConnection;
using testing::TestController;

// ---------------------------------------------------------------------------
// Outcomes and callers

enum class Outcome {
  kAllowed,
  kPermissionDenied,
  kUnauthenticated,
  kNotFound,
  kTlsRefused,
  // Only while the tenant is suspended: exact codes.
  kFailedPrecondition,
  kSucceeded,
};

std::string OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAllowed:
      return "allowed";
    case Outcome::kPermissionDenied:
      return "PERMISSION_DENIED";
    case Outcome::kUnauthenticated:
      return "UNAUTHENTICATED";
    case Outcome::kNotFound:
      return "NOT_FOUND";
    case Outcome::kTlsRefused:
      return "refused by TLS (UNAVAILABLE)";
    case Outcome::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case Outcome::kSucceeded:
      return "OK";
  }
  return "?";
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

bool Matches(Outcome expected, const grpc::Status& got) {
  switch (expected) {
    case Outcome::kAllowed:
      switch (got.error_code()) {
        case grpc::StatusCode::PERMISSION_DENIED:
        case grpc::StatusCode::UNAUTHENTICATED:
        case grpc::StatusCode::NOT_FOUND:
        case grpc::StatusCode::UNIMPLEMENTED:
        case grpc::StatusCode::UNAVAILABLE:
          return false;
        default:
          return true;
      }
    case Outcome::kPermissionDenied:
      return got.error_code() == grpc::StatusCode::PERMISSION_DENIED;
    case Outcome::kUnauthenticated:
      return got.error_code() == grpc::StatusCode::UNAUTHENTICATED;
    case Outcome::kNotFound:
      return got.error_code() == grpc::StatusCode::NOT_FOUND;
    case Outcome::kTlsRefused:
      return got.error_code() == grpc::StatusCode::UNAVAILABLE;
    case Outcome::kFailedPrecondition:
      return got.error_code() == grpc::StatusCode::FAILED_PRECONDITION;
    case Outcome::kSucceeded:
      return got.ok();
  }
  return false;
}

// Which column of a row's expectations a caller is judged by. The request
// of every row names tenant alpha ("own") and host hv-a.
enum class Column {
  kProvider,
  kTenantAdmin,    // of alpha
  kTenantViewer,   // of alpha
  kForeignAdmin,   // of bravo
  kForeignViewer,  // of bravo
  kAgent,          // of hv-a
  kOtherAgent,     // of hv-b
  kInvalid,        // no, expired, revoked or orphaned credential
  kRefusedByTls,   // expired, or not from an infrastructure CA
};

struct Caller {
  std::string name;
  Column column;
  std::shared_ptr<grpc::Channel> channel;
  std::string token;         // sent as a bearer token when set
  bool certificate = false;  // presents a client certificate
};

std::unique_ptr<grpc::ClientContext> ContextFor(const Caller& caller) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!caller.token.empty()) {
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", caller.token));
  }
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return ctx;
}

// One row's expected outcome per column. kRefusedByTls is always
// kTlsRefused: the server's TLS layer verifies client certificates against
// the infrastructure CAs (controller/serving_credentials.cc), so the
// handshake fails before any RPC for an expired certificate or one from
// another CA, although docs/api.md (Authentication) promises
// UNAUTHENTICATED for expired credentials; the summary reports this
// deviation.
struct Expected {
  Outcome provider;
  Outcome tenant_admin;
  Outcome tenant_viewer;
  Outcome foreign_admin;
  Outcome foreign_viewer;
  Outcome agent;
  Outcome other_agent;
  Outcome invalid;

  Outcome For(Column c) const {
    switch (c) {
      case Column::kProvider:
        return provider;
      case Column::kTenantAdmin:
        return tenant_admin;
      case Column::kTenantViewer:
        return tenant_viewer;
      case Column::kForeignAdmin:
        return foreign_admin;
      case Column::kForeignViewer:
        return foreign_viewer;
      case Column::kAgent:
        return agent;
      case Column::kOtherAgent:
        return other_agent;
      case Column::kInvalid:
        return invalid;
      case Column::kRefusedByTls:
        return Outcome::kTlsRefused;
    }
    return invalid;
  }
};

// What a probe saw: the status, and what an allowed response showed or
// granted beyond the caller's rights (empty when nothing).
struct CallResult {
  grpc::Status status;
  std::string leak = "";
};

struct Probe {
  std::string rpc;      // "CertificateService.RevokeCertificate"
  std::string request;  // what the request names, for failure messages
  Expected expected;
  std::function<CallResult(const Caller&)> call;
  // Non-empty when `expected` records what the code does although the
  // documented rules say otherwise: what should happen and where.
  std::string deviation = "";
};

// Short names for the table.
constexpr Outcome kOk = Outcome::kAllowed;
constexpr Outcome kDenied = Outcome::kPermissionDenied;
constexpr Outcome kUnauth = Outcome::kUnauthenticated;
constexpr Outcome kMissing = Outcome::kNotFound;

// ---------------------------------------------------------------------------
// Calls without generated stubs (gRPC health and reflection)

// Sends `request` (serialized) to `method` and reads one response: a unary
// call, or the first message of a stream. OK when a message arrived.
grpc::Status RawCall(const Caller& caller, const std::string& method, const std::string& request,
                     bool streaming) {
  auto ctx = ContextFor(caller);
  grpc::GenericStub stub(caller.channel);
  grpc::CompletionQueue cq;
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1);
  grpc::ByteBuffer resp;
  grpc::Status status;
  auto wait = [&cq] {
    void* tag = nullptr;
    bool ok = false;
    cq.Next(&tag, &ok);
    return ok;
  };
  if (!streaming) {
    auto call = stub.PrepareUnaryCall(ctx.get(), method, req, &cq);
    call->StartCall();
    call->Finish(&resp, &status, reinterpret_cast<void*>(1));
    wait();
  } else {
    auto call = stub.PrepareCall(ctx.get(), method, &cq);
    call->StartCall(reinterpret_cast<void*>(1));
    bool ok = wait();
    if (ok) {
      call->Write(req, reinterpret_cast<void*>(2));
      ok = wait();
    }
    if (ok) {
      call->WritesDone(reinterpret_cast<void*>(3));
      ok = wait();
    }
    bool got_message = false;
    if (ok) {
      call->Read(&resp, reinterpret_cast<void*>(4));
      got_message = wait();
    }
    if (got_message) ctx->TryCancel();
    call->Finish(&status, reinterpret_cast<void*>(5));
    wait();
    if (got_message) status = grpc::Status::OK;
  }
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

v1::Hello HelloFor(const std::string& host, const std::string& underlay) {
  v1::Hello hello;
  hello.set_host(host);
  hello.set_agent_version("0.1.0");
  hello.set_libvirt_version("9.0.0");
  hello.set_qemu_version("7.2.0");
  hello.mutable_capacity()->set_vcpus(8);
  hello.mutable_capacity()->set_memory_mib(16 * 1024);
  hello.mutable_capacity()->set_disk_gib(500);
  hello.set_underlay_address(underlay);
  hello.set_underlay_mtu(1500);
  return hello;
}

struct KeyAndCsr {
  std::string key_pem;
  std::string csr_pem;
};

KeyAndCsr MakeCsr(const std::string& common_name, const std::vector<std::string>& dns_names) {
  KeyAndCsr out;
  auto key = pki::GenerateKey(pki::KeyType::kEcdsaP256);
  EXPECT_OK(key);
  if (!key.ok()) return out;
  pki::SubjectAltNames names;
  names.dns_names = dns_names;
  auto csr = pki::BuildCsr(key->get(), common_name, names);
  EXPECT_OK(csr);
  if (!csr.ok()) return out;
  auto csr_pem = pki::CsrToPem(csr->get());
  auto key_pem = pki::PrivateKeyToPem(key->get());
  EXPECT_OK(csr_pem);
  EXPECT_OK(key_pem);
  if (!csr_pem.ok() || !key_pem.ok()) return out;
  out.csr_pem = *csr_pem;
  out.key_pem = std::string(key_pem->view());
  return out;
}

// ---------------------------------------------------------------------------
// The fixture: tenants alpha (own), bravo (foreign) and charlie (deleted and
// created again), hosts hv-a and hv-b with enrolled agents, hv-e waiting for
// its enrollment, certificates and issuers of alpha and of the
// infrastructure, and the callers.

class AuthorizationProbeTest : public testing::HostTestBase {
 protected:
  // A client certificate for the principal of `token`, from
  // IssueClientCertificate (what `mandantctl login` does).
  struct ClientCert {
    std::string key_pem;
    std::string chain_pem;
    std::string name;  // "infrastructure/certificates/{serial}"
  };
  ClientCert Login(const std::string& token) {
    KeyAndCsr k = MakeCsr("", {});
    v1::IssueClientCertificateRequest req;
    req.set_csr(k.csr_pem);
    v1::IssueCertificateResponse resp;
    auto ctx = TestController::Context(token);
    grpc::Status st = controller_->Certificates()->IssueClientCertificate(ctx.get(), req, &resp);
    EXPECT_TRUE(st.ok()) << "IssueClientCertificate: " << st.error_message();
    return ClientCert{k.key_pem, resp.certificate_pem() + resp.chain_pem(),
                      resp.certificate().name()};
  }

  Caller TokenCaller(const std::string& name, Column column, const std::string& token) {
    return Caller{name, column, token_channel_, token};
  }
  Caller CertCaller(const std::string& name, Column column, const std::string& key_pem,
                    const std::string& chain_pem, const std::string& token = "") {
    return Caller{name, column, testing::MutualTlsChannel(*controller_, key_pem, chain_pem), token,
                  true};
  }

  v1::IssueCertificateResponse MustIssue(const std::string& parent, const std::string& cn,
                                         const std::vector<std::string>& dns,
                                         v1::CertificateUsage usage,
                                         std::string* key_pem = nullptr) {
    KeyAndCsr k = MakeCsr(cn, dns);
    if (key_pem != nullptr) *key_pem = k.key_pem;
    v1::IssueCertificateRequest req;
    req.set_parent(parent);
    req.set_csr(k.csr_pem);
    req.add_usages(usage);
    v1::IssueCertificateResponse resp;
    auto ctx = TestController::Context(admin_);
    grpc::Status st = controller_->Certificates()->IssueCertificate(ctx.get(), req, &resp);
    EXPECT_TRUE(st.ok()) << "IssueCertificate " << parent << ": " << st.error_message();
    return resp;
  }

  // The ACTIVE issuer of `kind` in `parent`, by name.
  std::string ActiveIssuer(const std::string& parent, v1::IssuerKind kind) {
    v1::ListIssuersRequest req;
    req.set_parent(parent);
    v1::ListIssuersResponse resp;
    auto ctx = TestController::Context(admin_);
    grpc::Status st = controller_->Certificates()->ListIssuers(ctx.get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    for (const v1::Issuer& i : resp.issuers()) {
      if (i.state() == v1::ISSUER_STATE_ACTIVE && i.kind() == kind) return i.name();
    }
    ADD_FAILURE() << "no ACTIVE issuer in " << parent;
    return "";
  }

  // A client certificate of tenant alpha's admin `subject` from the
  // infrastructure issuer, signed here as mandantd would sign it but with a
  // clock at the issuer's start, valid for `lifetime` from there:
  // IssueClientCertificate never signs for less than 5 minutes, and the
  // expired certificate must expire within the test. Waits until it has
  // expired when `lifetime` is that short.
  ClientCert HandSignedCert(const std::string& subject, absl::Duration lifetime) {
    ClientCert out;
    auto keys = controller_->KeyRing();
    EXPECT_OK(keys);
    if (!keys.ok()) return out;
    controller::Issuers issuers(controller::PkiOptions{}, *std::move(keys));
    auto key = pki::GenerateKey(pki::KeyType::kEcdsaP256);
    EXPECT_OK(key);
    if (!key.ok()) return out;
    absl::Time not_after;
    EXPECT_OK(InDatabase([&](controller::store::Connection& conn) -> absl::Status {
      controller::store::PkiStore store;
      auto issuer = store.ActiveIssuer(conn, "infrastructure", "",
                                       controller::store::IssuerKind::kInfrastructure);
      if (!issuer.ok()) return issuer.status();
      if (!issuer->has_value()) return absl::FailedPreconditionError("no infrastructure issuer");
      const absl::Time now = (*issuer)->not_before + absl::Seconds(1);
      pki::LeafSpec spec;
      spec.public_key = key->get();
      spec.common_name = subject;
      spec.subject_alt_names.uris.push_back(
          absl::StrCat("spiffe://mandant.internal/tenants/alpha/admin/", subject));
      spec.extended_key_usages = {pki::ExtendedKeyUsage::kClientAuth};
      spec.not_after = now + lifetime;
      auto issued = issuers.IssueLeaf(conn, **issuer, std::move(spec), now);
      if (!issued.ok()) return issued.status();
      out.chain_pem = issued->row.certificate_pem + issued->chain_pem;
      out.name = absl::StrCat("infrastructure/certificates/", issued->row.serial);
      not_after = issued->row.not_after;
      return absl::OkStatus();
    }));
    auto key_pem = pki::PrivateKeyToPem(key->get());
    EXPECT_OK(key_pem);
    if (key_pem.ok()) out.key_pem = std::string(key_pem->view());
    if (lifetime < absl::Minutes(1)) {
      while (absl::Now() < not_after + absl::Seconds(1)) absl::SleepFor(absl::Milliseconds(200));
    }
    return out;
  }

  void SetUpWorld() {
    token_channel_ = testing::ServerTlsChannel(*controller_);
    CreateTenant("alpha");
    CreateTenant("bravo");
    CreateTenant("charlie");

    // Hosts and agents.
    agent_a_ = testing::EnrollNewKey(*controller_, "hosts/hv-a", RegisterHost("hv-a", "10.0.0.1"))
                   .value_or(testing::EnrolledAgent{});
    agent_b_ = testing::EnrollNewKey(*controller_, "hosts/hv-b", RegisterHost("hv-b", "10.0.0.2"))
                   .value_or(testing::EnrolledAgent{});
    ASSERT_FALSE(agent_a_.key_pem.empty());
    ASSERT_FALSE(agent_b_.key_pem.empty());
    enroll_token_ = RegisterHost("hv-e", "10.0.0.3");
    // hv-d's agent enrolls, then its host is deleted and created again:
    // the old agent certificate must not speak for the new host.
    const testing::EnrolledAgent agent_d =
        testing::EnrollNewKey(*controller_, "hosts/hv-d", RegisterHost("hv-d", "10.0.0.4"))
            .value_or(testing::EnrolledAgent{});
    ASSERT_FALSE(agent_d.key_pem.empty());
    {
      v1::DeleteHostRequest req;
      req.set_name("hosts/hv-d");
      google::protobuf::Empty out;
      auto ctx = TestController::Context(admin_);
      grpc::Status st = hosts_->DeleteHost(ctx.get(), req, &out);
      ASSERT_TRUE(st.ok()) << st.error_message();
      RegisterHost("hv-d", "10.0.0.4");
    }
    enroll_csr_ = MakeCsr("", {}).csr_pem;

    // An event in alpha's egress log, which no one but alpha's principals
    // and provider admins may see (192.0.2.77 marks it).
    {
      auto st = controller_->Sql(
          "INSERT INTO egress_events (tenant_id, time, host_id, source_address, "
          "destination_address, destination_port, protocol, allowed) "
          "SELECT t.id, now(), h.id, '10.0.0.5', '192.0.2.77', 443, 6, true "
          "FROM tenants t, hosts h WHERE t.name = 'alpha' AND h.name = 'hv-a'");
      ASSERT_TRUE(st.ok()) << st.status();
    }
    // Alpha's and the infrastructure's objects.
    alpha_issuer_ = ActiveIssuer("tenants/alpha", v1::ISSUER_KIND_TENANT);
    infra_issuer_ = ActiveIssuer("infrastructure", v1::ISSUER_KIND_INFRASTRUCTURE);
    alpha_cert_ = MustIssue("tenants/alpha", "", {"api.alpha.svc.mandant.internal"},
                            v1::CERTIFICATE_USAGE_SERVER_AUTH)
                      .certificate()
                      .name();
    alpha_victim_ = MustIssue("tenants/alpha", "", {"old.alpha.svc.mandant.internal"},
                              v1::CERTIFICATE_USAGE_SERVER_AUTH)
                        .certificate()
                        .name();
    infra_cert_ =
        MustIssue("infrastructure", "probe-service", {}, v1::CERTIFICATE_USAGE_CLIENT_AUTH)
            .certificate()
            .name();
    infra_victim_ =
        MustIssue("infrastructure", "probe-victim", {}, v1::CERTIFICATE_USAGE_CLIENT_AUTH)
            .certificate()
            .name();
    // A client certificate from alpha's own CA: a tenant's PKI never
    // authenticates anyone to Mandant.
    std::string tenant_ca_key;
    const std::string tenant_ca_chain = [&] {
      v1::IssueCertificateResponse r =
          MustIssue("tenants/alpha", "", {"client.alpha.svc.mandant.internal"},
                    v1::CERTIFICATE_USAGE_CLIENT_AUTH, &tenant_ca_key);
      return r.certificate_pem() + r.chain_pem();
    }();
    ASSERT_FALSE(alpha_issuer_.empty() || infra_issuer_.empty() || alpha_cert_.empty() ||
                 alpha_victim_.empty() || infra_cert_.empty() || infra_victim_.empty());

    // Tokens, and certificates from them. A token or certificate that must
    // be refused is never used before it becomes invalid: the
    // authenticators cache what they accepted for 5 seconds.
    const std::string admin_a = controller_->Token(Role::kTenantAdmin, "alpha", "alice");
    const std::string viewer_a = controller_->Token(Role::kTenantViewer, "alpha", "victor");
    const std::string admin_b = controller_->Token(Role::kTenantAdmin, "bravo", "bob");
    const std::string viewer_b = controller_->Token(Role::kTenantViewer, "bravo", "betty");
    const std::string expired = controller_->Token(Role::kTenantAdmin, "alpha", "expired-token");
    const std::string revoked = controller_->Token(Role::kTenantAdmin, "alpha", "revoked-token");
    const std::string to_revoke = controller_->Token(Role::kTenantAdmin, "alpha", "revoked-cert");
    const std::string admin_c = controller_->Token(Role::kTenantAdmin, "charlie", "carol");
    const std::string orphan = controller_->Token(Role::kTenantAdmin, "charlie", "carl");
    ASSERT_OK(
        controller_->Sql("UPDATE api_tokens SET expire_time = now() - interval '1 hour' "
                         "WHERE subject = 'expired-token'"));
    ASSERT_OK(controller_->Sql(
        "UPDATE api_tokens SET revoke_time = now() WHERE subject = 'revoked-token'"));

    const ClientCert provider_cert = Login(admin_);
    const ClientCert admin_a_cert = Login(admin_a);
    const ClientCert viewer_a_cert = Login(viewer_a);
    const ClientCert admin_b_cert = Login(admin_b);
    const ClientCert viewer_b_cert = Login(viewer_b);
    const ClientCert revoked_cert = Login(to_revoke);
    const ClientCert charlie_cert = Login(admin_c);
    {
      v1::RevokeCertificateRequest req;
      req.set_name(revoked_cert.name);
      req.set_reason(v1::REVOCATION_REASON_KEY_COMPROMISE);
      v1::Certificate out;
      auto ctx = TestController::Context(admin_);
      grpc::Status st = controller_->Certificates()->RevokeCertificate(ctx.get(), req, &out);
      ASSERT_TRUE(st.ok()) << st.error_message();
    }
    {
      // Charlie goes, and a new tenant of the same name comes: neither the
      // old tenant's token nor its certificate may speak for the new one.
      v1::DeleteTenantRequest req;
      req.set_name("tenants/charlie");
      google::protobuf::Empty out;
      auto ctx = TestController::Context(admin_);
      grpc::Status st = controller_->Tenants()->DeleteTenant(ctx.get(), req, &out);
      ASSERT_TRUE(st.ok()) << st.error_message();
      CreateTenant("charlie");
    }
    // The expired certificate and its control, signed the same way but
    // valid: it must be accepted, so that only the expiry tells them apart.
    const ClientCert signed_cert = HandSignedCert("signed-cert", absl::Hours(1));
    const ClientCert expired_cert = HandSignedCert("expired-cert", absl::Seconds(1));
    // A certificate that the infrastructure CA signed but the inventory does
    // not hold (a lost or forged record) is unknown to Mandant.
    const ClientCert unknown_cert = HandSignedCert("unknown-cert", absl::Hours(1));
    ASSERT_FALSE(signed_cert.chain_pem.empty() || expired_cert.chain_pem.empty() ||
                 unknown_cert.chain_pem.empty());
    ASSERT_OK(controller_->Sql(absl::StrCat(
        "DELETE FROM pki_certificates WHERE serial = '",
        unknown_cert.name.substr(std::string("infrastructure/certificates/").size()), "'")));

    callers_ = {
        TokenCaller("provider-admin(token)", Column::kProvider, admin_),
        CertCaller("provider-admin(cert)", Column::kProvider, provider_cert.key_pem,
                   provider_cert.chain_pem),
        TokenCaller("admin(alpha,token)", Column::kTenantAdmin, admin_a),
        CertCaller("admin(alpha,cert)", Column::kTenantAdmin, admin_a_cert.key_pem,
                   admin_a_cert.chain_pem),
        CertCaller("admin(alpha,hand-signed cert)", Column::kTenantAdmin, signed_cert.key_pem,
                   signed_cert.chain_pem),
        TokenCaller("viewer(alpha,token)", Column::kTenantViewer, viewer_a),
        CertCaller("viewer(alpha,cert)", Column::kTenantViewer, viewer_a_cert.key_pem,
                   viewer_a_cert.chain_pem),
        // A certificate wins over a token (docs/api.md, Authentication): a
        // viewer's certificate with a provider admin's token is a viewer.
        CertCaller("viewer(alpha,cert)+provider-admin(token)", Column::kTenantViewer,
                   viewer_a_cert.key_pem, viewer_a_cert.chain_pem, admin_),
        TokenCaller("admin(bravo,token)", Column::kForeignAdmin, admin_b),
        CertCaller("admin(bravo,cert)", Column::kForeignAdmin, admin_b_cert.key_pem,
                   admin_b_cert.chain_pem),
        TokenCaller("viewer(bravo,token)", Column::kForeignViewer, viewer_b),
        CertCaller("viewer(bravo,cert)", Column::kForeignViewer, viewer_b_cert.key_pem,
                   viewer_b_cert.chain_pem),
        CertCaller("agent(hv-a)", Column::kAgent, agent_a_.key_pem, agent_a_.chain()),
        CertCaller("agent(hv-b)", Column::kOtherAgent, agent_b_.key_pem, agent_b_.chain()),
        TokenCaller("no credential", Column::kInvalid, ""),
        TokenCaller("expired token(admin alpha)", Column::kInvalid, expired),
        TokenCaller("revoked token(admin alpha)", Column::kInvalid, revoked),
        CertCaller("revoked cert(admin alpha)", Column::kInvalid, revoked_cert.key_pem,
                   revoked_cert.chain_pem),
        TokenCaller("token of deleted tenant charlie", Column::kInvalid, orphan),
        CertCaller("cert of deleted tenant charlie", Column::kInvalid, charlie_cert.key_pem,
                   charlie_cert.chain_pem),
        CertCaller("cert missing from the inventory(admin alpha)", Column::kInvalid,
                   unknown_cert.key_pem, unknown_cert.chain_pem),
        CertCaller("agent(hv-d) of a deleted host created again", Column::kInvalid, agent_d.key_pem,
                   agent_d.chain()),
        CertCaller("client cert from alpha's tenant CA", Column::kRefusedByTls, tenant_ca_key,
                   tenant_ca_chain),
        CertCaller("expired cert(admin alpha)", Column::kRefusedByTls, expired_cert.key_pem,
                   expired_cert.chain_pem),
    };
  }

  std::vector<Probe> Probes();

  // `name` ("tenants/alpha/...") in the tenant the probes name now: alpha,
  // or for the comparison with a missing tenant, "ghost".
  std::string Own(const std::string& name) const {
    std::string out = name;
    out.replace(0, std::string("tenants/alpha").size(), absl::StrCat("tenants/", target_tenant_));
    return out;
  }

  std::shared_ptr<grpc::Channel> token_channel_;
  std::vector<Caller> callers_;
  testing::EnrolledAgent agent_a_;
  testing::EnrolledAgent agent_b_;
  std::string enroll_token_;
  std::string enroll_csr_;
  std::string alpha_issuer_;  // "tenants/alpha/issuers/{id}", ACTIVE
  std::string infra_issuer_;  // "infrastructure/issuers/{id}", ACTIVE
  std::string alpha_cert_;    // "tenants/alpha/certificates/{serial}"
  std::string alpha_victim_;  // revoked by whoever may
  std::string infra_cert_;
  std::string infra_victim_;
  int fresh_ = 0;  // for ids of objects that allowed callers create
  std::string target_tenant_ = "alpha";
};

// alpha's object `name` ("tenants/alpha/...") under bravo's name.
std::string UnderBravo(const std::string& name) {
  std::string out = name;
  out.replace(0, std::string("tenants/alpha").size(), "tenants/bravo");
  return out;
}

std::vector<Probe> AuthorizationProbeTest::Probes() {
  // Stubs per call: each caller has its own channel.
  auto tenants = [](const Caller& c) { return v1::TenantService::NewStub(c.channel); };
  auto certs = [](const Caller& c) { return v1::CertificateService::NewStub(c.channel); };
  auto hosts = [](const Caller& c) { return v1::HostService::NewStub(c.channel); };
  auto agents = [](const Caller& c) { return v1::AgentService::NewStub(c.channel); };
  const std::string stale_etag = "0badf00d-1";

  std::vector<Probe> p;
  // clang-format off
  //                                         provider  admin(a)  viewer(a) admin(b)  viewer(b) agent(a)  agent(b)  invalid
  // ---- TenantService
  p.push_back({"TenantService.CreateTenant", "a new tenant",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::CreateTenantRequest req;
                 req.set_tenant_id(absl::StrCat("probe-t", ++fresh_));
                 v1::Tenant out;
                 auto ctx = ContextFor(c);
                 return CallResult{tenants(c)->CreateTenant(ctx.get(), req, &out)};
               }});
  p.push_back({"TenantService.GetTenant", "tenants/alpha",
               {kOk,      kOk,      kOk,      kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::GetTenantRequest req;
                 req.set_name(Own("tenants/alpha"));
                 v1::Tenant out;
                 auto ctx = ContextFor(c);
                 return CallResult{tenants(c)->GetTenant(ctx.get(), req, &out)};
               }});
  p.push_back({"TenantService.ListTenants", "all tenants (alpha must be listed only to its own)",
               {kOk,      kOk,      kOk,      kOk,      kOk,      kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::ListTenantsRequest req;
                 v1::ListTenantsResponse out;
                 auto ctx = ContextFor(c);
                 CallResult r{tenants(c)->ListTenants(ctx.get(), req, &out)};
                 if (c.column != Column::kProvider && c.column != Column::kTenantAdmin &&
                     c.column != Column::kTenantViewer) {
                   for (const v1::Tenant& t : out.tenants()) {
                     if (t.name() == "tenants/alpha") r.leak = "listed tenants/alpha";
                   }
                 }
                 return r;
               }});
  p.push_back({"TenantService.UpdateTenant", "tenants/alpha display_name",
               {kOk,      kOk,      kDenied,  kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::UpdateTenantRequest req;
                 req.mutable_tenant()->set_name(Own("tenants/alpha"));
                 req.mutable_tenant()->set_display_name("Alpha");
                 req.mutable_update_mask()->add_paths("display_name");
                 v1::Tenant out;
                 auto ctx = ContextFor(c);
                 return CallResult{tenants(c)->UpdateTenant(ctx.get(), req, &out)};
               }});
  p.push_back({"TenantService.UpdateTenant", "tenants/alpha state (unchanged: ACTIVE)",
               {kOk,      kDenied,  kDenied,  kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::UpdateTenantRequest req;
                 req.mutable_tenant()->set_name(Own("tenants/alpha"));
                 req.mutable_tenant()->set_state(v1::TENANT_STATE_ACTIVE);
                 req.mutable_update_mask()->add_paths("state");
                 v1::Tenant out;
                 auto ctx = ContextFor(c);
                 return CallResult{tenants(c)->UpdateTenant(ctx.get(), req, &out)};
               }});
  p.push_back({"TenantService.DeleteTenant", "tenants/alpha with a stale etag",
               {kOk,      kDenied,  kDenied,  kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::DeleteTenantRequest req;
                 req.set_name(Own("tenants/alpha"));
                 req.set_etag(stale_etag);
                 google::protobuf::Empty out;
                 auto ctx = ContextFor(c);
                 return CallResult{tenants(c)->DeleteTenant(ctx.get(), req, &out)};
               }});

  // ---- CertificateService, tenant scope
  const std::string alpha_csr =
      MakeCsr("", {"probe.alpha.svc.mandant.internal"}).csr_pem;
  p.push_back({"CertificateService.IssueCertificate", "parent tenants/alpha",
               {kOk,      kOk,      kDenied,  kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::IssueCertificateRequest req;
                 req.set_parent(Own("tenants/alpha"));
                 req.set_csr(alpha_csr);
                 req.add_usages(v1::CERTIFICATE_USAGE_SERVER_AUTH);
                 v1::IssueCertificateResponse out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->IssueCertificate(ctx.get(), req, &out)};
               }});
  const std::string login_csr = MakeCsr("", {}).csr_pem;
  p.push_back({"CertificateService.IssueClientCertificate", "the caller's own identity",
               {kOk,      kOk,      kOk,      kOk,      kOk,      kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::IssueClientCertificateRequest req;
                 req.set_csr(login_csr);
                 v1::IssueCertificateResponse out;
                 auto ctx = ContextFor(c);
                 CallResult r{certs(c)->IssueClientCertificate(ctx.get(), req, &out)};
                 // The certificate names the caller's own role and tenant,
                 // never more (a viewer's certificate with a provider
                 // admin's token is still a viewer).
                 const char* role = "";
                 switch (c.column) {
                   case Column::kProvider: role = "/provider-admin/"; break;
                   case Column::kTenantAdmin: role = "/tenants/alpha/admin/"; break;
                   case Column::kTenantViewer: role = "/tenants/alpha/viewer/"; break;
                   case Column::kForeignAdmin: role = "/tenants/bravo/admin/"; break;
                   case Column::kForeignViewer: role = "/tenants/bravo/viewer/"; break;
                   default: break;
                 }
                 if (r.status.ok() && (out.certificate().uris_size() != 1 ||
                                       !absl::StrContains(out.certificate().uris(0), role))) {
                   r.leak = absl::StrCat("issued an identity that is not the caller's (", role,
                                         "): ", out.certificate().uris_size() > 0
                                                    ? out.certificate().uris(0) : "none");
                 }
                 return r;
               }});
  p.push_back({"CertificateService.GetCertificate", alpha_cert_,
               {kOk,      kOk,      kOk,      kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::GetCertificateRequest req;
                 req.set_name(Own(alpha_cert_));
                 v1::Certificate out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->GetCertificate(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.ListCertificates", "parent tenants/alpha",
               {kOk,      kOk,      kOk,      kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::ListCertificatesRequest req;
                 req.set_parent(Own("tenants/alpha"));
                 v1::ListCertificatesResponse out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->ListCertificates(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.RevokeCertificate", alpha_victim_,
               {kOk,      kOk,      kDenied,  kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::RevokeCertificateRequest req;
                 req.set_name(Own(alpha_victim_));
                 req.set_reason(v1::REVOCATION_REASON_SUPERSEDED);
                 v1::Certificate out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->RevokeCertificate(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.GetCrl", alpha_issuer_ + "/crl",
               {kOk,      kOk,      kOk,      kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::GetCrlRequest req;
                 req.set_name(Own(alpha_issuer_) + "/crl");
                 v1::Crl out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->GetCrl(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.GetTrustBundle", "tenants/alpha/trustBundle",
               {kOk,      kOk,      kOk,      kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::GetTrustBundleRequest req;
                 req.set_name(Own("tenants/alpha/trustBundle"));
                 v1::TrustBundle out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->GetTrustBundle(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.GetIssuancePolicy", "tenants/alpha/issuancePolicy",
               {kOk,      kOk,      kOk,      kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::GetIssuancePolicyRequest req;
                 req.set_name(Own("tenants/alpha/issuancePolicy"));
                 v1::IssuancePolicy out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->GetIssuancePolicy(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.UpdateIssuancePolicy", "tenants/alpha/issuancePolicy min_rsa_bits",
               {kOk,      kOk,      kDenied,  kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::UpdateIssuancePolicyRequest req;
                 req.mutable_policy()->set_name(Own("tenants/alpha/issuancePolicy"));
                 req.mutable_policy()->set_min_rsa_bits(2048);
                 req.mutable_update_mask()->add_paths("min_rsa_bits");
                 v1::IssuancePolicy out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->UpdateIssuancePolicy(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.ListIssuers", "parent tenants/alpha",
               {kOk,      kOk,      kOk,      kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::ListIssuersRequest req;
                 req.set_parent(Own("tenants/alpha"));
                 v1::ListIssuersResponse out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->ListIssuers(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.PrepareIssuer", "parent tenants/alpha",
               {kOk,      kDenied,  kDenied,  kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::PrepareIssuerRequest req;
                 req.set_parent(Own("tenants/alpha"));
                 v1::Issuer out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->PrepareIssuer(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.ActivateIssuer", alpha_issuer_ + " (ACTIVE already)",
               {kOk,      kDenied,  kDenied,  kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::ActivateIssuerRequest req;
                 req.set_name(Own(alpha_issuer_));
                 v1::Issuer out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->ActivateIssuer(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.RetireIssuer", alpha_issuer_ + " (ACTIVE, no successor)",
               {kOk,      kDenied,  kDenied,  kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::RetireIssuerRequest req;
                 req.set_name(Own(alpha_issuer_));
                 v1::Issuer out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->RetireIssuer(ctx.get(), req, &out)};
               }});

  // ---- CertificateService, alpha's objects named under bravo: nobody finds
  // them there, bravo's own principals included.
  p.push_back({"CertificateService.GetCertificate", UnderBravo(alpha_cert_),
               {kMissing, kMissing, kMissing, kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::GetCertificateRequest req;
                 req.set_name(UnderBravo(alpha_cert_));
                 v1::Certificate out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->GetCertificate(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.RevokeCertificate", UnderBravo(alpha_cert_),
               {kMissing, kMissing, kMissing, kMissing, kDenied,  kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::RevokeCertificateRequest req;
                 req.set_name(UnderBravo(alpha_cert_));
                 req.set_reason(v1::REVOCATION_REASON_SUPERSEDED);
                 v1::Certificate out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->RevokeCertificate(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.GetCrl", UnderBravo(alpha_issuer_) + "/crl",
               {kMissing, kMissing, kMissing, kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::GetCrlRequest req;
                 req.set_name(UnderBravo(alpha_issuer_) + "/crl");
                 v1::Crl out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->GetCrl(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.ActivateIssuer", UnderBravo(alpha_issuer_),
               {kMissing, kMissing, kMissing, kDenied,  kDenied,  kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::ActivateIssuerRequest req;
                 req.set_name(UnderBravo(alpha_issuer_));
                 v1::Issuer out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->ActivateIssuer(ctx.get(), req, &out)};
               }});

  // ---- CertificateService, infrastructure scope: provider admins only,
  // except the trust bundle and CRLs, which every verifier needs.
  const std::string infra_csr = MakeCsr("probe-infra", {}).csr_pem;
  p.push_back({"CertificateService.IssueCertificate", "parent infrastructure",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::IssueCertificateRequest req;
                 req.set_parent("infrastructure");
                 req.set_csr(infra_csr);
                 req.add_usages(v1::CERTIFICATE_USAGE_CLIENT_AUTH);
                 v1::IssueCertificateResponse out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->IssueCertificate(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.GetCertificate", infra_cert_,
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::GetCertificateRequest req;
                 req.set_name(infra_cert_);
                 v1::Certificate out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->GetCertificate(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.ListCertificates", "parent infrastructure",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::ListCertificatesRequest req;
                 req.set_parent("infrastructure");
                 v1::ListCertificatesResponse out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->ListCertificates(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.RevokeCertificate", infra_victim_,
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::RevokeCertificateRequest req;
                 req.set_name(infra_victim_);
                 req.set_reason(v1::REVOCATION_REASON_SUPERSEDED);
                 v1::Certificate out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->RevokeCertificate(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.GetCrl", infra_issuer_ + "/crl",
               {kOk,      kOk,      kOk,      kOk,      kOk,      kOk,      kOk,      kUnauth},
               [=](const Caller& c) {
                 v1::GetCrlRequest req;
                 req.set_name(infra_issuer_ + "/crl");
                 v1::Crl out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->GetCrl(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.GetTrustBundle", "infrastructure/trustBundle",
               {kOk,      kOk,      kOk,      kOk,      kOk,      kOk,      kOk,      kUnauth},
               [=](const Caller& c) {
                 v1::GetTrustBundleRequest req;
                 req.set_name("infrastructure/trustBundle");
                 v1::TrustBundle out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->GetTrustBundle(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.ListIssuers", "parent infrastructure",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::ListIssuersRequest req;
                 req.set_parent("infrastructure");
                 v1::ListIssuersResponse out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->ListIssuers(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.PrepareIssuer", "parent infrastructure, kind INFRASTRUCTURE",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::PrepareIssuerRequest req;
                 req.set_parent("infrastructure");
                 req.set_kind(v1::ISSUER_KIND_INFRASTRUCTURE);
                 v1::Issuer out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->PrepareIssuer(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.ActivateIssuer", infra_issuer_ + " (ACTIVE already)",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::ActivateIssuerRequest req;
                 req.set_name(infra_issuer_);
                 v1::Issuer out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->ActivateIssuer(ctx.get(), req, &out)};
               }});
  p.push_back({"CertificateService.RetireIssuer", infra_issuer_ + " (ACTIVE, no successor)",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::RetireIssuerRequest req;
                 req.set_name(infra_issuer_);
                 v1::Issuer out;
                 auto ctx = ContextFor(c);
                 return CallResult{certs(c)->RetireIssuer(ctx.get(), req, &out)};
               }});

  // ---- EdgeService: read as the tenant; the egress policy changed by its
  // admins and provider admins.
  auto edges = [](const Caller& c) { return v1::EdgeService::NewStub(c.channel); };
  // An egress log response that shows alpha's event to someone else.
  auto alpha_event_leak = [](const Caller& c, const v1::ListEgressEventsResponse& out) {
    if (c.column == Column::kProvider || c.column == Column::kTenantAdmin ||
        c.column == Column::kTenantViewer) {
      return std::string();
    }
    for (const v1::EgressEvent& e : out.events()) {
      if (e.destination_address() == "192.0.2.77") return std::string("listed alpha's event");
    }
    return std::string();
  };
  p.push_back({"EdgeService.GetEdge", "tenants/alpha/edge",
               {kOk,      kOk,      kOk,      kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::GetEdgeRequest req;
                 req.set_name(Own("tenants/alpha/edge"));
                 v1::Edge out;
                 auto ctx = ContextFor(c);
                 return CallResult{edges(c)->GetEdge(ctx.get(), req, &out)};
               }});
  p.push_back({"EdgeService.GetEgressPolicy", "tenants/alpha/egressPolicy",
               {kOk,      kOk,      kOk,      kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::GetEgressPolicyRequest req;
                 req.set_name(Own("tenants/alpha/egressPolicy"));
                 v1::EgressPolicy out;
                 auto ctx = ContextFor(c);
                 return CallResult{edges(c)->GetEgressPolicy(ctx.get(), req, &out)};
               }});
  p.push_back({"EdgeService.UpdateEgressPolicy", "tenants/alpha/egressPolicy default_action",
               {kOk,      kOk,      kDenied,  kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::UpdateEgressPolicyRequest req;
                 req.mutable_policy()->set_name(Own("tenants/alpha/egressPolicy"));
                 req.mutable_policy()->set_default_action(v1::EGRESS_ACTION_ALLOW);
                 req.mutable_update_mask()->add_paths("default_action");
                 v1::EgressPolicy out;
                 auto ctx = ContextFor(c);
                 return CallResult{edges(c)->UpdateEgressPolicy(ctx.get(), req, &out)};
               }});
  p.push_back({"EdgeService.ListEgressEvents", "parent tenants/alpha",
               {kOk,      kOk,      kOk,      kMissing, kMissing, kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::ListEgressEventsRequest req;
                 req.set_parent(Own("tenants/alpha"));
                 v1::ListEgressEventsResponse out;
                 auto ctx = ContextFor(c);
                 CallResult r{edges(c)->ListEgressEvents(ctx.get(), req, &out)};
                 r.leak = alpha_event_leak(c, out);
                 return r;
               }});
  // Bravo's edge, log and policy: its own principals find them, alpha's do
  // not, and nothing of alpha's shows in them.
  p.push_back({"EdgeService.GetEdge", "tenants/bravo/edge (foreign to alpha)",
               {kOk,      kMissing, kMissing, kOk,      kOk,      kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::GetEdgeRequest req;
                 req.set_name("tenants/bravo/edge");
                 v1::Edge out;
                 auto ctx = ContextFor(c);
                 CallResult r{edges(c)->GetEdge(ctx.get(), req, &out)};
                 if (out.instances_size() > 0) r.leak = "bravo's edge shows copies it does not have";
                 return r;
               }});
  p.push_back({"EdgeService.UpdateEgressPolicy", "tenants/bravo/egressPolicy (foreign to alpha)",
               {kOk,      kMissing, kMissing, kOk,      kDenied,  kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::UpdateEgressPolicyRequest req;
                 req.mutable_policy()->set_name("tenants/bravo/egressPolicy");
                 req.mutable_policy()->set_default_action(v1::EGRESS_ACTION_ALLOW);
                 req.mutable_update_mask()->add_paths("default_action");
                 v1::EgressPolicy out;
                 auto ctx = ContextFor(c);
                 return CallResult{edges(c)->UpdateEgressPolicy(ctx.get(), req, &out)};
               }});
  p.push_back({"EdgeService.ListEgressEvents", "parent tenants/bravo (alpha's event must not show)",
               {kOk,      kMissing, kMissing, kOk,      kOk,      kMissing, kMissing, kUnauth},
               [=](const Caller& c) {
                 v1::ListEgressEventsRequest req;
                 req.set_parent("tenants/bravo");
                 v1::ListEgressEventsResponse out;
                 auto ctx = ContextFor(c);
                 CallResult r{edges(c)->ListEgressEvents(ctx.get(), req, &out)};
                 for (const v1::EgressEvent& e : out.events()) {
                   if (e.destination_address() == "192.0.2.77") {
                     r.leak = "bravo's log lists alpha's event";
                   }
                 }
                 return r;
               }});

  // ---- HostService: provider admins only; an agent does not read or
  // change even its own host here.
  p.push_back({"HostService.CreateHost", "a new host",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 const int n = ++fresh_;
                 v1::CreateHostRequest req;
                 req.set_host_id(absl::StrCat("probe-h", n));
                 req.mutable_host()->set_underlay_address(absl::StrCat("10.1.", n / 200, ".", n % 200 + 1));
                 v1::CreateHostResponse out;
                 auto ctx = ContextFor(c);
                 return CallResult{hosts(c)->CreateHost(ctx.get(), req, &out)};
               }});
  p.push_back({"HostService.GetHost", "hosts/hv-a",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::GetHostRequest req;
                 req.set_name("hosts/hv-a");
                 v1::Host out;
                 auto ctx = ContextFor(c);
                 return CallResult{hosts(c)->GetHost(ctx.get(), req, &out)};
               }});
  p.push_back({"HostService.ListHosts", "all hosts",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::ListHostsRequest req;
                 v1::ListHostsResponse out;
                 auto ctx = ContextFor(c);
                 return CallResult{hosts(c)->ListHosts(ctx.get(), req, &out)};
               }});
  p.push_back({"HostService.IssueBootstrapToken", "hosts/hv-a with a stale etag",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::IssueBootstrapTokenRequest req;
                 req.set_name("hosts/hv-a");
                 req.set_etag(stale_etag);
                 v1::IssueBootstrapTokenResponse out;
                 auto ctx = ContextFor(c);
                 return CallResult{hosts(c)->IssueBootstrapToken(ctx.get(), req, &out)};
               }});
  p.push_back({"HostService.CordonHost", "hosts/hv-a",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::CordonHostRequest req;
                 req.set_name("hosts/hv-a");
                 req.set_reason("probe");
                 v1::Host out;
                 auto ctx = ContextFor(c);
                 return CallResult{hosts(c)->CordonHost(ctx.get(), req, &out)};
               }});
  p.push_back({"HostService.UncordonHost", "hosts/hv-a",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::UncordonHostRequest req;
                 req.set_name("hosts/hv-a");
                 v1::Host out;
                 auto ctx = ContextFor(c);
                 return CallResult{hosts(c)->UncordonHost(ctx.get(), req, &out)};
               }});
  p.push_back({"HostService.DeleteHost", "hosts/hv-a with a stale etag",
               {kOk,      kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kUnauth},
               [=](const Caller& c) {
                 v1::DeleteHostRequest req;
                 req.set_name("hosts/hv-a");
                 req.set_etag(stale_etag);
                 google::protobuf::Empty out;
                 auto ctx = ContextFor(c);
                 return CallResult{hosts(c)->DeleteHost(ctx.get(), req, &out)};
               }});

  // ---- AgentService
  // Enroll's credential is the bootstrap token in the request, whoever
  // sends it; the first call enrolls hv-e, the later ones (same request_id
  // and CSR) get the same certificate back.
  p.push_back({"AgentService.Enroll", "hosts/hv-e with its bootstrap token",
               {kOk,      kOk,      kOk,      kOk,      kOk,      kOk,      kOk,      kOk},
               [=](const Caller& c) {
                 v1::EnrollRequest req;
                 req.set_host("hosts/hv-e");
                 req.set_bootstrap_token(enroll_token_);
                 req.set_csr(enroll_csr_);
                 req.set_request_id("123e4567-e89b-12d3-a456-426614174000");
                 v1::EnrollResponse out;
                 auto ctx = ContextFor(c);
                 return CallResult{agents(c)->Enroll(ctx.get(), req, &out)};
               }});
  p.push_back({"AgentService.Connect", "Hello for hosts/hv-a",
               {kDenied,  kDenied,  kDenied,  kDenied,  kDenied,  kOk,      kDenied,  kUnauth},
               [=](const Caller& c) {
                 AgentConnection stream(c.channel, c.token);
                 stream.SendHello(HelloFor("hosts/hv-a", "10.0.0.1"));
                 if (stream.Next(absl::Seconds(20))) {
                   stream.Cancel();
                   return CallResult{grpc::Status::OK};
                 }
                 return CallResult{stream.WaitEnd(absl::Seconds(20))
                                       .value_or(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                                              "no message and no end"))};
               }});

  // ---- gRPC health and reflection: served to anyone, with or without a
  // credential (docs/api.md: generic clients and probes use them); they
  // name no tenant's object.
  p.push_back({"grpc.health.v1.Health.Check", "the server",
               {kOk,      kOk,      kOk,      kOk,      kOk,      kOk,      kOk,      kOk},
               [=](const Caller& c) {
                 return CallResult{RawCall(c, "/grpc.health.v1.Health/Check", "", false)};
               }});
  p.push_back({"grpc.health.v1.Health.Watch", "the server",
               {kOk,      kOk,      kOk,      kOk,      kOk,      kOk,      kOk,      kOk},
               [=](const Caller& c) {
                 return CallResult{RawCall(c, "/grpc.health.v1.Health/Watch", "", true)};
               }});
  p.push_back({"grpc.reflection.v1alpha.ServerReflection.ServerReflectionInfo", "list_services",
               {kOk,      kOk,      kOk,      kOk,      kOk,      kOk,      kOk,      kOk},
               [=](const Caller& c) {
                 // ServerReflectionRequest{list_services: "*"} (field 7).
                 return CallResult{
                     RawCall(c, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                             std::string("\x3a\x01*", 3), true)};
               }});
  // clang-format on
  return p;
}

TEST_F(AuthorizationProbeTest, EveryRpcRefusesEveryCallerItMustRefuse) {
  SetUpWorld();
  if (HasFatalFailure()) return;
  const std::vector<Probe> probes = Probes();

  int cells = 0;
  int failed = 0;
  int compared = 0;  // NOT_FOUND cells compared with a missing tenant
  std::vector<std::string> deviations;
  for (const Probe& probe : probes) {
    if (!probe.deviation.empty()) {
      deviations.push_back(absl::StrCat(probe.rpc, ": ", probe.deviation));
    }
    // What the callers with a well-formed but invalid token, and those with
    // such a certificate, were told: one text each, whatever the reason
    // (docs/api.md: "... give UNAUTHENTICATED, without saying which").
    std::map<std::string, std::string> refused_token;
    std::map<std::string, std::string> refused_certificate;
    for (const Caller& caller : callers_) {
      ++cells;
      const Outcome expected = probe.expected.For(caller.column);
      const CallResult got = probe.call(caller);
      const std::string cell = absl::StrCat(probe.rpc, " (", probe.request, ") as ", caller.name);
      if (caller.column == Column::kInvalid &&
          got.status.error_code() == grpc::StatusCode::UNAUTHENTICATED &&
          (caller.certificate || !caller.token.empty())) {
        (caller.certificate ? refused_certificate : refused_token)[got.status.error_message()] +=
            absl::StrCat(" ", caller.name, ";");
      }
      if (!Matches(expected, got.status)) {
        ++failed;
        ADD_FAILURE() << cell << ": expected " << OutcomeName(expected) << ", got "
                      << CodeName(got.status.error_code()) << " (" << got.status.error_message()
                      << ")";
        continue;
      }
      if (!got.leak.empty()) {
        ++failed;
        ADD_FAILURE() << cell << ": the response shows or grants too much: " << got.leak;
        continue;
      }
      // A tenant (or agent) that gets NOT_FOUND for alpha's name must get
      // exactly what it gets for a tenant that does not exist (docs/api.md:
      // "exactly the text of a name that does not exist").
      if (expected == Outcome::kNotFound && caller.column != Column::kProvider &&
          caller.column != Column::kInvalid) {
        ++compared;
        target_tenant_ = "ghost";
        const CallResult ghost = probe.call(caller);
        target_tenant_ = "alpha";
        const std::string as_alpha =
            absl::StrReplaceAll(ghost.status.error_message(), {{"ghost", "alpha"}});
        if (ghost.status.error_code() != got.status.error_code() ||
            as_alpha != got.status.error_message()) {
          ++failed;
          ADD_FAILURE() << cell << ": NOT_FOUND differs from a missing tenant's: got \""
                        << got.status.error_message() << "\", for tenant \"ghost\" "
                        << CodeName(ghost.status.error_code()) << " \""
                        << ghost.status.error_message() << "\"";
        }
      }
    }
    for (const auto* refused : {&refused_token, &refused_certificate}) {
      if (refused->size() <= 1) continue;
      ++failed;
      std::string texts;
      for (const auto& [text, who] : *refused) absl::StrAppend(&texts, "\n  \"", text, "\":", who);
      ADD_FAILURE() << probe.rpc << " (" << probe.request
                    << "): invalid credentials are told apart:" << texts;
    }
  }
  std::cout << "authorization probe: " << probes.size() << " RPC probes x " << callers_.size()
            << " callers = " << cells << " cells, " << failed << " failed; " << compared
            << " NOT_FOUND cells matched a missing tenant's answer\n";
  std::cout << "known deviation from the documented rules (asserted as the code behaves): "
               "an expired client certificate is refused in the TLS handshake (the client sees "
               "UNAVAILABLE \"Socket closed\"), not with UNAUTHENTICATED as docs/api.md "
               "(Authentication) says; controller/serving_credentials.cc asks gRPC to verify "
               "client certificates (GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY)\n";
  for (const std::string& d : deviations) {
    std::cout << "known deviation from the documented rules (asserted as the code behaves): " << d
              << "\n";
  }
  RecordProperty("cells", cells);
  EXPECT_GT(compared, 0);

  // Then alpha is suspended: its principals still read, but every change
  // and every certificate request gives FAILED_PRECONDITION (docs/api.md,
  // Roles). The calls that tenant principals may make are made again by
  // alpha's admins and viewers.
  {
    v1::UpdateTenantRequest req;
    req.mutable_tenant()->set_name("tenants/alpha");
    req.mutable_tenant()->set_state(v1::TENANT_STATE_SUSPENDED);
    req.mutable_update_mask()->add_paths("state");
    v1::Tenant out;
    auto ctx = TestController::Context(admin_);
    grpc::Status st = controller_->Tenants()->UpdateTenant(ctx.get(), req, &out);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  struct WhileSuspended {
    std::string rpc;
    std::string request;
    Outcome outcome;
    std::string deviation;
  };
  // What an allowed tenant call gives while alpha is suspended when it does
  // not succeed as reads do.
  const std::vector<WhileSuspended> suspended = {
      {"TenantService.UpdateTenant", "tenants/alpha display_name", Outcome::kFailedPrecondition,
       ""},
      {"CertificateService.IssueCertificate", "parent tenants/alpha", Outcome::kFailedPrecondition,
       ""},
      {"CertificateService.UpdateIssuancePolicy", "tenants/alpha/issuancePolicy min_rsa_bits",
       Outcome::kFailedPrecondition, ""},
      // Revoking takes trust away: a suspended tenant may still do it
      // (docs/api.md, Roles).
      {"CertificateService.RevokeCertificate", alpha_victim_, Outcome::kSucceeded, ""},
      {"CertificateService.IssueClientCertificate", "the caller's own identity",
       Outcome::kFailedPrecondition, ""},
      {"EdgeService.UpdateEgressPolicy", "tenants/alpha/egressPolicy default_action",
       Outcome::kFailedPrecondition, ""},
  };
  int suspended_cells = 0;
  for (const Probe& probe : probes) {
    Outcome expected = Outcome::kSucceeded;
    for (const WhileSuspended& w : suspended) {
      if (w.rpc == probe.rpc && w.request == probe.request) {
        expected = w.outcome;
        if (!w.deviation.empty()) {
          std::cout << "known deviation from the documented rules (asserted as the code "
                       "behaves): "
                    << probe.rpc << " while suspended: " << w.deviation << "\n";
        }
      }
    }
    for (const Caller& caller : callers_) {
      if (caller.column != Column::kTenantAdmin && caller.column != Column::kTenantViewer) continue;
      if (probe.expected.For(caller.column) != Outcome::kAllowed) continue;
      ++suspended_cells;
      const CallResult got = probe.call(caller);
      if (!Matches(expected, got.status)) {
        ADD_FAILURE() << probe.rpc << " (" << probe.request << ") as " << caller.name
                      << " while alpha is suspended: expected " << OutcomeName(expected) << ", got "
                      << CodeName(got.status.error_code()) << " (" << got.status.error_message()
                      << ")";
      }
    }
  }
  std::cout << "authorization probe, alpha suspended: " << suspended_cells << " cells\n";
}

}  // namespace
}  // namespace mandant
