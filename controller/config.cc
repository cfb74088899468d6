#include "controller/config.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "yaml-cpp/yaml.h"

#include "common/files.h"
#include "common/secrets.h"
#include "pki/certificate_builder.h"
#include "pki/subject_alt_names.h"
#include "tenants/cidr.h"

namespace mandant::controller {
namespace {

// Collects problems with their key paths while the file is read.
class Reader {
 public:
  void Error(absl::string_view key, absl::string_view what) {
    errors_.push_back(absl::StrCat(key, ": ", what));
  }
  const std::vector<std::string>& errors() const { return errors_; }

  void CheckKeys(const YAML::Node& node, absl::string_view prefix,
                 const std::set<std::string>& allowed) {
    if (!node || node.IsNull()) return;
    if (!node.IsMap()) {
      Error(prefix.empty() ? "(top level)" : prefix, "must be a mapping");
      return;
    }
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      if (!allowed.count(key)) {
        Error(prefix.empty() ? key : absl::StrCat(prefix, ".", key),
              absl::StrCat("unknown key; allowed: ", absl::StrJoin(allowed, ", ")));
      }
    }
  }

  template <typename T>
  void Read(const YAML::Node& node, absl::string_view key, T* out) {
    if (!node || node.IsNull()) return;
    try {
      *out = node.as<T>();
    } catch (const YAML::Exception&) {
      Error(key, "has the wrong type");
    }
  }

