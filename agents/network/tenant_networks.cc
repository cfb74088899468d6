#include "agents/network/tenant_networks.h"

#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include "tenants/field_violations.h"
#include "tenants/network_names.h"

namespace mandant::agent {
namespace {

using ::mandant::v1::TenantNetworkSpec;
using ::mandant::v1::TenantNetworkStatus;

std::string AliasFor(const std::string& tenant) {
  return absl::StrCat(kMandantAliasPrefix, tenant);
}

// Mandant's own: a Mandant name and the Mandant mark.
bool IsOwned(const LinkInfo& link) {
  if (!tenants::IsMandantLinkName(link.name)) return false;
  if (absl::StartsWith(link.alias, kMandantAliasPrefix)) return true;
  return link.alias.empty() && link.group == kMandantLinkGroup;
}

// The tenant in an owned link's alias; empty when only the group marks it.
std::string TenantOf(const LinkInfo& link) {
  absl::string_view alias = link.alias;
  return absl::ConsumePrefix(&alias, kMandantAliasPrefix) ? std::string(alias) : "";
}

const char* KindName(LinkKind kind) {
  switch (kind) {
    case LinkKind::kBridge:
      return "bridge";
    case LinkKind::kVxlan:
      return "vxlan";
    case LinkKind::kVlan:
      return "vlan";
    default:
      return "other";
  }
}

absl::Status Foreign(const LinkInfo& link, absl::string_view role) {
  return absl::FailedPreconditionError(
      absl::StrCat(role, " \"", link.name, "\" exists but is not Mandant's (kind ",
                   link.kind_name.empty() ? "none" : link.kind_name, ", alias ",
                   tenants::QuoteForMessage(link.alias),
                   "); the agent never changes it: rename or delete it by hand to free the name"));
}

// The bridge name a Mandant link belongs to: itself for a bridge, else the
// bridge of the same mode and segment.
std::string NetworkKey(const tenants::ParsedLinkName& parsed) {
  return tenants::TenantBridgeName(parsed.mode, parsed.segment_id).value();
}

// One Reconcile call's view of the kernel and its results.
class Pass {
 public:
  Pass(const TenantNetworks::Options& options) : options_(options), nl_(*options.netlink) {}

  absl::Status Refresh() {
    MANDANT_ASSIGN_OR_RETURN(std::vector<LinkInfo> links, nl_.ListLinks());
    by_name_.clear();
    for (LinkInfo& l : links) {
      by_name_[l.name] = std::move(l);
    }
    return absl::OkStatus();
  }

  const LinkInfo* Lookup(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &it->second;
  }

  std::set<std::string> OwnedBridges() const {
    std::set<std::string> out;
    for (const auto& [name, link] : by_name_) {
      if (IsOwned(link) && tenants::IsMandantBridgeName(name)) out.insert(name);
    }
    return out;
  }

  // Owned links whose name is not in `keep`: segment links first, then
  // bridges, so no bridge loses its segment link while it still exists.
  std::vector<std::string> OwnedNotIn(const std::set<std::string>& keep) const {
    std::vector<std::string> links;
    std::vector<std::string> bridges;
    for (const auto& [name, link] : by_name_) {
      if (!IsOwned(link) || keep.count(name) != 0) continue;
      (tenants::IsMandantBridgeName(name) ? bridges : links).push_back(name);
    }
    links.insert(links.end(), bridges.begin(), bridges.end());
    return links;
  }

  // Agent-side checks of a spec that passed ValidateTenantNetworkSpec.
  absl::Status CheckAgainstHost(const TenantNetworkSpec& spec) const {
    if (spec.mode() == v1::NETWORK_MODE_VXLAN) {
      std::optional<tenants::IpAddress> local =
          tenants::CanonicalIpAddress(options_.underlay_address);
      if (!local.has_value() || options_.underlay_device.empty()) {
        return absl::FailedPreconditionError(
            "VXLAN network refused: the agent has no underlay address and device configured");
      }
      for (const std::string& peer : spec.peer_underlay_addresses()) {
        std::optional<tenants::IpAddress> p = tenants::CanonicalIpAddress(peer);
        if (p->family != local->family) {
          return absl::InvalidArgumentError(absl::StrCat(
              "peer_underlay_addresses: \"", peer, "\" is not of the underlay's address family (",
              local->text, "); the spec is refused"));
        }
        if (p->text == local->text) {
          return absl::InvalidArgumentError(
              absl::StrCat("peer_underlay_addresses: \"", peer,
                           "\" is this host's own underlay address; the spec is refused"));
        }
      }
    }
    return absl::OkStatus();
  }

