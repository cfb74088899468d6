#include "agents/agent/identity.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include <openssl/x509.h>

#include "common/files.h"
#include "common/status_macros.h"
#include "common/uuid.h"
#include "mandant/v1/agent.grpc.pb.h"
#include "pki/certificate_info.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/key.h"

namespace mandant::agent {
namespace {

constexpr char kKeyMarker[] = "-----BEGIN PRIVATE KEY-----";

std::string IdentityDir(const std::string& state_dir) { return state_dir + "/identity"; }

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status EnsureDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Errno("cannot create", dir);
  if (chmod(dir.c_str(), 0700) != 0) return Errno("cannot chmod", dir);
  return absl::OkStatus();
}

absl::StatusOr<std::string> NewCsrPem(pki::SecretBytes& key_pem_out) {
  MANDANT_ASSIGN_OR_RETURN(pki::EvpPkeyPtr key, pki::GenerateKey(pki::KeyType::kEcdsaP256));
  MANDANT_ASSIGN_OR_RETURN(pki::X509ReqPtr csr, pki::BuildCsr(key.get(), "", {}));
  MANDANT_ASSIGN_OR_RETURN(key_pem_out, pki::PrivateKeyToPem(key.get()));
  return pki::CsrToPem(csr.get());
}

// A crash between writing and renaming leaves "<file>.tmp-<pid>", which may
// hold a key: removed on the next start.
void RemoveStaleTemporaries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    if (absl::StrContains(e->d_name, ".tmp-")) unlink((dir + "/" + e->d_name).c_str());
  }
  closedir(d);
}

}  // namespace

absl::StatusOr<AgentIdentity> AgentIdentity::FromPem(std::string state_dir, std::string ca_pem,
                                                     pki::SecretBytes key_pem,
                                                     std::string cert_pem) {
  auto key = pki::ParsePrivateKey(key_pem.view());
  auto cert = pki::ParseCertificate(cert_pem);
  if (!key.ok() || !cert.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the agent's identity in ", IdentityDir(state_dir),
        " does not parse; remove the directory and enroll again with a new bootstrap token"));
  }
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    return absl::DataLossError(absl::StrCat(
        "the agent's key and certificate in ", IdentityDir(state_dir),
        " do not match; remove the directory and enroll again with a new bootstrap token"));
  }
  MANDANT_ASSIGN_OR_RETURN(pki::CertificateInfo info, pki::DescribeCertificate(cert->get()));
  AgentIdentity id;
  id.state_dir_ = std::move(state_dir);
  id.ca_pem_ = std::move(ca_pem);
  id.key_pem_ = std::move(key_pem);
  id.cert_pem_ = std::move(cert_pem);
  id.not_before_ = info.not_before;
  id.not_after_ = info.not_after;
  return id;
}

absl::StatusOr<AgentIdentity> AgentIdentity::Load(const std::string& state_dir) {
  const std::string dir = IdentityDir(state_dir);
  RemoveStaleTemporaries(dir);
  MANDANT_ASSIGN_OR_RETURN(std::string ca, ReadFile(dir + "/ca.pem"));
  MANDANT_ASSIGN_OR_RETURN(std::string both, ReadFile(dir + "/credentials.pem"));
  const size_t key_at = both.find(kKeyMarker);
  if (key_at == std::string::npos) {
    return absl::DataLossError(absl::StrCat(dir, "/credentials.pem holds no private key; remove ",
                                            dir, " and enroll again with a new bootstrap token"));
  }
  pki::SecretBytes key_pem(absl::string_view(both).substr(key_at));
  std::string cert = both.substr(0, key_at);
  std::fill(both.begin(), both.end(), '\0');
  return FromPem(state_dir, std::move(ca), std::move(key_pem), std::move(cert));
}

