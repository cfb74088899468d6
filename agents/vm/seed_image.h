#ifndef MANDANT_AGENTS_VM_SEED_IMAGE_H_
#define MANDANT_AGENTS_VM_SEED_IMAGE_H_

// The cloud-init NoCloud seed of a VM as an ISO 9660 image with volume label
// "cidata" and the files user-data, meta-data and network-config.

#include <string>

#include "absl/status/status.h"

#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

// Writes `seed` to `path` with libarchive: first to a temporary file next to
// it (mode 0600: the seed holds join tokens and CA keys, and only root, which
// QEMU runs as, may read it), then fsync and rename, so `path` is either the
// old complete image or the new one. Every file has a fixed mtime.
// network-config is left out when empty (cloud-init then uses its default).
// INTERNAL with libarchive's message on failure; the message never contains
// the seed. Thread-safe (no shared state), but two writers of the same `path`
// race to the rename.
absl::Status WriteSeedImage(const v1::Seed& seed, const std::string& path);

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_VM_SEED_IMAGE_H_
