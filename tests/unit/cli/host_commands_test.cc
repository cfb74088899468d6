// mandantctl host ... against an in-memory HostService: what is sent, what is
// printed, and where the bootstrap token goes (and where it never goes).

#include "cli/host_commands.h"

#include <sys/stat.h>

#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

#include "cli/app.h"
#include "tests/unit/cli/temp_files.h"

namespace mandant::cli {
namespace {

using ::mandant::cli::testing::FileMode;
using ::mandant::cli::testing::ReadAll;
using ::mandant::cli::testing::TempDir;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kGeneratedId[] = "11111111-2222-4333-8444-555555555555";
constexpr char kToken[] = "mandant-bootstrap-Zm9vYmFyYmF6cXV4c2VjcmV0";
// 2024-05-01T10:00:00Z
constexpr int64_t kNowSeconds = 1714557600;

// An in-memory HostService: records every call and answers as scripted.
struct FakeHostService {
  std::vector<std::string> calls;
  v1::CreateHostRequest create_request;
  v1::IssueBootstrapTokenRequest token_request;
  v1::CordonHostRequest cordon_request;
  v1::UncordonHostRequest uncordon_request;
  v1::DeleteHostRequest delete_request;
  std::vector<v1::ListHostsRequest> list_requests;

  grpc::Status status = grpc::Status::OK;              // Returned by every call.
  v1::Host host;                                       // Returned by every call with a Host.
  v1::BootstrapToken token;                            // Returned by Create and Issue.
  std::map<std::string, v1::ListHostsResponse> pages;  // By page token.
  std::function<void()> during_create;                 // Run inside CreateHost.
};

class FakeHostClient : public HostClient {
 public:
  explicit FakeHostClient(FakeHostService* fake) : fake_(fake) {}

  grpc::Status CreateHost(const v1::CreateHostRequest& request,
                          v1::CreateHostResponse* response) override {
    fake_->calls.push_back("Create");
    fake_->create_request = request;
    if (fake_->during_create) fake_->during_create();
    *response->mutable_host() = fake_->host;
    *response->mutable_bootstrap_token() = fake_->token;
    return fake_->status;
  }
  grpc::Status GetHost(const v1::GetHostRequest& request, v1::Host* response) override {
    fake_->calls.push_back("Get " + request.name());
    *response = fake_->host;
    return fake_->status;
  }
  grpc::Status ListHosts(const v1::ListHostsRequest& request,
                         v1::ListHostsResponse* response) override {
    fake_->calls.push_back("List");
    fake_->list_requests.push_back(request);
    *response = fake_->pages[request.page_token()];
    return fake_->status;
  }
  grpc::Status IssueBootstrapToken(const v1::IssueBootstrapTokenRequest& request,
                                   v1::IssueBootstrapTokenResponse* response) override {
    fake_->calls.push_back("IssueBootstrapToken");
    fake_->token_request = request;
    *response->mutable_bootstrap_token() = fake_->token;
    return fake_->status;
  }
  grpc::Status CordonHost(const v1::CordonHostRequest& request, v1::Host* response) override {
    fake_->calls.push_back("Cordon");
    fake_->cordon_request = request;
    *response = fake_->host;
    return fake_->status;
  }
  grpc::Status UncordonHost(const v1::UncordonHostRequest& request, v1::Host* response) override {
    fake_->calls.push_back("Uncordon");
    fake_->uncordon_request = request;
    *response = fake_->host;
    return fake_->status;
  }
  grpc::Status DeleteHost(const v1::DeleteHostRequest& request) override {
    fake_->calls.push_back("Delete");
    fake_->delete_request = request;
    return fake_->status;
  }