  // Makes one valid network match its spec. `may_create` is false while the
  // firewall is not in place. Records the flood list as installed.
  absl::Status Ensure(const TenantNetworkSpec& spec, bool may_create) {
    const bool vxlan = spec.mode() == v1::NETWORK_MODE_VXLAN;
    const std::string alias = AliasFor(spec.tenant());
    const std::string& bridge_name = spec.bridge_name();
    const std::string& link_name = spec.link_name();

    // Nothing is created while either name belongs to someone else.
    const LinkInfo* bridge = Lookup(bridge_name);
    if (bridge != nullptr && !IsOwned(*bridge)) return Foreign(*bridge, "bridge");
    if (const LinkInfo* l = Lookup(link_name); l != nullptr && !IsOwned(*l)) {
      return Foreign(*l, vxlan ? "VXLAN device" : "VLAN sub-interface");
    }

    // The bridge. Owned but of another tenant (the segment changed hands) or
    // not a bridge: delete, which also detaches the old tenant's VM taps.
    if (bridge != nullptr) {
      const std::string owner = TenantOf(*bridge);
      if (bridge->kind != LinkKind::kBridge || (!owner.empty() && owner != spec.tenant())) {
        MANDANT_LOG(warn, "recreating tenant bridge",
                    {{"bridge", bridge_name},
                     {"kind", KindName(bridge->kind)},
                     {"had_tenant", owner},
                     {"tenant", spec.tenant()}});
        MANDANT_RETURN_IF_ERROR(nl_.DeleteLink(bridge_name));
        MANDANT_RETURN_IF_ERROR(Refresh());
        bridge = nullptr;
      }
    }
    if (bridge == nullptr) {
      if (!may_create) return NotCreated("bridge", bridge_name);
      MANDANT_RETURN_IF_ERROR(nl_.AddBridge({bridge_name, spec.mtu(), kMandantLinkGroup, ""}));
      MANDANT_RETURN_IF_ERROR(Refresh());
      bridge = Lookup(bridge_name);
      if (bridge == nullptr) return Vanished(bridge_name);
    }
    if (bridge->alias != alias) MANDANT_RETURN_IF_ERROR(nl_.SetAlias(bridge_name, alias));

    // The VXLAN device or VLAN sub-interface.
    const std::string trunk =
        options_.vlan_trunk_device.empty() ? options_.underlay_device : options_.vlan_trunk_device;
    const LinkInfo* link = Lookup(link_name);
    if (link != nullptr) {
      if (std::string why = Mismatch(*link, spec, trunk); !why.empty()) {
        MANDANT_LOG(warn, "recreating tenant segment link",
                    {{"link", link_name}, {"tenant", spec.tenant()}, {"reason", why}});
        MANDANT_RETURN_IF_ERROR(nl_.DeleteLink(link_name));
        MANDANT_RETURN_IF_ERROR(Refresh());
        link = nullptr;
      }
    }
    if (link == nullptr) {
      if (!may_create) return NotCreated(vxlan ? "VXLAN device" : "VLAN sub-interface", link_name);
      NewLink common{link_name, spec.mtu(), kMandantLinkGroup, bridge_name};
      if (vxlan) {
        NewVxlan v;
        v.link = common;
        v.vni = spec.vni();
        v.local_address = options_.underlay_address;
        v.underlay_device = options_.underlay_device;
        MANDANT_RETURN_IF_ERROR(nl_.AddVxlan(v));
      } else {
        NewVlan v;
        v.link = common;
        v.vlan_id = static_cast<uint16_t>(spec.vlan_id());
        v.parent_device = trunk;
        MANDANT_RETURN_IF_ERROR(nl_.AddVlan(v));
      }
      MANDANT_RETURN_IF_ERROR(Refresh());
      link = Lookup(link_name);
      if (link == nullptr) return Vanished(link_name);
    }
    bridge = Lookup(bridge_name);
    if (bridge == nullptr) return Vanished(bridge_name);
    if (link->alias != alias) MANDANT_RETURN_IF_ERROR(nl_.SetAlias(link_name, alias));
    // The port first: a bridge's MTU above its port's would be cut back.
    if (link->mtu != spec.mtu()) MANDANT_RETURN_IF_ERROR(nl_.SetMtu(link_name, spec.mtu()));
    if (bridge->mtu != spec.mtu()) MANDANT_RETURN_IF_ERROR(nl_.SetMtu(bridge_name, spec.mtu()));
    if (link->master_ifindex != bridge->ifindex) {
      MANDANT_RETURN_IF_ERROR(nl_.SetMaster(link_name, bridge_name));
    }
    if (!link->up) MANDANT_RETURN_IF_ERROR(nl_.SetUp(link_name, true));
    if (!bridge->up) MANDANT_RETURN_IF_ERROR(nl_.SetUp(bridge_name, true));

    if (vxlan) {
      MANDANT_ASSIGN_OR_RETURN(std::vector<std::string> current, nl_.ListFloodEntries(link_name));
      std::set<std::string>& installed = flood_[bridge_name];
      installed = std::set<std::string>(current.begin(), current.end());
      const std::set<std::string> want(spec.peer_underlay_addresses().begin(),
                                       spec.peer_underlay_addresses().end());
      for (const std::string& peer : want) {
        if (installed.count(peer) != 0) continue;
        MANDANT_RETURN_IF_ERROR(nl_.AddFloodEntry(link_name, peer));
        installed.insert(peer);
      }
      for (const std::string& dst : std::set<std::string>(installed)) {
        if (want.count(dst) != 0) continue;
        MANDANT_RETURN_IF_ERROR(nl_.DeleteFloodEntry(link_name, dst));
        installed.erase(dst);
      }
    }
    return absl::OkStatus();
  }

