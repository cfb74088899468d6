#include "cli/output.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

#include "cli/host_requests.h"
#include "cli/pki_requests.h"

namespace mandant::cli {
namespace {

constexpr absl::string_view kNone = "-";

// Display width of UTF-8 text, counted in code points (good enough for the
// names and CIDRs shown in tables; wide CJK characters count as one).
size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++width;
  }
  return width;
}

std::string OrNone(absl::string_view text) {
  return text.empty() ? std::string(kNone) : SanitizeForTerminal(text);
}

std::string StateName(v1::TenantState state) {
  switch (state) {
    case v1::TENANT_STATE_ACTIVE:
      return "active";
    case v1::TENANT_STATE_SUSPENDED:
      return "suspended";
    default:
      return std::string(kNone);
  }
}

std::string ModeName(v1::NetworkMode mode) {
  switch (mode) {
    case v1::NETWORK_MODE_VXLAN:
      return "vxlan";
    case v1::NETWORK_MODE_VLAN:
      return "vlan";
    default:
      return std::string(kNone);
  }
}

std::string NetworkSummary(const v1::TenantNetwork& net) {
  switch (net.mode()) {
    case v1::NETWORK_MODE_VXLAN:
      return absl::StrCat("vxlan ", net.vni());
    case v1::NETWORK_MODE_VLAN:
      return absl::StrCat("vlan ", net.vlan_id());
    default:
      return std::string(kNone);
  }
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return std::string(kNone);
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(ts.seconds()),
                          absl::UTCTimeZone());
}

// "used/limit" with "-" for a limit the server did not report.
std::string UsedOf(int64_t used, bool has_limit, int64_t limit, absl::string_view separator) {
  return absl::StrCat(used, separator, has_limit ? absl::StrCat(limit) : std::string(kNone));
}

std::string AlignedRows(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - DisplayWidth(row[i]) + 3, ' ');
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

bool NeedsQuotes(absl::string_view s) {
  if (s.empty()) return true;
  char first = s.front();
  if (absl::ascii_isdigit(static_cast<unsigned char>(first)) || first == '-' || first == '+' ||
      first == '.') {
    return true;
  }
  static constexpr std::array<absl::string_view, 11> kSpecial = {
      "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", "nan"};
  std::string lower = absl::AsciiStrToLower(s);
  return std::find(kSpecial.begin(), kSpecial.end(), lower) != kSpecial.end();
}

void EmitString(YAML::Emitter& out, const std::string& s) {
  if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
  out << s;
}

void EmitJson(YAML::Emitter& out, const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, value] : j.items()) {
        out << YAML::Key;
        EmitString(out, key);
        out << YAML::Value;
        EmitJson(out, value);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::ordered_json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& value : j) EmitJson(out, value);
      out << YAML::EndSeq;
      break;
    case nlohmann::ordered_json::value_t::string:
      EmitString(out, j.get<std::string>());
      break;
    case nlohmann::ordered_json::value_t::null:
      out << YAML::Null;
      break;
    default:
      // Numbers and booleans: their JSON spelling is also their YAML spelling.
      out << j.dump();
      break;
  }
}

// "Key: value" lines with the values aligned; an empty value prints the key
// alone (a section heading).
std::string KeyValueLines(const std::vector<std::pair<std::string, std::string>>& lines) {
  size_t width = 0;
  for (const auto& [key, value] : lines) {
    if (!value.empty()) width = std::max(width, key.size());
  }
  std::string out;
  for (const auto& [key, value] : lines) {
    if (value.empty()) {
      absl::StrAppend(&out, key, "\n");
    } else {
      absl::StrAppend(&out, key, std::string(width - key.size() + 1, ' '), value, "\n");
    }
  }
  return out;
}

template <typename Strings>
std::string JoinOrNone(const Strings& items, absl::string_view separator = ", ") {
  std::vector<std::string> clean;
  for (const auto& item : items) clean.push_back(SanitizeForTerminal(item));
  return clean.empty() ? std::string(kNone) : absl::StrJoin(clean, separator);
}

