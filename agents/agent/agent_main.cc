// mandant-agent: one per hypervisor host. Enrolls once with a bootstrap
// token, then keeps a stream to mandantd and makes the host's tenant
// networks, tenant edges and VMs match the desired state mandantd sends
// (agent.proto).
//
//   mandant-agent --controller mandant.example.net:8443 --host hv1
//     --underlay_address 192.0.2.11 --ca_file /etc/mandant/root.pem
//     --token_file /etc/mandant/bootstrap-token --state_dir /var/lib/mandant
//
// The token is needed only until the first enrollment; afterwards the
// agent authenticates with its client certificate in STATE_DIR/identity.

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"

#include "agents/agent/controller_session.h"
#include "agents/agent/host_agent.h"
#include "agents/agent/host_inventory.h"
#include "agents/agent/identity.h"
#include "agents/edge/edge_namespace.h"
#include "agents/edge/edge_processes.h"
#include "agents/edge/edges.h"
#include "agents/edge/egress_log.h"
#include "agents/network/libnl_netlink.h"
#include "agents/network/nftables_firewall.h"
#include "agents/network/tenant_networks.h"
#include "agents/vm/base_images.h"
#include "agents/vm/libvirt_hypervisor.h"
#include "agents/vm/vms.h"
#include "common/files.h"
#include "common/logging.h"

ABSL_FLAG(std::string, controller, "", "mandantd's gRPC address, host:port (required)");
ABSL_FLAG(std::string, host, "", "this host's id as registered with CreateHost (required)");
ABSL_FLAG(std::string, underlay_address, "",
          "this host's registered underlay address; the link holding it carries VXLAN (required)");
ABSL_FLAG(std::string, state_dir, "/var/lib/mandant-agent",
          "the agent's identity, VM disks and seeds, and the embedded libvirt root; at most 40 "
          "bytes (VM status sockets live below it)");
ABSL_FLAG(std::string, edge_state_dir, "/var/lib/mandant-agent/edges",
          "tenant edges' configurations, pidfiles, logs and sockets (created 0700); at most 64 "
          "bytes; keep it across agent restarts, so that running edges are adopted");
ABSL_FLAG(int, egress_queue_capacity, 10000,
          "egress events kept for mandantd at most; more are counted as dropped");
ABSL_FLAG(std::string, ca_file, "",
          "PEM of the Mandant root that verifies mandantd; needed to enroll");
ABSL_FLAG(std::string, token, "",
          "the one-time bootstrap token (visible in the process list: prefer --token_file or "
          "MANDANT_BOOTSTRAP_TOKEN)");
ABSL_FLAG(std::string, token_file, "", "a file holding the one-time bootstrap token");
ABSL_FLAG(std::string, libvirt_uri, "",
          "libvirt connection; default qemu:///embed?root=STATE_DIR/libvirt (use qemu:///system "
          "in production)");
ABSL_FLAG(std::string, image_dir, "", "base images (<name>.qcow2); default STATE_DIR/images");
ABSL_FLAG(std::string, domain_type, "qemu",
          "libvirt domain type: qemu (software emulation, works everywhere) or kvm");
ABSL_FLAG(int, reserve_vcpus, 1, "CPUs kept for the host itself");
ABSL_FLAG(int64_t, reserve_memory_mib, 1024, "memory kept for the host itself");
ABSL_FLAG(int64_t, reserve_disk_gib, 10, "disk kept for the host itself");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn or error");
ABSL_FLAG(std::string, log_format, "text", "text or json");

