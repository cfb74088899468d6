// AgentService against a real PostgreSQL and a real gRPC server: enrollment
// with bootstrap tokens over server-authenticated TLS, and the agents'
// Connect streams over mutual TLS, with HostSpecs derived from machine rows
// and pushed when they change.

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

#include "common/status_macros.h"
#include "common/uuid.h"
#include "controller/store/machine_store.h"
#include "mandant/v1/host.grpc.pb.h"
#include "pki/certificate_info.h"
#include "pki/encoding.h"
#include "tenants/network_names.h"
#include "tests/support/agent_client.h"
#include "tests/support/host_test_base.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_controller.h"
#include "tests/unit/pki/pki_test_util.h"

namespace mandant {
namespace {

using controller::auth::Role;
using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;
using testing::AgentConnection;
using testing::BadRequestFields;
using testing::ConditionReason;
using testing::ConditionStatus;
using testing::DeleteMachine;
using ::testing::ElementsAre;
using testing::EnrolledAgent;
using testing::FindCondition;
using testing::GrpcIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::SerialOf;
using testing::TestController;

constexpr absl::Duration kSpecWait = absl::Seconds(10);

class AgentServiceTest : public testing::HostTestBase {
 protected:
  // Registers and enrolls hosts/{id}.
  EnrolledAgent EnrolledHost(const std::string& id, const std::string& underlay) {
    auto agent =
        testing::EnrollNewKey(*controller_, absl::StrCat("hosts/", id), RegisterHost(id, underlay));
    EXPECT_OK(agent);
    return agent.ok() ? *std::move(agent) : EnrolledAgent();
  }

  static v1::Hello HelloFor(const std::string& host, const std::string& underlay, int mtu = 1500) {
    v1::Hello hello;
    hello.set_host(host);
    hello.set_agent_version("0.1.0");
    hello.set_libvirt_version("9.0.0");
    hello.set_qemu_version("7.2.0");
    hello.mutable_capacity()->set_vcpus(32);
    hello.mutable_capacity()->set_memory_mib(128 * 1024);
    hello.mutable_capacity()->set_disk_gib(2000);
    hello.set_underlay_address(underlay);
    hello.set_underlay_mtu(mtu);
    v1::BaseImage* image = hello.add_base_images();
    image->set_name("debian-12-k8s-1.30");
    image->set_sha256(std::string(64, 'a'));
    image->set_size_bytes(1 << 30);
    return hello;
  }

  // Enrolls, connects and says Hello; returns the stream after the first
  // HostSpec (in *spec).
  std::unique_ptr<AgentConnection> ConnectedHost(const std::string& id, const std::string& underlay,
                                                 v1::HostSpec* spec, int mtu = 1500) {
    EnrolledAgent agent = EnrolledHost(id, underlay);
    auto stream = Connect(agent);
    EXPECT_TRUE(stream->SendHello(HelloFor(agent.host, underlay, mtu)));
    std::optional<v1::HostSpec> first = stream->NextSpec(kSpecWait);
    EXPECT_TRUE(first.has_value()) << "no HostSpec for " << id;
    if (first) *spec = *first;
    return stream;
  }

  // The tenant and its cluster prod, where Machine() puts machines.
  v1::Tenant CreateTenant(const std::string& id) {
    v1::Tenant t = HostTestBase::CreateTenant(id);
    absl::Status cluster = InDatabase([&](controller::store::Connection& conn) {
      return machines_.CreateCluster(conn, id, "prod");
    });
    EXPECT_OK(cluster);
    return t;
  }

  // A machine of tenants/{tenant}/clusters/prod, placed on `host`, with a
  // MAC of its own and a seed in all three parts.
  controller::store::NewMachine Machine(const std::string& tenant, const std::string& name,
                                        const std::string& host) {
    controller::store::NewMachine m = testing::TestMachine(tenant, name, host, ++next_mac_);
    m.resources.set_memory_mib(4096);
    m.resources.set_disk_gib(40);
    m.seed.set_user_data(absl::StrCat("#cloud-config\nhostname: ", name, "\n"));
    m.seed.set_meta_data(absl::StrCat("instance-id: ", m.machine_id, "\n"));
    m.seed.set_network_config(std::string("version: 2\n\0binary", 18));
    return m;
  }

  absl::Status Insert(const controller::store::NewMachine& m) {
    MANDANT_ASSIGN_OR_RETURN(pki::KeyRing keys, controller_->KeyRing());
    return InDatabase([&](controller::store::Connection& conn) {
      return machines_.Insert(conn, m, keys.current());
    });
  }

  controller::store::MachineStore machines_;
  int next_mac_ = 0;
};

// ---------------------------------------------------------------------------
// Enroll

TEST_F(AgentServiceTest, EveryBadTokenIsRefusedWithTheSameMessage) {
  const std::string token1 = RegisterHost("hv1", "10.0.0.1");
  const std::string token2 = RegisterHost("hv2", "10.0.0.2");
  const std::string token3 = RegisterHost("hv3", "10.0.0.3");
  auto key = testing::NewKeyWithCsr();
  ASSERT_OK(key);

  auto enroll = [&](const std::string& host, const std::string& token) {
    v1::EnrollRequest req;
    req.set_host(host);
    req.set_bootstrap_token(token);
    req.set_csr(key->csr_pem);
    v1::EnrollResponse resp;
    grpc::Status st = testing::Enroll(*controller_, req, &resp);
    if (!st.ok()) {
      EXPECT_EQ(resp.certificate_pem(), "");
    }
    return st;
  };
  std::vector<grpc::Status> refused;
  // Unknown.
  refused.push_back(
      enroll("hosts/hv1", "mandant-bootstrap-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
  // Another host's.
  refused.push_back(enroll("hosts/hv1", token2));
  // Expired.
  ASSERT_OK(
      controller_->Sql("UPDATE host_bootstrap_tokens SET expire_time = now() - interval '1 minute' "
                       "WHERE host_id = (SELECT id FROM hosts WHERE name = 'hv3')"));
  refused.push_back(enroll("hosts/hv3", token3));
  // Used.
  ASSERT_GRPC_OK(enroll("hosts/hv1", token1));
  refused.push_back(enroll("hosts/hv1", token1));

  ASSERT_EQ(refused.size(), 4u);
  for (const grpc::Status& st : refused) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
    EXPECT_EQ(st.error_message(), refused[0].error_message());
  }
  // Nothing was issued for the refusals; hv2's token still works.
  EXPECT_EQ(Count("SELECT count(*) FROM pki_certificates WHERE subject LIKE '%host/%'"), 1);
  EXPECT_TRUE(enroll("hosts/hv2", token2).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'Enroll' "
                  "AND code = 'UNAUTHENTICATED'"),
            4);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'Enroll' AND code = 'OK'"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'Enroll' AND code = 'OK' "
                  "AND object = 'hosts/hv2'"),
            1);
}

