#ifndef MANDANT_CONTROLLER_API_CERTIFICATE_SERVICE_H_
#define MANDANT_CONTROLLER_API_CERTIFICATE_SERVICE_H_

#include "absl/status/status.h"

#include "controller/api/rpc_call.h"
#include "controller/pki/issuers.h"
#include "controller/store/pki_store.h"
#include "mandant/v1/certificate.grpc.pb.h"

namespace mandant::controller::api {

// mandant.v1.CertificateService over Mandant's PKI (proto/mandant/v1/
// certificate.proto states the contract of every RPC). Thread-safe: the
// handlers keep no state of their own between calls.
//
// The entry points are in certificate_service.cc; each handler below is
// defined in the file of its topic (issuance, inventory, trust bundle,
// issuance policy, issuers), whose header comment states its rules.
class CertificateServiceImpl final : public v1::CertificateService::Service {
 public:
  // `deps` and `issuers` must outlive the service.
  CertificateServiceImpl(const ServiceDeps& deps, Issuers* issuers);

  // v1::CertificateService::Service
  grpc::Status IssueCertificate(grpc::ServerContext* context,
                                const v1::IssueCertificateRequest* request,
                                v1::IssueCertificateResponse* response) override;
  grpc::Status IssueClientCertificate(grpc::ServerContext* context,
                                      const v1::IssueClientCertificateRequest* request,
                                      v1::IssueCertificateResponse* response) override;
  grpc::Status GetCertificate(grpc::ServerContext* context,
                              const v1::GetCertificateRequest* request,
                              v1::Certificate* response) override;
  grpc::Status ListCertificates(grpc::ServerContext* context,
                                const v1::ListCertificatesRequest* request,
                                v1::ListCertificatesResponse* response) override;
  grpc::Status RevokeCertificate(grpc::ServerContext* context,
                                 const v1::RevokeCertificateRequest* request,
                                 v1::Certificate* response) override;
  grpc::Status GetCrl(grpc::ServerContext* context, const v1::GetCrlRequest* request,
                      v1::Crl* response) override;
  grpc::Status GetTrustBundle(grpc::ServerContext* context,
                              const v1::GetTrustBundleRequest* request,
                              v1::TrustBundle* response) override;
  grpc::Status GetIssuancePolicy(grpc::ServerContext* context,
                                 const v1::GetIssuancePolicyRequest* request,
                                 v1::IssuancePolicy* response) override;
  grpc::Status ListIssuers(grpc::ServerContext* context, const v1::ListIssuersRequest* request,
                           v1::ListIssuersResponse* response) override;
  grpc::Status UpdateIssuancePolicy(grpc::ServerContext* context,
                                    const v1::UpdateIssuancePolicyRequest* request,
                                    v1::IssuancePolicy* response) override;
  grpc::Status PrepareIssuer(grpc::ServerContext* context, const v1::PrepareIssuerRequest* request,
                             v1::Issuer* response) override;
  grpc::Status ActivateIssuer(grpc::ServerContext* context,
                              const v1::ActivateIssuerRequest* request,
                              v1::Issuer* response) override;
  grpc::Status RetireIssuer(grpc::ServerContext* context, const v1::RetireIssuerRequest* request,
                            v1::Issuer* response) override;

 private:
  // certificate_issuance.cc
  absl::Status Issue(RpcCall& call, const v1::IssueCertificateRequest& request,
                     v1::IssueCertificateResponse* response);
  absl::Status IssueClient(RpcCall& call, const v1::IssueClientCertificateRequest& request,
                           v1::IssueCertificateResponse* response);
  // certificate_inventory.cc
  absl::Status Get(RpcCall& call, const v1::GetCertificateRequest& request,
                   v1::Certificate* response);
  absl::Status List(RpcCall& call, const v1::ListCertificatesRequest& request,
                    v1::ListCertificatesResponse* response);
  absl::Status Revoke(RpcCall& call, const v1::RevokeCertificateRequest& request,
                      v1::Certificate* response);
  absl::Status Crl(RpcCall& call, const v1::GetCrlRequest& request, v1::Crl* response);
  // certificate_trust_bundle.cc
  absl::Status Bundle(RpcCall& call, const v1::GetTrustBundleRequest& request,
                      v1::TrustBundle* response);
  // certificate_issuance_policy.cc
  absl::Status Policy(RpcCall& call, const v1::GetIssuancePolicyRequest& request,
                      v1::IssuancePolicy* response);
  absl::Status UpdatePolicy(RpcCall& call, const v1::UpdateIssuancePolicyRequest& request,
                            v1::IssuancePolicy* response);

  // certificate_issuers.cc
  absl::Status IssuerPage(RpcCall& call, const v1::ListIssuersRequest& request,
                          v1::ListIssuersResponse* response);
  absl::Status Prepare(RpcCall& call, const v1::PrepareIssuerRequest& request,
                       v1::Issuer* response);
  // Activate and Retire: one issuer's state change.
  absl::Status ChangeState(RpcCall& call, absl::string_view name, absl::string_view etag,
                           absl::string_view request_id, const google::protobuf::Message& request,
                           bool activate, v1::Issuer* response);

  const ServiceDeps& deps_;
  controller::Issuers* const issuers_;
  store::PkiStore store_;
};

// The issuance policy a new tenant gets (certificate.proto, IssuancePolicy).
v1::IssuancePolicy DefaultTenantPolicy(const Issuers& issuers, absl::string_view tenant);

// The CAs of `scope` ("infrastructure" or "tenants/{t}" with its uid) that
// verify its certificates, as GetTrustBundle returns them.
absl::Status FillTrustBundle(store::PkiStore& store, store::Connection& conn,
                             absl::string_view scope, absl::string_view tenant_uid,
                             v1::TrustBundle* response);

}  // namespace mandant::controller::api

#endif  // MANDANT_CONTROLLER_API_CERTIFICATE_SERVICE_H_
