// Boots the end-to-end guest image once, with plain QEMU (TCG, no libvirt, no
// agent), the way the agent will: direct kernel boot from the image's
// vmlinuz/initrd, a copy-on-write overlay, a NoCloud seed ISO on a virtio disk
// and the virtio-serial status channel. Passes when the user-data's runcmd
// reports over that channel with the seed's network configuration applied.
// This proves the image; the agent's own tests come on top of it.
//
// The image directory comes from $MANDANT_E2E_IMAGE_DIR or from the file the
// CTest fixture e2e_guest_image writes (MANDANT_E2E_IMAGE_DIR_FILE).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include <archive.h>
#include <archive_entry.h>

#include "tests/support/subprocess.h"

namespace mandant::testing {
namespace {

constexpr char kStem[] = "mandant-test-guest";
constexpr char kGuestMac[] = "52:54:00:4d:44:01";
constexpr char kGuestAddress[] = "192.0.2.10";
// Boot to runcmd takes about 30-75 s under TCG on an idle machine; CI shares
// two cores with the build, so leave room (the brief: at most 4 minutes).
constexpr absl::Duration kBootTimeout = absl::Minutes(4);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& text, size_t n) {
  return text.size() > n ? text.substr(text.size() - n) : text;
}

absl::StatusOr<std::string> ImageDir() {
  if (const char* dir = std::getenv("MANDANT_E2E_IMAGE_DIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir);
  }
  const std::string record = MANDANT_E2E_IMAGE_DIR_FILE;
  std::string dir(absl::StripAsciiWhitespace(ReadFile(record)));
  if (dir.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no image directory in ", record,
        "; run the fixture first (ctest -R e2e_guest_image) or set MANDANT_E2E_IMAGE_DIR"));
  }
  return dir;
}

// A NoCloud seed: ISO9660 with volume label "cidata", as the agent writes it
// (DESIGN.md, node bootstrap). libarchive is a build dependency anyway.
absl::Status WriteSeedIso(const std::string& path,
                          const std::map<std::string, std::string>& files) {
  archive* a = archive_write_new();
  absl::Cleanup free_archive = [a] { archive_write_free(a); };
  auto check = [a](int rc, const char* what) {
    return rc == ARCHIVE_OK
               ? absl::OkStatus()
               : absl::InternalError(absl::StrCat(what, ": ", archive_error_string(a)));
  };
  absl::Status status = check(archive_write_set_format_iso9660(a), "iso9660 format");
  if (status.ok())
    status = check(archive_write_set_options(a, "iso9660:volume-id=cidata"), "volume id");
  if (status.ok()) status = check(archive_write_open_filename(a, path.c_str()), path.c_str());
  for (const auto& [name, content] : files) {
    if (!status.ok()) break;
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_size(entry, static_cast<la_int64_t>(content.size()));
    status = check(archive_write_header(a, entry), name.c_str());
    if (status.ok() && archive_write_data(a, content.data(), content.size()) !=
                           static_cast<ssize_t>(content.size())) {
      status = absl::InternalError(absl::StrCat(name, ": ", archive_error_string(a)));
    }
    archive_entry_free(entry);
  }
  if (status.ok()) status = check(archive_write_close(a), "close");
  return status;
}

// Connects to the Unix socket QEMU listens on, retrying until it exists.
absl::StatusOr<int> ConnectUnix(const std::string& path, absl::Time deadline) {
  while (absl::Now() < deadline) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
    close(fd);
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat("QEMU never listened on ", path));
}

class GuestImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "the end-to-end tests need root";
    auto image_dir = ImageDir();
    ASSERT_TRUE(image_dir.ok()) << image_dir.status();
    image_ = absl::StrCat(*image_dir, "/", kStem);
    for (const char* ext : {".qcow2", ".vmlinuz", ".initrd"}) {
      ASSERT_TRUE(std::filesystem::exists(image_ + ext)) << image_ << ext << " is missing";
    }
    auto dir = MakeTempDir("mandant-guest-image");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
  }

  void TearDown() override {
    if (qemu_ > 0) {
      kill(qemu_, SIGKILL);
      waitpid(qemu_, nullptr, 0);
    }
    if (HasFailure()) {
      std::cerr << "--- guest console (tail) ---\n"
                << Tail(ReadFile(dir_ + "/console.log"), 6000) << "\n--- qemu ---\n"
                << Tail(ReadFile(dir_ + "/qemu.log"), 2000) << "\n";
    }
    if (!dir_.empty()) RemoveTree(dir_);
  }

  std::string image_;
  std::string dir_;
  pid_t qemu_ = 0;
};

