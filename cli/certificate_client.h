#ifndef MANDANT_CLI_CERTIFICATE_CLIENT_H_
#define MANDANT_CLI_CERTIFICATE_CLIENT_H_

#include "grpcpp/support/status.h"

#include "mandant/v1/certificate.pb.h"

namespace mandant::cli {

// The CertificateService calls mandantctl makes, one blocking call each. The
// real implementation (grpc_certificate_client.h) adds the deadline and the
// credential to every call; tests use a fake. Not required to be
// thread-safe.
class CertificateClient {
 public:
  virtual ~CertificateClient() = default;

  virtual grpc::Status IssueCertificate(const v1::IssueCertificateRequest& request,
                                        v1::IssueCertificateResponse* response) = 0;
  virtual grpc::Status IssueClientCertificate(const v1::IssueClientCertificateRequest& request,
                                              v1::IssueCertificateResponse* response) = 0;
  virtual grpc::Status GetCertificate(const v1::GetCertificateRequest& request,
                                      v1::Certificate* response) = 0;
  virtual grpc::Status ListCertificates(const v1::ListCertificatesRequest& request,
                                        v1::ListCertificatesResponse* response) = 0;
  virtual grpc::Status RevokeCertificate(const v1::RevokeCertificateRequest& request,
                                         v1::Certificate* response) = 0;
  virtual grpc::Status GetCrl(const v1::GetCrlRequest& request, v1::Crl* response) = 0;
  virtual grpc::Status GetTrustBundle(const v1::GetTrustBundleRequest& request,
                                      v1::TrustBundle* response) = 0;
  virtual grpc::Status GetIssuancePolicy(const v1::GetIssuancePolicyRequest& request,
                                         v1::IssuancePolicy* response) = 0;
  virtual grpc::Status UpdateIssuancePolicy(const v1::UpdateIssuancePolicyRequest& request,
                                            v1::IssuancePolicy* response) = 0;
  virtual grpc::Status ListIssuers(const v1::ListIssuersRequest& request,
                                   v1::ListIssuersResponse* response) = 0;
  virtual grpc::Status PrepareIssuer(const v1::PrepareIssuerRequest& request,
                                     v1::Issuer* response) = 0;
  virtual grpc::Status ActivateIssuer(const v1::ActivateIssuerRequest& request,
                                      v1::Issuer* response) = 0;
  virtual grpc::Status RetireIssuer(const v1::RetireIssuerRequest& request,
                                    v1::Issuer* response) = 0;
};

}  // namespace mandant::cli

#endif  // MANDANT_CLI_CERTIFICATE_CLIENT_H_
