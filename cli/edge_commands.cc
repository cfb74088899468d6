#include "cli/edge_commands.h"

#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

#include "cli/edge_requests.h"
#include "cli/output.h"
#include "cli/rpc_error.h"

namespace mandant::cli {
namespace {

// How often --follow asks for newer events.
constexpr absl::Duration kFollowInterval = absl::Seconds(2);

std::vector<CommandSpec> BuildSpecs() {
  std::vector<CommandSpec> specs;
  specs.push_back({{"tenant", "edge"},
                   {"TENANT"},
                   "Show a tenant's edge: its hosts, addresses, endpoints and health",
                   "",
                   {}});
  specs.push_back(
      {{"tenant", "egress-log"},
       {"TENANT"},
       "Show the new outbound connections of a tenant's machines, newest first",
       "Every connection the tenant's edge saw leaving the node network, allowed or denied by\n"
       "the egress policy, kept for the controller's egress_log_retention_days. One page of up\n"
       "to 100 events is shown, newest first. With --follow, the events are then printed\n"
       "oldest first as they arrive (polled every 2s) until Ctrl-C.",
       {{"since", '\0', "DURATION|TIME",
         "only events at or after this time: a duration back from now (15m, 2h, 7d) or an "
         "RFC 3339 time (2025-01-31T08:00:00Z)"},
        {"denied", '\0', "", "only connections the egress policy denied"},
        {"follow", 'f', "", "keep printing new events until Ctrl-C"}}});
  specs.push_back(
      {{"tenant", "egress-policy", "get"}, {"TENANT"}, "Show a tenant's egress policy", "", {}});
  specs.push_back(
      {{"tenant", "egress-policy", "set"},
       {"TENANT"},
       "Change a tenant's egress policy: its default action, its rules, or both",
       "The first rule that matches a new connection decides it; when none does, the default\n"
       "does. --rule replaces every rule: give all of them, in order. Without --etag the policy\n"
       "is read first and its etag sent along, so a change made by someone else in between is\n"
       "detected (ABORTED) instead of overwritten.",
       {{"default", '\0', "ACTION", "allow or deny"},
        {"rule", '\0', "RULE",
         "'allow|deny tcp|udp|icmp|any CIDR [PORT[-PORT]]', e.g. 'allow tcp 192.0.2.0/24 443'",
         /*repeatable=*/true},
        {"clear-rules", '\0', "", "remove every rule (the default then decides)"},
        {"etag", '\0', "ETAG",
         "apply only if the policy still has this etag (from 'tenant egress-policy get')"},
        {"request-id", '\0', "UUID", "idempotency key; reuse the one a failed call printed"}}});
  return specs;
}

class EdgeCommands {
 public:
  explicit EdgeCommands(CommandContext& ctx)
      : ctx_(ctx), inv_(ctx.invocation()), out_(ctx.out()), err_(ctx.err()) {}

  int Run() {
    const std::string command = absl::StrJoin(inv_.command->path, " ");
    if (command == "tenant edge") return Edge();
    if (command == "tenant egress-log") return EgressLog();
    if (command == "tenant egress-policy get") return GetPolicy();
    if (command == "tenant egress-policy set") return SetPolicy();
    // The parser accepts only commands listed above.
    err_ << "error: unknown command '" << command << "'\n";
    return kExitUsage;
  }

 private:
  bool Table() const { return ctx_.settings().output == OutputFormat::kTable; }

  int Edge() {
    absl::StatusOr<v1::GetEdgeRequest> request = BuildGetEdgeRequest(inv_);
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<EdgeClient> client = ctx_.ConnectEdges(&code);
    if (client == nullptr) return code;
    v1::Edge edge;
    grpc::Status status = client->GetEdge(*request, &edge);
    if (!status.ok()) return ctx_.RpcError(status);
    return ctx_.Print(edge, [&] { return RenderEdgeDetail(edge); });
  }

  int GetPolicy() {
    absl::StatusOr<v1::GetEgressPolicyRequest> request = BuildGetEgressPolicyRequest(inv_);
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<EdgeClient> client = ctx_.ConnectEdges(&code);
    if (client == nullptr) return code;
    v1::EgressPolicy policy;
    grpc::Status status = client->GetEgressPolicy(*request, &policy);
    if (!status.ok()) return ctx_.RpcError(status);
    return ctx_.Print(policy, [&] { return RenderEgressPolicyDetail(policy); });
  }

