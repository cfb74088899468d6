#ifndef MANDANT_AGENTS_VM_GUEST_STATUS_H_
#define MANDANT_AGENTS_VM_GUEST_STATUS_H_

// Relays node bootstrap progress from the guests: each running VM's
// virtio-serial channel org.mandant.status.0 is a unix socket that QEMU binds
// (STATE_DIR/vms/<machine_id>/status.sock); the guest writes JSON lines
//   {"phase": "kubeadm", "message": "kubeadm join: waiting for the API server"}
// The guest is tenant-controlled, so everything read is hostile input: lines
// are bounded, unknown phases are dropped, and messages are cut to 1024 bytes
// of printable UTF-8.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

// The longest line read from a guest; longer ones are dropped whole.
inline constexpr size_t kMaxGuestLineBytes = 4096;
// The longest message passed on (GuestProgress.message).
inline constexpr size_t kMaxGuestMessageBytes = 1024;

// "cloud-init", "kubeadm", "addons", "ready", "failed" -> the GuestPhase;
// GUEST_PHASE_UNSPECIFIED for anything else.
v1::GuestPhase ParseGuestPhase(absl::string_view phase);

// At most kMaxGuestMessageBytes of printable UTF-8, never cutting a
// character: invalid UTF-8 becomes U+FFFD, tab/CR/LF become a space, and other
// control characters, bidirectional overrides and the BOM are dropped.
std::string SanitizeGuestMessage(absl::string_view raw);

// Parses one line (without its newline) into a GuestProgress received at
// `now`. INVALID_ARGUMENT for anything but a JSON object with a known
// "phase" string; "message" is optional and sanitized.
absl::StatusOr<v1::GuestProgress> ParseGuestStatusLine(absl::string_view line, absl::Time now);

// Thread safety: all public methods may be called from any thread. One
// internal thread polls every connection; it calls on_change without holding
// the relay's lock, so the callback may call Latest() (but must not destroy
// the relay).
class GuestStatusRelay {
 public:
  using ChangeCallback =
      std::function<void(const std::string& machine_id, const v1::GuestProgress& progress)>;

  struct Options {
    // Stamps receive_time (the guest's clock is not trusted).
    std::function<absl::Time()> clock = [] { return absl::Now(); };
    // Called when a VM's phase or message changes; may be empty.
    ChangeCallback on_change;
    // How often a VM's socket is tried again while it cannot be connected
    // (the VM is starting, or restarted and QEMU has not bound it yet).
    absl::Duration reconnect_interval = absl::Seconds(1);
  };

  // Starts the relay thread. INTERNAL when it cannot create its wake-up fd.
  static absl::StatusOr<std::unique_ptr<GuestStatusRelay>> Create(Options options);

  // Stops the thread and closes every connection.
  ~GuestStatusRelay();

  GuestStatusRelay(const GuestStatusRelay&) = delete;
  GuestStatusRelay& operator=(const GuestStatusRelay&) = delete;

  // The VMs to listen to, machine_id -> socket path; typically the running
  // VMs after each reconcile. Connections of VMs no longer listed are closed
  // and their progress forgotten; new ones are connected at once (and again
  // after each disconnect, which is how VM and agent restarts are handled).
  void SetTargets(absl::flat_hash_map<std::string, std::string> targets);

  // The latest accepted report of a VM; nullopt when none since it became a
  // target.
  std::optional<v1::GuestProgress> Latest(absl::string_view machine_id) const;

 private:
  struct Connection {
    std::string path;
    int fd = -1;
    std::string line;
    // A line outgrew kMaxGuestLineBytes: drop input up to the next newline.
    bool discarding = false;
    // No connection attempt before this (after a failure or a disconnect).
    absl::Time retry_after = absl::InfinitePast();
    std::optional<v1::GuestProgress> latest;
  };
  using Change = std::pair<std::string, v1::GuestProgress>;

  GuestStatusRelay(Options options, int wake_fd);
  void Run();
  void Wake();
  void ConnectDue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads what is available; false on EOF or error (the caller disconnects).
  bool ReadFrom(const std::string& machine_id, Connection& c, std::vector<Change>& changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleLine(const std::string& machine_id, Connection& c, absl::string_view line,
                  std::vector<Change>& changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Disconnect(Connection& c);

  const Options options_;
  const int wake_fd_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, Connection> connections_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_VM_GUEST_STATUS_H_
