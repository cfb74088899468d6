#include "agents/vm/vms.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agents/vm/command.h"
#include "agents/vm/domain_xml.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/agents/vm/fake_hypervisor.h"
#include "tests/unit/agents/vm/test_dir.h"

namespace mandant::agent {
namespace {

using ::mandant::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kA[] = "6a1e3c2e-0000-4000-8000-00000000000a";
constexpr char kB[] = "6a1e3c2e-0000-4000-8000-00000000000b";
constexpr char kC[] = "6a1e3c2e-0000-4000-8000-00000000000c";

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

class VmsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_dir_ = dir_.path() + "/images";
    state_dir_ = dir_.path() + "/state";
    std::filesystem::create_directories(image_dir_);
    const std::string base = image_dir_ + "/debian-12.qcow2";
    ASSERT_OK(RunCommand({"qemu-img", "create", "-q", "-f", "qcow2", base, "64M"}));
    // The checksum the spec carries, from coreutils rather than the code
    // under test, which compares the file against it.
    absl::StatusOr<std::string> sum = RunCommand({"sha256sum", base});
    ASSERT_OK(sum);
    ASSERT_GE(sum->size(), 64u) << *sum;
    base_sha_ = sum->substr(0, 64);
    images_ = std::make_unique<BaseImages>(image_dir_);
    vms_ = NewVms();
    tenants_ = {{"mb-000001", "tenants/acme"}, {"mb-000002", "tenants/beta"}};
  }

  std::unique_ptr<Vms> NewVms() {
    Vms::Options options;
    options.hypervisor = &hv_;
    options.base_images = images_.get();
    options.state_dir = state_dir_;
    options.clock = [this] { return now_; };
    options.shutdown_grace = absl::Seconds(60);
    absl::StatusOr<std::unique_ptr<Vms>> vms = Vms::Create(options);
    EXPECT_OK(vms);
    return vms.ok() ? *std::move(vms) : nullptr;
  }

  v1::VmSpec Spec(const std::string& id) {
    v1::VmSpec spec;
    spec.set_machine_id(id);
    spec.set_tenant("tenants/acme");
    spec.set_cluster("tenants/acme/clusters/prod");
    spec.set_name("node");
    spec.mutable_resources()->set_vcpus(1);
    spec.mutable_resources()->set_memory_mib(512);
    spec.mutable_resources()->set_disk_gib(1);
    spec.set_base_image("debian-12");
    spec.set_base_image_sha256(base_sha_);
    auto* nic = spec.add_nics();
    nic->set_mac_address("02:4d:00:00:00:01");
    nic->set_bridge_name("mb-000001");
    spec.mutable_seed()->set_user_data("#cloud-config\n");
    spec.mutable_seed()->set_meta_data(absl::StrCat("instance-id: ", id, "\n"));
    spec.set_power_state(v1::POWER_STATE_ON);
    return spec;
  }

  std::vector<v1::VmStatus> Reconcile(const std::vector<v1::VmSpec>& desired) {
    absl::StatusOr<std::vector<v1::VmStatus>> out = vms_->Reconcile(desired, 3, tenants_);
    EXPECT_OK(out);
    return out.ok() ? *out : std::vector<v1::VmStatus>{};
  }

  // A domain with Mandant metadata, as a previous agent run left it.
  void AddMandantDomain(const std::string& id, DomainState state) {
    DomainInfo info;
    info.uuid = id;
    info.name = DomainName(id);
    info.state = state;
    info.mandant_metadata = std::string("<machine xmlns=\"") + kMandantMetadataNamespace +
                            "\"><machine-id>" + id +
                            "</machine-id><spec-hash>old</spec-hash>"
                            "</machine>";
    hv_.AddDomain(info);
  }

  testing::TestDir dir_;
  std::string image_dir_;
  std::string state_dir_;
  std::string base_sha_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  testing::FakeHypervisor hv_;
  std::unique_ptr<BaseImages> images_;
  std::unique_ptr<Vms> vms_;
  absl::flat_hash_map<std::string, std::string> tenants_;
};