 private:
  std::vector<std::string> errors_;
};

// node[key] without yaml-cpp's throwing on a missing parent: an absent or
// non-mapping parent gives an undefined node, which Read and CheckKeys skip.
YAML::Node Child(const YAML::Node& node, const char* key) {
  if (!node || !node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& const_node = node;
  YAML::Node child = const_node[key];
  return child ? child : YAML::Node(YAML::NodeType::Undefined);
}

// An IPv4 address or CIDR list entry; `cidr` requires a prefix length.
bool IsIpv4(const std::string& text, bool cidr) {
  auto parsed = tenants::Cidr::Parse(cidr ? text : absl::StrCat(text, "/32"));
  return parsed.ok() && parsed->is_v4();
}

void ReadEdgeSettings(Reader& r, const YAML::Node& edge, EdgeSettings* out) {
  r.CheckKeys(edge, "edge",
              {"external_networks", "dns_servers", "controller_cidrs", "egress_log_retention_days",
               "placement_interval_seconds"});
  const YAML::Node networks = Child(edge, "external_networks");
  if (networks && !networks.IsNull() && !networks.IsSequence()) {
    r.Error("edge.external_networks", "must be a list");
  } else if (networks) {
    for (size_t i = 0; i < networks.size(); ++i) {
      const YAML::Node n = networks[i];
      const std::string key = absl::StrCat("edge.external_networks[", i, "]");
      r.CheckKeys(n, key, {"name", "cidr", "gateway", "range", "bridge", "hosts"});
      store::ExternalNetwork net;
      std::string cidr;
      r.Read(Child(n, "name"), key + ".name", &net.name);
      r.Read(Child(n, "cidr"), key + ".cidr", &cidr);
      r.Read(Child(n, "gateway"), key + ".gateway", &net.gateway);
      r.CheckKeys(Child(n, "range"), key + ".range", {"first", "last"});
      r.Read(Child(Child(n, "range"), "first"), key + ".range.first", &net.first);
      r.Read(Child(Child(n, "range"), "last"), key + ".range.last", &net.last);
      r.Read(Child(n, "bridge"), key + ".bridge", &net.bridge);
      r.Read(Child(n, "hosts"), key + ".hosts", &net.hosts);
      auto parsed = tenants::Cidr::Parse(cidr);
      if (!parsed.ok()) {
        r.Error(key + ".cidr", parsed.status().message());
      } else {
        net.cidr = *parsed;
      }
      out->external_networks.push_back(std::move(net));
    }
    if (absl::Status st = store::ValidateExternalNetworks(out->external_networks); !st.ok()) {
      r.Error("edge", st.message());
    }
  }
  r.Read(Child(edge, "dns_servers"), "edge.dns_servers", &out->dns_servers);
  if (out->dns_servers.size() > 3) r.Error("edge.dns_servers", "at most 3");
  for (size_t i = 0; i < out->dns_servers.size(); ++i) {
    if (!IsIpv4(out->dns_servers[i], false)) {
      r.Error(absl::StrCat("edge.dns_servers[", i, "]"), "must be an IPv4 address");
    }
  }
  r.Read(Child(edge, "controller_cidrs"), "edge.controller_cidrs", &out->controller_cidrs);
  if (out->controller_cidrs.size() > 16) r.Error("edge.controller_cidrs", "at most 16");
  for (size_t i = 0; i < out->controller_cidrs.size(); ++i) {
    if (!IsIpv4(out->controller_cidrs[i], true)) {
      r.Error(absl::StrCat("edge.controller_cidrs[", i, "]"),
              "must be an IPv4 CIDR without host bits, e.g. 203.0.113.10/32");
    }
  }
  int retention_days = 30, interval = 30;
  r.Read(Child(edge, "egress_log_retention_days"), "edge.egress_log_retention_days",
         &retention_days);
  r.Read(Child(edge, "placement_interval_seconds"), "edge.placement_interval_seconds", &interval);
  if (retention_days < 1 || retention_days > 3650) {
    r.Error("edge.egress_log_retention_days", "must be 1-3650");
  }
  if (interval < 1 || interval > 3600) r.Error("edge.placement_interval_seconds", "must be 1-3600");
  out->egress_log_retention = absl::Hours(24) * retention_days;
  out->placement_interval = absl::Seconds(interval);
}

}  // namespace

absl::StatusOr<ControllerConfig> ParseConfig(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config is not valid YAML: ", e.what()));
  }
  ControllerConfig c;
  Reader r;
  r.CheckKeys(root, "",
              {"listen", "metrics_listen", "tls", "database", "network", "log",
               "shutdown_grace_seconds", "pki", "agents", "edge"});
  r.Read(Child(root, "listen"), "listen", &c.listen);
  r.Read(Child(root, "metrics_listen"), "metrics_listen", &c.metrics_listen);
  r.CheckKeys(Child(root, "tls"), "tls", {"cert_file", "key_file", "server_names"});
  r.Read(Child(Child(root, "tls"), "server_names"), "tls.server_names", &c.tls_server_names);
  for (size_t i = 0; i < c.tls_server_names.size(); ++i) {
    const std::string& n = c.tls_server_names[i];
    if (!pki::ParseIpAddress(n).ok() && !pki::ValidateDnsName(n).ok()) {
      r.Error(absl::StrCat("tls.server_names[", i, "]"),
              absl::StrCat("\"", n, "\" is neither a DNS name nor an IP address"));
    }
  }
  if (c.tls_server_names.empty()) r.Error("tls.server_names", "needs at least one name");
  r.Read(Child(Child(root, "tls"), "cert_file"), "tls.cert_file", &c.tls_cert_file);
  r.Read(Child(Child(root, "tls"), "key_file"), "tls.key_file", &c.tls_key_file);
  r.CheckKeys(Child(root, "database"), "database", {"conninfo", "password_file", "pool_size"});
  r.Read(Child(Child(root, "database"), "conninfo"), "database.conninfo", &c.database_conninfo);
  r.Read(Child(Child(root, "database"), "password_file"), "database.password_file",
         &c.database_password_file);
  r.Read(Child(Child(root, "database"), "pool_size"), "database.pool_size", &c.database_pool_size);

