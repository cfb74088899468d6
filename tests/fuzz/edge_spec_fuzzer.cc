// Feeds arbitrary bytes, parsed as an EdgeSpec, to ValidateEdgeSpec
// (tenants/edge_validation.h) and, when it passes, to every edge renderer
// (agents/edge/), and checks:
//  - the violations survive ToStatus() / ViolationsOf() unchanged, and each
//    names a field under "spec." and says what is wrong;
//  - a refused spec is refused by every renderer (nothing rendered);
//  - an accepted spec renders (keepalived: exactly when vrrp is set), and
//    every rendered text is printable ASCII lines (no NUL, no control
//    character, ends with a newline), so no value of the spec can break out
//    of its line in a configuration file;
//  - rendering is deterministic.
// The seed corpus (tests/fuzz/corpus/edge_spec) holds the specs of
// tests/unit/agents/edge/edge_specs.cc, encoded with protoc --encode from
// the .txtpb files next to them.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"

#include "agents/edge/dnsmasq_config.h"
#include "agents/edge/edge_ruleset.h"
#include "agents/edge/haproxy_config.h"
#include "agents/edge/keepalived_config.h"
#include "mandant/v1/agent.pb.h"
#include "tenants/edge_validation.h"
#include "tenants/field_violations.h"

namespace mandant::agent {
namespace {

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

void CheckText(const absl::StatusOr<std::string>& text) {
  FUZZ_CHECK(text.ok());
  FUZZ_CHECK(!text->empty() && text->back() == '\n');
  for (char c : *text) FUZZ_CHECK(c == '\n' || (c >= 0x20 && c < 0x7f));
}

void Fuzz(absl::string_view input) {
  v1::EdgeSpec spec;
  if (!spec.ParseFromArray(input.data(), static_cast<int>(input.size()))) return;
  const tenants::FieldViolations bad = tenants::ValidateEdgeSpec(spec, "spec");
  const absl::Status status = bad.ToStatus();
  FUZZ_CHECK(status.ok() == bad.empty());
  FUZZ_CHECK(tenants::ViolationsOf(status) == bad.violations());
  for (const tenants::FieldViolation& f : bad.violations()) {
    FUZZ_CHECK(absl::StartsWith(f.field, "spec."));
    FUZZ_CHECK(!f.description.empty());
  }

  HaproxyConfigOptions haproxy;
  haproxy.stats_socket = "/run/mandant/edge/haproxy.sock";
  DnsmasqConfigOptions dnsmasq;
  dnsmasq.lease_file = "/run/mandant/edge/dnsmasq.leases";
  dnsmasq.pid_file = "/run/mandant/edge/dnsmasq.pid";
  KeepalivedConfigOptions keepalived;
  keepalived.notify_script = "/usr/lib/mandant/keepalived-notify";
  keepalived.state_file = "/run/mandant/edge/vrrp.state";

  const absl::StatusOr<std::string> h = RenderHaproxyConfig(spec, haproxy);
  const absl::StatusOr<std::string> d = RenderDnsmasqConfig(spec, dnsmasq);
  const absl::StatusOr<std::string> k = RenderKeepalivedConfig(spec, keepalived);
  const absl::StatusOr<std::string> n = RenderEdgeRuleset(spec);
  if (!bad.empty()) {
    for (const absl::Status& s : {h.status(), d.status(), k.status(), n.status()}) {
      FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    }
    return;
  }
  CheckText(h);
  CheckText(d);
  CheckText(n);
  if (spec.has_vrrp()) {
    CheckText(k);
  } else {
    FUZZ_CHECK(k.status().code() == absl::StatusCode::kFailedPrecondition);
  }
  FUZZ_CHECK(*RenderEdgeRuleset(spec) == *n);
  FUZZ_CHECK(*RenderHaproxyConfig(spec, haproxy) == *h);
}

}  // namespace
}  // namespace mandant::agent

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // Parsing rejects invalid UTF-8 in string fields with a log line per input.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mandant::agent::Fuzz(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
