#include "agents/vm/domain_xml.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "agents/vm/hypervisor.h"
#include "tests/support/status_matchers.h"

namespace mandant::agent {
namespace {

using ::mandant::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kId[] = "6a1e3c2e-0000-4000-8000-000000000005";

v1::VmSpec Spec() {
  v1::VmSpec spec;
  spec.set_machine_id(kId);
  spec.set_tenant("tenants/acme");
  spec.set_cluster("tenants/acme/clusters/prod");
  spec.set_name("prod-cp-1");
  spec.mutable_resources()->set_vcpus(2);
  spec.mutable_resources()->set_memory_mib(2048);
  spec.mutable_resources()->set_disk_gib(20);
  spec.set_base_image("debian-12");
  auto* nic = spec.add_nics();
  nic->set_mac_address("02:4d:00:12:34:56");
  nic->set_bridge_name("mb-0003e9");
  nic = spec.add_nics();
  nic->set_mac_address("02:4d:00:12:34:57");
  nic->set_bridge_name("ms-0003e9");
  spec.mutable_seed()->set_user_data("#cloud-config\n");
  return spec;
}

// DefinitionHash(Spec(), Files(), "qemu"), computed outside this code: the
// spec's text format encoded by `protoc --encode=mandant.v1.VmSpec
// mandant/v1/agent.proto` (field order, as deterministic serialization
// writes it), then the length-prefixed parts "20:mandant-domain-xml/1;"
// "4:qemu;" "193:<encoded spec>;" and each path of Files() in order (kernel
// and initrd "0:;") written with printf into a file and hashed with
// sha256sum (the same with openssl dgst -sha256). It changes only with the
// rendering format, which redefines every VM of the fleet: bump
// kRenderFormat on purpose and update this, never the other way round.
constexpr char kDefinitionHash[] =
    "b3a58da2f7d0cb7343d62b50487e47f58a27e7566e2b95de41cfa4a51a67ed54";
// "mt" + the first 10 hex digits of `printf %s <kId> | sha256sum` + "-<nic>".
constexpr char kTap0[] = "mt051ea24a86-0";
constexpr char kTap1[] = "mt051ea24a86-1";

DomainFiles Files() {
  DomainFiles f;
  f.disk = "/s/vms/x/disk.qcow2";
  f.base_image = "/img/debian-12.qcow2";
  f.seed = "/s/vms/x/seed.iso";
  f.console_log = "/s/vms/x/console.log";
  f.status_socket = "/s/vms/x/status.sock";
  return f;
}

// The parsed document with XPath over it.
class Doc {
 public:
  explicit Doc(const std::string& xml)
      : doc_(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "d.xml", nullptr,
                           XML_PARSE_NONET),
             xmlFreeDoc),
        ctx_(doc_ ? xmlXPathNewContext(doc_.get()) : nullptr, xmlXPathFreeContext) {
    if (ctx_) {
      xmlXPathRegisterNs(ctx_.get(), reinterpret_cast<const xmlChar*>("m"),
                         reinterpret_cast<const xmlChar*>(kMandantMetadataNamespace));
    }
  }
  bool ok() const { return doc_ != nullptr; }
  // The string value of `xpath`, e.g. "string(/domain/name)".
  std::string Str(const std::string& xpath) const {
    std::unique_ptr<xmlXPathObject, void (*)(xmlXPathObjectPtr)> r(
        xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(("string(" + xpath + ")").c_str()),
                               ctx_.get()),
        xmlXPathFreeObject);
    return r && r->stringval ? reinterpret_cast<const char*>(r->stringval) : "<none>";
  }
  int Count(const std::string& xpath) const {
    return static_cast<int>(std::stod(Str("count(" + xpath + ")")));
  }

 private:
  std::unique_ptr<xmlDoc, void (*)(xmlDoc*)> doc_;
  std::unique_ptr<xmlXPathContext, void (*)(xmlXPathContextPtr)> ctx_;
};

