// mandantctl's pki and login commands end to end: RunMandantctl with the
// real gRPC client, over TLS (and mTLS after login), against the fake
// CertificateService.

#include "cli/pki_commands.h"

#include <dirent.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

#include "cli/app.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/cli/fake_certificate_service.h"
#include "tests/unit/cli/temp_files.h"

namespace mandant::cli {
namespace {

using ::mandant::cli::testing::FakeCaller;
using ::mandant::cli::testing::FakeCertificateService;
using ::mandant::cli::testing::FakeMandantServer;
using ::mandant::cli::testing::FileMode;
using ::mandant::cli::testing::ReadAll;
using ::mandant::cli::testing::TempDir;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kToken[] = "tok-admin";
constexpr char kIdentity[] = "spiffe://mandant.internal/provider-admin/op";
constexpr char kRequestId[] = "11111111-2222-4333-8444-555555555555";

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// The key in `key_path` belongs to the first certificate in `cert_path`.
void ExpectKeyMatchesCertificate(const std::string& key_path, const std::string& cert_path) {
  absl::StatusOr<pki::EvpPkeyPtr> key = pki::ParsePrivateKey(ReadAll(key_path));
  ASSERT_OK(key);
  absl::StatusOr<pki::X509Ptr> cert = pki::ParseCertificate(ReadAll(cert_path));
  ASSERT_OK(cert);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert->get()), key->get()), 1);
}

class PkiCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeCertificateService>> fake = FakeCertificateService::Create();
    ASSERT_OK(fake);
    fake_ = *std::move(fake);
    fake_->AddToken(kToken, kIdentity);
    absl::StatusOr<std::unique_ptr<FakeMandantServer>> server =
        FakeMandantServer::Start(fake_.get());
    ASSERT_OK(server);
    server_ = *std::move(server);
    ca_file_ = dir_.WriteFile("ca.pem", fake_->root_pem(), 0644);
    token_file_ = dir_.WriteFile("token", absl::StrCat(kToken, "\n"), 0600);
    // HOME is the temporary folder, so the default config file lives there.
    env_ = {{"HOME", dir_.path()},
            {"MANDANT_SERVER", server_->address()},
            {"MANDANT_CA_FILE", ca_file_},
            {"MANDANT_TOKEN_FILE", token_file_}};
    out_dir_ = dir_.path() + "/out";
    ASSERT_EQ(mkdir(out_dir_.c_str(), 0700), 0);
  }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    RunOptions options;
    options.env = env_;
    options.out = &out_;
    options.err = &err_;
    options.new_request_id = [] { return std::string(kRequestId); };
    options.now = [this] { return absl::Now() + clock_offset_; };
    options.new_certificate_client = [this](const ConnectionOptions& o) {
      connection_ = o;
      return NewGrpcCertificateClient(o);
    };
    return RunMandantctl(args, options);
  }

  std::vector<std::string> Issue(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"pki",          "issue",        "--parent",
                                     "tenants/acme", "--dns",        "api.acme.svc.example.net",
                                     "--out-cert",   Out("api.crt"), "--out-key",
                                     Out("api.key"), "--out-chain",  Out("chain.pem")};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::string Out(const std::string& name) const { return out_dir_ + "/" + name; }
  std::string ConfigPath() const { return dir_.path() + "/.config/mandant/config.yaml"; }
  std::string out() const { return out_.str(); }
  int OutLines() const {
    const std::string text = out_.str();
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }
  std::string err() const { return err_.str(); }

  TempDir dir_;
  std::unique_ptr<FakeCertificateService> fake_;
  std::unique_ptr<FakeMandantServer> server_;
  std::string ca_file_;
  std::string token_file_;
  std::string out_dir_;
  Environment env_;
  absl::Duration clock_offset_;
  ConnectionOptions connection_;
  std::ostringstream out_;
  std::ostringstream err_;
};

// --- pki issue -------------------------------------------------------------