  // What the kernel has of the network keyed `bridge_name`, Mandant-owned
  // objects only. `spec` (may be null) fills what the kernel cannot say.
  TenantNetworkStatus Observe(const std::string& bridge_name, const TenantNetworkSpec* spec) {
    TenantNetworkStatus st;
    st.set_bridge_name(bridge_name);
    std::optional<tenants::ParsedLinkName> parsed = tenants::ParseTenantLinkName(bridge_name);
    const LinkInfo* bridge = Lookup(bridge_name);
    if (bridge != nullptr && !IsOwned(*bridge)) bridge = nullptr;
    const LinkInfo* link = nullptr;
    if (parsed.has_value()) {
      st.set_mode(parsed->mode);
      (parsed->mode == v1::NETWORK_MODE_VXLAN ? st.set_vni(parsed->segment_id)
                                              : st.set_vlan_id(parsed->segment_id));
      link = Lookup(tenants::TenantLinkName(parsed->mode, parsed->segment_id).value());
      if (link != nullptr && !IsOwned(*link)) link = nullptr;
    } else if (spec != nullptr) {
      st.set_mode(spec->mode());
      st.set_vni(spec->vni());
      st.set_vlan_id(spec->vlan_id());
    }
    std::string tenant = bridge != nullptr ? TenantOf(*bridge) : "";
    if (tenant.empty() && link != nullptr) tenant = TenantOf(*link);
    if (tenant.empty() && spec != nullptr) tenant = spec->tenant();
    st.set_tenant(tenant);
    if (link != nullptr && link->kind == LinkKind::kVxlan) {
      st.set_mode(v1::NETWORK_MODE_VXLAN);
      st.set_vni(link->vxlan_id);
      st.set_vlan_id(0);
    } else if (link != nullptr && link->kind == LinkKind::kVlan) {
      st.set_mode(v1::NETWORK_MODE_VLAN);
      st.set_vlan_id(link->vlan_id);
      st.set_vni(0);
    }
    if (bridge != nullptr) st.set_mtu(bridge->mtu);
    if (link != nullptr && link->kind == LinkKind::kVxlan) {
      auto it = flood_.find(bridge_name);
      if (it == flood_.end()) {
        // Not reached by Ensure (refused spec, earlier error, orphan): read it.
        absl::StatusOr<std::vector<std::string>> dsts = nl_.ListFloodEntries(link->name);
        it = flood_.emplace(bridge_name, std::set<std::string>()).first;
        if (dsts.ok()) it->second.insert(dsts->begin(), dsts->end());
      }
      for (const std::string& dst : it->second) st.add_peer_underlay_addresses(dst);
    }
    st.set_up(bridge != nullptr && link != nullptr && bridge->up && link->up &&
              link->master_ifindex == bridge->ifindex);
    return st;
  }

