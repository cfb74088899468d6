#include "agents/vm/vms.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "agents/vm/domain_xml.h"
#include "agents/vm/seed_image.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace mandant::agent {
namespace {

namespace fs = std::filesystem;

constexpr size_t kUnixPathMax = 108;  // sizeof(sockaddr_un::sun_path)
constexpr size_t kMaxBridgeName = 15;
constexpr char kDiskFile[] = "disk.qcow2";
constexpr char kSeedFile[] = "seed.iso";
constexpr char kConsoleFile[] = "console.log";
constexpr char kStatusSocketFile[] = "status.sock";
// 2 + 36 + 1 + strlen("status.sock") + NUL on top of state_dir + "/vms".
constexpr size_t kMaxStateDir = kUnixPathMax - (5 + 36 + 1 + 11 + 1);

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

bool IsUnicastMac(absl::string_view mac) {
  std::vector<absl::string_view> parts = absl::StrSplit(mac, ':');
  if (parts.size() != 6) return false;
  for (absl::string_view p : parts) {
    if (p.size() != 2 || !absl::ascii_isxdigit(p[0]) || !absl::ascii_isxdigit(p[1])) return false;
  }
  int first = std::stoi(std::string(parts[0]), nullptr, 16);
  return (first & 1) == 0;
}

v1::VmState StateFor(const DomainInfo& d) {
  switch (d.state) {
    case DomainState::kRunning:
    case DomainState::kBlocked:
    case DomainState::kShutdown:
      return v1::VM_STATE_RUNNING;
    case DomainState::kPaused:
    case DomainState::kPmSuspended:
      return v1::VM_STATE_PAUSED;
    case DomainState::kShutoff:
      return d.state_reason == kShutoffReasonCrashed ? v1::VM_STATE_CRASHED : v1::VM_STATE_STOPPED;
    case DomainState::kCrashed:
      return v1::VM_STATE_CRASHED;
    case DomainState::kNoState:
      return v1::VM_STATE_UNSPECIFIED;
  }
  return v1::VM_STATE_UNSPECIFIED;
}

absl::Status CheckSpec(const v1::VmSpec& spec,
                       const absl::flat_hash_map<std::string, std::string>& bridge_tenants) {
  if (!IsCanonicalUuid(spec.machine_id())) {
    return absl::InvalidArgumentError(absl::StrCat("machine_id \"", spec.machine_id(),
                                                   "\" is not a lower-case UUID; refusing the VM"));
  }
  if (!absl::StartsWith(spec.tenant(), "tenants/") || spec.tenant().size() == 8) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tenant \"", spec.tenant(), "\" is not \"tenants/{tenant}\"; refusing the VM"));
  }
  if (!IsValidBaseImageName(spec.base_image())) {
    return absl::InvalidArgumentError(
        absl::StrCat("base image name \"", spec.base_image(),
                     "\" is not valid (1-100 characters from [a-zA-Z0-9._-]); refusing the VM"));
  }
  for (int i = 0; i < spec.nics_size(); ++i) {
    const v1::Nic& nic = spec.nics(i);
    if (!IsUnicastMac(nic.mac_address())) {
      return absl::InvalidArgumentError(
          absl::StrCat("NIC ", i, ": MAC address \"", nic.mac_address(),
                       "\" is not a unicast xx:xx:xx:xx:xx:xx address; refusing the VM"));
    }
    if (nic.bridge_name().empty() || nic.bridge_name().size() > kMaxBridgeName) {
      return absl::InvalidArgumentError(absl::StrCat("NIC ", i, ": bridge name \"",
                                                     nic.bridge_name(),
                                                     "\" must be 1-15 bytes; refusing the VM"));
    }
    auto it = bridge_tenants.find(nic.bridge_name());
    if (it == bridge_tenants.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("NIC ", i, ": bridge \"", nic.bridge_name(),
                       "\" is not a tenant network on this host; refusing the VM until the "
                       "HostSpec carries that network"));
    }
    if (it->second != spec.tenant()) {
      // Never attach a VM to another tenant's network, whatever the spec says.
      return absl::PermissionDeniedError(absl::StrCat("NIC ", i, ": bridge \"", nic.bridge_name(),
                                                      "\" belongs to another tenant than ",
                                                      spec.tenant(), "; refusing the VM"));
    }
  }
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("removing ", path, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

bool IsCanonicalUuid(absl::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::unique_ptr<Vms>> Vms::Create(Options options) {
  if (options.hypervisor == nullptr || options.base_images == nullptr || !options.clock) {
    return absl::InvalidArgumentError("Vms needs a hypervisor, base images and a clock");
  }
  if (options.state_dir.empty() || options.state_dir[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("state directory \"", options.state_dir, "\" must be an absolute path"));
  }
  if (options.state_dir.size() > kMaxStateDir) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state directory \"", options.state_dir, "\" is ", options.state_dir.size(),
        " bytes; at most ", kMaxStateDir,
        " fit, since each VM's status channel is a unix socket below it (108-byte limit)"));
  }
  std::error_code ec;
  fs::create_directories(options.state_dir + "/vms", ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("creating ", options.state_dir, "/vms: ", ec.message()));
  }
  fs::permissions(options.state_dir + "/vms", fs::perms::owner_all, ec);
  return std::unique_ptr<Vms>(new Vms(std::move(options)));
}

