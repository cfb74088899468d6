#include "pki/certificate_authority.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include <openssl/x509v3.h>

#include "pki/asn1_time.h"
#include "pki/encoding.h"
#include "pki/openssl_error.h"

namespace mandant::pki {
namespace {

absl::Status CheckCaSpec(absl::string_view common_name, absl::Duration validity) {
  if (common_name.empty()) return absl::InvalidArgumentError("a CA needs a common name");
  if (validity <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CA validity must be positive, got ", absl::FormatDuration(validity)));
  }
  return absl::OkStatus();
}

}  // namespace

CertificateAuthority::CertificateAuthority(X509Ptr cert, EvpPkeyPtr key, KeyInfo key_info,
                                           std::string subject, absl::Time not_before,
                                           absl::Time not_after, int path_length,
                                           NameConstraintsPtr name_constraints)
    : cert_(std::move(cert)),
      key_(std::move(key)),
      key_info_(key_info),
      subject_(std::move(subject)),
      not_before_(not_before),
      not_after_(not_after),
      path_length_(path_length),
      name_constraints_(std::move(name_constraints)) {}

absl::StatusOr<CertificateAuthority> CertificateAuthority::Create(X509Ptr cert, EvpPkeyPtr key) {
  if (cert == nullptr || key == nullptr) {
    return absl::InvalidArgumentError("a CA needs a certificate and a private key");
  }
  ClearOpenSslErrors();
  const std::string subject = NameToString(X509_get_subject_name(cert.get()));
  // Also parses and caches the extensions, so that later concurrent reads
  // of the certificate do not write to it.
  const uint32_t flags = X509_get_extension_flags(cert.get());
  if ((flags & EXFLAG_INVALID) != 0) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat("CA certificate \"", subject, "\" has malformed extensions"));
  }
  if (X509_check_ca(cert.get()) != 1 || (X509_get_key_usage(cert.get()) & KU_KEY_CERT_SIGN) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate \"", subject,
        "\" is not a CA certificate (needs basicConstraints CA:TRUE and keyUsage keyCertSign)"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat("the private key does not belong to CA certificate \"", subject, "\""));
  }
  absl::StatusOr<KeyInfo> info = ClassifyKey(key.get());
  if (!info.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CA \"", subject, "\": ", info.status().message()));
  }
  absl::StatusOr<absl::Time> not_before = FromAsn1Time(X509_get0_notBefore(cert.get()));
  if (!not_before.ok()) return not_before.status();
  absl::StatusOr<absl::Time> not_after = FromAsn1Time(X509_get0_notAfter(cert.get()));
  if (!not_after.ok()) return not_after.status();
  const int path_length = static_cast<int>(X509_get_pathlen(cert.get()));
  NameConstraintsPtr nc(static_cast<NAME_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.get(), NID_name_constraints, nullptr, nullptr)));
  ClearOpenSslErrors();
  return CertificateAuthority(std::move(cert), std::move(key), *info, subject, *not_before,
                              *not_after, path_length, std::move(nc));
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::FromPem(
    absl::string_view cert_pem, absl::string_view key_pem_or_der) {
  absl::StatusOr<X509Ptr> cert = ParseCertificate(cert_pem);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKey(key_pem_or_der);
  if (!key.ok()) return key.status();
  return Create(*std::move(cert), *std::move(key));
}

absl::Status CertificateAuthority::CheckCanIssueUntil(absl::Time now, absl::Time not_after) const {
  if (now < not_before_) {
    return absl::FailedPreconditionError(
        absl::StrCat("issuer \"", subject_, "\" is not valid before ", FormatCertTime(not_before_),
                     " (now ", FormatCertTime(now), ")"));
  }
  if (now >= not_after_) {
    return absl::FailedPreconditionError(absl::StrCat("issuer \"", subject_, "\" expired at ",
                                                      FormatCertTime(not_after_),
                                                      "; activate a successor"));
  }
  if (not_after > not_after_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a certificate valid until ", FormatCertTime(not_after), " would outlive its issuer \"",
        subject_, "\", which expires at ", FormatCertTime(not_after_), "; shorten the validity"));
  }
  return absl::OkStatus();
}

absl::StatusOr<CertificateAuthority> CreateRootCa(const RootCaSpec& spec, absl::Time now) {
  if (absl::Status s = CheckCaSpec(spec.common_name, spec.validity); !s.ok()) return s;
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(spec.key_type);
  if (!key.ok()) return key.status();
  CertificateTemplate tmpl;
  tmpl.common_name = spec.common_name;
  tmpl.organization = spec.organization;
  tmpl.public_key = key->get();
  tmpl.not_before = now - kBackdate;
  tmpl.not_after = now + spec.validity;
  tmpl.ca = CaExtensions{spec.path_length, std::nullopt};
  absl::StatusOr<X509Ptr> cert = BuildCertificate(tmpl, nullptr, key->get());
  if (!cert.ok()) return cert.status();
  return CertificateAuthority::Create(*std::move(cert), *std::move(key));
}

absl::StatusOr<CertificateAuthority> CreateIntermediateCa(const CertificateAuthority& issuer,
                                                          const IntermediateCaSpec& spec,
                                                          absl::Time now) {
  if (absl::Status s = CheckCaSpec(spec.common_name, spec.validity); !s.ok()) return s;
  if (issuer.path_length() == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("issuer \"", issuer.subject(),
                     "\" has path length 0 and cannot sign another CA; use a root"));
  }
  const absl::Time not_after = now + spec.validity;
  if (absl::Status s = issuer.CheckCanIssueUntil(now, not_after); !s.ok()) return s;
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(spec.key_type);
  if (!key.ok()) return key.status();
  CertificateTemplate tmpl;
  tmpl.common_name = spec.common_name;
  tmpl.organization = spec.organization;
  tmpl.public_key = key->get();
  tmpl.not_before = std::max(now - kBackdate, issuer.not_before());
  tmpl.not_after = not_after;
  tmpl.ca = CaExtensions{0, spec.name_constraints};
  tmpl.crl_distribution_point = spec.crl_distribution_point;
  absl::StatusOr<X509Ptr> cert = BuildCertificate(tmpl, issuer.certificate(), issuer.private_key());
  if (!cert.ok()) return cert.status();
  return CertificateAuthority::Create(*std::move(cert), *std::move(key));
}

absl::StatusOr<X509Ptr> IssueLeaf(const CertificateAuthority& issuer, const LeafSpec& spec,
                                  absl::Time now) {
  if (spec.not_after <= now) {
    return absl::InvalidArgumentError(absl::StrCat("not_after ", FormatCertTime(spec.not_after),
                                                   " is not after now (", FormatCertTime(now),
                                                   ")"));
  }
  if (absl::Status s = issuer.CheckCanIssueUntil(now, spec.not_after); !s.ok()) return s;
  if (absl::Status s =
          CheckNamesPermitted(issuer.name_constraints(), spec.common_name, spec.subject_alt_names);
      !s.ok()) {
    return s;
  }
  CertificateTemplate tmpl;
  tmpl.common_name = spec.common_name;
  tmpl.public_key = spec.public_key;
  tmpl.subject_alt_names = spec.subject_alt_names;
  tmpl.not_before = std::max(now - kBackdate, issuer.not_before());
  tmpl.not_after = spec.not_after;
  tmpl.extended_key_usages = spec.extended_key_usages;
  tmpl.crl_distribution_point = spec.crl_distribution_point;
  return BuildCertificate(tmpl, issuer.certificate(), issuer.private_key());
}

}  // namespace mandant::pki