std::string FormatDuration(const google::protobuf::Duration& d, bool has) {
  if (!has) return std::string(kNone);
  absl::Duration duration = absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
  std::string text = absl::FormatDuration(duration);
  const int64_t hours = absl::ToInt64Hours(duration);
  if (duration == absl::Hours(hours) && hours >= 48 && hours % 24 == 0) {
    absl::StrAppend(&text, " (", hours / 24, " days)");
  }
  return text;
}

std::vector<std::string> AllNames(const v1::Certificate& c) {
  std::vector<std::string> names(c.dns_names().begin(), c.dns_names().end());
  names.insert(names.end(), c.uris().begin(), c.uris().end());
  names.insert(names.end(), c.ip_addresses().begin(), c.ip_addresses().end());
  return names;
}

std::string SanSummary(const v1::Certificate& c) {
  constexpr size_t kShown = 3;
  std::vector<std::string> names = AllNames(c);
  if (names.size() <= kShown) return JoinOrNone(names);
  const size_t more = names.size() - kShown;
  names.resize(kShown);
  return absl::StrCat(JoinOrNone(names), ", +", more, " more");
}

std::string RevokedSummary(const v1::Certificate& c) {
  if (!c.has_revocation()) return "no";
  if (c.revocation().reason() == v1::REVOCATION_REASON_UNSPECIFIED) return "yes";
  return absl::StrCat("yes (", RevocationReasonName(c.revocation().reason()), ")");
}

std::string KeyTypeName(v1::KeyType type, int32_t rsa_bits) {
  switch (type) {
    case v1::KEY_TYPE_ECDSA_P256:
      return "ECDSA P-256";
    case v1::KEY_TYPE_ECDSA_P384:
      return "ECDSA P-384";
    case v1::KEY_TYPE_ED25519:
      return "Ed25519";
    case v1::KEY_TYPE_RSA:
      return rsa_bits > 0 ? absl::StrCat("RSA ", rsa_bits) : "RSA";
    default:
      return std::string(kNone);
  }
}

std::string UsageName(int usage) {
  switch (usage) {
    case v1::CERTIFICATE_USAGE_SERVER_AUTH:
      return "server";
    case v1::CERTIFICATE_USAGE_CLIENT_AUTH:
      return "client";
    default:
      return absl::StrCat("usage-", usage);
  }
}

std::string IssuerKindName(v1::IssuerKind kind) {
  switch (kind) {
    case v1::ISSUER_KIND_ROOT:
      return "root";
    case v1::ISSUER_KIND_INFRASTRUCTURE:
      return "infrastructure";
    case v1::ISSUER_KIND_TENANT:
      return "tenant";
    default:
      return std::string(kNone);
  }
}

std::string IssuerStateName(v1::IssuerState state) {
  switch (state) {
    case v1::ISSUER_STATE_PREPARED:
      return "prepared";
    case v1::ISSUER_STATE_ACTIVE:
      return "active";
    case v1::ISSUER_STATE_RETIRED:
      return "retired";
    default:
      return std::string(kNone);
  }
}

// "12s ago", "3m ago", "5h ago", "2d ago" for a time before `now`; "in 24h"
// for one after it.
std::string Relative(absl::Time t, absl::Time now) {
  absl::Duration d = now - t;
  const bool future = d < absl::ZeroDuration();
  if (future) d = -d;
  std::string amount;
  if (d < absl::Minutes(1)) {
    amount = absl::StrCat(absl::ToInt64Seconds(d), "s");
  } else if (d < absl::Hours(1)) {
    amount = absl::StrCat(absl::ToInt64Minutes(d), "m");
  } else if (d < absl::Hours(48)) {
    amount = absl::StrCat(absl::ToInt64Hours(d), "h");
  } else {
    amount = absl::StrCat(absl::ToInt64Hours(d) / 24, "d");
  }
  return future ? absl::StrCat("in ", amount) : absl::StrCat(amount, " ago");
}

