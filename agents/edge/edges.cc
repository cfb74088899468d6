#include "agents/edge/edges.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

#include "agents/edge/config_checks.h"
#include "agents/edge/dnsmasq_config.h"
#include "agents/edge/edge_ruleset.h"
#include "agents/edge/haproxy_config.h"
#include "agents/edge/haproxy_stats.h"
#include "agents/edge/keepalived_config.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "tenants/cidr.h"
#include "tenants/edge_names.h"
#include "tenants/edge_validation.h"
#include "tenants/field_violations.h"

namespace mandant::agent {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxStateDirLength = 64;

const char* OutcomeText(EnsureOutcome outcome) {
  switch (outcome) {
    case EnsureOutcome::kUnchanged:
      return "unchanged";
    case EnsureOutcome::kAdopted:
      return "adopted";
    case EnsureOutcome::kStarted:
      return "started";
    case EnsureOutcome::kReloaded:
      return "reloaded";
    case EnsureOutcome::kRestarted:
      return "restarted";
  }
  return "unknown";
}

// Whether `name` is an edge namespace by Mandant's naming (docs/edge.md):
// what the agent may remove when no spec wants it.
bool IsMandantEdgeNamespace(const std::string& name) {
  std::optional<tenants::ParsedEdgeName> parsed = tenants::ParseEdgeName(name);
  return parsed.has_value() && parsed->object == tenants::EdgeObject::kNamespace;
}

// Writes `text` to `path` unless it holds exactly that already.
absl::Status WriteIfChanged(const std::string& path, const std::string& text, int mode) {
  absl::StatusOr<std::string> current = ReadFile(path);
  if (current.ok() && *current == text) return absl::OkStatus();
  return WriteFileAtomically(path, text, mode);
}

// Why `spec` must not be applied at all; OK when it may.
absl::Status Refusal(const v1::EdgeSpec& spec,
                     const absl::flat_hash_map<std::string, std::string>& bridge_tenants) {
  if (absl::Status invalid = tenants::ValidateEdgeSpec(spec).ToStatus(); !invalid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("refusing the EdgeSpec, nothing of it applied: ", invalid.message()));
  }
  // The worst bug there could be: one tenant's edge on another's network.
  auto bridge = bridge_tenants.find(spec.tenant_bridge());
  if (bridge == bridge_tenants.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing the EdgeSpec, nothing of it applied: tenant_bridge ",
                     spec.tenant_bridge(), " is not a tenant network of this host's spec"));
  }
  if (bridge->second != spec.tenant()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing the EdgeSpec, nothing of it applied: tenant_bridge ", spec.tenant_bridge(),
        " belongs to ", bridge->second, ", not to ", spec.tenant()));
  }
  return absl::OkStatus();
}

}  // namespace

EdgeFiles EdgeFilesOf(const std::string& state_dir, const std::string& netns) {
  EdgeFiles f;
  f.dir = absl::StrCat(state_dir, "/", netns);
  f.run = absl::StrCat(f.dir, "/run");
  f.tenant = absl::StrCat(f.dir, "/tenant");
  f.haproxy_socket = absl::StrCat(f.run, "/haproxy.sock");
  f.dnsmasq_leases = absl::StrCat(f.run, "/dnsmasq.leases");
  f.dnsmasq_pid = absl::StrCat(f.run, "/dnsmasq.pid");
  f.vrrp_state = absl::StrCat(f.run, "/vrrp.state");
  return f;
}

absl::StatusOr<std::unique_ptr<Edges>> Edges::Create(Options options) {
  if (options.networking == nullptr || options.processes == nullptr || options.egress == nullptr ||
      !options.command) {
    return absl::InvalidArgumentError("Edges needs networking, processes, egress and command");
  }
  while (options.state_dir.size() > 1 && options.state_dir.back() == '/') {
    options.state_dir.pop_back();
  }
  MANDANT_RETURN_IF_ERROR(CheckConfigPath(options.state_dir, "edge state_dir"));
  if (options.state_dir.size() > kMaxStateDirLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("edge state_dir ", options.state_dir, " is longer than ", kMaxStateDirLength,
                     " bytes: haproxy's stats socket below it would not fit a socket path"));
  }
  std::error_code ec;
  fs::create_directories(options.state_dir, ec);
  if (ec || chmod(options.state_dir.c_str(), 0700) != 0) {
    return absl::InternalError(absl::StrCat("creating the edge state directory ", options.state_dir,
                                            ": ", ec ? ec.message() : std::strerror(errno)));
  }
  if (!options.haproxy_stat) {
    options.haproxy_stat = [](const std::string& socket) { return QueryHaproxyStat(socket); };
  }
  std::unique_ptr<Edges> edges(new Edges(std::move(options)));
  // keepalived runs it as root and refuses a script that anyone else could
  // change: 0755 in the agent's 0700 directory.
  MANDANT_RETURN_IF_ERROR(WriteIfChanged(edges->notify_script_, KeepalivedNotifyScript(), 0755));
  if (chmod(edges->notify_script_.c_str(), 0755) != 0) {
    return absl::InternalError(
        absl::StrCat("chmod 0755 ", edges->notify_script_, ": ", std::strerror(errno)));
  }
  return edges;
}

