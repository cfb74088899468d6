#include "cli/settings.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"
#include "tests/unit/cli/temp_files.h"

namespace mandant::cli {
namespace {

using ::mandant::cli::testing::FileMode;
using ::mandant::cli::testing::ReadAll;
using ::mandant::cli::testing::TempDir;
using ::mandant::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

Invocation WithFlags(std::map<std::string, std::string> flags) {
  Invocation inv;
  inv.flags = std::move(flags);
  return inv;
}

class ResolveClientSettingsTest : public ::testing::Test {
 protected:
  // An environment whose default config file is in the temporary folder.
  Environment Env(std::map<std::string, std::string> extra = {}) const {
    Environment env = {{"XDG_CONFIG_HOME", dir_.path() + "/xdg"}, {"HOME", dir_.path()}};
    env.insert(extra.begin(), extra.end());
    return env;
  }
  std::string WriteDefaultConfig(const std::string& yaml) const {
    return dir_.WriteFile("xdg/mandant/config.yaml", yaml);
  }

  TempDir dir_;
};

TEST_F(ResolveClientSettingsTest, FlagBeatsEnvironmentBeatsConfigFile) {
  WriteDefaultConfig("server: from-file:1\nca_file: /file/ca.pem\noutput: yaml\n");

  absl::StatusOr<ClientSettings> file_only = ResolveClientSettings(WithFlags({}), Env());
  ASSERT_OK(file_only);
  EXPECT_EQ(file_only->server.value, "from-file:1");
  EXPECT_THAT(file_only->server.source, HasSubstr("config file"));
  EXPECT_EQ(file_only->ca_file.value, "/file/ca.pem");
  EXPECT_EQ(file_only->output, OutputFormat::kYaml);

  Environment env = Env({{"MANDANT_SERVER", "from-env:2"}, {"MANDANT_CA_FILE", "/env/ca.pem"}});
  absl::StatusOr<ClientSettings> with_env = ResolveClientSettings(WithFlags({}), env);
  ASSERT_OK(with_env);
  EXPECT_EQ(with_env->server.value, "from-env:2");
  EXPECT_EQ(with_env->server.source, "MANDANT_SERVER");
  EXPECT_EQ(with_env->ca_file.value, "/env/ca.pem");

  absl::StatusOr<ClientSettings> with_flag = ResolveClientSettings(
      WithFlags({{"server", "from-flag:3"}, {"ca-file", "/flag/ca.pem"}, {"output", "json"}}), env);
  ASSERT_OK(with_flag);
  EXPECT_EQ(with_flag->server.value, "from-flag:3");
  EXPECT_EQ(with_flag->server.source, "--server");
  EXPECT_EQ(with_flag->ca_file.value, "/flag/ca.pem");
  EXPECT_EQ(with_flag->output, OutputFormat::kJson);
}

TEST_F(ResolveClientSettingsTest, TokenPrecedence) {
  WriteDefaultConfig("token_file: /file/token\n");
  Environment env = Env();

  absl::StatusOr<ClientSettings> s = ResolveClientSettings(WithFlags({}), env);
  ASSERT_OK(s);
  EXPECT_EQ(s->token_file.value, "/file/token");

  env["MANDANT_TOKEN_FILE"] = "/env/token";
  s = ResolveClientSettings(WithFlags({}), env);
  ASSERT_OK(s);
  EXPECT_EQ(s->token_file.value, "/env/token");
  EXPECT_EQ(s->TokenSource(), "token file /env/token (from MANDANT_TOKEN_FILE)");

  env["MANDANT_TOKEN"] = "s3cret";
  s = ResolveClientSettings(WithFlags({}), env);
  ASSERT_OK(s);
  EXPECT_EQ(s->env_token, "s3cret");
  EXPECT_EQ(s->token_file.value, "");
  EXPECT_EQ(s->TokenSource(), "MANDANT_TOKEN");

  s = ResolveClientSettings(WithFlags({{"token-file", "/flag/token"}}), env);
  ASSERT_OK(s);
  EXPECT_EQ(s->env_token, "");
  EXPECT_EQ(s->token_file.value, "/flag/token");
  EXPECT_THAT(s->TokenSource(), Not(HasSubstr("s3cret")));
}

TEST_F(ResolveClientSettingsTest, ClientCertificatePairFlagBeatsEnvironmentBeatsConfigFile) {
  WriteDefaultConfig("client_cert: /file/c.crt\nclient_key: /file/c.key\ntoken_file: /file/t\n");
  absl::StatusOr<ClientSettings> s = ResolveClientSettings(WithFlags({}), Env());
  ASSERT_OK(s);
  EXPECT_TRUE(s->HasClientCertificate());
  EXPECT_EQ(s->client_cert.value, "/file/c.crt");
  EXPECT_EQ(s->client_key.value, "/file/c.key");
  EXPECT_THAT(s->client_cert.source, HasSubstr("config file"));
  EXPECT_THAT(s->ClientCertificateSource(),
              AllOf(HasSubstr("client certificate /file/c.crt"), HasSubstr("config file")));
  // The token stays configured; which one is sent is the caller's choice.
  EXPECT_EQ(s->token_file.value, "/file/t");

  Environment env =
      Env({{"MANDANT_CLIENT_CERT", "/env/c.crt"}, {"MANDANT_CLIENT_KEY", "/env/c.key"}});
  s = ResolveClientSettings(WithFlags({}), env);
  ASSERT_OK(s);
  EXPECT_EQ(s->client_cert.value, "/env/c.crt");
  EXPECT_EQ(s->client_key.value, "/env/c.key");
  EXPECT_EQ(s->client_key.source, "MANDANT_CLIENT_KEY");

  s = ResolveClientSettings(
      WithFlags({{"client-cert", "/flag/c.crt"}, {"client-key", "/flag/c.key"}}), env);
  ASSERT_OK(s);
  EXPECT_EQ(s->client_cert.value, "/flag/c.crt");
  EXPECT_EQ(s->client_key.value, "/flag/c.key");
  EXPECT_EQ(s->client_cert.source, "--client-cert");

  // Empty flags switch the certificate off for one command.
  s = ResolveClientSettings(WithFlags({{"client-cert", ""}, {"client-key", ""}}), env);
  ASSERT_OK(s);
  EXPECT_FALSE(s->HasClientCertificate());
}

TEST_F(ResolveClientSettingsTest, ClientCertificateAndKeyComeFromTheSameSource) {
  // A key from the environment never pairs with a certificate from the file.
  WriteDefaultConfig("client_cert: /file/c.crt\nclient_key: /file/c.key\n");
  absl::StatusOr<ClientSettings> s =
      ResolveClientSettings(WithFlags({}), Env({{"MANDANT_CLIENT_KEY", "/env/c.key"}}));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          "MANDANT_CLIENT_CERT and MANDANT_CLIENT_KEY go together, but only "
                          "MANDANT_CLIENT_KEY is set"));
  s = ResolveClientSettings(WithFlags({{"client-cert", "/flag/c.crt"}}), Env());
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, "--client-key"));

  WriteDefaultConfig("client_cert: /file/c.crt\n");
  s = ResolveClientSettings(WithFlags({}), Env());
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          "client_cert and client_key go together, but only client_cert is set"));
}