TEST(DomainXmlTest, RendersEveryField) {
  absl::StatusOr<std::string> xml = RenderDomainXml(Spec(), Files(), 7);
  ASSERT_OK(xml);
  Doc d(*xml);
  ASSERT_TRUE(d.ok()) << *xml;
  EXPECT_EQ(d.Str("/domain/@type"), "qemu");
  EXPECT_EQ(d.Str("/domain/name"), std::string("m-") + kId);
  EXPECT_EQ(d.Str("/domain/uuid"), kId);
  EXPECT_EQ(d.Str("/domain/memory"), "2048");
  EXPECT_EQ(d.Str("/domain/memory/@unit"), "MiB");
  EXPECT_EQ(d.Str("/domain/vcpu"), "2");
  EXPECT_EQ(d.Str("/domain/os/type"), "hvm");
  EXPECT_EQ(d.Str("/domain/os/boot/@dev"), "hd");
  EXPECT_EQ(d.Count("/domain/os/kernel"), 0);
  EXPECT_EQ(d.Count("/domain/features/acpi"), 1);
  EXPECT_EQ(d.Str("/domain/on_crash"), "destroy");

  EXPECT_EQ(d.Str("/domain/metadata/m:machine/m:tenant"), "tenants/acme");
  EXPECT_EQ(d.Str("/domain/metadata/m:machine/m:cluster"), "tenants/acme/clusters/prod");
  EXPECT_EQ(d.Str("/domain/metadata/m:machine/m:machine-id"), kId);
  EXPECT_EQ(d.Str("/domain/metadata/m:machine/m:name"), "prod-cp-1");
  EXPECT_EQ(d.Str("/domain/metadata/m:machine/m:spec-version"), "7");
  EXPECT_EQ(d.Str("/domain/metadata/m:machine/m:spec-hash"), kDefinitionHash);

  const std::string vda = "/domain/devices/disk[target/@dev='vda']";
  EXPECT_EQ(d.Str(vda + "/driver/@type"), "qcow2");
  EXPECT_EQ(d.Str(vda + "/source/@file"), "/s/vms/x/disk.qcow2");
  EXPECT_EQ(d.Str(vda + "/backingStore/source/@file"), "/img/debian-12.qcow2");
  EXPECT_EQ(d.Str(vda + "/target/@bus"), "virtio");
  EXPECT_EQ(d.Count(vda + "/readonly"), 0);
  const std::string vdb = "/domain/devices/disk[target/@dev='vdb']";
  EXPECT_EQ(d.Str(vdb + "/@device"), "disk");  // a virtio disk, not an IDE cdrom
  EXPECT_EQ(d.Str(vdb + "/driver/@type"), "raw");
  EXPECT_EQ(d.Str(vdb + "/source/@file"), "/s/vms/x/seed.iso");
  EXPECT_EQ(d.Str(vdb + "/target/@bus"), "virtio");
  EXPECT_EQ(d.Count(vdb + "/readonly"), 1);

  EXPECT_EQ(d.Count("/domain/devices/interface"), 2);
  EXPECT_EQ(d.Str("/domain/devices/interface[1]/@type"), "bridge");
  EXPECT_EQ(d.Str("/domain/devices/interface[1]/mac/@address"), "02:4d:00:12:34:56");
  EXPECT_EQ(d.Str("/domain/devices/interface[1]/source/@bridge"), "mb-0003e9");
  EXPECT_EQ(d.Str("/domain/devices/interface[1]/target/@dev"), kTap0);
  EXPECT_EQ(d.Str("/domain/devices/interface[1]/model/@type"), "virtio");
  EXPECT_EQ(d.Str("/domain/devices/interface[2]/source/@bridge"), "ms-0003e9");
  EXPECT_EQ(d.Str("/domain/devices/interface[2]/target/@dev"), kTap1);

  EXPECT_EQ(d.Str("/domain/devices/serial/@type"), "file");
  EXPECT_EQ(d.Str("/domain/devices/serial/source/@path"), "/s/vms/x/console.log");
  EXPECT_EQ(d.Str("/domain/devices/channel/@type"), "unix");
  EXPECT_EQ(d.Str("/domain/devices/channel/source/@mode"), "bind");
  EXPECT_EQ(d.Str("/domain/devices/channel/source/@path"), "/s/vms/x/status.sock");
  EXPECT_EQ(d.Str("/domain/devices/channel/target/@type"), "virtio");
  EXPECT_EQ(d.Str("/domain/devices/channel/target/@name"), "org.mandant.status.0");
  EXPECT_EQ(d.Str("/domain/devices/memballoon/@model"), "none");
}

