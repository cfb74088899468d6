#include "cli/settings.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

#include "common/files.h"
#include "common/secrets.h"
#include "common/status_macros.h"

namespace mandant::cli {
namespace {

constexpr const char* kEnvServer = "MANDANT_SERVER";
constexpr const char* kEnvCaFile = "MANDANT_CA_FILE";
constexpr const char* kEnvToken = "MANDANT_TOKEN";
constexpr const char* kEnvTokenFile = "MANDANT_TOKEN_FILE";
constexpr const char* kEnvClientCert = "MANDANT_CLIENT_CERT";
constexpr const char* kEnvClientKey = "MANDANT_CLIENT_KEY";
constexpr const char* kValidKeys = "server, ca_file, token_file, client_cert, client_key, output";

std::string EnvValue(const Environment& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? "" : it->second;
}

std::string CurrentDirectory() {
  char buf[4096];
  if (getcwd(buf, sizeof(buf)) == nullptr) return "";
  return buf;
}

// Resolves a path written in the config file at `config_path`.
std::string ConfigRelativePath(const std::string& value, const std::string& config_path,
                               const Environment& env) {
  if (value.empty() || value[0] == '/') return value;
  if (value == "~" || absl::StartsWith(value, "~/")) {
    std::string home = EnvValue(env, "HOME");
    if (!home.empty()) return absl::StrCat(home, value.substr(1));
  }
  std::string dir = Dirname(AbsolutePath(config_path));
  return dir.empty() ? value : absl::StrCat(dir == "/" ? "" : dir, "/", value);
}

bool IsHeaderSafe(const std::string& token) {
  for (unsigned char c : token) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

}  // namespace

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return absl::StrCat(CurrentDirectory(), "/", path);
}

absl::Status MakeDirectories(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create folder \"", dir, "\": a file of that name exists"));
  }
  std::string parent = Dirname(dir);
  if (parent != dir) MANDANT_RETURN_IF_ERROR(MakeDirectories(parent));
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create folder \"", dir, "\": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

Environment ProcessEnvironment() {
  Environment env;
  for (const char* name : {kEnvServer, kEnvCaFile, kEnvToken, kEnvTokenFile, kEnvClientCert,
                           kEnvClientKey, "XDG_CONFIG_HOME", "HOME"}) {
    if (const char* value = std::getenv(name); value != nullptr) env[name] = value;
  }
  return env;
}

absl::StatusOr<std::string> DefaultConfigPath(const Environment& env) {
  std::string xdg = EnvValue(env, "XDG_CONFIG_HOME");
  if (!xdg.empty()) return absl::StrCat(xdg, "/mandant/config.yaml");
  std::string home = EnvValue(env, "HOME");
  if (!home.empty()) return absl::StrCat(home, "/.config/mandant/config.yaml");
  return absl::FailedPreconditionError(
      "cannot find the default config file: neither XDG_CONFIG_HOME nor HOME is set");
}

absl::StatusOr<ConfigFile> ReadConfigFile(const std::string& path, const Environment& env) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    return absl::NotFoundError(absl::StrCat("config file \"", path, "\" does not exist"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot read config file \"", path, "\": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file \"", path, "\" is not valid YAML: ", e.what()));
  }
  ConfigFile config;
  if (root.IsNull()) return config;  // An empty file.
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file \"", path, "\" must be a mapping of keys ", kValidKeys));
  }
  for (const auto& entry : root) {
    const std::string key = entry.first.Scalar();
    if (!entry.second.IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config file \"", path, "\": key \"", key, "\" must have a string value"));
    }
    const std::string value = entry.second.Scalar();
    if (key == "server") {
      config.server = value;
    } else if (key == "ca_file") {
      config.ca_file = ConfigRelativePath(value, path, env);
    } else if (key == "token_file") {
      config.token_file = ConfigRelativePath(value, path, env);
    } else if (key == "client_cert") {
      config.client_cert = ConfigRelativePath(value, path, env);
    } else if (key == "client_key") {
      config.client_key = ConfigRelativePath(value, path, env);
    } else if (key == "output") {
      config.output = value;
    } else if (key == "token") {
      return absl::InvalidArgumentError(absl::StrCat(
          "config file \"", path,
          "\": key \"token\" is not accepted; put the token in a file readable only by you "
          "and name it with token_file"));
    } else {
      return absl::InvalidArgumentError(absl::StrCat("config file \"", path, "\": unknown key \"",
                                                     key, "\"; valid keys are ", kValidKeys));
    }
  }
  return config;
}

absl::Status WriteConfigFile(const std::string& path, const ConfigFile& config) {
  MANDANT_RETURN_IF_ERROR(MakeDirectories(Dirname(path)));
  YAML::Emitter out;
  out << YAML::BeginMap;
  const std::pair<const char*, const std::string*> keys[] = {
      {"server", &config.server},         {"ca_file", &config.ca_file},
      {"token_file", &config.token_file}, {"client_cert", &config.client_cert},
      {"client_key", &config.client_key}, {"output", &config.output}};
  bool any = false;
  for (const auto& [key, value] : keys) {
    if (value->empty()) continue;
    out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << *value;
    any = true;
  }
  out << YAML::EndMap;
  std::string text = any ? absl::StrCat(out.c_str(), "\n") : std::string("{}\n");

  return WriteFileAtomically(path, text, 0600);
}