Edges::Edges(Options options)
    : options_(std::move(options)),
      notify_script_(absl::StrCat(options_.state_dir, "/", kKeepalivedNotifyScriptName)) {}

Edges::Result Edges::Reconcile(
    const std::vector<v1::EdgeSpec>& desired,
    const absl::flat_hash_map<std::string, std::string>& bridge_tenants) {
  absl::MutexLock lock(&mu_);
  Result result;
  std::map<std::string, v1::EdgeStatus> statuses;
  std::map<std::string, int> listed;
  for (const v1::EdgeSpec& spec : desired) ++listed[spec.namespace_()];

  for (const v1::EdgeSpec& spec : desired) {
    const std::string& netns = spec.namespace_();
    if (listed[netns] > 1) {
      if (statuses.count(netns) != 0) continue;
      v1::EdgeStatus& status = statuses[netns];
      status.set_namespace_(netns);
      status.set_tenant(spec.tenant());
      status.set_error(absl::StrCat("namespace ", netns, " is listed ", listed[netns],
                                    " times in the HostSpec; none of them is applied"));
      continue;
    }
    if (absl::Status refused = Refusal(spec, bridge_tenants); !refused.ok()) {
      MANDANT_LOG(warn, "edge refused", {{"namespace", netns}, {"error", refused}});
      v1::EdgeStatus status = Observe(spec, /*applied=*/false);
      status.set_error(std::string(refused.message()));
      statuses[netns] = std::move(status);
      continue;
    }
    const absl::Status applied = Apply(spec);
    if (!applied.ok()) {
      MANDANT_LOG(warn, "edge not yet as specified", {{"namespace", netns}, {"error", applied}});
    }
    v1::EdgeStatus status = Observe(spec, /*applied=*/true);
    if (!applied.ok()) status.set_error(std::string(applied.message()));
    statuses[netns] = std::move(status);
  }

  // Every trace of an edge the spec does not want: its namespace, its
  // programs' state directory, its egress log.
  std::set<std::string> undesired;
  auto consider = [&](const std::string& name) {
    if (listed.count(name) == 0 && IsMandantEdgeNamespace(name)) undesired.insert(name);
  };
  if (absl::StatusOr<std::vector<std::string>> names = options_.networking->ListNamespaces();
      names.ok()) {
    for (const std::string& name : *names) consider(name);
  } else {
    result.host_errors.push_back(
        absl::StrCat("listing edge namespaces: ", names.status().message()));
  }
  if (absl::StatusOr<std::vector<std::string>> names = options_.processes->ListEdges();
      names.ok()) {
    for (const std::string& name : *names) consider(name);
  } else {
    result.host_errors.push_back(
        absl::StrCat("listing edge state directories: ", names.status().message()));
  }
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(options_.state_dir, ec)) {
    if (entry.is_directory()) consider(entry.path().filename().string());
  }
  if (ec) {
    result.host_errors.push_back(absl::StrCat("listing ", options_.state_dir, ": ", ec.message()));
  }
  for (const std::string& name : options_.egress->Watched()) consider(name);

  for (const std::string& netns : undesired) {
    v1::EdgeStatus& status = statuses[netns];
    status.set_namespace_(netns);
    // Read before the state directory goes.
    if (absl::StatusOr<std::string> tenant =
            ReadFile(EdgeFilesOf(options_.state_dir, netns).tenant);
        tenant.ok()) {
      status.set_tenant(std::string(absl::StripAsciiWhitespace(*tenant)));
    }
    const absl::Status removed = Remove(netns);
    if (removed.ok()) {
      MANDANT_LOG(info, "edge removed", {{"namespace", netns}, {"tenant", status.tenant()}});
    } else {
      MANDANT_LOG(warn, "edge not in the spec could not be removed",
                  {{"namespace", netns}, {"error", removed}});
      status.set_error(std::string(removed.message()));
    }
    for (v1::EdgeProcess& process : options_.processes->List(netns)) {
      *status.add_processes() = std::move(process);
    }
  }

  result.edges.reserve(statuses.size());
  for (auto& [netns, status] : statuses) result.edges.push_back(std::move(status));
  return result;
}