absl::Status AgentIdentity::Store() const {
  const std::string dir = IdentityDir(state_dir_);
  MANDANT_RETURN_IF_ERROR(EnsureDir(state_dir_));
  MANDANT_RETURN_IF_ERROR(EnsureDir(dir));
  MANDANT_RETURN_IF_ERROR(WriteFileAtomically(dir + "/ca.pem", ca_pem_, 0644));
  // Certificate and key in one file, so that one rename replaces both.
  pki::SecretBytes both(absl::StrCat(cert_pem_, key_pem_.view()));
  return WriteFileAtomically(dir + "/credentials.pem", both.view(), 0600);
}

absl::StatusOr<AgentIdentity> AgentIdentity::Enroll(const std::string& state_dir,
                                                    const std::string& controller,
                                                    const std::string& host,
                                                    const std::string& token,
                                                    const std::string& ca_pem) {
  pki::SecretBytes key_pem;
  MANDANT_ASSIGN_OR_RETURN(std::string csr, NewCsrPem(key_pem));
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_pem;
  auto channel = grpc::CreateChannel(controller, grpc::SslCredentials(ssl));
  auto stub = v1::AgentService::NewStub(channel);
  v1::EnrollRequest request;
  request.set_host(absl::StrCat("hosts/", host));
  request.set_bootstrap_token(token);
  request.set_csr(csr);
  // The same id on every attempt: a retry after a lost answer gets the
  // certificate the token already paid for.
  request.set_request_id(NewUuid());
  v1::EnrollResponse response;
  grpc::Status st;
  constexpr int kAttempts = 5;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (attempt > 0) absl::SleepFor(absl::Seconds(1 << (attempt - 1)));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    st = stub->Enroll(&context, request, &response);
    if (st.error_code() != grpc::StatusCode::UNAVAILABLE &&
        st.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      break;
    }
  }
  if (!st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                        absl::StrCat("enrolling at ", controller, ": ", st.error_message()));
  }
  MANDANT_ASSIGN_OR_RETURN(AgentIdentity id,
                           FromPem(state_dir, ca_pem, std::move(key_pem),
                                   absl::StrCat(response.certificate_pem(), response.chain_pem())));
  MANDANT_RETURN_IF_ERROR(id.Store());
  return id;
}

std::shared_ptr<grpc::ChannelCredentials> AgentIdentity::Credentials() const {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_pem_;
  ssl.pem_private_key = std::string(key_pem_.view());
  ssl.pem_cert_chain = cert_pem_;
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::string> AgentIdentity::PrepareRenewal() {
  auto key = std::make_shared<pki::SecretBytes>();
  MANDANT_ASSIGN_OR_RETURN(std::string csr, NewCsrPem(*key));
  pending_key_pem_ = std::move(key);
  return csr;
}

absl::Status AgentIdentity::Renewed(absl::string_view certificate_pem,
                                    absl::string_view chain_pem) {
  if (pending_key_pem_ == nullptr) {
    return absl::FailedPreconditionError("a renewed certificate arrived without a renewal");
  }
  // Checked here rather than left to FromPem, whose DATA_LOSS and advice to
  // enroll again are for a broken identity on disk, not a bad answer.
  auto cert = pki::ParseCertificate(certificate_pem);
  if (!cert.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the renewed certificate does not parse: ", cert.status().message()));
  }
  MANDANT_ASSIGN_OR_RETURN(pki::EvpPkeyPtr key, pki::ParsePrivateKey(pending_key_pem_->view()));
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    return absl::FailedPreconditionError(
        "the renewed certificate is not for the key of this agent's renewal request; keeping "
        "the current certificate");
  }
  MANDANT_ASSIGN_OR_RETURN(AgentIdentity renewed,
                           FromPem(state_dir_, ca_pem_, pki::SecretBytes(pending_key_pem_->view()),
                                   absl::StrCat(certificate_pem, chain_pem)));
  MANDANT_RETURN_IF_ERROR(renewed.Store());
  *this = std::move(renewed);
  return absl::OkStatus();
}

}  // namespace mandant::agent
