#include "controller/api/rpc_call.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/store/idempotency.h"
#include "controller/store/uuid.h"
#include "google/protobuf/any.pb.h"
#include "google/rpc/status.pb.h"

namespace mandant::controller::api {
namespace {

constexpr absl::string_view kGoogleRpcTypePrefix = "type.googleapis.com/google.rpc.";

std::string CodeName(absl::StatusCode code) { return absl::StatusCodeToString(code); }

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status details;
  details.set_code(static_cast<int>(status.code()));
  details.set_message(std::string(status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    if (!absl::StartsWith(url, kGoogleRpcTypePrefix)) return;
    google::protobuf::Any* any = details.add_details();
    any->set_type_url(std::string(url));
    any->set_value(std::string(payload));
  });
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      details.details_size() > 0 ? details.SerializeAsString() : "");
}

RpcCall::RpcCall(grpc::ServerContextBase* context, absl::string_view method, bool mutating,
                 const ServiceDeps& deps)
    : context_(context),
      method_(method),
      mutating_(mutating),
      deps_(deps),
      start_(absl::Now()),
      call_id_(store::NewCallId()) {
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

absl::Status RpcCall::Authenticate(const Credentials& credentials) {
  absl::StatusOr<auth::Principal> principal =
      deps_.certificates != nullptr && !credentials.peer_certificate_pem.empty()
          ? deps_.certificates->Authenticate(credentials.peer_certificate_pem)
          : deps_.authenticator->Authenticate(credentials.authorization);
  if (!principal.ok()) return principal.status();
  principal_ = *std::move(principal);
  authenticated_ = true;
  return absl::OkStatus();
}

absl::Status RpcCall::Audit(store::Connection& conn, const absl::Status& result,
                            absl::string_view message) const {
  return conn
      .Query(
          "INSERT INTO audit_log (principal, role, method, object, request_id, code, message) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7)",
          {principal_.ToString(), std::string(auth::RoleName(principal_.role)), method_, object_,
           request_id_, CodeName(result.code()),
           std::string(message.empty() ? result.message() : message)})
      .status();
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
    MANDANT_LOG(warn, "rpc",
                {{"call_id", call_id_},
                 {"method", method_},
                 {"principal", who},
                 {"object", object_},
                 {"request_id", request_id_},
                 {"code", code},
                 {"duration_us", micros},
                 {"error", std::string(status.message())}});
  }
  return ToGrpcStatus(status);
}

}  // namespace mandant::controller::api
