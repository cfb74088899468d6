// A real TLS 1.3 handshake between two in-process endpoints holding leaves
// from Mandant's PKI, each trusting only its tenant's intermediate, as a
// tenant's trust bundle makes them do.

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "pki/certificate_authority.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/pki/pki_test_util.h"

namespace mandant::pki {
namespace {

using ::testing::HasSubstr;

struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

struct Endpoint {
  X509* cert;
  EVP_PKEY* key;
  // Sent after the leaf, as IssueCertificateResponse.chain_pem.
  X509* chain;
  // The only CA this endpoint trusts.
  X509* trust;
};

struct Outcome {
  bool ok = false;
  long client_verify = X509_V_OK;
  long server_verify = X509_V_OK;
  std::string error;
};

SslCtxPtr MakeContext(const Endpoint& e, bool server) {
  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), e.cert), 1);
  EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), e.key), 1);
  EXPECT_EQ(SSL_CTX_add1_chain_cert(ctx.get(), e.chain), 1);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  X509_STORE_add_cert(store, e.trust);
  // The trust anchor is an intermediate, not a self-signed root.
  X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_X509_STRICT);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return ctx;
}

// Advances `ssl` by `step`; false on a hard error.
template <typename Step>
bool Pump(SSL* ssl, Step step, bool* done, std::string* error) {
  if (*done) return true;
  const int rc = step(ssl);
  if (rc > 0) {
    *done = true;
    return true;
  }
  const int err = SSL_get_error(ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
  absl::StrAppend(error, SSL_is_server(ssl) ? "server: " : "client: ", buf, "; ");
  ERR_clear_error();
  return false;
}

Outcome Connect(const Endpoint& client_end, const Endpoint& server_end, const char* expected_host) {
  SslCtxPtr client_ctx = MakeContext(client_end, false);
  SslCtxPtr server_ctx = MakeContext(server_end, true);
  SslPtr client(SSL_new(client_ctx.get()));
  SslPtr server(SSL_new(server_ctx.get()));
  if (expected_host != nullptr) SSL_set1_host(client.get(), expected_host);
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());

  Outcome out;
  auto handshake = [](SSL* s) { return SSL_do_handshake(s); };
  bool client_done = false, server_done = false;
  bool alive = true;
  for (int i = 0; i < 50 && alive && !(client_done && server_done); ++i) {
    alive = Pump(client.get(), handshake, &client_done, &out.error) &&
            Pump(server.get(), handshake, &server_done, &out.error);
  }
  // In TLS 1.3 the client finishes before the server has checked the
  // client's certificate, so only application data in both directions
  // proves that both sides accepted each other.
  char buf[8] = {0};
  bool wrote = false, server_read = false, replied = false, client_read = false;
  auto write_ping = [](SSL* s) { return SSL_write(s, "ping", 4); };
  auto read = [&buf](SSL* s) { return SSL_read(s, buf, sizeof(buf)); };
  auto write_pong = [](SSL* s) { return SSL_write(s, "pong", 4); };
  for (int i = 0; i < 50 && alive && !client_read; ++i) {
    alive = Pump(client.get(), write_ping, &wrote, &out.error) &&
            Pump(server.get(), read, &server_read, &out.error) &&
            (!server_read || Pump(server.get(), write_pong, &replied, &out.error)) &&
            (!replied || Pump(client.get(), read, &client_read, &out.error));
  }
  out.ok = alive && client_read && std::string(buf, 4) == "pong";
  out.client_verify = SSL_get_verify_result(client.get());
  out.server_verify = SSL_get_verify_result(server.get());
  return out;
}

class TlsHandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<CertificateAuthority> root = testing::MakeRoot(now_);
    ASSERT_OK(root);
    root_.emplace(*std::move(root));
    absl::StatusOr<CertificateAuthority> acme =
        testing::MakeTenantCa(*root_, "acme", "10.64.3.0/24", now_);
    ASSERT_OK(acme);
    acme_.emplace(*std::move(acme));
    absl::StatusOr<CertificateAuthority> beta =
        testing::MakeTenantCa(*root_, "beta", "10.64.4.0/24", now_);
    ASSERT_OK(beta);
    beta_.emplace(*std::move(beta));

    absl::StatusOr<testing::Leaf> server = testing::IssueTestLeaf(
        *acme_, {{"api.acme.svc.example.net"}, {"spiffe://acme.example.net/api"}, {}}, now_);
    ASSERT_OK(server);
    acme_server_ = *std::move(server);
    absl::StatusOr<testing::Leaf> client =
        testing::IssueTestLeaf(*acme_, {{}, {"spiffe://acme.example.net/worker"}, {}}, now_);
    ASSERT_OK(client);
    acme_client_ = *std::move(client);
    absl::StatusOr<testing::Leaf> intruder = testing::IssueTestLeaf(
        *beta_, {{"api.beta.svc.example.net"}, {"spiffe://beta.example.net/api"}, {}}, now_);
    ASSERT_OK(intruder);
    beta_leaf_ = *std::move(intruder);
  }

  Endpoint AcmeServer() {
    return {acme_server_.cert.get(), acme_server_.key.get(), acme_->certificate(),
            acme_->certificate()};
  }
  Endpoint AcmeClient() {
    return {acme_client_.cert.get(), acme_client_.key.get(), acme_->certificate(),
            acme_->certificate()};
  }
  // A beta service sending its full chain, configured to trust acme so that
  // only the other side's decision is under test.
  Endpoint BetaPeer() {
    return {beta_leaf_.cert.get(), beta_leaf_.key.get(), beta_->certificate(),
            acme_->certificate()};
  }

  const absl::Time now_ = absl::Now();
  std::optional<CertificateAuthority> root_, acme_, beta_;
  testing::Leaf acme_server_, acme_client_, beta_leaf_;
};

TEST_F(TlsHandshakeTest, TwoServicesOfOneTenantAuthenticateEachOther) {
  Outcome out = Connect(AcmeClient(), AcmeServer(), "api.acme.svc.example.net");
  EXPECT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.client_verify, X509_V_OK) << testing::VerifyErrorText(out.client_verify);
  EXPECT_EQ(out.server_verify, X509_V_OK) << testing::VerifyErrorText(out.server_verify);
}

TEST_F(TlsHandshakeTest, ClientRefusesAServerOfAnotherTenant) {
  Outcome out = Connect(AcmeClient(), BetaPeer(), nullptr);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.client_verify, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
      << testing::VerifyErrorText(out.client_verify);
  EXPECT_THAT(out.error, HasSubstr("client: "));
  EXPECT_THAT(out.error, HasSubstr("certificate verify failed"));
}

TEST_F(TlsHandshakeTest, ServerRefusesAClientOfAnotherTenant) {
  Outcome out = Connect(BetaPeer(), AcmeServer(), nullptr);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.server_verify, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
      << testing::VerifyErrorText(out.server_verify);
  EXPECT_THAT(out.error, HasSubstr("server: "));
}

TEST_F(TlsHandshakeTest, ClientRefusesAServerWithAnotherName) {
  Outcome out = Connect(AcmeClient(), AcmeServer(), "db.acme.svc.example.net");
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.client_verify, X509_V_ERR_HOSTNAME_MISMATCH);
}

}  // namespace
}  // namespace mandant::pki
