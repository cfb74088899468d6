#include "tests/unit/agents/network/fake_netlink.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "tenants/network_names.h"

namespace mandant::agent::testing {

LinkInfo& FakeNetlink::AddExistingLink(LinkInfo link) {
  if (link.ifindex == 0) link.ifindex = next_ifindex_;
  next_ifindex_ = std::max(next_ifindex_, link.ifindex + 1);
  std::string name = link.name;
  return links_[name] = std::move(link);
}

void FakeNetlink::AddExistingAddress(const std::string& link, int family,
                                     const std::string& address, int prefix_length) {
  addresses_.push_back({links_.at(link).ifindex, family, address, prefix_length});
}

LinkInfo* FakeNetlink::Find(const std::string& name) {
  auto it = links_.find(name);
  return it == links_.end() ? nullptr : &it->second;
}

std::set<std::string> FakeNetlink::Flood(const std::string& vxlan) const {
  auto link = links_.find(vxlan);
  if (link == links_.end()) return {};
  auto it = fdb_.find(link->second.ifindex);
  return it == fdb_.end() ? std::set<std::string>{} : it->second;
}

void FakeNetlink::SetFloodDirect(const std::string& vxlan, std::set<std::string> dsts) {
  fdb_[links_.at(vxlan).ifindex] = std::move(dsts);
}

absl::Status FakeNetlink::Injected(const std::string& method, const std::string& object) {
  for (Injection& i : injections_) {
    if (i.method != method || (!i.object.empty() && i.object != object) || i.times == 0) continue;
    if (i.times > 0) --i.times;
    return i.status;
  }
  return absl::OkStatus();
}

absl::Status FakeNetlink::Mutate(const std::string& method, const std::string& object,
                                 const std::string& detail) {
  log_->push_back(absl::StrCat(method, " ", object, detail.empty() ? "" : " ", detail));
  ++mutations_;
  return Injected(method, object);
}

absl::Status FakeNetlink::NoSuchLink(const std::string& what, const std::string& name) const {
  return absl::NotFoundError(absl::StrCat(what, " \"", name, "\": Object not found"));
}

absl::StatusOr<std::vector<LinkInfo>> FakeNetlink::ListLinks() {
  ++list_calls_;
  if (absl::Status s = Injected("ListLinks", ""); !s.ok()) return s;
  std::vector<LinkInfo> out;
  for (const auto& [name, link] : links_) out.push_back(link);
  std::sort(out.begin(), out.end(),
            [](const LinkInfo& a, const LinkInfo& b) { return a.ifindex < b.ifindex; });
  return out;
}

absl::StatusOr<std::vector<AddressInfo>> FakeNetlink::ListAddresses() {
  ++list_calls_;
  if (absl::Status s = Injected("ListAddresses", ""); !s.ok()) return s;
  return addresses_;
}

absl::Status FakeNetlink::AddCommon(const NewLink& params, LinkInfo link) {
  if (links_.count(params.name) != 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("creating link \"", params.name, "\": Object exists"));
  }
  if (params.name.empty() || params.name.size() > tenants::kMaxLinkNameLength) {
    return absl::InvalidArgumentError(absl::StrCat("bad link name \"", params.name, "\""));
  }
  if (!params.master.empty()) {
    LinkInfo* master = Find(params.master);
    if (master == nullptr) return NoSuchLink("looking up link", params.master);
    if (master->kind != LinkKind::kBridge) {
      return absl::InvalidArgumentError(absl::StrCat("\"", params.master, "\" is not a bridge"));
    }
    link.master_ifindex = master->ifindex;
  }
  link.name = params.name;
  link.ifindex = next_ifindex_++;
  link.mtu = params.mtu > 0 ? params.mtu : 1500;
  link.group = params.group;
  link.up = false;
  links_[params.name] = std::move(link);
  return absl::OkStatus();
}

absl::Status FakeNetlink::AddBridge(const NewLink& bridge) {
  if (absl::Status s = Mutate("AddBridge", bridge.name, ""); !s.ok()) return s;
  LinkInfo link;
  link.kind = LinkKind::kBridge;
  link.kind_name = "bridge";
  return AddCommon(bridge, std::move(link));
}