bool IsSet(const google::protobuf::Timestamp& ts) { return ts.seconds() != 0 || ts.nanos() != 0; }

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// "2024-05-01T10:00:00Z (12s ago)", or `unset` for an unset timestamp.
std::string TimeAndRelative(const google::protobuf::Timestamp& ts, absl::Time now,
                            absl::string_view unset) {
  if (!IsSet(ts)) return std::string(unset);
  return absl::StrCat(FormatTimestamp(ts), " (", Relative(ToTime(ts), now), ")");
}

const v1::Condition* FindCondition(const v1::Host& host, absl::string_view type) {
  for (const v1::Condition& c : host.conditions()) {
    if (c.type() == type) return &c;
  }
  return nullptr;
}

std::string ConditionStatusName(v1::ConditionStatus status) {
  switch (status) {
    case v1::CONDITION_STATUS_TRUE:
      return "True";
    case v1::CONDITION_STATUS_FALSE:
      return "False";
    case v1::CONDITION_STATUS_UNKNOWN:
      return "Unknown";
    default:
      return std::string(kNone);
  }
}

// "yes", "no", "unknown", or "-" when the host does not report the condition.
std::string ConditionCell(const v1::Host& host, absl::string_view type) {
  const v1::Condition* c = FindCondition(host, type);
  if (c == nullptr) return std::string(kNone);
  switch (c->status()) {
    case v1::CONDITION_STATUS_TRUE:
      return "yes";
    case v1::CONDITION_STATUS_FALSE:
      return "no";
    case v1::CONDITION_STATUS_UNKNOWN:
      return "unknown";
    default:
      return std::string(kNone);
  }
}

// MiB as GiB: "64" when whole, else one decimal ("62.8").
std::string Gib(int64_t mib) {
  if (mib % 1024 == 0) return absl::StrCat(mib / 1024);
  const int64_t tenths = (mib * 10 + 512) / 1024;
  return absl::StrCat(tenths / 10, ".", tenths % 10);
}

// "allocated/capacity", with "-" for a capacity the agent has not reported.
std::string OfCapacity(absl::string_view allocated, int64_t capacity, absl::string_view shown,
                       absl::string_view separator) {
  return absl::StrCat(allocated, separator, capacity == 0 ? kNone : shown);
}

std::string ResourcesSummary(const v1::Resources& r) {
  return absl::StrCat(r.vcpus(), r.vcpus() == 1 ? " vCPU, " : " vCPUs, ", r.memory_mib(), " MiB, ",
                      r.disk_gib(), " GiB disk");
}

std::string ByteSize(int64_t bytes) {
  if (bytes >= (int64_t{1} << 30)) return absl::StrCat(Gib(bytes >> 20), " GiB");
  if (bytes >= (int64_t{1} << 20)) return absl::StrCat(bytes >> 20, " MiB");
  return absl::StrCat(bytes, " bytes");
}

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "table") return OutputFormat::kTable;
  if (lower == "json") return OutputFormat::kJson;
  if (lower == "yaml") return OutputFormat::kYaml;
  return absl::InvalidArgumentError(
      absl::StrCat("output format \"", text, "\" is not one of table, json, yaml"));
}

absl::string_view OutputFormatName(OutputFormat format) {
  switch (format) {
    case OutputFormat::kTable:
      return "table";
    case OutputFormat::kJson:
      return "json";
    case OutputFormat::kYaml:
      return "yaml";
  }
  return "table";
}

namespace {

std::string ProtocolName(v1::IpProtocol protocol, uint32_t number) {
  switch (protocol) {
    case v1::IP_PROTOCOL_TCP:
      return "tcp";
    case v1::IP_PROTOCOL_UDP:
      return "udp";
    case v1::IP_PROTOCOL_ICMP:
      return "icmp";
    default:
      return number == 0 ? "any" : absl::StrCat(number);
  }
}

std::string ActionName(v1::EgressAction action) {
  switch (action) {
    case v1::EGRESS_ACTION_ALLOW:
      return "allow";
    case v1::EGRESS_ACTION_DENY:
      return "deny";
    default:
      return "-";
  }
}

std::string RoleName(v1::EdgeRole role) {
  switch (role) {
    case v1::EDGE_ROLE_ACTIVE:
      return "active";
    case v1::EDGE_ROLE_STANDBY:
      return "standby";
    case v1::EDGE_ROLE_DOWN:
      return "down";
    default:
      return "-";
  }
}

// "prod/cp-1" for "tenants/acme/clusters/prod/machines/cp-1".
std::string MachineShortName(absl::string_view name) {
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() != 6) return std::string(name);
  return absl::StrCat(parts[3], "/", parts[5]);
}

}  // namespace

