#include "agents/vm/libvirt_hypervisor.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include <libvirt/virterror.h>

#include "common/files.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace mandant::agent {
namespace {

std::string VersionString(unsigned long v) {
  return absl::StrCat(v / 1000000, ".", (v / 1000) % 1000, ".", v % 1000);
}

absl::StatusCode CodeFor(int vir_code) {
  switch (vir_code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_DOMAIN_METADATA:
      return absl::StatusCode::kNotFound;
    case VIR_ERR_OPERATION_INVALID:
      return absl::StatusCode::kFailedPrecondition;
    case VIR_ERR_NO_SUPPORT:
      return absl::StatusCode::kUnimplemented;
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_CONFIG_UNSUPPORTED:
      return absl::StatusCode::kInvalidArgument;
    case VIR_ERR_DOM_EXIST:
      return absl::StatusCode::kAlreadyExists;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
    case VIR_ERR_OPERATION_TIMEOUT:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

// libvirt calls this for every error it raises, in the thread that raised it.
// Without it, libvirt prints each one to stderr itself. The error is returned
// as a Status by the caller, so it is only logged at debug level here.
void OnLibvirtError(void* /*user_data*/, virErrorPtr error) {
  if (error == nullptr) return;
  MANDANT_LOG(debug, "libvirt error",
              {{"code", error->code},
               {"domain", error->domain},
               {"message", error->message != nullptr ? error->message : ""}});
}

// "qemu:///embed?root=/var/lib/x" -> "/var/lib/x"; "" when absent.
std::string EmbedRoot(absl::string_view uri) {
  constexpr absl::string_view kPrefix = "qemu:///embed?";
  if (!absl::StartsWith(uri, kPrefix)) return "";
  for (absl::string_view param : absl::StrSplit(uri.substr(kPrefix.size()), '&')) {
    if (absl::StartsWith(param, "root=")) return std::string(param.substr(5));
  }
  return "";
}

std::string PidDirFor(absl::string_view uri) {
  std::string root = EmbedRoot(uri);
  if (!root.empty()) return absl::StrCat(root, "/run/qemu");
  if (uri == "qemu:///system") return "/run/libvirt/qemu";
  return "";
}

}  // namespace

absl::Status LastLibvirtError(absl::string_view what) {
  virErrorPtr error = virGetLastError();
  if (error == nullptr) {
    return absl::InternalError(absl::StrCat(what, ": libvirt reported no error text"));
  }
  absl::Status status(CodeFor(error->code),
                      absl::StrCat(what, ": ", error->message != nullptr ? error->message : "",
                                   " (libvirt error ", error->code, ")"));
  virResetLastError();
  return status;
}

// libvirt's default event loop (virEventRegisterDefaultImpl) is process-wide
// and cannot be unregistered, so one loop thread serves every connection of
// the process; it runs while at least one LibvirtHypervisor holds it.
class LibvirtHypervisor::EventLoop {
 public:
  static absl::StatusOr<std::shared_ptr<EventLoop>> Acquire() {
    static absl::Mutex mu;
    static std::weak_ptr<EventLoop>* current = new std::weak_ptr<EventLoop>();
    static std::once_flag once;
    static int register_result = 0;
    std::call_once(once, [] {
      virSetErrorFunc(nullptr, OnLibvirtError);
      if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) register_result = -1;
    });
    if (register_result < 0) {
      return LastLibvirtError("registering libvirt's default event loop");
    }
    absl::MutexLock lock(&mu);
    if (std::shared_ptr<EventLoop> loop = current->lock()) return loop;
    // The deleter takes `mu`, so that a new loop never starts while the old
    // thread is still being joined.
    std::shared_ptr<EventLoop> loop(new EventLoop(), [](EventLoop* l) {
      absl::MutexLock lock(&mu);
      delete l;
    });
    *current = loop;
    return loop;
  }

  ~EventLoop() {
    quit_.store(true);
    // A zero-interval timer makes virEventRunDefaultImpl return at once.
    int timer = virEventAddTimeout(
        0, [](int timer, void*) { virEventRemoveTimeout(timer); }, nullptr, nullptr);
    if (timer < 0) {
      MANDANT_LOG(err, "cannot wake libvirt's event loop; its thread is left running", {});
      thread_.detach();
      return;
    }
    thread_.join();
  }

 private:
  EventLoop() : thread_([this] { Run(); }) {}

  void Run() {
    while (!quit_.load()) {
      if (virEventRunDefaultImpl() < 0) {
        MANDANT_LOG(err, "libvirt event loop iteration failed",
                    {{"error", LastLibvirtError("virEventRunDefaultImpl")}});
      }
    }
  }

  std::atomic<bool> quit_{false};
  std::thread thread_;
};

absl::Status PrepareEmbeddedRoot(const std::string& dir) {
  if (dir.empty() || dir[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("embedded libvirt root \"", dir, "\" must be an absolute path"));
  }
  // getpwnam_r: the agent may run other threads.
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  int rc = getpwnam_r("libvirt-qemu", &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) {
    return absl::FailedPreconditionError(
        "the system user \"libvirt-qemu\" does not exist, and libvirt's embedded QEMU driver "
        "refuses to start without it; create it with `useradd --system --no-create-home "
        "--home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu`");
  }
  for (const std::string& d : {dir, dir + "/etc"}) {
    if (mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::InternalError(absl::StrCat("creating directory ", d, ": ", strerror(errno)));
    }
  }
  const std::string conf =
      "# Written by mandant-agent; rewritten at every start.\n"
      "user = \"root\"\n"
      "group = \"root\"\n"
      "security_driver = \"none\"\n"
      "stdio_handler = \"file\"\n"
      "namespaces = []\n"
      "remember_owner = 0\n";
  const std::string path = dir + "/etc/qemu.conf";
  return WriteFileAtomically(path, conf, 0600);
}

absl::StatusOr<std::unique_ptr<Hypervisor>> LibvirtHypervisor::Open(const std::string& uri) {
  MANDANT_ASSIGN_OR_RETURN(std::shared_ptr<EventLoop> loop, EventLoop::Acquire());
  VirConnectPtr conn(virConnectOpen(uri.c_str()));
  if (conn == nullptr) {
    absl::Status error = LastLibvirtError(absl::StrCat("connecting to libvirt at ", uri));
    return absl::UnavailableError(error.message());
  }
  return std::unique_ptr<Hypervisor>(
      new LibvirtHypervisor(std::move(loop), std::move(conn), uri, PidDirFor(uri)));
}

LibvirtHypervisor::LibvirtHypervisor(std::shared_ptr<EventLoop> loop, VirConnectPtr conn,
                                     std::string uri, std::string pid_dir)
    : loop_(std::move(loop)),
      conn_(std::move(conn)),
      uri_(std::move(uri)),
      pid_dir_(std::move(pid_dir)) {}

LibvirtHypervisor::~LibvirtHypervisor() = default;

absl::StatusOr<VirDomainPtr> LibvirtHypervisor::Lookup(absl::string_view uuid) {
  std::string id(uuid);
  VirDomainPtr dom(virDomainLookupByUUIDString(conn_.get(), id.c_str()));
  if (dom == nullptr) return LastLibvirtError(absl::StrCat("looking up domain ", id));
  return dom;
}

int64_t LibvirtHypervisor::ReadQemuPid(const std::string& name) const {
  if (pid_dir_.empty()) return 0;
  std::ifstream in(absl::StrCat(pid_dir_, "/", name, ".pid"));
  std::string text;
  if (!std::getline(in, text)) return 0;
  int64_t pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) || pid <= 0) return 0;
  return pid;
}

