#ifndef MANDANT_TESTS_UNIT_CLI_FAKE_CERTIFICATE_SERVICE_H_
#define MANDANT_TESTS_UNIT_CLI_FAKE_CERTIFICATE_SERVICE_H_

// A fake of mandantd's CertificateService for the mandantctl tests, served
// over real gRPC and TLS on 127.0.0.1, so that the commands run end to end
// through the real gRPC client, including mTLS after `mandantctl login`.
//
// It is a fake, not the real service: a test CA (root and infrastructure
// intermediate, made with mandant_pki) signs every CSR it gets, with no
// issuance policy; the inventory, policy and issuers live in memory. It
// records every call with the credential it carried (bearer token, or the
// URI of the verified client certificate), and can be told to fail a call.

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server.h"
#include "grpcpp/server_context.h"

#include "mandant/v1/certificate.grpc.pb.h"
#include "pki/certificate_authority.h"

namespace mandant::cli::testing {

// Who made a call, as the fake saw it.
struct FakeCaller {
  // The bearer token sent; "" for none.
  std::string token;
  // The URI SAN of the client certificate the TLS layer verified; "" for
  // none.
  std::string client_identity;
};

class FakeCertificateService final : public v1::CertificateService::Service {
 public:
  // Makes the test CA, valid from a day ago for two years. INTERNAL when
  // OpenSSL fails.
  static absl::StatusOr<std::unique_ptr<FakeCertificateService>> Create();

  // Accepts `token` as the credential of `identity` (a SPIFFE URI such as
  // "spiffe://mandant.internal/provider-admin/op").
  void AddToken(const std::string& token, const std::string& identity);

  // The next call of `method` (e.g. "IssueCertificate") fails with `status`.
  // With `after_work` the call first does its work, as when an answer is
  // lost on the way back.
  void FailNext(const std::string& method, grpc::Status status, bool after_work = false);

  // Every call, in order, as "Method", and who made it.
  std::vector<std::string> methods() const;
  std::vector<FakeCaller> callers() const;
  // The request of the last call of `method`, e.g.
  // LastRequest<v1::IssueCertificateRequest>("IssueCertificate").
  template <typename Request>
  Request LastRequest(const std::string& method) const {
    Request request;
    absl::MutexLock lock(&mu_);
    auto it = last_requests_.find(method);
    if (it != last_requests_.end()) request.ParseFromString(it->second);
    return request;
  }
  // How many certificates were issued.
  int issued_count() const;

  // The root to trust, and the intermediate that signs.
  const std::string& root_pem() const { return root_pem_; }
  const std::string& intermediate_pem() const { return intermediate_pem_; }
  const pki::CertificateAuthority& intermediate() const { return intermediate_; }

  // The issuance policy returned by GetIssuancePolicy; UpdateIssuancePolicy
  // changes it and its etag ("p1", "p2", ...).
  void SetPolicy(const v1::IssuancePolicy& policy);

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
  grpc::Status UpdateIssuancePolicy(grpc::ServerContext* context,
                                    const v1::UpdateIssuancePolicyRequest* request,
                                    v1::IssuancePolicy* response) override;
  grpc::Status ListIssuers(grpc::ServerContext* context, const v1::ListIssuersRequest* request,
                           v1::ListIssuersResponse* response) override;
  grpc::Status PrepareIssuer(grpc::ServerContext* context, const v1::PrepareIssuerRequest* request,
                             v1::Issuer* response) override;
  grpc::Status ActivateIssuer(grpc::ServerContext* context,
                              const v1::ActivateIssuerRequest* request,
                              v1::Issuer* response) override;
  grpc::Status RetireIssuer(grpc::ServerContext* context, const v1::RetireIssuerRequest* request,
                            v1::Issuer* response) override;

 private:
  struct Failure {
    grpc::Status status;
    bool after_work = false;
  };

  FakeCertificateService(pki::CertificateAuthority root, pki::CertificateAuthority intermediate,
                         std::string root_pem, std::string intermediate_pem);

  // Records the call and checks the credential. Sets *after_work to a
  // failure to return once the work is done.
  grpc::Status Begin(grpc::ServerContext* context, const std::string& method,
                     const google::protobuf::Message& request, FakeCaller* caller,
                     grpc::Status* after_work);
  // Signs `csr_pem` and adds the certificate to the inventory.
  grpc::Status Sign(const std::string& scope, const std::string& csr_pem,
                    const std::vector<int>& usages, absl::Duration ttl,
                    const std::string& identity_uri, v1::IssueCertificateResponse* response);
  std::vector<v1::Issuer> Issuers(const std::string& scope) const;

  const pki::CertificateAuthority root_;
  const pki::CertificateAuthority intermediate_;
  const std::string root_pem_;
  const std::string intermediate_pem_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::string> tokens_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> methods_ ABSL_GUARDED_BY(mu_);
  std::vector<FakeCaller> callers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> last_requests_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::deque<Failure>> failures_ ABSL_GUARDED_BY(mu_);
  // By name.
  std::map<std::string, v1::Certificate> inventory_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::IssueCertificateResponse> by_request_id_ ABSL_GUARDED_BY(mu_);
  v1::IssuancePolicy policy_ ABSL_GUARDED_BY(mu_);
  int policy_version_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t crl_number_ ABSL_GUARDED_BY(mu_) = 0;
};

// `service` served on 127.0.0.1 with TLS: a server certificate for
// "localhost" from the service's CA, and client certificates requested and,
// when presented, verified against the service's root.
class FakeMandantServer {
 public:
  // `service` must outlive the server. UNAVAILABLE when it cannot listen.
  static absl::StatusOr<std::unique_ptr<FakeMandantServer>> Start(FakeCertificateService* service);
  ~FakeMandantServer();

  // "localhost:PORT".
  std::string address() const;

 private:
  explicit FakeMandantServer(std::unique_ptr<grpc::Server> server, int port)
      : server_(std::move(server)), port_(port) {}

  std::unique_ptr<grpc::Server> server_;
  int port_;
};

}  // namespace mandant::cli::testing

#endif  // MANDANT_TESTS_UNIT_CLI_FAKE_CERTIFICATE_SERVICE_H_