TEST_F(PkiCommandsTest, IssueWritesAPrivateKeyAndSendsOnlyTheCsr) {
  ASSERT_EQ(Run(Issue({"--usage", "server,client", "--ttl", "48h"})), 0) << err();

  EXPECT_EQ(FileMode(Out("api.key")), 0600u);
  EXPECT_THAT(ReadAll(Out("api.key")), HasSubstr("-----BEGIN PRIVATE KEY-----"));
  ExpectKeyMatchesCertificate(Out("api.key"), Out("api.crt"));
  EXPECT_EQ(ReadAll(Out("chain.pem")), fake_->intermediate_pem());
  EXPECT_THAT(Entries(out_dir_), ElementsAre("api.crt", "api.key", "chain.pem"));

  auto request = fake_->LastRequest<v1::IssueCertificateRequest>("IssueCertificate");
  EXPECT_EQ(request.parent(), "tenants/acme");
  EXPECT_EQ(request.request_id(), kRequestId);
  EXPECT_EQ(request.ttl().seconds(), 48 * 3600);
  EXPECT_THAT(request.usages(),
              ElementsAre(v1::CERTIFICATE_USAGE_SERVER_AUTH, v1::CERTIFICATE_USAGE_CLIENT_AUTH));
  EXPECT_THAT(request.csr(), HasSubstr("-----BEGIN CERTIFICATE REQUEST-----"));
  EXPECT_THAT(request.SerializeAsString(), Not(HasSubstr("PRIVATE KEY")));
  absl::StatusOr<pki::ParsedCsr> csr = pki::ParseCsr(request.csr());
  ASSERT_OK(csr);
  EXPECT_THAT(csr->subject_alt_names.dns_names, ElementsAre("api.acme.svc.example.net"));
  EXPECT_EQ(csr->key.type, pki::KeyType::kEcdsaP256);

  // The summary names the certificate, never the key.
  EXPECT_THAT(out(), AllOf(HasSubstr("Name:"), HasSubstr("tenants/acme/certificates/"),
                           HasSubstr("Serial:"), HasSubstr("Not after:"),
                           HasSubstr("api.acme.svc.example.net")));
  EXPECT_THAT(out() + err(), Not(HasSubstr("PRIVATE KEY")));
  EXPECT_THAT(err(), HasSubstr("private key " + Out("api.key") + " (mode 0600)"));
  // The token was the credential.
  ASSERT_THAT(fake_->callers(), SizeIs(1));
  EXPECT_EQ(fake_->callers()[0].token, kToken);
}

TEST_F(PkiCommandsTest, IssueKeyTypesAreGeneratedAsAsked) {
  ASSERT_EQ(Run(Issue({"--key-type", "ed25519"})), 0) << err();
  absl::StatusOr<pki::ParsedCsr> csr =
      pki::ParseCsr(fake_->LastRequest<v1::IssueCertificateRequest>("IssueCertificate").csr());
  ASSERT_OK(csr);
  EXPECT_EQ(csr->key.type, pki::KeyType::kEd25519);
}

TEST_F(PkiCommandsTest, IssueAsJsonPrintsTheCertificateWithoutTheKey) {
  ASSERT_EQ(Run(Issue({"-o", "json"})), 0) << err();
  EXPECT_THAT(out(), AllOf(HasSubstr("\"name\": \"tenants/acme/certificates/"),
                           HasSubstr("\"dns_names\": ["), HasSubstr("\"not_after\"")));
  EXPECT_THAT(out(), Not(HasSubstr("PRIVATE KEY")));
}

TEST_F(PkiCommandsTest, IssueRefusesToReplaceAnExistingKeyWithoutForce) {
  const std::string key = dir_.WriteFile("out/api.key", "precious", 0644);
  EXPECT_EQ(Run(Issue()), 2);
  EXPECT_THAT(err(),
              AllOf(HasSubstr("--out-key \"" + key + "\" already exists"), HasSubstr("--force")));
  EXPECT_EQ(ReadAll(key), "precious");
  EXPECT_THAT(fake_->methods(), IsEmpty());
  EXPECT_THAT(Entries(out_dir_), ElementsAre("api.key"));

  // With --force the key is replaced, and the new file is private even
  // though the old one was not.
  ASSERT_EQ(Run(Issue({"--force"})), 0) << err();
  EXPECT_EQ(FileMode(key), 0600u);
  ExpectKeyMatchesCertificate(key, Out("api.crt"));
}