std::string ClientSettings::TokenSource() const {
  if (!env_token.empty()) return kEnvToken;
  if (!token_file.value.empty()) {
    return absl::StrCat("token file ", token_file.value, " (from ", token_file.source, ")");
  }
  return "";
}

std::string ClientSettings::ClientCertificateSource() const {
  if (client_cert.value.empty()) return "";
  return absl::StrCat("client certificate ", client_cert.value, " (from ", client_cert.source, ")");
}

absl::StatusOr<ClientSettings> ResolveClientSettings(const Invocation& invocation,
                                                     const Environment& env) {
  ClientSettings settings;

  // The config file.
  ConfigFile config;
  if (invocation.Has("config")) {
    settings.config_path = invocation.Get("config");
    settings.config_explicit = true;
  } else if (absl::StatusOr<std::string> path = DefaultConfigPath(env); path.ok()) {
    settings.config_path = *path;
  }
  if (!settings.config_path.empty()) {
    absl::StatusOr<ConfigFile> read = ReadConfigFile(settings.config_path, env);
    if (read.ok()) {
      config = *std::move(read);
      settings.config_found = true;
    } else if (!absl::IsNotFound(read.status())) {
      return read.status();
    }
  }
  const std::string in_config = absl::StrCat("config file ", settings.config_path);

  // flag > environment > config file.
  auto pick = [&](const char* flag, const char* env_name, const std::string& config_value) {
    if (invocation.Has(flag)) return Setting{invocation.Get(flag), absl::StrCat("--", flag)};
    if (std::string v = EnvValue(env, env_name); !v.empty()) return Setting{v, env_name};
    if (!config_value.empty()) return Setting{config_value, in_config};
    return Setting{};
  };
  settings.server = pick("server", kEnvServer, config.server);
  settings.ca_file = pick("ca-file", kEnvCaFile, config.ca_file);

  // The token: --token-file > MANDANT_TOKEN > MANDANT_TOKEN_FILE > token_file.
  if (invocation.Has("token-file")) {
    settings.token_file = {invocation.Get("token-file"), "--token-file"};
  } else if (std::string v = EnvValue(env, kEnvToken); !v.empty()) {
    settings.env_token = v;
  } else {
    settings.token_file = pick("token-file", kEnvTokenFile, config.token_file);
  }

  // The client certificate and its key, as a pair from one kind of source.
  const std::string env_cert = EnvValue(env, kEnvClientCert);
  const std::string env_key = EnvValue(env, kEnvClientKey);
  if (invocation.Has("client-cert") || invocation.Has("client-key")) {
    if (!invocation.Has("client-cert") || !invocation.Has("client-key")) {
      return absl::InvalidArgumentError(
          "--client-cert and --client-key go together: give both, the certificate and its key");
    }
    settings.client_cert = {invocation.Get("client-cert"), "--client-cert"};
    settings.client_key = {invocation.Get("client-key"), "--client-key"};
  } else if (!env_cert.empty() || !env_key.empty()) {
    if (env_cert.empty() || env_key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kEnvClientCert, " and ", kEnvClientKey, " go together, but only ",
                       env_cert.empty() ? kEnvClientKey : kEnvClientCert, " is set"));
    }
    settings.client_cert = {env_cert, kEnvClientCert};
    settings.client_key = {env_key, kEnvClientKey};
  } else if (!config.client_cert.empty() || !config.client_key.empty()) {
    if (config.client_cert.empty() || config.client_key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(in_config, ": client_cert and client_key go together, but only ",
                       config.client_cert.empty() ? "client_key" : "client_cert",
                       " is set; run 'mandantctl login' to store both"));
    }
    settings.client_cert = {config.client_cert, in_config};
    settings.client_key = {config.client_key, in_config};
  }

  if (invocation.Has("output")) {
    MANDANT_ASSIGN_OR_RETURN(settings.output, ParseOutputFormat(invocation.Get("output")));
    settings.output_source = "--output";
  } else if (!config.output.empty()) {
    absl::StatusOr<OutputFormat> output = ParseOutputFormat(config.output);
    if (!output.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(in_config, ": ", output.status().message()));
    }
    settings.output = *output;
    settings.output_source = in_config;
  } else {
    settings.output_source = "default";
  }

  if (invocation.Has("timeout")) {
    const std::string text = invocation.Get("timeout");
    absl::Duration timeout;
    if (!absl::ParseDuration(text, &timeout) || timeout <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--timeout \"", text, "\" is not a positive duration; write e.g. 30s, 2m or 500ms"));
    }
    settings.timeout = timeout;
  }
  return settings;
}

absl::StatusOr<std::string> LoadToken(const ClientSettings& settings) {
  std::string token;
  if (!settings.env_token.empty()) {
    token = settings.env_token;
  } else if (!settings.token_file.value.empty()) {
    absl::StatusOr<std::string> read = ReadSecretFile(settings.token_file.value);
    if (!read.ok()) {
      return absl::Status(read.status().code(),
                          absl::StrCat(read.status().message(), " (token file from ",
                                       settings.token_file.source, ")"));
    }
    token = *std::move(read);
  } else {
    return std::string();
  }
  // Only the trailing newline is stripped by ReadSecretFile; "Bearer <token>"
  // must stay one header value.
  if (!IsHeaderSafe(token)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the token from ", settings.TokenSource(),
        " contains spaces or control characters; a bearer token is one word of printable ASCII"));
  }
  return token;
}

}  // namespace mandant::cli
