// The tenant edge end to end (docs/edge.md; issue 10, "Proof"): a real
// mandantd with an external network and PostgreSQL, two network namespaces
// as hypervisor hosts on one underlay, each with an external bridge "br-ext"
// joined to an "outside" namespace that plays the internet (the external
// gateway, an HTTP server run by this test, and two clients), a
// mandant-agent per host, and a real VM of tenant A. Proven with packets:
//
//  - the edge namespace with haproxy and dnsmasq exists on host 1, the VM
//    gets the address mandantd chose by DHCP from it, reaches the outside
//    HTTP server, and the server sees A's egress address;
//  - that connection is in A's egress log within 5 s, not in B's, and B's
//    admin cannot read A's log;
//  - a deny rule stops new connections, and the attempts are logged denied;
//  - an outside client in the endpoint's allowed CIDRs gets through HAProxy
//    to a TLS listener in A's VM; one outside them gets no answer and the
//    endpoint's drop counter grows;
//  - A's VM gets no answer from tenant B's gateway, internal endpoint or
//    external endpoint (B's edge, on host 2, drops and counts);
//  - kill -9 of the agent leaves haproxy and dnsmasq running, adopted by
//    the next agent with the same pids;
//  - a second machine of A on host 2 makes A's edge redundant; when the
//    master's outside link goes down the addresses move, the outside client
//    is served again within 5 s and the VM's egress works again;
//  - removing the machines removes the edges: no namespace, process or link.
//
// Steps of one suite like agent_e2e_test.cc (the world is built once; a
// step whose prerequisite failed or was skipped is skipped, naming it).
//
// Each agent runs in a mount namespace of its own with a private tmpfs on
// /run/netns, which the test keeps (a bind mount of the namespace file) and
// enters again when it restarts the agent: the agent mounts its edge
// namespaces there, so two agents on one machine never see (and remove)
// each other's edges, and a restarted agent finds the namespaces its
// predecessor made, as on a real host. A /run/netns merely slave to the
// machine's is not enough: the agent creates the mount point file on the
// shared file system, where the other agent sees it and deletes it as an
// undesired edge. The test looks at a host's edges through the same mount
// namespace.
//
// Needs root, the libvirt-qemu user, haproxy, dnsmasq, curl and the guest
// image (CTest fixture e2e_guest_image); skipped (CTest exit code 77)
// without root.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

#include "controller/store/edge_store.h"
#include "controller/store/machine_store.h"
#include "mandant/v1/edge.grpc.pb.h"
#include "mandant/v1/host.grpc.pb.h"
#include "mandant/v1/tenant.grpc.pb.h"
#include "tenants/cidr.h"
#include "tenants/edge_names.h"
#include "tests/support/netns.h"
#include "tests/support/status_matchers.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_controller.h"

namespace mandant::testing {
namespace {

using controller::auth::Role;
using controller::store::MachineObservation;
using controller::store::MachineStore;
using controller::store::NewMachine;

constexpr char kImage[] = "mandant-test-guest";
// The external network: the outside namespace holds its gateway and two
// clients, one inside the endpoint's allowed CIDRs and one outside them.
constexpr char kExternalCidr[] = "198.51.100.0/24";
constexpr char kExternalGateway[] = "198.51.100.1";
constexpr char kAllowedClient[] = "198.51.100.200";
constexpr char kOtherClient[] = "198.51.100.201";
constexpr int kHttpPort = 8080;
constexpr int kApiPort = 6443;
constexpr char kExternalBridge[] = "br-ext";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Polls `done` every `poll` until it holds or `timeout` passes.
template <typename Fn>
bool WaitFor(absl::Duration timeout, Fn done, absl::Duration poll = absl::Milliseconds(500)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(poll);
  }
  return done();
}

// The pid in `path` (one of the agent's edge pidfiles); 0 when unreadable.
pid_t PidFile(const std::string& path) {
  pid_t pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadAll(path)), &pid)) return 0;
  return pid;
}

bool Alive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0; }

// A plain HTTP server on the external gateway address in the outside
// namespace: answers every request with a fixed body and records who asked
// (the source address, as NAT left it) and what.
class OutsideHttpServer {
 public:
  struct Request {
    absl::Time time;
    std::string peer;
    std::string line;  // "GET /path HTTP/1.1"
  };

  static absl::StatusOr<std::unique_ptr<OutsideHttpServer>> Start(const std::string& netns,
                                                                  const std::string& address,
                                                                  int port) {
    int fd = -1;
    int error = 0;
    absl::Status st = RunInNamespace(netns, [&] {
      fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        error = errno;
        return;
      }
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, address.c_str(), &a.sin_addr);
      if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 64) != 0) {
        error = errno;
      }
    });
    if (!st.ok()) return st;
    if (error != 0) {
      if (fd >= 0) close(fd);
      return absl::InternalError(
          absl::StrCat("listening on ", address, ":", port, " in ", netns, ": ", strerror(error)));
    }
    return std::unique_ptr<OutsideHttpServer>(new OutsideHttpServer(fd));
  }

  ~OutsideHttpServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }

  std::vector<Request> Requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  explicit OutsideHttpServer(int fd) : fd_(fd), thread_([this] { Serve(); }) {}

  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      sockaddr_in peer{};
      socklen_t len = sizeof(peer);
      int c = accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (c < 0) continue;
      timeval tv{3, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      std::string got;
      char buf[1024];
      while (got.find("\r\n\r\n") == std::string::npos && got.size() < 8192) {
        ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
      }
      char ip[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
      {
        absl::MutexLock lock(&mu_);
        requests_.push_back({absl::Now(), ip, got.substr(0, got.find("\r\n"))});
      }
      const std::string body = "hello-from-outside";
      const std::string reply = absl::StrCat(
          "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ", body.size(),
          "\r\nConnection: close\r\n\r\n", body);
      (void)!write(c, reply.data(), reply.size());
      close(c);
    }
  }

  const int fd_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// Tenant A's guest: waits for its DHCP address and reports it, starts a TLS
// listener on the API port (openssl s_server -www answers any GET, also
// HAProxy's "GET /readyz" check, with 200), then fetches from the outside
// server every 2 s, a new connection each time, reporting each outcome.
// bash's /dev/tcp rather than busybox wget, which segfaults in this image.
constexpr char kGuestScript[] = R"sh(#!/bin/sh
server=$1
port=$2
b_gateway=$3
b_internal=$4
b_external=$5
a=""
i=0
while [ -z "$a" ] && [ $i -lt 180 ]; do
  a=$(ip -4 -o addr show scope global | awk '{print $4}' | head -n 1)
  i=$((i+1))
  [ -z "$a" ] && sleep 1
done
mandant-report cloud-init "address $a gateway $(ip -4 route show default | awk '{print $3}')"
cd /root
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=api \
  -keyout key.pem -out cert.pem -days 2 >/dev/null 2>&1