 private:
  // Why an owned segment link must be recreated; empty when it may stay.
  std::string Mismatch(const LinkInfo& link, const TenantNetworkSpec& spec,
                       const std::string& trunk) const {
    const std::string owner = TenantOf(link);
    if (!owner.empty() && owner != spec.tenant()) return absl::StrCat("tenant ", owner);
    if (spec.mode() == v1::NETWORK_MODE_VXLAN) {
      if (link.kind != LinkKind::kVxlan) return absl::StrCat("kind ", KindName(link.kind));
      if (link.vxlan_id != spec.vni()) return absl::StrCat("VNI ", link.vxlan_id);
      if (link.vxlan_local != options_.underlay_address) {
        return absl::StrCat("local address \"", link.vxlan_local, "\"");
      }
      const LinkInfo* underlay = Lookup(options_.underlay_device);
      if (underlay == nullptr || link.vxlan_link_ifindex != underlay->ifindex) {
        return absl::StrCat("underlay ifindex ", link.vxlan_link_ifindex);
      }
      if (link.vxlan_port != kVxlanPort) return absl::StrCat("port ", link.vxlan_port);
      if (link.vxlan_learning) return "learning on";
      return "";
    }
    if (link.kind != LinkKind::kVlan) return absl::StrCat("kind ", KindName(link.kind));
    if (link.vlan_id != spec.vlan_id()) return absl::StrCat("VLAN ", link.vlan_id);
    const LinkInfo* parent = Lookup(trunk);
    if (parent == nullptr || link.vlan_parent_ifindex != parent->ifindex) {
      return absl::StrCat("parent ifindex ", link.vlan_parent_ifindex);
    }
    return "";
  }

  static absl::Status NotCreated(absl::string_view role, const std::string& name) {
    return absl::UnavailableError(absl::StrCat(
        role, " \"", name,
        "\" not created: the host firewall that separates tenant bridges is not in place "
        "(see host errors); retried on the next pass"));
  }

  static absl::Status Vanished(const std::string& name) {
    return absl::AbortedError(
        absl::StrCat("link \"", name,
                     "\" was created but is missing from the next link list; retried on the "
                     "next pass"));
  }

  const TenantNetworks::Options& options_;
  Netlink& nl_;
  std::map<std::string, LinkInfo> by_name_;
  // Flood lists as installed, by bridge name.
  std::map<std::string, std::set<std::string>> flood_;
};

std::string Message(const absl::Status& s) { return std::string(s.message()); }

}  // namespace

absl::StatusOr<Underlay> FindUnderlay(Netlink& netlink, const std::string& address) {
  std::optional<tenants::IpAddress> wanted = tenants::CanonicalIpAddress(address);
  if (!wanted.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "underlay address ", tenants::QuoteForMessage(address), " is not an IPv4 or IPv6 address"));
  }
  MANDANT_ASSIGN_OR_RETURN(std::vector<AddressInfo> addresses, netlink.ListAddresses());
  for (const AddressInfo& a : addresses) {
    if (a.family != wanted->family || a.address != wanted->text) continue;
    MANDANT_ASSIGN_OR_RETURN(std::vector<LinkInfo> links, netlink.ListLinks());
    for (const LinkInfo& l : links) {
      if (l.ifindex == a.ifindex) return Underlay{l.name, l.ifindex, l.mtu};
    }
    return absl::NotFoundError(absl::StrCat("underlay address ", wanted->text, " is on ifindex ",
                                            a.ifindex, ", which is missing from the link list"));
  }
  return absl::NotFoundError(absl::StrCat(
      "no link on this host has the underlay address ", wanted->text,
      "; configure it on the underlay interface or correct the agent's underlay address"));
}

namespace {

TenantNetworks::Options Canonical(TenantNetworks::Options options) {
  if (auto a = tenants::CanonicalIpAddress(options.underlay_address); a.has_value()) {
    options.underlay_address = a->text;
  }
  return options;
}

}  // namespace

TenantNetworks::TenantNetworks(Options options) : options_(Canonical(std::move(options))) {}

