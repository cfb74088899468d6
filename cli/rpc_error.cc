#include "cli/rpc_error.h"

#include <array>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

#include "cli/output.h"

namespace mandant::cli {
namespace {

constexpr std::array<absl::string_view, 17> kCodeNames = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

// "a b: c" from the parts that are present.
std::string Violation(absl::string_view type, absl::string_view subject,
                      absl::string_view description) {
  std::string head = SanitizeForTerminal(type);
  if (!subject.empty()) {
    absl::StrAppend(&head, head.empty() ? "" : " ", SanitizeForTerminal(subject));
  }
  if (head.empty()) return absl::StrCat("  - ", SanitizeForTerminal(description), "\n");
  if (description.empty()) return absl::StrCat("  - ", head, "\n");
  return absl::StrCat("  - ", head, ": ", SanitizeForTerminal(description), "\n");
}

// The call id mandantd attaches (google.rpc.RequestInfo) to an error whose
// detail it keeps in its log; empty when there is none, which for UNAVAILABLE
// means the answer came from gRPC on this side, not from the server.
std::string ServerCallId(const grpc::Status& status) {
  if (status.error_details().empty()) return "";
  google::rpc::Status rpc_status;
  if (!rpc_status.ParseFromString(status.error_details())) return "";
  for (const google::protobuf::Any& any : rpc_status.details()) {
    google::rpc::RequestInfo info;
    if (any.UnpackTo(&info)) return info.request_id().empty() ? "-" : info.request_id();
  }
  return "";
}

std::string RenderDetails(const std::string& serialized) {
  google::rpc::Status rpc_status;
  if (!rpc_status.ParseFromString(serialized)) {
    return "  (the error details could not be decoded)\n";
  }
  std::string out;
  for (const google::protobuf::Any& any : rpc_status.details()) {
    google::rpc::BadRequest bad_request;
    google::rpc::PreconditionFailure precondition;
    google::rpc::QuotaFailure quota;
    google::rpc::RequestInfo request_info;
    if (any.Is<google::rpc::RequestInfo>() && any.UnpackTo(&request_info)) {
      // Named in the message and by the hint; nothing to list.
      continue;
    }
    if (any.UnpackTo(&bad_request)) {
      for (const auto& v : bad_request.field_violations()) {
        absl::StrAppend(&out, Violation("", v.field(), v.description()));
      }
    } else if (any.UnpackTo(&precondition)) {
      for (const auto& v : precondition.violations()) {
        absl::StrAppend(&out, Violation(v.type(), v.subject(), v.description()));
      }
    } else if (any.UnpackTo(&quota)) {
      for (const auto& v : quota.violations()) {
        absl::StrAppend(&out, Violation("", v.subject(), v.description()));
      }
    } else {
      absl::StrAppend(&out, "  (error detail of type ", SanitizeForTerminal(any.type_url()),
                      " not shown)\n");
    }
  }
  return out;
}

}  // namespace

std::string StatusCodeName(grpc::StatusCode code) {
  int n = static_cast<int>(code);
  if (n >= 0 && n < static_cast<int>(kCodeNames.size())) return std::string(kCodeNames[n]);
  return absl::StrCat("CODE_", n);
}

std::string RenderRpcError(const grpc::Status& status, const RpcErrorContext& context) {
  std::string out = absl::StrCat("error: ", StatusCodeName(status.error_code()));
  if (!status.error_message().empty()) {
    absl::StrAppend(&out, ": ", SanitizeForTerminal(status.error_message()));
  }
  absl::StrAppend(&out, "\n");
  if (!status.error_details().empty()) absl::StrAppend(&out, RenderDetails(status.error_details()));
  switch (status.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      if (!context.client_cert_source.empty()) {
        absl::StrAppend(&out, "hint: the server did not accept the ", context.client_cert_source,
                        "; run 'mandantctl login' to get a new one\n");
      } else if (context.token_source.empty()) {
        absl::StrAppend(&out,
                        "hint: no bearer token was sent; name a token file with --token-file, "
                        "MANDANT_TOKEN_FILE or token_file in the config file, or set "
                        "MANDANT_TOKEN\n");
      } else {
        absl::StrAppend(&out, "hint: the server did not accept the bearer token from ",
                        context.token_source,
                        "; check that this token file holds a current token for ",
                        context.server.empty() ? "this server" : context.server, "\n");
      }
      break;
    case grpc::StatusCode::UNAVAILABLE:
      if (const std::string call_id = ServerCallId(status); !call_id.empty()) {
        absl::StrAppend(&out, "hint: the server",
                        context.server.empty() ? "" : absl::StrCat(" at ", context.server),
                        " answered, but cannot serve the request now (its database may be "
                        "down); try again later, and give the operator the call id ",
                        SanitizeForTerminal(call_id), " if it persists\n");
        break;
      }
      absl::StrAppend(&out, "hint: cannot reach the server",
                      context.server.empty() ? "" : absl::StrCat(" at ", context.server),
                      "; check --server, and --ca-file if the TLS handshake failed",
                      context.client_cert_source.empty()
                          ? ""
                          : absl::StrCat(" (or the server refused the ", context.client_cert_source,
                                         "; run 'mandantctl login' to get a new one)"),
                      "\n");
      break;
    case grpc::StatusCode::UNIMPLEMENTED:
      absl::StrAppend(&out, "hint: the server at ",
                      context.server.empty() ? "this address" : context.server,
                      " does not offer this call; check that --server names a mandantd of a "
                      "matching version\n");
      break;
    default:
      break;
  }
  return out;
}

ExitCode ExitCodeForRpcStatus(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return kExitOk;
    case grpc::StatusCode::UNAVAILABLE:
      // A server that answered was reached.
      return ServerCallId(status).empty() ? kExitUnreachable : kExitServerError;
    case grpc::StatusCode::UNAUTHENTICATED:
      return kExitUnreachable;
    default:
      return kExitServerError;
  }
}

bool OutcomeUnknown(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      // gRPC's text for a channel that never connected (refused, DNS, TLS
      // handshake): the request was not sent.
      return !absl::StrContains(status.error_message(), "failed to connect to all addresses");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
      return true;
    default:
      return false;
  }
}

}  // namespace mandant::cli
