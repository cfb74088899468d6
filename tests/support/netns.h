#ifndef MANDANT_TESTS_SUPPORT_NETNS_H_
#define MANDANT_TESTS_SUPPORT_NETNS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mandant::testing {

// Network namespaces standing in for hypervisor hosts in end-to-end tests.
//
// Create(n) makes n "host" namespaces and one "switch" namespace. Every host
// has an interface `mu0` (kUnderlayInterface) with an address in a /24
// underlay; the other ends of those veth pairs are ports of one bridge in the
// switch namespace, so the hosts reach each other over one L2 segment like
// hypervisors on a top-of-rack switch. Names carry the pid and a per-process
// sequence number (e.g. "mdt4711x0-h1"), so parallel test processes never
// collide; interface names inside a namespace are private to it.
//
// Everything is removed on destruction, also when the test failed: every
// process whose network namespace is one of ours is killed (including
// grandchildren such as QEMU started by an agent), then the namespaces are
// deleted, which deletes their interfaces. Create() also removes namespaces
// left behind by earlier test processes that died (their pid is gone).
//
// Test plumbing only: this calls `ip` and `bridge` (iproute2). Needs root.
// Not thread-safe; use one instance from one test thread.
class NetworkNamespaces {
 public:
  static constexpr char kUnderlayInterface[] = "mu0";

  // `hosts` >= 1 host namespaces on a fresh underlay.
  static absl::StatusOr<std::unique_ptr<NetworkNamespaces>> Create(int hosts);
  ~NetworkNamespaces();
  NetworkNamespaces(const NetworkNamespaces&) = delete;
  NetworkNamespaces& operator=(const NetworkNamespaces&) = delete;

  int host_count() const { return static_cast<int>(hosts_.size()); }
  // Namespace name of host `i` (0-based), for `ip -n`, `ip netns exec`.
  const std::string& host(int i) const { return hosts_.at(i); }
  // Underlay address of host `i` without prefix length, e.g. "10.243.17.1".
  std::string UnderlayAddress(int i) const;
  // The underlay network, e.g. "10.243.17.0/24". Always inside 10.240.0.0/12,
  // so tests can use the rest of 10.0.0.0/8 for tenant networks freely.
  std::string UnderlayCidr() const;
  // The namespace holding the underlay bridge `sw0` and its ports `p<i>`
  // (port of host i). Capture there to see the underlay (VXLAN) traffic.
  const std::string& switch_namespace() const { return switch_; }

  // Adds a namespace "<base>-<role>" (e.g. a simulated guest) that is
  // cleaned up with the others. `role`: [a-z0-9-], at most 20 characters.
  absl::StatusOr<std::string> AddNamespace(const std::string& role);
  // A veth pair: `if_a` in namespace `ns_a`, `if_b` in `ns_b`, both up.
  absl::Status AddVeth(const std::string& ns_a, const std::string& if_a, const std::string& ns_b,
                       const std::string& if_b);

  // Runs argv inside namespace `netns` (`ip netns exec`, so /sys shows that
  // namespace) to completion; its output, or INTERNAL with the exit status
  // and output when it fails.
  absl::StatusOr<std::string> Run(const std::string& netns, const std::vector<std::string>& argv);
  // Starts argv in the background inside `netns`, stdout and stderr appended
  // to `log_file`. It is killed (SIGKILL) on destruction at the latest.
  absl::StatusOr<pid_t> Spawn(const std::string& netns, const std::vector<std::string>& argv,
                              const std::string& log_file);
  // SIGKILLs and reaps a process started by Spawn. NOT_FOUND for other pids.
  absl::Status Kill(pid_t pid);

  // `ip -d link show` in `netns` (every link with its details).
  absl::StatusOr<std::string> Links(const std::string& netns);
  // `bridge fdb show dev <dev>` in `netns`.
  absl::StatusOr<std::string> Fdb(const std::string& netns, const std::string& dev);
  // MAC address of `interface` in `netns`, lower case "aa:bb:cc:dd:ee:ff".
  absl::StatusOr<std::string> MacAddress(const std::string& netns, const std::string& interface);