std::string EgressRuleText(const v1::EgressRule& rule) {
  std::string text = absl::StrCat(ActionName(rule.action()), " ", ProtocolName(rule.protocol(), 0),
                                  " ", rule.destination_cidr());
  if (rule.port_from() != 0) {
    absl::StrAppend(&text, " ", rule.port_from());
    if (rule.port_to() != 0 && rule.port_to() != rule.port_from()) {
      absl::StrAppend(&text, "-", rule.port_to());
    }
  }
  return text;
}

std::string RenderEgressEventTable(
    const google::protobuf::RepeatedPtrField<v1::EgressEvent>& events, bool header) {
  std::vector<std::vector<std::string>> rows;
  if (header) rows.push_back({"TIME", "ACTION", "PROTO", "SOURCE", "DESTINATION", "HOST"});
  for (const v1::EgressEvent& e : events) {
    std::string source = e.source_address();
    if (!e.machine().empty()) absl::StrAppend(&source, " (", MachineShortName(e.machine()), ")");
    std::string destination = e.destination_address();
    if (e.protocol() == v1::IP_PROTOCOL_TCP || e.protocol() == v1::IP_PROTOCOL_UDP) {
      absl::StrAppend(&destination, ":", e.destination_port());
    }
    rows.push_back({FormatTimestamp(e.time()), ActionName(e.action()),
                    ProtocolName(e.protocol(), e.protocol_number()), SanitizeForTerminal(source),
                    SanitizeForTerminal(destination),
                    OrNone(SanitizeForTerminal(HostIdFromName(e.host())))});
  }
  return AlignedRows(rows);
}

std::string RenderEdgeDetail(const v1::Edge& edge) {
  std::vector<std::pair<std::string, std::string>> lines = {
      {"Name:", edge.name()},
      {"External network:", OrNone(edge.external_network())},
      {"Gateway:", OrNone(edge.gateway_address())},
      {"Egress address:", OrNone(edge.egress_address())},
      {"Redundant:", edge.redundant() ? "yes" : "no"},
      {"Conditions:", ""},
  };
  for (const v1::Condition& c : edge.conditions()) {
    std::string value = absl::StrCat(c.status() == v1::CONDITION_STATUS_TRUE ? "True" : "False",
                                     " (", c.reason(), ")");
    if (!c.message().empty()) absl::StrAppend(&value, ": ", c.message());
    lines.push_back({absl::StrCat("  ", c.type(), ":"), SanitizeForTerminal(value)});
  }
  lines.push_back({"Instances:", edge.instances().empty() ? "-" : ""});
  for (const v1::EdgeInstance& i : edge.instances()) {
    std::string value = absl::StrCat(RoleName(i.role()), ", ", OrNone(i.node_address()));
    if (!i.message().empty()) absl::StrAppend(&value, ": ", i.message());
    lines.push_back(
        {absl::StrCat("  ", HostIdFromName(i.host()), ":"), SanitizeForTerminal(value)});
  }
  lines.push_back({"Endpoints:", edge.endpoints().empty() ? "-" : ""});
  for (const v1::EdgeEndpoint& e : edge.endpoints()) {
    lines.push_back({absl::StrCat("  ", e.cluster(), ":"),
                     absl::StrCat(OrNone(e.external_address()), ":", e.port(), " (internal ",
                                  OrNone(e.internal_address()), "), ", e.healthy_backends(), "/",
                                  e.backends(), " control planes healthy")});
  }
  return KeyValueLines(lines);
}

