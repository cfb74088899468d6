#include "cli/client_certificate.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "cli/staged_file.h"
#include "common/files.h"
#include "common/secrets.h"
#include "common/status_macros.h"
#include "pki/asn1_time.h"
#include "pki/certificate_info.h"
#include "pki/encoding.h"
#include "pki/openssl_ptr.h"

namespace mandant::cli {
namespace {

constexpr absl::string_view kRunLogin = "run 'mandantctl login' to get a new one";

std::string Identity(const X509* cert) {
  absl::StatusOr<pki::CertificateInfo> info = pki::DescribeCertificate(cert);
  if (info.ok() && !info->subject_alt_names.uris.empty()) {
    return info->subject_alt_names.uris.front();
  }
  return pki::NameToString(X509_get_subject_name(cert));
}

std::string Remaining(absl::Duration d) {
  if (d >= absl::Minutes(1)) return absl::FormatDuration(absl::Trunc(d, absl::Minutes(1)));
  return absl::FormatDuration(absl::Trunc(d, absl::Seconds(1)));
}

}  // namespace

absl::Status CheckKeyMatchesCertificate(const X509* cert, const EVP_PKEY* key) {
  const EVP_PKEY* cert_key = X509_get0_pubkey(cert);
  if (cert_key == nullptr || key == nullptr || EVP_PKEY_eq(cert_key, key) != 1) {
    return absl::InvalidArgumentError("the certificate is not for this private key");
  }
  return absl::OkStatus();
}

absl::StatusOr<ClientCertificate> LoadClientCertificate(const ClientSettings& settings,
                                                        absl::Time now) {
  const std::string& cert_path = settings.client_cert.value;
  const std::string& key_path = settings.client_key.value;
  const std::string cert_from = absl::StrCat(" (from ", settings.client_cert.source, ")");
  ClientCertificate result;

  absl::StatusOr<std::string> cert_pem = ReadFile(cert_path);
  if (!cert_pem.ok()) {
    return absl::Status(cert_pem.status().code(),
                        absl::StrCat("client certificate", cert_from, ": ",
                                     cert_pem.status().message(), "; ", kRunLogin));
  }
  if (!absl::StrContains(*cert_pem, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(absl::StrCat("client certificate \"", cert_path, "\"",
                                                   cert_from, " holds no PEM certificate"));
  }
  absl::StatusOr<pki::X509Ptr> cert = pki::ParseCertificate(*cert_pem);
  if (!cert.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("client certificate \"", cert_path, "\"",
                                                   cert_from, ": ", cert.status().message()));
  }
  absl::StatusOr<std::string> key_pem = ReadSecretFile(key_path);
  if (!key_pem.ok()) {
    return absl::Status(key_pem.status().code(),
                        absl::StrCat("client key: ", key_pem.status().message(), " (from ",
                                     settings.client_key.source, ")"));
  }
  absl::StatusOr<pki::EvpPkeyPtr> key = pki::ParsePrivateKey(*key_pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("client key \"", key_path, "\" (from ",
                                                   settings.client_key.source,
                                                   "): ", key.status().message()));
  }
  if (!CheckKeyMatchesCertificate(cert->get(), key->get()).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("client key \"", key_path,
                                                   "\" does not belong to client certificate \"",
                                                   cert_path, "\"", cert_from, "; ", kRunLogin));
  }
  absl::StatusOr<absl::Time> not_before = pki::FromAsn1Time(X509_get0_notBefore(cert->get()));
  absl::StatusOr<absl::Time> not_after = pki::FromAsn1Time(X509_get0_notAfter(cert->get()));
  if (!not_before.ok() || !not_after.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("client certificate \"", cert_path, "\"",
                                                   cert_from, " has a malformed validity"));
  }
  if (now >= *not_after) {
    return absl::FailedPreconditionError(
        absl::StrCat("client certificate \"", cert_path, "\"", cert_from, " expired at ",
                     pki::FormatCertTime(*not_after), "; ", kRunLogin));
  }
  if (now < *not_before) {
    return absl::FailedPreconditionError(absl::StrCat(
        "client certificate \"", cert_path, "\"", cert_from, " is not valid before ",
        pki::FormatCertTime(*not_before), "; check this machine's clock, or ", kRunLogin));
  }
  result.cert_pem = *std::move(cert_pem);
  result.key_pem = *std::move(key_pem);
  result.not_after = *not_after;
  result.identity = Identity(cert->get());
  return result;
}

absl::StatusOr<absl::Time> ReadCertificateNotAfter(const std::string& path) {
  MANDANT_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  MANDANT_ASSIGN_OR_RETURN(pki::X509Ptr cert, pki::ParseCertificate(pem));
  return pki::FromAsn1Time(X509_get0_notAfter(cert.get()));
}

std::string ClientCertificateExpiryWarning(const ClientCertificate& cert,
                                           const ClientSettings& settings, absl::Time now) {
  const absl::Duration left = cert.not_after - now;
  if (left > kClientCertificateWarning) return "";
  return absl::StrCat("warning: client certificate ", settings.client_cert.value, " expires at ",
                      pki::FormatCertTime(cert.not_after), " (in ", Remaining(left),
                      "); run 'mandantctl login' to renew it\n");
}

absl::StatusOr<StoredClientCertificate> StoreClientCertificate(const std::string& config_path,
                                                               const Environment& env,
                                                               absl::string_view key_pem,
                                                               absl::string_view cert_pem,
                                                               absl::string_view chain_pem) {
  const std::string folder = Dirname(AbsolutePath(config_path));
  MANDANT_RETURN_IF_ERROR(MakeDirectories(folder));
  StoredClientCertificate stored;
  stored.cert_path = absl::StrCat(folder == "/" ? "" : folder, "/", kClientCertFileName);
  stored.key_path = absl::StrCat(folder == "/" ? "" : folder, "/", kClientKeyFileName);

  std::string cert_file(cert_pem);
  if (!cert_file.empty() && cert_file.back() != '\n') cert_file.push_back('\n');
  absl::StrAppend(&cert_file, chain_pem);
  MANDANT_ASSIGN_OR_RETURN(StagedFile key, StagedFile::Write(stored.key_path, key_pem, 0600));
  MANDANT_ASSIGN_OR_RETURN(StagedFile cert, StagedFile::Write(stored.cert_path, cert_file, 0644));

  ConfigFile config;
  absl::StatusOr<ConfigFile> existing = ReadConfigFile(config_path, env);
  if (existing.ok()) {
    config = *std::move(existing);
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }
  MANDANT_RETURN_IF_ERROR(key.Commit(/*replace=*/true));
  MANDANT_RETURN_IF_ERROR(cert.Commit(/*replace=*/true));
  config.client_cert = stored.cert_path;
  config.client_key = stored.key_path;
  MANDANT_RETURN_IF_ERROR(WriteConfigFile(config_path, config));
  return stored;
}

}  // namespace mandant::cli
