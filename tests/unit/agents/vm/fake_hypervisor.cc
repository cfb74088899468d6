#include "tests/unit/agents/vm/fake_hypervisor.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include <libxml/parser.h>
#include <libxml/tree.h>

namespace mandant::agent::testing {
namespace {

const xmlChar* X(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

xmlNode* Child(xmlNode* parent, const char* name) {
  for (xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, X(name)) == 0) return c;
  }
  return nullptr;
}

std::string Content(xmlNode* n) {
  xmlChar* c = xmlNodeGetContent(n);
  std::string s = c != nullptr ? reinterpret_cast<const char*>(c) : "";
  xmlFree(c);
  return s;
}

}  // namespace

absl::Status FakeHypervisor::Injected(const std::string& method) {
  auto it = errors.find(method);
  return it == errors.end() ? absl::OkStatus() : it->second;
}

absl::StatusOr<FakeHypervisor::Domain*> FakeHypervisor::Find(absl::string_view uuid) {
  auto it = domains.find(std::string(uuid));
  if (it == domains.end()) {
    return absl::NotFoundError(
        absl::StrCat("Domain not found: no domain with matching uuid '", uuid, "'"));
  }
  return &it->second;
}

absl::StatusOr<std::vector<DomainInfo>> FakeHypervisor::ListDomains() {
  if (absl::Status s = Injected("ListDomains"); !s.ok()) return s;
  std::vector<DomainInfo> out;
  for (const auto& [uuid, d] : domains) out.push_back(d.info);
  return out;
}

absl::StatusOr<std::string> FakeHypervisor::DefineDomain(absl::string_view xml) {
  if (absl::Status s = Injected("DefineDomain"); !s.ok()) return s;
  std::unique_ptr<xmlDoc, void (*)(xmlDoc*)> doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "d.xml", nullptr, XML_PARSE_NONET),
      xmlFreeDoc);
  if (doc == nullptr) return absl::InvalidArgumentError("XML error: not well-formed");
  xmlNode* root = xmlDocGetRootElement(doc.get());
  xmlNode* uuid = Child(root, "uuid");
  xmlNode* name = Child(root, "name");
  if (uuid == nullptr || name == nullptr) return absl::InvalidArgumentError("missing uuid/name");
  std::string id = Content(uuid);
  Domain& d = domains[id];
  d.xml = std::string(xml);
  d.info.uuid = id;
  d.info.name = Content(name);
  if (d.info.state == DomainState::kNoState) d.info.state = DomainState::kShutoff;
  d.info.mandant_metadata.reset();
  if (xmlNode* metadata = Child(root, "metadata")) {
    for (xmlNode* c = metadata->children; c != nullptr; c = c->next) {
      if (c->type != XML_ELEMENT_NODE || c->ns == nullptr ||
          xmlStrcmp(c->ns->href, X(kMandantMetadataNamespace)) != 0) {
        continue;
      }
      std::unique_ptr<xmlBuffer, void (*)(xmlBuffer*)> buf(xmlBufferCreate(), xmlBufferFree);
      xmlNodeDump(buf.get(), doc.get(), c, 0, 0);
      d.info.mandant_metadata = reinterpret_cast<const char*>(xmlBufferContent(buf.get()));
    }
  }
  calls.push_back(absl::StrCat("DefineDomain ", id));
  return id;
}

absl::Status FakeHypervisor::StartDomain(absl::string_view uuid) {
  if (absl::Status s = Injected("StartDomain"); !s.ok()) return s;
  absl::StatusOr<Domain*> d = Find(uuid);
  if (!d.ok()) return d.status();
  if (IsActive((*d)->info.state)) {
    return absl::FailedPreconditionError(
        "Requested operation is not valid: domain is already running");
  }
  (*d)->info.state = DomainState::kRunning;
  (*d)->info.state_reason = 1;
  (*d)->info.qemu_pid = next_pid_++;
  calls.push_back(absl::StrCat("StartDomain ", uuid));
  return absl::OkStatus();
}

absl::Status FakeHypervisor::ShutdownDomain(absl::string_view uuid) {
  if (absl::Status s = Injected("ShutdownDomain"); !s.ok()) return s;
  absl::StatusOr<Domain*> d = Find(uuid);
  if (!d.ok()) return d.status();
  calls.push_back(absl::StrCat("ShutdownDomain ", uuid));
  if (guest_obeys_shutdown) {
    (*d)->info.state = DomainState::kShutoff;
    (*d)->info.qemu_pid = 0;
  }
  return absl::OkStatus();
}

absl::Status FakeHypervisor::DestroyDomain(absl::string_view uuid) {
  if (absl::Status s = Injected("DestroyDomain"); !s.ok()) return s;
  absl::StatusOr<Domain*> d = Find(uuid);
  if (!d.ok()) return d.status();
  if (!IsActive((*d)->info.state)) {
    return absl::FailedPreconditionError("Requested operation is not valid: domain is not running");
  }
  (*d)->info.state = DomainState::kShutoff;
  (*d)->info.qemu_pid = 0;
  calls.push_back(absl::StrCat("DestroyDomain ", uuid));
  return absl::OkStatus();
}

absl::Status FakeHypervisor::UndefineDomain(absl::string_view uuid) {
  if (absl::Status s = Injected("UndefineDomain"); !s.ok()) return s;
  absl::StatusOr<Domain*> d = Find(uuid);
  if (!d.ok()) return d.status();
  if (IsActive((*d)->info.state)) {
    return absl::FailedPreconditionError("cannot undefine a running domain in this fake");
  }
  domains.erase(std::string(uuid));
  calls.push_back(absl::StrCat("UndefineDomain ", uuid));
  return absl::OkStatus();
}

absl::StatusOr<HypervisorVersions> FakeHypervisor::GetVersions() {
  if (absl::Status s = Injected("GetVersions"); !s.ok()) return s;
  return HypervisorVersions{"9.0.0", "7.2.22"};
}

}  // namespace mandant::agent::testing
