// CertificateService's gRPC surface: one entry point per RPC of
// mandant.v1.CertificateService, each naming its method (for metrics,
// logs and the audit log) and whether it is a mutation, then handing the
// request to its handler. The handlers live by topic:
//   certificate_issuance.cc        IssueCertificate, IssueClientCertificate
//   certificate_inventory.cc       GetCertificate, ListCertificates,
//                                  RevokeCertificate, GetCrl
//   certificate_trust_bundle.cc    GetTrustBundle
//   certificate_issuance_policy.cc GetIssuancePolicy, UpdateIssuancePolicy
//   certificate_issuers.cc         ListIssuers, PrepareIssuer,
//                                  ActivateIssuer, RetireIssuer
// and share certificate_resources.h (scopes, names, etags, conversions).

#include "controller/api/certificate_service.h"

namespace mandant::controller::api {

CertificateServiceImpl::CertificateServiceImpl(const ServiceDeps& deps, Issuers* issuers)
    : deps_(deps), issuers_(issuers) {}

grpc::Status CertificateServiceImpl::IssueCertificate(grpc::ServerContext* context,
                                                      const v1::IssueCertificateRequest* request,
                                                      v1::IssueCertificateResponse* response) {
  RpcCall call(context, "IssueCertificate", /*mutating=*/true, deps_);
  return call.Finish(Issue(call, *request, response));
}

grpc::Status CertificateServiceImpl::IssueClientCertificate(
    grpc::ServerContext* context, const v1::IssueClientCertificateRequest* request,
    v1::IssueCertificateResponse* response) {
  RpcCall call(context, "IssueClientCertificate", /*mutating=*/true, deps_);
  return call.Finish(IssueClient(call, *request, response));
}

grpc::Status CertificateServiceImpl::GetCertificate(grpc::ServerContext* context,
                                                    const v1::GetCertificateRequest* request,
                                                    v1::Certificate* response) {
  RpcCall call(context, "GetCertificate", /*mutating=*/false, deps_);
  return call.Finish(Get(call, *request, response));
}

grpc::Status CertificateServiceImpl::ListCertificates(grpc::ServerContext* context,
                                                      const v1::ListCertificatesRequest* request,
                                                      v1::ListCertificatesResponse* response) {
  RpcCall call(context, "ListCertificates", /*mutating=*/false, deps_);
  return call.Finish(List(call, *request, response));
}

grpc::Status CertificateServiceImpl::RevokeCertificate(grpc::ServerContext* context,
                                                       const v1::RevokeCertificateRequest* request,
                                                       v1::Certificate* response) {
  RpcCall call(context, "RevokeCertificate", /*mutating=*/true, deps_);
  return call.Finish(Revoke(call, *request, response));
}

grpc::Status CertificateServiceImpl::GetCrl(grpc::ServerContext* context,
                                            const v1::GetCrlRequest* request, v1::Crl* response) {
  RpcCall call(context, "GetCrl", /*mutating=*/false, deps_);
  return call.Finish(Crl(call, *request, response));
}

grpc::Status CertificateServiceImpl::GetTrustBundle(grpc::ServerContext* context,
                                                    const v1::GetTrustBundleRequest* request,
                                                    v1::TrustBundle* response) {
  RpcCall call(context, "GetTrustBundle", /*mutating=*/false, deps_);
  return call.Finish(Bundle(call, *request, response));
}

grpc::Status CertificateServiceImpl::GetIssuancePolicy(grpc::ServerContext* context,
                                                       const v1::GetIssuancePolicyRequest* request,
                                                       v1::IssuancePolicy* response) {
  RpcCall call(context, "GetIssuancePolicy", /*mutating=*/false, deps_);
  return call.Finish(Policy(call, *request, response));
}

grpc::Status CertificateServiceImpl::ListIssuers(grpc::ServerContext* context,
                                                 const v1::ListIssuersRequest* request,
                                                 v1::ListIssuersResponse* response) {
  RpcCall call(context, "ListIssuers", /*mutating=*/false, deps_);
  return call.Finish(IssuerPage(call, *request, response));
}

grpc::Status CertificateServiceImpl::UpdateIssuancePolicy(
    grpc::ServerContext* context, const v1::UpdateIssuancePolicyRequest* request,
    v1::IssuancePolicy* response) {
  RpcCall call(context, "UpdateIssuancePolicy", /*mutating=*/true, deps_);
  return call.Finish(UpdatePolicy(call, *request, response));
}

grpc::Status CertificateServiceImpl::PrepareIssuer(grpc::ServerContext* context,
                                                   const v1::PrepareIssuerRequest* request,
                                                   v1::Issuer* response) {
  RpcCall call(context, "PrepareIssuer", /*mutating=*/true, deps_);
  return call.Finish(Prepare(call, *request, response));
}

grpc::Status CertificateServiceImpl::ActivateIssuer(grpc::ServerContext* context,
                                                    const v1::ActivateIssuerRequest* request,
                                                    v1::Issuer* response) {
  RpcCall call(context, "ActivateIssuer", /*mutating=*/true, deps_);
  return call.Finish(ChangeState(call, request->name(), request->etag(), request->request_id(),
                                 *request, /*activate=*/true, response));
}

grpc::Status CertificateServiceImpl::RetireIssuer(grpc::ServerContext* context,
                                                  const v1::RetireIssuerRequest* request,
                                                  v1::Issuer* response) {
  RpcCall call(context, "RetireIssuer", /*mutating=*/true, deps_);
  return call.Finish(ChangeState(call, request->name(), request->etag(), request->request_id(),
                                 *request, /*activate=*/false, response));
}

}  // namespace mandant::controller::api