TenantNetworks::Result TenantNetworks::Reconcile(const std::vector<TenantNetworkSpec>& desired) {
  absl::MutexLock lock(&mu_);
  Result result;
  Pass pass(options_);

  // Specs by bridge name; a name given twice refuses every copy.
  std::map<std::string, std::vector<const TenantNetworkSpec*>> by_bridge;
  for (const TenantNetworkSpec& spec : desired) by_bridge[spec.bridge_name()].push_back(&spec);
  std::map<std::string, std::string> errors;              // bridge name -> error
  std::map<std::string, const TenantNetworkSpec*> valid;  // bridge name -> spec
  std::set<std::string> desired_names;                    // never deleted as orphans
  for (const auto& [bridge, specs] : by_bridge) {
    for (const TenantNetworkSpec* s : specs) {
      desired_names.insert(s->bridge_name());
      desired_names.insert(s->link_name());
    }
    if (specs.size() > 1) {
      errors[bridge] = absl::StrCat("bridge_name ", tenants::QuoteForMessage(bridge), " appears ",
                                    specs.size(), " times in the host spec; all are refused");
      continue;
    }
    absl::Status invalid = tenants::ValidateTenantNetworkSpec(*specs[0]).ToStatus();
    if (invalid.ok()) invalid = pass.CheckAgainstHost(*specs[0]);
    if (!invalid.ok()) {
      errors[bridge] = absl::StrCat("spec refused: ", invalid.message());
      continue;
    }
    valid[bridge] = specs[0];
  }

  if (absl::Status s = pass.Refresh(); !s.ok()) {
    result.host_errors.push_back(absl::StrCat("tenant networks not reconciled: ", s.message()));
    for (const auto& [bridge, specs] : by_bridge) {
      TenantNetworkStatus st;
      st.set_bridge_name(bridge);
      st.set_tenant(specs[0]->tenant());
      st.set_mode(specs[0]->mode());
      st.set_error(errors.count(bridge) != 0
                       ? errors[bridge]
                       : "not reconciled: the host's links could not be listed (see host errors)");
      result.networks.push_back(std::move(st));
    }
    return result;
  }

  // The firewall: valid desired bridges and the owned bridges on the host.
  auto protected_bridges = [&]() {
    std::set<std::string> set = pass.OwnedBridges();
    for (const auto& [bridge, spec] : valid) set.insert(bridge);
    return set;
  };
  std::optional<std::set<std::string>> installed;
  if (absl::StatusOr<std::vector<BridgeDrops>> rules = options_.firewall->ListBridgeRules();
      rules.ok()) {
    installed.emplace();
    for (const BridgeDrops& d : *rules) installed->insert(d.bridge);
  } else {
    MANDANT_LOG(warn, "reading the firewall failed", {{"error", rules.status()}});
  }
  auto apply_firewall = [&](const std::set<std::string>& want) {
    if (installed.has_value() && *installed == want) return true;
    absl::Status s =
        options_.firewall->ReplaceBridgeRules(std::vector<std::string>(want.begin(), want.end()));
    if (!s.ok()) {
      result.host_errors.push_back(absl::StrCat(
          "the firewall separating tenant bridges could not be installed: ", s.message()));
      installed.reset();
      return false;
    }
    installed = want;
    return true;
  };
  const bool firewall_ok = apply_firewall(protected_bridges());

  for (const auto& [bridge, spec] : valid) {
    if (absl::Status s = pass.Ensure(*spec, firewall_ok); !s.ok()) {
      errors[bridge] = Message(s);
      MANDANT_LOG(warn, "tenant network not reconciled",
                  {{"bridge", bridge}, {"tenant", spec->tenant()}, {"error", s}});
      // Later networks need a current view even after a partial change.
      if (absl::Status r = pass.Refresh(); !r.ok()) {
        result.host_errors.push_back(absl::StrCat("listing links: ", r.message()));
        break;
      }
    }
  }

  // Orphans: owned but not desired.
  std::map<std::string, std::string> orphan_errors;  // network key -> error
  for (const std::string& name : pass.OwnedNotIn(desired_names)) {
    if (absl::Status s = options_.netlink->DeleteLink(name); !s.ok()) {
      const std::string key = NetworkKey(*tenants::ParseTenantLinkName(name));
      std::string& e = orphan_errors[key];
      absl::StrAppend(&e, e.empty() ? "" : "; ",
                      "not in the host spec but could not be removed: ", s.message());
    } else {
      MANDANT_LOG(info, "removed tenant network link", {{"link", name}});
    }
  }
  if (absl::Status s = pass.Refresh(); !s.ok()) {
    result.host_errors.push_back(absl::StrCat("listing links: ", s.message()));
  } else {
    apply_firewall(protected_bridges());
  }

  // Statuses: every desired bridge name, and what is left of orphans.
  std::set<std::string> keys;
  for (const auto& [bridge, specs] : by_bridge) keys.insert(bridge);
  for (const std::string& name : pass.OwnedNotIn(desired_names)) {
    keys.insert(NetworkKey(*tenants::ParseTenantLinkName(name)));
  }
  for (const std::string& key : keys) {
    auto spec_it = by_bridge.find(key);
    const TenantNetworkSpec* spec =
        spec_it != by_bridge.end() && spec_it->second.size() == 1 ? spec_it->second[0] : nullptr;
    TenantNetworkStatus st = pass.Observe(key, spec);
    if (auto e = errors.find(key); e != errors.end()) {
      st.set_error(e->second);
    } else if (auto o = orphan_errors.find(key); o != orphan_errors.end()) {
      st.set_error(o->second);
    } else if (spec_it == by_bridge.end()) {
      st.set_error("not in the host spec; removal incomplete, retried on the next pass");
    }
    result.networks.push_back(std::move(st));
  }
  return result;
}

}  // namespace mandant::agent
