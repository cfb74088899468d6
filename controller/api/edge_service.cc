#include "controller/api/edge_service.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

#include "common/status_macros.h"
#include "controller/api/paging.h"
#include "controller/api/time_fields.h"
#include "controller/auth/principal.h"
#include "tenants/edge_validation.h"
#include "tenants/field_violations.h"
#include "tenants/names.h"
#include "tenants/tenant_validation.h"

namespace mandant::controller::api {
namespace {

// "tenants/{tenant}/{suffix}" -> tenant id, or INVALID_ARGUMENT on `field`.
absl::StatusOr<std::string> ParseTenantSingleton(absl::string_view name, absl::string_view suffix,
                                                 absl::string_view field) {
  absl::string_view rest = name;
  const std::string tail = absl::StrCat("/", suffix);
  if (absl::ConsumeSuffix(&rest, tail)) {
    auto id = tenants::ParseTenantName(rest, field);
    if (id.ok()) return id;
  }
  tenants::FieldViolations v;
  v.Add(std::string(field),
        absl::StrCat(tenants::QuoteForMessage(name), " is not \"tenants/{tenant}", tail, "\""));
  return v.ToStatus();
}

constexpr char kListEgressEvents[] = "ListEgressEvents";
constexpr int kDefaultEgressPageSize = 100;

v1::IpProtocol ProtocolOf(uint32_t number) {
  switch (number) {
    case 1:
      return v1::IP_PROTOCOL_ICMP;
    case 6:
      return v1::IP_PROTOCOL_TCP;
    case 17:
      return v1::IP_PROTOCOL_UDP;
    default:
      return v1::IP_PROTOCOL_UNSPECIFIED;
  }
}

void SetCondition(v1::Edge& edge, absl::string_view type, bool ok, absl::string_view reason,
                  absl::string_view message) {
  v1::Condition* c = edge.add_conditions();
  c->set_type(std::string(type));
  c->set_status(ok ? v1::CONDITION_STATUS_TRUE : v1::CONDITION_STATUS_FALSE);
  c->set_reason(std::string(reason));
  c->set_message(std::string(message));
}

}  // namespace

void SetEdgeConditions(v1::Edge& edge, bool has_machines, bool network_configured) {
  const bool placed = edge.instances_size() > 0;
  if (placed) {
    SetCondition(edge, "Placed", true, "Placed", "");
  } else if (!has_machines) {
    SetCondition(edge, "Placed", false, "NoMachines",
                 "the edge is placed with the tenant's first machine");
  } else if (!network_configured) {
    SetCondition(edge, "Placed", false, "NoExternalNetwork",
                 "no external network is configured (edge.external_networks)");
  } else {
    SetCondition(edge, "Placed", false, "NoHost",
                 "no host attached to the external network is available");
  }
  bool active = false;
  for (const v1::EdgeInstance& i : edge.instances()) active |= i.role() == v1::EDGE_ROLE_ACTIVE;
  SetCondition(edge, "Ready", active, active ? "Serving" : "NotServing",
               active ? "" : "no copy of the edge holds the tenant's addresses");
  SetCondition(edge, "Redundant", edge.redundant(), edge.redundant() ? "TwoCopies" : "OneCopy",
               edge.redundant() ? ""
                                : "the edge runs on one host; it gets a second copy when the "
                                  "tenant's machines span two hosts attached to the external "
                                  "network");
}

EdgeServiceImpl::EdgeServiceImpl(const ServiceDeps& deps, EdgeSettings settings)
    : deps_(deps), settings_(std::move(settings)) {}

grpc::Status EdgeServiceImpl::GetEdge(grpc::ServerContext* context,
                                      const v1::GetEdgeRequest* request, v1::Edge* response) {
  RpcCall call(context, "GetEdge", /*mutating=*/false, deps_);
  return call.Finish(Get(call, *request, response));
}

grpc::Status EdgeServiceImpl::GetEgressPolicy(grpc::ServerContext* context,
                                              const v1::GetEgressPolicyRequest* request,
                                              v1::EgressPolicy* response) {
  RpcCall call(context, "GetEgressPolicy", /*mutating=*/false, deps_);
  return call.Finish(GetPolicy(call, *request, response));
}

grpc::Status EdgeServiceImpl::UpdateEgressPolicy(grpc::ServerContext* context,
                                                 const v1::UpdateEgressPolicyRequest* request,
                                                 v1::EgressPolicy* response) {
  RpcCall call(context, "UpdateEgressPolicy", /*mutating=*/true, deps_);
  return call.Finish(UpdatePolicy(call, *request, response));
}

grpc::Status EdgeServiceImpl::ListEgressEvents(grpc::ServerContext* context,
                                               const v1::ListEgressEventsRequest* request,
                                               v1::ListEgressEventsResponse* response) {
  RpcCall call(context, kListEgressEvents, /*mutating=*/false, deps_);
  return call.Finish(ListEvents(call, *request, response));
}

absl::Status EdgeServiceImpl::Get(RpcCall& call, const v1::GetEdgeRequest& request,
                                  v1::Edge* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  MANDANT_ASSIGN_OR_RETURN(std::string id, ParseTenantSingleton(request.name(), "edge", "name"));
  MANDANT_RETURN_IF_ERROR(auth::CheckTenantRead(call.principal(), id));
  return deps_.db->Run("get edge", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(*response, store_.GetEdge(conn, id));
    MANDANT_ASSIGN_OR_RETURN(bool has_machines, store_.HasPlacedMachines(conn, id));
    SetEdgeConditions(*response, has_machines, !settings_.external_networks.empty());
    return absl::OkStatus();
  });
}

