// mandantctl: the command-line client for operators and tenants.
// See docs/cli.md.

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "grpc/support/log.h"

#include "cli/app.h"
#include "cli/settings.h"

namespace {

// gRPC core logs failures such as a failed TLS handshake on its own; mandantctl
// reports them as one error with a hint, so core's lines are dropped unless the
// user asked for them with GRPC_VERBOSITY or GRPC_TRACE.
void DropGrpcLog(gpr_log_func_args* /*args*/) {}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("GRPC_VERBOSITY") == nullptr && std::getenv("GRPC_TRACE") == nullptr) {
    gpr_set_log_function(DropGrpcLog);
  }
  mandant::cli::RunOptions options;
  options.env = mandant::cli::ProcessEnvironment();
  options.out = &std::cout;
  options.err = &std::cerr;
  std::vector<std::string> args(argv + 1, argv + argc);
  int code = mandant::cli::RunMandantctl(args, options);
  std::cout.flush();
  return code;
}