absl::Status FakeNetlink::AddVxlan(const NewVxlan& vxlan) {
  if (absl::Status s =
          Mutate("AddVxlan", vxlan.link.name,
                 absl::StrCat("vni ", vxlan.vni, " local ", vxlan.local_address, " dev ",
                              vxlan.underlay_device, " master ", vxlan.link.master));
      !s.ok()) {
    return s;
  }
  LinkInfo* underlay = Find(vxlan.underlay_device);
  if (underlay == nullptr) return NoSuchLink("looking up link", vxlan.underlay_device);
  if (vxlan.link.mtu > underlay->mtu - tenants::kVxlanOverhead) {
    return absl::InvalidArgumentError(
        absl::StrCat("creating vxlan \"", vxlan.link.name, "\": Invalid input data or parameter"));
  }
  LinkInfo link;
  link.kind = LinkKind::kVxlan;
  link.kind_name = "vxlan";
  link.vxlan_id = vxlan.vni;
  link.vxlan_local = vxlan.local_address;
  link.vxlan_link_ifindex = underlay->ifindex;
  link.vxlan_port = vxlan.port;
  link.vxlan_learning = vxlan.learning;
  return AddCommon(vxlan.link, std::move(link));
}

absl::Status FakeNetlink::AddVlan(const NewVlan& vlan) {
  if (absl::Status s = Mutate("AddVlan", vlan.link.name,
                              absl::StrCat("id ", vlan.vlan_id, " dev ", vlan.parent_device));
      !s.ok()) {
    return s;
  }
  if (!vlan_supported_) {
    return absl::UnimplementedError(absl::StrCat("creating 802.1Q sub-interface \"", vlan.link.name,
                                                 "\": Operation not supported"));
  }
  LinkInfo* parent = Find(vlan.parent_device);
  if (parent == nullptr) return NoSuchLink("looking up link", vlan.parent_device);
  LinkInfo link;
  link.kind = LinkKind::kVlan;
  link.kind_name = "vlan";
  link.vlan_id = vlan.vlan_id;
  link.vlan_parent_ifindex = parent->ifindex;
  return AddCommon(vlan.link, std::move(link));
}

absl::Status FakeNetlink::SetMtu(const std::string& name, int mtu) {
  if (absl::Status s = Mutate("SetMtu", name, absl::StrCat(mtu)); !s.ok()) return s;
  LinkInfo* link = Find(name);
  if (link == nullptr) return NoSuchLink("setting MTU on link", name);
  if (link->kind == LinkKind::kVxlan) {
    for (auto& [n, l] : links_) {
      if (l.ifindex == link->vxlan_link_ifindex && mtu > l.mtu - tenants::kVxlanOverhead) {
        return absl::InvalidArgumentError(
            absl::StrCat("setting MTU ", mtu, " on link \"", name, "\": Invalid input data"));
      }
    }
  }
  link->mtu = mtu;
  return absl::OkStatus();
}

absl::Status FakeNetlink::SetUp(const std::string& name, bool up) {
  if (absl::Status s = Mutate("SetUp", name, up ? "up" : "down"); !s.ok()) return s;
  LinkInfo* link = Find(name);
  if (link == nullptr) return NoSuchLink("setting up link", name);
  link->up = up;
  return absl::OkStatus();
}

absl::Status FakeNetlink::SetMaster(const std::string& name, const std::string& master) {
  if (absl::Status s = Mutate("SetMaster", name, master); !s.ok()) return s;
  LinkInfo* link = Find(name);
  LinkInfo* m = Find(master);
  if (link == nullptr) return NoSuchLink("enslaving link", name);
  if (m == nullptr) return NoSuchLink("looking up link", master);
  if (m->kind != LinkKind::kBridge) {
    return absl::InvalidArgumentError(absl::StrCat("\"", master, "\" is not a bridge"));
  }
  link->master_ifindex = m->ifindex;
  return absl::OkStatus();
}