  const YAML::Node net = Child(root, "network");
  r.CheckKeys(
      net, "network",
      {"vni_pool", "vlan_pool", "node_supernet", "storage_supernet", "default_prefix_length"});
  r.CheckKeys(Child(net, "vni_pool"), "network.vni_pool", {"first", "last"});
  r.Read(Child(Child(net, "vni_pool"), "first"), "network.vni_pool.first", &c.pools.vni.first);
  r.Read(Child(Child(net, "vni_pool"), "last"), "network.vni_pool.last", &c.pools.vni.last);
  if (Child(net, "vlan_pool") && !Child(net, "vlan_pool").IsNull()) {
    r.CheckKeys(Child(net, "vlan_pool"), "network.vlan_pool", {"first", "last"});
    store::SegmentRange vlan;
    r.Read(Child(Child(net, "vlan_pool"), "first"), "network.vlan_pool.first", &vlan.first);
    r.Read(Child(Child(net, "vlan_pool"), "last"), "network.vlan_pool.last", &vlan.last);
    c.pools.vlan = vlan;
  }
  std::string node = "10.64.0.0/12", storage = "10.96.0.0/12";
  r.Read(Child(net, "node_supernet"), "network.node_supernet", &node);
  r.Read(Child(net, "storage_supernet"), "network.storage_supernet", &storage);
  r.Read(Child(net, "default_prefix_length"), "network.default_prefix_length",
         &c.pools.default_prefix_length);
  auto node_cidr = tenants::Cidr::Parse(node);
  auto storage_cidr = tenants::Cidr::Parse(storage);
  if (!node_cidr.ok()) r.Error("network.node_supernet", node_cidr.status().message());
  if (!storage_cidr.ok()) r.Error("network.storage_supernet", storage_cidr.status().message());

  r.CheckKeys(Child(root, "log"), "log", {"level", "format"});
  r.Read(Child(Child(root, "log"), "level"), "log.level", &c.log_level);
  std::string format = "text";
  r.Read(Child(Child(root, "log"), "format"), "log.format", &format);
  if (format == "json") {
    c.log_format = logging::Format::kJson;
  } else if (format != "text") {
    r.Error("log.format", absl::StrCat("\"", format, "\" is unknown; use text or json"));
  }
  int grace = 10;
  r.Read(Child(root, "shutdown_grace_seconds"), "shutdown_grace_seconds", &grace);
  if (grace < 0 || grace > 3600) r.Error("shutdown_grace_seconds", "must be 0-3600");
  c.shutdown_grace = absl::Seconds(grace);

  const YAML::Node agents = Child(root, "agents");
  r.CheckKeys(agents, "agents",
              {"heartbeat_interval_seconds", "lease_duration_seconds", "certificate_ttl_hours"});
  int heartbeat = 10, lease = 40, cert_hours = 24 * 30;
  r.Read(Child(agents, "heartbeat_interval_seconds"), "agents.heartbeat_interval_seconds",
         &heartbeat);
  r.Read(Child(agents, "lease_duration_seconds"), "agents.lease_duration_seconds", &lease);
  r.Read(Child(agents, "certificate_ttl_hours"), "agents.certificate_ttl_hours", &cert_hours);
  if (heartbeat < 1 || heartbeat > 300) {
    r.Error("agents.heartbeat_interval_seconds", "must be 1-300 (agent.proto, AgentSettings)");
  }
  if (lease < 3 * heartbeat || lease > 3600) {
    r.Error("agents.lease_duration_seconds",
            absl::StrCat("must be at least 3 heartbeat intervals (", 3 * heartbeat,
                         ") and at most 3600"));
  }
  if (cert_hours < 1 || cert_hours > 24 * 365) {
    r.Error("agents.certificate_ttl_hours", "must be 1-8760");
  }
  c.agents.lease.heartbeat_interval = absl::Seconds(heartbeat);
  c.agents.lease.lease_duration = absl::Seconds(lease);
  c.agents.certificate_ttl = absl::Hours(cert_hours);