TEST_F(AgentServiceTest, AnRsaCsrIsRefusedAndTheTokenStillWorks) {
  const std::string token = RegisterHost("hv1", "10.0.0.1");
  auto rsa = testing::NewKeyWithCsr(pki::KeyType::kRsa);
  ASSERT_OK(rsa);
  v1::EnrollRequest req;
  req.set_host("hosts/hv1");
  req.set_bootstrap_token(token);
  req.set_csr(rsa->csr_pem);
  v1::EnrollResponse resp;
  grpc::Status st = testing::Enroll(*controller_, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_THAT(BadRequestFields(st), ElementsAre("csr"));
  req.set_csr("not a CSR");
  st = testing::Enroll(*controller_, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_THAT(BadRequestFields(st), ElementsAre("csr"));
  EXPECT_EQ(ConditionStatus(MustGetHost("hosts/hv1"), "Enrolled"), "False");

  // A request without a token is refused before any lookup, and audited too.
  req.set_bootstrap_token("");
  st = testing::Enroll(*controller_, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_THAT(BadRequestFields(st), ElementsAre("bootstrap_token"));

  EXPECT_OK(testing::EnrollNewKey(*controller_, "hosts/hv1", token));
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'Enroll' "
                  "AND code = 'INVALID_ARGUMENT' AND object = 'hosts/hv1'"),
            3);
}

TEST_F(AgentServiceTest, ConcurrentEnrollmentsWithOneTokenIssueOneCertificate) {
  const std::string token = RegisterHost("hv1", "10.0.0.1");
  constexpr int kCalls = 6;
  std::vector<absl::StatusOr<EnrolledAgent>> results(kCalls, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = testing::EnrollNewKey(*controller_, "hosts/hv1", token); });
  }
  for (std::thread& t : threads) t.join();
  int ok = 0;
  for (const auto& r : results) {
    if (r.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << r.status();
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(Count("SELECT count(*) FROM pki_certificates WHERE subject = 'CN=host/hv1'"), 1);
}

TEST_F(AgentServiceTest, EnrollIssuesTheHostsClientCertificate) {
  const std::string token = RegisterHost("hv1", "10.0.0.1");
  auto key = testing::NewKeyWithCsr(pki::KeyType::kEd25519);
  ASSERT_OK(key);
  v1::EnrollRequest req;
  req.set_host("hosts/hv1");
  req.set_bootstrap_token(token);
  req.set_csr(key->csr_pem);
  req.set_request_id(NewUuid());
  v1::EnrollResponse resp;
  ASSERT_GRPC_OK(testing::Enroll(*controller_, req, &resp));

  const std::string& bundle = resp.trust_bundle().ca_certificates_pem();
  EXPECT_EQ(resp.trust_bundle().name(), "infrastructure/trustBundle");
  ASSERT_THAT(bundle, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_OK(pki::testing::VerifyWithOpenSslCli(resp.certificate_pem(), {bundle}, {resp.chain_pem()},
                                               "", {"-partial_chain", "-purpose", "sslclient"}));
  auto cert = pki::ParseCertificate(resp.certificate_pem());
  ASSERT_OK(cert);
  auto info = pki::DescribeCertificate(cert->get());
  ASSERT_OK(info);
  EXPECT_THAT(info->subject_alt_names.uris, ElementsAre("spiffe://mandant.internal/host/hv1"));
  EXPECT_THAT(info->subject_alt_names.dns_names, IsEmpty());
  EXPECT_THAT(info->extended_key_usages, ElementsAre(pki::ExtendedKeyUsage::kClientAuth));
  EXPECT_EQ(info->subject, "CN=host/hv1");
  EXPECT_EQ(info->key.type, pki::KeyType::kEd25519);
  EXPECT_FALSE(info->is_ca);
  EXPECT_GT(info->not_after, absl::Now() + absl::Hours(24));

  const v1::Host host = MustGetHost("hosts/hv1");
  EXPECT_EQ(ConditionStatus(host, "Enrolled"), "True");
  EXPECT_EQ(ConditionStatus(host, "Connected"), "False");

  // The agent's retry of the same call gets the same certificate ...
  v1::EnrollResponse retried;
  ASSERT_GRPC_OK(testing::Enroll(*controller_, req, &retried));
  EXPECT_EQ(retried.certificate_pem(), resp.certificate_pem());
  EXPECT_EQ(retried.chain_pem(), resp.chain_pem());
  // ... but not a call with another CSR or another request_id.
  auto other = testing::NewKeyWithCsr();
  ASSERT_OK(other);
  v1::EnrollRequest stolen = req;
  stolen.set_csr(other->csr_pem);
  v1::EnrollResponse refused;
  EXPECT_THAT(testing::Enroll(*controller_, stolen, &refused),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, ""));
  stolen = req;
  stolen.set_request_id(NewUuid());
  EXPECT_THAT(testing::Enroll(*controller_, stolen, &refused),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, ""));
  EXPECT_EQ(Count("SELECT count(*) FROM pki_certificates WHERE subject = 'CN=host/hv1'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'Enroll' AND code = 'OK' "
                  "AND object = 'hosts/hv1'"),
            2);
}

