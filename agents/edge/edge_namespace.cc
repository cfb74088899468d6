#include "agents/edge/edge_namespace.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <nftables/libnftables.h>

#include "agents/network/libnl_ptr.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace mandant::agent {
namespace {

struct NftCtxDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};
using NftCtxPtr = std::unique_ptr<nft_ctx, NftCtxDeleter>;

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string ErrnoText(int err) { return std::strerror(err); }

absl::Status ErrnoStatus(int err, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ", ErrnoText(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(
          absl::StrCat(message, "; the agent needs CAP_SYS_ADMIN and CAP_NET_ADMIN"));
    case EINVAL:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

// A libnl error in edge namespace `netns`.
absl::Status NlError(int rc, absl::string_view what, absl::string_view netns) {
  return agent::NlError(rc, absl::StrCat("edge namespace \"", netns, "\": ", what));
}

std::string NetnsPath(absl::string_view netns) { return absl::StrCat(kNetnsRunDir, "/", netns); }

absl::Status CheckName(const std::string& netns) {
  if (!IsEdgeNamespaceName(netns)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", absl::CHexEscape(netns), "\" is not an edge namespace name (\"",
                     kEdgeNamespacePrefix, "\" and up to 40 of [a-z0-9-])"));
  }
  return absl::OkStatus();
}

bool IsLinkName(absl::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// Whether `path` is a mounted namespace (nsfs), as `ip netns add` leaves it.
bool IsNamespaceMount(const std::string& path) {
  struct statfs fs {};
  return statfs(path.c_str(), &fs) == 0 && static_cast<unsigned long>(fs.f_type) == NSFS_MAGIC;
}

// iproute2's netns_add: /run/netns is made a shared mount (bound onto itself
// first when it is no mount point), so namespaces mounted later are seen by
// every mount namespace that has it, e.g. a service's private one.
absl::Status PrepareRunDir() {
  if (mkdir(kNetnsRunDir, 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, absl::StrCat("creating ", kNetnsRunDir));
  }
  if (mount("", kNetnsRunDir, "none", MS_SHARED | MS_REC, nullptr) == 0) return absl::OkStatus();
  if (errno != EINVAL) return ErrnoStatus(errno, absl::StrCat("making ", kNetnsRunDir, " shared"));
  if (mount(kNetnsRunDir, kNetnsRunDir, "none", MS_BIND | MS_REC, nullptr) != 0) {
    return ErrnoStatus(errno, absl::StrCat("bind-mounting ", kNetnsRunDir, " onto itself"));
  }
  if (mount("", kNetnsRunDir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
    return ErrnoStatus(errno, absl::StrCat("making ", kNetnsRunDir, " shared"));
  }
  return absl::OkStatus();
}

// Pids (other than ours) whose network namespace is the one at `path`.
std::vector<pid_t> PidsInNamespace(const std::string& path) {
  std::vector<pid_t> pids;
  struct stat ns {};
  if (stat(path.c_str(), &ns) != 0) return pids;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return pids;
  absl::Cleanup close_dir = [dir] { closedir(dir); };
  while (dirent* entry = readdir(dir)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid <= 0 || pid == getpid()) continue;
    struct stat st {};
    const std::string ns_link = absl::StrCat("/proc/", pid, "/ns/net");
    if (stat(ns_link.c_str(), &st) == 0 && st.st_ino == ns.st_ino && st.st_dev == ns.st_dev) {
      pids.push_back(pid);
    }
  }
  return pids;
}

absl::StatusOr<NlSockPtr> OpenRouteSocket(absl::string_view netns) {
  NlSockPtr sock(nl_socket_alloc());
  if (!sock) return absl::ResourceExhaustedError("nl_socket_alloc failed: out of memory");
  if (int rc = nl_connect(sock.get(), NETLINK_ROUTE); rc < 0) {
    return NlError(rc, "connecting a NETLINK_ROUTE socket", netns);
  }
  return sock;
}

// A NETLINK_ROUTE socket bound to the namespace `netns`.
absl::StatusOr<NlSockPtr> OpenRouteSocketIn(const std::string& netns) {
  absl::StatusOr<NlSockPtr> sock = absl::InternalError("not opened");
  MANDANT_RETURN_IF_ERROR(RunInNetworkNamespace(netns, [&] {
    sock = OpenRouteSocket(netns);
    return sock.status();
  }));
  return sock;
}

// The link `name` seen through `sock`, or nullptr when there is none.
absl::StatusOr<RtnlLinkPtr> GetLink(nl_sock* sock, const std::string& name,
                                    absl::string_view netns) {
  rtnl_link* raw = nullptr;
  int rc = rtnl_link_get_kernel(sock, 0, name.c_str(), &raw);
  if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV) return RtnlLinkPtr();
  if (rc < 0) return NlError(rc, absl::StrCat("looking up link \"", name, "\""), netns);
  return RtnlLinkPtr(raw);
}

