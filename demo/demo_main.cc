// mandant-demo: runs Mandant on this machine, everything under .demo/ in the
// repository (docs/demo.md). scripts/demo checks for root, installs the
// dependencies, builds, and then runs this program with its arguments.
//
// Usage: mandant-demo [start|stop|status|clean|db]

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "demo/demo.h"

ABSL_FLAG(std::string, repo, MANDANT_SOURCE_DIR, "the repository; the demo lives in <repo>/.demo");
ABSL_FLAG(std::string, mandantd, MANDANTD_PATH, "the mandantd binary");
ABSL_FLAG(std::string, mandantctl, MANDANTCTL_PATH, "the mandantctl binary");
ABSL_FLAG(std::string, agent, MANDANT_AGENT_PATH, "the mandant-agent binary");

namespace {

constexpr char kUsage[] = R"(mandant-demo [start|stop|status|clean|db]

  start   (default) start everything that does not run yet, create the demo
          tenant and host, and print how to use them; only reports when the
          demo runs already
  stop    stop the agent, mandantd (SIGTERM) and PostgreSQL; keeps data
  status  show what runs where
  clean   stop, then remove .demo/ and the demo host's network namespace
  db      only the PostgreSQL part of start)";

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::string command = args.size() > 1 ? args[1] : "start";
  if (args.size() > 2) {
    std::fprintf(stderr, "mandant-demo: error: one command only\n\n%s\n", kUsage);
    return 2;
  }
  // mandantd reads the database password from this variable before the file
  // named in its configuration; a value left in the caller's environment
  // would win.
  unsetenv("MANDANT_DB_PASSWORD");
  // Output of the steps and of the programs they run stays in order.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  mandant::demo::Demo demo({absl::GetFlag(FLAGS_repo), absl::GetFlag(FLAGS_mandantd),
                            absl::GetFlag(FLAGS_mandantctl), absl::GetFlag(FLAGS_agent)});
  absl::Status status;
  if (command == "start") {
    status = demo.Start();
  } else if (command == "stop") {
    status = demo.Stop();
  } else if (command == "status") {
    status = demo.Status();
  } else if (command == "clean") {
    status = demo.Clean();
  } else if (command == "db") {
    status = demo.StartDatabase();
  } else if (command == "help") {
    std::printf("%s\n", kUsage);
    return 0;
  } else {
    std::fprintf(stderr, "mandant-demo: error: unknown command \"%s\"\n\n%s\n", command.c_str(),
                 kUsage);
    return 2;
  }
  if (!status.ok()) {
    std::fprintf(stderr, "mandant-demo: error: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
