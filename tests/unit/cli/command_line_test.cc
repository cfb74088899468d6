#include "cli/command_line.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::cli {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

CommandLineSpec TestSpec() {
  CommandLineSpec spec;
  spec.program = "prog";
  spec.summary = "a test program";
  spec.global_flags = {{"server", '\0', "HOST:PORT", "where"},
                       {"output", 'o', "FORMAT", "how"},
                       {"help", 'h', "", "help"}};
  spec.commands = {
      {{"tenant", "create"},
       {"ID"},
       "Create",
       "",
       {{"display-name", '\0', "TEXT", "name"}, {"max-nodes", '\0', "N", "nodes"}}},
      {{"tenant", "list"}, {}, "List", "", {{"all", '\0', "", "every page"}}},
      {{"version"}, {}, "Version", "", {}},
  };
  spec.refused_flags["token"] = "use --token-file";
  return spec;
}

absl::StatusOr<Invocation> Parse(const CommandLineSpec& spec, std::vector<std::string> argv) {
  return ParseCommandLine(spec, argv);
}

TEST(ParseCommandLineTest, AcceptsValuesWithEqualsOrAsNextWord) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> inv =
      Parse(spec, {"tenant", "create", "acme", "--display-name=Acme Corp", "--max-nodes", "7"});
  ASSERT_OK(inv);
  ASSERT_NE(inv->command, nullptr);
  EXPECT_THAT(inv->command->path, ElementsAre("tenant", "create"));
  EXPECT_THAT(inv->args, ElementsAre("acme"));
  EXPECT_THAT(inv->flags,
              UnorderedElementsAre(Pair("display-name", "Acme Corp"), Pair("max-nodes", "7")));
}

TEST(ParseCommandLineTest, GlobalFlagsMayComeBeforeOrAfterTheCommand) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> inv =
      Parse(spec, {"--server", "h:1", "tenant", "-o", "json", "list", "--all"});
  ASSERT_OK(inv);
  EXPECT_EQ(inv->Get("server"), "h:1");
  EXPECT_EQ(inv->Get("output"), "json");
  EXPECT_TRUE(inv->Has("all"));
  EXPECT_EQ(inv->Get("all"), "");
}

TEST(ParseCommandLineTest, ShortFlagForms) {
  CommandLineSpec spec = TestSpec();
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"version", "-o", "yaml"}, {"version", "-o=yaml"}, {"version", "-oyaml"}}) {
    absl::StatusOr<Invocation> inv = Parse(spec, argv);
    ASSERT_OK(inv);
    EXPECT_EQ(inv->Get("output"), "yaml") << argv.back();
  }
}

TEST(ParseCommandLineTest, AnEmptyValueIsAValue) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> inv = Parse(spec, {"tenant", "create", "acme", "--display-name="});
  ASSERT_OK(inv);
  EXPECT_TRUE(inv->Has("display-name"));
  EXPECT_EQ(inv->Get("display-name", "fallback"), "");
}

TEST(ParseCommandLineTest, UnknownFlagIsNamedWithTheValidOnes) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> inv = Parse(spec, {"tenant", "create", "acme", "--max-node", "3"});
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(inv.status().message(),
              AllOf(HasSubstr("unknown flag --max-node"), HasSubstr("prog tenant create"),
                    HasSubstr("--display-name, --max-nodes"), HasSubstr("--server, --output")));
}

TEST(ParseCommandLineTest, CommandFlagsAreNotAcceptedBeforeTheCommand) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> inv = Parse(spec, {"--all", "tenant", "list"});
  ASSERT_FALSE(inv.ok());
  EXPECT_THAT(inv.status().message(),
              AllOf(HasSubstr("unknown flag --all"), HasSubstr("only global flags")));
}

TEST(ParseCommandLineTest, FlagsOfOtherCommandsAreRejected) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> inv = Parse(spec, {"tenant", "list", "--display-name", "x"});
  ASSERT_FALSE(inv.ok());
  EXPECT_THAT(inv.status().message(), HasSubstr("unknown flag --display-name"));
}

TEST(ParseCommandLineTest, MissingValueIsAnError) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> at_end = Parse(spec, {"tenant", "list", "--server"});
  ASSERT_FALSE(at_end.ok());
  EXPECT_THAT(at_end.status().message(),
              HasSubstr("flag --server needs a value: --server HOST:PORT"));

  // A following flag is not taken as the value.
  absl::StatusOr<Invocation> before_flag = Parse(spec, {"tenant", "list", "--server", "--all"});
  ASSERT_FALSE(before_flag.ok());
  EXPECT_THAT(before_flag.status().message(), HasSubstr("flag --server needs a value"));
}

TEST(ParseCommandLineTest, BooleanFlagTakesNoValue) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> inv = Parse(spec, {"tenant", "list", "--all=true"});
  ASSERT_FALSE(inv.ok());
  EXPECT_THAT(inv.status().message(), HasSubstr("--all takes no value"));
}

TEST(ParseCommandLineTest, FlagGivenTwiceIsAnError) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> inv =
      Parse(spec, {"--server", "a:1", "tenant", "list", "--server=b:2"});
  ASSERT_FALSE(inv.ok());
  EXPECT_THAT(inv.status().message(), HasSubstr("--server is given more than once"));
}