TEST_F(PkiCommandsTest, IssueRefusesAnExistingCertificateFileBeforeGeneratingAKey) {
  dir_.WriteFile("out/api.crt", "old", 0644);
  EXPECT_EQ(Run(Issue()), 2);
  EXPECT_THAT(err(), HasSubstr("--out-cert"));
  EXPECT_FALSE(Exists(Out("api.key")));
  EXPECT_THAT(fake_->methods(), IsEmpty());
}

TEST_F(PkiCommandsTest, IssueRefusedByTheServerLeavesNoFiles) {
  fake_->FailNext("IssueCertificate",
                  grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "name not allowed"));
  EXPECT_EQ(Run(Issue()), 1);
  EXPECT_THAT(err(), HasSubstr("error: INVALID_ARGUMENT: name not allowed"));
  EXPECT_THAT(err(), Not(HasSubstr("request id")));
  EXPECT_THAT(Entries(out_dir_), IsEmpty());
}

TEST_F(PkiCommandsTest, LostAnswerKeepsTheKeyAndARetryGetsTheSameCertificate) {
  fake_->FailNext("IssueCertificate",
                  grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"),
                  /*after_work=*/true);
  EXPECT_EQ(Run(Issue()), 1);
  EXPECT_THAT(err(), AllOf(HasSubstr("DEADLINE_EXCEEDED"),
                           HasSubstr(absl::StrCat("--request-id ", kRequestId, " --reuse-key"))));
  EXPECT_THAT(Entries(out_dir_), ElementsAre("api.key"));
  EXPECT_EQ(FileMode(Out("api.key")), 0600u);
  const std::string key = ReadAll(Out("api.key"));

  ASSERT_EQ(Run(Issue({"--request-id", kRequestId, "--reuse-key"})), 0) << err();
  EXPECT_EQ(ReadAll(Out("api.key")), key);
  ExpectKeyMatchesCertificate(Out("api.key"), Out("api.crt"));
  EXPECT_EQ(fake_->issued_count(), 1);
}

TEST_F(PkiCommandsTest, ARequestIdFromAnotherKeyIsRefused) {
  ASSERT_EQ(Run(Issue({"--request-id", kRequestId})), 0) << err();
  // Same request id, new key: the server answers with the first certificate,
  // which is not for this key.
  std::vector<std::string> second = {"pki",          "issue",
                                     "--parent",     "tenants/acme",
                                     "--dns",        "api.acme.svc.example.net",
                                     "--out-cert",   Out("other.crt"),
                                     "--out-key",    Out("other.key"),
                                     "--request-id", kRequestId};
  EXPECT_EQ(Run(second), 1);
  EXPECT_THAT(err(), AllOf(HasSubstr("for a different key"), HasSubstr("--reuse-key")));
  EXPECT_FALSE(Exists(Out("other.crt")));
  EXPECT_FALSE(Exists(Out("other.key")));
}

TEST_F(PkiCommandsTest, IssueUsageErrorsSendNothing) {
  EXPECT_EQ(Run({"pki", "issue", "--dns", "a.example.net", "--out-cert", Out("c"), "--out-key",
                 Out("k")}),
            2);
  EXPECT_THAT(err(), HasSubstr("--parent is required"));
  EXPECT_EQ(Run({"pki", "issue", "--parent", "acme", "--dns", "a.example.net", "--out-cert",
                 Out("c"), "--out-key", Out("k")}),
            2);
  EXPECT_THAT(err(), HasSubstr("write tenants/ID"));
  EXPECT_EQ(Run(Issue({"--key-type", "dsa"})), 2);
  EXPECT_THAT(err(), HasSubstr("--key-type \"dsa\" is not one of p256"));
  EXPECT_EQ(Run(Issue({"--ttl", "soon"})), 2);
  EXPECT_THAT(fake_->methods(), IsEmpty());
  EXPECT_THAT(Entries(out_dir_), IsEmpty());
}

