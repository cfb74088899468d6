#ifndef MANDANT_CLI_RPC_ERROR_H_
#define MANDANT_CLI_RPC_ERROR_H_

// How mandantctl reports a failed RPC and which exit code it ends with.

#include <string>

#include "grpcpp/support/status.h"

namespace mandant::cli {

// mandantctl's exit codes; docs/cli.md lists them for scripts.
enum ExitCode : int {
  kExitOk = 0,
  // The server answered with an error (not found, invalid argument, ...).
  kExitServerError = 1,
  // The command line or the configuration is wrong; nothing was sent.
  kExitUsage = 2,
  // The server could not be reached, TLS or the token could not be set up, or
  // the server did not accept the token.
  kExitUnreachable = 3,
};

// What the error rendering may mention besides the status itself.
struct RpcErrorContext {
  // HOST:PORT the client talked to.
  std::string server;
  // Where the bearer token came from, e.g. "--token-file /home/op/token";
  // empty when no token was sent. Never the token itself.
  std::string token_source;
  // Set instead of token_source when the call authenticated with a client
  // certificate, e.g. "client certificate /home/op/.config/mandant/client.crt
  // (from config file ...)".
  std::string client_cert_source;
};

// "OK", "INVALID_ARGUMENT", ... ; "CODE_<n>" for numbers outside the enum.
std::string StatusCodeName(grpc::StatusCode code);

// The text mandantctl prints to stderr for a failed RPC:
//   error: <CODE>: <message>
//     - <field>: <description>          (google.rpc.BadRequest)
//     - <type> <subject>: <description> (google.rpc.PreconditionFailure)
//     - <subject>: <description>        (google.rpc.QuotaFailure)
//   hint: ...                           (UNAUTHENTICATED, UNAVAILABLE,
//                                        UNIMPLEMENTED)
// An UNAVAILABLE from the server (its database is down) and one from gRPC on
// this side (no connection) get different hints.
// The details come from status.error_details(), a serialized google.rpc.Status;
// undecodable details are mentioned, not hidden. Server text is sanitized for
// the terminal. Ends with a newline.
std::string RenderRpcError(const grpc::Status& status, const RpcErrorContext& context);

// kExitUnreachable for UNAUTHENTICATED and for an UNAVAILABLE that did not
// come from the server (no connection), kExitServerError for any other
// failure, including an UNAVAILABLE the server answered with (it names a
// call id in a google.rpc.RequestInfo detail), kExitOk for OK.
ExitCode ExitCodeForRpcStatus(const grpc::Status& status);

// Whether a call that failed with `status` may still have done its work on
// the server (a timeout, a lost connection after the request was sent), so
// that a retry must reuse its request id. False for answers that say the
// request was refused, and for a channel that never connected.
bool OutcomeUnknown(const grpc::Status& status);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_RPC_ERROR_H_