( while true; do openssl s_server -quiet -accept 6443 -www -cert cert.pem -key key.pem; \
  sleep 1; done ) >/dev/null 2>&1 &
# Tenant B's gateway (ping) and endpoint addresses (TCP to the API port),
# none of which may answer; the result goes into every report.
( k=0
  while true; do
    k=$((k+1))
    gw=no; ie=no; ee=no
    ping -c 1 -W 1 "$b_gateway" >/dev/null 2>&1 && gw=yes
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/6443"' "$b_internal" 2>/dev/null && ie=yes
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/6443"' "$b_external" 2>/dev/null && ee=yes
    echo "b: gw=$gw ie=$ie ee=$ee [$k]" >/tmp/bprobe.new && mv /tmp/bprobe.new /tmp/bprobe
    sleep 2
  done ) &
n=0
while true; do
  n=$((n+1))
  if timeout 6 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "GET /a1/$2 HTTP/1.0\r\n\r\n" >&3 &&
      cat <&3' "$server" "$port" "$n" >/tmp/got 2>/dev/null && grep -q hello-from-outside /tmp/got; then
    mandant-report ready "address $a got hello-from-outside ($n) $(cat /tmp/bprobe 2>/dev/null)"
  else
    mandant-report cloud-init "address $a no answer ($n) $(cat /tmp/bprobe 2>/dev/null)"
  fi
  sleep 2
done)sh";

std::string UserData(const std::string& script, const std::string& args) {
  std::string indented;
  for (absl::string_view line : absl::StrSplit(script, '\n')) {
    absl::StrAppend(&indented, "      ", line, "\n");
  }
  return absl::StrCat(
      "#cloud-config\n"
      "write_files:\n"
      "  - path: /root/probe.sh\n"
      "    permissions: '0755'\n"
      "    content: |\n",
      indented,
      "runcmd:\n"
      "  - [sh, -c, '/root/probe.sh ",
      args, " >/dev/ttyS0 2>&1 &']\n");
}

controller::store::ExternalNetwork ExternalNetwork() {
  controller::store::ExternalNetwork net;
  net.name = "internet";
  net.cidr = *tenants::Cidr::Parse(kExternalCidr);
  net.gateway = kExternalGateway;
  net.first = "198.51.100.10";
  net.last = "198.51.100.99";
  net.bridge = kExternalBridge;
  net.hosts = {"hv1", "hv2"};
  return net;
}

struct World {
  std::string image_dir;
  std::string image_sha256;
  std::unique_ptr<NetworkNamespaces> ns;
  std::string outside;
  std::string controller_address;
  std::string root_link;
  std::unique_ptr<TestController> controller;
  std::string admin;
  std::unique_ptr<v1::HostService::Stub> hosts;
  std::unique_ptr<v1::EdgeService::Stub> edges;
  std::string work;
  std::string ca_file;
  // Bind-mounted private, holding one mount namespace file per host.
  std::string mount_dir;
  std::vector<std::string> mount_namespaces;
  std::map<int, pid_t> agents;
  std::unique_ptr<OutsideHttpServer> http;
  std::string a_egress;
  std::string edge_netns;
  std::string edge_outside_link;  // host 1's end of A's outside veth, "meo-..."

  const std::string a1_id = "6a1e3c2e-0000-4000-8000-0000000ed001";
  const std::string a1_mac = "02:4d:00:00:ed:01";
  bool a1_placed = false;
  std::string a1_address;  // from mandantd, without prefix
  std::string endpoint_external;
  // Tenant B: a machine that never runs (its edge is placed all the same)
  // and an endpoint; A's guest probes B's gateway and endpoint addresses.
  const std::string b1_id = "6a1e3c2e-0000-4000-8000-0000000ed0b1";
  bool b1_placed = false;
  // Tenant A's second machine, on host 2 and never powered on: it makes A's
  // edge redundant (a copy on each host).
  const std::string a2_id = "6a1e3c2e-0000-4000-8000-0000000ed002";
  bool a2_placed = false;
  std::string b_gateway;
  std::string b_edge_netns;
  std::string b_internal;
  std::string b_external;
  pid_t haproxy = 0;
  pid_t dnsmasq = 0;
};