absl::Status EdgeServiceImpl::GetPolicy(RpcCall& call, const v1::GetEgressPolicyRequest& request,
                                        v1::EgressPolicy* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  MANDANT_ASSIGN_OR_RETURN(std::string id,
                           ParseTenantSingleton(request.name(), "egressPolicy", "name"));
  MANDANT_RETURN_IF_ERROR(auth::CheckTenantRead(call.principal(), id));
  return deps_.db->Run("get egress policy", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(*response, store_.GetEgressPolicy(conn, id));
    return absl::OkStatus();
  });
}

absl::Status EdgeServiceImpl::UpdatePolicy(RpcCall& call,
                                           const v1::UpdateEgressPolicyRequest& request,
                                           v1::EgressPolicy* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.policy().name());
  call.set_request_id(request.request_id());
  tenants::FieldViolations violations;
  tenants::ValidateRequestId(request.request_id(), &violations);
  bool set_default = false, set_rules = false;
  if (request.update_mask().paths().empty()) {
    violations.Add("update_mask", "is required; paths: default_action, rules");
  }
  for (const std::string& path : request.update_mask().paths()) {
    if (path == "default_action") {
      set_default = true;
    } else if (path == "rules") {
      set_rules = true;
    } else {
      violations.Add("update_mask", absl::StrCat(tenants::QuoteForMessage(path),
                                                 " is not a path of EgressPolicy that can be "
                                                 "updated; allowed: default_action, rules"));
    }
  }
  const tenants::FieldViolations policy_violations =
      tenants::ValidateEgressPolicy(request.policy(), "policy");
  for (const tenants::FieldViolation& v : policy_violations.violations()) {
    violations.Add(v.field, v.description);
  }
  auto parsed = ParseTenantSingleton(request.policy().name(), "egressPolicy", "policy.name");
  if (!parsed.ok()) return parsed.status();
  MANDANT_RETURN_IF_ERROR(violations.ToStatus());
  const std::string id = *std::move(parsed);
  MANDANT_RETURN_IF_ERROR(auth::CheckTenantWrite(call.principal(), id));

  return call.TransactIdempotent(
      "update egress policy", request.request_id(), request, response,
      [&](store::Connection& conn) -> absl::Status {
        if (call.principal().role != auth::Role::kProviderAdmin) {
          MANDANT_ASSIGN_OR_RETURN(bool suspended, store_.TenantSuspended(conn, id));
          if (suspended) {
            return absl::FailedPreconditionError(
                absl::StrCat("tenant ", tenants::QuoteForMessage(id),
                             " is suspended; ask your provider to reactivate it"));
          }
        }
        MANDANT_ASSIGN_OR_RETURN(v1::EgressPolicy current,
                                 store_.GetEgressPolicy(conn, id, /*for_update=*/true));
        if (!request.policy().etag().empty() && request.policy().etag() != current.etag()) {
          return absl::AbortedError(absl::StrCat(
              "egress policy of tenant ", tenants::QuoteForMessage(id), " has etag ",
              current.etag(), ", not ", tenants::QuoteForMessage(request.policy().etag()),
              "; read it again and reapply your change"));
        }
        v1::EgressAction action = current.default_action();
        if (set_default) {
          action = request.policy().default_action() == v1::EGRESS_ACTION_DENY
                       ? v1::EGRESS_ACTION_DENY
                       : v1::EGRESS_ACTION_ALLOW;
        }
        std::vector<v1::EgressRule> rules(current.rules().begin(), current.rules().end());
        if (set_rules)
          rules.assign(request.policy().rules().begin(), request.policy().rules().end());
        MANDANT_ASSIGN_OR_RETURN(*response, store_.PutEgressPolicy(conn, id, action, rules));
        return absl::OkStatus();
      });
}

}  // namespace mandant::controller::api

