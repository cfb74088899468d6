#include "agents/vm/domain_xml.h"

#include <memory>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlstring.h>

#include "agents/vm/hypervisor.h"
#include "common/sha256.h"

namespace mandant::agent {
namespace {

// Bump when RenderDomainXml changes what it emits, so that running agents
// notice that their domains were defined by an older rendering.
constexpr absl::string_view kRenderFormat = "mandant-domain-xml/1";
constexpr absl::string_view kKernelCmdline = "root=/dev/vda rw console=ttyS0";
constexpr int kMaxNics = 100;

struct XmlDocDeleter {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using XmlDocPtr = std::unique_ptr<xmlDoc, XmlDocDeleter>;

const xmlChar* X(const char* s) { return reinterpret_cast<const xmlChar*>(s); }
const xmlChar* X(const std::string& s) { return X(s.c_str()); }

// XML 1.0 allows no C0 control characters but tab, newline and carriage
// return, and libxml2 writes invalid UTF-8 through unchanged; refuse both
// rather than emit a document libvirt cannot parse.
absl::Status CheckXmlText(absl::string_view field, const std::string& value) {
  if (value.find('\0') != std::string::npos ||
      xmlCheckUTF8(reinterpret_cast<const unsigned char*>(value.c_str())) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is not valid UTF-8; fix the VmSpec that carries it"));
  }
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(field, " contains the control character 0x",
                                                     absl::Hex(c),
                                                     "; fix the VmSpec that carries it"));
    }
  }
  return absl::OkStatus();
}

class XmlBuilder {
 public:
  explicit XmlBuilder(absl::Status* status) : status_(status) {}

  xmlNode* Text(xmlNode* parent, const char* name, absl::string_view field,
                const std::string& value) {
    Check(field, value);
    return xmlNewTextChild(parent, nullptr, X(name), X(value));
  }
  xmlNode* Node(xmlNode* parent, const char* name) {
    return xmlNewChild(parent, nullptr, X(name), nullptr);
  }
  void Attr(xmlNode* node, const char* name, absl::string_view field, const std::string& value) {
    Check(field, value);
    xmlNewProp(node, X(name), X(value));
  }

 private:
  void Check(absl::string_view field, const std::string& value) {
    if (!status_->ok()) return;
    *status_ = CheckXmlText(field, value);
  }
  absl::Status* status_;
};

// A file-backed virtio disk, a copy-on-write qcow2 overlay when
// `backing_qcow2` is set; `label` names it in error messages.
xmlNode* AddVirtioDisk(XmlBuilder& b, xmlNode* devices, absl::string_view label,
                       const std::string& format, const std::string& path,
                       const std::string& backing_qcow2, const std::string& target_dev) {
  const auto field = [&](absl::string_view what) { return absl::StrCat(label, " ", what); };
  xmlNode* disk = b.Node(devices, "disk");
  b.Attr(disk, "type", field("type"), "file");
  b.Attr(disk, "device", field("device"), "disk");
  xmlNode* driver = b.Node(disk, "driver");
  b.Attr(driver, "name", field("driver"), "qemu");
  b.Attr(driver, "type", field("format"), format);
  b.Attr(b.Node(disk, "source"), "file", field("path"), path);
  if (!backing_qcow2.empty()) {
    xmlNode* backing = b.Node(disk, "backingStore");
    b.Attr(backing, "type", field("backing type"), "file");
    b.Attr(b.Node(backing, "format"), "type", field("backing format"), "qcow2");
    b.Attr(b.Node(backing, "source"), "file", "base image path", backing_qcow2);
  }
  xmlNode* target = b.Node(disk, "target");
  b.Attr(target, "dev", field("target"), target_dev);
  b.Attr(target, "bus", field("bus"), "virtio");
  return disk;
}

std::string ChildText(xmlNode* parent, const char* name) {
  for (xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || xmlStrcmp(c->name, X(name)) != 0) continue;
    xmlChar* content = xmlNodeGetContent(c);
    std::string text = content != nullptr ? reinterpret_cast<const char*>(content) : "";
    xmlFree(content);
    return text;
  }
  return "";
}

}  // namespace

