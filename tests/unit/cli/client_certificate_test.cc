#include "cli/client_certificate.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "pki/certificate_authority.h"
#include "pki/encoding.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/cli/temp_files.h"

namespace mandant::cli {
namespace {

using ::mandant::cli::testing::FileMode;
using ::mandant::cli::testing::ReadAll;
using ::mandant::cli::testing::TempDir;
using ::mandant::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kIdentity[] = "spiffe://mandant.internal/provider-admin/op";

struct ClientFiles {
  std::string cert_pem;
  std::string key_pem;
  std::string chain_pem;
};

// A client certificate for kIdentity valid from `now` for `ttl`, from a
// throwaway CA.
ClientFiles MakeClientCertificate(absl::Time now, absl::Duration ttl) {
  ClientFiles files;
  pki::RootCaSpec spec;
  spec.common_name = "test root";
  absl::StatusOr<pki::CertificateAuthority> ca = pki::CreateRootCa(spec, now - absl::Hours(1));
  EXPECT_OK(ca);
  absl::StatusOr<pki::EvpPkeyPtr> key = pki::GenerateKey(pki::KeyType::kEcdsaP256);
  EXPECT_OK(key);
  pki::LeafSpec leaf;
  leaf.public_key = key->get();
  leaf.subject_alt_names.uris = {kIdentity};
  leaf.extended_key_usages = {pki::ExtendedKeyUsage::kClientAuth};
  leaf.not_after = now + ttl;
  absl::StatusOr<pki::X509Ptr> cert = pki::IssueLeaf(*ca, leaf, now);
  EXPECT_OK(cert);
  files.cert_pem = *pki::CertificateToPem(cert->get());
  files.key_pem = std::string(pki::PrivateKeyToPem(key->get())->view());
  files.chain_pem = *pki::CertificateToPem(ca->certificate());
  return files;
}

class ClientCertificateTest : public ::testing::Test {
 protected:
  ClientSettings Settings(const ClientFiles& files, mode_t key_mode = 0600) {
    ClientSettings s;
    s.client_cert = {dir_.WriteFile("client.crt", files.cert_pem + files.chain_pem, 0644),
                     "config file x"};
    s.client_key = {dir_.WriteFile("client.key", files.key_pem, key_mode), "config file x"};
    return s;
  }

  TempDir dir_;
  const absl::Time now_ = absl::Now();
};

TEST_F(ClientCertificateTest, LoadsAMatchingPairWithItsExpiryAndIdentity) {
  ClientFiles files = MakeClientCertificate(now_, absl::Hours(12));
  ClientSettings settings = Settings(files);
  absl::StatusOr<ClientCertificate> c = LoadClientCertificate(settings, now_);
  ASSERT_OK(c);
  EXPECT_EQ(c->cert_pem, files.cert_pem + files.chain_pem);
  EXPECT_EQ(c->identity, kIdentity);
  EXPECT_GT(c->not_after, now_ + absl::Hours(11));
  EXPECT_THAT(ClientCertificateExpiryWarning(*c, settings, now_), IsEmpty());
  EXPECT_THAT(
      ClientCertificateExpiryWarning(*c, settings, now_ + absl::Hours(11) + absl::Minutes(30)),
      AllOf(HasSubstr("warning: client certificate " + settings.client_cert.value),
            HasSubstr("(in "), HasSubstr("m)"), HasSubstr("run 'mandantctl login' to renew it")));
}

TEST_F(ClientCertificateTest, ExpiredIsAnErrorThatSaysToLogInAgain) {
  ClientSettings settings = Settings(MakeClientCertificate(now_, absl::Hours(1)));
  EXPECT_THAT(LoadClientCertificate(settings, now_ + absl::Hours(2)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "expired at"));
  EXPECT_THAT(LoadClientCertificate(settings, now_ + absl::Hours(2)).status().message(),
              AllOf(HasSubstr(settings.client_cert.value), HasSubstr("(from config file x)"),
                    HasSubstr("run 'mandantctl login' to get a new one")));
  EXPECT_THAT(LoadClientCertificate(settings, now_ - absl::Hours(3)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "not valid before"));
}

TEST_F(ClientCertificateTest, RefusesAKeyOthersCanRead) {
  ClientFiles files = MakeClientCertificate(now_, absl::Hours(12));
  ClientSettings settings = Settings(files, 0644);
  absl::StatusOr<ClientCertificate> c = LoadClientCertificate(settings, now_);
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kPermissionDenied, "chmod 600"));
  EXPECT_THAT(c.status().message(), Not(HasSubstr("PRIVATE KEY")));
}

