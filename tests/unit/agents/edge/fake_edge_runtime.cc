#include "tests/unit/agents/edge/fake_edge_runtime.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mandant::agent::testing {

absl::Status FakeEdgeNetworking::Check(const std::string& method, const std::string& netns,
                                       bool need_netns) {
  if (auto it = fail.find(method); it != fail.end()) return it->second;
  if (!IsEdgeNamespaceName(netns)) {
    return absl::InvalidArgumentError(absl::StrCat(netns, " is not an edge namespace name"));
  }
  if (need_netns && namespaces.count(netns) == 0) {
    return absl::NotFoundError(absl::StrCat("network namespace \"", netns, "\" does not exist"));
  }
  return absl::OkStatus();
}

void FakeEdgeNetworking::Journal(const std::string& method, const std::string& netns) {
  if (journal_ != nullptr) journal_->push_back(absl::StrCat("net.", method, " ", netns));
}

absl::StatusOr<std::vector<std::string>> FakeEdgeNetworking::ListNamespaces() {
  if (auto it = fail.find("ListNamespaces"); it != fail.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [name, ns] : namespaces) {
    if (IsEdgeNamespaceName(name)) names.push_back(name);
  }
  return names;
}

absl::Status FakeEdgeNetworking::EnsureNamespace(const std::string& netns) {
  if (absl::Status st = Check("EnsureNamespace", netns, false); !st.ok()) return st;
  if (namespaces.count(netns) != 0) return absl::OkStatus();
  Journal("EnsureNamespace", netns);
  namespaces[netns];
  ++changes;
  return absl::OkStatus();
}

absl::Status FakeEdgeNetworking::DeleteNamespace(const std::string& netns) {
  if (absl::Status st = Check("DeleteNamespace", netns, false); !st.ok()) return st;
  Journal("DeleteNamespace", netns);
  changes += static_cast<int>(namespaces.erase(netns));
  return absl::OkStatus();
}

absl::Status FakeEdgeNetworking::EnsureVeth(const std::string& netns, const EdgeVeth& veth) {
  if (absl::Status st = Check("EnsureVeth", netns); !st.ok()) return st;
  if (bridges.count(veth.bridge) == 0) {
    return absl::NotFoundError(absl::StrCat("bridge \"", veth.bridge, "\" does not exist"));
  }
  FakeEdgeNamespace& ns = namespaces[netns];
  auto it = ns.veths.find(veth.namespace_link);
  if (it != ns.veths.end() && it->second.host_link == veth.host_link &&
      it->second.bridge == veth.bridge && it->second.mtu == veth.mtu) {
    return absl::OkStatus();
  }
  Journal("EnsureVeth", netns);
  ns.veths[veth.namespace_link] = veth;
  ++changes;
  return absl::OkStatus();
}

absl::Status FakeEdgeNetworking::SetAddresses(const std::string& netns, const std::string& link,
                                              const std::vector<std::string>& wanted,
                                              const std::vector<std::string>& unmanaged) {
  if (absl::Status st = Check("SetAddresses", netns); !st.ok()) return st;
  FakeEdgeNamespace& ns = namespaces[netns];
  if (ns.veths.count(link) == 0) {
    return absl::NotFoundError(absl::StrCat("link \"", link, "\" does not exist in ", netns));
  }
  ns.unmanaged[link] = unmanaged;
  std::set<std::string> result(wanted.begin(), wanted.end());
  for (const std::string& present : ns.addresses[link]) {
    const std::string address = std::vector<std::string>(absl::StrSplit(present, '/'))[0];
    if (std::find(unmanaged.begin(), unmanaged.end(), address) != unmanaged.end()) {
      result.insert(present);
    }
  }
  if (result == ns.addresses[link]) return absl::OkStatus();
  Journal("SetAddresses", netns);
  ns.addresses[link] = std::move(result);
  ++changes;
  return absl::OkStatus();
}

absl::Status FakeEdgeNetworking::SetDefaultRoute(const std::string& netns, const std::string& link,
                                                 const std::string& gateway) {
  if (absl::Status st = Check("SetDefaultRoute", netns); !st.ok()) return st;
  FakeEdgeNamespace& ns = namespaces[netns];
  const std::string route = absl::StrCat("via ", gateway, " dev ", link, " onlink");
  if (ns.default_route == route) return absl::OkStatus();
  Journal("SetDefaultRoute", netns);
  ns.default_route = route;
  ++changes;
  return absl::OkStatus();
}

absl::Status FakeEdgeNetworking::EnableForwarding(const std::string& netns) {
  if (absl::Status st = Check("EnableForwarding", netns); !st.ok()) return st;
  FakeEdgeNamespace& ns = namespaces[netns];
  if (ns.forwarding) return absl::OkStatus();
  Journal("EnableForwarding", netns);
  ns.forwarding = true;
  ++changes;
  return absl::OkStatus();
}