class EdgeE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;  // every step skips itself
    world_ = new World;
    World& w = *world_;
    w.image_dir = std::string(absl::StripAsciiWhitespace(ReadAll(MANDANT_E2E_IMAGE_DIR_FILE)));
    if (const char* dir = getenv("MANDANT_E2E_IMAGE_DIR")) w.image_dir = dir;
    ASSERT_FALSE(w.image_dir.empty()) << "no guest image; run the e2e_guest_image fixture";
    auto sum = RunCommand({"sha256sum", absl::StrCat(w.image_dir, "/", kImage, ".qcow2")});
    ASSERT_OK(sum.status());
    ASSERT_GE(sum->size(), 64u) << *sum;
    w.image_sha256 = sum->substr(0, 64);

    char dir[] = "/tmp/mde-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    w.work = dir;
    w.ca_file = w.work + "/root.pem";

    auto ns = NetworkNamespaces::Create(2);
    ASSERT_OK(ns.status());
    w.ns = *std::move(ns);
    const std::string cidr = w.ns->UnderlayCidr();
    w.controller_address = absl::StrCat(cidr.substr(0, cidr.rfind('.')), ".250");
    w.root_link = absl::StrCat("mdte", getpid() % 100000);
    ASSERT_OK(RunCommand({"ip", "link", "add", w.root_link, "type", "veth", "peer", "name", "pc",
                          "netns", w.ns->switch_namespace()})
                  .status());
    ASSERT_OK(RunCommand({"ip", "addr", "add", absl::StrCat(w.controller_address, "/24"), "dev",
                          w.root_link})
                  .status());
    ASSERT_OK(RunCommand({"ip", "link", "set", w.root_link, "up"}).status());
    ASSERT_OK(
        w.ns->Run(w.ns->switch_namespace(), {"ip", "link", "set", "pc", "master", "sw0", "up"})
            .status());

    // The external segment: a bridge in the outside namespace with the
    // gateway and the clients' addresses, a port to each host's br-ext.
    auto outside = w.ns->AddNamespace("out");
    ASSERT_OK(outside.status());
    w.outside = *outside;
    ASSERT_OK(w.ns->Run(w.outside, {"ip", "link", "add", "seg", "type", "bridge"}).status());
    for (const char* a : {kExternalGateway, kAllowedClient, kOtherClient}) {
      ASSERT_OK(w.ns->Run(w.outside, {"ip", "addr", "add", absl::StrCat(a, "/24"), "dev", "seg"})
                    .status());
    }
    ASSERT_OK(w.ns->Run(w.outside, {"ip", "link", "set", "seg", "up"}).status());
    for (int i = 0; i < 2; ++i) {
      const std::string host = w.ns->host(i);
      ASSERT_OK(w.ns->Run(host, {"ip", "link", "add", kExternalBridge, "type", "bridge"}).status());
      ASSERT_OK(w.ns->Run(host, {"ip", "link", "set", kExternalBridge, "up"}).status());
      const std::string port = absl::StrCat("e", i);
      ASSERT_OK(w.ns->AddVeth(host, "ext0", w.outside, port));
      ASSERT_OK(w.ns->Run(host, {"ip", "link", "set", "ext0", "master", kExternalBridge}).status());
      ASSERT_OK(w.ns->Run(w.outside, {"ip", "link", "set", port, "master", "seg"}).status());
    }
    auto http = OutsideHttpServer::Start(w.outside, kExternalGateway, kHttpPort);
    ASSERT_OK(http.status());
    w.http = *std::move(http);

    // One mount namespace per host, kept by a bind mount (which needs a
    // private mount to live on) so that a restarted agent enters the same.
    w.mount_dir = w.work + "/mnt";
    ASSERT_EQ(mkdir(w.mount_dir.c_str(), 0700), 0);
    ASSERT_OK(RunCommand({"mount", "--bind", w.mount_dir, w.mount_dir}).status());
    ASSERT_OK(RunCommand({"mount", "--make-private", w.mount_dir}).status());
    for (int i = 0; i < 2; ++i) {
      const std::string file = absl::StrCat(w.mount_dir, "/h", i);
      std::ofstream(file).close();
      // Inside the host's network namespace, so that the /sys mounted
      // there shows the host's links, as `ip netns exec` does. A /run/netns
      // of its own: the agent removes every "mandant-e*" namespace there
      // that its spec does not name, and a shared /run/netns holds the
      // other agent's edges (and those of any other test on the machine).
      // Everything the agent needs from the host's namespaces, nsenter
      // opens before it enters this one.
      ASSERT_OK(RunCommand({"nsenter", absl::StrCat("--net=/run/netns/", w.ns->host(i)), "unshare",
                            absl::StrCat("--mount=", file), "--propagation", "slave", "sh", "-c",
                            "umount -l /sys && mount -t sysfs sysfs /sys && "
                            "mount -t tmpfs -o mode=0755 mdt-netns /run/netns"})
                    .status());
      w.mount_namespaces.push_back(file);
    }

    auto c = TestController::Start(TestPools(), 8, [&](controller::ServerOptions& o) {
      o.listen = "0.0.0.0:0";
      o.server_names = {"localhost", "127.0.0.1", w.controller_address};
      o.edge.external_networks = {ExternalNetwork()};
      o.edge.dns_servers = {kExternalGateway};
    });
    ASSERT_OK(c.status());
    w.controller = *std::move(c);
    w.admin = w.controller->Token(Role::kProviderAdmin, "", "e2e");
    w.hosts = v1::HostService::NewStub(w.controller->channel());
    w.edges = v1::EdgeService::NewStub(w.controller->channel());
    std::ofstream(w.ca_file) << w.controller->server_cert_pem();

    auto tenants = w.controller->Tenants();
    for (const char* t : {"acme", "beta"}) {
      v1::CreateTenantRequest req;
      req.set_tenant_id(t);
      req.mutable_tenant()->set_display_name(t);
      v1::Tenant tenant;
      ASSERT_GRPC_OK(tenants->CreateTenant(TestController::Context(w.admin).get(), req, &tenant));
      auto netns = tenants::EdgeNamespaceName(v1::NETWORK_MODE_VXLAN, tenant.network().vni());
      ASSERT_OK(netns.status());
      if (std::string(t) == "acme") {
        w.edge_netns = *netns;
        auto meo = tenants::EdgeOutsideLinkName(v1::NETWORK_MODE_VXLAN, tenant.network().vni());
        ASSERT_OK(meo.status());
        w.edge_outside_link = *meo;
      } else {
        w.b_edge_netns = *netns;
        w.b_gateway = tenant.network().gateway();
      }
    }
    auto egress = w.controller->Sql(
        "SELECT host(x.address) FROM external_addresses x JOIN tenants t ON t.id = x.tenant_id "
        "WHERE t.name = 'acme' AND x.endpoint_id IS NULL");
    ASSERT_OK(egress.status());
    w.a_egress = std::string(absl::StripAsciiWhitespace(*egress));
    ASSERT_FALSE(w.a_egress.empty());

    for (int i = 0; i < 2; ++i) {
      v1::CreateHostRequest req;
      req.set_host_id(HostId(i));
      req.mutable_host()->set_underlay_address(w.ns->UnderlayAddress(i));
      v1::CreateHostResponse resp;
      ASSERT_GRPC_OK(w.hosts->CreateHost(TestController::Context(w.admin).get(), req, &resp));
      const std::string token_file = absl::StrCat(w.work, "/token-", i);
      std::ofstream(token_file) << resp.bootstrap_token().token();
      StartAgent(i, token_file);
    }
  }

  static void TearDownTestSuite() {
    if (world_ == nullptr) return;
    World& w = *world_;
    for (auto& [i, pid] : w.agents) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    w.agents.clear();
    // Whatever still runs in the hosts' mount namespaces (edge programs sit
    // in the edge's network namespace, which the host's cleanup misses).
    for (const std::string& file : w.mount_namespaces) KillMountNamespace(file);
    w.http.reset();
    w.ns.reset();
    for (const std::string& file : w.mount_namespaces) {
      (void)RunCommand({"umount", file});
    }
    if (!w.mount_dir.empty()) (void)RunCommand({"umount", w.mount_dir});
    if (!w.root_link.empty()) (void)RunCommand({"ip", "link", "del", w.root_link});
    w.controller.reset();
    if (!w.work.empty()) (void)RunCommand({"rm", "-rf", w.work});
    delete world_;
    world_ = nullptr;
    passed_steps_.clear();
  }

  // SIGKILLs every process whose mount namespace is the one bound at `file`.
  static void KillMountNamespace(const std::string& file) {
    struct stat want {};
    if (stat(file.c_str(), &want) != 0) return;
    auto pids = RunCommand({"sh", "-c",
                            absl::StrCat("for p in /proc/[0-9]*; do [ \"$(stat -L -c %i "
                                         "$p/ns/mnt 2>/dev/null)\" = ",
                                         want.st_ino, " ] && echo ${p#/proc/}; done; true")});
    if (!pids.ok()) return;
    for (absl::string_view p : absl::StrSplit(*pids, '\n', absl::SkipWhitespace())) {
      pid_t pid = 0;
      if (absl::SimpleAtoi(p, &pid) && pid != getpid()) kill(pid, SIGKILL);
    }
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, QEMU)";
    ASSERT_NE(world_, nullptr);
  }

  void TearDown() override {
    if (!HasFailure() && !IsSkipped()) {
      passed_steps_.insert(::testing::UnitTest::GetInstance()->current_test_info()->name());
    }
  }

  static bool StepPassed(const std::string& step) { return passed_steps_.count(step) > 0; }

  static std::string HostId(int i) { return absl::StrCat("hv", i + 1); }
  static std::string StateDir(int i) { return absl::StrCat(world_->work, "/h", i); }
  static std::string EdgeStateDir(int i) { return absl::StrCat(world_->work, "/h", i, "/edges"); }
  static std::string AgentLog(int i) {
    return ReadAll(absl::StrCat(world_->work, "/agent-", i, ".log"));
  }
  static std::string EdgeFile(int i, const std::string& name) {
    return absl::StrCat(EdgeStateDir(i), "/", world_->edge_netns, "/", name);
  }

  // The agent of host `i` in the host's network namespace and its own mount
  // namespace (both opened by nsenter before it enters either).
  static void StartAgent(int i, const std::string& token_file) {
    World& w = *world_;
    std::vector<std::string> argv = {
        "nsenter",
        absl::StrCat("--net=/run/netns/", w.ns->host(i)),
        absl::StrCat("--mount=", w.mount_namespaces[i]),
        "--",
        MANDANT_AGENT_PATH,
        absl::StrCat("--controller=", w.controller_address, ":", w.controller->server().port()),
        absl::StrCat("--host=", HostId(i)),
        absl::StrCat("--underlay_address=", w.ns->UnderlayAddress(i)),
        absl::StrCat("--state_dir=", StateDir(i)),
        absl::StrCat("--edge_state_dir=", EdgeStateDir(i)),
        absl::StrCat("--image_dir=", w.image_dir),
        absl::StrCat("--ca_file=", w.ca_file),
        "--reserve_memory_mib=0",
        "--reserve_disk_gib=0",
        "--log_level=debug"};
    if (!token_file.empty()) argv.push_back(absl::StrCat("--token_file=", token_file));
    auto pid = SpawnProcess(argv, absl::StrCat(w.work, "/agent-", i, ".log"));
    ASSERT_OK(pid.status());
    w.agents[i] = *pid;
  }

  static void KillAgent(int i) {
    World& w = *world_;
    ASSERT_EQ(w.agents.count(i), 1u);
    ASSERT_EQ(kill(w.agents[i], SIGKILL), 0);
    waitpid(w.agents[i], nullptr, 0);
    w.agents.erase(i);
  }

  // Runs argv in host `i`'s network and mount namespaces, where its edges
  // are mounted.
  static absl::StatusOr<std::string> OnHost(int i, std::vector<std::string> argv) {
    std::vector<std::string> full = {"nsenter",
                                     absl::StrCat("--net=/run/netns/", world_->ns->host(i)),
                                     absl::StrCat("--mount=", world_->mount_namespaces[i]), "--"};
    full.insert(full.end(), argv.begin(), argv.end());
    return RunCommand(full);
  }

  static v1::Host Host(int i) {
    v1::GetHostRequest req;
    req.set_name(absl::StrCat("hosts/", HostId(i)));
    v1::Host host;
    grpc::Status st =
        world_->hosts->GetHost(TestController::Context(world_->admin).get(), req, &host);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return host;
  }

  static bool HostReady(int i) {
    v1::Host h = Host(i);
    for (const v1::Condition& c : h.conditions()) {
      if (c.type() == "Ready") return c.status() == v1::CONDITION_STATUS_TRUE;
    }
    return false;
  }

  static MachineObservation Observe(const std::string& machine_id) {
    MachineStore store;
    MachineObservation o;
    EXPECT_OK(world_->controller->server().database().Run(
        "observe", [&](controller::store::Connection& conn) -> absl::Status {
          auto got = store.Observation(conn, machine_id);
          if (!got.ok()) return got.status();
          o = *std::move(got);
          return absl::OkStatus();
        }));
    return o;
  }

  static void PlaceEdge(const std::string& tenant) {
    auto id =
        world_->controller->Sql(absl::StrCat("SELECT id FROM tenants WHERE name = '", tenant, "'"));
    ASSERT_OK(id.status());
    int64_t row_id = 0;
    ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*id), &row_id)) << *id;
    ASSERT_OK(world_->controller->server().edge_reconciler().Reconcile(row_id));
  }

  static std::string Sql(const std::string& sql) {
    auto out = world_->controller->Sql(sql);
    EXPECT_OK(out.status());
    return out.ok() ? std::string(absl::StripAsciiWhitespace(*out)) : "";
  }

  static v1::ListEgressEventsResponse EgressLog(const std::string& tenant, const std::string& token,
                                                grpc::Status* status) {
    v1::ListEgressEventsRequest req;
    req.set_parent(absl::StrCat("tenants/", tenant));
    req.set_page_size(1000);
    v1::ListEgressEventsResponse resp;
    *status = world_->edges->ListEgressEvents(TestController::Context(token).get(), req, &resp);
    return resp;
  }

  // Events of tenant A's log (read by its admin) to the outside server with
  // `action`, at or after `since`.
  static std::vector<v1::EgressEvent> EventsToServer(v1::EgressAction action, absl::Time since) {
    grpc::Status st;
    const std::string token = world_->controller->Token(Role::kTenantAdmin, "acme", "acme-admin");
    v1::ListEgressEventsResponse resp = EgressLog("acme", token, &st);
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::vector<v1::EgressEvent> out;
    for (const v1::EgressEvent& e : resp.events()) {
      const absl::Time t =
          absl::FromUnixMillis(google::protobuf::util::TimeUtil::TimestampToMilliseconds(e.time()));
      if (e.destination_address() == kExternalGateway &&
          e.destination_port() == static_cast<uint32_t>(kHttpPort) && e.action() == action &&
          t >= since) {
        out.push_back(e);
      }
    }
    return out;
  }

  // The outside server's requests from A's egress address since `since`.
  static int RequestsFromA(absl::Time since) {
    int n = 0;
    for (const auto& r : world_->http->Requests()) {
      if (r.time >= since && r.peer == world_->a_egress) ++n;
    }
    return n;
  }

  // curl from the outside namespace, from `source`, to the endpoint over
  // TLS; its output, or the error.
  static absl::StatusOr<std::string> ClientFetch(const std::string& source) {
    return world_->ns->Run(
        world_->outside,
        {"curl", "-sk", "--interface", source, "--connect-timeout", "5", "--max-time", "10",
         absl::StrCat("https://", world_->endpoint_external, ":", kApiPort, "/readyz")});
  }

  // What a failure message needs to tell where packets stopped: the edge's
  // addresses, routes, ruleset and counters on host 1, the host's links, and
  // the outside namespace's neighbours.
  static std::string EdgeDiagnostics() {
    World& w = *world_;
    std::string out;
    auto add = [&](const std::string& title, const absl::StatusOr<std::string>& got) {
      absl::StrAppend(&out, "--- ", title, ":\n", got.ok() ? *got : got.status().ToString(), "\n");
    };
    add("edge addresses", OnHost(0, {"ip", "-n", w.edge_netns, "-br", "addr"}));
    add("edge routes", OnHost(0, {"ip", "-n", w.edge_netns, "route"}));
    add("edge ruleset", OnHost(0, {"ip", "netns", "exec", w.edge_netns, "nft", "list", "ruleset"}));
    add("host 1 links", w.ns->Run(w.ns->host(0), {"ip", "-br", "link"}));
    add("host 1 bridge ports", w.ns->Run(w.ns->host(0), {"bridge", "link"}));
    add("host 1 ruleset", w.ns->Run(w.ns->host(0), {"nft", "list", "ruleset"}));
    add("outside neighbours", w.ns->Run(w.outside, {"ip", "neigh"}));
    return out;
  }

  // The drop counters of `tenant`'s endpoints, as its edge reported them.
  // curl's exit code for https://`address`:kApiPort/ from `source` in the
  // outside namespace; -1 when it could not be run.
  static int CurlExitCode(const std::string& source, const std::string& address) {
    auto out = world_->ns->Run(
        world_->outside, {"sh", "-c",
                          absl::StrCat("curl -sk --interface ", source,
                                       " --connect-timeout 5 --max-time 10 https://", address, ":",
                                       kApiPort, "/readyz >/dev/null 2>&1; echo $?")});
    int code = -1;
    if (!out.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*out), &code)) return -1;
    return code;
  }

  static int64_t DroppedPackets(const std::string& tenant = "acme") {
    int64_t n = -1;
    std::string out = Sql(absl::StrCat(
        "SELECT coalesce(sum((x->>'dropped_packets')::bigint), 0) FROM edge_instances i "
        "JOIN tenants t ON t.id = i.tenant_id, jsonb_array_elements(i.endpoints) x "
        "WHERE t.name = '",
        tenant, "'"));
    if (!absl::SimpleAtoi(out, &n)) return -1;
    return n;
  }

  static World* world_;
  static std::set<std::string> passed_steps_;
};

