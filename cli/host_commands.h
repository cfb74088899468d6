#ifndef MANDANT_CLI_HOST_COMMANDS_H_
#define MANDANT_CLI_HOST_COMMANDS_H_

// `mandantctl host ...`: the provider admin's commands of HostService
// (register hypervisor hosts, issue their agents' bootstrap tokens, cordon,
// uncordon, delete).
//
// A bootstrap token is a secret. With --out-token it goes only into a file
// created with mode 0600 (cli/staged_file.h) and is not printed; otherwise it
// is printed once on stdout, in a labelled line (or as the token field with
// -o json / yaml). It never goes to stderr.

#include <string>
#include <vector>

#include "cli/command_context.h"
#include "cli/command_line.h"

namespace mandant::cli {

// The specs of the host commands, for MandantctlCommandLine().
std::vector<CommandSpec> HostCommandSpecs();

// Whether `path` names one of HostCommandSpecs().
bool IsHostCommand(const std::vector<std::string>& path);

// Runs the host command that ctx.invocation() names and returns the exit code
// (cli/rpc_error.h ExitCode). Errors and notes go to ctx.err(), results to
// ctx.out().
int RunHostCommand(CommandContext& ctx);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_HOST_COMMANDS_H_
