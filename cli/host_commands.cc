#include "cli/host_commands.h"

#include <sys/stat.h>

#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "cli/host_requests.h"
#include "cli/output.h"
#include "cli/paged_list.h"
#include "cli/rpc_error.h"
#include "cli/staged_file.h"

namespace mandant::cli {
namespace {

// --- Command line ----------------------------------------------------------

const FlagSpec kRequestIdFlag{"request-id", '\0', "UUID",
                              "idempotency key; reuse the one a failed call printed"};
const FlagSpec kEtagFlag{"etag", '\0', "ETAG",
                         "apply only if the host still has this etag (from 'host get -o json')"};
const FlagSpec kTokenTtlFlag{"token-ttl", '\0', "DURATION",
                             "how long the bootstrap token may be used, 10m to 7d (default 24h)"};
const FlagSpec kOutTokenFlag{"out-token", '\0', "FILE",
                             "write the bootstrap token to this file (mode 0600) instead of "
                             "printing it; an existing file is not replaced without --force"};
const FlagSpec kForceFlag{"force", '\0', "", "replace an existing --out-token file"};

constexpr char kTokenDescription[] =
    "The bootstrap token is a secret that lets one agent enroll as the host, once. Without\n"
    "--out-token it is printed once on stdout (the token field with -o json/yaml); with\n"
    "--out-token FILE it is written to FILE with mode 0600 and not printed. Give the file to\n"
    "mandant-agent --token_file on the host. (--token-file is the global flag naming your own\n"
    "bearer token.)";

std::vector<CommandSpec> BuildSpecs() {
  std::vector<CommandSpec> specs;
  specs.push_back(
      {{"host", "create"},
       {"ID"},
       "Register a hypervisor host and get the bootstrap token for its agent",
       absl::StrCat(
           "ID is a DNS label of 1-40 characters (a-z, 0-9, '-'). Every create carries a request\n"
           "id; running the same command again with --request-id UUID returns the first result,\n"
           "the same token included, instead of failing with ALREADY_EXISTS.\n\n",
           kTokenDescription),
       {{"underlay-address", '\0', "ADDR",
         "IPv4 or IPv6 address other hosts reach this one on for VXLAN; required"},
        kTokenTtlFlag,
        kOutTokenFlag,
        kForceFlag,
        kRequestIdFlag}});
  specs.push_back({{"host", "get"}, {"ID"}, "Show one host in detail", "", {}});
  specs.push_back(
      {{"host", "list"},
       {},
       "List hosts",
       "Without --all, one page is shown; the token for the next page is printed to stderr.",
       {{"page-size", '\0', "N", "hosts per page, 1-1000 (server default 50)"},
        {"page-token", '\0', "TOKEN", "continue from a previous page"},
        {"all", '\0', "", "fetch every page"}}});
  specs.push_back(
      {{"host", "token"},
       {"ID"},
       "Issue a new bootstrap token for a host, replacing the previous one",
       absl::StrCat("Use it when the first token expired unused or the host was reinstalled. When\n"
                    "the host enrolls with the new token, its previous agent certificate is "
                    "revoked.\n\n",
                    kTokenDescription),
       {kTokenTtlFlag, kOutTokenFlag, kForceFlag, kEtagFlag, kRequestIdFlag}});
  specs.push_back(
      {{"host", "cordon"},
       {"ID"},
       "Stop new VMs from being placed on a host; its VMs keep running",
       "Cordoning a cordoned host only replaces the reason.",
       {{"reason", '\0', "TEXT", "why, e.g. \"disk replacement\" (up to 200 characters)"},
        kEtagFlag,
        kRequestIdFlag}});
  specs.push_back({{"host", "uncordon"},
                   {"ID"},
                   "Let the scheduler place VMs on a host again",
                   "",
                   {kEtagFlag, kRequestIdFlag}});
  specs.push_back(
      {{"host", "delete"},
       {"ID"},
       "Remove a host; its bootstrap token and agent certificate stop working",
       "Refused (FAILED_PRECONDITION, listing them) while VMs are placed on the host. Cordon it\n"
       "first: machines leave it only when their clusters replace or delete them.",
       {kEtagFlag, kRequestIdFlag}});
  return specs;
}

// --- Commands --------------------------------------------------------------

class HostCommands {
 public:
  explicit HostCommands(CommandContext& ctx)
      : ctx_(ctx), inv_(ctx.invocation()), out_(ctx.out()), err_(ctx.err()) {}

  int Run() {
    const std::string command = absl::StrJoin(inv_.command->path, " ");
    if (command == "host create") return Create();
    if (command == "host get") return Get();
    if (command == "host list") return List();
    if (command == "host token") return IssueToken();
    if (command == "host cordon") return Cordon();
    if (command == "host uncordon") return Uncordon();
    if (command == "host delete") return Delete();
    // The parser accepts only commands listed above.
    err_ << "error: unknown command '" << command << "'\n";
    return kExitUsage;
  }

