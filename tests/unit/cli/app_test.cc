#include "cli/app.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

#include "tests/unit/cli/temp_files.h"

namespace mandant::cli {
namespace {

using ::mandant::cli::testing::TempDir;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kGeneratedId[] = "11111111-2222-4333-8444-555555555555";
constexpr char kCaPem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

// An in-memory TenantService: records every call and answers as scripted.
struct FakeTenantService {
  std::vector<std::string> calls;
  v1::CreateTenantRequest create_request;
  std::vector<v1::ListTenantsRequest> list_requests;
  v1::UpdateTenantRequest update_request;
  v1::DeleteTenantRequest delete_request;

  grpc::Status status = grpc::Status::OK;                // Returned by every call.
  v1::Tenant tenant;                                     // Returned by Create, Get, Update.
  std::map<std::string, v1::ListTenantsResponse> pages;  // By page token.
};

class FakeTenantClient : public TenantClient {
 public:
  explicit FakeTenantClient(FakeTenantService* fake) : fake_(fake) {}

  grpc::Status CreateTenant(const v1::CreateTenantRequest& request, v1::Tenant* response) override {
    fake_->calls.push_back("Create");
    fake_->create_request = request;
    *response = fake_->tenant;
    return fake_->status;
  }
  grpc::Status GetTenant(const v1::GetTenantRequest& request, v1::Tenant* response) override {
    fake_->calls.push_back("Get " + request.name());
    *response = fake_->tenant;
    return fake_->status;
  }
  grpc::Status ListTenants(const v1::ListTenantsRequest& request,
                           v1::ListTenantsResponse* response) override {
    fake_->calls.push_back("List");
    fake_->list_requests.push_back(request);
    *response = fake_->pages[request.page_token()];
    return fake_->status;
  }
  grpc::Status UpdateTenant(const v1::UpdateTenantRequest& request, v1::Tenant* response) override {
    fake_->calls.push_back("Update");
    fake_->update_request = request;
    *response = fake_->tenant;
    return fake_->status;
  }
  grpc::Status DeleteTenant(const v1::DeleteTenantRequest& request) override {
    fake_->calls.push_back("Delete");
    fake_->delete_request = request;
    return fake_->status;
  }

 private:
  FakeTenantService* const fake_;
};

v1::Tenant Tenant(const std::string& id, const std::string& etag = "e1") {
  v1::Tenant t;
  t.set_name("tenants/" + id);
  t.set_display_name(id + " Inc");
  t.set_state(v1::TENANT_STATE_ACTIVE);
  t.mutable_network()->set_mode(v1::NETWORK_MODE_VXLAN);
  t.mutable_network()->set_vni(10001);
  t.mutable_network()->set_node_cidr("10.64.3.0/24");
  t.set_etag(etag);
  return t;
}

class MandantctlTest : public ::testing::Test {
 protected:
  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    RunOptions options;
    options.env = env_;
    options.out = &out_;
    options.err = &err_;
    options.new_request_id = [] { return std::string(kGeneratedId); };
    options.new_client =
        [this](const ConnectionOptions& o) -> absl::StatusOr<std::unique_ptr<TenantClient>> {
      ++connects_;
      client_options_ = o;
      return std::make_unique<FakeTenantClient>(&fake_);
    };
    return RunMandantctl(args, options);
  }

  std::string out() const { return out_.str(); }
  std::string err() const { return err_.str(); }