std::string RenderEgressPolicyDetail(const v1::EgressPolicy& policy) {
  std::vector<std::pair<std::string, std::string>> lines = {
      {"Name:", policy.name()},
      {"Default:", ActionName(policy.default_action())},
      {"Generation:", absl::StrCat(policy.generation())},
      {"Etag:", OrNone(policy.etag())},
      {"Updated:", FormatTimestamp(policy.update_time())},
      {"Rules:", policy.rules().empty() ? "- (the default decides)" : ""},
  };
  std::string out = KeyValueLines(lines);
  for (int i = 0; i < policy.rules_size(); ++i) {
    absl::StrAppend(&out, "  ", i + 1, ". ", EgressRuleText(policy.rules(i)));
    if (!policy.rules(i).description().empty()) {
      absl::StrAppend(&out, "  # ", SanitizeForTerminal(policy.rules(i).description()));
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string RenderTenantTable(const google::protobuf::RepeatedPtrField<v1::Tenant>& tenants) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAME", "DISPLAY NAME", "STATE", "NETWORK", "NODE CIDR", "STORAGE CIDR",
                  "CLUSTERS", "CREATED"});
  for (const v1::Tenant& t : tenants) {
    rows.push_back(
        {OrNone(TenantIdFromName(t.name())), OrNone(t.display_name()), StateName(t.state()),
         NetworkSummary(t.network()), OrNone(t.network().node_cidr()),
         OrNone(t.network().storage_cidr()),
         UsedOf(t.usage().clusters(), t.quota().has_max_clusters(), t.quota().max_clusters(), "/"),
         FormatTimestamp(t.create_time())});
  }
  return AlignedRows(rows);
}

std::string RenderTenantDetail(const v1::Tenant& t) {
  const v1::TenantNetwork& net = t.network();
  const v1::TenantQuota& q = t.quota();
  const v1::TenantUsage& u = t.usage();
  std::vector<std::pair<std::string, std::string>> lines = {
      {"Name:", OrNone(t.name())},
      {"UID:", OrNone(t.uid())},
      {"Display name:", OrNone(t.display_name())},
      {"State:", StateName(t.state())},
      {"Generation:", absl::StrCat(t.generation())},
      {"Etag:", OrNone(t.etag())},
      {"Created:", FormatTimestamp(t.create_time())},
      {"Updated:", FormatTimestamp(t.update_time())},
      {"Network:", ""},
      {"  Mode:", ModeName(net.mode())},
  };
  if (net.mode() == v1::NETWORK_MODE_VLAN) {
    lines.push_back({"  VLAN ID:", absl::StrCat(net.vlan_id())});
  } else {
    lines.push_back({"  VNI:", net.vni() == 0 ? std::string(kNone) : absl::StrCat(net.vni())});
  }
  lines.insert(
      lines.end(),
      {
          {"  Node CIDR:", OrNone(net.node_cidr())},
          {"  Gateway:", OrNone(net.gateway())},
          {"  Storage CIDR:", OrNone(net.storage_cidr())},
          {"Usage / quota:", ""},
          {"  Clusters:", UsedOf(u.clusters(), q.has_max_clusters(), q.max_clusters(), " / ")},
          {"  Nodes:", UsedOf(u.nodes(), q.has_max_nodes(), q.max_nodes(), " / ")},
          {"  vCPUs:", UsedOf(u.vcpus(), q.has_max_vcpus(), q.max_vcpus(), " / ")},
          {"  Memory (MiB):",
           UsedOf(u.memory_mib(), q.has_max_memory_mib(), q.max_memory_mib(), " / ")},
          {"  Storage (GiB):",
           UsedOf(u.storage_gib(), q.has_max_storage_gib(), q.max_storage_gib(), " / ")},
      });
  return KeyValueLines(lines);
}

std::string RenderCertificateTable(
    const google::protobuf::RepeatedPtrField<v1::Certificate>& certificates) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAME", "SERIAL", "NOT AFTER", "REVOKED", "SANS"});
  for (const v1::Certificate& c : certificates) {
    rows.push_back({OrNone(c.name()), OrNone(c.serial().substr(0, 12)),
                    FormatTimestamp(c.not_after()), RevokedSummary(c), SanSummary(c)});
  }
  return AlignedRows(rows);
}

