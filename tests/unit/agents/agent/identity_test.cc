#include "agents/agent/identity.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "pki/certificate_info.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/agents/agent/fake_agent_service.h"
#include "tests/unit/agents/vm/test_dir.h"

namespace mandant::agent {
namespace {

using ::mandant::agent::testing::FakeAgentService;
using ::mandant::agent::testing::TestPki;
using ::mandant::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kKeyMarker[] = "-----BEGIN PRIVATE KEY-----";

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void Spit(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

int Mode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  return st.st_mode & 07777;
}

// The private key's PEM in a credentials file (everything from its marker).
std::string KeyPart(const std::string& credentials) {
  const size_t at = credentials.find(kKeyMarker);
  return at == std::string::npos ? "" : credentials.substr(at);
}

// The base64 body of a PEM block, which is what would leak if the key were
// written anywhere in any framing.
std::string PemBody(const std::string& pem) {
  std::string body;
  std::istringstream in(pem);
  for (std::string line; std::getline(in, line);) {
    if (!absl::StartsWith(line, "-----")) body += line;
  }
  return body;
}

// Base64 of the private scalar of a P-256 key in PKCS#8 PEM: the first 48
// characters are the same for every such key (the ASN.1 framing).
std::string KeySecret(const std::string& key_pem) { return PemBody(key_pem).substr(48, 40); }

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TestPki> pki = TestPki::Create();
    ASSERT_OK(pki);
    pki_ = std::make_unique<TestPki>(*std::move(pki));
    absl::StatusOr<std::unique_ptr<FakeAgentService>> service = FakeAgentService::Start(pki_.get());
    ASSERT_OK(service);
    service_ = *std::move(service);
    state_dir_ = dir_.path() + "/state";
    identity_dir_ = state_dir_ + "/identity";
  }

  absl::StatusOr<AgentIdentity> Enroll(const std::string& token = "token") {
    return AgentIdentity::Enroll(state_dir_, service_->address(), "hv1", token, pki_->ca_pem());
  }

  // Every regular file below the state directory.
  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir_.path(), ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file()) out.push_back(it->path().string());
    }
    return out;
  }

  // A CSR (PEM) for a key that is not the identity's.
  static std::string ForeignCsr() {
    absl::StatusOr<pki::EvpPkeyPtr> key = pki::GenerateKey(pki::KeyType::kEcdsaP256);
    EXPECT_OK(key);
    absl::StatusOr<pki::X509ReqPtr> csr = pki::BuildCsr(key->get(), "", {});
    EXPECT_OK(csr);
    absl::StatusOr<std::string> pem = pki::CsrToPem(csr->get());
    EXPECT_OK(pem);
    return pem.value_or("");
  }

  agent::testing::TestDir dir_;
  std::string state_dir_;
  std::string identity_dir_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<FakeAgentService> service_;
};

TEST_F(IdentityTest, LoadBeforeEnrollmentIsNotFound) {
  EXPECT_THAT(AgentIdentity::Load(state_dir_), StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST_F(IdentityTest, EnrollSendsOnlyACsrAndStoresCredentialsPrivately) {
  const absl::Time before = absl::Now();
  absl::StatusOr<AgentIdentity> id = Enroll();
  ASSERT_OK(id);

  std::vector<v1::EnrollRequest> requests = service_->enroll_requests();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_EQ(requests[0].host(), "hosts/hv1");
  EXPECT_EQ(requests[0].bootstrap_token(), "token");
  EXPECT_THAT(requests[0].request_id(), SizeIs(36));
  EXPECT_OK(pki::ParseCsr(requests[0].csr()));
  EXPECT_THAT(requests[0].DebugString(), Not(HasSubstr("PRIVATE KEY")));

  EXPECT_EQ(Mode(identity_dir_), 0700);
  EXPECT_EQ(Mode(identity_dir_ + "/credentials.pem"), 0600);
  EXPECT_EQ(Slurp(identity_dir_ + "/ca.pem"), pki_->ca_pem());
  EXPECT_LE(id->not_before(), before);
  EXPECT_GE(id->not_after(), before + absl::Hours(24) - absl::Minutes(1));
  EXPECT_LE(id->not_after(), absl::Now() + absl::Hours(24));
  EXPECT_EQ(id->ca_pem(), pki_->ca_pem());

  // The certificate stored is the one mandantd issued for the CSR's key.
  const std::string credentials = Slurp(identity_dir_ + "/credentials.pem");
  absl::StatusOr<pki::X509Ptr> cert = pki::ParseCertificate(credentials);
  ASSERT_OK(cert);
  absl::StatusOr<pki::ParsedCsr> csr = pki::ParseCsr(requests[0].csr());
  ASSERT_OK(csr);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert->get()), csr->public_key.get()), 1);
}

