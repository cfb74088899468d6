#ifndef MANDANT_TESTS_SUPPORT_HOST_TEST_BASE_H_
#define MANDANT_TESTS_SUPPORT_HOST_TEST_BASE_H_

// What the integration tests of HostService and AgentService share: reading
// hosts' conditions, BadRequest details and certificate serials; machines
// placed on hosts straight in the store; and a fixture with a TestController
// and the host calls of a provider admin.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "controller/server.h"
#include "controller/store/machine_store.h"
#include "controller/store/pg.h"
#include "mandant/v1/host.grpc.pb.h"
#include "mandant/v1/tenant.pb.h"
#include "tests/support/agent_client.h"
#include "tests/support/test_controller.h"

namespace mandant::testing {

// The field names of the google.rpc.BadRequest violations in `status`'s
// details, in order; empty when there are none or the details do not parse.
std::vector<std::string> BadRequestFields(const grpc::Status& status);

// The condition of `type` ("Ready") in `host`; nullptr when it has none.
// The pointer is valid as long as `host` is unchanged.
const v1::Condition* FindCondition(const v1::Host& host, const std::string& type);
// The status of `host`'s condition of `type`: "True", "False", "Unknown" or
// "missing", for readable failures.
std::string ConditionStatus(const v1::Host& host, const std::string& type);
// The reason of `host`'s condition of `type`; "missing" when it has none.
std::string ConditionReason(const v1::Host& host, const std::string& type);

// The serial number (hex) of a PEM certificate; empty when it does not parse.
std::string SerialOf(const std::string& certificate_pem);

// A machine of tenants/{tenant}/clusters/prod named `name` on `host` (a host
// id, "hv1"; empty for none), with a new id: 2 vCPUs, 2 GiB of memory,
// 20 GiB of disk, the base image debian-12-k8s-1.30, the NIC MAC
// 02:4d:00:00:00:{mac} (two hex digits) and a minimal cloud-config. Not
// stored.
controller::store::NewMachine TestMachine(const std::string& tenant, const std::string& name,
                                          const std::string& host, int mac);
// Writes TestMachine(tenant, name, host, mac) straight into `c`'s store,
// creating the cluster unless it exists. Returns the machine id; the
// store's error otherwise (NOT_FOUND for an unknown tenant or host).
absl::StatusOr<std::string> PlaceMachine(TestController& c, const std::string& tenant,
                                         const std::string& name, const std::string& host, int mac);
// Deletes the machine `machine_id` from `c`'s store; the store's error
// otherwise.
absl::Status DeleteMachine(TestController& c, const std::string& machine_id);

// A fixture with a fresh TestController per test, a HostService stub and a
// provider admin's token. The helpers that return something other than a
// status record a test failure when a call fails (EXPECT: the test goes on)
// and return what they have: an empty message or token, or -1 from Count.
// The helpers may run on several threads at once, but not while Start
// replaces the controller.
class HostTestBase : public ::testing::Test {
 protected:
  void SetUp() override { Start(nullptr); }

  // (Re)starts the controller on a fresh database; `adjust`, when given,
  // changes the server options first. Replaces controller_, hosts_ and
  // admin_; streams and stubs of the previous controller are dead after.
  // A failed start is a fatal failure.
  void Start(std::function<void(controller::ServerOptions&)> adjust);

  // Calls CreateHost for hosts/{id} at `underlay` with `token` (the admin's
  // when empty) and `request_id` (none when empty).
  grpc::Status CreateHost(const std::string& id, const std::string& underlay,
                          v1::CreateHostResponse* out, const std::string& request_id = "",
                          const std::string& token = "");
  // Registers hosts/{id} at `underlay`; returns the host and its bootstrap
  // token.
  v1::CreateHostResponse MustCreateHost(const std::string& id, const std::string& underlay);
  // Registers hosts/{id} at `underlay`; returns its bootstrap token.
  std::string RegisterHost(const std::string& id, const std::string& underlay);
  // A new bootstrap token for hosts/{id}, replacing the old one.
  std::string IssueToken(const std::string& id);

  // Calls GetHost for `name` ("hosts/hv1").
  grpc::Status GetHost(const std::string& name, v1::Host* out);
  // The host `name`, read with GetHost.
  v1::Host MustGetHost(const std::string& name);
  // Polls GetHost every 100 ms until `accept` holds or `timeout` passes;
  // returns the last host read, whether or not `accept` holds for it.
  v1::Host WaitForHost(const std::string& name, const std::function<bool(const v1::Host&)>& accept,
                       absl::Duration timeout = absl::Seconds(10));

  // Creates tenants/{id}, displayed as `id`, with the default network.
  v1::Tenant CreateTenant(const std::string& id);

  // Opens a Connect stream with `agent`'s certificate, over a connection of
  // its own; the caller sends the Hello.
  std::unique_ptr<AgentConnection> Connect(const EnrolledAgent& agent);

  // Runs `body` in one transaction of the controller's database.
  absl::Status InDatabase(absl::FunctionRef<absl::Status(controller::store::Connection&)> body);
  // The number that `sql` (a SELECT count(*) ...) returns; -1 when it fails.
  int64_t Count(const std::string& sql);
  // What `sql` prints (rows as lines); "" after recording a failure.
  std::string Sql(const std::string& sql);
  // Places the edge of tenants/{tenant} now, as mandantd's edge reconciler
  // does on its own (controller/edge/edge_placement.h).
  void PlaceEdge(const std::string& tenant);

  std::unique_ptr<TestController> controller_;
  std::unique_ptr<v1::HostService::Stub> hosts_;
  // A provider admin's bearer token (subject "operator").
  std::string admin_;
};

}  // namespace mandant::testing

#endif  // MANDANT_TESTS_SUPPORT_HOST_TEST_BASE_H_