std::string DomainName(absl::string_view machine_id) { return absl::StrCat("m-", machine_id); }

std::string TapName(absl::string_view machine_id, int nic_index) {
  return absl::StrCat("mt", Sha256Hex(machine_id).substr(0, 10), "-", nic_index);
}

std::string DefinitionHash(const v1::VmSpec& spec, const DomainFiles& files,
                           absl::string_view domain_type) {
  v1::VmSpec copy = spec;
  copy.clear_power_state();
  std::string serialized;
  {
    google::protobuf::io::StringOutputStream raw(&serialized);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    copy.SerializeToCodedStream(&coded);
  }
  // Length-prefixed parts, so that no two different inputs concatenate to the
  // same bytes.
  std::string input;
  for (absl::string_view part :
       {kRenderFormat, domain_type, absl::string_view(serialized), absl::string_view(files.disk),
        absl::string_view(files.base_image), absl::string_view(files.seed),
        absl::string_view(files.console_log), absl::string_view(files.status_socket),
        absl::string_view(files.kernel), absl::string_view(files.initrd)}) {
    absl::StrAppend(&input, part.size(), ":", part, ";");
  }
  return Sha256Hex(input);
}

absl::StatusOr<std::string> RenderDomainXml(const v1::VmSpec& spec, const DomainFiles& files,
                                            int64_t spec_version, absl::string_view domain_type) {
  if (spec.resources().vcpus() <= 0 || spec.resources().memory_mib() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VM ", spec.machine_id(), ": resources need vcpus > 0 and memory_mib > 0, got ",
        spec.resources().vcpus(), " vcpus and ", spec.resources().memory_mib(), " MiB"));
  }
  if (spec.nics_size() > kMaxNics) {
    return absl::InvalidArgumentError(absl::StrCat("VM ", spec.machine_id(), " has ",
                                                   spec.nics_size(), " NICs; at most ", kMaxNics,
                                                   " are supported"));
  }
  absl::Status status;
  XmlBuilder b(&status);
  XmlDocPtr doc(xmlNewDoc(X("1.0")));
  xmlNode* domain = xmlNewNode(nullptr, X("domain"));
  xmlDocSetRootElement(doc.get(), domain);
  b.Attr(domain, "type", "domain type", std::string(domain_type));
  b.Text(domain, "name", "machine_id", DomainName(spec.machine_id()));
  b.Text(domain, "uuid", "machine_id", spec.machine_id());

  xmlNode* metadata = b.Node(domain, "metadata");
  xmlNode* machine = xmlNewChild(metadata, nullptr, X("machine"), nullptr);
  xmlNs* ns = xmlNewNs(machine, X(kMandantMetadataNamespace), X("mandant"));
  xmlSetNs(machine, ns);
  b.Text(machine, "tenant", "tenant", spec.tenant());
  b.Text(machine, "cluster", "cluster", spec.cluster());
  b.Text(machine, "machine-id", "machine_id", spec.machine_id());
  b.Text(machine, "name", "name", spec.name());
  b.Text(machine, "spec-version", "spec version", absl::StrCat(spec_version));
  b.Text(machine, "spec-hash", "spec hash", DefinitionHash(spec, files, domain_type));

  xmlNode* memory = b.Text(domain, "memory", "memory", absl::StrCat(spec.resources().memory_mib()));
  b.Attr(memory, "unit", "memory unit", "MiB");
  b.Text(domain, "vcpu", "vcpus", absl::StrCat(spec.resources().vcpus()));

  xmlNode* os = b.Node(domain, "os");
  xmlNode* os_type = b.Text(os, "type", "os type", "hvm");
  b.Attr(os_type, "arch", "arch", "x86_64");
  if (!files.kernel.empty() && !files.initrd.empty()) {
    b.Text(os, "kernel", "kernel path", files.kernel);
    b.Text(os, "initrd", "initrd path", files.initrd);
    b.Text(os, "cmdline", "kernel command line", std::string(kKernelCmdline));
  } else {
    b.Attr(b.Node(os, "boot"), "dev", "boot device", "hd");
  }
  // ACPI, so that ShutdownDomain can ask the guest to power off.
  b.Node(b.Node(domain, "features"), "acpi");
  b.Text(domain, "on_poweroff", "on_poweroff", "destroy");
  b.Text(domain, "on_reboot", "on_reboot", "restart");
  b.Text(domain, "on_crash", "on_crash", "destroy");

  xmlNode* devices = b.Node(domain, "devices");
  AddVirtioDisk(b, devices, "disk", "qcow2", files.disk, files.base_image, "vda");
  xmlNode* seed = AddVirtioDisk(b, devices, "seed", "raw", files.seed, "", "vdb");
  b.Node(seed, "readonly");
  for (int i = 0; i < spec.nics_size(); ++i) {
    const v1::Nic& nic = spec.nics(i);
    xmlNode* iface = b.Node(devices, "interface");
    b.Attr(iface, "type", "interface type", "bridge");
    b.Attr(b.Node(iface, "mac"), "address", "mac_address", nic.mac_address());
    b.Attr(b.Node(iface, "source"), "bridge", "bridge_name", nic.bridge_name());
    b.Attr(b.Node(iface, "target"), "dev", "tap name", TapName(spec.machine_id(), i));
    b.Attr(b.Node(iface, "model"), "type", "nic model", "virtio");
  }
  {
    xmlNode* serial = b.Node(devices, "serial");
    b.Attr(serial, "type", "serial type", "file");
    b.Attr(b.Node(serial, "source"), "path", "console log path", files.console_log);
    b.Attr(b.Node(serial, "target"), "port", "serial port", "0");
  }
  {
    xmlNode* channel = b.Node(devices, "channel");
    b.Attr(channel, "type", "channel type", "unix");
    xmlNode* source = b.Node(channel, "source");
    b.Attr(source, "mode", "channel mode", "bind");
    b.Attr(source, "path", "status socket path", files.status_socket);
    xmlNode* target = b.Node(channel, "target");
    b.Attr(target, "type", "channel target", "virtio");
    b.Attr(target, "name", "channel name", kStatusChannelName);
  }
  b.Attr(b.Node(devices, "memballoon"), "model", "memballoon", "none");
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("VM ", spec.machine_id(), ": ", status.message()));
  }

  xmlChar* out = nullptr;
  int size = 0;
  xmlDocDumpFormatMemoryEnc(doc.get(), &out, &size, "UTF-8", 1);
  if (out == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("VM ", spec.machine_id(), ": libxml2 could not serialize the domain XML"));
  }
  std::string xml(reinterpret_cast<const char*>(out), size);
  xmlFree(out);
  return xml;
}

