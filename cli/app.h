#ifndef MANDANT_CLI_APP_H_
#define MANDANT_CLI_APP_H_

// mandantctl as a function: parses the command line, resolves the settings,
// calls the TenantService through a TenantClient and prints the result.
// mandantctl_main.cc only supplies the process environment, the real gRPC
// client and std::cout / std::cerr; tests supply a fake client.

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/command_line.h"
#include "cli/grpc_tenant_client.h"
#include "cli/settings.h"
#include "cli/tenant_client.h"
#include "cli/tenant_requests.h"

namespace mandant::cli {

// Creates the client once the settings are known (server, CA PEM and token
// already read and checked).
using TenantClientFactory = std::function<absl::StatusOr<std::unique_ptr<TenantClient>>(
    const GrpcTenantClientOptions& options)>;

struct RunOptions {
  Environment env;
  TenantClientFactory new_client = NewGrpcTenantClient;
  // Request ids for create when --request-id is not given.
  std::function<std::string()> new_request_id = NewRequestId;
  // Results go to `out`; errors, hints and notes to `err`. Not owned; must be
  // set.
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
};

// The commands and flags of mandantctl.
const CommandLineSpec& MandantctlCommandLine();

// Runs mandantctl with `args` (argv without the program name) and returns the
// exit code (see ExitCode in cli/rpc_error.h): 0 ok, 1 the server returned an
// error, 2 usage or configuration error (nothing was sent), 3 the server could
// not be reached or did not accept the credentials.
int RunMandantctl(const std::vector<std::string>& args, const RunOptions& options);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_APP_H_