TEST_F(ClientCertificateTest, RefusesAKeyOfAnotherCertificate) {
  ClientFiles files = MakeClientCertificate(now_, absl::Hours(12));
  files.key_pem = MakeClientCertificate(now_, absl::Hours(12)).key_pem;
  absl::StatusOr<ClientCertificate> c = LoadClientCertificate(Settings(files), now_);
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument, "does not belong to"));
}

TEST_F(ClientCertificateTest, MissingAndMalformedFiles) {
  ClientSettings settings;
  settings.client_cert = {dir_.path() + "/none.crt", "--client-cert"};
  settings.client_key = {dir_.path() + "/none.key", "--client-key"};
  EXPECT_THAT(LoadClientCertificate(settings, now_),
              StatusIs(absl::StatusCode::kNotFound, "none.crt"));
  settings.client_cert.value = dir_.WriteFile("junk.crt", "junk", 0644);
  EXPECT_THAT(LoadClientCertificate(settings, now_),
              StatusIs(absl::StatusCode::kInvalidArgument, "holds no PEM certificate"));
}

TEST_F(ClientCertificateTest, StoreWritesPrivateKeyCertificateWithChainAndRecordsThem) {
  ClientFiles files = MakeClientCertificate(now_, absl::Hours(12));
  const std::string config = dir_.WriteFile("conf/config.yaml", "server: \"m:1\"\n");
  absl::StatusOr<StoredClientCertificate> stored =
      StoreClientCertificate(config, {}, files.key_pem, files.cert_pem, files.chain_pem);
  ASSERT_OK(stored);
  EXPECT_EQ(stored->cert_path, dir_.path() + "/conf/client.crt");
  EXPECT_EQ(stored->key_path, dir_.path() + "/conf/client.key");
  EXPECT_EQ(FileMode(stored->key_path), 0600u);
  EXPECT_EQ(ReadAll(stored->key_path), files.key_pem);
  EXPECT_EQ(ReadAll(stored->cert_path), files.cert_pem + files.chain_pem);

  absl::StatusOr<ConfigFile> read = ReadConfigFile(config, {});
  ASSERT_OK(read);
  EXPECT_EQ(read->server, "m:1");
  EXPECT_EQ(read->client_cert, stored->cert_path);
  EXPECT_EQ(read->client_key, stored->key_path);

  // What was stored loads.
  ClientSettings settings;
  settings.client_cert = {read->client_cert, "config file"};
  settings.client_key = {read->client_key, "config file"};
  EXPECT_OK(LoadClientCertificate(settings, now_));
  EXPECT_THAT(ReadCertificateNotAfter(read->client_cert),
              ::mandant::testing::IsOkAndHolds(::testing::Gt(now_)));
}

TEST_F(ClientCertificateTest, StoreCreatesAPrivateConfigFolder) {
  ClientFiles files = MakeClientCertificate(now_, absl::Hours(12));
  const std::string config = dir_.path() + "/new/mandant/config.yaml";
  ASSERT_OK(StoreClientCertificate(config, {}, files.key_pem, files.cert_pem, files.chain_pem));
  EXPECT_EQ(FileMode(dir_.path() + "/new/mandant"), 0700u);
  EXPECT_EQ(FileMode(config), 0600u);
}

}  // namespace
}  // namespace mandant::cli
