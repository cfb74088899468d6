#include "cli/command_line.h"

#include <algorithm>
#include <cstddef>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace mandant::cli {
namespace {

bool StartsWithPath(const std::vector<std::string>& path, const std::vector<std::string>& prefix) {
  return prefix.size() <= path.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

std::string CommandName(const CommandLineSpec& spec, const std::vector<std::string>& words) {
  if (words.empty()) return spec.program;
  return absl::StrCat(spec.program, " ", absl::StrJoin(words, " "));
}

std::string FlagDisplay(const FlagSpec& flag) { return absl::StrCat("--", flag.name); }

std::string FlagList(const std::vector<FlagSpec>& flags) {
  std::vector<std::string> names;
  for (const FlagSpec& f : flags) names.push_back(FlagDisplay(f));
  return absl::StrJoin(names, ", ");
}

// The words that may follow `words` to get closer to a command.
std::vector<std::string> NextWords(const CommandLineSpec& spec,
                                   const std::vector<std::string>& words) {
  std::vector<std::string> next;
  for (const CommandSpec& c : spec.commands) {
    if (c.path.size() > words.size() && StartsWithPath(c.path, words)) {
      const std::string& w = c.path[words.size()];
      if (std::find(next.begin(), next.end(), w) == next.end()) next.push_back(w);
    }
  }
  return next;
}

const FlagSpec* FindFlag(const std::vector<FlagSpec>& flags, absl::string_view long_name,
                         char short_name) {
  for (const FlagSpec& f : flags) {
    if (short_name != '\0' ? f.short_name == short_name : f.name == long_name) return &f;
  }
  return nullptr;
}

std::string SeeHelp(const CommandLineSpec& spec, const std::vector<std::string>& words) {
  return absl::StrCat(" (see '", CommandName(spec, words), " --help')");
}

std::string UnknownFlagError(const CommandLineSpec& spec, const Invocation& inv,
                             absl::string_view written) {
  std::string msg = absl::StrCat("unknown flag ", written);
  if (inv.command != nullptr) {
    absl::StrAppend(&msg, " for '", CommandName(spec, inv.command->path), "'; ");
    if (inv.command->flags.empty()) {
      absl::StrAppend(&msg, "the command has no flags of its own");
    } else {
      absl::StrAppend(&msg, "its flags are ", FlagList(inv.command->flags));
    }
    absl::StrAppend(&msg, ", and the global flags are ", FlagList(spec.global_flags));
  } else {
    absl::StrAppend(
        &msg, "; before a command only global flags are accepted: ", FlagList(spec.global_flags));
  }
  absl::StrAppend(&msg, SeeHelp(spec, inv.command != nullptr ? inv.command->path : inv.words));
  return msg;
}

constexpr size_t kLineWidth = 100;

// Two-column usage lines: `left` padded to `width`, then `right` wrapped at
// word boundaries to kLineWidth with continuation lines indented to `width`.
std::string Row(absl::string_view left, absl::string_view right, size_t width) {
  const size_t indent = width + 2;
  std::string out = absl::StrCat("  ", left);
  if (right.empty()) return absl::StrCat(out, "\n");
  if (out.size() >= indent) {
    absl::StrAppend(&out, "\n");
    out.append(indent, ' ');
  } else {
    out.resize(indent, ' ');
  }
  size_t column = indent;
  bool first = true;
  for (absl::string_view word : absl::StrSplit(right, ' ', absl::SkipEmpty())) {
    if (!first && column + 1 + word.size() > kLineWidth) {
      absl::StrAppend(&out, "\n", std::string(indent, ' '));
      column = indent;
      first = true;
    }
    if (!first) {
      out.push_back(' ');
      ++column;
    }
    absl::StrAppend(&out, word);
    column += word.size();
    first = false;
  }
  return absl::StrCat(out, "\n");
}

std::string FlagLeft(const FlagSpec& f) {
  std::string left;
  if (f.short_name != '\0') {
    left = absl::StrCat("-", std::string(1, f.short_name), ", ");
  }
  absl::StrAppend(&left, "--", f.name);
  if (!f.is_boolean()) absl::StrAppend(&left, " ", f.value_name, f.repeatable ? "..." : "");
  return left;
}

std::string FlagSection(absl::string_view title, const std::vector<FlagSpec>& flags) {
  if (flags.empty()) return "";
  size_t width = 0;
  for (const FlagSpec& f : flags) width = std::max(width, FlagLeft(f).size());
  width = std::min<size_t>(width + 2, 34);
  std::string out = absl::StrCat(title, ":\n");
  for (const FlagSpec& f : flags) absl::StrAppend(&out, Row(FlagLeft(f), f.help, width));
  return out;
}

std::string CommandLeft(const CommandSpec& c) {
  std::string left = absl::StrJoin(c.path, " ");
  for (const std::string& a : c.args) absl::StrAppend(&left, " ", a);
  return left;
}

std::string CommandSection(const CommandLineSpec& spec, const std::vector<std::string>& prefix) {
  std::vector<const CommandSpec*> matching;
  size_t width = 0;
  for (const CommandSpec& c : spec.commands) {
    if (!StartsWithPath(c.path, prefix)) continue;
    matching.push_back(&c);
    width = std::max(width, CommandLeft(c).size());
  }
  width = std::min<size_t>(width + 2, 34);
  std::string out = "Commands:\n";
  for (const CommandSpec* c : matching) {
    absl::StrAppend(&out, Row(CommandLeft(*c), c->summary, width));
  }
  return out;
}

}  // namespace

bool Invocation::Has(absl::string_view flag) const { return flags.count(std::string(flag)) > 0; }

std::string Invocation::Get(absl::string_view flag, absl::string_view fallback) const {
  auto it = flags.find(std::string(flag));
  return it == flags.end() ? std::string(fallback) : it->second;
}

std::vector<std::string> Invocation::GetAll(absl::string_view flag) const {
  if (auto it = repeated.find(std::string(flag)); it != repeated.end()) return it->second;
  if (auto it = flags.find(std::string(flag)); it != flags.end()) return {it->second};
  return {};
}

absl::StatusOr<Invocation> ParseCommandLine(const CommandLineSpec& spec,
                                            const std::vector<std::string>& argv) {
  Invocation inv;
  bool flags_ended = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& token = argv[i];
    if (!flags_ended && token == "--") {
      flags_ended = true;
      continue;
    }
    if (!flags_ended && token.size() > 1 && token[0] == '-') {
      // A flag: split into name and an optional inline value.
      std::string long_name;
      char short_name = '\0';
      std::optional<std::string> value;
      std::string written;
      if (absl::StartsWith(token, "--")) {
        absl::string_view body = absl::string_view(token).substr(2);
        size_t eq = body.find('=');
        long_name = std::string(body.substr(0, eq));
        if (eq != absl::string_view::npos) value = std::string(body.substr(eq + 1));
        written = absl::StrCat("--", long_name);
      } else {
        short_name = token[1];
        if (token.size() > 2) value = token.substr(token[2] == '=' ? 3 : 2);
        written = absl::StrCat("-", std::string(1, short_name));
      }
      if (short_name == '\0' && long_name.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("malformed flag \"", token, "\""));
      }
      if (auto refused = spec.refused_flags.find(long_name);
          short_name == '\0' && refused != spec.refused_flags.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag ", written, " is not accepted: ", refused->second));
      }
      const FlagSpec* flag = FindFlag(spec.global_flags, long_name, short_name);
      if (flag == nullptr && inv.command != nullptr) {
        flag = FindFlag(inv.command->flags, long_name, short_name);
      }
      if (flag == nullptr) {
        return absl::InvalidArgumentError(UnknownFlagError(spec, inv, written));
      }
      if (flag->is_boolean()) {
        if (value.has_value()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "flag --", flag->name, " takes no value, but was given \"", *value, "\""));
        }
        value = "";
      } else if (!value.has_value()) {
        if (i + 1 >= argv.size() || absl::StartsWith(argv[i + 1], "--")) {
          return absl::InvalidArgumentError(absl::StrCat(
              "flag --", flag->name, " needs a value: --", flag->name, " ", flag->value_name));
        }
        value = argv[++i];
      }
      if (flag->name == "help") inv.help = true;
      if (flag->repeatable) {
        inv.flags.emplace(flag->name, *value);
        inv.repeated[flag->name].push_back(*value);
        continue;
      }
      if (!inv.flags.emplace(flag->name, *value).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", flag->name, " is given more than once"));
      }
      continue;
    }
    if (inv.command != nullptr) {
      inv.args.push_back(token);
      continue;
    }
    // A command word.
    std::vector<std::string> next = NextWords(spec, inv.words);
    if (std::find(next.begin(), next.end(), token) == next.end()) {
      if (inv.words.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unknown command \"", token, "\"; commands are: ", absl::StrJoin(next, ", "),
            SeeHelp(spec, inv.words)));
      }
      return absl::InvalidArgumentError(
          absl::StrCat("unknown command \"", token, "\" for '", CommandName(spec, inv.words),
                       "'; valid: ", absl::StrJoin(next, ", "), SeeHelp(spec, inv.words)));
    }
    inv.words.push_back(token);
    for (const CommandSpec& c : spec.commands) {
      if (c.path == inv.words) inv.command = &c;
    }
  }
  if (inv.help || inv.command == nullptr) return inv;
  const std::vector<std::string>& want = inv.command->args;
  if (inv.args.size() != want.size()) {
    std::string expected =
        want.empty() ? "no arguments"
                     : absl::StrCat(want.size(), want.size() == 1 ? " argument (" : " arguments (",
                                    absl::StrJoin(want, " "), ")");
    std::string got = inv.args.empty() ? "none"
                                       : absl::StrCat(inv.args.size(), ": \"",
                                                      absl::StrJoin(inv.args, "\" \""), "\"");
    return absl::InvalidArgumentError(absl::StrCat("'", CommandName(spec, inv.command->path),
                                                   "' takes ", expected, ", got ", got,
                                                   SeeHelp(spec, inv.command->path)));
  }
  return inv;
}