std::string RenderCertificateDetail(const v1::Certificate& c) {
  std::vector<std::string> usages;
  for (int u : c.usages()) usages.push_back(UsageName(u));
  std::vector<std::pair<std::string, std::string>> lines = {
      {"Name:", OrNone(c.name())},
      {"Serial:", OrNone(c.serial())},
      {"Issuer:", OrNone(c.issuer())},
      {"Tenant:", OrNone(c.tenant())},
      {"Subject:", OrNone(c.subject())},
      {"DNS names:", JoinOrNone(c.dns_names())},
      {"URIs:", JoinOrNone(c.uris())},
      {"IP addresses:", JoinOrNone(c.ip_addresses())},
      {"Usages:", JoinOrNone(usages)},
      {"Key:", KeyTypeName(c.key_type(), c.rsa_bits())},
      {"Public key SHA-256:", OrNone(c.public_key_sha256())},
      {"Not before:", FormatTimestamp(c.not_before())},
      {"Not after:", FormatTimestamp(c.not_after())},
  };
  if (c.has_revocation()) {
    lines.push_back({"Revoked:", absl::StrCat(FormatTimestamp(c.revocation().revoke_time()), " (",
                                              RevocationReasonName(c.revocation().reason()), ")")});
  } else {
    lines.push_back({"Revoked:", "no"});
  }
  lines.push_back({"Etag:", OrNone(c.etag())});
  return KeyValueLines(lines);
}

std::string RenderIssuerTable(const google::protobuf::RepeatedPtrField<v1::Issuer>& issuers) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAME", "KIND", "STATE", "NOT AFTER"});
  for (const v1::Issuer& i : issuers) {
    rows.push_back({OrNone(i.name()), IssuerKindName(i.kind()), IssuerStateName(i.state()),
                    FormatTimestamp(i.not_after())});
  }
  return AlignedRows(rows);
}

std::string RenderIssuerDetail(const v1::Issuer& i) {
  return KeyValueLines({
      {"Name:", OrNone(i.name())},
      {"Kind:", IssuerKindName(i.kind())},
      {"State:", IssuerStateName(i.state())},
      {"Signed by:", OrNone(i.signed_by())},
      {"Subject:", OrNone(i.subject())},
      {"Key:", KeyTypeName(i.key_type(), 0)},
      {"Public key SHA-256:", OrNone(i.public_key_sha256())},
      {"Not before:", FormatTimestamp(i.not_before())},
      {"Not after:", FormatTimestamp(i.not_after())},
      {"Permitted DNS:", JoinOrNone(i.permitted_dns_domains())},
      {"Permitted URI:", JoinOrNone(i.permitted_uri_domains())},
      {"Created:", FormatTimestamp(i.create_time())},
      {"Activated:", FormatTimestamp(i.activate_time())},
      {"Retired:", FormatTimestamp(i.retire_time())},
      {"Etag:", OrNone(i.etag())},
  });
}

std::string RenderIssuancePolicyDetail(const v1::IssuancePolicy& p) {
  std::vector<std::string> key_types;
  for (int t : p.allowed_key_types()) {
    key_types.push_back(KeyTypeName(static_cast<v1::KeyType>(t), 0));
  }
  std::vector<std::pair<std::string, std::string>> lines = {
      {"Name:", OrNone(p.name())},
      {"DNS zone:", OrNone(p.dns_zone())},
      {"SPIFFE trust domain:", OrNone(p.spiffe_trust_domain())},
  };
  auto list = [&lines](const std::string& key, const auto& items) {
    if (items.empty()) {
      lines.push_back({key, "(none allowed)"});
      return;
    }
    lines.push_back({key, ""});
    for (const auto& item : items)
      lines.push_back({absl::StrCat("  - ", SanitizeForTerminal(item)), ""});
  };
  list("Allowed DNS names:", p.allowed_dns_names());
  list("Allowed URIs:", p.allowed_uris());
  list("Allowed IP ranges:", p.allowed_ip_ranges());
  lines.push_back({"Allowed key types:", JoinOrNone(key_types)});
  lines.push_back({"Min RSA bits:",
                   p.min_rsa_bits() == 0 ? std::string(kNone) : absl::StrCat(p.min_rsa_bits())});
  lines.push_back({"Max TTL:", FormatDuration(p.max_ttl(), p.has_max_ttl())});
  lines.push_back({"Default TTL:", FormatDuration(p.default_ttl(), p.has_default_ttl())});
  lines.push_back({"Updated:", FormatTimestamp(p.update_time())});
  lines.push_back({"Etag:", OrNone(p.etag())});
  return KeyValueLines(lines);
}