absl::StatusOr<RtnlLinkPtr> RequireLink(nl_sock* sock, const std::string& name,
                                        absl::string_view netns, absl::string_view where) {
  MANDANT_ASSIGN_OR_RETURN(RtnlLinkPtr link, GetLink(sock, name, netns));
  if (!link) {
    return absl::NotFoundError(
        absl::StrCat("edge namespace \"", netns, "\": link \"", name, "\" does not exist ", where));
  }
  return link;
}

bool IsVeth(rtnl_link* link) {
  const char* type = rtnl_link_get_type(link);
  return type != nullptr && std::strcmp(type, "veth") == 0;
}

// Changes MTU, master and up-ness of `link` where they differ.
absl::Status ConformLink(nl_sock* sock, rtnl_link* link, int mtu, int master,
                         absl::string_view netns) {
  RtnlLinkPtr change(rtnl_link_alloc());
  if (!change) return absl::ResourceExhaustedError("rtnl_link_alloc failed");
  bool changed = false;
  if (mtu > 0 && rtnl_link_get_mtu(link) != static_cast<unsigned>(mtu)) {
    rtnl_link_set_mtu(change.get(), static_cast<unsigned>(mtu));
    changed = true;
  }
  if (master > 0 && rtnl_link_get_master(link) != master) {
    rtnl_link_set_master(change.get(), master);
    changed = true;
  }
  if ((rtnl_link_get_flags(link) & IFF_UP) == 0) {
    rtnl_link_set_flags(change.get(), IFF_UP);
    changed = true;
  }
  if (!changed) return absl::OkStatus();
  if (int rc = rtnl_link_change(sock, link, change.get(), 0); rc < 0) {
    return NlError(rc, absl::StrCat("changing link \"", rtnl_link_get_name(link), "\""), netns);
  }
  return absl::OkStatus();
}

// An address with its prefix, as the kernel reports it.
struct Prefix {
  int family = 0;
  std::string address;  // canonical text
  int length = 0;
  bool operator<(const Prefix& o) const {
    return std::tie(family, address, length) < std::tie(o.family, o.address, o.length);
  }
  bool operator==(const Prefix& o) const {
    return family == o.family && address == o.address && length == o.length;
  }
};

// "10.64.3.2" -> family and canonical text; nullopt-like empty family when
// it is no address.
Prefix ParseAddress(absl::string_view text) {
  Prefix p;
  unsigned char buf[16];
  const std::string s(text);
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    p.family = AF_INET;
    p.length = 32;
  } else if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    p.family = AF_INET6;
    p.length = 128;
  } else {
    return Prefix{};
  }
  p.address = inet_ntop(p.family, buf, out, sizeof(out));
  return p;
}

absl::StatusOr<Prefix> ParsePrefix(absl::string_view text, absl::string_view netns) {
  const size_t slash = text.find('/');
  int length = -1;
  Prefix p = ParseAddress(text.substr(0, slash));
  if (p.family != 0 && slash != absl::string_view::npos &&
      absl::SimpleAtoi(text.substr(slash + 1), &length) && length >= 0 && length <= p.length) {
    p.length = length;
    return p;
  }
  return absl::InvalidArgumentError(absl::StrCat("edge namespace \"", netns, "\": \"",
                                                 absl::CHexEscape(text),
                                                 "\" is not an address with a prefix length"));
}

