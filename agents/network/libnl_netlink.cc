#include "agents/network/libnl_netlink.h"

#include <arpa/inet.h>
#include <linux/if_bridge.h>
#include <linux/neighbour.h>
#include <net/if.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vlan.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/socket.h>

#include "agents/network/libnl_ptr.h"
#include "common/status_macros.h"

namespace mandant::agent {
namespace {

// A libnl error on `object`, e.g. "setting VNI 1001 on \"mx-0003e9\"".
absl::Status NlError(int rc, absl::string_view what, absl::string_view object) {
  return agent::NlError(rc, absl::StrCat(what, " \"", object, "\""));
}

// Canonical text of an IPv4/IPv6 nl_addr, without prefix; empty otherwise.
std::string AddrText(const nl_addr* addr) {
  if (addr == nullptr) return "";
  const int family = nl_addr_get_family(addr);
  const unsigned len = nl_addr_get_len(addr);
  if (!((family == AF_INET && len == 4) || (family == AF_INET6 && len == 16))) return "";
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(family, nl_addr_get_binary_addr(addr), buf, sizeof(buf)) == nullptr) return "";
  return buf;
}

absl::StatusOr<NlAddrPtr> ParseIp(const std::string& text, absl::string_view what) {
  unsigned char buf[16];
  int family = 0;
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
    family = AF_INET;
  } else if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    family = AF_INET6;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", text, "\" is not an IPv4 or IPv6 address"));
  }
  nl_addr* addr = nullptr;
  if (int rc = nl_addr_parse(text.c_str(), family, &addr); rc < 0) {
    return NlError(rc, "parsing address", text);
  }
  return NlAddrPtr(addr);
}

LinkKind KindOf(absl::string_view type) {
  if (type == "bridge") return LinkKind::kBridge;
  if (type == "vxlan") return LinkKind::kVxlan;
  if (type == "vlan") return LinkKind::kVlan;
  return LinkKind::kOther;
}

LinkInfo ToLinkInfo(rtnl_link* link) {
  LinkInfo info;
  const char* name = rtnl_link_get_name(link);
  info.name = name != nullptr ? name : "";
  info.ifindex = rtnl_link_get_ifindex(link);
  const char* type = rtnl_link_get_type(link);
  info.kind_name = type != nullptr ? type : "";
  info.kind = KindOf(info.kind_name);
  info.master_ifindex = rtnl_link_get_master(link);
  info.mtu = static_cast<int>(rtnl_link_get_mtu(link));
  info.up = (rtnl_link_get_flags(link) & IFF_UP) != 0;
  const char* alias = rtnl_link_get_ifalias(link);
  info.alias = alias != nullptr ? alias : "";
  info.group = rtnl_link_get_group(link);
  if (info.kind == LinkKind::kVxlan) {
    uint32_t u32 = 0;
    if (rtnl_link_vxlan_get_id(link, &u32) == 0) info.vxlan_id = u32;
    nl_addr* local = nullptr;
    if (rtnl_link_vxlan_get_local(link, &local) == 0 && local != nullptr) {
      info.vxlan_local = AddrText(local);
      nl_addr_put(local);
    }
    if (rtnl_link_vxlan_get_link(link, &u32) == 0) info.vxlan_link_ifindex = static_cast<int>(u32);
    if (rtnl_link_vxlan_get_port(link, &u32) == 0) info.vxlan_port = static_cast<uint16_t>(u32);
    info.vxlan_learning = rtnl_link_vxlan_get_learning(link) > 0;
  } else if (info.kind == LinkKind::kVlan) {
    const int id = rtnl_link_vlan_get_id(link);
    if (id > 0) info.vlan_id = static_cast<uint16_t>(id);
    info.vlan_parent_ifindex = rtnl_link_get_link(link);
  }
  return info;
}

class LibnlNetlinkImpl final : public Netlink {
 public:
  explicit LibnlNetlinkImpl(NlSockPtr sock) : sock_(std::move(sock)) {}

