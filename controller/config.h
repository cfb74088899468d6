#ifndef MANDANT_CONTROLLER_CONFIG_H_
#define MANDANT_CONTROLLER_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "common/logging.h"
#include "controller/agents/agent_service.h"
#include "controller/edge/edge_settings.h"
#include "controller/pki/issuers.h"
#include "controller/store/database.h"
#include "controller/store/tenant_store.h"
#include "pki/kek.h"

namespace mandant::controller {

// mandantd's configuration file (YAML); docs/operations.md documents every key.
struct ControllerConfig {
  std::string listen = "127.0.0.1:7443";
  std::string metrics_listen = "127.0.0.1:9464";
  std::string tls_cert_file;
  std::string tls_key_file;
  // Names (DNS or IP) of the certificate mandantd issues itself when no
  // files are given: what clients dial.
  std::vector<std::string> tls_server_names = {"localhost", "127.0.0.1"};
  std::string database_conninfo;
  std::string database_password_file;
  int database_pool_size = 8;
  store::NetworkPools pools;
  std::string log_level = "info";
  logging::Format log_format = logging::Format::kText;
  absl::Duration shutdown_grace = absl::Seconds(10);
  // Mandant's PKI. The KEK comes from MANDANT_KEK or pki.kek_file; the
  // previous one, while `mandantd pki rotate-kek` has not run, from
  // MANDANT_PREVIOUS_KEK or pki.previous_kek_file.
  std::string kek_file;
  std::string previous_kek_file;
  PkiOptions pki;
  // Host agents' streams and certificates (agents.*).
  AgentServiceOptions agents;
  // Tenant edges (edge.*).
  EdgeSettings edge;
};

// Reads and checks the file. INVALID_ARGUMENT listing every bad key with what
// is allowed; unknown keys are errors too, so that typos do not go unnoticed.
absl::StatusOr<ControllerConfig> LoadConfig(const std::string& path);
absl::StatusOr<ControllerConfig> ParseConfig(const std::string& yaml_text);

// Database options from the config, with the password read from
// MANDANT_DB_PASSWORD or database.password_file (either may be absent when
// the server authenticates otherwise).
absl::StatusOr<store::DatabaseOptions> DatabaseOptionsFrom(const ControllerConfig& config);

// The KEK ring from the config: NOT_FOUND naming pki.kek_file and MANDANT_KEK
// when no KEK is given; the errors of pki::Kek::Load otherwise.
absl::StatusOr<pki::KeyRing> KeyRingFrom(const ControllerConfig& config);

}  // namespace mandant::controller

#endif  // MANDANT_CONTROLLER_CONFIG_H_
