#include "tests/support/agent_client.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

#include "common/status_macros.h"
#include "pki/csr.h"
#include "pki/encoding.h"

namespace mandant::testing {
namespace {

std::shared_ptr<grpc::Channel> TlsChannel(TestController& c, grpc::SslCredentialsOptions ssl) {
  ssl.pem_root_certs = c.server_cert_pem();
  grpc::ChannelArguments args;
  // A connection of its own, so that identities never share one.
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  // As both ends of the agent protocol allow (agent.proto).
  args.SetMaxReceiveMessageSize(32 << 20);
  return grpc::CreateCustomChannel(absl::StrCat("localhost:", c.server().port()),
                                   grpc::SslCredentials(ssl), args);
}

}  // namespace

absl::StatusOr<KeyWithCsr> NewKeyWithCsr(pki::KeyType type) {
  MANDANT_ASSIGN_OR_RETURN(pki::EvpPkeyPtr key, pki::GenerateKey(type));
  MANDANT_ASSIGN_OR_RETURN(pki::X509ReqPtr csr, pki::BuildCsr(key.get(), "", {}));
  KeyWithCsr out;
  MANDANT_ASSIGN_OR_RETURN(out.csr_pem, pki::CsrToPem(csr.get()));
  MANDANT_ASSIGN_OR_RETURN(pki::SecretBytes pem, pki::PrivateKeyToPem(key.get()));
  out.key_pem = std::string(pem.view());
  return out;
}

std::shared_ptr<grpc::Channel> ServerTlsChannel(TestController& c) {
  return TlsChannel(c, grpc::SslCredentialsOptions());
}

std::shared_ptr<grpc::Channel> MutualTlsChannel(TestController& c, const std::string& key_pem,
                                                const std::string& cert_chain_pem) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_private_key = key_pem;
  ssl.pem_cert_chain = cert_chain_pem;
  return TlsChannel(c, std::move(ssl));
}

grpc::Status Enroll(TestController& c, const v1::EnrollRequest& request,
                    v1::EnrollResponse* response) {
  auto stub = v1::AgentService::NewStub(ServerTlsChannel(c));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return stub->Enroll(&ctx, request, response);
}

absl::StatusOr<EnrolledAgent> EnrollNewKey(TestController& c, const std::string& host,
                                           const std::string& token) {
  MANDANT_ASSIGN_OR_RETURN(KeyWithCsr key, NewKeyWithCsr());
  EnrolledAgent agent;
  agent.host = host;
  agent.key_pem = key.key_pem;
  v1::EnrollRequest request;
  request.set_host(host);
  request.set_bootstrap_token(token);
  request.set_csr(key.csr_pem);
  grpc::Status st = Enroll(c, request, &agent.enrollment);
  if (!st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                        absl::StrCat("Enroll ", host, ": ", st.error_message()));
  }
  return agent;
}

AgentConnection::AgentConnection(std::shared_ptr<grpc::Channel> channel,
                                 const std::string& bearer_token)
    : stub_(v1::AgentService::NewStub(std::move(channel))) {
  if (!bearer_token.empty()) {
    context_.AddMetadata("authorization", absl::StrCat("Bearer ", bearer_token));
  }
  // Long enough for any test, short enough that a hung one ends.
  context_.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
  stream_ = stub_->Connect(&context_);
  reader_ = std::thread([this] { ReadLoop(); });
}

AgentConnection::~AgentConnection() {
  context_.TryCancel();
  reader_.join();
}

void AgentConnection::ReadLoop() {
  v1::ControllerMessage message;
  while (stream_->Read(&message)) {
    absl::MutexLock lock(&mu_);
    inbox_.push_back(std::move(message));
    message = v1::ControllerMessage();
  }
  {
    // No write may run while the call is finished.
    absl::MutexLock lock(&write_mu_);
    writes_closed_ = true;
  }
  grpc::Status status = stream_->Finish();
  absl::MutexLock lock(&mu_);
  final_status_ = std::move(status);
}

bool AgentConnection::Send(const v1::AgentMessage& message) {
  absl::MutexLock lock(&write_mu_);
  if (writes_closed_) return false;
  return stream_->Write(message);
}

bool AgentConnection::SendHello(const v1::Hello& hello) {
  v1::AgentMessage m;
  *m.mutable_hello() = hello;
  return Send(m);
}

bool AgentConnection::SendStatus(const v1::HostStatus& status) {
  v1::AgentMessage m;
  *m.mutable_status() = status;
  return Send(m);
}

bool AgentConnection::SendHeartbeat() {
  v1::AgentMessage m;
  m.mutable_heartbeat();
  return Send(m);
}

std::optional<v1::ControllerMessage> AgentConnection::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !inbox_.empty() || final_status_.has_value();
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (inbox_.empty()) return std::nullopt;
  v1::ControllerMessage m = std::move(inbox_.front());
  inbox_.pop_front();
  return m;
}

std::optional<v1::HostSpec> AgentConnection::NextSpec(
    absl::Duration timeout, const std::function<bool(const v1::HostSpec&)>& accept) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    std::optional<v1::ControllerMessage> m = Next(deadline - absl::Now());
    if (!m) return std::nullopt;
    if (m->has_spec() && (!accept || accept(m->spec()))) return m->spec();
  }
}

std::optional<grpc::Status> AgentConnection::WaitEnd(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return final_status_.has_value(); };
  mu_.AwaitWithTimeout(absl::Condition(&ended), timeout);
  return final_status_;
}

void AgentConnection::CloseWrites() {
  absl::MutexLock lock(&write_mu_);
  if (writes_closed_) return;
  writes_closed_ = true;
  stream_->WritesDone();
}

}  // namespace mandant::testing