std::string RenderHostTable(const google::protobuf::RepeatedPtrField<v1::Host>& hosts,
                            absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAME", "UNDERLAY", "READY", "CONNECTED", "CORDONED", "VMS", "CPU", "MEM (GiB)",
                  "AGENT VERSION", "LAST SEEN"});
  for (const v1::Host& h : hosts) {
    rows.push_back(
        {OrNone(HostIdFromName(h.name())), OrNone(h.underlay_address()), ConditionCell(h, "Ready"),
         ConditionCell(h, "Connected"), h.cordoned() ? "yes" : "no",
         absl::StrCat(h.allocations_size()),
         OfCapacity(absl::StrCat(h.allocated().vcpus()), h.capacity().vcpus(),
                    absl::StrCat(h.capacity().vcpus()), "/"),
         OfCapacity(Gib(h.allocated().memory_mib()), h.capacity().memory_mib(),
                    Gib(h.capacity().memory_mib()), "/"),
         OrNone(h.agent_version()),
         IsSet(h.last_seen_time()) ? Relative(ToTime(h.last_seen_time()), now) : "never"});
  }
  return AlignedRows(rows);
}

std::string RenderHostDetail(const v1::Host& h, absl::Time now) {
  std::vector<std::pair<std::string, std::string>> lines = {
      {"Name:", OrNone(h.name())},
      {"UID:", OrNone(h.uid())},
      {"Underlay address:", OrNone(h.underlay_address())},
      {"Cordoned:", h.cordoned()
                        ? (h.cordon_reason().empty()
                               ? std::string("yes")
                               : absl::StrCat("yes: ", SanitizeForTerminal(h.cordon_reason())))
                        : std::string("no")},
      {"Agent version:", OrNone(h.agent_version())},
      {"libvirt version:", OrNone(h.libvirt_version())},
      {"QEMU version:", OrNone(h.qemu_version())},
      {"Last seen:", TimeAndRelative(h.last_seen_time(), now, "never")},
      {"Spec version:",
       absl::StrCat(h.spec_version(), " (applied: ", h.applied_spec_version(), ")")},
      {"Generation:", absl::StrCat(h.generation())},
      {"Etag:", OrNone(h.etag())},
      {"Created:", FormatTimestamp(h.create_time())},
      {"Updated:", FormatTimestamp(h.update_time())},
  };
  if (h.conditions().empty()) {
    lines.push_back({"Conditions:", "(none reported)"});
  } else {
    lines.push_back({"Conditions:", ""});
    for (const v1::Condition& c : h.conditions()) {
      std::string value = ConditionStatusName(c.status());
      if (!c.reason().empty()) absl::StrAppend(&value, " (", SanitizeForTerminal(c.reason()), ")");
      if (IsSet(c.last_transition_time())) {
        absl::StrAppend(&value, " since ", FormatTimestamp(c.last_transition_time()));
      }
      if (!c.message().empty()) absl::StrAppend(&value, ": ", SanitizeForTerminal(c.message()));
      lines.push_back({absl::StrCat("  ", SanitizeForTerminal(c.type()), ":"), value});
    }
  }
  const v1::Resources& a = h.allocated();
  const v1::Resources& c = h.capacity();
  lines.insert(lines.end(),
               {
                   {"Allocated / capacity:", ""},
                   {"  vCPUs:",
                    OfCapacity(absl::StrCat(a.vcpus()), c.vcpus(), absl::StrCat(c.vcpus()), " / ")},
                   {"  Memory (MiB):", OfCapacity(absl::StrCat(a.memory_mib()), c.memory_mib(),
                                                  absl::StrCat(c.memory_mib()), " / ")},
                   {"  Disk (GiB):", OfCapacity(absl::StrCat(a.disk_gib()), c.disk_gib(),
                                                absl::StrCat(c.disk_gib()), " / ")},
               });
  if (h.allocations().empty()) {
    lines.push_back({"Machines:", "(none)"});
  } else {
    lines.push_back({"Machines:", ""});
    for (const v1::HostAllocation& m : h.allocations()) {
      lines.push_back({absl::StrCat("  - ", SanitizeForTerminal(m.cluster()), "/machines/",
                                    SanitizeForTerminal(m.machine()), " (",
                                    ResourcesSummary(m.resources()), ")"),
                       ""});
    }
  }
  if (h.base_images().empty()) {
    lines.push_back({"Base images:", "(none reported)"});
  } else {
    lines.push_back({"Base images:", ""});
    for (const v1::BaseImage& b : h.base_images()) {
      lines.push_back(
          {absl::StrCat("  - ", SanitizeForTerminal(b.name()), " (", ByteSize(b.size_bytes()),
                        ", sha256 ", SanitizeForTerminal(b.sha256().substr(0, 12)), ")"),
           ""});
    }
  }
  return KeyValueLines(lines);
}

