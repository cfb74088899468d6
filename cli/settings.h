#ifndef MANDANT_CLI_SETTINGS_H_
#define MANDANT_CLI_SETTINGS_H_

// Where mandantctl finds its server, CA and credentials. Each setting comes
// from the first of these that has it:
//   1. the command line flag (--server, --ca-file, --token-file,
//      --client-cert, --client-key, -o),
//   2. the environment (MANDANT_SERVER, MANDANT_CA_FILE, MANDANT_TOKEN holding
//      the token itself, MANDANT_TOKEN_FILE, MANDANT_CLIENT_CERT,
//      MANDANT_CLIENT_KEY),
//   3. the config file (--config, else $XDG_CONFIG_HOME/mandant/config.yaml,
//      else $HOME/.config/mandant/config.yaml) with the keys server, ca_file,
//      token_file, client_cert, client_key, output.
// The client certificate and its key are one setting: both come from the
// first source that names either, and that source must name both.
// A token is never accepted as a flag value.

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "cli/command_line.h"
#include "cli/output.h"

namespace mandant::cli {

// Environment variables by name. Passed explicitly so that resolution is a
// pure function of its inputs.
using Environment = std::map<std::string, std::string>;

// The variables mandantctl reads (MANDANT_*, XDG_CONFIG_HOME, HOME), taken
// from the process environment.
Environment ProcessEnvironment();

// The contents of a config file. Empty strings are unset keys. Paths are
// absolute after ReadConfigFile.
struct ConfigFile {
  std::string server;
  std::string ca_file;
  std::string token_file;
  // PEM client certificate (leaf, then chain) and its private key, as
  // written by `mandantctl login`; both or neither.
  std::string client_cert;
  std::string client_key;
  std::string output;
};

// $XDG_CONFIG_HOME/mandant/config.yaml, else $HOME/.config/mandant/config.yaml.
// FAILED_PRECONDITION when neither variable is set.
absl::StatusOr<std::string> DefaultConfigPath(const Environment& env);

// Reads a config file. NOT_FOUND when it does not exist; INVALID_ARGUMENT,
// naming the file, for malformed YAML, a key that is not one of server,
// ca_file, token_file, client_cert, client_key, output, or a value that is
// not a string. Relative paths in ca_file, token_file, client_cert and
// client_key are taken relative to the file's folder, and a leading "~/"
// means $HOME.
absl::StatusOr<ConfigFile> ReadConfigFile(const std::string& path, const Environment& env);

// Writes `config` (unset keys are left out) to `path` with mode 0600,
// creating missing parent folders with mode 0700. The file is replaced
// atomically (written next to it, then renamed).
absl::Status WriteConfigFile(const std::string& path, const ConfigFile& config);

// Creates `dir` and its missing parents with mode 0700. FAILED_PRECONDITION
// when a file of that name is in the way, PERMISSION_DENIED when a folder
// cannot be created.
absl::Status MakeDirectories(const std::string& dir);

// The folder part of `path` ("" when it has none).
std::string Dirname(const std::string& path);

// `path` made absolute against the current directory.
std::string AbsolutePath(const std::string& path);

// A setting and where it came from, e.g. {"mandant:8443", "MANDANT_SERVER"}.
struct Setting {
  std::string value;
  std::string source;
};

struct ClientSettings {
  // The config file that was (or would have been) read, whether it was named
  // with --config, and whether it exists.
  std::string config_path;
  bool config_explicit = false;
  bool config_found = false;
  Setting server;
  // Empty value: trust the system's root certificates.
  Setting ca_file;
  // At most one of env_token and token_file is set: the one with the
  // highest precedence.
  std::string env_token;  // Secret; from MANDANT_TOKEN. Never printed.
  Setting token_file;
  // Paths of the client certificate and its key; both set (from the same
  // kind of source) or both empty. When set, calls authenticate with the
  // certificate (mTLS) and no token is sent.
  Setting client_cert;
  Setting client_key;
  OutputFormat output = OutputFormat::kTable;
  std::string output_source;
  absl::Duration timeout = absl::Seconds(30);

  // Describes where the token comes from without revealing it, e.g.
  // "token file /home/op/.mandant/token (from --token-file)" or
  // "MANDANT_TOKEN". Empty when no token is configured.
  std::string TokenSource() const;
  // Whether a client certificate is configured.
  bool HasClientCertificate() const { return !client_cert.value.empty(); }
  // E.g. "client certificate /home/op/.config/mandant/client.crt (from
  // config file ...)". Empty when none is configured.
  std::string ClientCertificateSource() const;
};

// Resolves the settings from the global flags in `invocation`, `env` and the
// config file. INVALID_ARGUMENT for an unusable --timeout or output format,
// a config file that cannot be parsed, or a source that names a client
// certificate without its key (or the reverse). A config file that does not exist
// is not an error (config_found is false); commands that need the file named
// by --config check that themselves. Does not read the CA or token files and
// does not require a server.
absl::StatusOr<ClientSettings> ResolveClientSettings(const Invocation& invocation,
                                                     const Environment& env);

// Reads the bearer token: MANDANT_TOKEN's value, or the token file through
// mandant::ReadSecretFile (which refuses files readable by group or others).
// Returns "" when no token is configured. Errors name the file, never the
// token; INVALID_ARGUMENT when the token contains characters that cannot be
// sent in an HTTP header.
absl::StatusOr<std::string> LoadToken(const ClientSettings& settings);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_SETTINGS_H_
