#ifndef MANDANT_CLI_STAGED_FILE_H_
#define MANDANT_CLI_STAGED_FILE_H_

// Files mandantctl writes for the user: private keys, certificates, CRLs,
// trust bundles. Each is written completely under a temporary name in the
// folder of its final path and then moved there in one step, so a reader
// never sees half a file, a failed command leaves nothing behind, and an
// existing file is replaced only when the caller says so.

#include <sys/types.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mandant::cli {

// A file written under a temporary name next to `path`. The temporary file
// is created with open(O_CREAT | O_EXCL | O_NOFOLLOW) and `mode`, so it never
// has wider permissions than `mode` (a private key is 0600 from its first
// byte on) and never follows a planted symlink. Destroying a StagedFile that
// was not committed removes the temporary file. Move-only; not thread-safe.
class StagedFile {
 public:
  // Writes `contents` and syncs it to disk. NOT_FOUND when the folder of
  // `path` does not exist, PERMISSION_DENIED when it is not writable,
  // INTERNAL for other write errors; messages name `path`, never contents.
  static absl::StatusOr<StagedFile> Write(std::string path, absl::string_view contents,
                                          mode_t mode);

  StagedFile(StagedFile&& other) noexcept;
  StagedFile& operator=(StagedFile&& other) noexcept;
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  ~StagedFile();

  // Moves the file to its final path. Without `replace`, an existing file at
  // the path is left alone and the result is ALREADY_EXISTS (the staged file
  // stays and is removed on destruction). FAILED_PRECONDITION when already
  // committed; INTERNAL for other errors.
  absl::Status Commit(bool replace);

  const std::string& path() const { return path_; }

 private:
  StagedFile(std::string path, std::string temp_path)
      : path_(std::move(path)), temp_path_(std::move(temp_path)) {}

  std::string path_;
  // Empty once committed or moved from.
  std::string temp_path_;
};

// Checks before any work is done that `path` can be written: its folder
// exists and, unless `replace`, nothing is at `path` yet. `flag` names the
// flag the path came from, for the message ("--out-key"). ALREADY_EXISTS
// (pointing at --force), NOT_FOUND for a missing folder, FAILED_PRECONDITION
// when `path` is a folder.
absl::Status CheckCanWrite(const std::string& path, bool replace, absl::string_view flag);

// StagedFile::Write followed by Commit(replace).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, mode_t mode,
                                 bool replace);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_STAGED_FILE_H_