TEST_F(PkiCommandsTest, IssueIntoAMissingFolderIsAUsageError) {
  EXPECT_EQ(Run({"pki", "issue", "--parent", "tenants/acme", "--dns", "a.example.net", "--out-cert",
                 Out("c"), "--out-key", dir_.path() + "/nope/k"}),
            2);
  EXPECT_THAT(err(), HasSubstr("does not exist"));
  EXPECT_THAT(fake_->methods(), IsEmpty());
}

// --- login and mTLS --------------------------------------------------------

TEST_F(PkiCommandsTest, LoginStoresAClientCertificateThatLaterCommandsUseInsteadOfTheToken) {
  ASSERT_EQ(Run({"login", "--ttl", "2h"}), 0) << err();
  const std::string dir = dir_.path() + "/.config/mandant";
  EXPECT_THAT(out(), AllOf(HasSubstr(absl::StrCat("Logged in as ", kIdentity)),
                           HasSubstr(dir + "/client.crt"), HasSubstr(dir + "/client.key")));
  EXPECT_EQ(FileMode(dir + "/client.key"), 0600u);
  ExpectKeyMatchesCertificate(dir + "/client.key", dir + "/client.crt");
  EXPECT_THAT(ReadAll(dir + "/client.crt"), HasSubstr(fake_->intermediate_pem()));
  YAML::Node config = YAML::LoadFile(ConfigPath());
  EXPECT_EQ(config["client_cert"].as<std::string>(), dir + "/client.crt");
  EXPECT_EQ(config["client_key"].as<std::string>(), dir + "/client.key");
  EXPECT_EQ(FileMode(ConfigPath()), 0600u);
  auto login = fake_->LastRequest<v1::IssueClientCertificateRequest>("IssueClientCertificate");
  EXPECT_EQ(login.ttl().seconds(), 2 * 3600);
  EXPECT_THAT(login.csr(), HasSubstr("CERTIFICATE REQUEST"));

  // The token is still configured (MANDANT_TOKEN_FILE), but the certificate
  // is used and no token is sent.
  ASSERT_EQ(Run({"pki", "list", "--parent", "infrastructure"}), 0) << err();
  EXPECT_TRUE(connection_.token.empty());
  EXPECT_FALSE(connection_.client_cert_pem.empty());
  std::vector<FakeCaller> callers = fake_->callers();
  ASSERT_THAT(callers, SizeIs(2));
  EXPECT_EQ(callers[0].token, kToken);
  EXPECT_EQ(callers[1].token, "");
  EXPECT_EQ(callers[1].client_identity, kIdentity);
  EXPECT_THAT(out(), HasSubstr("infrastructure/certificates/"));
  EXPECT_THAT(err(), IsEmpty());
}

TEST_F(PkiCommandsTest, LoginAgainUsesTheTokenNotTheCurrentCertificate) {
  ASSERT_EQ(Run({"login"}), 0) << err();
  ASSERT_EQ(Run({"login"}), 0) << err();
  std::vector<FakeCaller> callers = fake_->callers();
  ASSERT_THAT(callers, SizeIs(2));
  EXPECT_EQ(callers[1].token, kToken);
  EXPECT_EQ(callers[1].client_identity, "");
}

TEST_F(PkiCommandsTest, LoginWithoutATokenUsesTheCertificateAndSaysSo) {
  ASSERT_EQ(Run({"login"}), 0) << err();
  env_.erase("MANDANT_TOKEN_FILE");
  ASSERT_EQ(Run({"login"}), 0) << err();
  EXPECT_THAT(err(), HasSubstr("logging in with the current client certificate"));
  EXPECT_EQ(fake_->callers().back().client_identity, kIdentity);
}

TEST_F(PkiCommandsTest, LoginWithoutAnyCredentialFailsLocally) {
  env_.erase("MANDANT_TOKEN_FILE");
  EXPECT_EQ(Run({"login"}), 3);
  EXPECT_THAT(err(), HasSubstr("login needs a credential"));
  EXPECT_THAT(fake_->methods(), IsEmpty());
}

