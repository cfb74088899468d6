#ifndef MANDANT_CLI_APP_H_
#define MANDANT_CLI_APP_H_

// mandantctl as a function: parses the command line, resolves the settings,
// calls mandantd's TenantService, HostService or CertificateService through a
// client and prints the result. mandantctl_main.cc only supplies the process
// environment, the real gRPC clients and std::cout / std::cerr; tests supply
// fakes (RunOptions in cli/command_context.h).

#include <string>
#include <vector>

#include "cli/command_context.h"
#include "cli/command_line.h"

namespace mandant::cli {

// The commands and flags of mandantctl.
const CommandLineSpec& MandantctlCommandLine();

// Runs mandantctl with `args` (argv without the program name) and returns the
// exit code (see ExitCode in cli/rpc_error.h): 0 ok, 1 the server returned an
// error, 2 usage or configuration error (nothing was sent), 3 the server could
// not be reached or did not accept the credentials.
int RunMandantctl(const std::vector<std::string>& args, const RunOptions& options);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_APP_H_