World* EdgeE2eTest::world_ = nullptr;
std::set<std::string> EdgeE2eTest::passed_steps_;

#define REQUIRE_STEP(step)                                                            \
  do {                                                                                \
    if (!StepPassed(#step)) {                                                         \
      GTEST_SKIP() << "needs step " #step ", which failed or was skipped; see above"; \
    }                                                                                 \
  } while (0)

TEST_F(EdgeE2eTest, AgentsEnrollAndReportReady) {
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(WaitFor(absl::Seconds(90), [&] { return HostReady(i); }))
        << "host " << i << " never became Ready:\n"
        << Host(i).DebugString() << AgentLog(i);
  }
}

// Tenant A's control plane on host 1 with its cluster's endpoint: the edge
// runs there, the VM gets mandantd's address by DHCP from it and reaches the
// outside server through NAT, which sees A's egress address.
TEST_F(EdgeE2eTest, EdgeServesDhcpAndNatForTenantA) {
  REQUIRE_STEP(AgentsEnrollAndReportReady);
  World& w = *world_;
  const absl::Time start = absl::Now();
  MachineStore machines;
  controller::store::EdgeStore edges;
  ASSERT_OK(w.controller->server().database().Transact(
      "endpoint", [&](controller::store::Connection& conn) -> absl::Status {
        for (const char* t : {"acme", "beta"}) {
          absl::Status st = machines.CreateCluster(conn, t, "e2e");
          if (!st.ok()) return st;
          auto ep = edges.CreateEndpoint(conn, t, "e2e", ExternalNetwork(), kApiPort,
                                         {absl::StrCat(kAllowedClient, "/32")});
          if (!ep.ok()) return ep.status();
          if (std::string(t) == "acme") {
            w.endpoint_external = ep->external_address;
          } else {
            w.b_internal = ep->internal_address;
            w.b_external = ep->external_address;
          }
        }
        return absl::OkStatus();
      }));
  NewMachine m;
  m.machine_id = w.a1_id;
  m.tenant = "acme";
  m.cluster = "e2e";
  m.name = "a1";
  m.role = v1::MACHINE_ROLE_CONTROL_PLANE;
  m.host = HostId(0);
  m.resources.set_vcpus(1);
  m.resources.set_memory_mib(512);
  m.resources.set_disk_gib(3);
  m.base_image = kImage;
  m.base_image_sha256 = w.image_sha256;
  m.node_mac = w.a1_mac;
  m.seed.set_user_data(
      UserData(kGuestScript, absl::StrCat(kExternalGateway, " ", kHttpPort, " ", w.b_gateway, " ",
                                          w.b_internal, " ", w.b_external)));
  m.seed.set_meta_data(absl::StrCat("instance-id: ", w.a1_id, "\nlocal-hostname: a1\n"));
  // DHCP, so that the address can only have come from the edge.
  m.seed.set_network_config(
      absl::StrCat("version: 2\nethernets:\n  nic0:\n    match:\n      macaddress: \"", w.a1_mac,
                   "\"\n    dhcp4: true\n"));
  auto keys = w.controller->KeyRing();
  ASSERT_OK(keys.status());
  ASSERT_OK(w.controller->server().database().Transact(
      "place", [&](controller::store::Connection& conn) -> absl::Status {
        absl::Status st = machines.Insert(conn, m, keys->current());
        if (!st.ok()) return st;
        auto address = machines.NodeAddress(conn, w.a1_id);
        if (!address.ok()) return address.status();
        w.a1_address = *address;
        return absl::OkStatus();
      }));
  w.a1_placed = true;
  // B's machine on host 2, never powered on: B's edge goes there.
  NewMachine b = m;
  b.machine_id = w.b1_id;
  b.tenant = "beta";
  b.name = "b1";
  b.host = HostId(1);
  b.node_mac = "02:4d:00:00:ed:b1";
  b.power_state = v1::POWER_STATE_OFF;
  b.seed.set_user_data("#cloud-config\n");
  b.seed.set_meta_data(absl::StrCat("instance-id: ", w.b1_id, "\nlocal-hostname: b1\n"));
  b.seed.set_network_config("version: 2\nethernets: {}\n");
  ASSERT_OK(
      w.controller->server().database().Transact("place", [&](controller::store::Connection& conn) {
        return machines.Insert(conn, b, keys->current());
      }));
  w.b1_placed = true;
  PlaceEdge("acme");
  PlaceEdge("beta");
  ASSERT_EQ(Sql("SELECT t.name || ' ' || h.name FROM edge_instances i JOIN hosts h ON h.id = "
                "i.host_id JOIN tenants t ON t.id = i.tenant_id ORDER BY t.name"),
            "acme hv1\nbeta hv2");

  // The edge on host 1: its namespace, haproxy and dnsmasq.
  ASSERT_TRUE(WaitFor(absl::Seconds(120),
                      [&] {
                        auto list = OnHost(0, {"ip", "netns", "list"});
                        w.haproxy = PidFile(EdgeFile(0, "haproxy.pid"));
                        w.dnsmasq = PidFile(EdgeFile(0, "dnsmasq.pid"));
                        return list.ok() && absl::StrContains(*list, w.edge_netns) &&
                               Alive(w.haproxy) && Alive(w.dnsmasq);
                      }))
      << "no edge " << w.edge_netns << " with haproxy and dnsmasq on host 1\n"
      << AgentLog(0);
  EXPECT_TRUE(absl::StrContains(ReadAll(absl::StrCat("/proc/", w.haproxy, "/cmdline")), "haproxy"));
  EXPECT_TRUE(absl::StrContains(ReadAll(absl::StrCat("/proc/", w.dnsmasq, "/cmdline")), "dnsmasq"));
  auto host2 = OnHost(1, {"ip", "netns", "list"});
  ASSERT_OK(host2.status());
  EXPECT_FALSE(absl::StrContains(*host2, w.edge_netns)) << "host 2 has no edge of A: " << *host2;

  // The guest's DHCP address is the one mandantd chose.
  ASSERT_TRUE(
      WaitFor(absl::Minutes(6),
              [&] { return absl::StrContains(Observe(w.a1_id).guest_message, "address 1"); }))
      << "a1 reported no address: \"" << Observe(w.a1_id).guest_message << "\" (vm "
      << Observe(w.a1_id).vm_error << ")\n"
      << AgentLog(0);
  EXPECT_TRUE(absl::StrContains(Observe(w.a1_id).guest_message,
                                absl::StrCat("address ", w.a1_address, "/")))
      << Observe(w.a1_id).guest_message << " but mandantd chose " << w.a1_address;
  printf("[ figure ] placement -> a1 has its DHCP address: %.1f s\n",
         absl::ToDoubleSeconds(absl::Now() - start));

  // Through NAT to the outside server.
  ASSERT_TRUE(WaitFor(
      absl::Seconds(90),
      [&] { return absl::StrContains(Observe(w.a1_id).guest_message, "got hello-from-outside"); }))
      << "a1 never reached the outside server: " << Observe(w.a1_id).guest_message << "\n"
      << EdgeDiagnostics();
  std::set<std::string> peers;
  for (const auto& r : w.http->Requests()) peers.insert(r.peer);
  EXPECT_EQ(peers, std::set<std::string>{w.a_egress}) << "the server saw other sources";
  printf("[ facts  ] a1 %s (DHCP), egress %s, server saw %zu requests\n", w.a1_address.c_str(),
         w.a_egress.c_str(), w.http->Requests().size());
  fflush(stdout);
}