namespace mandant::agent {
namespace {

constexpr char kAgentVersion[] = "0.1.0";

[[noreturn]] void Die(absl::string_view what, const absl::Status& status) {
  MANDANT_LOG(critical, what, {{"error", status}});
  std::exit(1);
}

std::string Require(const absl::Flag<std::string>& flag, absl::string_view name) {
  std::string value = absl::GetFlag(flag);
  if (value.empty()) {
    Die("missing flag", absl::InvalidArgumentError(absl::StrCat("--", name, " is required")));
  }
  return value;
}

absl::StatusOr<std::string> BootstrapToken() {
  if (std::string token = absl::GetFlag(FLAGS_token); !token.empty()) return token;
  if (std::string file = absl::GetFlag(FLAGS_token_file); !file.empty()) {
    auto text = ReadFile(file);
    if (!text.ok()) return text.status();
    return std::string(absl::StripAsciiWhitespace(*text));
  }
  if (const char* env = std::getenv("MANDANT_BOOTSTRAP_TOKEN"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  return absl::FailedPreconditionError(
      "this agent has not enrolled yet: give it the host's bootstrap token with --token_file, "
      "--token or MANDANT_BOOTSTRAP_TOKEN, and the Mandant root with --ca_file");
}

absl::StatusOr<AgentIdentity> LoadOrEnroll(const std::string& state_dir,
                                           const std::string& controller, const std::string& host) {
  auto loaded = AgentIdentity::Load(state_dir);
  if (loaded.ok() || !absl::IsNotFound(loaded.status())) return loaded;
  auto token = BootstrapToken();
  if (!token.ok()) return token.status();
  const std::string ca_file = absl::GetFlag(FLAGS_ca_file);
  if (ca_file.empty()) {
    return absl::FailedPreconditionError("enrolling needs --ca_file, the Mandant root");
  }
  auto ca = ReadFile(ca_file);
  if (!ca.ok()) return ca.status();
  MANDANT_LOG(info, "enrolling", {{"controller", controller}, {"host", host}});
  return AgentIdentity::Enroll(state_dir, controller, host, *token, *ca);
}

int Main() {
  const std::string controller = Require(FLAGS_controller, "controller");
  const std::string host = Require(FLAGS_host, "host");
  const std::string underlay_address = Require(FLAGS_underlay_address, "underlay_address");
  std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  while (state_dir.size() > 1 && state_dir.back() == '/') state_dir.pop_back();
  if (mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    Die("cannot create the state directory",
        absl::InternalError(absl::StrCat(state_dir, ": ", std::strerror(errno))));
  }

  auto identity = LoadOrEnroll(state_dir, controller, host);
  if (!identity.ok()) Die("no identity", identity.status());

  auto netlink = LibnlNetlink::Create();
  if (!netlink.ok()) Die("netlink", netlink.status());
  auto underlay = FindUnderlay(**netlink, underlay_address);
  if (!underlay.ok()) Die("underlay", underlay.status());
  auto firewall = NftablesFirewall::Create();
  if (!firewall.ok()) Die("nftables", firewall.status());
  TenantNetworks::Options net_options;
  net_options.netlink = netlink->get();
  net_options.firewall = firewall->get();
  net_options.underlay_address = underlay_address;
  net_options.underlay_device = underlay->device;
  TenantNetworks networks(std::move(net_options));

  // Tenant edges: their processes outlive the agent and are adopted from
  // the pidfiles under the edge state directory by the next one.
  std::string edge_state_dir = absl::GetFlag(FLAGS_edge_state_dir);
  while (edge_state_dir.size() > 1 && edge_state_dir.back() == '/') edge_state_dir.pop_back();
  {
    std::error_code ec;
    std::filesystem::create_directories(edge_state_dir, ec);
    if (ec || chmod(edge_state_dir.c_str(), 0700) != 0) {
      Die("cannot create the edge state directory",
          absl::InternalError(
              absl::StrCat(edge_state_dir, ": ", ec ? ec.message() : std::strerror(errno))));
    }
  }
  auto edge_networking = KernelEdgeNetworking::Create();
  if (!edge_networking.ok()) Die("edge networking", edge_networking.status());
  SupervisedEdgeProcesses::Options process_options;
  process_options.state_dir = edge_state_dir;
  auto edge_processes = SupervisedEdgeProcesses::Create(std::move(process_options));
  if (!edge_processes.ok()) Die("edge processes", edge_processes.status());
  EgressLog::Options egress_options;
  egress_options.queue_capacity =
      static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_egress_queue_capacity)));
  auto egress_log = EgressLog::Create(std::move(egress_options));
  if (!egress_log.ok()) Die("egress log", egress_log.status());
  Edges::Options edge_options;
  edge_options.networking = edge_networking->get();
  edge_options.processes = edge_processes->get();
  edge_options.egress = egress_log->get();
  edge_options.state_dir = edge_state_dir;
  auto edges = Edges::Create(std::move(edge_options));
  if (!edges.ok()) Die("edges", edges.status());

  // libvirt prints its own warnings to stderr unless told otherwise; they
  // go to a file of their own so the agent's log stays structured.
  setenv("LIBVIRT_LOG_OUTPUTS", absl::StrCat("3:file:", state_dir, "/libvirt.log").c_str(),
         /*overwrite=*/0);
  std::string uri = absl::GetFlag(FLAGS_libvirt_uri);
  if (uri.empty()) uri = absl::StrCat("qemu:///embed?root=", state_dir, "/libvirt");
  if (absl::StartsWith(uri, "qemu:///embed?root=")) {
    absl::Status st = PrepareEmbeddedRoot(uri.substr(sizeof("qemu:///embed?root=") - 1));
    if (!st.ok()) Die("libvirt root", st);
  }
  auto hypervisor = LibvirtHypervisor::Open(uri);
  if (!hypervisor.ok()) Die("libvirt", hypervisor.status());
  auto versions = (*hypervisor)->GetVersions();
  if (!versions.ok()) Die("libvirt versions", versions.status());