TEST_F(GuestImageTest, RuncmdReportsOverTheStatusChannel) {
  const std::string nonce = absl::StrCat("e2e-", getpid(), "-", absl::ToUnixMicros(absl::Now()));
  // The first report checks mandant-report's JSON escaping, the second that
  // network-config (networkd) was applied before runcmd.
  const std::string user_data = absl::StrCat(
      "#cloud-config\n"
      "runcmd:\n"
      "  - [mandant-report, escape, 'say \"hi\" \\ back']\n"
      "  - [sh, -c, 'mandant-report runcmd \"",
      nonce, " uptime=$(cut -d\" \" -f1 /proc/uptime) $(ip -4 -o addr show scope global)\"']\n");
  const std::string meta_data =
      absl::StrCat("instance-id: ", nonce, "\nlocal-hostname: e2e-guest\n");
  const std::string network_config = absl::StrCat(
      "version: 2\n"
      "ethernets:\n"
      "  nic0:\n"
      "    match: {macaddress: \"",
      kGuestMac,
      "\"}\n"
      "    addresses: [",
      kGuestAddress, "/24]\n");
  ASSERT_TRUE(WriteSeedIso(dir_ + "/seed.iso", {{"user-data", user_data},
                                                {"meta-data", meta_data},
                                                {"network-config", network_config}})
                  .ok());

  const std::string overlay = dir_ + "/disk.qcow2";
  auto created = RunCommand(
      {"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image_ + ".qcow2", overlay});
  ASSERT_TRUE(created.ok()) << created.status();

  const std::string status_socket = dir_ + "/status.sock";
  const absl::Time start = absl::Now();
  auto qemu =
      SpawnProcess({"qemu-system-x86_64",
                    "-accel",
                    "tcg",
                    "-machine",
                    "pc",
                    "-m",
                    "1024",
                    "-smp",
                    "1",
                    "-nodefaults",
                    "-display",
                    "none",
                    "-no-reboot",
                    "-monitor",
                    "none",
                    "-kernel",
                    image_ + ".vmlinuz",
                    "-initrd",
                    image_ + ".initrd",
                    "-append",
                    "root=/dev/vda rw console=ttyS0",
                    "-drive",
                    absl::StrCat("file=", overlay, ",if=virtio,format=qcow2"),
                    "-drive",
                    absl::StrCat("file=", dir_, "/seed.iso,if=virtio,format=raw,readonly=on"),
                    "-netdev",
                    "user,id=n0,restrict=on",
                    "-device",
                    absl::StrCat("virtio-net-pci,netdev=n0,mac=", kGuestMac),
                    "-serial",
                    absl::StrCat("file:", dir_, "/console.log"),
                    "-device",
                    "virtio-serial-pci",
                    "-chardev",
                    absl::StrCat("socket,id=status,path=", status_socket, ",server=on,wait=off"),
                    "-device",
                    "virtserialport,chardev=status,name=org.mandant.status.0"},
                   dir_ + "/qemu.log");
  ASSERT_TRUE(qemu.ok()) << qemu.status();
  qemu_ = *qemu;

  const absl::Time deadline = start + kBootTimeout;
  auto fd = ConnectUnix(status_socket, start + absl::Seconds(30));
  ASSERT_TRUE(fd.ok()) << fd.status();
  absl::Cleanup close_fd = [fd = *fd] { close(fd); };

  std::map<std::string, std::string> reports;  // phase -> message
  std::string pending;
  while (reports.count("runcmd") == 0 && absl::Now() < deadline) {
    int status = 0;
    ASSERT_EQ(waitpid(qemu_, &status, WNOHANG), 0) << "QEMU exited (status " << status << ")";
    pollfd pfd{*fd, POLLIN, 0};
    if (poll(&pfd, 1, 500) <= 0) continue;
    char buf[4096];
    ssize_t n = read(*fd, buf, sizeof(buf));
    ASSERT_GT(n, 0) << "status channel closed";
    pending.append(buf, static_cast<size_t>(n));
    size_t eol;
    while ((eol = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, eol);
      pending.erase(0, eol + 1);
      nlohmann::json json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      ASSERT_TRUE(json.is_object() && json.size() == 2 && json["phase"].is_string() &&
                  json["message"].is_string())
          << "not a status line: " << line;
      reports[json["phase"].get<std::string>()] = json["message"].get<std::string>();
    }
  }
  const absl::Duration elapsed = absl::Now() - start;
  ASSERT_EQ(reports.count("runcmd"), 1u)
      << "no runcmd report within " << kBootTimeout << "; got " << reports.size() << " other(s)";

  std::cout << "boot to runcmd report: " << absl::ToDoubleSeconds(elapsed) << " s (QEMU start to "
            << "line received; guest " << reports["runcmd"] << ")\n";
  RecordProperty("boot_to_runcmd_seconds", static_cast<int>(absl::ToInt64Seconds(elapsed)));
  EXPECT_EQ(reports["escape"], "say \"hi\" \\ back");
  EXPECT_THAT(reports["runcmd"], ::testing::StartsWith(nonce + " uptime="));
  EXPECT_THAT(reports["runcmd"], ::testing::HasSubstr(absl::StrCat("inet ", kGuestAddress, "/24")));
}

}  // namespace
}  // namespace mandant::testing