TEST_F(PkiCommandsTest, ACertificateExpiringWithinAnHourGivesAWarning) {
  ASSERT_EQ(Run({"login", "--ttl", "30m"}), 0) << err();
  ASSERT_EQ(Run({"pki", "bundle", "infrastructure"}), 0) << err();
  EXPECT_THAT(err(), AllOf(HasSubstr("warning: client certificate"), HasSubstr("expires at"),
                           HasSubstr("run 'mandantctl login' to renew it")));
  EXPECT_EQ(fake_->callers().back().client_identity, kIdentity);
}

TEST_F(PkiCommandsTest, AnExpiredCertificateIsAClearErrorAndNothingIsSent) {
  ASSERT_EQ(Run({"login", "--ttl", "1h"}), 0) << err();
  const size_t calls = fake_->methods().size();
  clock_offset_ = absl::Hours(2);
  EXPECT_EQ(Run({"pki", "list", "--parent", "infrastructure"}), 3);
  EXPECT_THAT(err(), AllOf(HasSubstr("client certificate"), HasSubstr("expired at"),
                           HasSubstr("run 'mandantctl login' to get a new one")));
  EXPECT_EQ(fake_->methods().size(), calls);
}

TEST_F(PkiCommandsTest, LoginWithAnExpiredCertificateAndNoTokenAsksForAToken) {
  ASSERT_EQ(Run({"login", "--ttl", "1h"}), 0) << err();
  env_.erase("MANDANT_TOKEN_FILE");
  clock_offset_ = absl::Hours(2);
  const size_t calls = fake_->methods().size();
  EXPECT_EQ(Run({"login"}), 3);
  EXPECT_THAT(err(), AllOf(HasSubstr("no token is configured"), HasSubstr("expired at"),
                           HasSubstr("hint: name a token file")));
  EXPECT_EQ(fake_->methods().size(), calls);
}

TEST_F(PkiCommandsTest, ARejectedCertificateHintsAtLogin) {
  ASSERT_EQ(Run({"login"}), 0) << err();
  fake_->FailNext("GetCertificate",
                  grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "certificate revoked"));
  EXPECT_EQ(Run({"pki", "get", "infrastructure/certificates/ab"}), 3);
  EXPECT_THAT(err(), AllOf(HasSubstr("error: UNAUTHENTICATED: certificate revoked"),
                           HasSubstr("did not accept the client certificate"),
                           HasSubstr("mandantctl login")));
}

TEST_F(PkiCommandsTest, ExplicitFlagsBeatTheStoredCertificate) {
  ASSERT_EQ(Run({"login"}), 0) << err();
  // Empty --client-cert/--client-key switch the certificate off for one call.
  ASSERT_EQ(Run({"pki", "bundle", "infrastructure", "--client-cert", "", "--client-key", ""}), 0)
      << err();
  EXPECT_EQ(fake_->callers().back().token, kToken);
  EXPECT_EQ(fake_->callers().back().client_identity, "");
}

// --- the other commands ----------------------------------------------------

TEST_F(PkiCommandsTest, ListShowsATableAndFollowsPagesWithAll) {
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_EQ(Run({"pki", "issue", "--parent", "tenants/acme", "--dns",
                   absl::StrCat(name, ".acme.svc.example.net"), "--out-cert",
                   Out(absl::StrCat(name, ".crt")), "--out-key", Out(absl::StrCat(name, ".key")),
                   "--request-id", absl::StrCat("00000000-0000-4000-8000-00000000000", name)}),
              0)
        << err();
  }
  ASSERT_EQ(Run({"pki", "list", "--parent", "tenants/acme", "--page-size", "2"}), 0) << err();
  EXPECT_THAT(out(), HasSubstr("NAME"));
  EXPECT_EQ(OutLines(), 3);
  EXPECT_THAT(err(), HasSubstr("--page-token 2"));

  ASSERT_EQ(Run({"pki", "list", "--parent", "tenants/acme", "--page-size", "2", "--all"}), 0)
      << err();
  EXPECT_THAT(out(),
              AllOf(HasSubstr("SERIAL"), HasSubstr("NOT AFTER"), HasSubstr("REVOKED"),
                    HasSubstr("a.acme.svc.example.net"), HasSubstr("c.acme.svc.example.net")));
  EXPECT_EQ(OutLines(), 4);
  EXPECT_THAT(err(), IsEmpty());

  ASSERT_EQ(Run({"pki", "list", "--parent", "tenants/acme", "-o", "yaml"}), 0) << err();
  EXPECT_THAT(out(), HasSubstr("certificates:\n"));
}

