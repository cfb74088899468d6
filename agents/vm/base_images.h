#ifndef MANDANT_AGENTS_VM_BASE_IMAGES_H_
#define MANDANT_AGENTS_VM_BASE_IMAGES_H_

// The base images in the agent's image directory: "<name>.qcow2", optionally
// with "<name>.vmlinuz" and "<name>.initrd" next to it for direct kernel boot.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

#include "mandant/v1/common.pb.h"

namespace mandant::agent {

// A base image name as in BaseImage.name: 1-100 characters from
// [a-zA-Z0-9._-], not starting with a dot (so never "." or "..").
bool IsValidBaseImageName(absl::string_view name);

struct BaseImageFile {
  std::string name;
  // "<image_dir>/<name>.qcow2".
  std::string path;
  std::string sha256;
  int64_t size_bytes = 0;
  // Both set when "<name>.vmlinuz" and "<name>.initrd" exist.
  std::string kernel;
  std::string initrd;
};

// Thread-safe. Checksums are cached by path, size, mtime and inode, so that a
// Hello or a reconcile does not rehash hundreds of MB; a replaced or modified
// file is hashed again. Hashing holds the object's lock.
class BaseImages {
 public:
  explicit BaseImages(std::string image_dir);

  // Every "<image_dir>/*.qcow2" with a valid name, ordered by name. Files
  // that vanish or cannot be read while listing are left out (and logged).
  // INTERNAL when the directory cannot be read.
  absl::StatusOr<std::vector<v1::BaseImage>> List();

  // The image `name`. INVALID_ARGUMENT for a name that is not valid,
  // NOT_FOUND when the file does not exist.
  absl::StatusOr<BaseImageFile> Find(absl::string_view name);

  const std::string& image_dir() const { return image_dir_; }

 private:
  struct CacheEntry {
    int64_t size = 0;
    int64_t mtime_ns = 0;
    uint64_t inode = 0;
    std::string sha256;
  };

  absl::StatusOr<BaseImageFile> Describe(const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string image_dir_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, CacheEntry> cache_ ABSL_GUARDED_BY(mu_);
};

// Creates the copy-on-write overlay `overlay` on `base` with
// `qemu-img create -f qcow2 -b <base> -F qcow2 <tmp> <disk_gib>G` (no size
// when disk_gib is 0: the base's size), then renames it into place, so a
// crash never leaves a half-written disk under the final name. libvirt's
// embedded QEMU driver has no storage API (storage pools are
// VIR_ERR_NO_SUPPORT there), hence the tool. INTERNAL with qemu-img's output
// on failure.
absl::Status CreateOverlayDisk(const std::string& base, const std::string& overlay,
                               int64_t disk_gib);

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_VM_BASE_IMAGES_H_