std::string Usage(const CommandLineSpec& spec, const std::vector<std::string>& words) {
  const CommandSpec* command = nullptr;
  for (const CommandSpec& c : spec.commands) {
    if (c.path == words) command = &c;
  }
  if (command != nullptr) {
    std::string out = absl::StrCat("Usage: ", CommandName(spec, command->path));
    for (const std::string& a : command->args) absl::StrAppend(&out, " ", a);
    if (!command->flags.empty()) absl::StrAppend(&out, " [flags]");
    absl::StrAppend(&out, "\n\n", command->summary, "\n");
    if (!command->description.empty()) absl::StrAppend(&out, "\n", command->description, "\n");
    if (!command->flags.empty()) absl::StrAppend(&out, "\n", FlagSection("Flags", command->flags));
    absl::StrAppend(&out, "\n", FlagSection("Global flags", spec.global_flags));
    return out;
  }
  std::string out;
  if (words.empty()) {
    absl::StrAppend(&out, spec.program, ": ", spec.summary, "\n\n");
  }
  absl::StrAppend(&out, "Usage: ", CommandName(spec, words), " COMMAND [ARGS] [flags]\n\n",
                  CommandSection(spec, words), "\n", FlagSection("Global flags", spec.global_flags),
                  "\nRun '", spec.program, " COMMAND --help' for the flags of a command.\n");
  return out;
}

}  // namespace mandant::cli
