#include "controller/store/addresses.h"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "common/status_macros.h"
#include "controller/store/database.h"
#include "tenants/host_validation.h"
#include "tenants/names.h"
#include "tenants/network_names.h"

namespace mandant::controller::store {
namespace {

std::optional<uint32_t> ParseIpv4(absl::string_view text) {
  std::string s(text);
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string Ipv4Text(uint32_t v) {
  return absl::StrCat(v >> 24, ".", (v >> 16) & 0xff, ".", (v >> 8) & 0xff, ".", v & 0xff);
}

bool IsLinkNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

const char* NodePurposeText(NodeAddressPurpose p) {
  switch (p) {
    case NodeAddressPurpose::kGateway:
      return "GATEWAY";
    case NodeAddressPurpose::kEdge:
      return "EDGE";
    case NodeAddressPurpose::kEndpoint:
      return "ENDPOINT";
    case NodeAddressPurpose::kMachine:
      return "MACHINE";
  }
  return "MACHINE";
}

// A unique violation on an address key means a concurrent allocation won.
absl::Status AddressInsertError(const absl::Status& st) {
  auto pg = PgErrorOf(st);
  if (pg && pg->sqlstate == kUniqueViolation &&
      (pg->constraint == "tenant_node_addresses_pkey" ||
       pg->constraint == "external_addresses_pkey")) {
    return MarkRetryable(st);
  }
  return st;
}

}  // namespace

absl::Status ValidateExternalNetworks(std::vector<ExternalNetwork>& networks) {
  std::vector<std::string> errors;
  std::set<std::string> names;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  for (size_t i = 0; i < networks.size(); ++i) {
    ExternalNetwork& n = networks[i];
    const std::string key = absl::StrCat("edge.external_networks[", i, "]");
    auto error = [&](absl::string_view field, absl::string_view what) {
      errors.push_back(absl::StrCat(key, ".", field, ": ", what));
    };
    if (!tenants::CheckTenantId(n.name).empty()) {
      error("name", absl::StrCat("\"", n.name,
                                 "\" is not 2-40 characters of a-z, 0-9 and '-' starting with "
                                 "a letter"));
    } else if (!names.insert(n.name).second) {
      error("name", absl::StrCat("\"", n.name, "\" is used twice"));
    }
    if (!n.cidr.is_v4() || n.cidr.prefix_length() > 30) {
      error("cidr", absl::StrCat(n.cidr.ToString(), " must be an IPv4 network of /30 or larger"));
      continue;
    }
    const uint32_t net = *ParseIpv4(n.cidr.NetworkAddress());
    const uint32_t broadcast =
        net | static_cast<uint32_t>((uint64_t{1} << (32 - n.cidr.prefix_length())) - 1);
    auto inside = [&](absl::string_view field, const std::string& text) -> std::optional<uint32_t> {
      std::optional<uint32_t> v = ParseIpv4(text);
      if (!v) {
        error(field, absl::StrCat("\"", text, "\" is not an IPv4 address"));
      } else if (*v <= net || *v >= broadcast) {
        error(field, absl::StrCat(text, " is not a usable address of ", n.cidr.ToString()));
        v.reset();
      }
      return v;
    };
    const std::optional<uint32_t> gateway = inside("gateway", n.gateway);
    if (n.first.empty()) n.first = Ipv4Text(net + 1);
    if (n.last.empty()) n.last = Ipv4Text(broadcast - 1);
    const std::optional<uint32_t> first = inside("range.first", n.first);
    const std::optional<uint32_t> last = inside("range.last", n.last);
    if (first && last) {
      if (*first > *last) {
        error("range", absl::StrCat(n.first, " comes after ", n.last));
      } else {
        const uint64_t size = uint64_t{*last} - *first + 1 -
                              (gateway && *gateway >= *first && *gateway <= *last ? 1 : 0);
        if (size == 0) error("range", "holds no address besides the gateway");
        for (const auto& [lo, hi] : ranges) {
          if (*first <= hi && lo <= *last) {
            error("range", absl::StrCat(n.first, "-", n.last, " overlaps another network's"));
          }
        }
        ranges.emplace_back(*first, *last);
      }
    }
    if (n.bridge.empty() || n.bridge.size() > tenants::kMaxLinkNameLength ||
        !std::all_of(n.bridge.begin(), n.bridge.end(), IsLinkNameChar) ||
        tenants::IsMandantLinkName(n.bridge) || n.bridge.rfind("me", 0) == 0) {
      error("bridge",
            absl::StrCat("\"", n.bridge,
                         "\" must be 1-15 characters of a-z, A-Z, 0-9, '_', '.' and '-', "
                         "and not start with \"mb-\", \"mx-\", \"mv-\" or \"me\" (Mandant's)"));
    }
    if (n.hosts.empty()) error("hosts", "needs at least one host id");
    for (size_t h = 0; h < n.hosts.size(); ++h) {
      if (std::string why = tenants::CheckHostId(n.hosts[h]); !why.empty()) {
        error(absl::StrCat("hosts[", h, "]"), absl::StrCat("\"", n.hosts[h], "\": ", why));
      }
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
}

absl::Status ReserveGateway(Connection& conn, int64_t tenant_row_id) {
  auto inserted = conn.Query(
      "INSERT INTO tenant_node_addresses (tenant_id, address, purpose) "
      "SELECT tenant_id, set_masklen(network(cidr) + 1, 32), 'GATEWAY' "
      "FROM tenant_cidrs WHERE tenant_id = $1 AND purpose = 'NODE' RETURNING 1",
      {std::to_string(tenant_row_id)});
  if (!inserted.ok()) {
    auto pg = PgErrorOf(inserted.status());
    if (pg && pg->sqlstate == kUniqueViolation) {
      return absl::AlreadyExistsError("the tenant's gateway address is reserved already");
    }
    return inserted.status();
  }
  if (inserted->empty()) return absl::NotFoundError("the tenant has no node network");
  return absl::OkStatus();
}

absl::StatusOr<std::string> AllocateNodeAddress(Connection& conn, int64_t tenant_row_id,
                                                NodeAddressPurpose purpose,
                                                absl::string_view owner) {
  // The lowest free address: the first usable one, or one past a taken one,
  // that is itself free and below the broadcast address.
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query("WITH net AS (SELECT cidr FROM tenant_cidrs WHERE tenant_id = $1 AND "
                 "purpose = 'NODE'), "
                 "taken AS (SELECT address FROM tenant_node_addresses WHERE tenant_id = $1), "
                 "candidate AS (SELECT set_masklen(network(cidr) + 1, 32) AS a FROM net "
                 "UNION SELECT address + 1 FROM taken) "
                 "SELECT host(c.a), net.cidr::text FROM net LEFT JOIN candidate c "
                 "ON c.a << net.cidr AND host(c.a) <> host(broadcast(net.cidr)) "
                 "AND NOT EXISTS (SELECT 1 FROM taken WHERE taken.address = c.a) "
                 "ORDER BY c.a NULLS LAST LIMIT 1",
                 {std::to_string(tenant_row_id)}));
  if (rows.empty()) return absl::NotFoundError("the tenant has no node network");
  if (rows.IsNull(0, 0)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the tenant's node network ", rows.Text(0, 1), " has no free address"));
  }
  std::string address(rows.Text(0, 0));
  const char* column = purpose == NodeAddressPurpose::kEdge       ? "edge_instance_id"
                       : purpose == NodeAddressPurpose::kEndpoint ? "endpoint_id"
                       : purpose == NodeAddressPurpose::kMachine  ? "machine_id"
                                                                  : nullptr;
  std::vector<Param> params = {std::to_string(tenant_row_id), address, NodePurposeText(purpose)};
  std::string sql =
      "INSERT INTO tenant_node_addresses (tenant_id, address, purpose) VALUES ($1, $2::inet, $3)";
  if (column != nullptr) {
    sql = absl::StrCat("INSERT INTO tenant_node_addresses (tenant_id, address, purpose, ", column,
                       ") VALUES ($1, $2::inet, $3, $4)");
    params.push_back(std::string(owner));
  }
  auto inserted = conn.Query(sql, params);
  if (!inserted.ok()) return AddressInsertError(inserted.status());
  return address;
}

absl::StatusOr<std::string> AllocateExternalAddress(Connection& conn,
                                                    const ExternalNetwork& network,
                                                    int64_t tenant_row_id,
                                                    ExternalAddressPurpose purpose,
                                                    int64_t endpoint_id) {
  MANDANT_ASSIGN_OR_RETURN(
      Rows rows,
      conn.Query("WITH taken AS (SELECT address FROM external_addresses "
                 "WHERE address BETWEEN $1::inet AND $2::inet UNION SELECT $3::inet), "
                 "candidate AS (SELECT $1::inet AS a UNION SELECT address + 1 FROM taken) "
                 "SELECT host(a) FROM candidate WHERE a <= $2::inet AND a >= $1::inet "
                 "AND NOT EXISTS (SELECT 1 FROM taken WHERE taken.address = candidate.a) "
                 "ORDER BY a LIMIT 1",
                 {network.first, network.last, network.gateway}));
  if (rows.empty()) {
    return absl::ResourceExhaustedError(absl::StrCat("external network \"", network.name, "\" (",
                                                     network.first, "-", network.last,
                                                     ") has no free address"));
  }
  std::string address(rows.Text(0, 0));
  const bool egress = purpose == ExternalAddressPurpose::kEgress;
  auto inserted = conn.Query(
      "INSERT INTO external_addresses (address, network, tenant_id, purpose, endpoint_id) "
      "VALUES ($1::inet, $2, $3, $4, $5)",
      {address, network.name, std::to_string(tenant_row_id), egress ? "EGRESS" : "ENDPOINT",
       egress ? Param() : Param(std::to_string(endpoint_id))});
  if (!inserted.ok()) return AddressInsertError(inserted.status());
  return address;
}

}  // namespace mandant::controller::store