namespace mandant::controller::api {

absl::Status EdgeServiceImpl::ListEvents(RpcCall& call, const v1::ListEgressEventsRequest& request,
                                         v1::ListEgressEventsResponse* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.parent());
  MANDANT_ASSIGN_OR_RETURN(std::string id, tenants::ParseTenantName(request.parent(), "parent"));
  MANDANT_RETURN_IF_ERROR(auth::CheckTenantRead(call.principal(), id));
  tenants::FieldViolations bad;
  store::EgressLogQuery query;
  query.tenant = id;
  if (request.has_since()) query.since = CheckedTimestamp(request.since(), "since", bad);
  switch (request.action()) {
    case v1::EGRESS_ACTION_UNSPECIFIED:
      break;
    case v1::EGRESS_ACTION_ALLOW:
      query.allowed = true;
      break;
    case v1::EGRESS_ACTION_DENY:
      query.allowed = false;
      break;
    default:
      bad.Add("action", absl::StrCat("must be ALLOW, DENY or unset for both, got ",
                                     static_cast<int>(request.action())));
  }
  // The token is bound to everything that selects events; a token of one
  // filter cannot move another's cursor.
  const std::string filters =
      absl::StrCat(id, ",", query.since ? absl::ToUnixMicros(*query.since) : -1, ",",
                   static_cast<int>(request.action()));
  const PageRequest page =
      ParsePageRequest(request.page_size(), request.page_token(), kListEgressEvents, filters, 2,
                       bad, kDefaultEgressPageSize);
  if (!page.position.empty()) {
    int64_t micros = 0, event_id = 0;
    if (!absl::SimpleAtoi(page.position[0], &micros) ||
        !absl::SimpleAtoi(page.position[1], &event_id)) {
      bad.Add("page_token", "is not a token returned by ListEgressEvents");
    } else {
      query.after = store::EgressLogQuery::Cursor{absl::FromUnixMicros(micros), event_id};
    }
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  query.limit = page.page_size + 1;
  return deps_.db->Run("list egress events", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(std::vector<store::EgressEventRow> rows, log_.List(conn, query));
    MANDANT_ASSIGN_OR_RETURN(int64_t dropped, log_.DroppedEvents(conn, id));
    const bool more = TrimToPage(rows, page.page_size);
    for (store::EgressEventRow& row : rows) {
      row.event.set_protocol(ProtocolOf(row.event.protocol_number()));
      *response->add_events() = std::move(row.event);
    }
    response->set_dropped_events(dropped);
    if (more) {
      response->set_next_page_token(NextPageToken(
          kListEgressEvents, filters,
          {absl::StrCat(absl::ToUnixMicros(rows.back().time)), absl::StrCat(rows.back().id)}));
    }
    return absl::OkStatus();
  });
}

}  // namespace mandant::controller::api