absl::Status FakeEdgeNetworking::LoadRuleset(const std::string& netns, const std::string& ruleset,
                                             RulesetFormat) {
  if (absl::Status st = Check("LoadRuleset", netns); !st.ok()) return st;
  FakeEdgeNamespace& ns = namespaces[netns];
  if (ns.ruleset == ruleset) return absl::OkStatus();
  Journal("LoadRuleset", netns);
  ns.ruleset = ruleset;
  ++ns.ruleset_loads;
  ns.counters.clear();
  ++changes;
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, uint64_t>> FakeEdgeNetworking::ReadCounters(
    const std::string& netns, const std::string&) {
  if (absl::Status st = Check("ReadCounters", netns); !st.ok()) return st;
  const FakeEdgeNamespace& ns = namespaces[netns];
  if (ns.ruleset.empty()) return absl::NotFoundError("no table");
  return ns.counters;
}

absl::StatusOr<EnsureOutcome> FakeEdgeProcesses::Ensure(const std::string& netns,
                                                        EdgeProgram program,
                                                        const std::string& config,
                                                        const EdgeCommand& command) {
  if (auto it = fail_ensure.find(program); it != fail_ensure.end()) return it->second;
  if (!IsEdgeNamespaceName(netns)) return absl::InvalidArgumentError("not an edge namespace");
  if (net_ != nullptr && net_->namespaces.count(netns) == 0) {
    return absl::NotFoundError(absl::StrCat("network namespace \"", netns, "\" does not exist"));
  }
  const std::string what = absl::StrCat("proc.Ensure ", netns, " ", EdgeProgramName(program));
  auto& programs = edges[netns];
  auto it = programs.find(program);
  EnsureOutcome outcome;
  if (it == programs.end() || !it->second.running) {
    programs[program] = FakeEdgeProgram{config, command, next_pid_++, true};
    outcome = EnsureOutcome::kStarted;
  } else if (it->second.config == config && it->second.command.argv == command.argv) {
    outcome = EnsureOutcome::kUnchanged;
  } else if (program != EdgeProgram::kDnsmasq && it->second.command.argv == command.argv) {
    it->second.config = config;
    outcome = EnsureOutcome::kReloaded;
  } else {
    it->second = FakeEdgeProgram{config, command, next_pid_++, true};
    outcome = EnsureOutcome::kRestarted;
  }
  if (outcome != EnsureOutcome::kUnchanged) {
    ++changes;
    if (journal_ != nullptr) journal_->push_back(what);
  }
  outcomes.push_back(outcome);
  return outcome;
}

absl::Status FakeEdgeProcesses::StopProgram(const std::string& netns, EdgeProgram program) {
  auto it = edges.find(netns);
  if (it == edges.end() || it->second.erase(program) == 0) return absl::OkStatus();
  ++changes;
  if (journal_ != nullptr) {
    journal_->push_back(absl::StrCat("proc.StopProgram ", netns, " ", EdgeProgramName(program)));
  }
  return absl::OkStatus();
}

absl::Status FakeEdgeProcesses::Stop(const std::string& netns) {
  if (!fail_stop.ok()) return fail_stop;
  if (journal_ != nullptr) journal_->push_back(absl::StrCat("proc.Stop ", netns));
  changes += static_cast<int>(edges.erase(netns));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> FakeEdgeProcesses::ListEdges() {
  std::vector<std::string> names;
  for (const auto& [name, programs] : edges) names.push_back(name);
  return names;
}

std::vector<v1::EdgeProcess> FakeEdgeProcesses::List(const std::string& netns) {
  std::vector<v1::EdgeProcess> out;
  auto it = edges.find(netns);
  if (it == edges.end()) return out;
  for (const auto& [program, process] : it->second) {
    v1::EdgeProcess p;
    p.set_name(std::string(EdgeProgramName(program)));
    p.set_pid(process.pid);
    p.set_running(process.running);
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(),
            [](const v1::EdgeProcess& a, const v1::EdgeProcess& b) { return a.name() < b.name(); });
  return out;
}

absl::Status FakeEgressWatcher::Watch(const std::string& netns) {
  if (!fail_watch.ok()) return fail_watch;
  if (watched.insert(netns).second && journal_ != nullptr) {
    journal_->push_back(absl::StrCat("egress.Watch ", netns));
  }
  return absl::OkStatus();
}

void FakeEgressWatcher::Unwatch(const std::string& netns) {
  if (journal_ != nullptr) journal_->push_back(absl::StrCat("egress.Unwatch ", netns));
  watched.erase(netns);
  dropped.erase(netns);
}

std::vector<std::string> FakeEgressWatcher::Watched() const {
  return std::vector<std::string>(watched.begin(), watched.end());
}

uint64_t FakeEgressWatcher::Dropped(const std::string& netns) const {
  auto it = dropped.find(netns);
  return it == dropped.end() ? 0 : it->second;
}

}  // namespace mandant::agent::testing