  TempDir dir_;
  // HOME points at an empty folder, so no default config file exists.
  Environment env_ = {{"HOME", dir_.path()}, {"MANDANT_SERVER", "mandant.test:8443"}};
  FakeTenantService fake_;
  int connects_ = 0;
  ConnectionOptions client_options_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(MandantctlTest, HelpGoesToStdout) {
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_THAT(out(), AllOf(HasSubstr("Usage: mandantctl COMMAND"), HasSubstr("tenant create ID"),
                           HasSubstr("config set-context")));
  EXPECT_EQ(Run({"tenant", "create", "--help"}), 0);
  EXPECT_THAT(out(), AllOf(HasSubstr("Usage: mandantctl tenant create ID [flags]"),
                           HasSubstr("--max-clusters N"), HasSubstr("--request-id UUID"),
                           HasSubstr("--token-file PATH")));
  EXPECT_THAT(err(), IsEmpty());
  EXPECT_EQ(connects_, 0);
}

TEST_F(MandantctlTest, NoCommandPrintsUsageAsUsageError) {
  EXPECT_EQ(Run({}), 2);
  EXPECT_THAT(err(), HasSubstr("Usage: mandantctl COMMAND"));
  EXPECT_THAT(out(), IsEmpty());
  EXPECT_EQ(Run({"tenant"}), 2);
  EXPECT_THAT(err(), HasSubstr("'mandantctl tenant' needs a command"));
}

TEST_F(MandantctlTest, UnknownFlagIsAUsageErrorAndNothingIsSent) {
  EXPECT_EQ(Run({"tenant", "get", "acme", "--verbose"}), 2);
  EXPECT_THAT(err(), HasSubstr("error: unknown flag --verbose for 'mandantctl tenant get'"));
  EXPECT_EQ(connects_, 0);
}

TEST_F(MandantctlTest, TokenIsNeverAcceptedAsAFlag) {
  EXPECT_EQ(Run({"tenant", "list", "--token", "hunter2"}), 2);
  EXPECT_THAT(err(), AllOf(HasSubstr("--token is not accepted"), HasSubstr("--token-file")));
  EXPECT_THAT(err(), Not(HasSubstr("hunter2")));
  EXPECT_EQ(connects_, 0);
}

TEST_F(MandantctlTest, BadFlagValueIsAUsageError) {
  EXPECT_EQ(Run({"tenant", "create", "acme", "--max-nodes", "lots"}), 2);
  EXPECT_THAT(err(), HasSubstr("--max-nodes \"lots\" is not a whole number"));
  EXPECT_EQ(connects_, 0);
}

TEST_F(MandantctlTest, MissingServerIsAUsageError) {
  env_.erase("MANDANT_SERVER");
  EXPECT_EQ(Run({"tenant", "get", "acme"}), 2);
  EXPECT_THAT(err(), HasSubstr("no server given: pass --server HOST:PORT"));
  EXPECT_EQ(connects_, 0);
}

TEST_F(MandantctlTest, MissingExplicitConfigFileIsAUsageError) {
  EXPECT_EQ(Run({"--config", dir_.path() + "/nope.yaml", "tenant", "get", "acme"}), 2);
  EXPECT_THAT(err(), HasSubstr("nope.yaml\" (from --config) does not exist"));
  EXPECT_EQ(connects_, 0);
}

TEST_F(MandantctlTest, RefusesAWorldReadableTokenFile) {
  std::string token = dir_.WriteFile("token", "tok-123\n", 0644);
  EXPECT_EQ(Run({"tenant", "get", "acme", "--token-file", token}), 3);
  EXPECT_THAT(err(), AllOf(HasSubstr(token), HasSubstr("chmod 600")));
  EXPECT_THAT(err(), Not(HasSubstr("tok-123")));
  EXPECT_EQ(connects_, 0);
}

TEST_F(MandantctlTest, PassesServerCaTokenAndTimeoutToTheClient) {
  std::string token = dir_.WriteFile("token", "tok-123\n", 0600);
  std::string ca = dir_.WriteFile("ca.pem", kCaPem, 0644);
  fake_.tenant = Tenant("acme");
  EXPECT_EQ(Run({"tenant", "get", "acme", "--server", "other:1", "--ca-file", ca, "--token-file",
                 token, "--timeout", "5s"}),
            0)
      << err();
  EXPECT_EQ(client_options_.server, "other:1");
  EXPECT_EQ(client_options_.ca_pem, kCaPem);
  EXPECT_EQ(client_options_.token, "tok-123");
  EXPECT_EQ(client_options_.timeout, absl::Seconds(5));
  EXPECT_THAT(fake_.calls, ElementsAre("Get tenants/acme"));
  EXPECT_THAT(out(), AllOf(HasSubstr("Name:"), HasSubstr("tenants/acme"), HasSubstr("10001")));
}

TEST_F(MandantctlTest, CaFileWithoutCertificateCannotConnect) {
  std::string ca = dir_.WriteFile("ca.pem", "not a certificate\n");
  EXPECT_EQ(Run({"tenant", "get", "acme", "--ca-file", ca}), 3);
  EXPECT_THAT(err(), HasSubstr("holds no PEM certificate"));
  EXPECT_EQ(connects_, 0);
}

TEST_F(MandantctlTest, CreateSendsTheGeneratedRequestIdAndShowsTheTenant) {
  fake_.tenant = Tenant("acme");
  EXPECT_EQ(Run({"tenant", "create", "acme", "--display-name", "Acme", "--max-clusters=2"}), 0)
      << err();
  EXPECT_EQ(fake_.create_request.request_id(), kGeneratedId);
  EXPECT_EQ(fake_.create_request.tenant_id(), "acme");
  EXPECT_EQ(fake_.create_request.tenant().quota().max_clusters(), 2);
  EXPECT_THAT(out(), HasSubstr("VNI:"));
}

TEST_F(MandantctlTest, FailedCreatePrintsTheRequestIdForARetry) {
  fake_.status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
  EXPECT_EQ(Run({"tenant", "create", "acme"}), 1);
  EXPECT_THAT(err(), AllOf(HasSubstr("error: DEADLINE_EXCEEDED: Deadline Exceeded"),
                           HasSubstr(std::string("--request-id ") + kGeneratedId)));

  // The retry the user is told to run sends the same id.
  fake_.status = grpc::Status::OK;
  EXPECT_EQ(Run({"tenant", "create", "acme", "--request-id", kGeneratedId}), 0);
  EXPECT_EQ(fake_.create_request.request_id(), kGeneratedId);
}

TEST_F(MandantctlTest, InvalidArgumentShowsEachFieldViolation) {
  google::rpc::BadRequest bad;
  auto* v = bad.add_field_violations();
  v->set_field("tenant_id");
  v->set_description("must start with a letter");
  google::rpc::Status details;
  details.add_details()->PackFrom(bad);
  fake_.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "invalid tenant",
                              details.SerializeAsString());
  EXPECT_EQ(Run({"tenant", "create", "9lives"}), 1);
  EXPECT_THAT(err(), HasSubstr("error: INVALID_ARGUMENT: invalid tenant\n"
                               "  - tenant_id: must start with a letter\n"));
}

TEST_F(MandantctlTest, UnauthenticatedExitsThreeWithAHint) {
  env_["MANDANT_TOKEN"] = "expired-token";
  fake_.status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "token expired");
  EXPECT_EQ(Run({"tenant", "list"}), 3);
  EXPECT_THAT(err(), AllOf(HasSubstr("error: UNAUTHENTICATED: token expired"),
                           HasSubstr("hint: the server did not accept the bearer token from "
                                     "MANDANT_TOKEN")));
  EXPECT_THAT(err(), Not(HasSubstr("expired-token")));
  EXPECT_EQ(client_options_.token, "expired-token");
}