Vms::Vms(Options options) : options_(std::move(options)) {}

std::string Vms::VmDir(absl::string_view machine_id) const {
  return absl::StrCat(options_.state_dir, "/vms/", machine_id);
}

std::string Vms::StatusSocketPath(absl::string_view machine_id) const {
  return absl::StrCat(VmDir(machine_id), "/", kStatusSocketFile);
}

absl::StatusOr<std::vector<v1::VmStatus>> Vms::Reconcile(
    const std::vector<v1::VmSpec>& desired, int64_t spec_version,
    const absl::flat_hash_map<std::string, std::string>& bridge_tenants) {
  absl::MutexLock lock(&mu_);
  MANDANT_ASSIGN_OR_RETURN(std::vector<DomainInfo> domains, options_.hypervisor->ListDomains());
  absl::flat_hash_map<std::string, const DomainInfo*> by_uuid;
  for (const DomainInfo& d : domains) by_uuid[d.uuid] = &d;

  std::map<std::string, v1::VmStatus> statuses;
  absl::flat_hash_set<std::string> wanted;
  for (const v1::VmSpec& spec : desired) {
    if (!wanted.insert(spec.machine_id()).second) {
      v1::VmStatus& s = statuses[spec.machine_id()];
      s.set_error(absl::StrCat("machine_id ", spec.machine_id(),
                               " appears more than once in the HostSpec; only the first is used"));
      continue;
    }
    auto it = by_uuid.find(spec.machine_id());
    statuses[spec.machine_id()] = ReconcileOne(spec, spec_version, bridge_tenants,
                                               it != by_uuid.end() ? it->second : nullptr);
  }

  // Mandant's domains that are no longer wanted.
  absl::flat_hash_set<std::string> deleted_domains;
  for (const DomainInfo& d : domains) {
    if (!d.mandant_metadata.has_value() || wanted.contains(d.uuid)) continue;
    MANDANT_LOG(info, "deleting VM that is not in the spec", {{"machine_id", d.uuid}});
    absl::Status s = Delete(d.uuid, &d);
    if (!s.ok()) {
      v1::VmStatus& status = statuses[d.uuid];
      status.set_machine_id(d.uuid);
      status.set_state(v1::VM_STATE_DELETING);
      status.set_error(std::string(s.message()));
    }
    deleted_domains.insert(d.uuid);
  }
  // Directories of VMs that are neither wanted nor defined: the rest of a
  // deletion or of a creation that crashed before DefineDomain.
  std::error_code ec;
  for (fs::directory_iterator it(options_.state_dir + "/vms", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string id = it->path().filename().string();
    if (!IsCanonicalUuid(id) || wanted.contains(id) || deleted_domains.contains(id) ||
        by_uuid.contains(id)) {
      continue;
    }
    MANDANT_LOG(info, "removing the directory of a VM that is not in the spec",
                {{"machine_id", id}});
    absl::Status s = Delete(id, nullptr);
    if (!s.ok()) {
      v1::VmStatus& status = statuses[id];
      status.set_machine_id(id);
      status.set_state(v1::VM_STATE_DELETING);
      status.set_error(std::string(s.message()));
    }
  }

  // Report what libvirt has now, not what the steps above intended.
  absl::StatusOr<std::vector<DomainInfo>> after = options_.hypervisor->ListDomains();
  if (after.ok()) {
    absl::flat_hash_map<std::string, const DomainInfo*> now;
    for (const DomainInfo& d : *after) now[d.uuid] = &d;
    for (auto& [id, status] : statuses) {
      if (status.state() == v1::VM_STATE_DELETING) continue;
      auto it = now.find(id);
      if (it == now.end()) {
        status.set_state(v1::VM_STATE_CREATING);
      } else if (it->second->mandant_metadata.has_value()) {
        status.set_state(StateFor(*it->second));
      }
    }
  } else {
    for (auto& [id, status] : statuses) {
      if (status.error().empty()) {
        status.set_error(std::string(after.status().message()));
      }
    }
  }
  std::vector<v1::VmStatus> out;
  out.reserve(statuses.size());
  for (auto& [id, status] : statuses) out.push_back(std::move(status));
  return out;
}

v1::VmStatus Vms::ReconcileOne(const v1::VmSpec& spec, int64_t spec_version,
                               const absl::flat_hash_map<std::string, std::string>& bridge_tenants,
                               const DomainInfo* existing) {
  v1::VmStatus status;
  status.set_machine_id(spec.machine_id());
  auto fail = [&](const absl::Status& s) {
    MANDANT_LOG(warn, "VM does not match its spec",
                {{"machine_id", spec.machine_id()}, {"error", s}});
    status.set_error(std::string(s.message()));
    return status;
  };
  if (absl::Status s = CheckSpec(spec, bridge_tenants); !s.ok()) return fail(s);
  if (existing != nullptr && !existing->mandant_metadata.has_value()) {
    return fail(absl::AlreadyExistsError(absl::StrCat(
        "domain \"", existing->name, "\" already has UUID ", spec.machine_id(),
        " but is not managed by Mandant (no Mandant metadata); the agent does not touch it: "
        "remove it or give the machine another id")));
  }
  absl::StatusOr<BaseImageFile> image = options_.base_images->Find(spec.base_image());
  if (!image.ok()) {
    // A defined domain keeps its power state; only creation needs the image.
    if (existing != nullptr) {
      if (absl::Status s = ApplyPower(spec, existing->state); !s.ok()) return fail(s);
    }
    return fail(image.status());
  }

  bool define = existing == nullptr;
  if (existing != nullptr) {
    absl::StatusOr<MandantMetadata> metadata = ParseMandantMetadata(*existing->mandant_metadata);
    DomainFiles files{VmDir(spec.machine_id()) + "/" + kDiskFile,
                      image->path,
                      VmDir(spec.machine_id()) + "/" + kSeedFile,
                      VmDir(spec.machine_id()) + "/" + kConsoleFile,
                      StatusSocketPath(spec.machine_id()),
                      image->kernel,
                      image->initrd};
    const std::string hash = DefinitionHash(spec, files, options_.domain_type);
    if (!metadata.ok() || metadata->spec_hash != hash) {
      MANDANT_LOG(info,
                  "VM definition drifted; redefining (a running VM picks it up at its next start)",
                  {{"machine_id", spec.machine_id()}});
      define = true;
    } else if (!IsActive(existing->state) && (!FileExists(files.disk) || !FileExists(files.seed))) {
      // Files lost under a stopped domain: recreate them before it starts.
      define = true;
    }
  }
  if (define) {
    if (absl::Status s = CreateFilesAndDefine(spec, *image, spec_version); !s.ok()) return fail(s);
  }
  DomainState state = existing != nullptr ? existing->state : DomainState::kShutoff;
  if (absl::Status s = ApplyPower(spec, state); !s.ok()) return fail(s);
  return status;
}

absl::Status Vms::CreateFilesAndDefine(const v1::VmSpec& spec, const BaseImageFile& image,
                                       int64_t spec_version) {
  const std::string dir = VmDir(spec.machine_id());
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("creating VM directory ", dir, ": ", strerror(errno),
                                            "; check the agent's state directory"));
  }
  // A seed written by a crashed run holds secrets: remove it.
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (absl::StartsWith(it->path().filename().string(), std::string(kSeedFile) + ".tmp-")) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
  DomainFiles files{dir + "/" + kDiskFile,
                    image.path,
                    dir + "/" + kSeedFile,
                    dir + "/" + kConsoleFile,
                    StatusSocketPath(spec.machine_id()),
                    image.kernel,
                    image.initrd};
  if (!FileExists(files.disk)) {
    if (image.sha256 != spec.base_image_sha256()) {
      return absl::FailedPreconditionError(
          absl::StrCat("base image \"", spec.base_image(), "\" (", image.path, ") has SHA-256 ",
                       image.sha256, " but the spec expects ", spec.base_image_sha256(),
                       "; refusing to create the disk: replace the image with the expected one"));
    }
    MANDANT_RETURN_IF_ERROR(CreateOverlayDisk(image.path, files.disk, spec.resources().disk_gib()));
  }
  MANDANT_RETURN_IF_ERROR(WriteSeedImage(spec.seed(), files.seed));
  MANDANT_ASSIGN_OR_RETURN(std::string xml,
                           RenderDomainXml(spec, files, spec_version, options_.domain_type));
  MANDANT_ASSIGN_OR_RETURN(std::string uuid, options_.hypervisor->DefineDomain(xml));
  if (uuid != spec.machine_id()) {
    return absl::InternalError(absl::StrCat("defined domain for machine ", spec.machine_id(),
                                            " but the hypervisor reports UUID ", uuid));
  }
  MANDANT_LOG(info, "VM defined",
              {{"machine_id", spec.machine_id()}, {"spec_version", (long long)spec_version}});
  return absl::OkStatus();
}

