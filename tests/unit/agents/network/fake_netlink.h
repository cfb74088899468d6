#ifndef MANDANT_TESTS_UNIT_AGENTS_NETWORK_FAKE_NETLINK_H_
#define MANDANT_TESTS_UNIT_AGENTS_NETWORK_FAKE_NETLINK_H_

// In-memory stand-ins for the kernel's links and FDB (FakeNetlink) and the
// nftables table (FakeFirewall), with per-call error injection and a log of
// every mutating call. They follow the kernel rules the agent relies on:
// names are unique, a master must be a bridge, a VXLAN device needs an
// existing underlay and its MTU may not exceed the underlay's minus 50,
// deleting a bridge frees its ports, deleting a link drops its FDB entries.
// Not thread-safe.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"

#include "agents/network/firewall.h"
#include "agents/network/netlink.h"

namespace mandant::agent::testing {

// A log shared by the fakes, so tests can check the order of netlink and
// firewall calls.
using CallLog = std::vector<std::string>;

// An error to return from calls of `method` on `object` (any object when
// empty), `times` times (forever when negative).
struct Injection {
  std::string method;
  std::string object;
  absl::Status status;
  int times = -1;
};

class FakeNetlink final : public Netlink {
 public:
  explicit FakeNetlink(CallLog* log = nullptr) : log_(log != nullptr ? log : &own_log_) {}

  // Test setup, not logged: a link as the kernel would have it (ifindex
  // assigned when 0) and an address on it.
  LinkInfo& AddExistingLink(LinkInfo link);
  void AddExistingAddress(const std::string& link, int family, const std::string& address,
                          int prefix_length);
  LinkInfo* Find(const std::string& name);
  std::set<std::string> Flood(const std::string& vxlan) const;
  void SetFloodDirect(const std::string& vxlan, std::set<std::string> dsts);

  void Inject(Injection injection) { injections_.push_back(std::move(injection)); }
  void set_vlan_supported(bool supported) { vlan_supported_ = supported; }

  // Mutating calls in order, e.g. "AddBridge mb-x0003e9", "SetMtu mx-0003e9 1400".
  const CallLog& calls() const { return *log_; }
  int mutations() const { return mutations_; }
  int list_calls() const { return list_calls_; }

  // agent::Netlink
  absl::StatusOr<std::vector<LinkInfo>> ListLinks() override;
  absl::StatusOr<std::vector<AddressInfo>> ListAddresses() override;
  absl::Status AddBridge(const NewLink& bridge) override;
  absl::Status AddVxlan(const NewVxlan& vxlan) override;
  absl::Status AddVlan(const NewVlan& vlan) override;
  absl::Status SetMtu(const std::string& name, int mtu) override;
  absl::Status SetUp(const std::string& name, bool up) override;
  absl::Status SetMaster(const std::string& name, const std::string& master) override;
  absl::Status SetAlias(const std::string& name, const std::string& alias) override;
  absl::Status DeleteLink(const std::string& name) override;
  absl::StatusOr<std::vector<std::string>> ListFloodEntries(const std::string& vxlan) override;
  absl::Status AddFloodEntry(const std::string& vxlan, const std::string& dst) override;
  absl::Status DeleteFloodEntry(const std::string& vxlan, const std::string& dst) override;

 private:
  absl::Status Injected(const std::string& method, const std::string& object);
  absl::Status Mutate(const std::string& method, const std::string& object,
                      const std::string& detail);
  absl::Status AddCommon(const NewLink& params, LinkInfo link);
  absl::Status NoSuchLink(const std::string& what, const std::string& name) const;

  CallLog own_log_;
  CallLog* log_;
  std::map<std::string, LinkInfo> links_;
  std::vector<AddressInfo> addresses_;
  std::map<int, std::set<std::string>> fdb_;  // by ifindex
  std::vector<Injection> injections_;
  int next_ifindex_ = 1;
  int mutations_ = 0;
  int list_calls_ = 0;
  bool vlan_supported_ = true;
};

class FakeFirewall final : public Firewall {
 public:
  explicit FakeFirewall(CallLog* log = nullptr) : log_(log != nullptr ? log : &own_log_) {}

  const std::set<std::string>& bridges() const { return bridges_; }
  bool table_present() const { return table_present_; }
  int replacements() const { return replacements_; }
  void Inject(Injection injection) { injections_.push_back(std::move(injection)); }
  // Simulates someone else changing the table.
  void SetBridgesDirect(std::set<std::string> bridges);

  // agent::Firewall
  absl::Status ReplaceBridgeRules(const std::vector<std::string>& bridges) override;
  absl::StatusOr<std::vector<BridgeDrops>> ListBridgeRules() override;

 private:
  absl::Status Injected(const std::string& method);

  CallLog own_log_;
  CallLog* log_;
  std::set<std::string> bridges_;
  bool table_present_ = false;
  int replacements_ = 0;
  std::vector<Injection> injections_;
};

}  // namespace mandant::agent::testing

#endif  // MANDANT_TESTS_UNIT_AGENTS_NETWORK_FAKE_NETLINK_H_