std::string AddrText(nl_addr* addr) {
  if (addr == nullptr) return "";
  const int family = nl_addr_get_family(addr);
  const unsigned len = nl_addr_get_len(addr);
  if (!((family == AF_INET && len == 4) || (family == AF_INET6 && len == 16))) return "";
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(family, nl_addr_get_binary_addr(addr), buf, sizeof(buf)) == nullptr) return "";
  return buf;
}

// nft's JSON listing without what changes by itself: handles, counters and
// the metainfo header.
void StripVolatile(nlohmann::json& j) {
  if (j.is_object()) {
    j.erase("handle");
    j.erase("packets");
    j.erase("bytes");
    j.erase("metainfo");
    for (auto& [key, value] : j.items()) StripVolatile(value);
  } else if (j.is_array()) {
    for (auto& value : j) StripVolatile(value);
  }
}

// Runs nft `commands` in the calling thread's namespace; the output.
absl::StatusOr<std::string> RunNft(const std::string& commands, bool json,
                                   absl::string_view netns) {
  NftCtxPtr ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return absl::ResourceExhaustedError("nft_ctx_new failed");
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return absl::InternalError("libnftables: cannot buffer output");
  }
  // libnftables 1.0.6 has no input flags: with JSON output it parses the
  // input as JSON first (and falls back to nft's language).
  if (json) nft_ctx_output_set_flags(ctx.get(), NFT_CTX_OUTPUT_JSON);
  if (nft_run_cmd_from_buffer(ctx.get(), commands.c_str()) != 0) {
    const char* err = nft_ctx_get_error_buffer(ctx.get());
    return absl::InvalidArgumentError(absl::StrCat(
        "edge namespace \"", netns, "\": nft refused the ruleset: ",
        absl::StripTrailingAsciiWhitespace(err != nullptr && *err != '\0' ? err : "no error text"),
        "; the namespace's ruleset is unchanged"));
  }
  const char* out = nft_ctx_get_output_buffer(ctx.get());
  return std::string(out != nullptr ? out : "");
}

