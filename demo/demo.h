#ifndef MANDANT_DEMO_DEMO_H_
#define MANDANT_DEMO_DEMO_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "tests/support/postgres_server.h"

namespace mandant::demo {

struct DemoOptions {
  // The repository; everything lives in <repo_dir>/.demo.
  std::string repo_dir;
  // The binaries, built by scripts/demo before the program runs.
  std::string mandantd;
  std::string mandantctl;
  std::string agent;
};

// The files under .demo/, as docs/demo.md lists them.
struct DemoFiles {
  explicit DemoFiles(const std::string& dir);
  const std::string state_file;
  const std::string tls_dir;
  const std::string secrets_dir;
  const std::string pg_data;
  const std::string pg_run;
  const std::string pg_log;
  const std::string db_password_file;
  const std::string token_file;
  const std::string kek_file;
  const std::string root_ca_file;
  const std::string pg_cert;
  const std::string pg_key;
  const std::string db_client_cert;
  const std::string db_client_key;
  const std::string mandantd_config;
  const std::string mandantctl_config;
  const std::string mandantd_pid_file;
  const std::string mandantd_log;
  const std::string agent_token_file;
  const std::string agent_pid_file;
  const std::string agent_log;
};

// Mandant on this machine, as docs/demo.md describes it: a private
// PostgreSQL (tests/support/postgres_server.h) in .demo/pg, mandantd, an
// operator token, a mandantctl configuration, the tenant "demo" and the host
// "hv1" (a network namespace, tests/support/netns.h) with mandant-agent.
//
// Each command may be run again after any failure or after the program was
// killed at any point: a step that fails undoes what it made (a mandantd
// that does not become healthy is stopped, half-issued certificates are
// removed, a half-made namespace is deleted and made again), and the next
// `Start` finds everything that is still usable and reuses it, the ports
// included when they are still free. Errors name the step, the file or
// command and the log to read. Needs root.
class Demo {
 public:
  explicit Demo(DemoOptions options);

  // Starts whatever does not run yet; only reports when everything runs.
  absl::Status Start();
  // Only PostgreSQL, with the role and database "mandant".
  absl::Status StartDatabase();
  // Stops the agent, mandantd and PostgreSQL; keeps the data.
  absl::Status Stop();
  // Prints what runs where.
  absl::Status Status();
  // Stops, deletes the namespace, then .demo/.
  absl::Status Clean();

 private:
  struct Ports {
    int pg = 0;
    int grpc = 0;
    int metrics = 0;
  };

  absl::Status CheckHost() const;
  void LoadState();
  absl::Status SaveState() const;
  absl::Status ChoosePorts(bool postgres_runs, bool mandantd_runs);
  absl::Status SetUpDatabase();
  bool DatabaseCertsUsable() const;
  std::string DatabaseConninfo() const;
  std::string PostgresSettings() const;
  std::string PostgresHba() const;
  testing::PostgresOptions DatabaseOptions() const;
  absl::Status WriteConfigs() const;
  absl::Status IssueDatabaseCerts();
  absl::Status EnsureNamespace();
  absl::Status StartMandantd();
  absl::Status WaitHealthy(int pid);
  absl::Status EnsureOperatorToken();
  absl::Status EnsureTenant();
  absl::Status EnsureHost();
  absl::Status StartAgent();
  bool HostReady();
  absl::StatusOr<std::string> Ctl(std::vector<std::string> args) const;
  absl::StatusOr<std::string> Mandantd(std::vector<std::string> args) const;
  int MandantdPid() const;
  int AgentPid() const;
  bool PostgresRuns() const;
  std::string AgentStateDir() const;
  void PrintSummary() const;

  const DemoOptions options_;
  const std::string dir_;  // .demo
  const DemoFiles files_;
  Ports ports_;
};

}  // namespace mandant::demo

#endif  // MANDANT_DEMO_DEMO_H_
