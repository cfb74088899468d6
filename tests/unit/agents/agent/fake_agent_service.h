#ifndef MANDANT_TESTS_UNIT_AGENTS_AGENT_FAKE_AGENT_SERVICE_H_
#define MANDANT_TESTS_UNIT_AGENTS_AGENT_FAKE_AGENT_SERVICE_H_

// mandantd's AgentService as the agent's unit tests need it: a throwaway
// CA, a TLS server on 127.0.0.1 port 0 whose certificate that CA signed,
// Enroll that signs CSRs, and Connect streams that record everything the
// agent sends, send what the test queues, answer renewals, and end when the
// test says so. Thread-safe; tests wait for what the agent sent with
// deadlines.

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include "mandant/v1/agent.grpc.pb.h"
#include "pki/certificate_authority.h"

namespace mandant::agent::testing {

// A root CA and a server certificate for 127.0.0.1 and localhost.
class TestPki {
 public:
  static absl::StatusOr<TestPki> Create();

  const std::string& ca_pem() const { return ca_pem_; }
  const std::string& server_cert_pem() const { return server_cert_pem_; }
  const std::string& server_key_pem() const { return server_key_pem_; }

  // What mandantd does with an agent's CSR: a clientAuth certificate
  // CN=host/<host> for the CSR's key, valid from now (less pki::kBackdate)
  // until now + `validity`. PEM.
  absl::StatusOr<std::string> SignCsr(absl::string_view csr_pem, absl::string_view host,
                                      absl::Duration validity) const;

 private:
  TestPki(pki::CertificateAuthority ca, std::string ca_pem, std::string server_cert_pem,
          std::string server_key_pem);

  pki::CertificateAuthority ca_;
  std::string ca_pem_;
  std::string server_cert_pem_;
  std::string server_key_pem_;
};

class FakeAgentService final : public v1::AgentService::Service {
 public:
  // One Connect stream as the server saw it.
  struct Stream {
    absl::Time start;
    // InfiniteFuture while open.
    absl::Time end = absl::InfiniteFuture();
    // The client certificate the agent presented (PEM), empty without one.
    std::string peer_certificate_pem;
    std::vector<v1::AgentMessage> messages;
    std::vector<absl::Time> receive_times;
  };

  // Starts the server. The CA must outlive it. Client certificates are
  // verified with the CA unless `verify_clients` is false (an impostor that
  // takes any client, so that only the agent's own check can refuse it).
  static absl::StatusOr<std::unique_ptr<FakeAgentService>> Start(const TestPki* pki,
                                                                 bool verify_clients = true);
  // Ends every stream (the agent sees CANCELLED) and stops the server.
  ~FakeAgentService() override;

  // "127.0.0.1:<port>".
  const std::string& address() const { return address_; }

  // Enroll: the token it accepts (UNAUTHENTICATED for any other), errors to
  // return before the next successes, and the lifetime of certificates it
  // signs, for enrollments and renewals alike.
  void set_token(std::string token);
  void FailNextEnrollments(std::vector<grpc::Status> errors);
  void set_certificate_validity(absl::Duration validity);
  std::vector<v1::EnrollRequest> enroll_requests() const;

  // Connect: sent after Hello on every new stream; no settings means the
  // stream is never accepted (the agent's `connected()` stays false).
  void set_settings(std::optional<v1::AgentSettings> settings);
  // Sent after the settings on every new stream.
  void set_spec_on_connect(std::optional<v1::HostSpec> spec);
  // Ends each new stream right after its Hello with this status.
  void set_refuse_streams(std::optional<grpc::Status> status);
  // Ends a stream that carries an egress event batch with this status, as
  // a mandantd that does not store egress events does.
  void set_refuse_egress_events(std::optional<grpc::Status> status);
  // Answers renewals with this error instead of a certificate.
  void set_renewal_error(std::optional<grpc::Status> error);
  // Sends `message` on every open stream.
  void Send(const v1::ControllerMessage& message);
  // Ends every open stream.
  void EndStreams();

  std::vector<Stream> streams() const;
  // Waits until `done(streams)` holds; false when `timeout` passed first.
  bool WaitFor(const std::function<bool(const std::vector<Stream>&)>& done,
               absl::Duration timeout) const;

  // v1::AgentService::Service
  grpc::Status Enroll(grpc::ServerContext* context, const v1::EnrollRequest* request,
                      v1::EnrollResponse* response) override;
  grpc::Status Connect(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::ControllerMessage, v1::AgentMessage>* stream) override;

 private:
  explicit FakeAgentService(const TestPki* pki) : pki_(pki) {}

  const TestPki* const pki_;
  std::string address_;
  std::unique_ptr<grpc::Server> server_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string token_ ABSL_GUARDED_BY(mu_) = "token";
  std::deque<grpc::Status> enroll_errors_ ABSL_GUARDED_BY(mu_);
  absl::Duration validity_ ABSL_GUARDED_BY(mu_) = absl::Hours(24);
  std::vector<v1::EnrollRequest> enroll_requests_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::AgentSettings> settings_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::HostSpec> spec_on_connect_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> refuse_streams_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> renewal_error_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> refuse_egress_events_ ABSL_GUARDED_BY(mu_);
  std::vector<Stream> streams_ ABSL_GUARDED_BY(mu_);
  // Per stream (same index): messages waiting to be sent, and whether the
  // test asked it to end.
  std::vector<std::deque<v1::ControllerMessage>> outboxes_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> end_requested_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mandant::agent::testing

#endif  // MANDANT_TESTS_UNIT_AGENTS_AGENT_FAKE_AGENT_SERVICE_H_