absl::Status Edges::Apply(const v1::EdgeSpec& spec) {
  const std::string& netns = spec.namespace_();
  const EdgeFiles files = EdgeFilesOf(options_.state_dir, netns);
  EdgeNetworking& net = *options_.networking;
  EdgeProcesses& processes = *options_.processes;

  // A segment id can come back to another tenant. Nothing of the former
  // tenant's edge may serve the new one (dnsmasq's lease file would answer
  // the old machines' names), so it is removed whole first.
  if (absl::StatusOr<std::string> owner = ReadFile(files.tenant);
      owner.ok() && absl::StripAsciiWhitespace(*owner) != spec.tenant()) {
    MANDANT_LOG(warn, "edge namespace belonged to another tenant; removing it first",
                {{"namespace", netns},
                 {"tenant", spec.tenant()},
                 {"former_tenant", std::string(absl::StripAsciiWhitespace(*owner))}});
    MANDANT_RETURN_IF_ERROR(Remove(netns));
  }
  std::error_code ec;
  fs::create_directories(files.dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("creating ", files.dir, ": ", ec.message()));
  }
  MANDANT_RETURN_IF_ERROR(WriteIfChanged(files.tenant, spec.tenant() + "\n", 0644));

  // The firewall is in place before any link joins the namespace.
  MANDANT_RETURN_IF_ERROR(net.EnsureNamespace(netns));
  MANDANT_RETURN_IF_ERROR(net.EnableForwarding(netns));
  MANDANT_ASSIGN_OR_RETURN(std::string ruleset, RenderEdgeRuleset(spec));
  MANDANT_RETURN_IF_ERROR(net.LoadRuleset(netns, ruleset, RulesetFormat::kText));
  MANDANT_RETURN_IF_ERROR(net.EnsureVeth(
      netns, EdgeVeth{spec.inside_link(), kEdgeInsideLink, spec.tenant_bridge(), spec.mtu()}));
  MANDANT_RETURN_IF_ERROR(net.EnsureVeth(
      netns, EdgeVeth{spec.outside_link(), kEdgeOutsideLink, spec.external_bridge(), /*mtu=*/0}));

  const bool redundant = spec.has_vrrp();
  if (!redundant) {
    // A copy that was redundant before: keepalived removes its virtual
    // addresses when it stops, so it goes before they become ours.
    for (const v1::EdgeProcess& process : processes.List(netns)) {
      if (process.name() == EdgeProgramName(EdgeProgram::kKeepalived)) {
        MANDANT_RETURN_IF_ERROR(processes.StopProgram(netns, EdgeProgram::kKeepalived));
      }
    }
  }

  std::vector<std::string> errors;
  auto note = [&errors](const absl::Status& status) {
    if (!status.ok()) errors.emplace_back(status.message());
  };
  // The spec is valid, so both networks parse.
  const int node_prefix = tenants::Cidr::Parse(spec.node_cidr())->prefix_length();
  const int external_prefix = tenants::Cidr::Parse(spec.external_cidr())->prefix_length();
  std::vector<std::string> inside = {absl::StrCat(spec.instance_address(), "/", node_prefix)};
  std::vector<std::string> outside;
  // The addresses that move with VRRP on a redundant edge.
  std::vector<std::string> inside_virtual = {spec.gateway_address()};
  std::vector<std::string> outside_virtual = {spec.egress_address()};
  for (const v1::EdgeEndpointSpec& endpoint : spec.endpoints()) {
    inside_virtual.push_back(endpoint.internal_address());
    outside_virtual.push_back(endpoint.external_address());
  }
  if (redundant) {
    note(net.SetAddresses(netns, kEdgeInsideLink, inside, inside_virtual));
    note(net.SetAddresses(netns, kEdgeOutsideLink, outside, outside_virtual));
  } else {
    for (const std::string& a : inside_virtual) inside.push_back(absl::StrCat(a, "/", node_prefix));
    for (const std::string& a : outside_virtual) {
      outside.push_back(absl::StrCat(a, "/", external_prefix));
    }
    note(net.SetAddresses(netns, kEdgeInsideLink, inside, {}));
    note(net.SetAddresses(netns, kEdgeOutsideLink, outside, {}));
  }
  note(net.SetDefaultRoute(netns, kEdgeOutsideLink, spec.external_gateway()));
  note(options_.egress->Watch(netns));

  auto ensure = [&](EdgeProgram program, const absl::StatusOr<std::string>& config) {
    if (!config.ok()) {
      note(config.status());
      return;
    }
    absl::StatusOr<EnsureOutcome> outcome =
        processes.Ensure(netns, program, *config, options_.command(program));
    if (!outcome.ok()) {
      note(outcome.status());
    } else if (*outcome != EnsureOutcome::kUnchanged) {
      MANDANT_LOG(info, "edge program",
                  {{"namespace", netns},
                   {"program", std::string(EdgeProgramName(program))},
                   {"outcome", OutcomeText(*outcome)}});
    }
  };
  DnsmasqConfigOptions dnsmasq;
  dnsmasq.lease_file = files.dnsmasq_leases;
  dnsmasq.pid_file = files.dnsmasq_pid;
  ensure(EdgeProgram::kDnsmasq, RenderDnsmasqConfig(spec, dnsmasq));
  HaproxyConfigOptions haproxy;
  haproxy.stats_socket = files.haproxy_socket;
  ensure(EdgeProgram::kHaproxy, RenderHaproxyConfig(spec, haproxy));
  if (redundant) {
    // Put back should anyone have removed or changed it.
    note(WriteIfChanged(notify_script_, KeepalivedNotifyScript(), 0755));
    KeepalivedConfigOptions keepalived;
    keepalived.notify_script = notify_script_;
    keepalived.state_file = files.vrrp_state;
    ensure(EdgeProgram::kKeepalived, RenderKeepalivedConfig(spec, keepalived));
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrJoin(errors, "; "));
}