 private:
  NetworkNamespaces(std::string base, int underlay_second, int underlay_third)
      : base_(std::move(base)),
        underlay_second_(underlay_second),
        underlay_third_(underlay_third) {}
  absl::Status Build(int hosts);

  const std::string base_;
  const int underlay_second_;
  const int underlay_third_;
  std::string switch_;
  std::vector<std::string> hosts_;
  std::vector<std::string> namespaces_;  // all we created, in creation order
  std::vector<pid_t> children_;          // from Spawn, not yet reaped
};

// What NetworkNamespaces::Spawn does, for a namespace made elsewhere: starts
// argv inside `netns` (joined, with that namespace's /sys), stdout and stderr
// appended to `log_file`. `detached`: a session of its own and no death
// signal, so it outlives the caller (the demo's agent); otherwise it is
// killed when the caller dies.
absl::StatusOr<pid_t> SpawnInNamespace(const std::string& netns,
                                       const std::vector<std::string>& argv,
                                       const std::string& log_file, bool detached);

// Whether /run/netns/<netns> exists.
bool NamespaceExists(const std::string& netns);
// Kills every process inside `netns` and deletes it (with its interfaces).
// Best effort; a namespace that does not exist is fine.
void DeleteNamespace(const std::string& netns);

// Runs `fn` on a short-lived thread that has joined network namespace
// `netns` (setns on that thread only; the caller's threads stay where they
// are). Sockets created in `fn` stay bound to `netns` after it returns.
// NOT_FOUND when the namespace does not exist.
absl::Status RunInNamespace(const std::string& netns, absl::FunctionRef<void()> fn);

// One Ethernet frame seen by a PacketCapture.
struct CapturedFrame {
  std::string source_mac;       // "aa:bb:cc:dd:ee:ff"
  std::string destination_mac;  // "ff:ff:ff:ff:ff:ff" for broadcasts
  uint16_t ethertype = 0;       // 0x0800 IPv4, 0x0806 ARP, 0x86dd IPv6, ...
  // PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST or
  // PACKET_OUTGOING (<linux/if_packet.h>), as the kernel saw it.
  int packet_type = 0;
  std::string bytes;  // the whole frame as received (may be truncated at 64 KiB)

  bool is_broadcast() const { return destination_mac == "ff:ff:ff:ff:ff:ff"; }
};

// Records every frame on one interface inside a network namespace (an
// AF_PACKET socket opened in that namespace, read by a background thread),
// from Start until Stop or destruction. Use it to prove that traffic does
// or does not reach a network: e.g. capture on tenant B's bridge while
// tenant A broadcasts, then expect no frame from A's MACs.
// Thread-safe.
class PacketCapture {
 public:
  // INVALID_ARGUMENT / NOT_FOUND when the namespace or interface is missing.
  static absl::StatusOr<std::unique_ptr<PacketCapture>> Start(const std::string& netns,
                                                              const std::string& interface);
  ~PacketCapture();
  PacketCapture(const PacketCapture&) = delete;
  PacketCapture& operator=(const PacketCapture&) = delete;

  // Frames seen so far.
  std::vector<CapturedFrame> Frames() const;
  // Waits `window`, then stops capturing and returns every frame seen.
  std::vector<CapturedFrame> CollectFor(absl::Duration window);
  // Waits until a frame satisfying `match` was seen (true) or `timeout`
  // passed (false).
  bool WaitFor(absl::FunctionRef<bool(const CapturedFrame&)> match, absl::Duration timeout);
  void Stop();

 private:
  explicit PacketCapture(int fd) : fd_(fd) {}
  void ReadLoop();

  const int fd_;
  std::thread reader_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<CapturedFrame> frames_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mandant::testing

#endif  // MANDANT_TESTS_SUPPORT_NETNS_H_