// A digest of the namespace's current ruleset without volatile parts.
absl::StatusOr<std::string> RulesetDigest(absl::string_view netns) {
  MANDANT_ASSIGN_OR_RETURN(std::string listing, RunNft("list ruleset", true, netns));
  nlohmann::json doc = nlohmann::json::parse(listing, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Sha256Hex(listing);
  StripVolatile(doc);
  return Sha256Hex(doc.dump());
}

class KernelEdgeNetworkingImpl final : public EdgeNetworking {
 public:
  explicit KernelEdgeNetworkingImpl(NlSockPtr host_sock) : host_sock_(std::move(host_sock)) {}

  // agent::EdgeNetworking
  absl::StatusOr<std::vector<std::string>> ListNamespaces() override {
    std::vector<std::string> names;
    DIR* dir = opendir(kNetnsRunDir);
    if (dir == nullptr) {
      if (errno == ENOENT) return names;
      return ErrnoStatus(errno, absl::StrCat("listing ", kNetnsRunDir));
    }
    absl::Cleanup close_dir = [dir] { closedir(dir); };
    while (dirent* entry = readdir(dir)) {
      if (IsEdgeNamespaceName(entry->d_name)) names.emplace_back(entry->d_name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  absl::Status EnsureNamespace(const std::string& netns) override {
    MANDANT_RETURN_IF_ERROR(CheckName(netns));
    absl::MutexLock lock(&mu_);
    const std::string path = NetnsPath(netns);
    if (!IsNamespaceMount(path)) {
      MANDANT_RETURN_IF_ERROR(PrepareRunDir());
      // A file left by a crash between creating it and mounting onto it is
      // reused.
      int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0);
      if (fd < 0) return ErrnoStatus(errno, absl::StrCat("creating ", path));
      close(fd);
      absl::Status mounted;
      std::thread([&] {
        // The new namespace is this thread's alone; /proc/thread-self names
        // it (/proc/self would be the main thread's).
        if (unshare(CLONE_NEWNET) != 0) {
          mounted = ErrnoStatus(errno, absl::StrCat("unshare(CLONE_NEWNET) for ", netns));
          return;
        }
        if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
          mounted = ErrnoStatus(errno, absl::StrCat("bind-mounting the new namespace on ", path));
        }
      }).join();
      if (!mounted.ok()) {
        unlink(path.c_str());
        return mounted;
      }
    }
    MANDANT_ASSIGN_OR_RETURN(NlSockPtr sock, OpenRouteSocketIn(netns));
    MANDANT_ASSIGN_OR_RETURN(RtnlLinkPtr lo, RequireLink(sock.get(), "lo", netns, "(loopback)"));
    return ConformLink(sock.get(), lo.get(), 0, 0, netns);
  }

  absl::Status DeleteNamespace(const std::string& netns) override {
    MANDANT_RETURN_IF_ERROR(CheckName(netns));
    absl::MutexLock lock(&mu_);
    rulesets_.erase(netns);
    const std::string path = NetnsPath(netns);
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return absl::OkStatus();
      return ErrnoStatus(errno, absl::StrCat("looking at ", path));
    }
    if (IsNamespaceMount(path)) {
      const absl::Time deadline = absl::Now() + absl::Seconds(10);
      std::vector<pid_t> pids = PidsInNamespace(path);
      while (!pids.empty()) {
        if (absl::Now() > deadline) {
          return absl::UnavailableError(absl::StrCat("edge namespace \"", netns,
                                                     "\": ", pids.size(), " processes (e.g. pid ",
                                                     pids[0], ") survive SIGKILL; try again"));
        }
        for (pid_t pid : pids) kill(pid, SIGKILL);
        absl::SleepFor(absl::Milliseconds(20));
        pids = PidsInNamespace(path);
      }
      if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL) {
        return ErrnoStatus(errno, absl::StrCat("unmounting ", path));
      }
    }
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, absl::StrCat("removing ", path));
    }
    return absl::OkStatus();
  }

  absl::Status EnsureVeth(const std::string& netns, const EdgeVeth& veth) override {
    MANDANT_RETURN_IF_ERROR(CheckName(netns));
    if (!IsLinkName(veth.host_link) || !IsLinkName(veth.bridge) ||
        (veth.namespace_link != kEdgeInsideLink && veth.namespace_link != kEdgeOutsideLink) ||
        veth.mtu < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "edge namespace \"", netns, "\": bad veth (host end \"", absl::CHexEscape(veth.host_link),
          "\", namespace end \"", absl::CHexEscape(veth.namespace_link), "\", bridge \"",
          absl::CHexEscape(veth.bridge), "\", MTU ", veth.mtu,
          "); names are up to 15 of [A-Za-z0-9._-], the namespace end \"", kEdgeInsideLink,
          "\" or \"", kEdgeOutsideLink, "\""));
    }
    absl::MutexLock lock(&mu_);
    nl_sock* host = host_sock_.get();
    MANDANT_ASSIGN_OR_RETURN(RtnlLinkPtr bridge,
                             RequireLink(host, veth.bridge, netns, "on the host (bridge)"));
    MANDANT_ASSIGN_OR_RETURN(NlSockPtr ns_sock, OpenRouteSocketIn(netns));
    MANDANT_ASSIGN_OR_RETURN(RtnlLinkPtr host_end, GetLink(host, veth.host_link, netns));
    MANDANT_ASSIGN_OR_RETURN(RtnlLinkPtr ns_end,
                             GetLink(ns_sock.get(), veth.namespace_link, netns));
    // A veth reports its peer's ifindex (in the peer's namespace) as
    // IFLA_LINK; both directions must agree.
    const bool paired = host_end && ns_end && IsVeth(host_end.get()) && IsVeth(ns_end.get()) &&
                        rtnl_link_get_link(host_end.get()) == rtnl_link_get_ifindex(ns_end.get()) &&
                        rtnl_link_get_link(ns_end.get()) == rtnl_link_get_ifindex(host_end.get());
    if (!paired) {
      if (host_end) {
        MANDANT_RETURN_IF_ERROR(DeleteLink(host, host_end.get(), netns));
      }
      if (ns_end) {
        MANDANT_RETURN_IF_ERROR(DeleteLink(ns_sock.get(), ns_end.get(), netns));
      }
      MANDANT_RETURN_IF_ERROR(AddVeth(netns, veth));
      MANDANT_ASSIGN_OR_RETURN(host_end,
                               RequireLink(host, veth.host_link, netns, "after creating it"));
      MANDANT_ASSIGN_OR_RETURN(
          ns_end, RequireLink(ns_sock.get(), veth.namespace_link, netns, "after creating it"));
    }
    MANDANT_RETURN_IF_ERROR(
        ConformLink(host, host_end.get(), veth.mtu, rtnl_link_get_ifindex(bridge.get()), netns));
    return ConformLink(ns_sock.get(), ns_end.get(), veth.mtu, 0, netns);
  }

  absl::Status SetAddresses(const std::string& netns, const std::string& link,
                            const std::vector<std::string>& wanted,
                            const std::vector<std::string>& unmanaged) override {
    MANDANT_RETURN_IF_ERROR(CheckName(netns));
    std::set<Prefix> want;
    for (const std::string& w : wanted) {
      MANDANT_ASSIGN_OR_RETURN(Prefix p, ParsePrefix(w, netns));
      want.insert(p);
    }
    std::set<std::string> keep;
    for (const std::string& u : unmanaged) {
      Prefix p = ParseAddress(u);
      if (p.family == 0) {
        return absl::InvalidArgumentError(absl::StrCat("edge namespace \"", netns, "\": \"",
                                                       absl::CHexEscape(u),
                                                       "\" is not an IPv4 or IPv6 address"));
      }
      keep.insert(p.address);
    }
    absl::MutexLock lock(&mu_);
    MANDANT_ASSIGN_OR_RETURN(NlSockPtr sock, OpenRouteSocketIn(netns));
    MANDANT_ASSIGN_OR_RETURN(RtnlLinkPtr l, RequireLink(sock.get(), link, netns, "in it"));
    const int ifindex = rtnl_link_get_ifindex(l.get());
    nl_cache* raw = nullptr;
    if (int rc = rtnl_addr_alloc_cache(sock.get(), &raw); rc < 0) {
      return NlError(rc, "listing addresses", netns);
    }
    NlCachePtr cache(raw);
    std::set<Prefix> have;
    for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
      auto* addr = reinterpret_cast<rtnl_addr*>(o);
      if (rtnl_addr_get_ifindex(addr) != ifindex) continue;
      Prefix p;
      p.family = rtnl_addr_get_family(addr);
      p.address = AddrText(rtnl_addr_get_local(addr));
      p.length = rtnl_addr_get_prefixlen(addr);
      if (p.address.empty() || keep.count(p.address) > 0) continue;
      if (p.family == AF_INET6 && absl::StartsWithIgnoreCase(p.address, "fe80:")) continue;
      if (want.count(p) > 0) {
        have.insert(p);
        continue;
      }
      if (int rc = rtnl_addr_delete(sock.get(), addr, 0); rc < 0 && rc != -NLE_NOADDR) {
        return NlError(
            rc, absl::StrCat("removing ", p.address, "/", p.length, " from \"", link, "\""), netns);
      }
    }
    for (const Prefix& p : want) {
      if (have.count(p) > 0) continue;
      MANDANT_RETURN_IF_ERROR(AddAddress(sock.get(), ifindex, p, link, netns));
    }
    return absl::OkStatus();
  }

  absl::Status SetDefaultRoute(const std::string& netns, const std::string& link,
                               const std::string& gateway) override {
    MANDANT_RETURN_IF_ERROR(CheckName(netns));
    Prefix gw = ParseAddress(gateway);
    if (gw.family != AF_INET) {
      return absl::InvalidArgumentError(absl::StrCat("edge namespace \"", netns, "\": gateway \"",
                                                     absl::CHexEscape(gateway),
                                                     "\" is not an IPv4 address"));
    }
    absl::MutexLock lock(&mu_);
    MANDANT_ASSIGN_OR_RETURN(NlSockPtr sock, OpenRouteSocketIn(netns));
    MANDANT_ASSIGN_OR_RETURN(RtnlLinkPtr l, RequireLink(sock.get(), link, netns, "in it"));
    const int ifindex = rtnl_link_get_ifindex(l.get());
    nl_cache* raw = nullptr;
    if (int rc = rtnl_route_alloc_cache(sock.get(), AF_INET, 0, &raw); rc < 0) {
      return NlError(rc, "listing routes", netns);
    }
    NlCachePtr cache(raw);
    bool present = false;
    for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
      auto* route = reinterpret_cast<rtnl_route*>(o);
      nl_addr* dst = rtnl_route_get_dst(route);
      if (rtnl_route_get_table(route) != RT_TABLE_MAIN || dst == nullptr ||
          nl_addr_get_prefixlen(dst) != 0) {
        continue;
      }
      rtnl_nexthop* nh =
          rtnl_route_get_nnexthops(route) == 1 ? rtnl_route_nexthop_n(route, 0) : nullptr;
      if (!present && nh != nullptr && rtnl_route_get_type(route) == RTN_UNICAST &&
          rtnl_route_nh_get_ifindex(nh) == ifindex &&
          AddrText(rtnl_route_nh_get_gateway(nh)) == gw.address &&
          (rtnl_route_nh_get_flags(nh) & RTNH_F_ONLINK) != 0) {
        present = true;
        continue;
      }
      if (int rc = rtnl_route_delete(sock.get(), route, 0); rc < 0) {
        return NlError(rc, "removing a default route that is not the edge's", netns);
      }
    }
    if (present) return absl::OkStatus();
    return AddDefaultRoute(sock.get(), ifindex, gw.address, netns);
  }

  absl::Status EnableForwarding(const std::string& netns) override {
    MANDANT_RETURN_IF_ERROR(CheckName(netns));
    absl::MutexLock lock(&mu_);
    return RunInNetworkNamespace(netns, [&]() -> absl::Status {
      // /proc/sys/net resolves to the namespace of the thread that opens it.
      // promote_secondaries: when an address that happens to be its
      // network's primary one goes (keepalived taking a virtual address
      // away, e.g. after a single edge became redundant), the kernel would
      // otherwise delete every secondary address of that network with it,
      // the instance address keepalived talks from included (as OpenStack
      // Neutron sets it in its router namespaces).
      for (const char* path :
           {"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv4/conf/all/promote_secondaries",
            "/proc/sys/net/ipv4/conf/default/promote_secondaries"}) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) return ErrnoStatus(errno, absl::StrCat("opening ", path, " in ", netns));
        Fd owner(fd);
        char value = 0;
        if (read(fd, &value, 1) == 1 && value == '1') continue;
        if (pwrite(fd, "1\n", 2, 0) != 2) {
          return ErrnoStatus(errno, absl::StrCat("writing 1 to ", path, " in ", netns));
        }
      }
      return absl::OkStatus();
    });
  }

  absl::Status LoadRuleset(const std::string& netns, const std::string& ruleset,
                           RulesetFormat format) override {
    MANDANT_RETURN_IF_ERROR(CheckName(netns));
    const std::string wanted = Sha256Hex(ruleset);
    absl::MutexLock lock(&mu_);
    auto it = rulesets_.find(netns);
    const std::string expected =
        it != rulesets_.end() && it->second.ruleset == wanted ? it->second.listing : "";
    rulesets_.erase(netns);
    std::string listing;
    MANDANT_RETURN_IF_ERROR(RunInNetworkNamespace(netns, [&]() -> absl::Status {
      if (!expected.empty()) {
        MANDANT_ASSIGN_OR_RETURN(listing, RulesetDigest(netns));
        if (listing == expected) return absl::OkStatus();
      }
      MANDANT_ASSIGN_OR_RETURN(std::string out,
                               RunNft(ruleset, format == RulesetFormat::kJson, netns));
      MANDANT_ASSIGN_OR_RETURN(listing, RulesetDigest(netns));
      return absl::OkStatus();
    }));
    rulesets_[netns] = Loaded{wanted, listing};
    return absl::OkStatus();
  }

  absl::StatusOr<std::map<std::string, uint64_t>> ReadCounters(const std::string& netns,
                                                               const std::string& table) override {
    MANDANT_RETURN_IF_ERROR(CheckName(netns));
    if (table.empty() || !std::all_of(table.begin(), table.end(), [](char c) {
          return absl::ascii_isalnum(c) || c == '_' || c == ' ';
        })) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", absl::CHexEscape(table), "\" is not an nft table (family name)"));
    }
    std::string listing;
    MANDANT_RETURN_IF_ERROR(RunInNetworkNamespace(netns, [&]() -> absl::Status {
      absl::StatusOr<std::string> out =
          RunNft(absl::StrCat("list counters table ", table), true, netns);
      if (!out.ok()) {
        // nft's error for a missing table ("No such file or directory").
        return absl::NotFoundError(absl::StrCat("edge namespace \"", netns,
                                                "\": reading the counters of table ", table, ": ",
                                                out.status().message()));
      }
      listing = *std::move(out);
      return absl::OkStatus();
    }));
    nlohmann::json doc = nlohmann::json::parse(listing, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("nftables") ||
        !doc["nftables"].is_array()) {
      return absl::InternalError(
          absl::StrCat("edge namespace \"", netns, "\": nft listed counters that are not JSON"));
    }
    std::map<std::string, uint64_t> counters;
    for (const nlohmann::json& item : doc["nftables"]) {
      if (!item.is_object() || !item.contains("counter")) continue;
      const nlohmann::json& counter = item["counter"];
      if (!counter.is_object() || !counter.contains("name") || !counter["name"].is_string() ||
          !counter.contains("packets") || !counter["packets"].is_number_unsigned()) {
        continue;
      }
      counters[counter["name"].get<std::string>()] = counter["packets"].get<uint64_t>();
    }
    return counters;
  }

 private:
  // What LoadRuleset loaded last in a namespace: digests of the ruleset
  // text and of the listing right after.
  struct Loaded {
    std::string ruleset;
    std::string listing;
  };

  static absl::Status DeleteLink(nl_sock* sock, rtnl_link* link, absl::string_view netns) {
    if (int rc = rtnl_link_delete(sock, link); rc < 0 && rc != -NLE_NODEV) {
      return NlError(rc, absl::StrCat("deleting link \"", rtnl_link_get_name(link), "\""), netns);
    }
    return absl::OkStatus();
  }

  absl::Status AddVeth(const std::string& netns, const EdgeVeth& veth)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string path = NetnsPath(netns);
    Fd ns_fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (ns_fd.get() < 0) return ErrnoStatus(errno, absl::StrCat("opening ", path));
    RtnlLinkPtr link(rtnl_link_veth_alloc());
    if (!link) return absl::ResourceExhaustedError("rtnl_link_veth_alloc failed");
    rtnl_link_set_name(link.get(), veth.host_link.c_str());
    if (veth.mtu > 0) rtnl_link_set_mtu(link.get(), static_cast<unsigned>(veth.mtu));
    // The peer is created directly inside the namespace (IFLA_NET_NS_FD in
    // its VETH_INFO_PEER), so its name never meets the host's links.
    RtnlLinkPtr peer(rtnl_link_veth_get_peer(link.get()));
    rtnl_link_set_name(peer.get(), veth.namespace_link.c_str());
    if (veth.mtu > 0) rtnl_link_set_mtu(peer.get(), static_cast<unsigned>(veth.mtu));
    rtnl_link_set_ns_fd(peer.get(), ns_fd.get());
    if (int rc = rtnl_link_add(host_sock_.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL); rc < 0) {
      return NlError(rc,
                     absl::StrCat("creating veth \"", veth.host_link, "\" with peer \"",
                                  veth.namespace_link, "\""),
                     netns);
    }
    return absl::OkStatus();
  }

  static absl::Status AddAddress(nl_sock* sock, int ifindex, const Prefix& p,
                                 absl::string_view link, absl::string_view netns) {
    nl_addr* raw = nullptr;
    const std::string text = absl::StrCat(p.address, "/", p.length);
    if (int rc = nl_addr_parse(text.c_str(), p.family, &raw); rc < 0) {
      return NlError(rc, absl::StrCat("parsing ", text), netns);
    }
    NlAddrPtr local(raw);
    RtnlAddrPtr addr(rtnl_addr_alloc());
    if (!addr) return absl::ResourceExhaustedError("rtnl_addr_alloc failed");
    rtnl_addr_set_ifindex(addr.get(), ifindex);
    rtnl_addr_set_family(addr.get(), p.family);
    if (int rc = rtnl_addr_set_local(addr.get(), local.get()); rc < 0) {
      return NlError(rc, absl::StrCat("setting ", text), netns);
    }
    rtnl_addr_set_prefixlen(addr.get(), p.length);
    if (int rc = rtnl_addr_add(sock, addr.get(), NLM_F_CREATE | NLM_F_REPLACE); rc < 0) {
      return NlError(rc, absl::StrCat("adding ", text, " to \"", link, "\""), netns);
    }
    return absl::OkStatus();
  }

  static absl::Status AddDefaultRoute(nl_sock* sock, int ifindex, const std::string& gateway,
                                      absl::string_view netns) {
    nl_addr* raw_dst = nullptr;
    if (int rc = nl_addr_parse("0.0.0.0/0", AF_INET, &raw_dst); rc < 0) {
      return NlError(rc, "parsing 0.0.0.0/0", netns);
    }
    NlAddrPtr dst(raw_dst);
    nl_addr* raw_gw = nullptr;
    if (int rc = nl_addr_parse(gateway.c_str(), AF_INET, &raw_gw); rc < 0) {
      return NlError(rc, absl::StrCat("parsing gateway ", gateway), netns);
    }
    NlAddrPtr gw(raw_gw);
    RtnlRoutePtr route(rtnl_route_alloc());
    if (!route) return absl::ResourceExhaustedError("rtnl_route_alloc failed");
    rtnl_route_set_family(route.get(), AF_INET);
    rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
    rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
    rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
    rtnl_route_set_type(route.get(), RTN_UNICAST);
    if (int rc = rtnl_route_set_dst(route.get(), dst.get()); rc < 0) {
      return NlError(rc, "setting the default route's destination", netns);
    }
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    if (nh == nullptr) return absl::ResourceExhaustedError("rtnl_route_nh_alloc failed");
    rtnl_route_nh_set_ifindex(nh, ifindex);
    rtnl_route_nh_set_gateway(nh, gw.get());
    rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
    rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh now
    if (int rc = rtnl_route_add(sock, route.get(), NLM_F_CREATE | NLM_F_REPLACE); rc < 0) {
      return NlError(rc, absl::StrCat("adding default route via ", gateway, " onlink"), netns);
    }
    return absl::OkStatus();
  }

  absl::Mutex mu_;
  // Created in the caller's namespace: the host ends of veth pairs.
  const NlSockPtr host_sock_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Loaded> rulesets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