// The connection is in A's egress log within 5 s; B's log does not have it,
// and B's admin cannot read A's.
TEST_F(EdgeE2eTest, EgressIsLoggedForTenantAOnly) {
  REQUIRE_STEP(EdgeServesDhcpAndNatForTenantA);
  World& w = *world_;
  // A request the server sees now; the guest makes a new one every ~2 s.
  const absl::Time since = absl::Now();
  ASSERT_TRUE(WaitFor(absl::Seconds(20), [&] { return RequestsFromA(since) > 0; }));
  absl::Time seen = absl::InfiniteFuture();
  for (const auto& r : w.http->Requests()) {
    if (r.time >= since && r.peer == w.a_egress) seen = std::min(seen, r.time);
  }
  std::vector<v1::EgressEvent> events;
  const bool logged = WaitFor(
      absl::Seconds(5),
      [&] {
        events = EventsToServer(v1::EGRESS_ACTION_ALLOW, seen - absl::Seconds(2));
        return !events.empty();
      },
      absl::Milliseconds(200));
  EXPECT_TRUE(logged) << "no ALLOW event to " << kExternalGateway << ":" << kHttpPort
                      << " within 5 s of the server seeing it";
  if (logged) {
    printf("[ figure ] connection at the server -> in A's egress log: %.1f s\n",
           absl::ToDoubleSeconds(absl::Now() - seen));
    EXPECT_EQ(events.front().source_address(), w.a1_address);
    EXPECT_TRUE(absl::StartsWith(events.front().machine(), "tenants/acme/clusters/e2e/machines/"))
        << events.front().machine();
    EXPECT_EQ(events.front().host(), "hosts/hv1");
  }

  grpc::Status st;
  const std::string beta_admin = w.controller->Token(Role::kTenantAdmin, "beta", "beta-admin");
  v1::ListEgressEventsResponse beta = EgressLog("beta", beta_admin, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(beta.events_size(), 0) << beta.DebugString();
  EgressLog("acme", beta_admin, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
}

// A deny rule for the outside server stops new connections; the attempts
// are logged as denied. The policy is put back afterwards.
TEST_F(EdgeE2eTest, DenyRuleStopsAndLogsEgress) {
  REQUIRE_STEP(EdgeServesDhcpAndNatForTenantA);
  World& w = *world_;
  v1::UpdateEgressPolicyRequest req;
  req.mutable_policy()->set_name("tenants/acme/egressPolicy");
  v1::EgressRule* rule = req.mutable_policy()->add_rules();
  rule->set_destination_cidr(absl::StrCat(kExternalGateway, "/32"));
  rule->set_protocol(v1::IP_PROTOCOL_TCP);
  rule->set_port_from(kHttpPort);
  rule->set_action(v1::EGRESS_ACTION_DENY);
  req.mutable_update_mask()->add_paths("rules");
  const std::string token = w.controller->Token(Role::kTenantAdmin, "acme", "acme-admin");
  v1::EgressPolicy policy;
  const absl::Time changed = absl::Now();
  ASSERT_GRPC_OK(w.edges->UpdateEgressPolicy(TestController::Context(token).get(), req, &policy));

  // The first denied attempt shows the new ruleset is in force.
  std::vector<v1::EgressEvent> denied;
  ASSERT_TRUE(WaitFor(absl::Seconds(60),
                      [&] {
                        denied = EventsToServer(v1::EGRESS_ACTION_DENY, changed - absl::Seconds(2));
                        return !denied.empty();
                      }))
      << "no denied attempt logged\n"
      << AgentLog(0);
  EXPECT_EQ(denied.front().source_address(), w.a1_address);
  const absl::Time in_force = absl::Now();
  // The guest tries every few seconds; none may arrive.
  absl::SleepFor(absl::Seconds(12));
  EXPECT_EQ(RequestsFromA(in_force), 0) << "a connection passed the deny rule";
  EXPECT_GE(EventsToServer(v1::EGRESS_ACTION_DENY, in_force).size(), 1u)
      << "later attempts not logged as denied";
  EXPECT_TRUE(absl::StrContains(Observe(w.a1_id).guest_message, "no answer"))
      << Observe(w.a1_id).guest_message;

  v1::UpdateEgressPolicyRequest back;
  back.mutable_policy()->set_name("tenants/acme/egressPolicy");
  back.mutable_update_mask()->add_paths("rules");
  ASSERT_GRPC_OK(w.edges->UpdateEgressPolicy(TestController::Context(token).get(), back, &policy));
  const absl::Time reopened = absl::Now();
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] { return RequestsFromA(reopened) > 0; }))
      << "egress did not come back after the rule was removed";
}

