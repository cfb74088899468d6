#include "agents/agent/host_agent.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

#include "common/logging.h"

namespace mandant::agent {
namespace {

using google::protobuf::util::TimeUtil;

}  // namespace

absl::StatusOr<std::unique_ptr<HostAgent>> HostAgent::Start(Options options) {
  if (options.networks == nullptr || options.vms == nullptr || !options.report) {
    return absl::InvalidArgumentError("HostAgent needs networks, vms and report");
  }
  std::unique_ptr<HostAgent> agent(new HostAgent(std::move(options)));
  GuestStatusRelay::Options relay;
  HostAgent* self = agent.get();
  relay.on_change = [self](const std::string&, const v1::GuestProgress&) { self->GuestChanged(); };
  auto created = GuestStatusRelay::Create(std::move(relay));
  if (!created.ok()) return created.status();
  agent->relay_ = *std::move(created);
  agent->thread_ = std::thread([self] { self->Run(); });
  return agent;
}

HostAgent::HostAgent(Options options) : options_(std::move(options)) {}

HostAgent::~HostAgent() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  relay_.reset();
}

void HostAgent::SetSpec(const v1::HostSpec& spec) {
  absl::MutexLock lock(&mu_);
  if (spec_ && spec.version() < spec_->version()) return;
  spec_ = spec;
  spec_changed_ = true;
}

std::optional<v1::HostStatus> HostAgent::last_status() const {
  absl::MutexLock lock(&mu_);
  return last_status_;
}

void HostAgent::GuestChanged() {
  absl::MutexLock lock(&mu_);
  guest_changed_ = true;
}

void HostAgent::Run() {
  absl::Duration retry = options_.initial_retry;
  absl::Time next_pass = absl::InfiniteFuture();
  for (;;) {
    v1::HostSpec spec;
    bool reconcile = false;
    {
      absl::MutexLock lock(&mu_);
      auto woken = [this, &next_pass]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || spec_changed_ || guest_changed_ || (spec_ && absl::Now() >= next_pass);
      };
      while (!woken()) {
        const absl::Duration left = next_pass - absl::Now();
        mu_.AwaitWithTimeout(absl::Condition(&woken), std::min(left, absl::Milliseconds(500)));
      }
      if (stop_) return;
      reconcile = spec_changed_ || absl::Now() >= next_pass;
      spec_changed_ = false;
      guest_changed_ = false;
      if (reconcile) spec = *spec_;
    }
    if (reconcile) {
      const bool clean = Reconcile(spec);
      if (clean) {
        retry = options_.initial_retry;
        next_pass = absl::Now() + options_.resync_interval;
      } else {
        next_pass = absl::Now() + retry;
        retry = std::min(retry * 2, options_.max_retry);
      }
    }
    v1::HostStatus status;
    {
      absl::MutexLock lock(&mu_);
      status = BuildStatus();
      last_status_ = status;
    }
    options_.report(std::move(status));
  }
}