 private:
  FakeHostService* const fake_;
};

v1::Host Host(const std::string& id, const std::string& underlay) {
  v1::Host h;
  h.set_name("hosts/" + id);
  h.set_underlay_address(underlay);
  h.set_etag("e1");
  return h;
}

grpc::Status FailedPrecondition(const std::vector<std::string>& machines) {
  google::rpc::PreconditionFailure failure;
  for (const std::string& m : machines) {
    auto* v = failure.add_violations();
    v->set_type("MACHINE_PLACED");
    v->set_subject(m);
    v->set_description("machine is placed on the host");
  }
  google::rpc::Status details;
  details.add_details()->PackFrom(failure);
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      "host \"hv1\" still has 2 machine(s) placed on it",
                      details.SerializeAsString());
}

class HostCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.host = Host("hv1", "10.0.0.1");
    fake_.token.set_token(kToken);
    fake_.token.mutable_expire_time()->set_seconds(kNowSeconds + 24 * 3600);
  }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    RunOptions options;
    options.env = env_;
    options.out = &out_;
    options.err = &err_;
    options.new_request_id = [] { return std::string(kGeneratedId); };
    options.now = [] { return absl::FromUnixSeconds(kNowSeconds); };
    options.new_host_client =
        [this](const ConnectionOptions&) -> absl::StatusOr<std::unique_ptr<HostClient>> {
      ++connects_;
      return std::make_unique<FakeHostClient>(&fake_);
    };
    return RunMandantctl(args, options);
  }

  std::string out() const { return out_.str(); }
  std::string err() const { return err_.str(); }

  TempDir dir_;
  Environment env_ = {{"HOME", dir_.path()},
                      {"MANDANT_SERVER", "mandant.test:8443"},
                      {"MANDANT_TOKEN", "operator-credential"}};
  FakeHostService fake_;
  int connects_ = 0;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(HostCommandsTest, HelpListsTheHostCommands) {
  EXPECT_EQ(Run({"host", "--help"}), 0);
  EXPECT_THAT(out(), AllOf(HasSubstr("host create ID"), HasSubstr("host token ID"),
                           HasSubstr("host cordon ID"), HasSubstr("host delete ID")));
  EXPECT_EQ(Run({"host", "create", "--help"}), 0);
  EXPECT_THAT(out(), AllOf(HasSubstr("--underlay-address ADDR"), HasSubstr("--out-token FILE"),
                           HasSubstr("--token-ttl DURATION"), HasSubstr("mode 0600")));
  EXPECT_EQ(connects_, 0);
}

TEST_F(HostCommandsTest, CreateWithOutTokenWritesAPrivateFileAndNeverPrintsTheToken) {
  const std::string path = dir_.path() + "/hv1.token";
  EXPECT_EQ(Run({"host", "create", "hv1", "--underlay-address", "10.0.0.1", "--token-ttl", "2h",
                 "--out-token", path}),
            0)
      << err();
  EXPECT_EQ(fake_.create_request.host_id(), "hv1");
  EXPECT_EQ(fake_.create_request.host().underlay_address(), "10.0.0.1");
  EXPECT_EQ(fake_.create_request.bootstrap_token_ttl().seconds(), 7200);
  EXPECT_EQ(fake_.create_request.request_id(), kGeneratedId);

  EXPECT_EQ(ReadAll(path), std::string(kToken) + "\n");
  EXPECT_EQ(FileMode(path), 0600u);
  EXPECT_THAT(out(), AllOf(HasSubstr("Name:"), HasSubstr("hosts/hv1"),
                           HasSubstr("Bootstrap token: written to " + path + " (mode 0600)"),
                           HasSubstr("Token expires:   2024-05-02T10:00:00Z (in 24h)")));
  EXPECT_THAT(err(), HasSubstr("wrote the bootstrap token of hosts/hv1 to " + path));
  EXPECT_THAT(out(), Not(HasSubstr(kToken)));
  EXPECT_THAT(err(), Not(HasSubstr(kToken)));
}

TEST_F(HostCommandsTest, CreateWithOutTokenLeavesTheTokenOutOfJsonAndYaml) {
  for (const char* format : {"json", "yaml"}) {
    const std::string path = dir_.path() + "/hv1." + format;
    EXPECT_EQ(Run({"host", "create", "hv1", "--underlay-address", "10.0.0.1", "--out-token", path,
                   "-o", format}),
              0)
        << err();
    EXPECT_EQ(ReadAll(path), std::string(kToken) + "\n");
    EXPECT_THAT(out(), AllOf(HasSubstr("hosts/hv1"), HasSubstr("expire_time")));
    EXPECT_THAT(out(), Not(HasSubstr(kToken)));
    EXPECT_THAT(err(), Not(HasSubstr(kToken)));
  }
}

TEST_F(HostCommandsTest, CreateWithoutOutTokenPrintsItOnceOnStdoutOnly) {
  EXPECT_EQ(Run({"host", "create", "hosts/hv1", "--underlay-address", "10.0.0.1"}), 0) << err();
  EXPECT_THAT(out(), HasSubstr(std::string("\nBootstrap token: ") + kToken + "\n"));
  EXPECT_EQ(out().find(kToken), out().rfind(kToken)) << "printed more than once:\n" << out();
  EXPECT_THAT(err(), AllOf(HasSubstr("shown only this once"), HasSubstr("--token_file")));
  EXPECT_THAT(err(), Not(HasSubstr(kToken)));
  EXPECT_FALSE(fake_.create_request.has_bootstrap_token_ttl());

  EXPECT_EQ(Run({"host", "create", "hv1", "--underlay-address", "10.0.0.1", "-o", "json"}), 0);
  EXPECT_THAT(out(), AllOf(HasSubstr(std::string("\"token\": \"") + kToken + "\""),
                           HasSubstr("\"underlay_address\": \"10.0.0.1\"")));
  EXPECT_THAT(err(), Not(HasSubstr(kToken)));
}