// An outside client in the endpoint's allowed CIDRs reaches the TLS
// listener in A's VM through HAProxy; one outside them gets no answer, and
// the endpoint's drop counter grows.
TEST_F(EdgeE2eTest, EndpointAdmitsOnlyAllowedClients) {
  REQUIRE_STEP(EdgeServesDhcpAndNatForTenantA);
  World& w = *world_;
  v1::GetEdgeRequest req;
  req.set_name("tenants/acme/edge");
  v1::Edge edge;
  ASSERT_TRUE(WaitFor(
      absl::Seconds(120),
      [&] {
        edge.Clear();
        grpc::Status st = w.edges->GetEdge(TestController::Context(w.admin).get(), req, &edge);
        return st.ok() && edge.endpoints_size() == 1 && edge.endpoints(0).healthy_backends() == 1;
      }))
      << "the control plane never became healthy in HAProxy: " << edge.DebugString();
  ASSERT_EQ(edge.endpoints(0).external_address(), w.endpoint_external);

  auto fetched = ClientFetch(kAllowedClient);
  ASSERT_OK(fetched.status());
  // openssl s_server -www's status page, from inside the guest.
  EXPECT_TRUE(absl::StrContains(*fetched, "Cipher")) << *fetched;

  const int64_t dropped_before = DroppedPackets();
  // curl's 28: timed out, no answer at all (a reset would be 7).
  EXPECT_EQ(CurlExitCode(kOtherClient, w.endpoint_external), 28)
      << "a client outside the allowed CIDRs got an answer";
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] { return DroppedPackets() > dropped_before; }))
      << "drop counter stayed at " << dropped_before;
  printf("[ facts  ] endpoint %s:%d: allowed client served, other client dropped (%lld -> %lld)\n",
         w.endpoint_external.c_str(), kApiPort, static_cast<long long>(dropped_before),
         static_cast<long long>(DroppedPackets()));
  fflush(stdout);
}