TEST_F(MandantctlTest, UpdateWithoutEtagReadsTheTenantFirst) {
  fake_.tenant = Tenant("acme", "etag-from-get");
  EXPECT_EQ(Run({"tenant", "update", "acme", "--state", "suspended"}), 0) << err();
  EXPECT_THAT(fake_.calls, ElementsAre("Get tenants/acme", "Update"));
  EXPECT_EQ(fake_.update_request.tenant().etag(), "etag-from-get");
  EXPECT_THAT(fake_.update_request.update_mask().paths(), ElementsAre("state"));
}

TEST_F(MandantctlTest, UpdateWithEtagSendsItWithoutReading) {
  fake_.tenant = Tenant("acme");
  EXPECT_EQ(Run({"tenant", "update", "acme", "--max-nodes", "9", "--etag", "mine"}), 0) << err();
  EXPECT_THAT(fake_.calls, ElementsAre("Update"));
  EXPECT_EQ(fake_.update_request.tenant().etag(), "mine");
}

TEST_F(MandantctlTest, ConflictingUpdateExplainsTheEtag) {
  fake_.status = grpc::Status(grpc::StatusCode::ABORTED, "etag mismatch");
  EXPECT_EQ(Run({"tenant", "update", "acme", "--display-name", "X", "--etag", "old"}), 1);
  EXPECT_THAT(err(), AllOf(HasSubstr("error: ABORTED: etag mismatch"),
                           HasSubstr("'mandantctl tenant get acme'")));
}