TEST_F(AgentServiceTest, EnrollingWithANewTokenRevokesTheOldCertificate) {
  EnrolledAgent first = EnrolledHost("hv1", "10.0.0.1");
  auto first_stream = Connect(first);
  ASSERT_TRUE(first_stream->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  ASSERT_TRUE(first_stream->NextSpec(kSpecWait).has_value());
  auto second = testing::EnrollNewKey(*controller_, "hosts/hv1", IssueToken("hv1"));
  ASSERT_OK(second);
  // The stream of the old certificate ends at once, before the new agent
  // connects: it must not receive another seed.
  std::optional<grpc::Status> ended = first_stream->WaitEnd(absl::Seconds(10));
  ASSERT_TRUE(ended.has_value()) << "the revoked certificate's stream is still open";
  EXPECT_THAT(*ended, GrpcIs(grpc::StatusCode::UNAUTHENTICATED, "revoked"));

  auto revoked = [&](const std::string& pem) {
    v1::GetCertificateRequest get;
    get.set_name(absl::StrCat("infrastructure/certificates/", SerialOf(pem)));
    v1::Certificate c;
    auto ctx = TestController::Context(admin_);
    grpc::Status st = controller_->Certificates()->GetCertificate(ctx.get(), get, &c);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return c.has_revocation();
  };
  EXPECT_TRUE(revoked(first.enrollment.certificate_pem()));
  EXPECT_FALSE(revoked(second->enrollment.certificate_pem()));

  // The old certificate no longer connects (after the authenticator's
  // cache, a few seconds); the new one does.
  grpc::Status old_status;
  const absl::Time deadline = absl::Now() + absl::Seconds(8);
  do {
    auto stream = Connect(first);
    stream->SendHello(HelloFor("hosts/hv1", "10.0.0.1"));
    std::optional<grpc::Status> end;
    if (stream->NextSpec(absl::Seconds(5)).has_value()) {
      stream->Cancel();
      old_status = grpc::Status::OK;
    } else {
      end = stream->WaitEnd(absl::Seconds(5));
      ASSERT_TRUE(end.has_value());
      old_status = *end;
    }
    if (!old_status.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  } while (absl::Now() < deadline);
  EXPECT_THAT(old_status, GrpcIs(grpc::StatusCode::UNAUTHENTICATED, "revoked"));

  auto stream = Connect(*second);
  ASSERT_TRUE(stream->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  EXPECT_TRUE(stream->NextSpec(kSpecWait).has_value());
}

// ---------------------------------------------------------------------------
// Connect: who may

TEST_F(AgentServiceTest, OnlyAnAgentCertificateMayConnect) {
  EnrolledHost("hv1", "10.0.0.1");
  CreateTenant("acme");
  auto client_certificate = [&](const std::string& token) -> EnrolledAgent {
    auto key = testing::NewKeyWithCsr();
    EXPECT_OK(key);
    v1::IssueClientCertificateRequest req;
    req.set_csr(key->csr_pem);
    v1::IssueCertificateResponse resp;
    auto ctx = TestController::Context(token);
    grpc::Status st = controller_->Certificates()->IssueClientCertificate(ctx.get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EnrolledAgent out;
    out.key_pem = key->key_pem;
    out.enrollment.set_certificate_pem(resp.certificate_pem());
    out.enrollment.set_chain_pem(resp.chain_pem());
    return out;
  };
  auto refused = [&](AgentConnection& stream) {
    stream.SendHello(HelloFor("hosts/hv1", "10.0.0.1"));
    std::optional<grpc::Status> end = stream.WaitEnd(absl::Seconds(10));
    EXPECT_TRUE(end.has_value()) << "the stream stayed open";
    EXPECT_FALSE(stream.Next(absl::ZeroDuration()).has_value()) << "a refused agent got a message";
    return end.value_or(grpc::Status::OK);
  };

  const EnrolledAgent admin_identity = client_certificate(admin_);
  AgentConnection admin_stream(
      testing::MutualTlsChannel(*controller_, admin_identity.key_pem, admin_identity.chain()));
  EXPECT_THAT(refused(admin_stream), GrpcIs(grpc::StatusCode::PERMISSION_DENIED, "agent"));

  const EnrolledAgent tenant_identity =
      client_certificate(controller_->Token(Role::kTenantAdmin, "acme", "alice"));
  AgentConnection tenant_stream(
      testing::MutualTlsChannel(*controller_, tenant_identity.key_pem, tenant_identity.chain()));
  EXPECT_THAT(refused(tenant_stream), GrpcIs(grpc::StatusCode::PERMISSION_DENIED, "agent"));

  AgentConnection bearer(testing::ServerTlsChannel(*controller_), admin_);
  EXPECT_THAT(refused(bearer), GrpcIs(grpc::StatusCode::PERMISSION_DENIED, ""));

  AgentConnection anonymous(testing::ServerTlsChannel(*controller_));
  EXPECT_THAT(refused(anonymous), GrpcIs(grpc::StatusCode::UNAUTHENTICATED, ""));

  const v1::Host host = MustGetHost("hosts/hv1");
  EXPECT_EQ(ConditionStatus(host, "Connected"), "False");
  EXPECT_EQ(host.agent_version(), "");
}

TEST_F(AgentServiceTest, TheFirstMessageMustBeAHelloForTheCertificatesHost) {
  EnrolledAgent hv1 = EnrolledHost("hv1", "10.0.0.1");
  EnrolledHost("hv2", "10.0.0.2");

  auto heartbeat_first = Connect(hv1);
  heartbeat_first->SendHeartbeat();
  EXPECT_THAT(heartbeat_first->WaitEnd(absl::Seconds(10)).value_or(grpc::Status::OK),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION, "Hello"));

  auto status_first = Connect(hv1);
  status_first->SendStatus(v1::HostStatus());
  EXPECT_THAT(status_first->WaitEnd(absl::Seconds(10)).value_or(grpc::Status::OK),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION, "Hello"));

  auto other_host = Connect(hv1);
  other_host->SendHello(HelloFor("hosts/hv2", "10.0.0.2"));
  EXPECT_THAT(other_host->WaitEnd(absl::Seconds(10)).value_or(grpc::Status::OK),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED, "hosts/hv2"));
  EXPECT_FALSE(other_host->Next(absl::ZeroDuration()).has_value());

  auto wrong_underlay = Connect(hv1);
  wrong_underlay->SendHello(HelloFor("hosts/hv1", "10.0.0.9"));
  EXPECT_THAT(wrong_underlay->WaitEnd(absl::Seconds(10)).value_or(grpc::Status::OK),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION, "UnderlayAddressMismatch"));
  EXPECT_FALSE(wrong_underlay->Next(absl::ZeroDuration()).has_value());
  const v1::Host host = MustGetHost("hosts/hv1");
  EXPECT_EQ(ConditionStatus(host, "Connected"), "False");
  EXPECT_EQ(ConditionReason(host, "Connected"), "UnderlayAddressMismatch");
  EXPECT_THAT(FindCondition(host, "Connected")->message(), HasSubstr("10.0.0.9"));
  EXPECT_EQ(host.agent_version(), "");
  // Fixed on the agent's side, it connects.
  auto fixed = Connect(hv1);
  fixed->SendHello(HelloFor("hosts/hv1", "10.0.0.1"));
  EXPECT_TRUE(fixed->NextSpec(kSpecWait).has_value());
  EXPECT_EQ(ConditionReason(MustGetHost("hosts/hv1"), "Connected"), "Connected");
  // A later Hello on the stream may not move the host either.
  fixed->SendHello(HelloFor("hosts/hv1", "10.0.0.9"));
  EXPECT_THAT(fixed->WaitEnd(absl::Seconds(10)).value_or(grpc::Status::OK),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION, "UnderlayAddressMismatch"));
  EXPECT_EQ(ConditionReason(WaitForHost("hosts/hv1",
                                        [](const v1::Host& h) {
                                          return ConditionStatus(h, "Connected") == "False";
                                        }),
                            "Connected"),
            "UnderlayAddressMismatch");
  fixed.reset();

  // The same address in another spelling is the registered one.
  auto v6 = EnrolledHost("hv6", "2001:db8::6");
  auto spelled = Connect(v6);
  spelled->SendHello(HelloFor("hosts/hv6", "2001:DB8:0::6"));
  EXPECT_TRUE(spelled->NextSpec(kSpecWait).has_value());

  auto bad_hello = Connect(hv1);
  v1::Hello hello = HelloFor("hosts/hv1", "10.0.0.1");
  hello.set_underlay_mtu(100);
  bad_hello->SendHello(hello);
  EXPECT_THAT(bad_hello->WaitEnd(absl::Seconds(10)).value_or(grpc::Status::OK),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "underlay_mtu"));
}

// ---------------------------------------------------------------------------
// Connect: the session

TEST_F(AgentServiceTest, AGoodHelloGetsSettingsTrustAndAnEmptySpec) {
  EnrolledAgent agent = EnrolledHost("hv1", "10.0.0.1");
  auto stream = Connect(agent);
  ASSERT_TRUE(stream->SendHello(HelloFor("hosts/hv1", "10.0.0.1", 9000)));
  std::vector<v1::ControllerMessage> got;
  for (int i = 0; i < 3; ++i) {
    std::optional<v1::ControllerMessage> m = stream->Next(kSpecWait);
    ASSERT_TRUE(m.has_value()) << "message " << i << " missing";
    got.push_back(*m);
  }
  ASSERT_TRUE(got[0].has_settings()) << got[0].DebugString();
  EXPECT_EQ(got[0].settings().heartbeat_interval().seconds(), 10);
  EXPECT_EQ(got[0].settings().lease_duration().seconds(), 40);
  ASSERT_TRUE(got[1].has_trust_bundle()) << got[1].DebugString();
  EXPECT_EQ(got[1].trust_bundle().name(), "infrastructure/trustBundle");
  EXPECT_EQ(got[1].trust_bundle().ca_certificates_pem(),
            agent.enrollment.trust_bundle().ca_certificates_pem());
  ASSERT_TRUE(got[2].has_spec()) << got[2].DebugString();
  EXPECT_GE(got[2].spec().version(), 1);
  EXPECT_THAT(got[2].spec().vms(), IsEmpty());
  EXPECT_THAT(got[2].spec().networks(), IsEmpty());

  const v1::Host host = MustGetHost("hosts/hv1");
  EXPECT_EQ(host.capacity().vcpus(), 32);
  EXPECT_EQ(host.capacity().memory_mib(), 128 * 1024);
  EXPECT_EQ(host.capacity().disk_gib(), 2000);
  EXPECT_EQ(host.agent_version(), "0.1.0");
  EXPECT_EQ(host.libvirt_version(), "9.0.0");
  EXPECT_EQ(host.qemu_version(), "7.2.0");
  ASSERT_EQ(host.base_images_size(), 1);
  EXPECT_EQ(host.base_images(0).name(), "debian-12-k8s-1.30");
  EXPECT_EQ(host.base_images(0).sha256(), std::string(64, 'a'));
  EXPECT_EQ(host.base_images(0).size_bytes(), 1 << 30);
  EXPECT_EQ(ConditionStatus(host, "Enrolled"), "True");
  EXPECT_EQ(ConditionStatus(host, "Connected"), "True");
  EXPECT_EQ(host.spec_version(), got[2].spec().version());
  // Not Ready until the agent reports the spec applied.
  EXPECT_EQ(ConditionStatus(host, "Ready"), "False");
  EXPECT_TRUE(host.has_last_seen_time());

  // Hello again reports a changed inventory.
  v1::Hello changed = HelloFor("hosts/hv1", "10.0.0.1", 9000);
  changed.mutable_base_images(0)->set_name("debian-12-k8s-1.31");
  ASSERT_TRUE(stream->SendHello(changed));
  v1::Host updated = WaitForHost("hosts/hv1", [](const v1::Host& h) {
    return h.base_images_size() == 1 && h.base_images(0).name() == "debian-12-k8s-1.31";
  });
  EXPECT_EQ(updated.base_images(0).name(), "debian-12-k8s-1.31");
  EXPECT_FALSE(stream->WaitEnd(absl::ZeroDuration()).has_value());

  // Closing the stream disconnects the host.
  stream->CloseWrites();
  EXPECT_TRUE(stream->WaitEnd(absl::Seconds(10)).has_value());
  v1::Host closed = WaitForHost(
      "hosts/hv1", [](const v1::Host& h) { return ConditionStatus(h, "Connected") == "False"; });
  EXPECT_EQ(ConditionStatus(closed, "Connected"), "False");
  EXPECT_EQ(ConditionReason(closed, "Connected"), "Disconnected");
}

