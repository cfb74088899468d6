#include "controller/serving_credentials.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

#include "common/status_macros.h"

namespace mandant::controller {
namespace {

absl::StatusOr<int> MemoryFile(const char* name) {
  const int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("memfd_create: ", std::strerror(errno)));
  }
  return fd;
}

absl::Status Replace(int fd, absl::string_view text) {
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return absl::InternalError(absl::StrCat("writing a memory file: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::string PathOf(int fd) { return absl::StrCat("/proc/self/fd/", fd); }

}  // namespace

absl::StatusOr<std::unique_ptr<ServingCredentials>> ServingCredentials::Create(
    absl::string_view key_pem, absl::string_view cert_chain_pem, absl::string_view client_cas,
    unsigned refresh_seconds) {
  std::unique_ptr<ServingCredentials> c(new ServingCredentials());
  MANDANT_ASSIGN_OR_RETURN(c->key_fd_, MemoryFile("mandantd-key"));
  MANDANT_ASSIGN_OR_RETURN(c->cert_fd_, MemoryFile("mandantd-cert"));
  MANDANT_ASSIGN_OR_RETURN(c->ca_fd_, MemoryFile("mandantd-client-cas"));
  c->request_client_certs_ = !client_cas.empty();
  MANDANT_RETURN_IF_ERROR(c->Update(key_pem, cert_chain_pem, client_cas));

  auto provider =
      c->request_client_certs_
          ? std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
                PathOf(c->key_fd_), PathOf(c->cert_fd_), PathOf(c->ca_fd_), refresh_seconds)
          : std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
                PathOf(c->key_fd_), PathOf(c->cert_fd_), refresh_seconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (c->request_client_certs_) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  c->credentials_ = grpc::experimental::TlsServerCredentials(options);
  if (c->credentials_ == nullptr) return absl::InternalError("gRPC refused the TLS options");
  return c;
}

ServingCredentials::~ServingCredentials() {
  for (int fd : {key_fd_, cert_fd_, ca_fd_}) {
    if (fd >= 0) close(fd);
  }
}

absl::Status ServingCredentials::Update(absl::string_view key_pem, absl::string_view cert_chain_pem,
                                        absl::string_view client_cas) {
  MANDANT_RETURN_IF_ERROR(Replace(key_fd_, key_pem));
  MANDANT_RETURN_IF_ERROR(Replace(cert_fd_, cert_chain_pem));
  if (request_client_certs_ && !client_cas.empty()) {
    MANDANT_RETURN_IF_ERROR(Replace(ca_fd_, client_cas));
  }
  return absl::OkStatus();
}

}  // namespace mandant::controller
