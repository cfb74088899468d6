#ifndef MANDANT_CLI_PKI_COMMANDS_H_
#define MANDANT_CLI_PKI_COMMANDS_H_

// `mandantctl pki ...` (certificates, CRLs, trust bundles, issuers and
// issuance policies of CertificateService) and `mandantctl login`.
//
// Private keys are generated in this process and leave it only into a file
// created with mode 0600 (cli/staged_file.h); only CSRs are sent, and no key
// is ever printed.

#include <string>
#include <vector>

#include "cli/command_context.h"
#include "cli/command_line.h"

namespace mandant::cli {

// The specs of the pki and login commands, for MandantctlCommandLine().
std::vector<CommandSpec> PkiCommandSpecs();

// Whether `path` names one of PkiCommandSpecs().
bool IsPkiCommand(const std::vector<std::string>& path);

// Runs the pki or login command that ctx.invocation() names and returns the
// exit code (cli/rpc_error.h ExitCode). Errors and notes go to ctx.err(),
// results to ctx.out().
int RunPkiCommand(CommandContext& ctx);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_PKI_COMMANDS_H_