// Tenant A's VM cannot reach tenant B's gateway, B's internal endpoint, or
// B's external endpoint (A's egress address is not in B's list, and B's
// edge counts the drops), while a client in B's list is answered there.
TEST_F(EdgeE2eTest, TenantACannotReachTenantBsEdge) {
  REQUIRE_STEP(EdgeServesDhcpAndNatForTenantA);
  World& w = *world_;
  ASSERT_TRUE(WaitFor(
      absl::Seconds(120),
      [&] {
        auto list = OnHost(1, {"ip", "netns", "list"});
        return list.ok() && absl::StrContains(*list, w.b_edge_netns) &&
               Alive(PidFile(absl::StrCat(EdgeStateDir(1), "/", w.b_edge_netns, "/haproxy.pid")));
      }))
      << "B's edge never ran on host 2\n"
      << AgentLog(1);
  // Positive control: B's endpoint answers a client in its list (HAProxy
  // accepts, then closes for want of a backend: curl fails, but not with
  // 28, a timeout).
  const int allowed = CurlExitCode(kAllowedClient, w.b_external);
  EXPECT_TRUE(allowed >= 0 && allowed != 28)
      << "B's endpoint did not answer a listed client: curl exit " << allowed;
  const int64_t b_dropped = DroppedPackets("beta");
  // The guest's probe counter "[k]".
  auto probe_count = [&]() {
    const std::string msg = Observe(w.a1_id).guest_message;
    const size_t open = msg.rfind('[');
    int k = -1;
    if (open != std::string::npos) {
      (void)absl::SimpleAtoi(absl::StripSuffix(absl::string_view(msg).substr(open + 1), "]"), &k);
    }
    return k;
  };
  int first = -1;
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] { return (first = probe_count()) >= 0; }))
      << Observe(w.a1_id).guest_message;
  ASSERT_TRUE(WaitFor(absl::Seconds(90), [&] { return probe_count() >= first + 3; }))
      << Observe(w.a1_id).guest_message;
  const std::string msg = Observe(w.a1_id).guest_message;
  EXPECT_TRUE(absl::StrContains(msg, "b: gw=no ie=no ee=no")) << msg;
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] { return DroppedPackets("beta") > b_dropped; }))
      << "B's drop counter stayed at " << b_dropped;
  printf(
      "[ facts  ] a1 -> B (gateway %s, internal %s, external %s): \"%s\"; B's drops %lld -> %lld\n",
      w.b_gateway.c_str(), w.b_internal.c_str(), w.b_external.c_str(), msg.c_str(),
      static_cast<long long>(b_dropped), static_cast<long long>(DroppedPackets("beta")));
  fflush(stdout);
}

// kill -9 of host 1's agent: haproxy and dnsmasq keep running with their
// pids, and the restarted agent adopts them.
TEST_F(EdgeE2eTest, AgentRestartAdoptsEdgeProcesses) {
  REQUIRE_STEP(EdgeServesDhcpAndNatForTenantA);
  World& w = *world_;
  ASSERT_TRUE(Alive(w.haproxy));
  ASSERT_TRUE(Alive(w.dnsmasq));
  KillAgent(0);
  EXPECT_TRUE(Alive(w.haproxy)) << "haproxy died with the agent";
  EXPECT_TRUE(Alive(w.dnsmasq)) << "dnsmasq died with the agent";
  const absl::Time restarted = absl::Now();
  StartAgent(0, "");
  // Ready again with the edge reported by the new agent.
  ASSERT_TRUE(WaitFor(absl::Seconds(120), [&] {
    return HostReady(0) &&
           Sql("SELECT count(*) FROM edge_instances WHERE status_time > now() - "
               "interval '5 seconds' AND error = ''") == "1" &&
           absl::ToDoubleSeconds(absl::Now() - restarted) > 5;
  })) << AgentLog(0);
  EXPECT_EQ(PidFile(EdgeFile(0, "haproxy.pid")), w.haproxy);
  EXPECT_EQ(PidFile(EdgeFile(0, "dnsmasq.pid")), w.dnsmasq);
  EXPECT_TRUE(Alive(w.haproxy));
  EXPECT_TRUE(Alive(w.dnsmasq));
  const std::string processes = Sql("SELECT processes FROM edge_instances");
  EXPECT_TRUE(absl::StrContains(processes, absl::StrCat("\"pid\": ", w.haproxy)) ||
              absl::StrContains(processes, absl::StrCat("\"pid\":", w.haproxy)))
      << processes;
  // Still serving: the outside client through HAProxy, the guest's egress.
  auto fetched = ClientFetch(kAllowedClient);
  EXPECT_OK(fetched.status());
  const absl::Time after = absl::Now();
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] { return RequestsFromA(after) > 0; }));
}