 private:
  bool Table() const { return ctx_.settings().output == OutputFormat::kTable; }

  std::unique_ptr<HostClient> Connect(int* exit_code) {
    std::unique_ptr<HostClient> client = ctx_.ConnectHosts(exit_code);
    struct stat st;
    if (client == nullptr && inv_.Has("token-file") &&
        stat(inv_.Get("token-file").c_str(), &st) != 0 &&
        (inv_.command->path[1] == "create" || inv_.command->path[1] == "token")) {
      // The global --token-file reads the caller's credential; someone who
      // meant to save the new bootstrap token there must not be left
      // guessing.
      err_ << "hint: --token-file names the file holding your own bearer token; to write the "
              "host's bootstrap token to a file, use --out-token "
           << inv_.Get("token-file") << "\n";
    }
    return client;
  }

  // After a failed call that changes something: the error, the etag hint,
  // and the request id when the call may have gone through.
  int ChangeFailed(const grpc::Status& status, absl::string_view name,
                   absl::string_view request_id) {
    const int code = ctx_.RpcError(status);
    ctx_.PrintEtagHint(status, "host", absl::StrCat("mandantctl host get ", HostIdFromName(name)));
    if (OutcomeUnknown(status)) ctx_.PrintRetryHint(request_id);
    return code;
  }

  // Writes the new `token` of `host` to dest.out_token, or leaves it to be
  // printed, then prints `message` (which holds the token) as JSON / YAML or
  // `head` followed by the token lines. Once the file is written the token
  // is cleared from `message`, so it is never printed as well.
  int DeliverToken(absl::string_view host, const TokenDestination& dest,
                   absl::string_view request_id, v1::BootstrapToken* token,
                   const google::protobuf::Message& message, absl::string_view token_host_line,
                   absl::FunctionRef<std::string()> head) {
    if (!dest.out_token.empty()) {
      absl::Status written =
          WriteFileAtomically(dest.out_token, absl::StrCat(token->token(), "\n"), 0600, dest.force);
      token->clear_token();
      if (!written.ok()) {
        err_ << "error: the bootstrap token of " << host
             << " was issued but cannot be saved: " << written.message() << "\n"
             << "hint: run the same command with --request-id " << request_id
             << " (and a writable --out-token) to get the same token again\n";
        return kExitServerError;
      }
      err_ << "wrote the bootstrap token of " << host << " to " << dest.out_token
           << " (mode 0600)\n";
    }
    if (!Table()) return ctx_.PrintMessage(message);
    out_ << head() << RenderBootstrapToken(token_host_line, *token, dest.out_token, ctx_.Now());
    if (dest.out_token.empty()) {
      err_ << "note: the bootstrap token is shown only this once. Put it in a file of mode 0600 "
              "on the host for mandant-agent --token_file, with the Mandant root certificate as "
              "its --ca_file; it lets one agent enroll as "
           << host << "\n";
    }
    return kExitOk;
  }

  // Where the token goes, checked before anything is sent: a token with
  // nowhere to go would have to be replaced.
  absl::StatusOr<TokenDestination> WritableTokenDestination() {
    absl::StatusOr<TokenDestination> dest = TokenDestinationFromFlags(inv_);
    if (!dest.ok() || dest->out_token.empty()) return dest;
    if (absl::Status s = CheckCanWrite(dest->out_token, dest->force, "--out-token"); !s.ok()) {
      return s;
    }
    return dest;
  }

  int Create() {
    absl::StatusOr<v1::CreateHostRequest> request =
        BuildCreateHostRequest(inv_, ctx_.NewRequestId());
    if (!request.ok()) return ctx_.UsageError(request.status());
    absl::StatusOr<TokenDestination> dest = WritableTokenDestination();
    if (!dest.ok()) return ctx_.UsageError(dest.status());
    int code = kExitOk;
    std::unique_ptr<HostClient> client = Connect(&code);
    if (client == nullptr) return code;
    v1::CreateHostResponse response;
    grpc::Status status = client->CreateHost(*request, &response);
    const std::string name = absl::StrCat("hosts/", request->host_id());
    if (!status.ok()) return ChangeFailed(status, name, request->request_id());
    return DeliverToken(
        name, *dest, request->request_id(), response.mutable_bootstrap_token(), response, "",
        [&] { return absl::StrCat(RenderHostDetail(response.host(), ctx_.Now()), "\n"); });
  }