TEST_F(IdentityTest, PrivateKeyIsInNoOtherFile) {
  ASSERT_OK(Enroll());
  const std::string key = KeySecret(KeyPart(Slurp(identity_dir_ + "/credentials.pem")));
  ASSERT_THAT(key, Not(IsEmpty()));
  std::vector<std::string> names;
  for (const std::string& file : Files()) {
    names.push_back(std::filesystem::path(file).filename().string());
    if (file == identity_dir_ + "/credentials.pem") continue;
    const std::string text = Slurp(file);
    EXPECT_THAT(text, Not(HasSubstr("PRIVATE KEY"))) << file;
    EXPECT_THAT(PemBody(text), Not(HasSubstr(key))) << file;
  }
  // No temporary file is left behind either.
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("ca.pem", "credentials.pem"));
}

TEST_F(IdentityTest, LoadRoundTripsAndItsCredentialsAuthenticate) {
  absl::StatusOr<AgentIdentity> enrolled = Enroll();
  ASSERT_OK(enrolled);
  absl::StatusOr<AgentIdentity> loaded = AgentIdentity::Load(state_dir_);
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->not_before(), enrolled->not_before());
  EXPECT_EQ(loaded->not_after(), enrolled->not_after());
  EXPECT_EQ(loaded->ca_pem(), pki_->ca_pem());

  // The loaded credentials present the enrolled certificate to mandantd.
  auto stub =
      v1::AgentService::NewStub(grpc::CreateChannel(service_->address(), loaded->Credentials()));
  grpc::ClientContext context;
  auto stream = stub->Connect(&context);
  v1::AgentMessage hello;
  hello.mutable_hello()->set_host("hosts/hv1");
  ASSERT_TRUE(stream->Write(hello));
  ASSERT_TRUE(service_->WaitFor(
      [](const auto& streams) { return !streams.empty() && !streams[0].messages.empty(); },
      absl::Seconds(10)));
  const std::string credentials = Slurp(identity_dir_ + "/credentials.pem");
  absl::StatusOr<pki::X509Ptr> stored = pki::ParseCertificate(credentials);
  absl::StatusOr<pki::X509Ptr> presented =
      pki::ParseCertificate(service_->streams()[0].peer_certificate_pem);
  ASSERT_OK(stored);
  ASSERT_OK(presented);
  EXPECT_EQ(X509_cmp(stored->get(), presented->get()), 0);
  context.TryCancel();
  stream->Finish();
}

TEST_F(IdentityTest, LoadRemovesTemporariesACrashLeftBehind) {
  ASSERT_OK(Enroll());
  // What a crash between write and rename leaves: a copy of the key.
  const std::string leftover = identity_dir_ + "/credentials.pem.tmp-4242";
  std::ofstream(leftover) << Slurp(identity_dir_ + "/credentials.pem");
  ASSERT_OK(AgentIdentity::Load(state_dir_));
  EXPECT_NE(access(leftover.c_str(), F_OK), 0) << "the leftover with the key is still there";
  EXPECT_EQ(access((identity_dir_ + "/credentials.pem").c_str(), F_OK), 0);
}

