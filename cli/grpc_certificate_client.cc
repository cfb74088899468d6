#include "cli/grpc_certificate_client.h"

#include <string>
#include <utility>

#include "grpcpp/client_context.h"

#include "mandant/v1/certificate.grpc.pb.h"

namespace mandant::cli {
namespace {

class GrpcCertificateClient : public CertificateClient {
 public:
  GrpcCertificateClient(std::shared_ptr<grpc::Channel> channel, std::string token,
                        absl::Duration timeout)
      : stub_(v1::CertificateService::NewStub(channel)),
        token_(std::move(token)),
        timeout_(timeout) {}

  // CertificateClient
  grpc::Status IssueCertificate(const v1::IssueCertificateRequest& request,
                                v1::IssueCertificateResponse* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->IssueCertificate(&context, request, response);
  }
  grpc::Status IssueClientCertificate(const v1::IssueClientCertificateRequest& request,
                                      v1::IssueCertificateResponse* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->IssueClientCertificate(&context, request, response);
  }
  grpc::Status GetCertificate(const v1::GetCertificateRequest& request,
                              v1::Certificate* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->GetCertificate(&context, request, response);
  }
  grpc::Status ListCertificates(const v1::ListCertificatesRequest& request,
                                v1::ListCertificatesResponse* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->ListCertificates(&context, request, response);
  }
  grpc::Status RevokeCertificate(const v1::RevokeCertificateRequest& request,
                                 v1::Certificate* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->RevokeCertificate(&context, request, response);
  }
  grpc::Status GetCrl(const v1::GetCrlRequest& request, v1::Crl* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->GetCrl(&context, request, response);
  }
  grpc::Status GetTrustBundle(const v1::GetTrustBundleRequest& request,
                              v1::TrustBundle* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->GetTrustBundle(&context, request, response);
  }
  grpc::Status GetIssuancePolicy(const v1::GetIssuancePolicyRequest& request,
                                 v1::IssuancePolicy* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->GetIssuancePolicy(&context, request, response);
  }
  grpc::Status UpdateIssuancePolicy(const v1::UpdateIssuancePolicyRequest& request,
                                    v1::IssuancePolicy* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->UpdateIssuancePolicy(&context, request, response);
  }
  grpc::Status ListIssuers(const v1::ListIssuersRequest& request,
                           v1::ListIssuersResponse* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->ListIssuers(&context, request, response);
  }
  grpc::Status PrepareIssuer(const v1::PrepareIssuerRequest& request,
                             v1::Issuer* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->PrepareIssuer(&context, request, response);
  }
  grpc::Status ActivateIssuer(const v1::ActivateIssuerRequest& request,
                              v1::Issuer* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->ActivateIssuer(&context, request, response);
  }
  grpc::Status RetireIssuer(const v1::RetireIssuerRequest& request, v1::Issuer* response) override {
    grpc::ClientContext context;
    PrepareCall(timeout_, token_, &context);
    return stub_->RetireIssuer(&context, request, response);
  }

 private:
  const std::unique_ptr<v1::CertificateService::Stub> stub_;
  const std::string token_;
  const absl::Duration timeout_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CertificateClient>> NewGrpcCertificateClient(
    const ConnectionOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewTlsChannel(options);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<CertificateClient>(
      new GrpcCertificateClient(*std::move(channel), options.token, options.timeout));
}

}  // namespace mandant::cli