TEST_F(AgentServiceTest, APlacedMachineReachesTheOpenStream) {
  const v1::Tenant acme = CreateTenant("acme");
  ASSERT_EQ(acme.network().mode(), v1::NETWORK_MODE_VXLAN);
  v1::HostSpec first;
  auto stream = ConnectedHost("hv1", "10.0.0.1", &first, 9000);
  ASSERT_THAT(first.vms(), IsEmpty());

  const controller::store::NewMachine m = Machine("acme", "cp-1", "hv1");
  ASSERT_OK(Insert(m));
  std::optional<v1::HostSpec> spec =
      stream->NextSpec(kSpecWait, [](const v1::HostSpec& s) { return s.vms_size() > 0; });
  ASSERT_TRUE(spec.has_value()) << "no HostSpec with the new machine on the open stream";
  EXPECT_GT(spec->version(), first.version());
  ASSERT_EQ(spec->vms_size(), 1);
  const v1::VmSpec& vm = spec->vms(0);
  EXPECT_EQ(vm.machine_id(), m.machine_id);
  EXPECT_EQ(vm.tenant(), "tenants/acme");
  EXPECT_EQ(vm.cluster(), "tenants/acme/clusters/prod");
  EXPECT_EQ(vm.name(), "cp-1");
  EXPECT_TRUE(MessageDifferencer::Equals(vm.resources(), m.resources)) << vm.DebugString();
  EXPECT_EQ(vm.base_image(), m.base_image);
  EXPECT_EQ(vm.base_image_sha256(), m.base_image_sha256);
  EXPECT_EQ(vm.seed().user_data(), m.seed.user_data());
  EXPECT_EQ(vm.seed().meta_data(), m.seed.meta_data());
  EXPECT_EQ(vm.seed().network_config(), m.seed.network_config());
  EXPECT_EQ(vm.power_state(), v1::POWER_STATE_ON);

  const uint32_t vni = acme.network().vni();
  auto bridge = tenants::TenantBridgeName(v1::NETWORK_MODE_VXLAN, vni);
  auto link = tenants::TenantLinkName(v1::NETWORK_MODE_VXLAN, vni);
  ASSERT_OK(bridge);
  ASSERT_OK(link);
  ASSERT_EQ(vm.nics_size(), 1);
  EXPECT_EQ(vm.nics(0).mac_address(), m.node_mac);
  EXPECT_EQ(vm.nics(0).bridge_name(), *bridge);
  ASSERT_EQ(spec->networks_size(), 1);
  const v1::TenantNetworkSpec& net = spec->networks(0);
  EXPECT_EQ(net.tenant(), "tenants/acme");
  EXPECT_EQ(net.mode(), v1::NETWORK_MODE_VXLAN);
  EXPECT_EQ(net.vni(), vni);
  EXPECT_EQ(net.bridge_name(), *bridge);
  EXPECT_EQ(net.link_name(), *link);
  EXPECT_EQ(net.mtu(), 9000 - 50);
  EXPECT_THAT(net.peer_underlay_addresses(), IsEmpty());

  const v1::Host host = MustGetHost("hosts/hv1");
  EXPECT_EQ(host.spec_version(), spec->version());
  ASSERT_EQ(host.allocations_size(), 1);
  EXPECT_EQ(host.allocations(0).machine_id(), m.machine_id);
  EXPECT_EQ(host.allocations(0).cluster(), "tenants/acme/clusters/prod");

  // Powering off is a change of the same VM; deleting removes it.
  ASSERT_OK(InDatabase([&](controller::store::Connection& conn) {
    return machines_.SetPowerState(conn, m.machine_id, v1::POWER_STATE_OFF);
  }));
  std::optional<v1::HostSpec> off = stream->NextSpec(kSpecWait);
  ASSERT_TRUE(off.has_value());
  ASSERT_EQ(off->vms_size(), 1);
  EXPECT_EQ(off->vms(0).power_state(), v1::POWER_STATE_OFF);
  EXPECT_GT(off->version(), spec->version());

  ASSERT_OK(DeleteMachine(*controller_, m.machine_id));
  std::optional<v1::HostSpec> emptied = stream->NextSpec(kSpecWait);
  ASSERT_TRUE(emptied.has_value()) << "no HostSpec after the machine was deleted";
  EXPECT_THAT(emptied->vms(), IsEmpty());
  EXPECT_THAT(emptied->networks(), IsEmpty());
  EXPECT_GT(emptied->version(), off->version());
}

TEST_F(AgentServiceTest, PlacingAndMovingAMachineChangesBothHostsSpecs) {
  CreateTenant("acme");
  v1::HostSpec first1, first2;
  auto hv1 = ConnectedHost("hv1", "10.0.0.1", &first1);
  auto hv2 = ConnectedHost("hv2", "10.0.0.2", &first2);

  // Not placed: on no host.
  const controller::store::NewMachine m = Machine("acme", "cp-1", "");
  ASSERT_OK(Insert(m));
  EXPECT_FALSE(hv1->NextSpec(absl::Seconds(1)).has_value());
  EXPECT_FALSE(hv2->NextSpec(absl::ZeroDuration()).has_value());

  ASSERT_OK(InDatabase([&](controller::store::Connection& conn) {
    return machines_.Place(conn, m.machine_id, "hv1");
  }));
  std::optional<v1::HostSpec> placed = hv1->NextSpec(kSpecWait);
  ASSERT_TRUE(placed.has_value());
  ASSERT_EQ(placed->vms_size(), 1);
  EXPECT_EQ(placed->vms(0).machine_id(), m.machine_id);

  ASSERT_OK(InDatabase([&](controller::store::Connection& conn) {
    return machines_.Place(conn, m.machine_id, "hv2");
  }));
  std::optional<v1::HostSpec> left = hv1->NextSpec(kSpecWait);
  ASSERT_TRUE(left.has_value()) << "hv1 was not told that the machine left";
  EXPECT_THAT(left->vms(), IsEmpty());
  EXPECT_THAT(left->networks(), IsEmpty());
  std::optional<v1::HostSpec> arrived =
      hv2->NextSpec(kSpecWait, [](const v1::HostSpec& s) { return s.vms_size() == 1; });
  ASSERT_TRUE(arrived.has_value());
  EXPECT_EQ(arrived->vms(0).machine_id(), m.machine_id);
  ASSERT_EQ(arrived->networks_size(), 1);
  EXPECT_THAT(arrived->networks(0).peer_underlay_addresses(), IsEmpty());
  EXPECT_EQ(MustGetHost("hosts/hv1").allocations_size(), 0);
  EXPECT_EQ(MustGetHost("hosts/hv2").allocations_size(), 1);

  EXPECT_THAT(InDatabase([&](controller::store::Connection& conn) {
                return machines_.Place(conn, m.machine_id, "nope");
              }),
              testing::StatusIs(absl::StatusCode::kNotFound, ""));
  ASSERT_OK(InDatabase([&](controller::store::Connection& conn) {
    return machines_.Place(conn, m.machine_id, "");
  }));
  std::optional<v1::HostSpec> unplaced = hv2->NextSpec(kSpecWait);
  ASSERT_TRUE(unplaced.has_value()) << "hv2 was not told that the machine left";
  EXPECT_THAT(unplaced->vms(), IsEmpty());
  EXPECT_EQ(MustGetHost("hosts/hv2").allocations_size(), 0);
}

