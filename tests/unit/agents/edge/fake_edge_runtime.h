#ifndef MANDANT_TESTS_UNIT_AGENTS_EDGE_FAKE_EDGE_RUNTIME_H_
#define MANDANT_TESTS_UNIT_AGENTS_EDGE_FAKE_EDGE_RUNTIME_H_

// In-memory stand-ins for the runtime of tenant edges (agents/edge/
// edge_namespace.h, edge_processes.h, egress_log.h), for tests of the edge
// reconciler. They keep the state a kernel and a process table would have,
// count every change, write every mutating call to a shared journal (to
// check order), and fail a named call on request. Not thread-safe: tests
// use them from one thread at a time.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "agents/edge/edge_namespace.h"
#include "agents/edge/edge_processes.h"
#include "agents/edge/egress_log.h"
#include "mandant/v1/agent.pb.h"

namespace mandant::agent::testing {

// What the fake kernel holds of one edge namespace.
struct FakeEdgeNamespace {
  // By namespace end ("inside", "outside").
  std::map<std::string, EdgeVeth> veths;
  // Link -> "address/length".
  std::map<std::string, std::set<std::string>> addresses;
  // Link -> the unmanaged addresses of the last SetAddresses.
  std::map<std::string, std::vector<std::string>> unmanaged;
  // "via GATEWAY dev LINK onlink", empty without.
  std::string default_route;
  bool forwarding = false;
  std::string ruleset;
  int ruleset_loads = 0;
  // Named counters of the loaded table.
  std::map<std::string, uint64_t> counters;
};

class FakeEdgeNetworking final : public EdgeNetworking {
 public:
  // `journal` (optional, not owned) receives "net.<Call> <netns>" for each
  // mutating call.
  explicit FakeEdgeNetworking(std::vector<std::string>* journal = nullptr) : journal_(journal) {}

  // The host's bridges; EnsureVeth needs its bridge here.
  std::set<std::string> bridges;
  // Namespaces under /run/netns, edge ones and others alike (ListNamespaces
  // lists those with the edge prefix, as the real one does).
  std::map<std::string, FakeEdgeNamespace> namespaces;
  // Method name ("EnsureNamespace", "LoadRuleset", ...) -> what it returns
  // instead of doing anything.
  std::map<std::string, absl::Status> fail;
  // Changes made to the fake kernel.
  int changes = 0;

  // agent::EdgeNetworking
  absl::StatusOr<std::vector<std::string>> ListNamespaces() override;
  absl::Status EnsureNamespace(const std::string& netns) override;
  absl::Status DeleteNamespace(const std::string& netns) override;
  absl::Status EnsureVeth(const std::string& netns, const EdgeVeth& veth) override;
  absl::Status SetAddresses(const std::string& netns, const std::string& link,
                            const std::vector<std::string>& wanted,
                            const std::vector<std::string>& unmanaged) override;
  absl::Status SetDefaultRoute(const std::string& netns, const std::string& link,
                               const std::string& gateway) override;
  absl::Status EnableForwarding(const std::string& netns) override;
  absl::Status LoadRuleset(const std::string& netns, const std::string& ruleset,
                           RulesetFormat format) override;
  absl::StatusOr<std::map<std::string, uint64_t>> ReadCounters(const std::string& netns,
                                                               const std::string& table) override;

 private:
  // The injected failure of `method`, else NOT_FOUND when `netns` is
  // missing (unless `need_netns` is false), else OK.
  absl::Status Check(const std::string& method, const std::string& netns, bool need_netns = true);
  void Journal(const std::string& method, const std::string& netns);

  std::vector<std::string>* const journal_;
};

// One program of one edge in the fake process table.
struct FakeEdgeProgram {
  std::string config;
  EdgeCommand command;
  int pid = 0;
  bool running = true;
};

class FakeEdgeProcesses final : public EdgeProcesses {
 public:
  // Ensure needs the namespace to exist in `net` (optional, not owned).
  explicit FakeEdgeProcesses(const FakeEdgeNetworking* net = nullptr,
                             std::vector<std::string>* journal = nullptr)
      : net_(net), journal_(journal) {}

  // netns -> program -> its process; an edge with an entry here has a
  // state directory (ListEdges).
  std::map<std::string, std::map<EdgeProgram, FakeEdgeProgram>> edges;
  // Ensure of a program returns this instead of running it.
  std::map<EdgeProgram, absl::Status> fail_ensure;
  absl::Status fail_stop;
  // Starts, restarts, reloads and stops.
  int changes = 0;
  // Every Ensure's outcome, in order.
  std::vector<EnsureOutcome> outcomes;

  // agent::EdgeProcesses
  absl::StatusOr<EnsureOutcome> Ensure(const std::string& netns, EdgeProgram program,
                                       const std::string& config,
                                       const EdgeCommand& command) override;
  absl::Status StopProgram(const std::string& netns, EdgeProgram program) override;
  absl::Status Stop(const std::string& netns) override;
  absl::StatusOr<std::vector<std::string>> ListEdges() override;
  std::vector<v1::EdgeProcess> List(const std::string& netns) override;

 private:
  const FakeEdgeNetworking* const net_;
  std::vector<std::string>* const journal_;
  int next_pid_ = 1000;
};

class FakeEgressWatcher final : public EgressWatcher {
 public:
  explicit FakeEgressWatcher(std::vector<std::string>* journal = nullptr) : journal_(journal) {}

  std::set<std::string> watched;
  // What Dropped returns per namespace (forgotten by Unwatch).
  std::map<std::string, uint64_t> dropped;
  absl::Status fail_watch;

  // agent::EgressWatcher
  absl::Status Watch(const std::string& netns) override;
  void Unwatch(const std::string& netns) override;
  std::vector<std::string> Watched() const override;
  uint64_t Dropped(const std::string& netns) const override;

 private:
  std::vector<std::string>* const journal_;
};

}  // namespace mandant::agent::testing

#endif  // MANDANT_TESTS_UNIT_AGENTS_EDGE_FAKE_EDGE_RUNTIME_H_
