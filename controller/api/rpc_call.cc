#include "controller/api/rpc_call.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/any.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include "common/uuid.h"
#include "controller/store/audit_store.h"
#include "controller/store/database.h"
#include "controller/store/idempotency.h"
#include "controller/store/pg.h"

namespace mandant::controller::api {
namespace {

constexpr absl::string_view kGoogleRpcTypePrefix = "type.googleapis.com/google.rpc.";
constexpr absl::string_view kRequestInfoUrl = "type.googleapis.com/google.rpc.RequestInfo";
constexpr absl::string_view kCallerVisibleUrl = "type.mandant.dev/caller-visible";

std::string CodeName(absl::StatusCode code) { return absl::StatusCodeToString(code); }

// Whether the handler wrote the message for the caller (see ForCaller).
bool WrittenForCaller(const absl::Status& status) {
  if (status.GetPayload(kCallerVisibleUrl).has_value()) return true;
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnavailable:
      return false;
    default:
      return !store::PgErrorOf(status).has_value();
  }
}

std::string GenericMessage(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      if (store::IsOutcomeUnknown(status)) {
        return "the server lost its database connection while committing this request, so its "
               "outcome is unknown; retry with the same request_id for a definite answer";
      }
      return "the service is temporarily unavailable (its database cannot be reached); "
             "retry later";
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return "internal error";
    default:
      return absl::StrCat("the request could not be completed (",
                          absl::AsciiStrToLower(CodeName(status.code())), ")");
  }
}

}  // namespace

absl::Status CallerVisible(absl::Status status) {
  status.SetPayload(kCallerVisibleUrl, absl::Cord("1"));
  return status;
}

absl::Status ForCaller(const absl::Status& status, absl::string_view call_id) {
  if (status.ok() || WrittenForCaller(status)) return status;
  absl::Status out(status.code(), call_id.empty()
                                      ? GenericMessage(status)
                                      : absl::StrCat(GenericMessage(status),
                                                     "; the server's log has the details "
                                                     "under call id ",
                                                     call_id));
  google::rpc::RequestInfo info;
  info.set_request_id(std::string(call_id));
  google::protobuf::Any any;
  any.PackFrom(info);
  out.SetPayload(kRequestInfoUrl, absl::Cord(any.value()));
  return out;
}

grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view call_id) {
  if (status.ok()) return grpc::Status::OK;
  const absl::Status visible = ForCaller(status, call_id);
  google::rpc::Status details;
  details.set_code(static_cast<int>(visible.code()));
  details.set_message(std::string(visible.message()));
  visible.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    if (!absl::StartsWith(url, kGoogleRpcTypePrefix)) return;
    google::protobuf::Any* any = details.add_details();
    any->set_type_url(std::string(url));
    any->set_value(std::string(payload));
  });
  return grpc::Status(static_cast<grpc::StatusCode>(visible.code()), std::string(visible.message()),
                      details.details_size() > 0 ? details.SerializeAsString() : "");
}

RpcCall::RpcCall(grpc::ServerContextBase* context, absl::string_view method, bool mutating,
                 const ServiceDeps& deps)
    : context_(context),
      method_(method),
      mutating_(mutating),
      deps_(deps),
      start_(absl::Now()),
      call_id_(NewCallId()) {
  context_->AddInitialMetadata("x-mandant-call-id", call_id_);
}

RpcCall::Credentials RpcCall::CaptureCredentials() const {
  Credentials out;
  std::shared_ptr<const grpc::AuthContext> auth = context_->auth_context();
  if (auth) {
    std::vector<grpc::string_ref> pems = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!pems.empty()) out.peer_certificate_pem.assign(pems[0].data(), pems[0].size());
  }
  const auto& md = context_->client_metadata();
  auto it = md.find("authorization");
  if (it != md.end()) out.authorization.assign(it->second.data(), it->second.size());
  return out;
}

absl::Status RpcCall::Authenticate() { return Authenticate(CaptureCredentials()); }

absl::StatusOr<auth::Principal> RpcCall::PrincipalOf(const Credentials& credentials) const {
  return deps_.certificates != nullptr && !credentials.peer_certificate_pem.empty()
             ? deps_.certificates->Authenticate(credentials.peer_certificate_pem)
             : deps_.authenticator->Authenticate(credentials.authorization);
}