absl::Status Edges::Remove(const std::string& netns) {
  // The egress log's socket would keep the namespace alive.
  options_.egress->Unwatch(netns);
  std::vector<std::string> errors;
  // Gracefully first (keepalived gives its addresses up); deleting the
  // namespace kills whatever is left in it.
  if (absl::Status st = options_.processes->Stop(netns); !st.ok())
    errors.emplace_back(st.message());
  if (absl::Status st = options_.networking->DeleteNamespace(netns); !st.ok()) {
    errors.emplace_back(st.message());
  }
  if (!errors.empty()) return absl::UnavailableError(absl::StrJoin(errors, "; "));
  const std::string dir = EdgeFilesOf(options_.state_dir, netns).dir;
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("removing ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

v1::EdgeStatus Edges::Observe(const v1::EdgeSpec& spec, bool applied) {
  const std::string& netns = spec.namespace_();
  v1::EdgeStatus status;
  status.set_namespace_(netns);
  status.set_tenant(spec.tenant());
  bool keepalived_running = false;
  for (v1::EdgeProcess& process : options_.processes->List(netns)) {
    keepalived_running =
        keepalived_running ||
        (process.name() == EdgeProgramName(EdgeProgram::kKeepalived) && process.running());
    *status.add_processes() = std::move(process);
  }
  if (applied && spec.has_vrrp()) {
    // A state file left by a keepalived that was killed says nothing.
    status.set_vrrp_state(keepalived_running ? ReadVrrpState(netns) : v1::VRRP_STATE_FAULT);
  }
  status.set_egress_events_dropped(options_.egress->Dropped(netns));
  if (!applied) return status;

  // Both sources are best effort: a haproxy that is starting or a table
  // that is not loaded yet shows as no healthy backend and no drops.
  std::map<std::string, uint64_t> counters;
  if (auto read = options_.networking->ReadCounters(netns, kEdgeTable); read.ok()) {
    counters = *std::move(read);
  }
  std::map<std::string, HaproxyBackendHealth> backends;
  if (auto stat = options_.haproxy_stat(EdgeFilesOf(options_.state_dir, netns).haproxy_socket);
      stat.ok()) {
    if (auto parsed = ParseHaproxyStat(*stat); parsed.ok()) backends = *std::move(parsed);
  }
  std::vector<const v1::EdgeEndpointSpec*> endpoints;
  for (const v1::EdgeEndpointSpec& endpoint : spec.endpoints()) endpoints.push_back(&endpoint);
  std::sort(endpoints.begin(), endpoints.end(),
            [](const auto* a, const auto* b) { return a->cluster() < b->cluster(); });
  for (const v1::EdgeEndpointSpec* endpoint : endpoints) {
    v1::EdgeEndpointStatus* out = status.add_endpoints();
    out->set_cluster(endpoint->cluster());
    out->set_backends(endpoint->backends_size());
    // The spec is valid, so the names exist.
    auto backend = backends.find(*HaproxyBackendName(endpoint->cluster()));
    if (backend != backends.end()) {
      out->set_backends(backend->second.servers);
      out->set_healthy_backends(backend->second.healthy);
    }
    auto counter = counters.find(*EdgeDropCounterName(endpoint->cluster()));
    if (counter != counters.end()) out->set_dropped_packets(counter->second);
  }
  return status;
}

v1::VrrpState Edges::ReadVrrpState(const std::string& netns) const {
  absl::StatusOr<std::string> text = ReadFile(EdgeFilesOf(options_.state_dir, netns).vrrp_state);
  if (!text.ok()) return v1::VRRP_STATE_FAULT;  // keepalived starting, or not running
  const absl::string_view state = absl::StripAsciiWhitespace(*text);
  if (state == "MASTER") return v1::VRRP_STATE_MASTER;
  if (state == "BACKUP") return v1::VRRP_STATE_BACKUP;
  return v1::VRRP_STATE_FAULT;  // FAULT, STOP, or anything unexpected
}

}  // namespace mandant::agent