TEST(DomainXmlTest, DirectKernelBootWhenKernelAndInitrdAreGiven) {
  DomainFiles files = Files();
  files.kernel = "/img/debian-12.vmlinuz";
  files.initrd = "/img/debian-12.initrd";
  absl::StatusOr<std::string> xml = RenderDomainXml(Spec(), files, 1);
  ASSERT_OK(xml);
  Doc d(*xml);
  EXPECT_EQ(d.Str("/domain/os/kernel"), "/img/debian-12.vmlinuz");
  EXPECT_EQ(d.Str("/domain/os/initrd"), "/img/debian-12.initrd");
  EXPECT_EQ(d.Str("/domain/os/cmdline"), "root=/dev/vda rw console=ttyS0");
  EXPECT_EQ(d.Count("/domain/os/boot"), 0);
}

TEST(DomainXmlTest, HostileStringsAreEscapedAndRoundTrip) {
  v1::VmSpec spec = Spec();
  const std::string hostile = "a</name><devices><hostdev/></devices>&amp;'\"]]>\xc3\xa9";
  spec.set_name(hostile);
  spec.set_cluster("tenants/acme/clusters/<x y='1'>");
  DomainFiles files = Files();
  files.disk = "/s/it's \"quoted\" & <tagged>.qcow2";
  absl::StatusOr<std::string> xml = RenderDomainXml(spec, files, 1);
  ASSERT_OK(xml);
  Doc d(*xml);
  ASSERT_TRUE(d.ok()) << *xml;
  EXPECT_EQ(d.Str("/domain/metadata/m:machine/m:name"), hostile);
  EXPECT_EQ(d.Str("/domain/metadata/m:machine/m:cluster"), "tenants/acme/clusters/<x y='1'>");
  EXPECT_EQ(d.Str("/domain/devices/disk[target/@dev='vda']/source/@file"), files.disk);
  EXPECT_EQ(d.Count("//hostdev"), 0);
  EXPECT_EQ(d.Count("/domain/devices"), 1);
}

TEST(DomainXmlTest, RefusesControlCharactersAndInvalidUtf8) {
  v1::VmSpec spec = Spec();
  spec.set_name(std::string("a\x01b"));
  EXPECT_THAT(RenderDomainXml(spec, Files(), 1),
              StatusIs(absl::StatusCode::kInvalidArgument, "control character"));
  spec.set_name("a\xff\xfe");
  EXPECT_THAT(RenderDomainXml(spec, Files(), 1),
              StatusIs(absl::StatusCode::kInvalidArgument, "not valid UTF-8"));
  spec.set_name(std::string("a\0b", 3));
  EXPECT_THAT(RenderDomainXml(spec, Files(), 1),
              StatusIs(absl::StatusCode::kInvalidArgument, "name"));
}

TEST(DomainXmlTest, RefusesNonPositiveResources) {
  v1::VmSpec spec = Spec();
  spec.mutable_resources()->set_vcpus(0);
  EXPECT_THAT(RenderDomainXml(spec, Files(), 1),
              StatusIs(absl::StatusCode::kInvalidArgument, "vcpus > 0"));
}

