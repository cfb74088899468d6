// The network-namespace fixture the end-to-end tests build on: hosts reach
// each other over the underlay, commands and processes run inside a
// namespace, links and FDB entries can be read, a capture sees broadcasts
// (and only where they go), and everything is gone afterwards.
#include "tests/support/netns.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/support/subprocess.h"

namespace mandant::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

bool NamespaceExists(const std::string& name) {
  return std::filesystem::exists(absl::StrCat("/run/netns/", name));
}

// Dead, or a zombie waiting for a parent that may never reap it.
bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) != 0) return true;
  std::FILE* f = std::fopen(absl::StrCat("/proc/", pid, "/stat").c_str(), "r");
  if (f == nullptr) return true;
  char state = '?';
  int read = std::fscanf(f, "%*d (%*[^)]) %c", &state);
  std::fclose(f);
  return read == 1 && (state == 'Z' || state == 'X');
}

// Sends one UDP datagram to 255.255.255.255:port out of `interface` of `netns`.
absl::Status SendBroadcast(const std::string& netns, const std::string& interface, int port,
                           const std::string& payload) {
  absl::Status result;
  absl::Status in_netns = RunInNamespace(netns, [&] {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(),
                   static_cast<socklen_t>(interface.size())) != 0) {
      result = absl::InternalError(absl::StrCat("broadcast socket: ", std::strerror(errno)));
    } else {
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(static_cast<uint16_t>(port));
      to.sin_addr.s_addr = htonl(INADDR_BROADCAST);
      if (sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to),
                 sizeof(to)) < 0) {
        result = absl::InternalError(absl::StrCat("sendto: ", std::strerror(errno)));
      }
    }
    if (fd >= 0) close(fd);
  });
  return in_netns.ok() ? result : in_netns;
}

bool IsUdpBroadcastWith(const CapturedFrame& frame, const std::string& source_mac,
                        const std::string& payload) {
  return frame.is_broadcast() && frame.ethertype == ETH_P_IP && frame.source_mac == source_mac &&
         absl::StrContains(frame.bytes, payload);
}

class NetworkNamespacesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "the end-to-end tests need root (network namespaces)";
    auto netns = NetworkNamespaces::Create(2);
    ASSERT_TRUE(netns.ok()) << netns.status();
    netns_ = std::move(*netns);
  }

  std::unique_ptr<NetworkNamespaces> netns_;
};

TEST_F(NetworkNamespacesTest, HostsReachEachOtherOverTheUnderlay) {
  const std::string& a = netns_->host(0);
  EXPECT_NE(a, netns_->host(1));
  EXPECT_THAT(a, HasSubstr(absl::StrCat(getpid())));
  EXPECT_TRUE(absl::StartsWith(netns_->UnderlayCidr(), "10.2"));

  auto links = netns_->Links(a);
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_THAT(*links, HasSubstr("mu0@"));
  EXPECT_THAT(*links, HasSubstr("veth"));

  auto ping = netns_->Run(a, {"busybox", "ping", "-c", "2", "-w", "5", netns_->UnderlayAddress(1)});
  EXPECT_TRUE(ping.ok()) << ping.status();
  // An address nobody has: the same ping must fail, or the check above proves nothing.
  auto nobody =
      netns_->Run(a, {"busybox", "ping", "-c", "1", "-W", "1", netns_->UnderlayAddress(99)});
  EXPECT_FALSE(nobody.ok());
  // The root namespace has no route into the underlay.
  EXPECT_FALSE(
      RunCommand({"busybox", "ping", "-c", "1", "-W", "1", netns_->UnderlayAddress(1)}).ok());
}

TEST_F(NetworkNamespacesTest, FdbOfAVxlanDeviceIsReadable) {
  const std::string& a = netns_->host(0);
  ASSERT_TRUE(
      netns_
          ->Run(a, {"ip", "link", "add", "vx42", "type", "vxlan", "id", "42", "local",
                    netns_->UnderlayAddress(0), "dev", "mu0", "dstport", "4789", "nolearning"})
          .ok());
  ASSERT_TRUE(netns_
                  ->Run(a, {"bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vx42", "dst",
                            netns_->UnderlayAddress(1), "self", "permanent"})
                  .ok());
  auto fdb = netns_->Fdb(a, "vx42");
  ASSERT_TRUE(fdb.ok()) << fdb.status();
  EXPECT_THAT(*fdb, HasSubstr(absl::StrCat("00:00:00:00:00:00 dst ", netns_->UnderlayAddress(1))));
  // Other namespaces do not see it.
  EXPECT_FALSE(netns_->Fdb(netns_->host(1), "vx42").ok());
}

