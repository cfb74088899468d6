#ifndef MANDANT_CLI_EDGE_COMMANDS_H_
#define MANDANT_CLI_EDGE_COMMANDS_H_

// `mandantctl tenant edge|egress-log|egress-policy ...`: a tenant's edge
// (EdgeService): its health, its egress log (with --follow, polled every two
// seconds until Ctrl-C) and its egress policy.

#include <string>
#include <vector>

#include "cli/command_context.h"
#include "cli/command_line.h"

namespace mandant::cli {

// The specs of the edge commands, for MandantctlCommandLine().
std::vector<CommandSpec> EdgeCommandSpecs();

// Whether `path` names one of EdgeCommandSpecs().
bool IsEdgeCommand(const std::vector<std::string>& path);

// Runs the edge command that ctx.invocation() names and returns the exit
// code (cli/rpc_error.h ExitCode). Errors and notes go to ctx.err(), results
// to ctx.out().
int RunEdgeCommand(CommandContext& ctx);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_EDGE_COMMANDS_H_