  // agent::Netlink
  absl::StatusOr<std::vector<LinkInfo>> ListLinks() override {
    MANDANT_ASSIGN_OR_RETURN(NlCachePtr cache, LinkCache());
    std::vector<LinkInfo> links;
    for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
      links.push_back(ToLinkInfo(reinterpret_cast<rtnl_link*>(o)));
    }
    std::sort(links.begin(), links.end(),
              [](const LinkInfo& a, const LinkInfo& b) { return a.ifindex < b.ifindex; });
    return links;
  }

  absl::StatusOr<std::vector<AddressInfo>> ListAddresses() override {
    nl_cache* raw = nullptr;
    if (int rc = rtnl_addr_alloc_cache(sock_.get(), &raw); rc < 0) {
      return NlError(rc, "listing addresses", "all links");
    }
    NlCachePtr cache(raw);
    std::vector<AddressInfo> out;
    for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
      auto* addr = reinterpret_cast<rtnl_addr*>(o);
      const int family = rtnl_addr_get_family(addr);
      if (family != AF_INET && family != AF_INET6) continue;
      AddressInfo info;
      info.ifindex = rtnl_addr_get_ifindex(addr);
      info.family = family;
      info.address = AddrText(rtnl_addr_get_local(addr));
      info.prefix_length = rtnl_addr_get_prefixlen(addr);
      if (!info.address.empty()) out.push_back(std::move(info));
    }
    return out;
  }

  absl::Status AddBridge(const NewLink& bridge) override {
    RtnlLinkPtr link(rtnl_link_alloc());
    if (!link) return absl::ResourceExhaustedError("rtnl_link_alloc failed");
    if (int rc = rtnl_link_set_type(link.get(), "bridge"); rc < 0) {
      return NlError(rc, "setting type bridge on", bridge.name);
    }
    MANDANT_RETURN_IF_ERROR(SetCommon(link.get(), bridge));
    return Add(link.get(), "creating bridge", bridge.name);
  }

  absl::Status AddVxlan(const NewVxlan& vxlan) override {
    const std::string& name = vxlan.link.name;
    RtnlLinkPtr link(rtnl_link_vxlan_alloc());
    if (!link) return absl::ResourceExhaustedError("rtnl_link_vxlan_alloc failed");
    MANDANT_RETURN_IF_ERROR(SetCommon(link.get(), vxlan.link));
    if (int rc = rtnl_link_vxlan_set_id(link.get(), vxlan.vni); rc < 0) {
      return NlError(rc, absl::StrCat("setting VNI ", vxlan.vni, " on"), name);
    }
    MANDANT_ASSIGN_OR_RETURN(NlAddrPtr local,
                             ParseIp(vxlan.local_address, absl::StrCat("vxlan \"", name, "\"")));
    if (int rc = rtnl_link_vxlan_set_local(link.get(), local.get()); rc < 0) {
      return NlError(rc, absl::StrCat("setting local address ", vxlan.local_address, " on"), name);
    }
    MANDANT_ASSIGN_OR_RETURN(int underlay, IfIndex(vxlan.underlay_device));
    if (int rc = rtnl_link_vxlan_set_link(link.get(), underlay); rc < 0) {
      return NlError(rc, "setting the underlay device on", name);
    }
    if (int rc = rtnl_link_vxlan_set_port(link.get(), vxlan.port); rc < 0) {
      return NlError(rc, absl::StrCat("setting port ", vxlan.port, " on"), name);
    }
    if (int rc = rtnl_link_vxlan_set_learning(link.get(), vxlan.learning ? 1 : 0); rc < 0) {
      return NlError(rc, "setting learning on", name);
    }
    return Add(link.get(), absl::StrCat("creating vxlan (VNI ", vxlan.vni, ")"), name);
  }

  absl::Status AddVlan(const NewVlan& vlan) override {
    const std::string& name = vlan.link.name;
    RtnlLinkPtr link(rtnl_link_vlan_alloc());
    if (!link) return absl::ResourceExhaustedError("rtnl_link_vlan_alloc failed");
    MANDANT_RETURN_IF_ERROR(SetCommon(link.get(), vlan.link));
    if (int rc = rtnl_link_vlan_set_id(link.get(), vlan.vlan_id); rc < 0) {
      return NlError(rc, absl::StrCat("setting VLAN ID ", vlan.vlan_id, " on"), name);
    }
    MANDANT_ASSIGN_OR_RETURN(int parent, IfIndex(vlan.parent_device));
    rtnl_link_set_link(link.get(), parent);
    return Add(link.get(),
               absl::StrCat("creating 802.1Q sub-interface (VLAN ", vlan.vlan_id, " on \"",
                            vlan.parent_device, "\")"),
               name);
  }

  absl::Status SetMtu(const std::string& name, int mtu) override {
    RtnlLinkPtr change(rtnl_link_alloc());
    rtnl_link_set_mtu(change.get(), static_cast<unsigned>(mtu));
    return Change(name, change.get(), absl::StrCat("setting MTU ", mtu, " on"));
  }

  absl::Status SetUp(const std::string& name, bool up) override {
    RtnlLinkPtr change(rtnl_link_alloc());
    if (up) {
      rtnl_link_set_flags(change.get(), IFF_UP);
    } else {
      rtnl_link_unset_flags(change.get(), IFF_UP);
    }
    return Change(name, change.get(), up ? "setting up" : "setting down");
  }

  absl::Status SetMaster(const std::string& name, const std::string& master) override {
    MANDANT_ASSIGN_OR_RETURN(int master_index, IfIndex(master));
    RtnlLinkPtr change(rtnl_link_alloc());
    rtnl_link_set_master(change.get(), master_index);
    return Change(name, change.get(), absl::StrCat("enslaving to \"", master, "\""));
  }

  absl::Status SetAlias(const std::string& name, const std::string& alias) override {
    RtnlLinkPtr change(rtnl_link_alloc());
    rtnl_link_set_ifalias(change.get(), alias.c_str());
    return Change(name, change.get(), absl::StrCat("setting alias \"", alias, "\" on"));
  }

  absl::Status DeleteLink(const std::string& name) override {
    RtnlLinkPtr link(rtnl_link_alloc());
    rtnl_link_set_name(link.get(), name.c_str());
    if (int rc = rtnl_link_delete(sock_.get(), link.get()); rc < 0) {
      return NlError(rc, "deleting link", name);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ListFloodEntries(const std::string& vxlan) override {
    MANDANT_ASSIGN_OR_RETURN(int ifindex, IfIndex(vxlan));
    nl_cache* raw = nullptr;
    if (int rc = rtnl_neigh_alloc_cache_flags(sock_.get(), &raw, NL_CACHE_AF_ITER); rc < 0) {
      return NlError(rc, "listing FDB entries of", vxlan);
    }
    NlCachePtr cache(raw);
    std::vector<std::string> dsts;
    for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
      auto* neigh = reinterpret_cast<rtnl_neigh*>(o);
      if (rtnl_neigh_get_family(neigh) != AF_BRIDGE || rtnl_neigh_get_ifindex(neigh) != ifindex) {
        continue;
      }
      nl_addr* ll = rtnl_neigh_get_lladdr(neigh);
      if (ll == nullptr || nl_addr_get_len(ll) != 6 || !nl_addr_iszero(ll)) continue;
      std::string dst = AddrText(rtnl_neigh_get_dst(neigh));
      if (!dst.empty()) dsts.push_back(std::move(dst));
    }
    std::sort(dsts.begin(), dsts.end());
    return dsts;
  }

  absl::Status AddFloodEntry(const std::string& vxlan, const std::string& dst) override {
    MANDANT_ASSIGN_OR_RETURN(RtnlNeighPtr neigh, FloodEntry(vxlan, dst));
    if (int rc = rtnl_neigh_add(sock_.get(), neigh.get(), NLM_F_CREATE | NLM_F_APPEND); rc < 0) {
      return NlError(rc, absl::StrCat("adding flood entry to ", dst, " on"), vxlan);
    }
    return absl::OkStatus();
  }

  absl::Status DeleteFloodEntry(const std::string& vxlan, const std::string& dst) override {
    MANDANT_ASSIGN_OR_RETURN(RtnlNeighPtr neigh, FloodEntry(vxlan, dst));
    if (int rc = rtnl_neigh_delete(sock_.get(), neigh.get(), 0); rc < 0) {
      return NlError(rc, absl::StrCat("deleting flood entry to ", dst, " on"), vxlan);
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<NlCachePtr> LinkCache() {
    nl_cache* raw = nullptr;
    int rc = 0;
    // A dump interrupted by a concurrent change (NLE_DUMP_INTR) is retried.
    for (int attempt = 0; attempt < 3; ++attempt) {
      rc = rtnl_link_alloc_cache(sock_.get(), AF_UNSPEC, &raw);
      if (rc != -NLE_DUMP_INTR) break;
    }
    if (rc < 0) return NlError(rc, "listing links", "all");
    return NlCachePtr(raw);
  }

  absl::StatusOr<int> IfIndex(const std::string& name) {
    rtnl_link* raw = nullptr;
    if (int rc = rtnl_link_get_kernel(sock_.get(), 0, name.c_str(), &raw); rc < 0) {
      return NlError(rc, "looking up link", name);
    }
    RtnlLinkPtr link(raw);
    return rtnl_link_get_ifindex(link.get());
  }

  absl::Status SetCommon(rtnl_link* link, const NewLink& params) {
    rtnl_link_set_name(link, params.name.c_str());
    if (params.mtu > 0) rtnl_link_set_mtu(link, static_cast<unsigned>(params.mtu));
    if (params.group != 0) rtnl_link_set_group(link, params.group);
    if (!params.master.empty()) {
      MANDANT_ASSIGN_OR_RETURN(int master, IfIndex(params.master));
      rtnl_link_set_master(link, master);
    }
    return absl::OkStatus();
  }

  absl::Status Add(rtnl_link* link, absl::string_view what, const std::string& name) {
    if (int rc = rtnl_link_add(sock_.get(), link, NLM_F_CREATE | NLM_F_EXCL); rc < 0) {
      return NlError(rc, what, name);
    }
    return absl::OkStatus();
  }

  absl::Status Change(const std::string& name, rtnl_link* change, absl::string_view what) {
    rtnl_link* raw = nullptr;
    if (int rc = rtnl_link_get_kernel(sock_.get(), 0, name.c_str(), &raw); rc < 0) {
      return NlError(rc, absl::StrCat(what, " link"), name);
    }
    RtnlLinkPtr orig(raw);
    if (int rc = rtnl_link_change(sock_.get(), orig.get(), change, 0); rc < 0) {
      return NlError(rc, absl::StrCat(what, " link"), name);
    }
    return absl::OkStatus();
  }

  // The all-zero-MAC bridge FDB entry for `dst` on `vxlan`. The dst must be set
  // before the family: rtnl_neigh_set_dst refuses an IP address once the
  // family is AF_BRIDGE (NLE_AF_MISMATCH).
  absl::StatusOr<RtnlNeighPtr> FloodEntry(const std::string& vxlan, const std::string& dst) {
    MANDANT_ASSIGN_OR_RETURN(int ifindex, IfIndex(vxlan));
    RtnlNeighPtr neigh(rtnl_neigh_alloc());
    if (!neigh) return absl::ResourceExhaustedError("rtnl_neigh_alloc failed");
    rtnl_neigh_set_ifindex(neigh.get(), ifindex);
    nl_addr* raw_ll = nullptr;
    if (int rc = nl_addr_parse("00:00:00:00:00:00", AF_LLC, &raw_ll); rc < 0) {
      return NlError(rc, "parsing the all-zero MAC for", vxlan);
    }
    NlAddrPtr ll(raw_ll);
    rtnl_neigh_set_lladdr(neigh.get(), ll.get());
    MANDANT_ASSIGN_OR_RETURN(NlAddrPtr dst_addr,
                             ParseIp(dst, absl::StrCat("flood entry on \"", vxlan, "\"")));
    if (int rc = rtnl_neigh_set_dst(neigh.get(), dst_addr.get()); rc < 0) {
      return NlError(rc, absl::StrCat("setting flood entry dst ", dst, " on"), vxlan);
    }
    rtnl_neigh_set_family(neigh.get(), AF_BRIDGE);
    rtnl_neigh_set_flags(neigh.get(), NTF_SELF);
    rtnl_neigh_set_state(neigh.get(), NUD_NOARP | NUD_PERMANENT);
    return neigh;
  }

  NlSockPtr sock_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Netlink>> LibnlNetlink::Create() {
  NlSockPtr sock(nl_socket_alloc());
  if (!sock) return absl::ResourceExhaustedError("nl_socket_alloc failed: out of memory");
  if (int rc = nl_connect(sock.get(), NETLINK_ROUTE); rc < 0) {
    return NlError(rc, "connecting netlink socket", "NETLINK_ROUTE");
  }
  return std::make_unique<LibnlNetlinkImpl>(std::move(sock));
}

}  // namespace mandant::agent