TEST_F(ResolveClientSettingsTest, ExplicitConfigFileWins) {
  WriteDefaultConfig("server: default:1\n");
  std::string other = dir_.WriteFile("other.yaml", "server: other:2\n");
  absl::StatusOr<ClientSettings> s = ResolveClientSettings(WithFlags({{"config", other}}), Env());
  ASSERT_OK(s);
  EXPECT_EQ(s->server.value, "other:2");
  EXPECT_EQ(s->config_path, other);
  EXPECT_TRUE(s->config_explicit);
  EXPECT_TRUE(s->config_found);
}

TEST_F(ResolveClientSettingsTest, MissingConfigFileIsNoError) {
  absl::StatusOr<ClientSettings> s = ResolveClientSettings(WithFlags({}), Env());
  ASSERT_OK(s);
  EXPECT_FALSE(s->config_found);
  EXPECT_EQ(s->config_path, dir_.path() + "/xdg/mandant/config.yaml");
  EXPECT_EQ(s->server.value, "");
  EXPECT_EQ(s->output, OutputFormat::kTable);
  EXPECT_EQ(s->timeout, absl::Seconds(30));
}

TEST_F(ResolveClientSettingsTest, TimeoutIsParsedAndMustBePositive) {
  absl::StatusOr<ClientSettings> s =
      ResolveClientSettings(WithFlags({{"timeout", "1m30s"}}), Env());
  ASSERT_OK(s);
  EXPECT_EQ(s->timeout, absl::Seconds(90));

  for (const char* bad : {"30", "0s", "-5s", "soon"}) {
    absl::StatusOr<ClientSettings> r = ResolveClientSettings(WithFlags({{"timeout", bad}}), Env());
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("is not a positive duration")) << bad;
  }
}

TEST_F(ResolveClientSettingsTest, BadOutputInConfigNamesTheFile) {
  std::string path = WriteDefaultConfig("output: xml\n");
  absl::StatusOr<ClientSettings> s = ResolveClientSettings(WithFlags({}), Env());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), AllOf(HasSubstr(path), HasSubstr("\"xml\"")));
}

TEST(DefaultConfigPathTest, XdgThenHome) {
  EXPECT_EQ(*DefaultConfigPath({{"XDG_CONFIG_HOME", "/x"}, {"HOME", "/h"}}),
            "/x/mandant/config.yaml");
  EXPECT_EQ(*DefaultConfigPath({{"HOME", "/h"}}), "/h/.config/mandant/config.yaml");
  EXPECT_FALSE(DefaultConfigPath({}).ok());
}

TEST(ReadConfigFileTest, RejectsUnknownKeysAndTokens) {
  TempDir dir;
  std::string typo = dir.WriteFile("typo.yaml", "sever: x:1\n");
  absl::StatusOr<ConfigFile> r = ReadConfigFile(typo, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), AllOf(HasSubstr(typo), HasSubstr("unknown key \"sever\""),
                                          HasSubstr("server, ca_file, token_file, client_cert, "
                                                    "client_key, output")));

  std::string token = dir.WriteFile("token.yaml", "token: abc\n");
  r = ReadConfigFile(token, {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("\"token\" is not accepted"));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("abc")));
}