TEST_F(PkiCommandsTest, RevokeSendsTheReasonAndShowsTheRevocation) {
  ASSERT_EQ(Run(Issue({"-o", "json"})), 0) << err();
  const std::string name =
      fake_->LastRequest<v1::IssueCertificateRequest>("IssueCertificate").parent();
  ASSERT_EQ(Run({"pki", "list", "--parent", "tenants/acme", "-o", "json"}), 0);
  const size_t at = out().find("tenants/acme/certificates/");
  ASSERT_NE(at, std::string::npos);
  const std::string cert = out().substr(at, out().find('"', at) - at);

  EXPECT_EQ(Run({"pki", "revoke", cert, "--reason", "key-compromise", "--etag", "stale"}), 1);
  EXPECT_THAT(err(), AllOf(HasSubstr("ABORTED"), HasSubstr("mandantctl pki get " + cert)));

  ASSERT_EQ(Run({"pki", "revoke", cert, "--reason", "key-compromise"}), 0) << err();
  auto request = fake_->LastRequest<v1::RevokeCertificateRequest>("RevokeCertificate");
  EXPECT_EQ(request.reason(), v1::REVOCATION_REASON_KEY_COMPROMISE);
  EXPECT_EQ(request.request_id(), kRequestId);
  EXPECT_THAT(out(), HasSubstr("(key-compromise)"));

  ASSERT_EQ(Run({"pki", "list", "--parent", "tenants/acme"}), 0);
  EXPECT_THAT(out(), HasSubstr("yes (key-compromise)"));
}

TEST_F(PkiCommandsTest, CrlInPemDerAndJson) {
  ASSERT_EQ(Run({"pki", "crl", "tenants/acme/issuers/fake-2"}), 0) << err();
  EXPECT_THAT(out(), HasSubstr("-----BEGIN X509 CRL-----"));
  EXPECT_EQ(fake_->LastRequest<v1::GetCrlRequest>("GetCrl").name(),
            "tenants/acme/issuers/fake-2/crl");

  ASSERT_EQ(Run({"pki", "crl", "tenants/acme/issuers/fake-2/crl", "--format", "der", "--out",
                 Out("crl.der")}),
            0)
      << err();
  EXPECT_THAT(out(), HasSubstr("wrote CRL number 2"));
  EXPECT_OK(pki::ParseCrl(ReadAll(Out("crl.der"))));
  EXPECT_NE(ReadAll(Out("crl.der")).substr(0, 5), "-----");

  ASSERT_EQ(Run({"pki", "crl", "tenants/acme/issuers/fake-2", "-o", "json"}), 0) << err();
  EXPECT_THAT(out(), AllOf(HasSubstr("\"crl_number\": \"3\""), HasSubstr("\"crl_pem\"")));

  EXPECT_EQ(Run({"pki", "crl", "tenants/acme/issuers/fake-2", "--format", "txt"}), 2);
}

TEST_F(PkiCommandsTest, BundleToStdoutAndToAFile) {
  ASSERT_EQ(Run({"pki", "bundle", "tenants/acme"}), 0) << err();
  EXPECT_EQ(out(), fake_->intermediate_pem());
  EXPECT_EQ(fake_->LastRequest<v1::GetTrustBundleRequest>("GetTrustBundle").name(),
            "tenants/acme/trustBundle");
  dir_.WriteFile("out/bundle.pem", "old", 0644);
  ASSERT_EQ(Run({"pki", "bundle", "infrastructure", "--out", Out("bundle.pem")}), 0) << err();
  EXPECT_EQ(ReadAll(Out("bundle.pem")), fake_->intermediate_pem());
  EXPECT_THAT(out(), HasSubstr("(1 issuer)"));
}