absl::StatusOr<std::vector<DomainInfo>> LibvirtHypervisor::ListDomains() {
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(conn_.get(), &doms, 0);
  if (n < 0) return LastLibvirtError(absl::StrCat("listing the domains of ", uri_));
  std::vector<VirDomainPtr> owned;
  owned.reserve(n);
  for (int i = 0; i < n; ++i) owned.emplace_back(doms[i]);
  free(doms);

  std::vector<DomainInfo> out;
  out.reserve(n);
  for (const VirDomainPtr& dom : owned) {
    DomainInfo info;
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(dom.get(), uuid) < 0) {
      return LastLibvirtError("reading a domain's UUID");
    }
    info.uuid = absl::AsciiStrToLower(uuid);
    const char* name = virDomainGetName(dom.get());
    info.name = name != nullptr ? name : "";
    int state = 0;
    int reason = 0;
    if (virDomainGetState(dom.get(), &state, &reason, 0) < 0) {
      absl::Status error =
          LastLibvirtError(absl::StrCat("reading the state of domain ", info.uuid));
      if (absl::IsNotFound(error)) continue;  // undefined since the listing
      return error;
    }
    info.state = static_cast<DomainState>(state);
    info.state_reason = reason;
    char* metadata =
        virDomainGetMetadata(dom.get(), VIR_DOMAIN_METADATA_ELEMENT, kMandantMetadataNamespace, 0);
    if (metadata != nullptr) {
      info.mandant_metadata = std::string(metadata);
      free(metadata);
    } else {
      virErrorPtr error = virGetLastError();
      bool no_metadata = error != nullptr && error->code == VIR_ERR_NO_DOMAIN_METADATA;
      bool gone = error != nullptr && error->code == VIR_ERR_NO_DOMAIN;
      if (!no_metadata) {
        absl::Status status =
            LastLibvirtError(absl::StrCat("reading the Mandant metadata of domain ", info.uuid));
        if (gone) continue;
        return status;
      }
      virResetLastError();
    }
    if (IsActive(info.state)) info.qemu_pid = ReadQemuPid(info.name);
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(),
            [](const DomainInfo& a, const DomainInfo& b) { return a.uuid < b.uuid; });
  return out;
}

