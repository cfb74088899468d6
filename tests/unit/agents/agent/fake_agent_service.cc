#include "tests/unit/agents/agent/fake_agent_service.h"

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

#include "common/status_macros.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/key.h"

namespace mandant::agent::testing {

TestPki::TestPki(pki::CertificateAuthority ca, std::string ca_pem, std::string server_cert_pem,
                 std::string server_key_pem)
    : ca_(std::move(ca)),
      ca_pem_(std::move(ca_pem)),
      server_cert_pem_(std::move(server_cert_pem)),
      server_key_pem_(std::move(server_key_pem)) {}

absl::StatusOr<TestPki> TestPki::Create() {
  const absl::Time now = absl::Now();
  pki::RootCaSpec root;
  root.common_name = "Mandant test root";
  root.organization = "Mandant";
  root.validity = absl::Hours(24 * 7);
  MANDANT_ASSIGN_OR_RETURN(pki::CertificateAuthority ca, pki::CreateRootCa(root, now));
  MANDANT_ASSIGN_OR_RETURN(std::string ca_pem, pki::CertificateToPem(ca.certificate()));

  MANDANT_ASSIGN_OR_RETURN(pki::EvpPkeyPtr key, pki::GenerateKey(pki::KeyType::kEcdsaP256));
  pki::LeafSpec leaf;
  leaf.public_key = key.get();
  leaf.common_name = "mandantd";
  leaf.subject_alt_names.dns_names = {"localhost"};
  leaf.subject_alt_names.ip_addresses = {"127.0.0.1"};
  leaf.extended_key_usages = {pki::ExtendedKeyUsage::kServerAuth};
  leaf.not_after = now + absl::Hours(24);
  MANDANT_ASSIGN_OR_RETURN(pki::X509Ptr cert, pki::IssueLeaf(ca, leaf, now));
  MANDANT_ASSIGN_OR_RETURN(std::string cert_pem, pki::CertificateToPem(cert.get()));
  MANDANT_ASSIGN_OR_RETURN(pki::SecretBytes key_pem, pki::PrivateKeyToPem(key.get()));
  return TestPki(std::move(ca), std::move(ca_pem), std::move(cert_pem),
                 std::string(key_pem.view()));
}

absl::StatusOr<std::string> TestPki::SignCsr(absl::string_view csr_pem, absl::string_view host,
                                             absl::Duration validity) const {
  MANDANT_ASSIGN_OR_RETURN(pki::ParsedCsr csr, pki::ParseCsr(csr_pem));
  const absl::Time now = absl::Now();
  pki::LeafSpec leaf;
  leaf.public_key = csr.public_key.get();
  leaf.common_name = absl::StrCat("host/", host);
  leaf.extended_key_usages = {pki::ExtendedKeyUsage::kClientAuth};
  leaf.not_after = now + validity;
  MANDANT_ASSIGN_OR_RETURN(pki::X509Ptr cert, pki::IssueLeaf(ca_, leaf, now));
  return pki::CertificateToPem(cert.get());
}

absl::StatusOr<std::unique_ptr<FakeAgentService>> FakeAgentService::Start(const TestPki* pki,
                                                                          bool verify_clients) {
  std::unique_ptr<FakeAgentService> service(new FakeAgentService(pki));
  grpc::SslServerCredentialsOptions ssl(verify_clients
                                            ? GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY
                                            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  ssl.pem_root_certs = pki->ca_pem();
  ssl.pem_key_cert_pairs.push_back({pki->server_key_pem(), pki->server_cert_pem()});
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port);
  builder.RegisterService(service.get());
  service->server_ = builder.BuildAndStart();
  if (service->server_ == nullptr || port == 0) {
    return absl::InternalError("the fake AgentService did not start");
  }
  service->address_ = absl::StrCat("127.0.0.1:", port);
  return service;
}

FakeAgentService::~FakeAgentService() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server_->Wait();
}

void FakeAgentService::set_token(std::string token) {
  absl::MutexLock lock(&mu_);
  token_ = std::move(token);
}

void FakeAgentService::FailNextEnrollments(std::vector<grpc::Status> errors) {
  absl::MutexLock lock(&mu_);
  enroll_errors_.assign(errors.begin(), errors.end());
}

void FakeAgentService::set_certificate_validity(absl::Duration validity) {
  absl::MutexLock lock(&mu_);
  validity_ = validity;
}

std::vector<v1::EnrollRequest> FakeAgentService::enroll_requests() const {
  absl::MutexLock lock(&mu_);
  return enroll_requests_;
}

void FakeAgentService::set_settings(std::optional<v1::AgentSettings> settings) {
  absl::MutexLock lock(&mu_);
  settings_ = std::move(settings);
}

void FakeAgentService::set_spec_on_connect(std::optional<v1::HostSpec> spec) {
  absl::MutexLock lock(&mu_);
  spec_on_connect_ = std::move(spec);
}

void FakeAgentService::set_refuse_streams(std::optional<grpc::Status> status) {
  absl::MutexLock lock(&mu_);
  refuse_streams_ = std::move(status);
}

void FakeAgentService::set_refuse_egress_events(std::optional<grpc::Status> status) {
  absl::MutexLock lock(&mu_);
  refuse_egress_events_ = std::move(status);
}

void FakeAgentService::set_renewal_error(std::optional<grpc::Status> error) {
  absl::MutexLock lock(&mu_);
  renewal_error_ = std::move(error);
}

void FakeAgentService::Send(const v1::ControllerMessage& message) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < streams_.size(); ++i) {
    if (streams_[i].end == absl::InfiniteFuture()) outboxes_[i].push_back(message);
  }
}

