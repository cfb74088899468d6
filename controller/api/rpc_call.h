#ifndef MANDANT_CONTROLLER_API_RPC_CALL_H_
#define MANDANT_CONTROLLER_API_RPC_CALL_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"

#include "controller/auth/client_certificates.h"
#include "controller/auth/principal.h"
#include "controller/auth/tokens.h"
#include "controller/metrics.h"
#include "controller/pki/issuers.h"
#include "controller/store/database.h"

namespace mandant::controller::api {

// What every service handler needs; owned by the server, outlives services.
struct ServiceDeps {
  store::Database* db = nullptr;
  auth::TokenAuthenticator* authenticator = nullptr;
  Metrics* metrics = nullptr;
  // Mandant's CA hierarchy: tenant intermediates, issuance, CRLs.
  Issuers* issuers = nullptr;
  // mTLS callers; null when the server does not ask for client certificates.
  auth::CertificateAuthenticator* certificates = nullptr;
};

// What a caller may read of `status`. Handlers write the messages of
// INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION and the other refusals for
// the caller; those pass unchanged. Everything else may carry internal text
// (PostgreSQL's messages, connection strings, file paths) and is replaced
// with a generic message that names `call_id`, under which the server logs
// the detail: INTERNAL, UNKNOWN, DATA_LOSS and UNAVAILABLE, and any status
// that still carries a PostgreSQL error (an SQLSTATE no handler mapped
// deliberately). The code is kept, so clients still know whether to retry. A
// replaced status carries a google.rpc.RequestInfo detail with the call id,
// which also tells a client that the server answered (gRPC's own
// UNAVAILABLE for a connection that failed has none).
absl::Status ForCaller(const absl::Status& status, absl::string_view call_id);

// Marks a status of a hidden code (UNAVAILABLE above all) whose message the
// handler wrote for the caller and which holds no internal text, e.g. "no
// message from the agent within its lease; reconnect": ForCaller passes it
// unchanged.
absl::Status CallerVisible(absl::Status status);

// Converts ForCaller(status, call_id) to grpc::Status. Payloads under
// type.googleapis.com/google.rpc.* (BadRequest, PreconditionFailure,
// QuotaFailure, RequestInfo) become the google.rpc.Status details a gRPC
// client reads from the grpc-status-details-bin trailer; others stay inside.
grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view call_id = "");

// The life of one RPC: authentication, a call id in every log line, metrics
// by method and code, and an audit row for refused mutations (successful ones
// are audited inside their transaction by the handler). Not thread-safe; one
// per call on the handler's stack.
class RpcCall {
 public:
  RpcCall(grpc::ServerContextBase* context, absl::string_view method, bool mutating,
          const ServiceDeps& deps);

  // Authenticates the caller by its client certificate when it sent one
  // (mTLS), else by its bearer token; on success principal() is valid.
  // Reads the server context: call it on a gRPC thread only.
  absl::Status Authenticate();

  // What the caller presented, read from the server context: for a stream
  // whose messages are handled on other threads, where the context may be
  // gone by then (it dies with the call).
  struct Credentials {
    std::string peer_certificate_pem;  // empty without mTLS
    std::string authorization;         // the "authorization" metadata
  };
  Credentials CaptureCredentials() const;
  // As Authenticate, from credentials captured earlier; safe on any thread.
  absl::Status Authenticate(const Credentials& credentials);
  // Checks again that `credentials` still authenticate this call's
  // principal (a long stream's revocation check) without writing
  // principal(), so that other threads may read it meanwhile. The
  // authenticators' errors, or UNAUTHENTICATED when the credentials now name
  // someone else.
  absl::Status Reauthenticate(const Credentials& credentials) const;
  const auth::Principal& principal() const { return principal_; }
  // For a call the handler authenticated itself (an agent's bootstrap
  // token): audit rows and logs name `principal`.
  void AssumePrincipal(auth::Principal principal) {
    principal_ = std::move(principal);
    authenticated_ = true;
  }
  // A fresh id for this call, also sent back as "x-mandant-call-id".
  const std::string& call_id() const { return call_id_; }
  const std::string& method() const { return method_; }

  // The object the call is about ("tenants/acme"), for logs and audit.
  void set_object(std::string object) { object_ = std::move(object); }
  void set_request_id(std::string request_id) { request_id_ = std::move(request_id); }
  const std::string& object() const { return object_; }
  const std::string& request_id() const { return request_id_; }

  // A mutation with its request_id: in one transaction, returns the stored
  // response of an earlier call with the same id (audited as a replay), or
  // claims the id, runs `body` (which fills *response), stores *response
  // for later replays and appends the audit row. Errors of `body` roll all
  // of it back.
  absl::Status TransactIdempotent(absl::string_view what, absl::string_view request_id,
                                  const google::protobuf::Message& request,
                                  google::protobuf::Message* response,
                                  absl::FunctionRef<absl::Status(store::Connection&)> body);

  // Appends the audit row for this call inside the caller's transaction.
  absl::Status Audit(store::Connection& conn, const absl::Status& result,
                     absl::string_view message = "") const;

  // Ends the call: metrics, one log line (with the full error), audit of
  // refused mutations; returns what the caller may see (ForCaller).
  grpc::Status Finish(const absl::Status& status);

 private:
  // The principal `credentials` name: the client certificate when one was
  // presented (mTLS), else the bearer token.
  absl::StatusOr<auth::Principal> PrincipalOf(const Credentials& credentials) const;

  grpc::ServerContextBase* const context_;
  const std::string method_;
  const bool mutating_;
  const ServiceDeps& deps_;
  const absl::Time start_;
  std::string call_id_;
  bool authenticated_ = false;
  auth::Principal principal_;
  std::string object_;
  std::string request_id_;
};

}  // namespace mandant::controller::api

#endif  // MANDANT_CONTROLLER_API_RPC_CALL_H_