std::string RenderBootstrapToken(absl::string_view host, const v1::BootstrapToken& token,
                                 absl::string_view saved_to, absl::Time now) {
  std::vector<std::pair<std::string, std::string>> lines;
  if (!host.empty()) lines.push_back({"Host:", SanitizeForTerminal(host)});
  lines.push_back({"Bootstrap token:",
                   saved_to.empty() ? OrNone(token.token())
                                    : absl::StrCat("written to ", saved_to, " (mode 0600)")});
  lines.push_back(
      {"Token expires:", TimeAndRelative(token.expire_time(), now, std::string(kNone))});
  return KeyValueLines(lines);
}

absl::StatusOr<std::string> RenderJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot render ", message.GetTypeName(), " as JSON: ", status.ToString()));
  }
  // Re-indent: protobuf's whitespace option indents by one space only.
  nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(json, nullptr, false);
  if (parsed.is_discarded()) return json;
  return parsed.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

absl::StatusOr<std::string> JsonToYaml(absl::string_view json) {
  nlohmann::ordered_json parsed =
      nlohmann::ordered_json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InvalidArgumentError("cannot convert to YAML: the input is not valid JSON");
  }
  YAML::Emitter out;
  out.SetIndent(2);
  EmitJson(out, parsed);
  if (!out.good()) {
    return absl::InternalError(absl::StrCat("cannot convert to YAML: ", out.GetLastError()));
  }
  return absl::StrCat(out.c_str(), "\n");
}

absl::StatusOr<std::string> RenderMessage(const google::protobuf::Message& message,
                                          OutputFormat format) {
  switch (format) {
    case OutputFormat::kJson:
      return RenderJson(message);
    case OutputFormat::kYaml: {
      absl::StatusOr<std::string> json = RenderJson(message);
      if (!json.ok()) return json.status();
      return JsonToYaml(*json);
    }
    case OutputFormat::kTable:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("no generic table rendering for ", message.GetTypeName()));
}

std::string SanitizeForTerminal(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      out.push_back('?');
    } else if (c == 0xC2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      out.push_back('?');
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string TenantIdFromName(absl::string_view name) {
  constexpr absl::string_view kPrefix = "tenants/";
  if (absl::StartsWith(name, kPrefix) &&
      name.find('/', kPrefix.size()) == absl::string_view::npos) {
    return std::string(name.substr(kPrefix.size()));
  }
  return std::string(name);
}

}  // namespace mandant::cli