absl::Status RpcCall::Authenticate(const Credentials& credentials) {
  absl::StatusOr<auth::Principal> principal = PrincipalOf(credentials);
  if (!principal.ok()) return principal.status();
  principal_ = *std::move(principal);
  authenticated_ = true;
  return absl::OkStatus();
}

absl::Status RpcCall::Reauthenticate(const Credentials& credentials) const {
  absl::StatusOr<auth::Principal> principal = PrincipalOf(credentials);
  if (!principal.ok()) return principal.status();
  if (!authenticated_ || principal->ToString() != principal_.ToString()) {
    return absl::UnauthenticatedError("the credentials no longer name this call's caller");
  }
  return absl::OkStatus();
}

absl::Status RpcCall::Audit(store::Connection& conn, const absl::Status& result,
                            absl::string_view message) const {
  store::AuditRecord record;
  record.principal = principal_.ToString();
  record.role = std::string(auth::RoleName(principal_.role));
  record.method = method_;
  record.object = object_;
  record.request_id = request_id_;
  record.code = result.code();
  record.message = std::string(message.empty() ? result.message() : message);
  return store::AppendAudit(conn, record);
}

absl::Status RpcCall::TransactIdempotent(absl::string_view what, absl::string_view request_id,
                                         const google::protobuf::Message& request,
                                         google::protobuf::Message* response,
                                         absl::FunctionRef<absl::Status(store::Connection&)> body) {
  const store::IdempotencyKey key(principal_.ToString(), method_, std::string(request_id), request);
  return deps_.db->Transact(what, [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(auto replay, key.Lookup(conn));
    if (replay) {
      if (!response->ParseFromString(*replay)) {
        return absl::InternalError("stored response does not parse");
      }
      return Audit(conn, absl::OkStatus(), "replayed the result of this request_id");
    }
    MANDANT_RETURN_IF_ERROR(key.Claim(conn));
    MANDANT_RETURN_IF_ERROR(body(conn));
    MANDANT_RETURN_IF_ERROR(key.Complete(conn, *response));
    return Audit(conn, absl::OkStatus());
  });
}

grpc::Status RpcCall::Finish(const absl::Status& status) {
  const absl::Duration elapsed = absl::Now() - start_;
  const std::string code = CodeName(status.code());
  deps_.metrics->Increment("mandant_rpc_requests_total", {{"method", method_}, {"code", code}});
  deps_.metrics->Observe("mandant_rpc_duration_seconds", {{"method", method_}}, elapsed);

  if (mutating_ && authenticated_ && !status.ok()) {
    // The handler's transaction rolled back with its audit row; record the
    // refusal on its own.
    absl::Status audited =
        deps_.db->Run("audit", [&](store::Connection& conn) { return Audit(conn, status); });
    if (!audited.ok()) {
      MANDANT_LOG(warn, "audit row not written",
                  {{"call_id", call_id_}, {"method", method_}, {"error", audited}});
    }
  }
  const std::string who = authenticated_ ? principal_.ToString() : "-";
  const long long micros = absl::ToInt64Microseconds(elapsed);
  if (status.ok() && !mutating_) {
    // Reads are many; their lines are for debugging.
    MANDANT_LOG(debug, "rpc",
                {{"call_id", call_id_},
                 {"method", method_},
                 {"principal", who},
                 {"object", object_},
                 {"code", code},
                 {"duration_us", micros}});
  } else if (status.ok()) {
    MANDANT_LOG(info, "rpc",
                {{"call_id", call_id_},
                 {"method", method_},
                 {"principal", who},
                 {"object", object_},
                 {"request_id", request_id_},
                 {"code", code},
                 {"duration_us", micros}});
  } else {
    // A caller that got a generic message (naming the call id) finds the
    // detail in this line, logged as an error.
    const spdlog::level::level_enum level =
        WrittenForCaller(status) ? spdlog::level::warn : spdlog::level::err;
    if (spdlog::should_log(level)) {
      spdlog::log(level, "{}",
                  logging::Render("rpc", {{"call_id", call_id_},
                                          {"method", method_},
                                          {"principal", who},
                                          {"object", object_},
                                          {"request_id", request_id_},
                                          {"code", code},
                                          {"duration_us", micros},
                                          {"error", std::string(status.message())}}));
    }
  }
  return ToGrpcStatus(status, call_id_);
}

}  // namespace mandant::controller::api
