#include "pki/crl.h"

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include <openssl/x509v3.h>

#include "pki/asn1_time.h"
#include "pki/encoding.h"
#include "pki/openssl_error.h"
#include "pki/serial.h"

namespace mandant::pki {
namespace {

absl::Status CheckReason(RevocationReason reason) {
  switch (reason) {
    case RevocationReason::kCertificateHold:
      return absl::InvalidArgumentError(
          "revocation reason certificateHold is not accepted: revocation is final");
    case RevocationReason::kRemoveFromCrl:
      return absl::InvalidArgumentError(
          "revocation reason removeFromCRL is not accepted: it belongs to delta CRLs");
    case RevocationReason::kUnspecified:
    case RevocationReason::kKeyCompromise:
    case RevocationReason::kCaCompromise:
    case RevocationReason::kAffiliationChanged:
    case RevocationReason::kSuperseded:
    case RevocationReason::kCessationOfOperation:
    case RevocationReason::kPrivilegeWithdrawn:
    case RevocationReason::kAaCompromise:
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown revocation reason ", static_cast<int>(reason)));
}

absl::StatusOr<X509RevokedPtr> MakeEntry(const RevokedCertificate& entry) {
  if (absl::Status s = CheckReason(entry.reason); !s.ok()) return s;
  absl::StatusOr<Asn1IntegerPtr> serial = SerialFromHex(entry.serial_hex);
  if (!serial.ok()) return serial.status();
  absl::StatusOr<Asn1TimePtr> when = ToAsn1Time(entry.revocation_time);
  if (!when.ok()) return when.status();
  X509RevokedPtr revoked(X509_REVOKED_new());
  if (revoked == nullptr || !X509_REVOKED_set_serialNumber(revoked.get(), serial->get()) ||
      !X509_REVOKED_set_revocationDate(revoked.get(), when->get())) {
    return OpenSslError("building a CRL entry failed");
  }
  if (entry.reason != RevocationReason::kUnspecified) {
    Asn1EnumeratedPtr code(ASN1_ENUMERATED_new());
    if (code == nullptr || !ASN1_ENUMERATED_set(code.get(), static_cast<long>(entry.reason)) ||
        X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, code.get(), 0, 0) != 1) {
      return OpenSslError("adding a CRL reason code failed");
    }
  }
  return revoked;
}

}  // namespace

absl::StatusOr<SignedCrl> BuildCrl(const CertificateAuthority& issuer, const CrlSpec& spec) {
  ClearOpenSslErrors();
  if ((X509_get_key_usage(issuer.certificate()) & KU_CRL_SIGN) == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "issuer \"", issuer.subject(), "\" may not sign CRLs (its key usage lacks cRLSign)"));
  }
  if (spec.crl_number < 0) {
    return absl::InvalidArgumentError(absl::StrCat("CRL number ", spec.crl_number, " is negative"));
  }
  if (spec.next_update <= spec.this_update) {
    return absl::InvalidArgumentError(
        absl::StrCat("CRL next_update ", FormatCertTime(spec.next_update),
                     " is not after this_update ", FormatCertTime(spec.this_update)));
  }
  X509CrlPtr crl(X509_CRL_new());
  if (crl == nullptr || !X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) ||
      !X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.certificate()))) {
    return OpenSslError("building a CRL failed");
  }
  absl::StatusOr<Asn1TimePtr> this_update = ToAsn1Time(spec.this_update);
  if (!this_update.ok()) return this_update.status();
  absl::StatusOr<Asn1TimePtr> next_update = ToAsn1Time(spec.next_update);
  if (!next_update.ok()) return next_update.status();
  if (!X509_CRL_set1_lastUpdate(crl.get(), this_update->get()) ||
      !X509_CRL_set1_nextUpdate(crl.get(), next_update->get())) {
    return OpenSslError("setting the CRL's update times failed");
  }

  std::set<std::string> seen;
  for (const RevokedCertificate& entry : spec.revoked) {
    if (!seen.insert(absl::AsciiStrToLower(entry.serial_hex)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("serial ", entry.serial_hex, " is listed twice in the CRL"));
    }
    absl::StatusOr<X509RevokedPtr> revoked = MakeEntry(entry);
    if (!revoked.ok()) return revoked.status();
    if (!X509_CRL_add0_revoked(crl.get(), revoked->get())) {
      return OpenSslError("adding a CRL entry failed");
    }
    revoked->release();
  }
  if (!X509_CRL_sort(crl.get())) return OpenSslError("sorting the CRL failed");

  Asn1IntegerPtr number(ASN1_INTEGER_new());
  if (number == nullptr || !ASN1_INTEGER_set_int64(number.get(), spec.crl_number) ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1) {
    return OpenSslError("adding the CRL number failed");
  }
  const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(issuer.certificate());
  if (skid != nullptr) {
    AuthorityKeyIdPtr akid(AUTHORITY_KEYID_new());
    if (akid == nullptr || (akid->keyid = ASN1_OCTET_STRING_dup(skid)) == nullptr ||
        X509_CRL_add1_ext_i2d(crl.get(), NID_authority_key_identifier, akid.get(), 0, 0) != 1) {
      return OpenSslError("adding the CRL's authorityKeyIdentifier failed");
    }
  }
  if (X509_CRL_sign(crl.get(), issuer.private_key(), SignatureDigest(issuer.key_info().type)) <=
      0) {
    return OpenSslError("signing the CRL failed");
  }
  SignedCrl out;
  absl::StatusOr<std::string> der = CrlToDer(crl.get());
  if (!der.ok()) return der.status();
  absl::StatusOr<std::string> pem = CrlToPem(crl.get());
  if (!pem.ok()) return pem.status();
  out.crl = std::move(crl);
  out.der = *std::move(der);
  out.pem = *std::move(pem);
  return out;
}

}  // namespace mandant::pki
