#include "agents/vm/libvirt_hypervisor.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "agents/vm/domain_xml.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/agents/vm/test_dir.h"

namespace mandant::agent {
namespace {

using ::mandant::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// test:///default is one shared in-process driver; each test uses its own
// UUID and undefines what it defines.
std::string TestDomainXml(const std::string& uuid, const std::string& name) {
  return absl::StrCat(
      "<domain type='test'><name>", name, "</name><uuid>", uuid,
      "</uuid><metadata><mandant:machine xmlns:mandant='", kMandantMetadataNamespace,
      "'><tenant>tenants/a&amp;b</tenant><machine-id>", uuid,
      "</machine-id><spec-version>9</spec-version><spec-hash>h1</spec-hash></mandant:machine>"
      "</metadata><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
      "</domain>");
}

const DomainInfo* FindDomain(const std::vector<DomainInfo>& domains, const std::string& uuid) {
  for (const DomainInfo& d : domains) {
    if (d.uuid == uuid) return &d;
  }
  return nullptr;
}

TEST(LibvirtHypervisorTest, DomainLifecycleAndMetadataRoundTrip) {
  absl::StatusOr<std::unique_ptr<Hypervisor>> hv = LibvirtHypervisor::Open("test:///default");
  ASSERT_OK(hv);
  const std::string uuid = "6a1e3c2e-0000-4000-8000-0000000000f1";
  // Upper case in the XML: the interface reports the canonical lower case.
  absl::StatusOr<std::string> defined =
      (*hv)->DefineDomain(TestDomainXml("6A1E3C2E-0000-4000-8000-0000000000F1", "mt-life"));
  ASSERT_OK(defined);
  EXPECT_EQ(*defined, uuid);

  absl::StatusOr<std::vector<DomainInfo>> list = (*hv)->ListDomains();
  ASSERT_OK(list);
  const DomainInfo* d = FindDomain(*list, uuid);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->name, "mt-life");
  EXPECT_EQ(d->state, DomainState::kShutoff);
  ASSERT_TRUE(d->mandant_metadata.has_value());
  absl::StatusOr<MandantMetadata> m = ParseMandantMetadata(*d->mandant_metadata);
  ASSERT_OK(m);
  EXPECT_EQ(m->tenant, "tenants/a&b");
  EXPECT_EQ(m->machine_id, "6A1E3C2E-0000-4000-8000-0000000000F1");  // as written
  EXPECT_EQ(m->spec_version, 9);
  EXPECT_EQ(m->spec_hash, "h1");

  ASSERT_OK((*hv)->StartDomain(uuid));
  list = (*hv)->ListDomains();
  ASSERT_OK(list);
  EXPECT_EQ(FindDomain(*list, uuid)->state, DomainState::kRunning);
  EXPECT_EQ(FindDomain(*list, uuid)->qemu_pid, 0);  // the test driver has no QEMU
  EXPECT_THAT((*hv)->StartDomain(uuid),
              StatusIs(absl::StatusCode::kInternal, "is already running"));
  EXPECT_THAT((*hv)->UndefineDomain(uuid), ::mandant::testing::IsOk());  // persistent -> transient
  ASSERT_OK((*hv)->DestroyDomain(uuid));
  list = (*hv)->ListDomains();
  ASSERT_OK(list);
  EXPECT_EQ(FindDomain(*list, uuid), nullptr);
}

TEST(LibvirtHypervisorTest, ShutdownAndUndefine) {
  absl::StatusOr<std::unique_ptr<Hypervisor>> hv = LibvirtHypervisor::Open("test:///default");
  ASSERT_OK(hv);
  const std::string uuid = "6a1e3c2e-0000-4000-8000-0000000000f2";
  ASSERT_OK((*hv)->DefineDomain(TestDomainXml(uuid, "mt-shutdown")));
  ASSERT_OK((*hv)->StartDomain(uuid));
  ASSERT_OK((*hv)->ShutdownDomain(uuid));
  absl::StatusOr<std::vector<DomainInfo>> list = (*hv)->ListDomains();
  ASSERT_OK(list);
  EXPECT_FALSE(IsActive(FindDomain(*list, uuid)->state));
  ASSERT_OK((*hv)->UndefineDomain(uuid));
  EXPECT_THAT((*hv)->UndefineDomain(uuid), StatusIs(absl::StatusCode::kNotFound, uuid));
}

TEST(LibvirtHypervisorTest, ForeignDomainHasNoMandantMetadata) {
  absl::StatusOr<std::unique_ptr<Hypervisor>> hv = LibvirtHypervisor::Open("test:///default");
  ASSERT_OK(hv);
  absl::StatusOr<std::vector<DomainInfo>> list = (*hv)->ListDomains();
  ASSERT_OK(list);
  bool found = false;
  for (const DomainInfo& d : *list) {
    if (d.name != "test") continue;  // the driver's built-in domain
    found = true;
    EXPECT_FALSE(d.mandant_metadata.has_value());
  }
  EXPECT_TRUE(found);
}

TEST(LibvirtHypervisorTest, ErrorsCarryLibvirtsText) {
  absl::StatusOr<std::unique_ptr<Hypervisor>> hv = LibvirtHypervisor::Open("test:///default");
  ASSERT_OK(hv);
  EXPECT_THAT((*hv)->StartDomain("6a1e3c2e-0000-4000-8000-0000000000ff"),
              StatusIs(absl::StatusCode::kNotFound, "looking up domain"));
  EXPECT_THAT((*hv)->DefineDomain("<domain type='test'><name>x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "defining a domain"));
  EXPECT_THAT(LibvirtHypervisor::Open("nosuchdriver:///x"),
              StatusIs(absl::StatusCode::kUnavailable, "nosuchdriver:///x"));
}

TEST(LibvirtHypervisorTest, VersionsAndRepeatedOpenClose) {
  for (int i = 0; i < 3; ++i) {  // the shared event loop stops and starts again
    absl::StatusOr<std::unique_ptr<Hypervisor>> hv = LibvirtHypervisor::Open("test:///default");
    ASSERT_OK(hv);
    absl::StatusOr<HypervisorVersions> v = (*hv)->GetVersions();
    ASSERT_OK(v);
    EXPECT_THAT(v->libvirt, MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+"));
    EXPECT_THAT(v->qemu, MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+"));
  }
}

TEST(PrepareEmbeddedRootTest, WritesQemuConf) {
  testing::TestDir dir;
  const std::string root = dir.path() + "/root";
  absl::Status s = PrepareEmbeddedRoot(root);
  if (absl::IsFailedPrecondition(s)) GTEST_SKIP() << s;  // no libvirt-qemu user here
  ASSERT_OK(s);
  std::ifstream in(root + "/etc/qemu.conf");
  std::stringstream conf;
  conf << in.rdbuf();
  for (const char* line : {"user = \"root\"", "group = \"root\"", "security_driver = \"none\"",
                           "stdio_handler = \"file\"", "namespaces = []", "remember_owner = 0"}) {
    EXPECT_THAT(conf.str(), HasSubstr(line));
  }
  ASSERT_OK(PrepareEmbeddedRoot(root));  // idempotent
  EXPECT_THAT(PrepareEmbeddedRoot("relative/root"),
              StatusIs(absl::StatusCode::kInvalidArgument, "absolute"));
}

}  // namespace
}  // namespace mandant::agent