TEST_F(MandantctlTest, ListAllFollowsPageTokens) {
  *fake_.pages[""].add_tenants() = Tenant("acme");
  fake_.pages[""].set_next_page_token("p2");
  *fake_.pages["p2"].add_tenants() = Tenant("beta");
  EXPECT_EQ(Run({"tenant", "list", "--all", "--page-size", "1"}), 0) << err();
  ASSERT_EQ(fake_.list_requests.size(), 2u);
  EXPECT_EQ(fake_.list_requests[1].page_token(), "p2");
  EXPECT_EQ(fake_.list_requests[1].page_size(), 1);
  EXPECT_THAT(out(), AllOf(HasSubstr("NAME"), HasSubstr("acme"), HasSubstr("beta")));
  EXPECT_THAT(err(), IsEmpty());
}

TEST_F(MandantctlTest, ListWithoutAllShowsOnePageAndTheNextToken) {
  *fake_.pages[""].add_tenants() = Tenant("acme");
  fake_.pages[""].set_next_page_token("p2");
  EXPECT_EQ(Run({"tenant", "list"}), 0);
  EXPECT_EQ(fake_.list_requests.size(), 1u);
  EXPECT_THAT(out(), HasSubstr("acme"));
  EXPECT_THAT(err(), HasSubstr("--page-token p2"));
}

TEST_F(MandantctlTest, ListAllStopsOnARepeatedToken) {
  *fake_.pages[""].add_tenants() = Tenant("acme");
  fake_.pages[""].set_next_page_token("loop");
  fake_.pages["loop"].set_next_page_token("loop");
  EXPECT_EQ(Run({"tenant", "list", "--all"}), 1);
  EXPECT_THAT(err(), HasSubstr("returned the page token \"loop\" twice"));
}

TEST_F(MandantctlTest, ListAsJsonAndYaml) {
  *fake_.pages[""].add_tenants() = Tenant("acme");
  EXPECT_EQ(Run({"tenant", "list", "-o", "json"}), 0);
  EXPECT_THAT(out(), AllOf(HasSubstr("\"tenants\": ["), HasSubstr("\"name\": \"tenants/acme\"")));
  EXPECT_EQ(Run({"tenant", "list", "--output=yaml"}), 0);
  EXPECT_THAT(out(), AllOf(HasSubstr("tenants:\n"), HasSubstr("  - name: tenants/acme\n")));
}

TEST_F(MandantctlTest, DeleteSendsEtagAndConfirms) {
  EXPECT_EQ(Run({"tenant", "delete", "tenants/acme", "--etag", "e9"}), 0) << err();
  EXPECT_EQ(fake_.delete_request.name(), "tenants/acme");
  EXPECT_EQ(fake_.delete_request.etag(), "e9");
  EXPECT_EQ(out(), "tenant \"acme\" deleted\n");
}

TEST_F(MandantctlTest, SetContextWritesTheConfigThatLaterCommandsUse) {
  env_.erase("MANDANT_SERVER");
  std::string token = dir_.WriteFile("token", "tok-abc\n", 0600);
  EXPECT_EQ(Run({"config", "set-context", "--server", "from-config:443", "--token-file", token}), 0)
      << err();
  std::string config = dir_.path() + "/.config/mandant/config.yaml";
  EXPECT_EQ(out(), "wrote " + config + "\n");
  EXPECT_EQ(testing::FileMode(config), 0600u);

  fake_.tenant = Tenant("acme");
  EXPECT_EQ(Run({"tenant", "get", "acme"}), 0) << err();
  EXPECT_EQ(client_options_.server, "from-config:443");
  EXPECT_EQ(client_options_.token, "tok-abc");

  // The environment overrides the file, and a flag overrides both.
  env_["MANDANT_SERVER"] = "from-env:443";
  EXPECT_EQ(Run({"tenant", "get", "acme"}), 0) << err();
  EXPECT_EQ(client_options_.server, "from-env:443");
  EXPECT_EQ(Run({"tenant", "get", "acme", "--server=from-flag:443"}), 0) << err();
  EXPECT_EQ(client_options_.server, "from-flag:443");

  // A second set-context keeps what it is not told to change.
  EXPECT_EQ(Run({"config", "set-context", "-o", "yaml"}), 0) << err();
  EXPECT_THAT(testing::ReadAll(config),
              AllOf(HasSubstr("from-config:443"), HasSubstr(token), HasSubstr("yaml")));
}