TEST_F(AgentServiceTest, TenantNetworksSpanExactlyTheTenantsHosts) {
  const v1::Tenant acme = CreateTenant("acme");
  const v1::Tenant beta = CreateTenant("beta");
  v1::HostSpec spec1, spec2, spec3;
  auto hv1 = ConnectedHost("hv1", "10.0.0.1", &spec1, 9000);
  auto hv2 = ConnectedHost("hv2", "10.0.0.2", &spec2, 1500);
  auto hv3 = ConnectedHost("hv3", "10.0.0.3", &spec3, 9000);

  const controller::store::NewMachine a1 = Machine("acme", "cp-1", "hv1");
  const controller::store::NewMachine a2 = Machine("acme", "worker-1", "hv2");
  const controller::store::NewMachine b3 = Machine("beta", "cp-1", "hv3");
  ASSERT_OK(Insert(a1));
  ASSERT_OK(Insert(a2));
  ASSERT_OK(Insert(b3));

  auto has_vm_and_peers = [](size_t peers) {
    return [peers](const v1::HostSpec& s) {
      return s.vms_size() == 1 && s.networks_size() == 1 &&
             static_cast<size_t>(s.networks(0).peer_underlay_addresses_size()) == peers;
    };
  };
  std::optional<v1::HostSpec> s1 = hv1->NextSpec(kSpecWait, has_vm_and_peers(1));
  std::optional<v1::HostSpec> s2 = hv2->NextSpec(kSpecWait, has_vm_and_peers(1));
  std::optional<v1::HostSpec> s3 = hv3->NextSpec(kSpecWait, has_vm_and_peers(0));
  ASSERT_TRUE(s1.has_value());
  ASSERT_TRUE(s2.has_value());
  ASSERT_TRUE(s3.has_value());

  EXPECT_EQ(s1->networks(0).tenant(), "tenants/acme");
  EXPECT_THAT(s1->networks(0).peer_underlay_addresses(), ElementsAre("10.0.0.2"));
  EXPECT_EQ(s2->networks(0).tenant(), "tenants/acme");
  EXPECT_THAT(s2->networks(0).peer_underlay_addresses(), ElementsAre("10.0.0.1"));
  // The smallest underlay MTU of the hosts the network spans.
  EXPECT_EQ(s1->networks(0).mtu(), 1500 - 50);
  EXPECT_EQ(s2->networks(0).mtu(), 1500 - 50);
  EXPECT_EQ(s1->networks(0).vni(), acme.network().vni());
  EXPECT_EQ(s1->vms(0).machine_id(), a1.machine_id);
  EXPECT_EQ(s2->vms(0).machine_id(), a2.machine_id);

  // hv3 runs only beta: nothing of acme, not even its address.
  EXPECT_EQ(s3->networks(0).tenant(), "tenants/beta");
  EXPECT_EQ(s3->networks(0).vni(), beta.network().vni());
  EXPECT_NE(s3->networks(0).bridge_name(), s1->networks(0).bridge_name());
  EXPECT_THAT(s3->networks(0).peer_underlay_addresses(), IsEmpty());
  EXPECT_EQ(s3->networks(0).mtu(), 9000 - 50);
  ASSERT_EQ(s3->vms_size(), 1);
  EXPECT_EQ(s3->vms(0).machine_id(), b3.machine_id);
  EXPECT_EQ(s3->vms(0).tenant(), "tenants/beta");
  for (const auto* s : {&*s1, &*s2}) {
    for (const v1::VmSpec& vm : s->vms()) EXPECT_EQ(vm.tenant(), "tenants/acme");
    EXPECT_EQ(s->DebugString().find("tenants/beta"), std::string::npos);
    EXPECT_EQ(s->DebugString().find("10.0.0.3"), std::string::npos);
  }
  EXPECT_EQ(s3->DebugString().find("tenants/acme"), std::string::npos);
  EXPECT_EQ(s3->DebugString().find("10.0.0.1"), std::string::npos);
  EXPECT_EQ(s3->DebugString().find("10.0.0.2"), std::string::npos);

  // hv2's underlay grows: the network's MTU follows on both hosts.
  ASSERT_TRUE(hv2->SendHello(HelloFor("hosts/hv2", "10.0.0.2", 9000)));
  auto mtu_9000 = [](const v1::HostSpec& s) {
    return s.networks_size() == 1 && s.networks(0).mtu() == 9000 - 50;
  };
  EXPECT_TRUE(hv1->NextSpec(kSpecWait, mtu_9000).has_value()) << "hv1 kept the old MTU";
  EXPECT_TRUE(hv2->NextSpec(kSpecWait, mtu_9000).has_value()) << "hv2 kept the old MTU";
  ASSERT_TRUE(hv2->SendHello(HelloFor("hosts/hv2", "10.0.0.2", 1500)));
  auto mtu_1500 = [](const v1::HostSpec& s) {
    return s.networks_size() == 1 && s.networks(0).mtu() == 1500 - 50;
  };
  EXPECT_TRUE(hv1->NextSpec(kSpecWait, mtu_1500).has_value());

  // acme leaves hv2: hv1's flood list shrinks, and its MTU grows back.
  ASSERT_OK(DeleteMachine(*controller_, a2.machine_id));
  std::optional<v1::HostSpec> alone = hv1->NextSpec(kSpecWait, has_vm_and_peers(0));
  ASSERT_TRUE(alone.has_value()) << "hv1 still floods to hv2";
  EXPECT_EQ(alone->networks(0).mtu(), 9000 - 50);
  std::optional<v1::HostSpec> empty2 =
      hv2->NextSpec(kSpecWait, [](const v1::HostSpec& s) { return s.vms_size() == 0; });
  ASSERT_TRUE(empty2.has_value());
  EXPECT_THAT(empty2->networks(), IsEmpty());
}