bool HostAgent::Reconcile(const v1::HostSpec& spec) {
  const absl::Time start = absl::Now();
  std::vector<v1::TenantNetworkSpec> networks(spec.networks().begin(), spec.networks().end());
  TenantNetworks::Result net = options_.networks->Reconcile(networks);
  absl::flat_hash_map<std::string, std::string> bridge_tenants;
  for (const v1::TenantNetworkSpec& n : spec.networks())
    bridge_tenants[n.bridge_name()] = n.tenant();
  // Edges after the networks (an edge joins its tenant's bridge) and before
  // the VMs (a booting VM finds its DHCP server and gateway in place).
  Edges::Result edges;
  if (options_.edges != nullptr) {
    std::vector<v1::EdgeSpec> edge_specs(spec.edges().begin(), spec.edges().end());
    edges = options_.edges->Reconcile(edge_specs, bridge_tenants);
  } else if (spec.edges_size() > 0) {
    edges.host_errors.push_back(
        absl::StrCat("the spec has ", spec.edges_size(), " edges, but this agent runs none"));
  }
  std::vector<v1::VmSpec> vm_specs(spec.vms().begin(), spec.vms().end());
  auto vms = options_.vms->Reconcile(vm_specs, spec.version(), bridge_tenants);

  bool clean = net.host_errors.empty() && edges.host_errors.empty();
  for (const auto& n : net.networks) clean = clean && n.error().empty();
  std::vector<std::string> host_errors = net.host_errors;
  host_errors.insert(host_errors.end(), edges.host_errors.begin(), edges.host_errors.end());
  absl::flat_hash_set<std::string> wanted_edges;
  for (const v1::EdgeSpec& e : spec.edges()) wanted_edges.insert(e.namespace_());
  for (const v1::EdgeStatus& e : edges.edges) {
    clean = clean && e.error().empty() && wanted_edges.contains(e.namespace_());
    if (!wanted_edges.contains(e.namespace_()) && !e.error().empty()) {
      // As for VMs: its edge rows are gone, so the leak is named on the host.
      host_errors.push_back(absl::StrCat(
          "edge ", e.namespace_(), " is not in the spec and could not be removed: ", e.error()));
    }
  }
  absl::flat_hash_map<std::string, std::string> targets;
  if (vms.ok()) {
    for (const v1::VmStatus& vm : *vms) {
      clean = clean && vm.error().empty() && vm.state() != v1::VM_STATE_DELETING;
      if (vm.state() == v1::VM_STATE_DELETING && !vm.error().empty()) {
        // Its machine row is gone, so no machine status would show it: a
        // leak is named on the host (not Ready) until a retry removes it.
        host_errors.push_back(absl::StrCat(
            "VM ", vm.machine_id(), " is not in the spec and could not be removed: ", vm.error()));
      }
      if (vm.state() == v1::VM_STATE_RUNNING) {
        targets[vm.machine_id()] = options_.vms->StatusSocketPath(vm.machine_id());
      }
    }
    relay_->SetTargets(std::move(targets));
  } else {
    clean = false;
    host_errors.push_back(absl::StrCat("VMs: ", vms.status().message()));
  }
  const long long millis = absl::ToInt64Milliseconds(absl::Now() - start);
  if (clean) {
    MANDANT_LOG(info, "host reconciled",
                {{"spec_version", static_cast<long long>(spec.version())},
                 {"networks", spec.networks_size()},
                 {"edges", spec.edges_size()},
                 {"vms", spec.vms_size()},
                 {"duration_ms", millis}});
  } else {
    MANDANT_LOG(warn, "host not yet as specified; retrying",
                {{"spec_version", static_cast<long long>(spec.version())},
                 {"host_errors", static_cast<int>(host_errors.size())},
                 {"duration_ms", millis}});
    // In full here: the status to mandantd carries them cut to its limits.
    for (const std::string& e : host_errors) MANDANT_LOG(warn, "host error", {{"error", e}});
  }
  absl::MutexLock lock(&mu_);
  applied_version_ = spec.version();
  networks_ = std::move(net.networks);
  edges_ = std::move(edges.edges);
  if (vms.ok()) vms_ = *std::move(vms);
  host_errors_ = std::move(host_errors);
  return clean;
}

namespace {

// What mandantd accepts in a HostStatus (controller/agents/
// agent_message_validation.h): a status over these limits is refused as a
// whole and the stream ends, so an overlong libvirt or kernel message would
// make the agent reconnect in a loop. Errors are cut here instead.
constexpr size_t kMaxReportedErrorBytes = 4096;
constexpr int kMaxReportedHostErrors = 64;
constexpr absl::string_view kCutMark = " [cut]";

// Cuts `text` to at most kMaxReportedErrorBytes at a UTF-8 character
// boundary (protobuf strings must stay valid UTF-8), marking the cut.
void CutError(std::string* text) {
  if (text->size() <= kMaxReportedErrorBytes) return;
  size_t end = kMaxReportedErrorBytes - kCutMark.size();
  // Back off continuation bytes (10xxxxxx) to the start of a character.
  while (end > 0 && (static_cast<unsigned char>((*text)[end]) & 0xC0) == 0x80) --end;
  text->resize(end);
  text->append(kCutMark.data(), kCutMark.size());
}

}  // namespace

v1::HostStatus HostAgent::BuildStatus() const {
  v1::HostStatus status;
  status.set_applied_spec_version(applied_version_);
  for (const auto& n : networks_) *status.add_networks() = n;
  for (const auto& vm : vms_) {
    v1::VmStatus* out = status.add_vms();
    *out = vm;
    if (auto guest = relay_->Latest(vm.machine_id())) *out->mutable_guest() = *guest;
  }
  for (const auto& e : edges_) *status.add_edges() = e;
  for (const auto& e : host_errors_) {
    if (status.host_errors_size() == kMaxReportedHostErrors - 1 &&
        static_cast<int>(host_errors_.size()) > kMaxReportedHostErrors) {
      status.add_host_errors(absl::StrCat(host_errors_.size() - status.host_errors_size(),
                                          " more errors; see the agent's log"));
      break;
    }
    status.add_host_errors(e);
  }
  for (auto& n : *status.mutable_networks()) CutError(n.mutable_error());
  for (auto& vm : *status.mutable_vms()) CutError(vm.mutable_error());
  for (auto& e : *status.mutable_edges()) CutError(e.mutable_error());
  for (auto& e : *status.mutable_host_errors()) CutError(&e);
  *status.mutable_observe_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now()));
  return status;
}

}  // namespace mandant::agent