TEST_F(MandantctlTest, SetContextRefusesAReadableTokenFile) {
  std::string token = dir_.WriteFile("token", "tok-abc\n", 0640);
  EXPECT_EQ(Run({"config", "set-context", "--token-file", token}), 2);
  EXPECT_THAT(err(), HasSubstr("chmod 600"));
}

TEST_F(MandantctlTest, SetContextStoresAClientCertificatePair) {
  env_.erase("MANDANT_SERVER");
  std::string cert = dir_.WriteFile("c.crt", kCaPem, 0644);
  std::string key = dir_.WriteFile("c.key", "key", 0600);
  EXPECT_EQ(Run({"config", "set-context", "--client-cert", cert, "--client-key", key}), 0) << err();
  std::string config = dir_.path() + "/.config/mandant/config.yaml";
  EXPECT_THAT(testing::ReadAll(config),
              AllOf(HasSubstr("client_cert: \"" + cert), HasSubstr("client_key: \"" + key)));

  // Both go together, a readable key is refused, and "" removes both.
  EXPECT_EQ(Run({"config", "set-context", "--client-cert", cert}), 2);
  EXPECT_THAT(err(), HasSubstr("--client-cert and --client-key go together"));
  std::string open_key = dir_.WriteFile("open.key", "key", 0644);
  EXPECT_EQ(Run({"config", "set-context", "--client-cert", cert, "--client-key", open_key}), 2);
  EXPECT_THAT(err(), HasSubstr("chmod 600"));
  EXPECT_EQ(Run({"config", "set-context", "--client-cert", "", "--client-key", ""}), 0) << err();
  EXPECT_THAT(testing::ReadAll(config), Not(HasSubstr("client_")));
}

TEST_F(MandantctlTest, ConfigViewShowsTheClientCertificateAndThatTheTokenIsNotSent) {
  env_["MANDANT_TOKEN"] = "very-secret";
  env_["MANDANT_CLIENT_CERT"] = dir_.WriteFile("c.crt", "not a certificate", 0644);
  env_["MANDANT_CLIENT_KEY"] = dir_.WriteFile("c.key", "key", 0600);
  EXPECT_EQ(Run({"config", "view"}), 0) << err();
  EXPECT_THAT(out(), AllOf(HasSubstr("client cert:  " + env_["MANDANT_CLIENT_CERT"] +
                                     " (from MANDANT_CLIENT_CERT); cannot be read"),
                           HasSubstr("client key:   " + env_["MANDANT_CLIENT_KEY"] +
                                     " (from MANDANT_CLIENT_KEY)"),
                           HasSubstr("token:        MANDANT_TOKEN (not sent: calls use the "
                                     "client certificate")));
  EXPECT_THAT(out(), Not(HasSubstr("very-secret")));

  env_.erase("MANDANT_CLIENT_KEY");
  EXPECT_EQ(Run({"config", "view"}), 2);
  EXPECT_THAT(err(), HasSubstr("MANDANT_CLIENT_CERT and MANDANT_CLIENT_KEY go together"));
}

TEST_F(MandantctlTest, AnUnreadableClientCertificateStopsTenantCommandsToo) {
  env_["MANDANT_TOKEN"] = "tok";
  env_["MANDANT_CLIENT_CERT"] = dir_.path() + "/missing.crt";
  env_["MANDANT_CLIENT_KEY"] = dir_.path() + "/missing.key";
  EXPECT_EQ(Run({"tenant", "get", "acme"}), 3);
  EXPECT_THAT(err(), AllOf(HasSubstr("client certificate (from MANDANT_CLIENT_CERT)"),
                           HasSubstr("missing.crt")));
  EXPECT_EQ(connects_, 0);
}

TEST_F(MandantctlTest, ConfigViewShowsSourcesButNeverTheToken) {
  env_["MANDANT_TOKEN"] = "very-secret";
  EXPECT_EQ(Run({"config", "view", "-o", "json"}), 0);
  EXPECT_THAT(out(), AllOf(HasSubstr("server:       mandant.test:8443 (from MANDANT_SERVER)"),
                           HasSubstr("token:        MANDANT_TOKEN"),
                           HasSubstr("output:       json (from --output)")));
  EXPECT_THAT(out(), Not(HasSubstr("very-secret")));
}

}  // namespace
}  // namespace mandant::cli