void FakeAgentService::EndStreams() {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < end_requested_.size(); ++i) end_requested_[i] = true;
}

std::vector<FakeAgentService::Stream> FakeAgentService::streams() const {
  absl::MutexLock lock(&mu_);
  return streams_;
}

bool FakeAgentService::WaitFor(const std::function<bool(const std::vector<Stream>&)>& done,
                               absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto holds = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done(streams_); };
  return mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
}

grpc::Status FakeAgentService::Enroll(grpc::ServerContext*, const v1::EnrollRequest* request,
                                      v1::EnrollResponse* response) {
  absl::Duration validity;
  {
    absl::MutexLock lock(&mu_);
    enroll_requests_.push_back(*request);
    if (!enroll_errors_.empty()) {
      grpc::Status error = enroll_errors_.front();
      enroll_errors_.pop_front();
      return error;
    }
    if (request->bootstrap_token() != token_) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bootstrap token");
    }
    validity = validity_;
  }
  absl::string_view host = request->host();
  if (!absl::ConsumePrefix(&host, "hosts/")) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "host is not hosts/{host}");
  }
  absl::StatusOr<std::string> cert = pki_->SignCsr(request->csr(), host, validity);
  if (!cert.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(cert.status().message()));
  }
  response->set_certificate_pem(*cert);
  response->set_chain_pem(pki_->ca_pem());
  return grpc::Status::OK;
}

grpc::Status FakeAgentService::Connect(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::ControllerMessage, v1::AgentMessage>* stream) {
  size_t index;
  {
    absl::MutexLock lock(&mu_);
    index = streams_.size();
    Stream s;
    s.start = absl::Now();
    for (const grpc::string_ref& pem :
         context->auth_context()->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)) {
      s.peer_certificate_pem.assign(pem.data(), pem.size());
    }
    streams_.push_back(std::move(s));
    outboxes_.emplace_back();
    end_requested_.push_back(false);
  }
  auto record = [this, index](const v1::AgentMessage& message) {
    absl::MutexLock lock(&mu_);
    streams_[index].messages.push_back(message);
    streams_[index].receive_times.push_back(absl::Now());
  };
  auto finish = [this, index](grpc::Status status) {
    absl::MutexLock lock(&mu_);
    streams_[index].end = absl::Now();
    return status;
  };

  v1::AgentMessage first;
  if (!stream->Read(&first)) return finish(grpc::Status::CANCELLED);
  record(first);
  std::optional<v1::ControllerMessage> settings, spec;
  std::optional<grpc::Status> refusal;
  {
    absl::MutexLock lock(&mu_);
    refusal = refuse_streams_;
    if (settings_) {
      settings.emplace();
      *settings->mutable_settings() = *settings_;
    }
    if (spec_on_connect_) {
      spec.emplace();
      *spec->mutable_spec() = *spec_on_connect_;
    }
  }
  if (refusal) return finish(*refusal);
  absl::string_view hello_host = first.hello().host();
  absl::ConsumePrefix(&hello_host, "hosts/");
  const std::string host(hello_host);
  if (settings && !stream->Write(*settings)) return finish(grpc::Status::CANCELLED);
  if (spec && !stream->Write(*spec)) return finish(grpc::Status::CANCELLED);

  bool reader_done = false;
  std::optional<grpc::Status> ended_by;
  std::thread reader([&] {
    v1::AgentMessage message;
    while (stream->Read(&message)) {
      record(message);
      if (message.has_egress_events()) {
        absl::MutexLock lock(&mu_);
        if (refuse_egress_events_) {
          ended_by = refuse_egress_events_;
          break;
        }
      }
      if (!message.has_renewal()) continue;
      v1::ControllerMessage answer;
      std::optional<grpc::Status> error;
      absl::Duration validity;
      {
        absl::MutexLock lock(&mu_);
        error = renewal_error_;
        validity = validity_;
      }
      if (error) {
        answer.mutable_certificate()->mutable_error()->set_code(error->error_code());
        answer.mutable_certificate()->mutable_error()->set_message(error->error_message());
      } else if (absl::StatusOr<std::string> cert =
                     pki_->SignCsr(message.renewal().csr(), host, validity);
                 cert.ok()) {
        answer.mutable_certificate()->set_certificate_pem(*cert);
        answer.mutable_certificate()->set_chain_pem(pki_->ca_pem());
      } else {
        answer.mutable_certificate()->mutable_error()->set_code(
            static_cast<int>(cert.status().code()));
        answer.mutable_certificate()->mutable_error()->set_message(
            std::string(cert.status().message()));
      }
      absl::MutexLock lock(&mu_);
      outboxes_[index].push_back(std::move(answer));
    }
    absl::MutexLock lock(&mu_);
    reader_done = true;
  });

  for (;;) {
    std::deque<v1::ControllerMessage> out;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || reader_done || end_requested_[index] || !outboxes_[index].empty();
      };
      // The timeout notices a cancellation by the server's shutdown.
      mu_.AwaitWithTimeout(absl::Condition(&wake), absl::Milliseconds(50));
      if (stopping_ || reader_done || end_requested_[index] || context->IsCancelled()) break;
      out.swap(outboxes_[index]);
    }
    for (const v1::ControllerMessage& message : out) stream->Write(message);
  }
  bool refused = false;
  {
    absl::MutexLock lock(&mu_);
    refused = ended_by.has_value();
  }
  // A refused stream ends with its status; the reader is done already.
  if (!refused) context->TryCancel();
  reader.join();
  if (ended_by) return finish(*ended_by);
  return finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream was ended by the test"));
}

}  // namespace mandant::agent::testing