absl::StatusOr<std::string> LibvirtHypervisor::DefineDomain(absl::string_view xml) {
  std::string text(xml);
  VirDomainPtr dom(virDomainDefineXML(conn_.get(), text.c_str()));
  if (dom == nullptr) return LastLibvirtError("defining a domain");
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(dom.get(), uuid) < 0) {
    return LastLibvirtError("reading the UUID of a defined domain");
  }
  return absl::AsciiStrToLower(uuid);
}

absl::Status LibvirtHypervisor::StartDomain(absl::string_view uuid) {
  MANDANT_ASSIGN_OR_RETURN(VirDomainPtr dom, Lookup(uuid));
  if (virDomainCreate(dom.get()) < 0) {
    return LastLibvirtError(absl::StrCat("starting domain ", uuid));
  }
  return absl::OkStatus();
}

absl::Status LibvirtHypervisor::ShutdownDomain(absl::string_view uuid) {
  MANDANT_ASSIGN_OR_RETURN(VirDomainPtr dom, Lookup(uuid));
  if (virDomainShutdown(dom.get()) < 0) {
    return LastLibvirtError(absl::StrCat("shutting down domain ", uuid));
  }
  return absl::OkStatus();
}

absl::Status LibvirtHypervisor::DestroyDomain(absl::string_view uuid) {
  MANDANT_ASSIGN_OR_RETURN(VirDomainPtr dom, Lookup(uuid));
  if (virDomainDestroy(dom.get()) < 0) {
    return LastLibvirtError(absl::StrCat("destroying domain ", uuid));
  }
  return absl::OkStatus();
}

absl::Status LibvirtHypervisor::UndefineDomain(absl::string_view uuid) {
  MANDANT_ASSIGN_OR_RETURN(VirDomainPtr dom, Lookup(uuid));
  if (virDomainUndefine(dom.get()) < 0) {
    return LastLibvirtError(absl::StrCat("undefining domain ", uuid));
  }
  return absl::OkStatus();
}

absl::StatusOr<HypervisorVersions> LibvirtHypervisor::GetVersions() {
  unsigned long lib = 0;
  unsigned long hv = 0;
  if (virConnectGetLibVersion(conn_.get(), &lib) < 0) {
    return LastLibvirtError("reading libvirt's version");
  }
  if (virConnectGetVersion(conn_.get(), &hv) < 0) {
    return LastLibvirtError(absl::StrCat("reading the hypervisor version of ", uri_));
  }
  return HypervisorVersions{VersionString(lib), VersionString(hv)};
}

}  // namespace mandant::agent