TEST(DomainXmlTest, MetadataRoundTripsInTheFormLibvirtReturns) {
  // libvirt drops the namespace (checked with libvirt 9.0).
  const std::string returned = std::string(
                                   "<machine><tenant>tenants/acme</tenant><cluster>tenants/acme/"
                                   "clusters/prod</cluster><machine-id>") +
                               kId +
                               "</machine-id><name>a&lt;b</name><spec-version>42</spec-version>"
                               "<spec-hash>abc</spec-hash></machine>";
  absl::StatusOr<MandantMetadata> m = ParseMandantMetadata(returned);
  ASSERT_OK(m);
  EXPECT_EQ(m->tenant, "tenants/acme");
  EXPECT_EQ(m->cluster, "tenants/acme/clusters/prod");
  EXPECT_EQ(m->machine_id, kId);
  EXPECT_EQ(m->name, "a<b");
  EXPECT_EQ(m->spec_version, 42);
  EXPECT_EQ(m->spec_hash, "abc");
  // And the element as rendered, in Mandant's namespace.
  absl::StatusOr<std::string> xml = RenderDomainXml(Spec(), Files(), 5);
  ASSERT_OK(xml);
  size_t begin = xml->find("<mandant:machine");
  size_t end = xml->find("</mandant:machine>");
  ASSERT_NE(end, std::string::npos);
  m = ParseMandantMetadata(xml->substr(begin, end + 18 - begin));
  ASSERT_OK(m);
  EXPECT_EQ(m->name, "prod-cp-1");
  EXPECT_EQ(m->spec_version, 5);
  EXPECT_EQ(m->spec_hash, kDefinitionHash);
}

TEST(DomainXmlTest, MetadataParserRefusesForeignOrBrokenElements) {
  EXPECT_THAT(ParseMandantMetadata("<machine xmlns=\"https://example.com/other\">"
                                   "<machine-id>x</machine-id><spec-hash>h</spec-hash></machine>"),
              StatusIs(absl::StatusCode::kInvalidArgument, "not a <machine> element"));
  EXPECT_THAT(ParseMandantMetadata("<machine"),
              StatusIs(absl::StatusCode::kInvalidArgument, "not well-formed"));
  EXPECT_THAT(ParseMandantMetadata(std::string("<machine xmlns=\"") + kMandantMetadataNamespace +
                                   "\"><machine-id>x</machine-id></machine>"),
              StatusIs(absl::StatusCode::kInvalidArgument, "spec-hash"));
}

TEST(DomainXmlTest, HashIgnoresPowerStateButNotTheSeed) {
  v1::VmSpec a = Spec();
  EXPECT_EQ(DefinitionHash(a, Files(), "qemu"), kDefinitionHash);
  v1::VmSpec b = Spec();
  b.set_power_state(v1::POWER_STATE_OFF);
  EXPECT_EQ(DefinitionHash(a, Files(), "qemu"), DefinitionHash(b, Files(), "qemu"));
  b.mutable_seed()->set_user_data("#cloud-config\nother\n");
  EXPECT_NE(DefinitionHash(a, Files(), "qemu"), DefinitionHash(b, Files(), "qemu"));
  DomainFiles kernel = Files();
  kernel.kernel = "/k";
  kernel.initrd = "/i";
  EXPECT_NE(DefinitionHash(a, Files(), "qemu"), DefinitionHash(a, kernel, "qemu"));
  EXPECT_NE(DefinitionHash(a, Files(), "qemu"), DefinitionHash(a, Files(), "kvm"));
  EXPECT_THAT(DefinitionHash(a, Files(), "qemu"), SizeIs(64));
}

TEST(DomainXmlTest, TapNamesFitIfnamsizAndDifferForSequentialIds) {
  EXPECT_EQ(TapName(kId, 0), kTap0);
  EXPECT_THAT(TapName(kId, 99), SizeIs(15));
  EXPECT_THAT(TapName(kId, 0), HasSubstr("-0"));
  EXPECT_NE(TapName("6a1e3c2e-0000-4000-8000-000000000005", 0),
            TapName("6a1e3c2e-0000-4000-8000-000000000006", 0));
  EXPECT_EQ(TapName(kId, 1), TapName(kId, 1));
}

}  // namespace
}  // namespace mandant::agent
