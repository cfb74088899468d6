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
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

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
  size_t width = 0;
  for (const auto& [key, value] : lines) width = std::max(width, key.size());
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