// Specs computed while machines change under them are still whole: every
// VM's network is in the spec, and every network has a VM of its tenant.
TEST_F(AgentServiceTest, SpecsStayConsistentWhileMachinesChange) {
  CreateTenant("acme");
  CreateTenant("beta");
  v1::HostSpec first;
  auto stream = ConnectedHost("hv1", "10.0.0.1", &first);
  EnrolledHost("hv2", "10.0.0.2");
  ASSERT_OK(Insert(Machine("acme", "peer", "hv2")));

  std::atomic<bool> done{false};
  absl::Status writer_status;
  std::thread writer([&] {
    for (int i = 0; i < 100 && writer_status.ok(); ++i) {
      const controller::store::NewMachine m =
          Machine(i % 2 == 0 ? "acme" : "beta", absl::StrCat("m", i), "hv1");
      writer_status = Insert(m);
      if (writer_status.ok()) writer_status = DeleteMachine(*controller_, m.machine_id);
    }
    done = true;
  });
  int specs = 0;
  v1::HostSpec last = first;
  while (true) {
    // Once the writer is done, until the specs settle.
    const bool writer_done = done;
    std::optional<v1::HostSpec> spec =
        stream->NextSpec(writer_done ? absl::Seconds(2) : absl::Milliseconds(200));
    if (!spec) {
      if (writer_done) break;
      continue;
    }
    ++specs;
    EXPECT_GT(spec->version(), last.version());
    last = *spec;
    std::set<std::string> bridges, vm_tenants, net_tenants;
    for (const v1::TenantNetworkSpec& n : spec->networks()) {
      bridges.insert(n.bridge_name());
      net_tenants.insert(n.tenant());
    }
    for (const v1::VmSpec& vm : spec->vms()) {
      vm_tenants.insert(vm.tenant());
      for (const v1::Nic& nic : vm.nics()) {
        EXPECT_TRUE(bridges.count(nic.bridge_name()) == 1)
            << "a VM's bridge is not in the spec: " << spec->DebugString();
      }
    }
    EXPECT_EQ(vm_tenants, net_tenants) << spec->DebugString();
  }
  writer.join();
  ASSERT_OK(writer_status);
  EXPECT_GT(specs, 0);
  // The last spec is the final state: no machine left on hv1.
  EXPECT_THAT(last.vms(), IsEmpty());
  EXPECT_THAT(last.networks(), IsEmpty());
  EXPECT_EQ(MustGetHost("hosts/hv1").spec_version(), last.version());
}

TEST_F(AgentServiceTest, TheSpecVersionChangesOnlyWithTheSpec) {
  CreateTenant("acme");
  EnrolledAgent agent = EnrolledHost("hv1", "10.0.0.1");
  auto first_stream = Connect(agent);
  ASSERT_TRUE(first_stream->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  std::optional<v1::HostSpec> first = first_stream->NextSpec(kSpecWait);
  ASSERT_TRUE(first.has_value());
  first_stream->CloseWrites();
  ASSERT_TRUE(first_stream->WaitEnd(absl::Seconds(10)).has_value());

  // Reconnecting resends the same spec under the same version.
  auto second_stream = Connect(agent);
  ASSERT_TRUE(second_stream->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  std::optional<v1::HostSpec> second = second_stream->NextSpec(kSpecWait);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->version(), first->version());
  EXPECT_TRUE(MessageDifferencer::Equals(*second, *first));

  // A change of another tenant's machine elsewhere is no change here.
  EnrolledHost("hv2", "10.0.0.2");
  ASSERT_OK(Insert(Machine("acme", "cp-2", "hv2")));
  const controller::store::NewMachine m = Machine("acme", "cp-1", "hv1");
  ASSERT_OK(Insert(m));
  std::optional<v1::HostSpec> changed = second_stream->NextSpec(kSpecWait);
  ASSERT_TRUE(changed.has_value());
  EXPECT_EQ(changed->vms_size(), 1);
  EXPECT_GT(changed->version(), second->version());
  // No spurious resend: nothing more arrives while nothing changes.
  EXPECT_FALSE(second_stream->NextSpec(absl::Seconds(2)).has_value());
  EXPECT_EQ(MustGetHost("hosts/hv1").spec_version(), changed->version());

  // Reconnecting after the change: still that version.
  second_stream->CloseWrites();
  ASSERT_TRUE(second_stream->WaitEnd(absl::Seconds(10)).has_value());
  auto third_stream = Connect(agent);
  ASSERT_TRUE(third_stream->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  std::optional<v1::HostSpec> third = third_stream->NextSpec(kSpecWait);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->version(), changed->version());
}

TEST_F(AgentServiceTest, HostStatusMakesTheHostReadyAndRecordsVms) {
  CreateTenant("acme");
  v1::HostSpec initial;
  auto stream = ConnectedHost("hv1", "10.0.0.1", &initial);
  v1::HostSpec other_initial;
  auto other = ConnectedHost("hv2", "10.0.0.2", &other_initial);
  const controller::store::NewMachine m = Machine("acme", "cp-1", "hv1");
  const controller::store::NewMachine foreign = Machine("acme", "cp-2", "hv2");
  ASSERT_OK(Insert(m));
  ASSERT_OK(Insert(foreign));
  // The spec with both changes: the VM, and hv2 as the network's peer.
  std::optional<v1::HostSpec> spec = stream->NextSpec(kSpecWait, [](const v1::HostSpec& s) {
    return s.vms_size() == 1 && s.networks_size() == 1 &&
           s.networks(0).peer_underlay_addresses_size() == 1;
  });
  ASSERT_TRUE(spec.has_value());

  v1::HostStatus status;
  status.set_applied_spec_version(spec->version());
  v1::VmStatus* vm = status.add_vms();
  vm->set_machine_id(m.machine_id);
  vm->set_state(v1::VM_STATE_RUNNING);
  vm->mutable_guest()->set_phase(v1::GUEST_PHASE_KUBEADM);
  vm->mutable_guest()->set_message("kubeadm join: waiting for the API server");
  *vm->mutable_guest()->mutable_receive_time() = TimeUtil::GetCurrentTime();
  // A VM of another host is not this agent's to report.
  v1::VmStatus* stray = status.add_vms();
  stray->set_machine_id(foreign.machine_id);
  stray->set_state(v1::VM_STATE_CRASHED);
  *status.mutable_observe_time() = TimeUtil::GetCurrentTime();
  ASSERT_TRUE(stream->SendStatus(status));

  v1::Host host = WaitForHost(
      "hosts/hv1", [&](const v1::Host& h) { return h.applied_spec_version() == spec->version(); });
  EXPECT_EQ(host.applied_spec_version(), spec->version());
  EXPECT_EQ(host.spec_version(), spec->version());
  EXPECT_EQ(ConditionStatus(host, "Ready"), "True") << host.DebugString();
  EXPECT_EQ(ConditionStatus(host, "Connected"), "True");

  absl::StatusOr<controller::store::MachineObservation> seen;
  ASSERT_OK(InDatabase([&](controller::store::Connection& conn) {
    seen = machines_.Observation(conn, m.machine_id);
    return seen.status();
  }));
  EXPECT_EQ(seen->host, "hv1");
  EXPECT_EQ(seen->vm_state, v1::VM_STATE_RUNNING);
  EXPECT_EQ(seen->guest_phase, v1::GUEST_PHASE_KUBEADM);
  EXPECT_EQ(seen->guest_message, "kubeadm join: waiting for the API server");
  EXPECT_TRUE(seen->guest_time.has_value());
  EXPECT_TRUE(seen->status_time.has_value());
  ASSERT_OK(InDatabase([&](controller::store::Connection& conn) {
    seen = machines_.Observation(conn, foreign.machine_id);
    return seen.status();
  }));
  EXPECT_EQ(seen->vm_state, v1::VM_STATE_UNSPECIFIED);

  // A status from the future does not claim more than was sent.
  v1::HostStatus ahead = status;
  ahead.set_applied_spec_version(spec->version() + 5);
  ASSERT_TRUE(stream->SendStatus(ahead));
  // Host-wide errors make it not Ready.
  v1::HostStatus broken = status;
  broken.add_host_errors("nftables: the rules that separate tenant bridges are missing");
  ASSERT_TRUE(stream->SendStatus(broken));
  host = WaitForHost("hosts/hv1",
                     [](const v1::Host& h) { return ConditionReason(h, "Ready") == "HostErrors"; });
  EXPECT_EQ(ConditionStatus(host, "Ready"), "False");
  EXPECT_EQ(ConditionReason(host, "Ready"), "HostErrors");
  EXPECT_THAT(FindCondition(host, "Ready")->message(), HasSubstr("nftables"));
  EXPECT_EQ(host.applied_spec_version(), spec->version());

  // A guest message without a receive time keeps the last one.
  v1::HostStatus recovered = status;
  recovered.mutable_vms(0)->clear_guest();
  recovered.mutable_vms(0)->set_state(v1::VM_STATE_STOPPED);
  ASSERT_TRUE(stream->SendStatus(recovered));
  host = WaitForHost("hosts/hv1",
                     [](const v1::Host& h) { return ConditionStatus(h, "Ready") == "True"; });
  EXPECT_EQ(ConditionStatus(host, "Ready"), "True");
  ASSERT_OK(InDatabase([&](controller::store::Connection& conn) {
    seen = machines_.Observation(conn, m.machine_id);
    return seen.status();
  }));
  EXPECT_EQ(seen->vm_state, v1::VM_STATE_STOPPED);
  EXPECT_EQ(seen->guest_phase, v1::GUEST_PHASE_KUBEADM);
}

TEST_F(AgentServiceTest, ABadHostStatusIsRefusedAndChangesNothing) {
  CreateTenant("acme");
  v1::HostSpec initial;
  auto stream = ConnectedHost("hv1", "10.0.0.1", &initial);
  const controller::store::NewMachine m = Machine("acme", "cp-1", "hv1");
  ASSERT_OK(Insert(m));
  std::optional<v1::HostSpec> spec =
      stream->NextSpec(kSpecWait, [](const v1::HostSpec& s) { return s.vms_size() == 1; });
  ASSERT_TRUE(spec.has_value());
  v1::HostStatus good;
  good.set_applied_spec_version(spec->version());
  v1::VmStatus* vm = good.add_vms();
  vm->set_machine_id(m.machine_id);
  vm->set_state(v1::VM_STATE_RUNNING);
  ASSERT_TRUE(stream->SendStatus(good));
  v1::Host before = WaitForHost(
      "hosts/hv1", [](const v1::Host& h) { return ConditionStatus(h, "Ready") == "True"; });
  ASSERT_EQ(ConditionStatus(before, "Ready"), "True") << before.DebugString();

  // Well-formed VMs beyond the bound, one of them this host's, and a host
  // error: none of it may be written.
  v1::HostStatus flood = good;
  flood.mutable_vms(0)->set_state(v1::VM_STATE_CRASHED);
  for (int i = 0; i < 1024; ++i) {
    v1::VmStatus* extra = flood.add_vms();
    extra->set_machine_id(NewUuid());
    extra->set_state(v1::VM_STATE_RUNNING);
  }
  flood.add_host_errors("must not be recorded");
  ASSERT_TRUE(stream->SendStatus(flood));
  std::optional<grpc::Status> ended = stream->WaitEnd(kSpecWait);
  ASSERT_TRUE(ended.has_value()) << "a status over its bounds was accepted";
  EXPECT_THAT(*ended, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "at most 1024 VMs"));
  EXPECT_THAT(BadRequestFields(*ended), ElementsAre("status.vms"));

  absl::StatusOr<controller::store::MachineObservation> seen;
  ASSERT_OK(InDatabase([&](controller::store::Connection& conn) {
    seen = machines_.Observation(conn, m.machine_id);
    return seen.status();
  }));
  EXPECT_EQ(seen->vm_state, v1::VM_STATE_RUNNING);
  EXPECT_EQ(Count("SELECT count(*) FROM hosts WHERE host_errors <> '[]'"), 0);

  // A fresh stream: a status with an unknown enum value and a bad machine
  // id is refused the same way, naming both fields.
  EnrolledAgent again = testing::EnrollNewKey(*controller_, "hosts/hv1", IssueToken("hv1")).value();
  auto second = Connect(again);
  ASSERT_TRUE(second->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  ASSERT_TRUE(second->NextSpec(kSpecWait).has_value());
  v1::HostStatus odd = good;
  odd.mutable_vms(0)->set_state(static_cast<v1::VmState>(99));
  odd.add_vms()->set_machine_id("'; DROP TABLE machines; --");
  ASSERT_TRUE(second->SendStatus(odd));
  ended = second->WaitEnd(kSpecWait);
  ASSERT_TRUE(ended.has_value()) << "a malformed status was accepted";
  EXPECT_THAT(*ended, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "known VmState"));
  EXPECT_THAT(BadRequestFields(*ended),
              ElementsAre("status.vms[0].state", "status.vms[1].machine_id"));
  ASSERT_OK(InDatabase([&](controller::store::Connection& conn) {
    seen = machines_.Observation(conn, m.machine_id);
    return seen.status();
  }));
  EXPECT_EQ(seen->vm_state, v1::VM_STATE_RUNNING);
}