  int IssueToken() {
    absl::StatusOr<v1::IssueBootstrapTokenRequest> request =
        BuildIssueBootstrapTokenRequest(inv_, ctx_.NewRequestId());
    if (!request.ok()) return ctx_.UsageError(request.status());
    absl::StatusOr<TokenDestination> dest = WritableTokenDestination();
    if (!dest.ok()) return ctx_.UsageError(dest.status());
    int code = kExitOk;
    std::unique_ptr<HostClient> client = Connect(&code);
    if (client == nullptr) return code;
    v1::IssueBootstrapTokenResponse response;
    grpc::Status status = client->IssueBootstrapToken(*request, &response);
    if (!status.ok()) return ChangeFailed(status, request->name(), request->request_id());
    err_ << "note: the previous bootstrap token of " << request->name()
         << " no longer works; when the host enrolls with the new one, its current agent "
            "certificate is revoked\n";
    return DeliverToken(request->name(), *dest, request->request_id(),
                        response.mutable_bootstrap_token(), response, request->name(),
                        [] { return std::string(); });
  }

  int Get() {
    absl::StatusOr<v1::GetHostRequest> request = BuildGetHostRequest(inv_);
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<HostClient> client = Connect(&code);
    if (client == nullptr) return code;
    v1::Host host;
    grpc::Status status = client->GetHost(*request, &host);
    if (!status.ok()) return ctx_.RpcError(status);
    return ctx_.Print(host, [&] { return RenderHostDetail(host, ctx_.Now()); });
  }

  int List() {
    absl::StatusOr<v1::ListHostsRequest> request = BuildListHostsRequest(inv_);
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<HostClient> client = Connect(&code);
    if (client == nullptr) return code;
    const absl::Time now = ctx_.Now();
    return ListPages<v1::ListHostsResponse>(
        ctx_, *request,
        [&](const v1::ListHostsRequest& r, v1::ListHostsResponse* page) {
          return client->ListHosts(r, page);
        },
        [](v1::ListHostsResponse* r) { return r->mutable_hosts(); },
        [now](const google::protobuf::RepeatedPtrField<v1::Host>& hosts) {
          return RenderHostTable(hosts, now);
        },
        "hosts");
  }

  int Cordon() {
    absl::StatusOr<v1::CordonHostRequest> request =
        BuildCordonHostRequest(inv_, ctx_.NewRequestId());
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<HostClient> client = Connect(&code);
    if (client == nullptr) return code;
    v1::Host host;
    grpc::Status status = client->CordonHost(*request, &host);
    if (!status.ok()) return ChangeFailed(status, request->name(), request->request_id());
    return ctx_.Print(host, [&] {
      std::string line = absl::StrCat("host \"", HostIdFromName(request->name()), "\" cordoned");
      if (!host.cordon_reason().empty()) {
        absl::StrAppend(&line, " (", SanitizeForTerminal(host.cordon_reason()), ")");
      }
      absl::StrAppend(&line, ": no new VMs are placed on it");
      if (host.allocations_size() > 0) {
        absl::StrAppend(&line, "; its ", host.allocations_size(),
                        host.allocations_size() == 1 ? " VM keeps" : " VMs keep", " running");
      }
      return absl::StrCat(line, "\n");
    });
  }

  int Uncordon() {
    absl::StatusOr<v1::UncordonHostRequest> request =
        BuildUncordonHostRequest(inv_, ctx_.NewRequestId());
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<HostClient> client = Connect(&code);
    if (client == nullptr) return code;
    v1::Host host;
    grpc::Status status = client->UncordonHost(*request, &host);
    if (!status.ok()) return ChangeFailed(status, request->name(), request->request_id());
    return ctx_.Print(host, [&] {
      return absl::StrCat("host \"", HostIdFromName(request->name()),
                          "\" uncordoned: new VMs may be placed on it again\n");
    });
  }

  int Delete() {
    absl::StatusOr<v1::DeleteHostRequest> request =
        BuildDeleteHostRequest(inv_, ctx_.NewRequestId());
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<HostClient> client = Connect(&code);
    if (client == nullptr) return code;
    grpc::Status status = client->DeleteHost(*request);
    const std::string id = HostIdFromName(request->name());
    if (!status.ok()) {
      code = ChangeFailed(status, request->name(), request->request_id());
      if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
        err_ << "hint: cordon the host ('mandantctl host cordon " << id
             << "') so that no new VMs are placed on it; the machines above leave it only when "
                "their clusters replace or delete them\n";
      }
      return code;
    }
    out_ << "host \"" << id << "\" deleted\n";
    return kExitOk;
  }

  CommandContext& ctx_;
  const Invocation& inv_;
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace

std::vector<CommandSpec> HostCommandSpecs() { return BuildSpecs(); }

bool IsHostCommand(const std::vector<std::string>& path) {
  return !path.empty() && path[0] == "host";
}

int RunHostCommand(CommandContext& ctx) { return HostCommands(ctx).Run(); }

}  // namespace mandant::cli