  const YAML::Node pki = Child(root, "pki");
  r.CheckKeys(pki, "pki",
              {"kek_file", "previous_kek_file", "dns_base_domain", "spiffe_base_domain",
               "trust_domain", "crl_base_url"});
  r.Read(Child(pki, "kek_file"), "pki.kek_file", &c.kek_file);
  r.Read(Child(pki, "previous_kek_file"), "pki.previous_kek_file", &c.previous_kek_file);
  r.Read(Child(pki, "dns_base_domain"), "pki.dns_base_domain", &c.pki.dns_base_domain);
  r.Read(Child(pki, "spiffe_base_domain"), "pki.spiffe_base_domain", &c.pki.spiffe_base_domain);
  r.Read(Child(pki, "trust_domain"), "pki.trust_domain", &c.pki.trust_domain);
  r.Read(Child(pki, "crl_base_url"), "pki.crl_base_url", &c.pki.crl_base_url);
  for (auto [key, value] :
       {std::pair<const char*, const std::string*>{"pki.dns_base_domain", &c.pki.dns_base_domain},
        {"pki.spiffe_base_domain", &c.pki.spiffe_base_domain},
        {"pki.trust_domain", &c.pki.trust_domain}}) {
    if (absl::Status st = pki::ValidateDnsName(*value); !st.ok()) r.Error(key, st.message());
  }
  if (!c.pki.crl_base_url.empty()) {
    if (absl::Status st = pki::ValidateCrlUrl(c.pki.crl_base_url); !st.ok()) {
      r.Error("pki.crl_base_url", st.message());
    } else if (c.pki.crl_base_url.back() != '/') {
      r.Error("pki.crl_base_url", "must end in \"/\" (the issuer id is appended)");
    }
  }

  ReadEdgeSettings(r, Child(root, "edge"), &c.edge);

  if (c.listen.empty()) r.Error("listen", "is required (host:port)");
  // Without both, mandantd issues its serving certificate from the PKI.
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    r.Error(c.tls_cert_file.empty() ? "tls.cert_file" : "tls.key_file",
            "is required with the other tls key (or leave out both: mandantd then issues its "
            "certificate from Mandant's infrastructure CA)");
  }
  if (c.database_conninfo.empty()) r.Error("database.conninfo", "is required");
  if (c.database_conninfo.find("password") != std::string::npos) {
    r.Error("database.conninfo",
            "must not hold a password; use database.password_file or MANDANT_DB_PASSWORD");
  }
  if (c.database_pool_size < 1 || c.database_pool_size > 1000) {
    r.Error("database.pool_size", "must be 1-1000");
  }
  if (node_cidr.ok() && storage_cidr.ok()) {
    c.pools.node_supernet = *node_cidr;
    c.pools.storage_supernet = *storage_cidr;
    if (absl::Status st = store::ValidateNetworkPools(c.pools); !st.ok()) {
      r.Error("network", st.message());
    }
  }
  if (!r.errors().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", absl::StrJoin(r.errors(), "; ")));
  }
  return c;
}

absl::StatusOr<ControllerConfig> LoadConfig(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  auto config = ParseConfig(*text);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

absl::StatusOr<pki::KeyRing> KeyRingFrom(const ControllerConfig& config) {
  auto current = pki::Kek::Load("MANDANT_KEK", config.kek_file);
  if (!current.ok()) {
    if (absl::IsNotFound(current.status()) && config.kek_file.empty()) {
      return absl::NotFoundError(
          "pki.kek_file: no key-encryption key; set pki.kek_file (a 0600 file) or MANDANT_KEK");
    }
    return current.status();
  }
  std::vector<pki::Kek> previous;
  auto old = pki::Kek::Load("MANDANT_PREVIOUS_KEK", config.previous_kek_file);
  if (old.ok()) {
    previous.push_back(*std::move(old));
  } else if (!absl::IsNotFound(old.status()) || !config.previous_kek_file.empty()) {
    return old.status();
  }
  return pki::KeyRing::Create(*std::move(current), std::move(previous));
}

absl::StatusOr<store::DatabaseOptions> DatabaseOptionsFrom(const ControllerConfig& config) {
  store::DatabaseOptions options;
  options.conninfo = config.database_conninfo;
  options.pool_size = config.database_pool_size;
  auto password = ReadSecret("MANDANT_DB_PASSWORD", config.database_password_file);
  if (password.ok()) {
    options.password = *std::move(password);
  } else if (password.status().code() != absl::StatusCode::kNotFound ||
             !config.database_password_file.empty()) {
    return password.status();
  }
  return options;
}

}  // namespace mandant::controller