TEST_F(HostCommandsTest, AnExistingTokenFileIsKeptUnlessForced) {
  const std::string path = dir_.WriteFile("hv1.token", "old\n", 0644);
  EXPECT_EQ(Run({"host", "create", "hv1", "--underlay-address", "10.0.0.1", "--out-token", path}),
            2);
  EXPECT_THAT(err(), AllOf(HasSubstr(path), HasSubstr("--force")));
  EXPECT_EQ(connects_, 0);
  EXPECT_THAT(fake_.calls, IsEmpty());
  EXPECT_EQ(ReadAll(path), "old\n");

  EXPECT_EQ(Run({"host", "create", "hv1", "--underlay-address", "10.0.0.1", "--out-token", path,
                 "--force"}),
            0)
      << err();
  EXPECT_EQ(ReadAll(path), std::string(kToken) + "\n");
  // A replaced file is private too, whatever the old one was.
  EXPECT_EQ(FileMode(path), 0600u);
}

TEST_F(HostCommandsTest, ATokenFileInAMissingFolderIsRefusedBeforeTheCall) {
  EXPECT_EQ(Run({"host", "token", "hv1", "--out-token", dir_.path() + "/no/such/dir/t"}), 2);
  EXPECT_THAT(fake_.calls, IsEmpty());
}

TEST_F(HostCommandsTest, UsageErrorsSendNothing) {
  EXPECT_EQ(Run({"host", "create", "hv1"}), 2);
  EXPECT_THAT(err(), HasSubstr("needs --underlay-address"));
  EXPECT_EQ(Run({"host", "create", "hv1", "--underlay-address", "10.0.0.1", "--force"}), 2);
  EXPECT_THAT(err(), HasSubstr("without --out-token"));
  EXPECT_EQ(Run({"host", "token", "hv1", "--token-ttl", "forever"}), 2);
  EXPECT_THAT(err(), HasSubstr("--token-ttl \"forever\""));
  EXPECT_EQ(Run({"host", "cordon"}), 2);
  EXPECT_EQ(connects_, 0);
}

TEST_F(HostCommandsTest, FailedCreatePrintsTheRequestIdAndWritesNoFile) {
  const std::string path = dir_.path() + "/hv1.token";
  fake_.status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
  EXPECT_EQ(Run({"host", "create", "hv1", "--underlay-address", "10.0.0.1", "--out-token", path}),
            1);
  EXPECT_THAT(err(), AllOf(HasSubstr("error: DEADLINE_EXCEEDED"),
                           HasSubstr(std::string("--request-id ") + kGeneratedId)));
  EXPECT_EQ(FileMode(path), 0u) << "no file expected";

  // The retry the user is told to run sends the same id (and gets the same
  // token from the server).
  fake_.status = grpc::Status::OK;
  EXPECT_EQ(Run({"host", "create", "hv1", "--underlay-address", "10.0.0.1", "--out-token", path,
                 "--request-id", kGeneratedId}),
            0)
      << err();
  EXPECT_EQ(fake_.create_request.request_id(), kGeneratedId);
  EXPECT_EQ(ReadAll(path), std::string(kToken) + "\n");
}

TEST_F(HostCommandsTest, ATokenThatCannotBeSavedIsNotPrintedEither) {
  // Someone else creates the file while the call is in flight.
  const std::string path = dir_.path() + "/hv1.token";
  fake_.during_create = [&] { dir_.WriteFile("hv1.token", "theirs\n", 0644); };
  EXPECT_EQ(Run({"host", "create", "hv1", "--underlay-address", "10.0.0.1", "--out-token", path}),
            1);
  EXPECT_THAT(err(), AllOf(HasSubstr("bootstrap token of hosts/hv1 was issued but cannot be saved"),
                           HasSubstr(std::string("--request-id ") + kGeneratedId)));
  EXPECT_EQ(ReadAll(path), "theirs\n");
  EXPECT_THAT(out() + err(), Not(HasSubstr(kToken)));
}

TEST_F(HostCommandsTest, ARefusedCreateNeedsNoRetryHint) {
  fake_.status = grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "host \"hv1\" already exists");
  EXPECT_EQ(Run({"host", "create", "hv1", "--underlay-address", "10.0.0.1"}), 1);
  EXPECT_THAT(err(), HasSubstr("error: ALREADY_EXISTS"));
  EXPECT_THAT(err(), Not(HasSubstr("request id")));
}

