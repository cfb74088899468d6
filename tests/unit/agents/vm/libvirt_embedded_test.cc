// Integration test: libvirt's embedded QEMU driver for real. Starts a QEMU
// process (TCG, no disk: SeaBIOS finds no boot device and waits, which is
// enough to have a live domain), then checks that a second
// LibvirtHypervisor on the same root - the agent after a restart - finds the
// same QEMU process.

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agents/vm/domain_xml.h"
#include "agents/vm/libvirt_hypervisor.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/agents/vm/test_dir.h"

namespace mandant::agent {
namespace {

using ::testing::HasSubstr;

std::string Cmdline(int64_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"));
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  for (char& c : text) {
    if (c == '\0') c = ' ';
  }
  return text;
}

// True while `pid` is a process that is not a zombie.
bool Alive(int64_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat;
  if (!std::getline(in, stat)) return false;
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

const DomainInfo* FindDomain(const std::vector<DomainInfo>& domains, const std::string& uuid) {
  for (const DomainInfo& d : domains) {
    if (d.uuid == uuid) return &d;
  }
  return nullptr;
}

class LibvirtEmbeddedTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Never leave a QEMU behind, whatever failed above.
    if (pid_ > 0 && Alive(pid_) && Cmdline(pid_).find(uuid_) != std::string::npos) {
      kill(static_cast<pid_t>(pid_), SIGKILL);
    }
  }

  const std::string uuid_ = "6a1e3c2e-0000-4000-8000-00000000e2e1";
  int64_t pid_ = 0;
};

TEST_F(LibvirtEmbeddedTest, DomainSurvivesReopeningTheRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (QEMU runs as root under the embedded driver)";
  if (getpwnam("libvirt-qemu") == nullptr) GTEST_SKIP() << "the libvirt-qemu user is missing";
  testing::TestDir dir;
  const std::string root = dir.path() + "/r";
  ASSERT_OK(PrepareEmbeddedRoot(root));
  const std::string uri = "qemu:///embed?root=" + root;
  const std::string socket = dir.path() + "/status.sock";
  const std::string xml = absl::StrCat(
      "<domain type='qemu'><name>", DomainName(uuid_), "</name><uuid>", uuid_,
      "</uuid><metadata><mandant:machine xmlns:mandant='", kMandantMetadataNamespace,
      "'><tenant>tenants/acme</tenant><machine-id>", uuid_,
      "</machine-id><spec-version>4</spec-version><spec-hash>abc</spec-hash></mandant:machine>"
      "</metadata><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
      "<os><type arch='x86_64'>hvm</type></os><on_poweroff>destroy</on_poweroff><devices>"
      "<serial type='file'><source path='",
      dir.path(), "/console.log'/><target port='0'/></serial>",
      "<channel type='unix'><source mode='bind' path='", socket,
      "'/><target type='virtio' name='org.mandant.status.0'/></channel>"
      "<memballoon model='none'/></devices></domain>");

  {
    absl::StatusOr<std::unique_ptr<Hypervisor>> hv = LibvirtHypervisor::Open(uri);
    ASSERT_OK(hv);
    absl::StatusOr<HypervisorVersions> versions = (*hv)->GetVersions();
    ASSERT_OK(versions);
    std::cerr << "libvirt " << versions->libvirt << ", QEMU " << versions->qemu << "\n";
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_OK((*hv)->DefineDomain(xml));
    ASSERT_OK((*hv)->StartDomain(uuid_));
    std::cerr << "define + first start took "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
              << " s\n";
    absl::StatusOr<std::vector<DomainInfo>> list = (*hv)->ListDomains();
    ASSERT_OK(list);
    const DomainInfo* d = FindDomain(*list, uuid_);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->state, DomainState::kRunning);
    pid_ = d->qemu_pid;
    ASSERT_GT(pid_, 0);
    EXPECT_TRUE(Alive(pid_));
    EXPECT_THAT(Cmdline(pid_), HasSubstr("qemu-system-x86_64"));
    EXPECT_THAT(Cmdline(pid_), HasSubstr(uuid_));
    ASSERT_TRUE(d->mandant_metadata.has_value());
    absl::StatusOr<MandantMetadata> m = ParseMandantMetadata(*d->mandant_metadata);
    ASSERT_OK(m);
    EXPECT_EQ(m->tenant, "tenants/acme");
    EXPECT_EQ(m->machine_id, uuid_);
    EXPECT_EQ(m->spec_version, 4);
    struct stat st;
    ASSERT_EQ(stat(socket.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
  }  // the agent goes away

  EXPECT_TRUE(Alive(pid_)) << "closing the connection must not stop the VM";
  absl::StatusOr<std::unique_ptr<Hypervisor>> hv = LibvirtHypervisor::Open(uri);
  ASSERT_OK(hv);
  absl::StatusOr<std::vector<DomainInfo>> list = (*hv)->ListDomains();
  ASSERT_OK(list);
  const DomainInfo* d = FindDomain(*list, uuid_);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->state, DomainState::kRunning);
  EXPECT_EQ(d->qemu_pid, pid_);
  EXPECT_TRUE(d->mandant_metadata.has_value());

  ASSERT_OK((*hv)->DestroyDomain(uuid_));
  ASSERT_OK((*hv)->UndefineDomain(uuid_));
  for (int i = 0; i < 100 && Alive(pid_); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(Alive(pid_));
  list = (*hv)->ListDomains();
  ASSERT_OK(list);
  EXPECT_EQ(FindDomain(*list, uuid_), nullptr);
}

}  // namespace
}  // namespace mandant::agent