absl::Status Vms::ApplyPower(const v1::VmSpec& spec, DomainState state) {
  const std::string& id = spec.machine_id();
  if (spec.power_state() != v1::POWER_STATE_OFF) {
    shutdown_requested_.erase(id);
    if (IsActive(state)) return absl::OkStatus();  // running, paused or shutting down
    MANDANT_LOG(info, "starting VM", {{"machine_id", id}});
    return options_.hypervisor->StartDomain(id);
  }
  if (!IsActive(state)) {
    shutdown_requested_.erase(id);
    return absl::OkStatus();
  }
  const absl::Time now = options_.clock();
  auto it = shutdown_requested_.find(id);
  if (it == shutdown_requested_.end()) {
    MANDANT_LOG(info, "asking VM to power off", {{"machine_id", id}});
    absl::Status s = options_.hypervisor->ShutdownDomain(id);
    if (s.ok()) {
      shutdown_requested_[id] = now;
      return absl::OkStatus();
    }
    MANDANT_LOG(warn, "VM refused to power off; destroying it", {{"machine_id", id}, {"error", s}});
  } else if (now - it->second < options_.shutdown_grace) {
    return absl::OkStatus();
  } else {
    MANDANT_LOG(info, "VM did not power off in time; destroying it", {{"machine_id", id}});
  }
  MANDANT_RETURN_IF_ERROR(options_.hypervisor->DestroyDomain(id));
  shutdown_requested_.erase(id);
  return absl::OkStatus();
}

absl::Status Vms::Delete(const std::string& machine_id, const DomainInfo* domain) {
  shutdown_requested_.erase(machine_id);
  if (domain != nullptr) {
    if (IsActive(domain->state)) {
      absl::Status s = options_.hypervisor->DestroyDomain(machine_id);
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
    absl::Status s = options_.hypervisor->UndefineDomain(machine_id);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
  }
  return RemoveTree(VmDir(machine_id));
}

}  // namespace mandant::agent