TEST_F(HostCommandsTest, GlobalTokenFileIsTheCredentialAndAMissingOneHintsAtOutToken) {
  const std::string path = dir_.path() + "/bootstrap.token";
  EXPECT_EQ(Run({"host", "create", "hv1", "--underlay-address", "10.0.0.1", "--token-file", path}),
            3);
  EXPECT_THAT(err(), HasSubstr("use --out-token " + path));
  EXPECT_EQ(connects_, 0);
}

TEST_F(HostCommandsTest, ABootstrapTokenIsNeverSentAsTheCredential) {
  // What happens when --token-file names the file an earlier create wrote.
  const std::string path = dir_.WriteFile("hv1.token", std::string(kToken) + "\n", 0600);
  EXPECT_EQ(Run({"host", "token", "hv1", "--token-file", path}), 3);
  EXPECT_THAT(err(), AllOf(HasSubstr("token file " + path +
                                     " (from --token-file) holds a host bootstrap token"),
                           HasSubstr("--out-token FILE")));
  EXPECT_THAT(err(), Not(HasSubstr(kToken)));
  EXPECT_EQ(connects_, 0);
}

TEST_F(HostCommandsTest, TokenReplacesTheOldOneAndWritesTheNewOne) {
  const std::string path = dir_.path() + "/hv1.token";
  EXPECT_EQ(
      Run({"host", "token", "hv1", "--token-ttl", "30m", "--etag", "e1", "--out-token", path}), 0)
      << err();
  EXPECT_THAT(fake_.calls, ElementsAre("IssueBootstrapToken"));
  EXPECT_EQ(fake_.token_request.name(), "hosts/hv1");
  EXPECT_EQ(fake_.token_request.bootstrap_token_ttl().seconds(), 1800);
  EXPECT_EQ(fake_.token_request.etag(), "e1");
  EXPECT_EQ(fake_.token_request.request_id(), kGeneratedId);
  EXPECT_EQ(ReadAll(path), std::string(kToken) + "\n");
  EXPECT_EQ(FileMode(path), 0600u);
  EXPECT_THAT(out(),
              AllOf(HasSubstr("Host:            hosts/hv1\n"), HasSubstr("written to " + path)));
  EXPECT_THAT(err(), HasSubstr("previous bootstrap token of hosts/hv1 no longer works"));
  EXPECT_THAT(out() + err(), Not(HasSubstr(kToken)));
}

TEST_F(HostCommandsTest, TokenWithoutOutTokenIsPrintedOnStdout) {
  EXPECT_EQ(Run({"host", "token", "hv1"}), 0) << err();
  EXPECT_THAT(out(), HasSubstr(std::string("Bootstrap token: ") + kToken + "\n"));
  EXPECT_THAT(err(), Not(HasSubstr(kToken)));
  EXPECT_EQ(Run({"host", "token", "hv1", "-o", "yaml"}), 0) << err();
  EXPECT_THAT(out(), HasSubstr(std::string("token: ") + kToken));
}

TEST_F(HostCommandsTest, TokenConflictExplainsTheEtag) {
  fake_.status = grpc::Status(grpc::StatusCode::ABORTED, "host \"hv1\" was changed concurrently");
  EXPECT_EQ(Run({"host", "token", "hv1", "--etag", "old"}), 1);
  EXPECT_THAT(err(), AllOf(HasSubstr("error: ABORTED"), HasSubstr("'mandantctl host get hv1'")));
}

TEST_F(HostCommandsTest, GetShowsTheHost) {
  EXPECT_EQ(Run({"host", "get", "hv1"}), 0) << err();
  EXPECT_THAT(fake_.calls, ElementsAre("Get hosts/hv1"));
  EXPECT_THAT(out(), AllOf(HasSubstr("Name:"), HasSubstr("hosts/hv1"), HasSubstr("10.0.0.1")));
  EXPECT_EQ(Run({"host", "get", "hv1", "-o", "json"}), 0) << err();
  EXPECT_THAT(out(), HasSubstr("\"name\": \"hosts/hv1\""));
}