TEST_F(NetworkNamespacesTest, CaptureSeesBroadcastsOnlyOnTheSegmentTheyReach) {
  const std::string& a = netns_->host(0);
  const std::string& b = netns_->host(1);
  // A namespace on a separate segment: a veth pair from host b, not bridged.
  auto island = netns_->AddNamespace("island");
  ASSERT_TRUE(island.ok()) << island.status();
  ASSERT_TRUE(netns_->AddVeth(b, "isl0", *island, "eth0").ok());

  auto mac_a = netns_->MacAddress(a, "mu0");
  ASSERT_TRUE(mac_a.ok()) << mac_a.status();

  auto on_b = PacketCapture::Start(b, "mu0");
  ASSERT_TRUE(on_b.ok()) << on_b.status();
  auto on_island = PacketCapture::Start(*island, "eth0");
  ASSERT_TRUE(on_island.ok()) << on_island.status();

  const std::string payload = absl::StrCat("mandant-broadcast-", getpid());
  ASSERT_TRUE(SendBroadcast(a, "mu0", 9999, payload).ok());
  EXPECT_TRUE((*on_b)->WaitFor(
      [&](const CapturedFrame& f) { return IsUdpBroadcastWith(f, *mac_a, payload); },
      absl::Seconds(5)));

  std::vector<CapturedFrame> island_frames = (*on_island)->CollectFor(absl::Milliseconds(300));
  for (const CapturedFrame& frame : island_frames) {
    EXPECT_NE(frame.source_mac, *mac_a) << "a frame of host a reached the island";
  }

  EXPECT_EQ(PacketCapture::Start(b, "nonexistent0").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(NetworkNamespacesTest, SpawnedProcessesRunInsideTheNamespace) {
  auto dir = MakeTempDir("mandant-netns-test");
  ASSERT_TRUE(dir.ok());
  // Like `ip netns exec`, the process sees its namespace's links in /sys too.
  auto pid = netns_->Spawn(netns_->host(1),
                           {"sh", "-c", "ls /sys/class/net > " + *dir + "/links; exec sleep 600"},
                           *dir + "/sleep.log");
  ASSERT_TRUE(pid.ok()) << pid.status();
  auto pids = RunCommand({"ip", "netns", "pids", netns_->host(1)});
  ASSERT_TRUE(pids.ok());
  EXPECT_THAT(*pids, HasSubstr(absl::StrCat(*pid)));
  auto pids_a = RunCommand({"ip", "netns", "pids", netns_->host(0)});
  ASSERT_TRUE(pids_a.ok());
  EXPECT_THAT(*pids_a, Not(HasSubstr(absl::StrCat(*pid))));
  std::string links;
  for (int i = 0; i < 100 && links.find("mu0\n") == std::string::npos; ++i) {
    usleep(20 * 1000);
    std::ifstream in(*dir + "/links");
    links.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  EXPECT_EQ(links, "lo\nmu0\n");
  EXPECT_TRUE(netns_->Kill(*pid).ok());
  EXPECT_TRUE(ProcessGone(*pid));
  EXPECT_EQ(netns_->Kill(*pid).code(), absl::StatusCode::kNotFound);
  RemoveTree(*dir);
}

TEST(NetworkNamespacesCleanupTest, DestructionRemovesNamespacesAndKillsTheirProcesses) {
  ASSERT_EQ(geteuid(), 0u) << "the end-to-end tests need root (network namespaces)";
  auto first = NetworkNamespaces::Create(1);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = NetworkNamespaces::Create(1);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE((*first)->host(0), (*second)->host(0));
  EXPECT_NE((*first)->UnderlayCidr(), (*second)->UnderlayCidr());

  const std::string host = (*first)->host(0);
  const std::string sw = (*first)->switch_namespace();
  auto dir = MakeTempDir("mandant-netns-test");
  ASSERT_TRUE(dir.ok());
  // A grandchild that the fixture did not start itself, as QEMU under an agent.
  // Written under another name and renamed, so the poll below never reads
  // a half-written pid.
  auto pid = (*first)->Spawn(host,
                             {"sh", "-c",
                              "sleep 600 & echo $! > " + *dir + "/pid.tmp; mv " + *dir +
                                  "/pid.tmp " + *dir + "/pid; wait"},
                             *dir + "/sh.log");
  ASSERT_TRUE(pid.ok());
  pid_t grandchild = 0;
  for (int i = 0; i < 100 && grandchild == 0; ++i) {
    std::FILE* f = std::fopen((*dir + "/pid").c_str(), "r");
    if (f != nullptr) {
      if (std::fscanf(f, "%d", &grandchild) != 1) grandchild = 0;
      std::fclose(f);
    }
    if (grandchild == 0) usleep(50 * 1000);
  }
  ASSERT_GT(grandchild, 0);
  EXPECT_EQ(kill(grandchild, 0), 0);
  ASSERT_TRUE(NamespaceExists(host));

  first->reset();
  EXPECT_FALSE(NamespaceExists(host));
  EXPECT_FALSE(NamespaceExists(sw));
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    gone = ProcessGone(grandchild);
    if (!gone) usleep(100 * 1000);
  }
  EXPECT_TRUE(gone) << "pid " << grandchild << " survived the fixture";
  EXPECT_TRUE(NamespaceExists((*second)->host(0)));
  RemoveTree(*dir);
}

}  // namespace
}  // namespace mandant::testing