absl::Status FakeNetlink::SetAlias(const std::string& name, const std::string& alias) {
  if (absl::Status s = Mutate("SetAlias", name, alias); !s.ok()) return s;
  LinkInfo* link = Find(name);
  if (link == nullptr) return NoSuchLink("setting alias on link", name);
  link->alias = alias;
  return absl::OkStatus();
}

absl::Status FakeNetlink::DeleteLink(const std::string& name) {
  if (absl::Status s = Mutate("DeleteLink", name, ""); !s.ok()) return s;
  LinkInfo* link = Find(name);
  if (link == nullptr) return NoSuchLink("deleting link", name);
  const int ifindex = link->ifindex;
  fdb_.erase(ifindex);
  links_.erase(name);
  for (auto& [n, l] : links_) {
    if (l.master_ifindex == ifindex) l.master_ifindex = 0;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> FakeNetlink::ListFloodEntries(const std::string& vxlan) {
  ++list_calls_;
  if (absl::Status s = Injected("ListFloodEntries", vxlan); !s.ok()) return s;
  LinkInfo* link = Find(vxlan);
  if (link == nullptr) return NoSuchLink("looking up link", vxlan);
  const std::set<std::string>& dsts = fdb_[link->ifindex];
  return std::vector<std::string>(dsts.begin(), dsts.end());
}

absl::Status FakeNetlink::AddFloodEntry(const std::string& vxlan, const std::string& dst) {
  if (absl::Status s = Mutate("AddFloodEntry", vxlan, dst); !s.ok()) return s;
  LinkInfo* link = Find(vxlan);
  if (link == nullptr) return NoSuchLink("looking up link", vxlan);
  if (link->kind != LinkKind::kVxlan) {
    return absl::InvalidArgumentError(absl::StrCat("\"", vxlan, "\" is not a VXLAN device"));
  }
  fdb_[link->ifindex].insert(dst);
  return absl::OkStatus();
}

absl::Status FakeNetlink::DeleteFloodEntry(const std::string& vxlan, const std::string& dst) {
  if (absl::Status s = Mutate("DeleteFloodEntry", vxlan, dst); !s.ok()) return s;
  LinkInfo* link = Find(vxlan);
  if (link == nullptr) return NoSuchLink("looking up link", vxlan);
  if (fdb_[link->ifindex].erase(dst) == 0) {
    return absl::NotFoundError(
        absl::StrCat("deleting flood entry to ", dst, " on \"", vxlan, "\": Object not found"));
  }
  return absl::OkStatus();
}

void FakeFirewall::SetBridgesDirect(std::set<std::string> bridges) {
  bridges_ = std::move(bridges);
  table_present_ = !bridges_.empty();
}

absl::Status FakeFirewall::Injected(const std::string& method) {
  for (Injection& i : injections_) {
    if (i.method != method || i.times == 0) continue;
    if (i.times > 0) --i.times;
    return i.status;
  }
  return absl::OkStatus();
}

absl::Status FakeFirewall::ReplaceBridgeRules(const std::vector<std::string>& bridges) {
  log_->push_back(absl::StrCat("ReplaceBridgeRules ", absl::StrJoin(bridges, ",")));
  ++replacements_;
  if (absl::Status s = Injected("ReplaceBridgeRules"); !s.ok()) return s;
  for (const std::string& b : bridges) {
    if (!tenants::IsMandantBridgeName(b)) {
      return absl::InvalidArgumentError(absl::StrCat("\"", b, "\" is not a Mandant bridge name"));
    }
  }
  bridges_ = std::set<std::string>(bridges.begin(), bridges.end());
  table_present_ = !bridges_.empty();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<BridgeDrops>> FakeFirewall::ListBridgeRules() {
  if (absl::Status s = Injected("ListBridgeRules"); !s.ok()) return s;
  std::vector<BridgeDrops> out;
  for (const std::string& b : bridges_) out.push_back({b, 0, 0});
  return out;
}

}  // namespace mandant::agent::testing