TEST_F(VmsTest, CreatesDiskSeedAndDomainAndStartsIt) {
  std::vector<v1::VmStatus> out = Reconcile({Spec(kA)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].machine_id(), kA);
  EXPECT_EQ(out[0].state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(out[0].error(), "");
  EXPECT_THAT(hv_.calls,
              ElementsAre(absl::StrCat("DefineDomain ", kA), absl::StrCat("StartDomain ", kA)));
  const std::string dir = vms_->VmDir(kA);
  EXPECT_EQ(dir, state_dir_ + "/vms/" + kA);
  absl::StatusOr<std::string> info =
      RunCommand({"qemu-img", "info", "--output=json", dir + "/disk.qcow2"});
  ASSERT_OK(info);
  EXPECT_THAT(*info, HasSubstr(image_dir_ + "/debian-12.qcow2"));
  struct stat st;
  ASSERT_EQ(stat((dir + "/seed.iso").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700);
  const std::string& xml = hv_.domains[kA].xml;
  EXPECT_THAT(xml, HasSubstr(dir + "/status.sock"));
  EXPECT_THAT(xml, HasSubstr(dir + "/console.log"));
  EXPECT_THAT(xml, HasSubstr("spec-version>3</"));
  EXPECT_EQ(vms_->StatusSocketPath(kA), dir + "/status.sock");
}

TEST_F(VmsTest, SecondPassAndAgentRestartLeaveARunningVmAlone) {
  Reconcile({Spec(kA)});
  const int64_t pid = hv_.domains[kA].info.qemu_pid;
  hv_.calls.clear();
  std::vector<v1::VmStatus> out = Reconcile({Spec(kA)});
  EXPECT_THAT(hv_.calls, IsEmpty());
  EXPECT_EQ(out[0].state(), v1::VM_STATE_RUNNING);

  vms_ = NewVms();  // the agent restarts; libvirt and QEMU keep running
  out = Reconcile({Spec(kA)});
  EXPECT_THAT(hv_.calls, IsEmpty());
  EXPECT_EQ(out[0].state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(hv_.domains[kA].info.qemu_pid, pid);
}

TEST_F(VmsTest, DriftedDefinitionIsRedefinedWithoutRestartingTheVm) {
  Reconcile({Spec(kA)});
  hv_.calls.clear();
  v1::VmSpec changed = Spec(kA);
  changed.mutable_resources()->set_memory_mib(1024);
  std::vector<v1::VmStatus> out = Reconcile({changed});
  EXPECT_THAT(hv_.calls, ElementsAre(absl::StrCat("DefineDomain ", kA)));
  EXPECT_THAT(hv_.domains[kA].xml, HasSubstr(">1024</memory>"));
  EXPECT_EQ(out[0].state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(out[0].error(), "");
}

TEST_F(VmsTest, PowerOffAsksTheGuestThenDestroysAfterTheGracePeriod) {
  Reconcile({Spec(kA)});
  hv_.calls.clear();
  v1::VmSpec off = Spec(kA);
  off.set_power_state(v1::POWER_STATE_OFF);
  std::vector<v1::VmStatus> out = Reconcile({off});
  EXPECT_THAT(hv_.calls, ElementsAre(absl::StrCat("ShutdownDomain ", kA)));
  EXPECT_EQ(out[0].state(), v1::VM_STATE_RUNNING);  // the guest ignores ACPI

  now_ += absl::Seconds(59);
  hv_.calls.clear();
  Reconcile({off});
  EXPECT_THAT(hv_.calls, IsEmpty());

  now_ += absl::Seconds(2);
  out = Reconcile({off});
  EXPECT_THAT(hv_.calls, ElementsAre(absl::StrCat("DestroyDomain ", kA)));
  EXPECT_EQ(out[0].state(), v1::VM_STATE_STOPPED);

  hv_.calls.clear();
  out = Reconcile({Spec(kA)});  // on again
  EXPECT_THAT(hv_.calls, ElementsAre(absl::StrCat("StartDomain ", kA)));
  EXPECT_EQ(out[0].state(), v1::VM_STATE_RUNNING);
}

TEST_F(VmsTest, PowerOffOfAnObedientGuestNeedsNoDestroy) {
  hv_.guest_obeys_shutdown = true;
  Reconcile({Spec(kA)});
  hv_.calls.clear();
  v1::VmSpec off = Spec(kA);
  off.set_power_state(v1::POWER_STATE_OFF);
  EXPECT_EQ(Reconcile({off})[0].state(), v1::VM_STATE_STOPPED);
  EXPECT_THAT(hv_.calls, ElementsAre(absl::StrCat("ShutdownDomain ", kA)));
}

TEST_F(VmsTest, RefusedShutdownFallsBackToDestroy) {
  Reconcile({Spec(kA)});
  hv_.errors["ShutdownDomain"] = absl::FailedPreconditionError("no ACPI");
  hv_.calls.clear();
  v1::VmSpec off = Spec(kA);
  off.set_power_state(v1::POWER_STATE_OFF);
  EXPECT_EQ(Reconcile({off})[0].state(), v1::VM_STATE_STOPPED);
  EXPECT_THAT(hv_.calls, ElementsAre(absl::StrCat("DestroyDomain ", kA)));
}

TEST_F(VmsTest, VmNotInTheSpecIsDestroyedUndefinedAndItsFilesRemoved) {
  Reconcile({Spec(kA), Spec(kB)});
  ASSERT_TRUE(Exists(vms_->VmDir(kB) + "/disk.qcow2"));
  hv_.calls.clear();
  std::vector<v1::VmStatus> out = Reconcile({Spec(kA)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].machine_id(), kA);
  EXPECT_THAT(hv_.calls,
              ElementsAre(absl::StrCat("DestroyDomain ", kB), absl::StrCat("UndefineDomain ", kB)));
  EXPECT_FALSE(Exists(vms_->VmDir(kB)));
  EXPECT_TRUE(Exists(vms_->VmDir(kA) + "/disk.qcow2"));
}

TEST_F(VmsTest, FailedDeletionIsReportedAsDeletingUntilItSucceeds) {
  Reconcile({Spec(kA), Spec(kB)});
  hv_.errors["UndefineDomain"] = absl::InternalError("undefining domain: disk busy");
  std::vector<v1::VmStatus> out = Reconcile({Spec(kA)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].machine_id(), kB);
  EXPECT_EQ(out[1].state(), v1::VM_STATE_DELETING);
  EXPECT_THAT(out[1].error(), HasSubstr("disk busy"));
  EXPECT_TRUE(Exists(vms_->VmDir(kB)));  // files stay until the domain is gone

  hv_.errors.clear();
  out = Reconcile({Spec(kA)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE((hv_.domains.count(kB) > 0));
  EXPECT_FALSE(Exists(vms_->VmDir(kB)));
}

TEST_F(VmsTest, DomainsWithoutMandantMetadataAreNeverTouched) {
  DomainInfo foreign;
  foreign.uuid = kC;
  foreign.name = "someone-elses";
  foreign.state = DomainState::kRunning;
  hv_.AddDomain(foreign);
  std::vector<v1::VmStatus> out = Reconcile({});
  EXPECT_THAT(out, IsEmpty());
  EXPECT_THAT(hv_.calls, IsEmpty());

  // Even when the spec asks for a VM with the same UUID.
  v1::VmSpec off = Spec(kC);
  off.set_power_state(v1::POWER_STATE_OFF);
  out = Reconcile({off});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0].error(), HasSubstr("not managed by Mandant"));
  EXPECT_THAT(hv_.calls, IsEmpty());
  EXPECT_EQ(hv_.domains[kC].info.state, DomainState::kRunning);
  EXPECT_FALSE(Exists(vms_->VmDir(kC)));
}

TEST_F(VmsTest, ChecksumMismatchRefusesTheVmAndCreatesNothing) {
  v1::VmSpec spec = Spec(kA);
  spec.set_base_image_sha256(std::string(64, '0'));
  std::vector<v1::VmStatus> out = Reconcile({spec, Spec(kB)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].state(), v1::VM_STATE_CREATING);
  EXPECT_THAT(out[0].error(), HasSubstr("has SHA-256 " + base_sha_));
  EXPECT_THAT(out[0].error(), HasSubstr("expects " + std::string(64, '0')));
  EXPECT_FALSE(Exists(vms_->VmDir(kA) + "/disk.qcow2"));
  EXPECT_FALSE((hv_.domains.count(kA) > 0));
  EXPECT_EQ(out[1].state(), v1::VM_STATE_RUNNING);  // the other VM goes on
}

TEST_F(VmsTest, MissingBaseImageIsReported) {
  v1::VmSpec spec = Spec(kA);
  spec.set_base_image("ubuntu-24");
  std::vector<v1::VmStatus> out = Reconcile({spec});
  EXPECT_THAT(out[0].error(), HasSubstr("base image \"ubuntu-24\""));
  EXPECT_THAT(out[0].error(), HasSubstr("image directory"));
}

TEST_F(VmsTest, NicOnAnotherTenantsOrAnUnknownBridgeIsRefused) {
  v1::VmSpec spec = Spec(kA);
  spec.mutable_nics(0)->set_bridge_name("mb-000002");  // tenants/beta's
  std::vector<v1::VmStatus> out = Reconcile({spec});
  EXPECT_THAT(out[0].error(), HasSubstr("belongs to another tenant"));
  EXPECT_FALSE((hv_.domains.count(kA) > 0));
  EXPECT_FALSE(Exists(vms_->VmDir(kA)));

  spec.mutable_nics(0)->set_bridge_name("mb-0000ff");
  out = Reconcile({spec});
  EXPECT_THAT(out[0].error(), HasSubstr("not a tenant network on this host"));
  EXPECT_FALSE((hv_.domains.count(kA) > 0));
}

TEST_F(VmsTest, InvalidSpecsAreRefused) {
  v1::VmSpec bad_id = Spec(kA);
  bad_id.set_machine_id("../../etc");
  v1::VmSpec bad_mac = Spec(kB);
  bad_mac.mutable_nics(0)->set_mac_address("03:00:00:00:00:01");  // multicast
  v1::VmSpec bad_image = Spec(kC);
  bad_image.set_base_image("../x");
  std::vector<v1::VmStatus> out = Reconcile({bad_id, bad_mac, bad_image});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_THAT(out[0].error(), HasSubstr("not a lower-case UUID"));
  EXPECT_THAT(out[1].error(), HasSubstr("not a unicast"));
  EXPECT_THAT(out[2].error(), HasSubstr("base image name \"../x\" is not valid"));
  EXPECT_THAT(hv_.calls, IsEmpty());
}

TEST_F(VmsTest, LibvirtErrorsEndUpInTheVmStatusAndOthersContinue) {
  hv_.errors["StartDomain"] =
      absl::InternalError("starting domain: internal error: process exited while connecting");
  std::vector<v1::VmStatus> out = Reconcile({Spec(kA), Spec(kB)});
  ASSERT_EQ(out.size(), 2u);
  for (const v1::VmStatus& s : out) {
    EXPECT_EQ(s.state(), v1::VM_STATE_STOPPED);
    EXPECT_THAT(s.error(), HasSubstr("process exited while connecting"));
  }
  hv_.errors.clear();
  out = Reconcile({Spec(kA), Spec(kB)});
  EXPECT_EQ(out[0].state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(out[1].state(), v1::VM_STATE_RUNNING);
}

TEST_F(VmsTest, DefineErrorIsReportedAndRetriedIdempotently) {
  hv_.errors["DefineDomain"] = absl::InvalidArgumentError("XML error: bad bridge");
  std::vector<v1::VmStatus> out = Reconcile({Spec(kA)});
  EXPECT_EQ(out[0].state(), v1::VM_STATE_CREATING);
  EXPECT_THAT(out[0].error(), HasSubstr("XML error: bad bridge"));
  // The half-made VM (disk, seed, no domain) is reused, not recreated.
  struct stat before;
  ASSERT_EQ(stat((vms_->VmDir(kA) + "/disk.qcow2").c_str(), &before), 0);
  hv_.errors.clear();
  out = Reconcile({Spec(kA)});
  EXPECT_EQ(out[0].state(), v1::VM_STATE_RUNNING);
  struct stat after;
  ASSERT_EQ(stat((vms_->VmDir(kA) + "/disk.qcow2").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
}

TEST_F(VmsTest, CrashLeftoversAreCleaned) {
  // A crash after writing a temporary seed, and a directory of a VM that
  // was deleted from the spec before its domain was defined.
  const std::string a = state_dir_ + "/vms/" + kA;
  const std::string b = state_dir_ + "/vms/" + kB;
  std::filesystem::create_directories(a);
  std::filesystem::create_directories(b);
  std::ofstream(a + "/seed.iso.tmp-abc123") << "secret";
  std::ofstream(b + "/disk.qcow2") << "x";
  std::ofstream(state_dir_ + "/vms/not-a-uuid") << "x";
  std::vector<v1::VmStatus> out = Reconcile({Spec(kA)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].state(), v1::VM_STATE_RUNNING);
  EXPECT_FALSE(Exists(a + "/seed.iso.tmp-abc123"));
  EXPECT_FALSE(Exists(b));
  EXPECT_TRUE(Exists(state_dir_ + "/vms/not-a-uuid"));  // not the agent's: left alone
}

TEST_F(VmsTest, StoppedDomainWithLostFilesGetsThemBack) {
  Reconcile({Spec(kA)});
  hv_.domains[kA].info.state = DomainState::kShutoff;
  std::filesystem::remove(vms_->VmDir(kA) + "/seed.iso");
  hv_.calls.clear();
  std::vector<v1::VmStatus> out = Reconcile({Spec(kA)});
  EXPECT_TRUE(Exists(vms_->VmDir(kA) + "/seed.iso"));
  EXPECT_THAT(hv_.calls,
              ElementsAre(absl::StrCat("DefineDomain ", kA), absl::StrCat("StartDomain ", kA)));
  EXPECT_EQ(out[0].state(), v1::VM_STATE_RUNNING);
}

TEST_F(VmsTest, OldDomainOfAnEarlierAgentIsAdoptedByRedefinition) {
  AddMandantDomain(kA, DomainState::kRunning);
  hv_.domains[kA].info.qemu_pid = 4242;
  std::vector<v1::VmStatus> out = Reconcile({Spec(kA)});
  EXPECT_THAT(hv_.calls, ElementsAre(absl::StrCat("DefineDomain ", kA)));
  EXPECT_EQ(hv_.domains[kA].info.qemu_pid, 4242);
  EXPECT_EQ(out[0].state(), v1::VM_STATE_RUNNING);
}

TEST_F(VmsTest, CrashedAndPausedStatesAreReported) {
  AddMandantDomain(kA, DomainState::kPaused);
  AddMandantDomain(kB, DomainState::kShutoff);
  hv_.domains[kB].info.state_reason = kShutoffReasonCrashed;
  hv_.errors["StartDomain"] = absl::InternalError("cannot start");
  v1::VmSpec b = Spec(kB);
  std::vector<v1::VmStatus> out = Reconcile({Spec(kA), b});
  EXPECT_EQ(out[0].state(), v1::VM_STATE_PAUSED);
  EXPECT_EQ(out[1].state(), v1::VM_STATE_CRASHED);
}

TEST_F(VmsTest, StatusesAreOrderedByMachineIdAndDuplicatesReported) {
  std::vector<v1::VmStatus> out = Reconcile({Spec(kB), Spec(kA), Spec(kB)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].machine_id(), kA);
  EXPECT_EQ(out[1].machine_id(), kB);
  EXPECT_THAT(out[1].error(), HasSubstr("more than once"));
}

TEST_F(VmsTest, HypervisorListFailureFailsThePass) {
  hv_.errors["ListDomains"] = absl::UnavailableError("connecting to libvirt: broken pipe");
  EXPECT_THAT(vms_->Reconcile({Spec(kA)}, 1, tenants_),
              StatusIs(absl::StatusCode::kUnavailable, "broken pipe"));
  EXPECT_FALSE(Exists(vms_->VmDir(kA)));
}

TEST(VmsCreateTest, RefusesStateDirsTooLongForTheStatusSocket) {
  testing::FakeHypervisor hv;
  BaseImages images("/nonexistent");
  Vms::Options options;
  options.hypervisor = &hv;
  options.base_images = &images;
  options.state_dir = "/" + std::string(60, 'x');
  EXPECT_THAT(Vms::Create(options), StatusIs(absl::StatusCode::kInvalidArgument, "108-byte"));
  options.state_dir = "relative";
  EXPECT_THAT(Vms::Create(options), StatusIs(absl::StatusCode::kInvalidArgument, "absolute"));
  options.hypervisor = nullptr;
  EXPECT_THAT(Vms::Create(options), StatusIs(absl::StatusCode::kInvalidArgument, "hypervisor"));
}

}  // namespace
}  // namespace mandant::agent