// A second machine of A on host 2 makes A's edge redundant: keepalived in
// both copies, host 1's the master. Host 1's outside link goes down: the
// addresses move to host 2, the outside client's next connection succeeds
// within 5 s (through host 2's HAProxy and the tenant's VXLAN to the VM on
// host 1), and the VM's egress works again.
TEST_F(EdgeE2eTest, HaFailoverMovesTheAddresses) {
  REQUIRE_STEP(EndpointAdmitsOnlyAllowedClients);
  World& w = *world_;
  NewMachine m;
  m.machine_id = w.a2_id;
  m.tenant = "acme";
  m.cluster = "e2e";
  m.name = "a2";
  m.host = HostId(1);
  m.resources.set_vcpus(1);
  m.resources.set_memory_mib(512);
  m.resources.set_disk_gib(3);
  m.base_image = kImage;
  m.base_image_sha256 = w.image_sha256;
  m.node_mac = "02:4d:00:00:ed:02";
  m.power_state = v1::POWER_STATE_OFF;
  m.seed.set_user_data("#cloud-config\n");
  m.seed.set_meta_data(absl::StrCat("instance-id: ", w.a2_id, "\nlocal-hostname: a2\n"));
  m.seed.set_network_config("version: 2\nethernets: {}\n");
  auto keys = w.controller->KeyRing();
  ASSERT_OK(keys.status());
  MachineStore machines;
  ASSERT_OK(
      w.controller->server().database().Transact("place", [&](controller::store::Connection& conn) {
        return machines.Insert(conn, m, keys->current());
      }));
  w.a2_placed = true;
  PlaceEdge("acme");
  const std::string states_sql =
      "SELECT string_agg(h.name || ' ' || i.vrrp_state, ',' ORDER BY h.name) FROM edge_instances "
      "i JOIN hosts h ON h.id = i.host_id JOIN tenants t ON t.id = i.tenant_id WHERE t.name = "
      "'acme'";
  const std::string healthy_sql =
      "SELECT count(*) FROM edge_instances i JOIN tenants t ON t.id = i.tenant_id, "
      "jsonb_array_elements(i.endpoints) x WHERE t.name = 'acme' AND "
      "(x->>'healthy_backends')::int = 1";
  ASSERT_TRUE(WaitFor(
      absl::Seconds(120),
      [&] { return Sql(states_sql) == "hv1 MASTER,hv2 BACKUP" && Sql(healthy_sql) == "2"; }))
      << "A's edge did not become redundant with both HAProxies healthy: " << Sql(states_sql)
      << "; healthy in " << Sql(healthy_sql) << "\n"
      << AgentLog(1);
  ASSERT_OK(ClientFetch(kAllowedClient).status()) << "the endpoint does not serve before failover";

  // Host 1's copy loses its external link.
  const std::string& meo = w.edge_outside_link;
  const absl::Time cut = absl::Now();
  ASSERT_OK(w.ns->Run(w.ns->host(0), {"ip", "link", "set", meo, "down"}).status());
  std::string served;
  const bool moved = WaitFor(
      absl::Seconds(30),
      [&] {
        auto got = world_->ns->Run(
            world_->outside,
            {"curl", "-sk", "--interface", kAllowedClient, "--connect-timeout", "1", "--max-time",
             "3", absl::StrCat("https://", world_->endpoint_external, ":", kApiPort, "/readyz")});
        if (got.ok()) served = *got;
        return got.ok() && absl::StrContains(served, "Cipher");
      },
      absl::Milliseconds(100));
  const absl::Duration took = absl::Now() - cut;
  ASSERT_TRUE(moved) << "no connection through the endpoint within 30 s of the failover: "
                     << Sql(states_sql) << "\n"
                     << EdgeDiagnostics();
  printf("[ figure ] master's outside link down -> outside client served again: %.1f s\n",
         absl::ToDoubleSeconds(took));
  fflush(stdout);
  EXPECT_LE(took, absl::Seconds(5));
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] { return Sql(states_sql) == "hv1 FAULT,hv2 MASTER"; }))
      << Sql(states_sql);
  const absl::Time after = absl::Now();
  EXPECT_TRUE(WaitFor(absl::Seconds(30), [&] { return RequestsFromA(after) > 0; }))
      << "the VM's egress did not come back through host 2's copy: "
      << Observe(w.a1_id).guest_message;
  std::set<std::string> peers;
  for (const auto& r : w.http->Requests()) {
    if (r.time >= after) peers.insert(r.peer);
  }
  EXPECT_EQ(peers, std::set<std::string>{w.a_egress});
  ASSERT_OK(w.ns->Run(w.ns->host(0), {"ip", "link", "set", meo, "up"}).status());
}

// Removing tenant A's machine and its endpoint removes the edge: no
// namespace, no edge process, no meo-/mei- link on the host.
TEST_F(EdgeE2eTest, RemovalLeavesNoEdge) {
  REQUIRE_STEP(AgentsEnrollAndReportReady);
  World& w = *world_;
  if (w.agents.count(0) == 0) StartAgent(0, "");
  if (w.a1_placed) {
    MachineStore store;
    ASSERT_OK(w.controller->server().database().Transact(
        "remove",
        [&](controller::store::Connection& conn) { return store.Delete(conn, w.a1_id); }));
  }
  for (const auto& [placed, id] :
       {std::make_pair(w.b1_placed, w.b1_id), std::make_pair(w.a2_placed, w.a2_id)}) {
    if (!placed) continue;
    MachineStore store;
    ASSERT_OK(w.controller->server().database().Transact(
        "remove", [&](controller::store::Connection& conn) { return store.Delete(conn, id); }));
  }
  ASSERT_OK(w.controller->Sql("DELETE FROM cluster_endpoints").status());
  PlaceEdge("acme");
  PlaceEdge("beta");
  EXPECT_EQ(Sql("SELECT count(*) FROM edge_instances"), "0");
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(WaitFor(absl::Seconds(120),
                        [&] {
                          auto list = OnHost(i, {"ip", "netns", "list"});
                          auto links = w.ns->Links(w.ns->host(i));
                          return list.ok() && !absl::StrContains(*list, "mandant-e") &&
                                 links.ok() && !absl::StrContains(*links, "meo-") &&
                                 !absl::StrContains(*links, "mei-");
                        }))
        << "host " << i << ":\n"
        << *OnHost(i, {"ip", "netns", "list"}) << *w.ns->Links(w.ns->host(i)) << AgentLog(i);
  }
  EXPECT_FALSE(Alive(w.haproxy) &&
               absl::StrContains(ReadAll(absl::StrCat("/proc/", w.haproxy, "/cmdline")), "haproxy"))
      << "haproxy " << w.haproxy << " still runs";
  EXPECT_FALSE(Alive(w.dnsmasq) &&
               absl::StrContains(ReadAll(absl::StrCat("/proc/", w.dnsmasq, "/cmdline")), "dnsmasq"))
      << "dnsmasq " << w.dnsmasq << " still runs";
  auto dir = RunCommand({"ls", "-A", EdgeStateDir(0)});
  ASSERT_OK(dir.status());
  EXPECT_FALSE(absl::StrContains(*dir, "mandant-e")) << *dir;
}

}  // namespace
}  // namespace mandant::testing
