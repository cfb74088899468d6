#include "controller/config.h"

#include "gtest/gtest.h"

#include "tests/support/status_matchers.h"

namespace mandant::controller {
namespace {

using ::testing::HasSubstr;
using testing::StatusIs;

constexpr char kMinimal[] = R"(
tls: {cert_file: /etc/mandant/tls.crt, key_file: /etc/mandant/tls.key}
database: {conninfo: "host=db dbname=mandant user=mandant sslmode=verify-full"}
)";

TEST(ConfigTest, MinimalConfigTakesDefaults) {
  auto c = ParseConfig(kMinimal);
  ASSERT_OK(c);
  EXPECT_EQ(c->listen, "127.0.0.1:7443");
  EXPECT_EQ(c->database_pool_size, 8);
  EXPECT_EQ(c->pools.vni.first, 10000u);
  EXPECT_EQ(c->pools.node_supernet.ToString(), "10.64.0.0/12");
  EXPECT_FALSE(c->pools.vlan.has_value());
  EXPECT_EQ(c->shutdown_grace, absl::Seconds(10));
}

TEST(ConfigTest, FullConfig) {
  auto c = ParseConfig(R"(
listen: "0.0.0.0:9000"
metrics_listen: ""
tls: {cert_file: a.crt, key_file: a.key}
database: {conninfo: "host=db", password_file: /run/pw, pool_size: 32}
network:
  vni_pool: {first: 100, last: 200}
  vlan_pool: {first: 10, last: 20}
  node_supernet: 172.20.0.0/16
  storage_supernet: 172.21.0.0/16
  default_prefix_length: 26
log: {level: debug, format: json}
shutdown_grace_seconds: 3
)");
  ASSERT_OK(c);
  EXPECT_EQ(c->listen, "0.0.0.0:9000");
  EXPECT_EQ(c->metrics_listen, "");
  EXPECT_EQ(c->database_pool_size, 32);
  EXPECT_EQ(c->database_password_file, "/run/pw");
  ASSERT_TRUE(c->pools.vlan.has_value());
  EXPECT_EQ(c->pools.vlan->last, 20u);
  EXPECT_EQ(c->pools.default_prefix_length, 26);
  EXPECT_EQ(c->log_format, logging::Format::kJson);
  EXPECT_EQ(c->shutdown_grace, absl::Seconds(3));
}

TEST(ConfigTest, EveryProblemIsNamed) {
  auto c = ParseConfig(R"(
listne: "typo"
tls: {cert_file: a.crt}
database: {pool_size: 0}
network:
  vni_pool: {first: 5, last: 2}
  node_supernet: 10.0.0.0/8
  storage_supernet: 10.1.0.0/16
log: {format: xml}
)");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument, "listne: unknown key"));
  const std::string msg(c.status().message());
  EXPECT_THAT(msg, HasSubstr("tls.key_file: is required"));
  EXPECT_THAT(msg, HasSubstr("database.conninfo: is required"));
  EXPECT_THAT(msg, HasSubstr("database.pool_size: must be 1-1000"));
  EXPECT_THAT(msg, HasSubstr("network.vni_pool: 5-2"));
  EXPECT_THAT(msg, HasSubstr("overlaps network.storage_supernet"));
  EXPECT_THAT(msg, HasSubstr("log.format: \"xml\" is unknown"));
}

TEST(ConfigTest, BadCidrAndTypes) {
  auto c = ParseConfig(std::string(kMinimal) + R"(
network: {node_supernet: 10.64.0.1/12, default_prefix_length: many}
)");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument, "network.node_supernet"));
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("network.default_prefix_length: has the wrong type"));
}

TEST(ConfigTest, PasswordInConninfoIsRefused) {
  auto c = ParseConfig(R"(
tls: {cert_file: a.crt, key_file: a.key}
database: {conninfo: "host=db password=hunter2"}
)");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument, "database.conninfo"));
  EXPECT_EQ(std::string(c.status().message()).find("hunter2"), std::string::npos);
}

TEST(ConfigTest, AgentLeases) {
  auto c = ParseConfig(std::string(kMinimal) + R"(
agents: {heartbeat_interval_seconds: 5, lease_duration_seconds: 20, certificate_ttl_hours: 48}
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->agents.lease.heartbeat_interval, absl::Seconds(5));
  EXPECT_EQ(c->agents.lease.lease_duration, absl::Seconds(20));
  EXPECT_EQ(c->agents.certificate_ttl, absl::Hours(48));

  auto defaults = ParseConfig(kMinimal);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->agents.lease.heartbeat_interval, absl::Seconds(10));
  EXPECT_EQ(defaults->agents.lease.lease_duration, absl::Seconds(40));

  // A lease shorter than three heartbeats would expire between two of them.
  auto bad = ParseConfig(std::string(kMinimal) + R"(
agents: {heartbeat_interval_seconds: 10, lease_duration_seconds: 25, certificate_ttl_hours: 0}
)");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument,
                            "agents.lease_duration_seconds: must be at least 3 heartbeat"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("agents.certificate_ttl_hours"));
}

TEST(ConfigTest, NotYaml) {
  EXPECT_THAT(ParseConfig("listen: [unclosed"),
              StatusIs(absl::StatusCode::kInvalidArgument, "not valid YAML"));
}

}  // namespace
}  // namespace mandant::controller

namespace mandant::controller {
namespace {

TEST(ConfigPkiTest, TlsFilesAreOptionalAndPkiKeysAreChecked) {
  auto c = ParseConfig(R"(
database: {conninfo: "dbname=mandant"}
pki:
  kek_file: /etc/mandant/kek
  dns_base_domain: svc.example.net
  crl_base_url: "http://mandant.example.net:9464/crl/"
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->tls_cert_file.empty());
  EXPECT_EQ(c->kek_file, "/etc/mandant/kek");
  EXPECT_EQ(c->pki.dns_base_domain, "svc.example.net");
  EXPECT_EQ(c->pki.trust_domain, "mandant.internal");

  auto bad = ParseConfig(R"(
database: {conninfo: "dbname=mandant"}
pki:
  dns_base_domain: "*.example.net"
  crl_base_url: "ftp://x/crl"
  kek: inline-secrets-are-not-a-key
)");
  ASSERT_FALSE(bad.ok());
  const std::string msg(bad.status().message());
  EXPECT_THAT(msg, ::testing::HasSubstr("pki.dns_base_domain"));
  EXPECT_THAT(msg, ::testing::HasSubstr("pki.crl_base_url"));
  EXPECT_THAT(msg, ::testing::HasSubstr("pki.kek: unknown key"));
}

}  // namespace
}  // namespace mandant::controller