  std::string image_dir = absl::GetFlag(FLAGS_image_dir);
  if (image_dir.empty()) image_dir = state_dir + "/images";
  // A new host has no images yet: an empty directory, not an error.
  if (mkdir(image_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    Die("cannot create the image directory",
        absl::InternalError(absl::StrCat(image_dir, ": ", std::strerror(errno))));
  }
  BaseImages images(image_dir);
  Vms::Options vm_options;
  vm_options.hypervisor = hypervisor->get();
  vm_options.base_images = &images;
  vm_options.state_dir = state_dir;
  vm_options.domain_type = absl::GetFlag(FLAGS_domain_type);
  auto vms = Vms::Create(std::move(vm_options));
  if (!vms.ok()) Die("VMs", vms.status());

  HostReserve reserve;
  reserve.vcpus = absl::GetFlag(FLAGS_reserve_vcpus);
  reserve.memory_mib = absl::GetFlag(FLAGS_reserve_memory_mib);
  reserve.disk_gib = absl::GetFlag(FLAGS_reserve_disk_gib);

  // The session hands specs to the agent and the agent reports into the
  // session, so neither may simply be destroyed first: specs go through
  // `agent_for_specs`, which is cleared before the agent goes away, and the
  // session (declared later) is destroyed after it.
  std::unique_ptr<HostAgent> agent;
  absl::Mutex agent_mu;
  HostAgent* agent_for_specs = nullptr;  // guarded by agent_mu
  ControllerSession::Options session_options;
  session_options.controller = controller;
  session_options.identity = &*identity;
  session_options.hello = [&]() -> absl::StatusOr<v1::Hello> {
    v1::Hello hello;
    hello.set_host(absl::StrCat("hosts/", host));
    hello.set_agent_version(kAgentVersion);
    hello.set_libvirt_version(versions->libvirt);
    hello.set_qemu_version(versions->qemu);
    auto capacity = HostCapacity(state_dir, reserve);
    if (!capacity.ok()) return capacity.status();
    *hello.mutable_capacity() = *capacity;
    hello.set_underlay_address(underlay_address);
    hello.set_underlay_mtu(underlay->mtu);
    auto list = images.List();
    if (!list.ok()) return list.status();
    for (v1::BaseImage& image : *list) *hello.add_base_images() = std::move(image);
    return hello;
  };
  session_options.take_egress_events = [log = egress_log->get()](size_t max) {
    return log->TakeBatch(max);
  };
  session_options.on_spec = [&agent_mu, &agent_for_specs](const v1::HostSpec& spec) {
    absl::MutexLock lock(&agent_mu);
    if (agent_for_specs != nullptr) agent_for_specs->SetSpec(spec);
  };
  ControllerSession session(std::move(session_options));

  HostAgent::Options agent_options;
  agent_options.networks = &networks;
  agent_options.vms = vms->get();
  agent_options.edges = edges->get();
  agent_options.report = [&session](v1::HostStatus status) {
    session.ReportStatus(std::move(status));
  };
  auto started = HostAgent::Start(std::move(agent_options));
  if (!started.ok()) Die("reconcile loop", started.status());
  agent = *std::move(started);
  {
    absl::MutexLock lock(&agent_mu);
    agent_for_specs = agent.get();
  }
  session.Start();
  MANDANT_LOG(info, "mandant-agent running",
              {{"host", host},
               {"controller", controller},
               {"libvirt", uri},
               {"underlay", underlay->device},
               {"state_dir", state_dir},
               {"edge_state_dir", edge_state_dir}});

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int signal = 0;
  sigwait(&signals, &signal);
  // VMs, networks and edges stay as they are: stopping the agent stops
  // managing the host, not the tenants' machines and their edges.
  MANDANT_LOG(info, "stopping; VMs and edges keep running", {{"signal", signal}});
  {
    absl::MutexLock lock(&agent_mu);
    agent_for_specs = nullptr;
  }
  agent.reset();
  return 0;
}

}  // namespace
}  // namespace mandant::agent

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("the Mandant host agent; see agents/README.md");
  absl::ParseCommandLine(argc, argv);
  // Block the stop signals in every thread; main waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  mandant::logging::Format format = absl::GetFlag(FLAGS_log_format) == "json"
                                        ? mandant::logging::Format::kJson
                                        : mandant::logging::Format::kText;
  absl::Status st = mandant::logging::Init(absl::GetFlag(FLAGS_log_level), format);
  if (!st.ok()) {
    fprintf(stderr, "mandant-agent: %s\n", std::string(st.message()).c_str());
    return 2;
  }
  return mandant::agent::Main();
}