  int SetPolicy() {
    const std::string request_id =
        inv_.Has("request-id") ? inv_.Get("request-id") : ctx_.NewRequestId();
    absl::StatusOr<v1::UpdateEgressPolicyRequest> request =
        BuildUpdateEgressPolicyRequest(inv_, request_id);
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<EdgeClient> client = ctx_.ConnectEdges(&code);
    if (client == nullptr) return code;
    const std::string tenant =
        TenantIdFromName(request->policy().name().substr(0, request->policy().name().rfind('/')));
    if (!inv_.Has("etag")) {
      // Conditional on the version just read, as `tenant update` is.
      v1::GetEgressPolicyRequest get;
      get.set_name(request->policy().name());
      v1::EgressPolicy current;
      grpc::Status status = client->GetEgressPolicy(get, &current);
      if (!status.ok()) return ctx_.RpcError(status);
      request->mutable_policy()->set_etag(current.etag());
    }
    v1::EgressPolicy policy;
    grpc::Status status = client->UpdateEgressPolicy(*request, &policy);
    if (!status.ok()) {
      code = ctx_.RpcError(status);
      ctx_.PrintEtagHint(status, "egress policy",
                         absl::StrCat("mandantctl tenant egress-policy get ", tenant));
      if (OutcomeUnknown(status)) ctx_.PrintRetryHint(request_id);
      return code;
    }
    return ctx_.Print(policy, [&] { return RenderEgressPolicyDetail(policy); });
  }

  int EgressLog() {
    absl::StatusOr<v1::ListEgressEventsRequest> request =
        BuildListEgressEventsRequest(inv_, ctx_.Now());
    if (!request.ok()) return ctx_.UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<EdgeClient> client = ctx_.ConnectEdges(&code);
    if (client == nullptr) return code;
    v1::ListEgressEventsResponse page;
    grpc::Status status = client->ListEgressEvents(*request, &page);
    if (!status.ok()) return ctx_.RpcError(status);
    if (!inv_.Has("follow")) {
      if (!Table()) return ctx_.PrintMessage(page);
      if (page.events().empty()) {
        err_ << "No egress events found.\n";
      } else {
        out_ << RenderEgressEventTable(page.events());
      }
      if (page.dropped_events() > 0) {
        err_ << "note: the edge could not relay " << page.dropped_events()
             << " events (its queue was full); they are counted, not stored\n";
      }
      if (!page.next_page_token().empty()) {
        err_ << "More egress events: narrow them with --since\n";
      }
      return kExitOk;
    }
    return Follow(*client, *std::move(request), page);
  }

  // Prints `first` oldest first, then polls for events newer than the
  // newest seen. Events of the newest second seen are remembered, so that
  // one that arrives late in the same instant is printed once.
  int Follow(EdgeClient& client, v1::ListEgressEventsRequest request,
             const v1::ListEgressEventsResponse& first) {
    google::protobuf::Timestamp newest = request.since();
    std::set<std::string> seen_at_newest;
    bool header = true;
    auto print = [&](const v1::ListEgressEventsResponse& page) -> int {
      google::protobuf::RepeatedPtrField<v1::EgressEvent> fresh;
      for (int i = page.events_size() - 1; i >= 0; --i) {
        const v1::EgressEvent& e = page.events(i);
        const bool later =
            e.time().seconds() > newest.seconds() ||
            (e.time().seconds() == newest.seconds() && e.time().nanos() > newest.nanos());
        const std::string key = e.SerializeAsString();
        if (!later && seen_at_newest.count(key) > 0) continue;
        if (later) {
          newest = e.time();
          seen_at_newest.clear();
        }
        seen_at_newest.insert(key);
        *fresh.Add() = e;
      }
      if (fresh.empty()) return kExitOk;
      if (Table()) {
        out_ << RenderEgressEventTable(fresh, header);
        header = false;
      } else {
        for (const v1::EgressEvent& e : fresh) {
          if (int code = ctx_.PrintMessage(e); code != kExitOk) return code;
        }
      }
      out_.flush();
      return kExitOk;
    };
    if (int code = print(first); code != kExitOk) return code;
    request.set_page_size(1000);
    while (ctx_.options().wait(kFollowInterval)) {
      if (newest.seconds() != 0 || newest.nanos() != 0) *request.mutable_since() = newest;
      v1::ListEgressEventsResponse page;
      grpc::Status status = client.ListEgressEvents(request, &page);
      if (!status.ok()) return ctx_.RpcError(status);
      if (int code = print(page); code != kExitOk) return code;
    }
    return kExitOk;
  }

  CommandContext& ctx_;
  const Invocation& inv_;
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace

std::vector<CommandSpec> EdgeCommandSpecs() { return BuildSpecs(); }

bool IsEdgeCommand(const std::vector<std::string>& path) {
  for (const CommandSpec& spec : BuildSpecs()) {
    if (spec.path == path) return true;
  }
  return false;
}

int RunEdgeCommand(CommandContext& ctx) { return EdgeCommands(ctx).Run(); }

}  // namespace mandant::cli
