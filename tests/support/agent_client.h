#ifndef MANDANT_TESTS_SUPPORT_AGENT_CLIENT_H_
#define MANDANT_TESTS_SUPPORT_AGENT_CLIENT_H_

// The controller side of the agent protocol as a test drives it: keys and
// CSRs, the channels an agent uses (server-authenticated TLS for Enroll,
// mutual TLS afterwards), enrollment, and a Connect stream read by a thread
// of its own so that tests wait for messages with deadlines.

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include "mandant/v1/agent.grpc.pb.h"
#include "pki/key.h"
#include "tests/support/test_controller.h"

namespace mandant::testing {

// A private key (PEM) and a CSR (PEM) for it, with no names.
struct KeyWithCsr {
  std::string key_pem;
  std::string csr_pem;
};
absl::StatusOr<KeyWithCsr> NewKeyWithCsr(pki::KeyType type = pki::KeyType::kEcdsaP256);

// TLS that authenticates the server only: what an agent has before it
// enrolls.
std::shared_ptr<grpc::Channel> ServerTlsChannel(TestController& c);
// Mutual TLS with a client certificate (chain) and its key. Each channel
// opens a connection of its own.
std::shared_ptr<grpc::Channel> MutualTlsChannel(TestController& c, const std::string& key_pem,
                                                const std::string& cert_chain_pem);

// What an agent holds after enrolling.
struct EnrolledAgent {
  std::string host;  // "hosts/{host}"
  std::string key_pem;
  v1::EnrollResponse enrollment;
  // certificate_pem + chain_pem, as the agent presents it.
  std::string chain() const { return enrollment.certificate_pem() + enrollment.chain_pem(); }
};

// Calls AgentService.Enroll over server-authenticated TLS.
grpc::Status Enroll(TestController& c, const v1::EnrollRequest& request,
                    v1::EnrollResponse* response);
// Enrolls `host` ("hosts/hv1") with a new ECDSA key; fails the status on
// any error.
absl::StatusOr<EnrolledAgent> EnrollNewKey(TestController& c, const std::string& host,
                                           const std::string& token);

// One AgentService.Connect stream. Thread-safe.
class AgentConnection {
 public:
  // Opens the stream on `channel`; `bearer_token`, when set, is sent as an
  // authorization header.
  explicit AgentConnection(std::shared_ptr<grpc::Channel> channel,
                           const std::string& bearer_token = "");
  // Cancels the stream if it is still open.
  ~AgentConnection();

  AgentConnection(const AgentConnection&) = delete;
  AgentConnection& operator=(const AgentConnection&) = delete;

  // False once the stream is done.
  bool Send(const v1::AgentMessage& message);
  bool SendHello(const v1::Hello& hello);
  bool SendStatus(const v1::HostStatus& status);
  bool SendHeartbeat();

  // The next message from the controller within `timeout`; nullopt on
  // timeout or when the stream ended.
  std::optional<v1::ControllerMessage> Next(absl::Duration timeout);
  // Skips messages until a HostSpec for which `accept` holds (any, when
  // unset) arrives within `timeout`.
  std::optional<v1::HostSpec> NextSpec(
      absl::Duration timeout, const std::function<bool(const v1::HostSpec&)>& accept = nullptr);

  // The stream's final status once it ended within `timeout`; nullopt while
  // it is still open.
  std::optional<grpc::Status> WaitEnd(absl::Duration timeout);
  // Closes the agent's side (WritesDone) without waiting.
  void CloseWrites();
  // Cancels the call, as a killed agent would.
  void Cancel() { context_.TryCancel(); }

 private:
  void ReadLoop();

  grpc::ClientContext context_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::ControllerMessage>> stream_;
  absl::Mutex write_mu_;
  bool writes_closed_ ABSL_GUARDED_BY(write_mu_) = false;
  absl::Mutex mu_;
  std::deque<v1::ControllerMessage> inbox_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> final_status_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
};

}  // namespace mandant::testing

#endif  // MANDANT_TESTS_SUPPORT_AGENT_CLIENT_H_