TEST(ParseCommandLineTest, RepeatableFlagsCollectEveryValueInOrder) {
  CommandLineSpec spec = TestSpec();
  FlagSpec dns{"dns", '\0', "NAME", "a name"};
  dns.repeatable = true;
  spec.commands.push_back({{"issue"}, {}, "Issue", "", {dns}});
  absl::StatusOr<Invocation> inv = Parse(spec, {"issue", "--dns", "a", "--dns=b", "--dns", ""});
  ASSERT_OK(inv);
  EXPECT_THAT(inv->GetAll("dns"), ElementsAre("a", "b", ""));
  EXPECT_TRUE(inv->Has("dns"));
  EXPECT_EQ(inv->Get("dns"), "a");
  EXPECT_THAT(inv->GetAll("server"), ::testing::IsEmpty());

  // Flags that are not repeatable still refuse a second value; GetAll gives
  // their one value.
  inv = Parse(spec, {"issue", "--server", "h:1"});
  ASSERT_OK(inv);
  EXPECT_THAT(inv->GetAll("server"), ElementsAre("h:1"));
  EXPECT_THAT(Usage(spec, {"issue"}), HasSubstr("--dns NAME..."));
}

TEST(ParseCommandLineTest, RefusedFlagExplainsWhy) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> inv = Parse(spec, {"tenant", "list", "--token=secret"});
  ASSERT_FALSE(inv.ok());
  EXPECT_THAT(inv.status().message(), HasSubstr("--token is not accepted: use --token-file"));
  EXPECT_THAT(inv.status().message(), ::testing::Not(HasSubstr("secret")));
}

TEST(ParseCommandLineTest, WrongNumberOfArguments) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> none = Parse(spec, {"tenant", "create"});
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(),
              HasSubstr("'prog tenant create' takes 1 argument (ID), got none"));

  absl::StatusOr<Invocation> two = Parse(spec, {"tenant", "create", "a", "b"});
  ASSERT_FALSE(two.ok());
  EXPECT_THAT(two.status().message(), HasSubstr("got 2: \"a\" \"b\""));

  absl::StatusOr<Invocation> extra = Parse(spec, {"tenant", "list", "x"});
  ASSERT_FALSE(extra.ok());
  EXPECT_THAT(extra.status().message(), HasSubstr("takes no arguments"));
}

TEST(ParseCommandLineTest, UnknownCommandListsTheValidOnes) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> top = Parse(spec, {"tenants"});
  ASSERT_FALSE(top.ok());
  EXPECT_THAT(top.status().message(),
              AllOf(HasSubstr("unknown command \"tenants\""), HasSubstr("tenant, version")));

  absl::StatusOr<Invocation> sub = Parse(spec, {"tenant", "remove", "acme"});
  ASSERT_FALSE(sub.ok());
  EXPECT_THAT(
      sub.status().message(),
      AllOf(HasSubstr("unknown command \"remove\" for 'prog tenant'"), HasSubstr("create, list")));
}

TEST(ParseCommandLineTest, HelpSkipsArgumentChecks) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> inv = Parse(spec, {"tenant", "create", "--help"});
  ASSERT_OK(inv);
  EXPECT_TRUE(inv->help);
  EXPECT_THAT(inv->words, ElementsAre("tenant", "create"));

  absl::StatusOr<Invocation> group = Parse(spec, {"tenant", "-h"});
  ASSERT_OK(group);
  EXPECT_TRUE(group->help);
  EXPECT_EQ(group->command, nullptr);
}

TEST(ParseCommandLineTest, IncompleteCommandIsReportedWithoutError) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> inv = Parse(spec, {"tenant"});
  ASSERT_OK(inv);
  EXPECT_EQ(inv->command, nullptr);
  EXPECT_THAT(inv->words, ElementsAre("tenant"));
}

TEST(ParseCommandLineTest, DoubleDashEndsFlags) {
  CommandLineSpec spec = TestSpec();
  absl::StatusOr<Invocation> inv = Parse(spec, {"tenant", "create", "--", "-odd"});
  ASSERT_OK(inv);
  EXPECT_THAT(inv->args, ElementsAre("-odd"));
  EXPECT_FALSE(inv->Has("output"));
}

TEST(UsageTest, CommandUsageListsItsFlagsAndTheGlobalOnes) {
  CommandLineSpec spec = TestSpec();
  std::string usage = Usage(spec, {"tenant", "create"});
  EXPECT_THAT(usage, AllOf(HasSubstr("Usage: prog tenant create ID [flags]"),
                           HasSubstr("--display-name TEXT"), HasSubstr("--max-nodes N"),
                           HasSubstr("Global flags:"), HasSubstr("-o, --output FORMAT")));
}

TEST(UsageTest, GroupUsageListsOnlyItsCommands) {
  CommandLineSpec spec = TestSpec();
  std::string usage = Usage(spec, {"tenant"});
  EXPECT_THAT(usage, AllOf(HasSubstr("tenant create ID"), HasSubstr("tenant list")));
  EXPECT_THAT(usage, ::testing::Not(HasSubstr("version")));
}

TEST(UsageTest, LongHelpIsWrapped) {
  CommandLineSpec spec = TestSpec();
  spec.global_flags[0].help = std::string(30, 'a') + " " + std::string(30, 'b') + " " +
                              std::string(30, 'c') + " " + std::string(30, 'd');
  std::string usage = Usage(spec, {});
  for (absl::string_view line : absl::StrSplit(usage, '\n')) {
    EXPECT_LE(line.size(), 100u) << line;
  }
  EXPECT_THAT(usage, HasSubstr(std::string(30, 'd')));
}

}  // namespace
}  // namespace mandant::cli
