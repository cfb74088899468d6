#ifndef MANDANT_CLI_COMMAND_LINE_H_
#define MANDANT_CLI_COMMAND_LINE_H_

// A small, strict command-line parser for programs with subcommands
// ("mandantctl tenant create ID --flag value").
//
// absl flags are process-wide and know nothing of subcommands, so mandantctl
// describes its commands as data (CommandLineSpec) and parses argv against
// that description. Rules:
//   - Flags are written --name=value, --name value, or for flags with a short
//     name -o value, -o=value, -ovalue. Boolean flags take no value.
//   - Global flags are accepted anywhere; a command's own flags only after the
//     command words that name it.
//   - Every flag may be given at most once, except those marked repeatable,
//     which collect their values in order. Unknown flags, missing values and
//     a wrong number of positional arguments are errors that say what was
//     wrong and what is accepted.
//   - "--" ends the flags; everything after it is a positional argument.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mandant::cli {

struct FlagSpec {
  // Long name without the leading dashes, e.g. "display-name".
  std::string name;
  // Optional one-letter alias, e.g. 'o' for -o. '\0' for none.
  char short_name = '\0';
  // Placeholder for the value in usage text, e.g. "N". Empty for a boolean flag.
  std::string value_name;
  std::string help;
  // May be given more than once (--dns a --dns b); Invocation::GetAll returns
  // every value. Usage shows the value name followed by "...".
  bool repeatable = false;

  bool is_boolean() const { return value_name.empty(); }
};

struct CommandSpec {
  // The words that name the command, e.g. {"tenant", "create"}.
  std::vector<std::string> path;
  // Names of the positional arguments, all required, e.g. {"ID"}.
  std::vector<std::string> args;
  // One line for command lists.
  std::string summary;
  // Optional longer text for the command's own usage.
  std::string description;
  std::vector<FlagSpec> flags;
};

struct CommandLineSpec {
  std::string program;
  std::string summary;
  // Accepted with every command. Should include a boolean "help" flag.
  std::vector<FlagSpec> global_flags;
  std::vector<CommandSpec> commands;
  // Flags that are refused on purpose, with the reason and the alternative,
  // e.g. "token" -> "a token on the command line ends up in the shell
  // history; use --token-file". Checked before the unknown-flag error.
  std::map<std::string, std::string> refused_flags;
};

// The result of parsing. `command` points into the CommandLineSpec that was
// parsed against, which must outlive the Invocation.
struct Invocation {
  // The command words as given; names a group (e.g. {"tenant"}) or nothing
  // when no complete command was named.
  std::vector<std::string> words;
  // nullptr when `words` does not name a complete command (only possible
  // when `help` is set or no command word was given at all).
  const CommandSpec* command = nullptr;
  std::vector<std::string> args;
  // Flag long name -> value ("" for boolean flags); the first value of a
  // repeatable flag.
  std::map<std::string, std::string> flags;
  // Repeatable flag long name -> every value given, in order.
  std::map<std::string, std::vector<std::string>> repeated;
  // --help or -h was given; positional arguments were not checked.
  bool help = false;

  bool Has(absl::string_view flag) const;
  // The flag's value, or `fallback` when the flag was not given.
  std::string Get(absl::string_view flag, absl::string_view fallback = "") const;
  // Every value of the flag in the order given: those in `repeated`, else
  // the one in `flags`, else none.
  std::vector<std::string> GetAll(absl::string_view flag) const;
};

// Parses `argv` (without the program name) against `spec`.
// INVALID_ARGUMENT, with a message that names the offending word and lists
// what is valid, for an unknown command or flag, a missing
// value, a value on a boolean flag, a flag given twice that is not
// repeatable, or a wrong number of positional arguments.
// A missing command is not an error: the result has command == nullptr, and
// the caller prints the usage.
absl::StatusOr<Invocation> ParseCommandLine(const CommandLineSpec& spec,
                                            const std::vector<std::string>& argv);

// Usage text: for the whole program when `words` is empty, for a group of
// commands when `words` is a prefix of command paths, for one command when it
// names one. Ends with a newline.
std::string Usage(const CommandLineSpec& spec, const std::vector<std::string>& words);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_COMMAND_LINE_H_