TEST_F(IdentityTest, CorruptCredentialsAreDataLossWithAdvice) {
  ASSERT_OK(Enroll());
  const std::string path = identity_dir_ + "/credentials.pem";
  const std::string good = Slurp(path);
  const std::string cert = good.substr(0, good.find(kKeyMarker));

  Spit(path, cert);  // the key is missing
  EXPECT_THAT(AgentIdentity::Load(state_dir_),
              StatusIs(absl::StatusCode::kDataLoss, "enroll again with a new bootstrap token"));

  Spit(path, cert + kKeyMarker + "\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
  EXPECT_THAT(AgentIdentity::Load(state_dir_),
              StatusIs(absl::StatusCode::kDataLoss, "enroll again with a new bootstrap token"));

  Spit(path, std::string("garbage\n") + KeyPart(good));
  EXPECT_THAT(AgentIdentity::Load(state_dir_),
              StatusIs(absl::StatusCode::kDataLoss, "enroll again with a new bootstrap token"));

  Spit(path, good.substr(0, good.size() / 2));  // cut short by a full disk
  EXPECT_THAT(AgentIdentity::Load(state_dir_), StatusIs(absl::StatusCode::kDataLoss, "enroll"));
}

TEST_F(IdentityTest, KeyOfAnotherCertificateIsDataLoss) {
  ASSERT_OK(Enroll());
  const std::string path = identity_dir_ + "/credentials.pem";
  const std::string good = Slurp(path);
  absl::StatusOr<pki::EvpPkeyPtr> other = pki::GenerateKey(pki::KeyType::kEcdsaP256);
  ASSERT_OK(other);
  absl::StatusOr<pki::SecretBytes> other_pem = pki::PrivateKeyToPem(other->get());
  ASSERT_OK(other_pem);
  Spit(path, good.substr(0, good.find(kKeyMarker)) + std::string(other_pem->view()));
  EXPECT_THAT(AgentIdentity::Load(state_dir_),
              StatusIs(absl::StatusCode::kDataLoss, "do not match"));
}

TEST_F(IdentityTest, RefusedTokenIsPassedThroughAndNothingIsStored) {
  EXPECT_THAT(Enroll("wrong"),
              StatusIs(absl::StatusCode::kUnauthenticated, "invalid bootstrap token"));
  EXPECT_THAT(service_->enroll_requests(), SizeIs(1));  // not retried
  EXPECT_THAT(Files(), IsEmpty());
  EXPECT_THAT(AgentIdentity::Load(state_dir_), StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST_F(IdentityTest, EnrollRetriesUnavailableWithTheSameRequest) {
  service_->FailNextEnrollments(
      {grpc::Status(grpc::StatusCode::UNAVAILABLE, "mandantd is starting")});
  ASSERT_OK(Enroll());
  std::vector<v1::EnrollRequest> requests = service_->enroll_requests();
  ASSERT_THAT(requests, SizeIs(2));
  EXPECT_EQ(requests[1].request_id(), requests[0].request_id());
  EXPECT_EQ(requests[1].csr(), requests[0].csr());
  EXPECT_OK(AgentIdentity::Load(state_dir_));
}

TEST_F(IdentityTest, EnrollDoesNotRetryOtherErrors) {
  service_->FailNextEnrollments(
      {grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "csr: unsupported key")});
  EXPECT_THAT(Enroll(), StatusIs(absl::StatusCode::kInvalidArgument, "unsupported key"));
  EXPECT_THAT(service_->enroll_requests(), SizeIs(1));
  EXPECT_THAT(Files(), IsEmpty());
}

TEST_F(IdentityTest, RenewalReplacesKeyAndCertificateTogether) {
  absl::StatusOr<AgentIdentity> id = Enroll();
  ASSERT_OK(id);
  const std::string path = identity_dir_ + "/credentials.pem";
  const std::string old_credentials = Slurp(path);
  const absl::Time old_not_after = id->not_after();

  absl::StatusOr<std::string> csr = id->PrepareRenewal();
  ASSERT_OK(csr);
  // Until the certificate arrives, nothing on disk changes.
  EXPECT_EQ(Slurp(path), old_credentials);
  absl::StatusOr<std::string> cert = pki_->SignCsr(*csr, "hv1", absl::Hours(48));
  ASSERT_OK(cert);
  ASSERT_OK(id->Renewed(*cert, pki_->ca_pem()));

  EXPECT_GT(id->not_after(), old_not_after + absl::Hours(23));
  const std::string credentials = Slurp(path);
  EXPECT_EQ(Mode(path), 0600);
  EXPECT_NE(KeyPart(credentials), KeyPart(old_credentials));
  EXPECT_THAT(PemBody(credentials), Not(HasSubstr(KeySecret(KeyPart(old_credentials)))));
  EXPECT_THAT(credentials, HasSubstr(*cert));
  absl::StatusOr<AgentIdentity> loaded = AgentIdentity::Load(state_dir_);
  ASSERT_OK(loaded);  // Load checks that key and certificate belong together
  EXPECT_EQ(loaded->not_after(), id->not_after());

  // The renewal is done: a second certificate is not taken.
  EXPECT_THAT(id->Renewed(*cert, pki_->ca_pem()),
              StatusIs(absl::StatusCode::kFailedPrecondition, ""));
}

TEST_F(IdentityTest, RenewedRefusesACertificateForAnotherKeyAndKeepsTheOldIdentity) {
  absl::StatusOr<AgentIdentity> id = Enroll();
  ASSERT_OK(id);
  const std::string path = identity_dir_ + "/credentials.pem";
  const std::string old_credentials = Slurp(path);
  const absl::Time old_not_after = id->not_after();

  EXPECT_THAT(id->Renewed("", ""), StatusIs(absl::StatusCode::kFailedPrecondition, ""));

  ASSERT_OK(id->PrepareRenewal());
  absl::StatusOr<std::string> foreign = pki_->SignCsr(ForeignCsr(), "hv1", absl::Hours(48));
  ASSERT_OK(foreign);
  EXPECT_THAT(id->Renewed(*foreign, pki_->ca_pem()),
              StatusIs(absl::StatusCode::kFailedPrecondition, "not for the key"));
  EXPECT_THAT(id->Renewed("not a certificate", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, "does not parse"));
  EXPECT_EQ(id->not_after(), old_not_after);
  EXPECT_EQ(Slurp(path), old_credentials);
  EXPECT_OK(AgentIdentity::Load(state_dir_));

  // The pending renewal is still good for its own certificate.
  absl::StatusOr<std::string> csr = id->PrepareRenewal();
  ASSERT_OK(csr);
  absl::StatusOr<std::string> cert = pki_->SignCsr(*csr, "hv1", absl::Hours(48));
  ASSERT_OK(cert);
  EXPECT_OK(id->Renewed(*cert, pki_->ca_pem()));
}

}  // namespace
}  // namespace mandant::agent