TEST(ReadConfigFileTest, MalformedYamlAndMissingFile) {
  TempDir dir;
  std::string bad = dir.WriteFile("bad.yaml", "server: [unclosed\n");
  EXPECT_EQ(ReadConfigFile(bad, {}).status().code(), absl::StatusCode::kInvalidArgument);
  std::string list = dir.WriteFile("list.yaml", "- a\n- b\n");
  EXPECT_EQ(ReadConfigFile(list, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadConfigFile(dir.path() + "/nope.yaml", {}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ReadConfigFileTest, RelativePathsAreRelativeToTheConfigFile) {
  TempDir dir;
  std::string path = dir.WriteFile("conf/config.yaml",
                                   "ca_file: ca.pem\ntoken_file: ~/secrets/token\n"
                                   "client_cert: client.crt\nclient_key: ~/keys/client.key\n");
  absl::StatusOr<ConfigFile> c = ReadConfigFile(path, {{"HOME", "/home/op"}});
  ASSERT_OK(c);
  EXPECT_EQ(c->ca_file, dir.path() + "/conf/ca.pem");
  EXPECT_EQ(c->token_file, "/home/op/secrets/token");
  EXPECT_EQ(c->client_cert, dir.path() + "/conf/client.crt");
  EXPECT_EQ(c->client_key, "/home/op/keys/client.key");
}

TEST(WriteConfigFileTest, CreatesPrivateFileAndFoldersAndRoundTrips) {
  TempDir dir;
  std::string path = dir.path() + "/new/mandant/config.yaml";
  ConfigFile config;
  config.server = "mandant.example:8443";
  config.token_file = "/home/op/token";
  ASSERT_OK(WriteConfigFile(path, config));
  EXPECT_EQ(FileMode(path), 0600u);
  EXPECT_EQ(FileMode(dir.path() + "/new/mandant"), 0700u);

  absl::StatusOr<ConfigFile> read = ReadConfigFile(path, {});
  ASSERT_TRUE(read.ok()) << read.status() << "\n" << ReadAll(path);
  EXPECT_EQ(read->server, "mandant.example:8443");
  EXPECT_EQ(read->token_file, "/home/op/token");
  EXPECT_EQ(read->ca_file, "");

  // Client certificate keys round-trip too.
  config.client_cert = "/home/op/.config/mandant/client.crt";
  config.client_key = "/home/op/.config/mandant/client.key";
  ASSERT_OK(WriteConfigFile(path, config));
  read = ReadConfigFile(path, {});
  ASSERT_OK(read);
  EXPECT_EQ(read->client_cert, config.client_cert);
  EXPECT_EQ(read->client_key, config.client_key);

  // Replacing keeps the mode even if the old file was wider.
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  config.output = "json";
  ASSERT_OK(WriteConfigFile(path, config));
  EXPECT_EQ(FileMode(path), 0600u);
  EXPECT_EQ(ReadConfigFile(path, {})->output, "json");
}

TEST(LoadTokenTest, ReadsAPrivateTokenFile) {
  TempDir dir;
  ClientSettings settings;
  settings.token_file = {dir.WriteFile("token", "abc.def-ghi\n", 0600), "--token-file"};
  absl::StatusOr<std::string> token = LoadToken(settings);
  ASSERT_OK(token);
  EXPECT_EQ(*token, "abc.def-ghi");
}

TEST(LoadTokenTest, RefusesATokenFileOthersCanRead) {
  TempDir dir;
  for (mode_t mode : {0644, 0640, 0604}) {
    ClientSettings settings;
    std::string path = dir.WriteFile("token", "abc.def-ghi\n", mode);
    settings.token_file = {path, "MANDANT_TOKEN_FILE"};
    absl::StatusOr<std::string> token = LoadToken(settings);
    ASSERT_FALSE(token.ok()) << std::oct << mode;
    EXPECT_EQ(token.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(token.status().message(),
                AllOf(HasSubstr(path), HasSubstr("chmod 600"), HasSubstr("MANDANT_TOKEN_FILE")));
    EXPECT_THAT(token.status().message(), Not(HasSubstr("abc.def")));
  }
}

TEST(LoadTokenTest, EnvironmentTokenAndNoToken) {
  ClientSettings settings;
  EXPECT_EQ(*LoadToken(settings), "");
  settings.env_token = "from-env";
  EXPECT_EQ(*LoadToken(settings), "from-env");
}

TEST(LoadTokenTest, RejectsTokensThatCannotBeAHeader) {
  ClientSettings settings;
  settings.env_token = "two words";
  absl::StatusOr<std::string> token = LoadToken(settings);
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(token.status().message(), HasSubstr("MANDANT_TOKEN"));
  EXPECT_THAT(token.status().message(), Not(HasSubstr("two words")));
}

}  // namespace
}  // namespace mandant::cli