TEST_F(PkiCommandsTest, IssuersTableAndRotation) {
  ASSERT_EQ(Run({"pki", "issuers", "--parent", "tenants/acme", "--all", "--page-size", "2"}), 0)
      << err();
  EXPECT_THAT(out(), AllOf(HasSubstr("NAME"), HasSubstr("KIND"), HasSubstr("STATE"),
                           HasSubstr("NOT AFTER"), HasSubstr("prepared"), HasSubstr("active"),
                           HasSubstr("retired"), HasSubstr("tenant")));

  ASSERT_EQ(Run({"pki", "prepare-issuer", "--parent", "infrastructure", "--kind", "root",
                 "--validity", "3650d", "--key-type", "p384"}),
            0)
      << err();
  auto prepare = fake_->LastRequest<v1::PrepareIssuerRequest>("PrepareIssuer");
  EXPECT_EQ(prepare.kind(), v1::ISSUER_KIND_ROOT);
  EXPECT_EQ(prepare.key_type(), v1::KEY_TYPE_ECDSA_P384);
  EXPECT_EQ(prepare.validity().seconds(), 3650LL * 24 * 3600);
  EXPECT_THAT(err(), HasSubstr("mandantctl pki activate-issuer infrastructure/issuers/fake-4"));

  ASSERT_EQ(Run({"pki", "activate-issuer", "tenants/acme/issuers/fake-3", "--etag", "i3"}), 0)
      << err();
  EXPECT_THAT(out(), HasSubstr("State:"));
  EXPECT_EQ(Run({"pki", "retire-issuer", "tenants/acme/issuers/fake-1", "-o", "json"}), 0) << err();
  EXPECT_THAT(out(), HasSubstr("ISSUER_STATE_RETIRED"));
  EXPECT_EQ(Run({"pki", "activate-issuer", "tenants/acme/issuers/fake-3", "--etag", "old"}), 1);
  EXPECT_THAT(err(), HasSubstr("hint: the issuer changed since its etag was read"));
}

TEST_F(PkiCommandsTest, FailedPrepareIssuerPrintsTheRequestId) {
  fake_->FailNext("PrepareIssuer", grpc::Status(grpc::StatusCode::UNAVAILABLE, "reset"));
  EXPECT_EQ(Run({"pki", "prepare-issuer", "--parent", "tenants/acme"}), 3);
  EXPECT_THAT(err(), HasSubstr(absl::StrCat("--request-id ", kRequestId)));
}

TEST_F(PkiCommandsTest, PolicyUpdateReadsTheEtagFirstAndSendsOnlyTheGivenFields) {
  ASSERT_EQ(Run({"pki", "policy", "get", "acme"}), 0) << err();
  EXPECT_THAT(out(), AllOf(HasSubstr("tenants/acme/issuancePolicy"),
                           HasSubstr("*.acme.svc.example.net"), HasSubstr("2160h (90 days)"),
                           HasSubstr("Allowed URIs:"), HasSubstr("(none allowed)")));

  ASSERT_EQ(Run({"pki", "policy", "update", "tenants/acme", "--allow-uri",
                 "spiffe://acme.example.net/*", "--key-types", "p256,ed25519", "--max-ttl", "30d"}),
            0)
      << err();
  EXPECT_THAT(fake_->methods(),
              ElementsAre("GetIssuancePolicy", "GetIssuancePolicy", "UpdateIssuancePolicy"));
  auto update = fake_->LastRequest<v1::UpdateIssuancePolicyRequest>("UpdateIssuancePolicy");
  EXPECT_EQ(update.policy().etag(), "p1");
  EXPECT_THAT(update.update_mask().paths(),
              ElementsAre("allowed_uris", "allowed_key_types", "max_ttl"));
  EXPECT_THAT(out(), AllOf(HasSubstr("spiffe://acme.example.net/*"), HasSubstr("Ed25519"),
                           HasSubstr("720h (30 days)")));

  EXPECT_EQ(Run({"pki", "policy", "update", "acme", "--allow-dns", "", "--etag", "p1"}), 1);
  EXPECT_THAT(err(), AllOf(HasSubstr("ABORTED"), HasSubstr("mandantctl pki policy get acme")));
}

}  // namespace
}  // namespace mandant::cli