bool IsEdgeNamespaceName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kEdgeNamespacePrefix)) return false;
  if (name.empty() || name.size() > 40) return false;
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') return false;
  }
  return true;
}

absl::Status RunInNetworkNamespace(const std::string& netns, absl::FunctionRef<absl::Status()> fn) {
  if (netns.empty() || netns.find('/') != std::string::npos || netns == "." || netns == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", absl::CHexEscape(netns), "\" is not a namespace name"));
  }
  const std::string path = NetnsPath(netns);
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("network namespace \"", netns, "\" does not exist (no ", path, ")"));
    }
    return ErrnoStatus(err, absl::StrCat("opening ", path));
  }
  absl::Status status;
  std::thread thread([&] {
    if (setns(fd.get(), CLONE_NEWNET) != 0) {
      status = ErrnoStatus(errno, absl::StrCat("setns into network namespace \"", netns, "\""));
      return;
    }
    status = fn();
  });
  thread.join();
  return status;
}

absl::StatusOr<std::unique_ptr<EdgeNetworking>> KernelEdgeNetworking::Create() {
  MANDANT_ASSIGN_OR_RETURN(NlSockPtr sock, OpenRouteSocket("(host)"));
  return std::make_unique<KernelEdgeNetworkingImpl>(std::move(sock));
}

}  // namespace mandant::agent