TEST_F(HostCommandsTest, ListAllFollowsPageTokensAndPrintsATable) {
  *fake_.pages[""].add_hosts() = Host("hv1", "10.0.0.1");
  fake_.pages[""].set_next_page_token("p2");
  *fake_.pages["p2"].add_hosts() = Host("hv2", "10.0.0.2");
  EXPECT_EQ(Run({"host", "list", "--all", "--page-size", "1"}), 0) << err();
  ASSERT_EQ(fake_.list_requests.size(), 2u);
  EXPECT_EQ(fake_.list_requests[1].page_token(), "p2");
  EXPECT_EQ(fake_.list_requests[1].page_size(), 1);
  EXPECT_THAT(out(), AllOf(HasSubstr("NAME"), HasSubstr("UNDERLAY"), HasSubstr("LAST SEEN"),
                           HasSubstr("hv1"), HasSubstr("hv2")));
  EXPECT_THAT(err(), IsEmpty());
}

TEST_F(HostCommandsTest, ListOnePageHintsAtTheNextAndEmptySaysSo) {
  *fake_.pages[""].add_hosts() = Host("hv1", "10.0.0.1");
  fake_.pages[""].set_next_page_token("p2");
  EXPECT_EQ(Run({"host", "list"}), 0);
  EXPECT_EQ(fake_.list_requests.size(), 1u);
  EXPECT_THAT(err(), HasSubstr("More hosts: run again with --page-token p2, or with --all"));

  fake_.pages.clear();
  EXPECT_EQ(Run({"host", "list"}), 0);
  EXPECT_EQ(out(), "");
  EXPECT_EQ(err(), "No hosts found.\n");
  EXPECT_EQ(Run({"host", "list", "-o", "json"}), 0);
  EXPECT_THAT(out(), HasSubstr("\"hosts\": []"));
}

TEST_F(HostCommandsTest, CordonSendsTheReasonAndConfirms) {
  fake_.host.set_cordoned(true);
  fake_.host.set_cordon_reason("disk replacement");
  fake_.host.add_allocations();
  fake_.host.add_allocations();
  EXPECT_EQ(Run({"host", "cordon", "hv1", "--reason", "disk replacement"}), 0) << err();
  EXPECT_EQ(fake_.cordon_request.name(), "hosts/hv1");
  EXPECT_EQ(fake_.cordon_request.reason(), "disk replacement");
  EXPECT_EQ(fake_.cordon_request.request_id(), kGeneratedId);
  EXPECT_EQ(out(),
            "host \"hv1\" cordoned (disk replacement): no new VMs are placed on it; its 2 VMs "
            "keep running\n");

  EXPECT_EQ(Run({"host", "cordon", "hv1", "-o", "json"}), 0) << err();
  EXPECT_THAT(out(), HasSubstr("\"cordoned\": true"));
}

TEST_F(HostCommandsTest, UncordonSendsEtagAndConfirms) {
  EXPECT_EQ(Run({"host", "uncordon", "hv1", "--etag", "e7"}), 0) << err();
  EXPECT_EQ(fake_.uncordon_request.name(), "hosts/hv1");
  EXPECT_EQ(fake_.uncordon_request.etag(), "e7");
  EXPECT_EQ(fake_.uncordon_request.request_id(), kGeneratedId);
  EXPECT_EQ(out(), "host \"hv1\" uncordoned: new VMs may be placed on it again\n");
}

TEST_F(HostCommandsTest, DeleteConfirms) {
  EXPECT_EQ(Run({"host", "delete", "hosts/hv1", "--etag", "e9"}), 0) << err();
  EXPECT_EQ(fake_.delete_request.name(), "hosts/hv1");
  EXPECT_EQ(fake_.delete_request.etag(), "e9");
  EXPECT_EQ(fake_.delete_request.request_id(), kGeneratedId);
  EXPECT_EQ(out(), "host \"hv1\" deleted\n");
}

TEST_F(HostCommandsTest, DeleteOfAHostWithVmsListsOneMachinePerLine) {
  fake_.status = FailedPrecondition(
      {"tenants/acme/clusters/prod/machines/cp-1", "tenants/beta/clusters/dev/machines/w-1"});
  EXPECT_EQ(Run({"host", "delete", "hv1"}), 1);
  EXPECT_THAT(err(),
              AllOf(HasSubstr("error: FAILED_PRECONDITION: host \"hv1\" still has 2 machine(s)"),
                    HasSubstr("\n  - MACHINE_PLACED tenants/acme/clusters/prod/machines/cp-1: "
                              "machine is placed on the host\n"),
                    HasSubstr("\n  - MACHINE_PLACED tenants/beta/clusters/dev/machines/w-1: "
                              "machine is placed on the host\n"),
                    HasSubstr("hint: cordon the host ('mandantctl host cordon hv1')")));
  EXPECT_THAT(err(), Not(HasSubstr("request id")));
  EXPECT_EQ(out(), "");
}

}  // namespace
}  // namespace mandant::cli