absl::StatusOr<MandantMetadata> ParseMandantMetadata(absl::string_view xml) {
  XmlDocPtr doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "metadata.xml", nullptr,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (doc == nullptr) {
    return absl::InvalidArgumentError("Mandant metadata of a domain is not well-formed XML");
  }
  xmlNode* root = xmlDocGetRootElement(doc.get());
  // libvirt returns the element with its namespace stripped (it was selected
  // by the namespace already); accept that and our own namespace, nothing else.
  if (root == nullptr || xmlStrcmp(root->name, X("machine")) != 0 ||
      (root->ns != nullptr && xmlStrcmp(root->ns->href, X(kMandantMetadataNamespace)) != 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Mandant metadata of a domain is not a <machine> element in ", kMandantMetadataNamespace));
  }
  MandantMetadata m;
  m.tenant = ChildText(root, "tenant");
  m.cluster = ChildText(root, "cluster");
  m.machine_id = ChildText(root, "machine-id");
  m.name = ChildText(root, "name");
  m.spec_hash = ChildText(root, "spec-hash");
  std::string version = ChildText(root, "spec-version");
  if (m.machine_id.empty() || m.spec_hash.empty()) {
    return absl::InvalidArgumentError("Mandant metadata of a domain lacks machine-id or spec-hash");
  }
  if (!version.empty() && !absl::SimpleAtoi(version, &m.spec_version)) {
    return absl::InvalidArgumentError(absl::StrCat("Mandant metadata of domain ", m.machine_id,
                                                   ": spec-version \"", version,
                                                   "\" is not a number"));
  }
  return m;
}

}  // namespace mandant::agent