TEST_F(AgentServiceTest, ANewStreamOfTheSameHostEndsTheOldOne) {
  EnrolledAgent agent = EnrolledHost("hv1", "10.0.0.1");
  auto first = Connect(agent);
  ASSERT_TRUE(first->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  ASSERT_TRUE(first->NextSpec(kSpecWait).has_value());

  auto second = Connect(agent);
  ASSERT_TRUE(second->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  ASSERT_TRUE(second->NextSpec(kSpecWait).has_value());
  std::optional<grpc::Status> ended = first->WaitEnd(absl::Seconds(10));
  ASSERT_TRUE(ended.has_value()) << "the replaced stream is still open";
  EXPECT_THAT(*ended, GrpcIs(grpc::StatusCode::ABORTED, ""));

  // The new stream holds the host: it stays connected, and heartbeats and
  // status on it are accepted.
  EXPECT_FALSE(second->WaitEnd(absl::Seconds(1)).has_value());
  ASSERT_TRUE(second->SendHeartbeat());
  EXPECT_FALSE(second->WaitEnd(absl::Seconds(1)).has_value());
  const v1::Host host = MustGetHost("hosts/hv1");
  EXPECT_EQ(ConditionStatus(host, "Connected"), "True");
  EXPECT_EQ(controller_->server().agents().connected(), 1);
}

TEST_F(AgentServiceTest, TheStreamRenewsTheAgentCertificate) {
  EnrolledAgent agent = EnrolledHost("hv1", "10.0.0.1");
  auto stream = Connect(agent);
  ASSERT_TRUE(stream->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  ASSERT_TRUE(stream->NextSpec(kSpecWait).has_value());

  // A CSR the controller refuses: an error, and the stream goes on.
  auto rsa = testing::NewKeyWithCsr(pki::KeyType::kRsa);
  ASSERT_OK(rsa);
  v1::AgentMessage renewal;
  renewal.mutable_renewal()->set_csr(rsa->csr_pem);
  ASSERT_TRUE(stream->Send(renewal));
  std::optional<v1::ControllerMessage> refused = stream->Next(kSpecWait);
  ASSERT_TRUE(refused.has_value());
  ASSERT_TRUE(refused->has_certificate()) << refused->DebugString();
  EXPECT_EQ(refused->certificate().certificate_pem(), "");
  EXPECT_EQ(refused->certificate().error().code(), grpc::StatusCode::INVALID_ARGUMENT);

  auto key = testing::NewKeyWithCsr();
  ASSERT_OK(key);
  renewal.mutable_renewal()->set_csr(key->csr_pem);
  ASSERT_TRUE(stream->Send(renewal));
  std::optional<v1::ControllerMessage> renewed = stream->Next(kSpecWait);
  ASSERT_TRUE(renewed.has_value());
  ASSERT_TRUE(renewed->has_certificate()) << renewed->DebugString();
  EXPECT_EQ(renewed->certificate().error().code(), 0);
  auto cert = pki::ParseCertificate(renewed->certificate().certificate_pem());
  ASSERT_OK(cert);
  auto info = pki::DescribeCertificate(cert->get());
  ASSERT_OK(info);
  EXPECT_THAT(info->subject_alt_names.uris, ElementsAre("spiffe://mandant.internal/host/hv1"));
  EXPECT_THAT(info->extended_key_usages, ElementsAre(pki::ExtendedKeyUsage::kClientAuth));
  EXPECT_NE(info->serial_hex, SerialOf(agent.enrollment.certificate_pem()));
  EXPECT_OK(pki::testing::VerifyWithOpenSslCli(
      renewed->certificate().certificate_pem(),
      {agent.enrollment.trust_bundle().ca_certificates_pem()}, {renewed->certificate().chain_pem()},
      "", {"-partial_chain", "-purpose", "sslclient"}));
  EXPECT_FALSE(stream->WaitEnd(absl::ZeroDuration()).has_value());

  // The renewed certificate connects (replacing the first stream).
  EnrolledAgent renewed_agent = agent;
  renewed_agent.key_pem = key->key_pem;
  renewed_agent.enrollment.set_certificate_pem(renewed->certificate().certificate_pem());
  renewed_agent.enrollment.set_chain_pem(renewed->certificate().chain_pem());
  auto second = Connect(renewed_agent);
  ASSERT_TRUE(second->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  EXPECT_TRUE(second->NextSpec(kSpecWait).has_value());
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'Connect' AND code = 'OK' "
                  "AND object = 'hosts/hv1' AND message = 'agent certificate renewed'"),
            1);
}

TEST_F(AgentServiceTest, ShuttingDownEndsStreamsWithUnavailable) {
  v1::HostSpec spec;
  auto stream = ConnectedHost("hv1", "10.0.0.1", &spec);
  controller_->server().Shutdown(absl::Seconds(5));
  std::optional<grpc::Status> ended = stream->WaitEnd(absl::Seconds(10));
  ASSERT_TRUE(ended.has_value()) << "the stream outlived the server";
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAVAILABLE) << ended->error_message();
}

TEST_F(AgentServiceTest, ASilentAgentLosesItsLease) {
  Start([](controller::ServerOptions& o) {
    o.agents.lease.heartbeat_interval = absl::Seconds(1);
    o.agents.lease.lease_duration = absl::Seconds(3);
  });
  EnrolledAgent quiet_agent = EnrolledHost("hv1", "10.0.0.1");
  EnrolledAgent chatty_agent = EnrolledHost("hv2", "10.0.0.2");
  auto quiet = Connect(quiet_agent);
  ASSERT_TRUE(quiet->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  std::optional<v1::ControllerMessage> settings = quiet->Next(kSpecWait);
  ASSERT_TRUE(settings.has_value());
  ASSERT_TRUE(settings->has_settings());
  EXPECT_EQ(settings->settings().heartbeat_interval().seconds(), 1);
  EXPECT_EQ(settings->settings().lease_duration().seconds(), 3);
  const absl::Time connected = absl::Now();
  auto chatty = Connect(chatty_agent);
  ASSERT_TRUE(chatty->SendHello(HelloFor("hosts/hv2", "10.0.0.2")));
  ASSERT_TRUE(chatty->NextSpec(kSpecWait).has_value());

  std::optional<grpc::Status> ended;
  while (!ended && absl::Now() - connected < absl::Seconds(8)) {
    chatty->SendHeartbeat();
    ended = quiet->WaitEnd(absl::Milliseconds(500));
  }
  ASSERT_TRUE(ended.has_value()) << "the silent agent's stream is still open";
  EXPECT_THAT(*ended, GrpcIs(grpc::StatusCode::UNAVAILABLE, "lease"));
  EXPECT_LT(absl::Now() - connected, absl::Seconds(5));
  v1::Host host = WaitForHost(
      "hosts/hv1", [](const v1::Host& h) { return ConditionStatus(h, "Connected") == "False"; });
  EXPECT_EQ(ConditionStatus(host, "Connected"), "False");
  EXPECT_EQ(ConditionStatus(host, "Ready"), "False");

  // The agent that heartbeats keeps its stream and its lease.
  EXPECT_FALSE(chatty->WaitEnd(absl::ZeroDuration()).has_value());
  host = MustGetHost("hosts/hv2");
  EXPECT_EQ(ConditionStatus(host, "Connected"), "True");
  EXPECT_LT(
      absl::Now() - absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(host.last_seen_time())),
      absl::Seconds(3));
}

TEST_F(AgentServiceTest, ARevokedCertificateLosesItsStreamAtTheNextHeartbeat) {
  Start([](controller::ServerOptions& o) {
    o.agents.lease.heartbeat_interval = absl::Seconds(1);
    o.agents.lease.lease_duration = absl::Seconds(30);
  });
  EnrolledAgent agent = EnrolledHost("hv1", "10.0.0.1");
  auto stream = Connect(agent);
  ASSERT_TRUE(stream->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  ASSERT_TRUE(stream->NextSpec(kSpecWait).has_value());

  v1::RevokeCertificateRequest revoke;
  revoke.set_name(
      absl::StrCat("infrastructure/certificates/", SerialOf(agent.enrollment.certificate_pem())));
  revoke.set_reason(v1::REVOCATION_REASON_KEY_COMPROMISE);
  v1::Certificate revoked;
  grpc::Status st = controller_->Certificates()->RevokeCertificate(
      TestController::Context(admin_).get(), revoke, &revoked);
  ASSERT_TRUE(st.ok()) << st.error_message();

  // Nothing about the host changes, so no spec wakes the stream: the
  // heartbeats must end it (checked every 3 heartbeats, cached for 5 s).
  const absl::Time revoked_at = absl::Now();
  std::optional<grpc::Status> ended;
  while (!ended && absl::Now() - revoked_at < absl::Seconds(20)) {
    stream->SendHeartbeat();
    ended = stream->WaitEnd(absl::Milliseconds(500));
  }
  ASSERT_TRUE(ended.has_value()) << "the revoked agent still holds its stream";
  EXPECT_THAT(*ended, GrpcIs(grpc::StatusCode::UNAUTHENTICATED, ""));
}

TEST_F(AgentServiceTest, ARevokedStreamGetsNoRenewedCertificate) {
  EnrolledAgent agent = EnrolledHost("hv1", "10.0.0.1");
  auto stream = Connect(agent);
  ASSERT_TRUE(stream->SendHello(HelloFor("hosts/hv1", "10.0.0.1")));
  ASSERT_TRUE(stream->NextSpec(kSpecWait).has_value());
  const int64_t issued_before =
      Count("SELECT count(*) FROM pki_certificates WHERE subject LIKE '%host/hv1%'");
  ASSERT_GE(issued_before, 1);

  v1::RevokeCertificateRequest revoke;
  revoke.set_name(
      absl::StrCat("infrastructure/certificates/", SerialOf(agent.enrollment.certificate_pem())));
  revoke.set_reason(v1::REVOCATION_REASON_KEY_COMPROMISE);
  v1::Certificate revoked;
  grpc::Status st = controller_->Certificates()->RevokeCertificate(
      TestController::Context(admin_).get(), revoke, &revoked);
  ASSERT_TRUE(st.ok()) << st.error_message();

  // At once, within any cache of the authenticator: a well-formed renewal.
  auto key = testing::NewKeyWithCsr();
  ASSERT_OK(key);
  v1::AgentMessage renewal;
  renewal.mutable_renewal()->set_csr(key->csr_pem);
  ASSERT_TRUE(stream->Send(renewal));
  std::optional<v1::ControllerMessage> message;
  while ((message = stream->Next(kSpecWait)).has_value()) {
    EXPECT_FALSE(message->has_certificate() && !message->certificate().certificate_pem().empty())
        << "a revoked stream got a certificate";
  }
  std::optional<grpc::Status> ended = stream->WaitEnd(kSpecWait);
  ASSERT_TRUE(ended.has_value()) << "the revoked stream is still open";
  EXPECT_THAT(*ended, GrpcIs(grpc::StatusCode::UNAUTHENTICATED, "revoked"));
  EXPECT_EQ(Count("SELECT count(*) FROM pki_certificates WHERE subject LIKE '%host/hv1%'"),
            issued_before);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE message = 'agent certificate renewed'"), 0);
}

}  // namespace
}  // namespace mandant
