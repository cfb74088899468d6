#include "pki/certificate_builder.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "pki/asn1_time.h"
#include "pki/key.h"
#include "pki/openssl_error.h"
#include "pki/serial.h"

namespace mandant::pki {
namespace {

constexpr int kKeyUsageDigitalSignature = 0;
constexpr int kKeyUsageKeyEncipherment = 2;
constexpr int kKeyUsageKeyCertSign = 5;
constexpr int kKeyUsageCrlSign = 6;
constexpr size_t kMaxCommonName = 64;  // ub-common-name, RFC 5280 appendix A.

absl::Status AddExtension(X509* cert, int nid, void* value, bool critical, absl::string_view what) {
  if (X509_add1_ext_i2d(cert, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError(absl::StrCat("adding the ", what, " extension failed"));
  }
  return absl::OkStatus();
}

absl::Status AddNameEntry(X509_NAME* name, int nid, absl::string_view field,
                          absl::string_view value) {
  if (value.empty()) return absl::OkStatus();
  if (value.size() > kMaxCommonName) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject ", field, " is longer than ", kMaxCommonName, " characters"));
  }
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat("subject ", field, " contains a control character"));
    }
  }
  if (!X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(value.data()),
                                  static_cast<int>(value.size()), -1, 0)) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat("subject ", field, " is not valid UTF-8 text"));
  }
  return absl::OkStatus();
}

absl::Status SetValidity(X509* cert, absl::Time not_before, absl::Time not_after) {
  if (not_after <= not_before) {
    return absl::InvalidArgumentError(absl::StrCat("not_after ", FormatCertTime(not_after),
                                                   " is not after not_before ",
                                                   FormatCertTime(not_before)));
  }
  absl::StatusOr<Asn1TimePtr> nb = ToAsn1Time(not_before);
  if (!nb.ok()) return nb.status();
  absl::StatusOr<Asn1TimePtr> na = ToAsn1Time(not_after);
  if (!na.ok()) return na.status();
  if (!X509_set1_notBefore(cert, nb->get()) || !X509_set1_notAfter(cert, na->get())) {
    return OpenSslError("setting the validity failed");
  }
  return absl::OkStatus();
}

// A key in OpenSSL's built-in ("legacy") form on `curve` ("P-256"), to
// copy: d2i_PublicKey turns a provider key holding the curve's parameters
// into one, and then sets the public point of copies in place. Its own point
// is that of a throwaway key; it has no private key. Never modified after
// construction, so it may be copied from any thread. Null when OpenSSL
// cannot make it.
EVP_PKEY* MakeBuiltinCurveKey(const char* curve) {
  EvpPkeyPtr generated(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  unsigned char point[256];
  size_t len = 0;
  if (generated == nullptr ||
      EVP_PKEY_get_octet_string_param(generated.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                      sizeof(point), &len) != 1) {
    return nullptr;
  }
  EVP_PKEY* key = EVP_PKEY_new();
  if (key == nullptr || EVP_PKEY_copy_parameters(key, generated.get()) != 1) {
    EVP_PKEY_free(key);
    return nullptr;
  }
  const unsigned char* p = point;
  if (d2i_PublicKey(EVP_PKEY_EC, &key, &p, static_cast<long>(len)) == nullptr ||
      EVP_PKEY_get0_provider(key) != nullptr) {
    EVP_PKEY_free(key);
    return nullptr;
  }
  return key;
}

EVP_PKEY* BuiltinCurveKey(KeyType type) {
  static EVP_PKEY* const p256 = MakeBuiltinCurveKey("P-256");
  static EVP_PKEY* const p384 = MakeBuiltinCurveKey("P-384");
  return type == KeyType::kEcdsaP256 ? p256 : type == KeyType::kEcdsaP384 ? p384 : nullptr;
}

// X509_set_pubkey, without its slow path where that can be avoided. For a
// key held by a provider (every key OpenSSL 3 generates or decodes), OpenSSL
// 3.0 runs the key through its encoder and the result back through its
// decoder, setting up both afresh (about 400 us, more than everything else
// in an issuance together); for a key in the built-in form it writes the
// SubjectPublicKeyInfo directly. So a P-256 or P-384 key is first copied
// into that form from its encoded point, which gives the same
// SubjectPublicKeyInfo (named curve, the point as the key encodes it). The
// certificate holds the copy, and X509_get0_pubkey works on it as on any key.
absl::Status SetPublicKey(X509* cert, const EVP_PKEY* key, const KeyInfo& info) {
  // X509_set_pubkey only reads the key; its signature predates const.
  EVP_PKEY* to_set = const_cast<EVP_PKEY*>(key);
  EvpPkeyPtr builtin;
  EVP_PKEY* builtin_curve = BuiltinCurveKey(info.type);
  if (builtin_curve != nullptr && EVP_PKEY_get0_provider(key) != nullptr) {
    unsigned char point[256];
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                        sizeof(point), &len) == 1) {
      builtin.reset(EVP_PKEY_dup(builtin_curve));
      EVP_PKEY* target = builtin.get();
      const unsigned char* p = point;
      if (builtin != nullptr &&
          d2i_PublicKey(EVP_PKEY_EC, &target, &p, static_cast<long>(len)) != nullptr) {
        to_set = builtin.get();
      }
    }
    ClearOpenSslErrors();
  }
  if (!X509_set_pubkey(cert, to_set)) return OpenSslError("setting the public key failed");
  return absl::OkStatus();
}

absl::Status AddBasicConstraints(X509* cert, const std::optional<CaExtensions>& ca) {
  BasicConstraintsPtr bc(BASIC_CONSTRAINTS_new());
  if (bc == nullptr) return OpenSslError("allocating basicConstraints failed");
  bc->ca = ca.has_value() ? 0xff : 0;
  if (ca.has_value() && ca->path_length >= 0) {
    bc->pathlen = ASN1_INTEGER_new();
    if (bc->pathlen == nullptr || !ASN1_INTEGER_set(bc->pathlen, ca->path_length)) {
      return OpenSslError("setting the path length failed");
    }
  }
  return AddExtension(cert, NID_basic_constraints, bc.get(), true, "basicConstraints");
}

absl::Status AddKeyUsage(X509* cert, const CertificateTemplate& tmpl, const KeyInfo& key) {
  Asn1BitStringPtr usage(ASN1_BIT_STRING_new());
  if (usage == nullptr) return OpenSslError("allocating keyUsage failed");
  std::vector<int> bits;
  if (tmpl.ca.has_value()) {
    bits = {kKeyUsageKeyCertSign, kKeyUsageCrlSign};
  } else {
    bits = {kKeyUsageDigitalSignature};
    bool server = false;
    for (ExtendedKeyUsage u : tmpl.extended_key_usages)
      server |= u == ExtendedKeyUsage::kServerAuth;
    if (key.type == KeyType::kRsa && server) bits.push_back(kKeyUsageKeyEncipherment);
  }
  for (int bit : bits) {
    if (!ASN1_BIT_STRING_set_bit(usage.get(), bit, 1)) {
      return OpenSslError("setting a keyUsage bit failed");
    }
  }
  return AddExtension(cert, NID_key_usage, usage.get(), true, "keyUsage");
}

absl::Status AddExtendedKeyUsage(X509* cert, const std::vector<ExtendedKeyUsage>& usages) {
  Asn1ObjectStackPtr eku(sk_ASN1_OBJECT_new_null());
  if (eku == nullptr) return OpenSslError("allocating extendedKeyUsage failed");
  for (ExtendedKeyUsage u : usages) {
    ASN1_OBJECT* oid =
        OBJ_nid2obj(u == ExtendedKeyUsage::kServerAuth ? NID_server_auth : NID_client_auth);
    if (oid == nullptr || !sk_ASN1_OBJECT_push(eku.get(), oid)) {
      return OpenSslError("building extendedKeyUsage failed");
    }
  }
  return AddExtension(cert, NID_ext_key_usage, eku.get(), false, "extendedKeyUsage");
}

absl::Status AddKeyIdentifiers(X509* cert, X509* issuer_cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!X509_pubkey_digest(cert, EVP_sha1(), digest, &len)) {
    return OpenSslError("computing the subject key identifier failed");
  }
  Asn1OctetStringPtr skid(ASN1_OCTET_STRING_new());
  if (skid == nullptr || !ASN1_OCTET_STRING_set(skid.get(), digest, static_cast<int>(len))) {
    return OpenSslError("building subjectKeyIdentifier failed");
  }
  if (absl::Status s =
          AddExtension(cert, NID_subject_key_identifier, skid.get(), false, "subjectKeyIdentifier");
      !s.ok()) {
    return s;
  }
  const ASN1_OCTET_STRING* issuer_skid =
      issuer_cert == nullptr ? skid.get() : X509_get0_subject_key_id(issuer_cert);
  if (issuer_skid == nullptr) {
    return absl::InvalidArgumentError(
        "issuer certificate has no subjectKeyIdentifier, so the authorityKeyIdentifier cannot "
        "name it; reissue the CA certificate with one");
  }
  AuthorityKeyIdPtr akid(AUTHORITY_KEYID_new());
  if (akid == nullptr || (akid->keyid = ASN1_OCTET_STRING_dup(issuer_skid)) == nullptr) {
    return OpenSslError("building authorityKeyIdentifier failed");
  }
  return AddExtension(cert, NID_authority_key_identifier, akid.get(), false,
                      "authorityKeyIdentifier");
}

absl::Status AddCrlDistributionPoint(X509* cert, const std::string& url) {
  if (absl::Status s = ValidateCrlUrl(url); !s.ok()) return s;
  CrlDistPointsPtr points(CRL_DIST_POINTS_new());
  DistPointPtr point(DIST_POINT_new());
  GeneralNamePtr name(GENERAL_NAME_new());
  ASN1_IA5STRING* str = ASN1_IA5STRING_new();
  if (points == nullptr || point == nullptr || name == nullptr || str == nullptr ||
      !ASN1_STRING_set(str, url.data(), static_cast<int>(url.size()))) {
    ASN1_IA5STRING_free(str);
    return OpenSslError("building the CRL distribution point failed");
  }
  GENERAL_NAME_set0_value(name.get(), GEN_URI, str);
  point->distpoint = DIST_POINT_NAME_new();
  if (point->distpoint == nullptr)
    return OpenSslError("building the CRL distribution point failed");
  point->distpoint->type = 0;  // fullName
  point->distpoint->name.fullname = GENERAL_NAMES_new();
  if (point->distpoint->name.fullname == nullptr ||
      !sk_GENERAL_NAME_push(point->distpoint->name.fullname, name.get())) {
    return OpenSslError("building the CRL distribution point failed");
  }
  name.release();
  if (!sk_DIST_POINT_push(points.get(), point.get())) {
    return OpenSslError("building the CRL distribution points failed");
  }
  point.release();
  return AddExtension(cert, NID_crl_distribution_points, points.get(), false,
                      "cRLDistributionPoints");
}

}  // namespace

absl::Status ValidateCrlUrl(absl::string_view url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://") && !absl::ConsumePrefix(&rest, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat("CRL distribution point \"", url.substr(0, 100),
                                                   "\" must start with http:// or https://"));
  }
  if (url.size() > 2048) {
    return absl::InvalidArgumentError("CRL distribution point is longer than 2048 characters");
  }
  if (rest.empty() || rest.front() == '/' || rest.front() == ':') {
    return absl::InvalidArgumentError(
        absl::StrCat("CRL distribution point \"", url, "\" has no host"));
  }
  for (char c : url) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          "CRL distribution point contains a space, control or non-ASCII character; "
          "percent-encode it");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<X509Ptr> BuildCertificate(const CertificateTemplate& tmpl, X509* issuer_cert,
                                         EVP_PKEY* issuer_key) {
  ClearOpenSslErrors();
  if (tmpl.public_key == nullptr) return absl::InvalidArgumentError("no subject public key");
  if (issuer_key == nullptr) return absl::InvalidArgumentError("no issuer key");
  absl::StatusOr<KeyInfo> subject_key = ClassifyKey(tmpl.public_key);
  if (!subject_key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject key: ", subject_key.status().message()));
  }
  absl::StatusOr<KeyInfo> signing_key = ClassifyKey(issuer_key);
  if (!signing_key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("issuer key: ", signing_key.status().message()));
  }
  if (issuer_cert == nullptr && EVP_PKEY_eq(tmpl.public_key, issuer_key) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError(
        "self-signed certificate: the signing key is not the subject's key");
  }
  if (tmpl.ca.has_value() && tmpl.common_name.empty()) {
    return absl::InvalidArgumentError("a CA certificate needs a subject common name");
  }
  if (!tmpl.ca.has_value()) {
    if (tmpl.extended_key_usages.empty()) {
      return absl::InvalidArgumentError(
          "a leaf certificate needs at least one extended key usage (server or client auth)");
    }
    if (tmpl.common_name.empty() && tmpl.organization.empty() && tmpl.subject_alt_names.empty()) {
      return absl::InvalidArgumentError(
          "a leaf certificate needs a subject or at least one subject alternative name");
    }
  }

  X509Ptr cert(X509_new());
  if (cert == nullptr) return OpenSslError("allocating a certificate failed");
  if (!X509_set_version(cert.get(), X509_VERSION_3))
    return OpenSslError("setting the version failed");

  absl::StatusOr<Asn1IntegerPtr> serial = RandomSerial();
  if (!serial.ok()) return serial.status();
  if (!X509_set_serialNumber(cert.get(), serial->get())) {
    return OpenSslError("setting the serial number failed");
  }

  // Written into the certificate's own name: X509_set_subject_name would
  // copy it (an encode and a decode).
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (absl::Status s =
          AddNameEntry(subject, NID_organizationName, "organization", tmpl.organization);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = AddNameEntry(subject, NID_commonName, "common name", tmpl.common_name);
      !s.ok()) {
    return s;
  }
  const bool empty_subject = X509_NAME_entry_count(subject) == 0;
  if (!X509_set_issuer_name(
          cert.get(), issuer_cert == nullptr ? subject : X509_get_subject_name(issuer_cert))) {
    return OpenSslError("setting the issuer name failed");
  }
  if (absl::Status s = SetValidity(cert.get(), tmpl.not_before, tmpl.not_after); !s.ok()) return s;
  if (absl::Status s = SetPublicKey(cert.get(), tmpl.public_key, *subject_key); !s.ok()) return s;

  if (absl::Status s = AddBasicConstraints(cert.get(), tmpl.ca); !s.ok()) return s;
  if (absl::Status s = AddKeyUsage(cert.get(), tmpl, *subject_key); !s.ok()) return s;
  if (!tmpl.ca.has_value()) {
    if (absl::Status s = AddExtendedKeyUsage(cert.get(), tmpl.extended_key_usages); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = AddKeyIdentifiers(cert.get(), issuer_cert); !s.ok()) return s;
  if (!tmpl.subject_alt_names.empty()) {
    absl::StatusOr<GeneralNamesPtr> names = ToGeneralNames(tmpl.subject_alt_names);
    if (!names.ok()) return names.status();
    if (absl::Status s = AddExtension(cert.get(), NID_subject_alt_name, names->get(), empty_subject,
                                      "subjectAltName");
        !s.ok()) {
      return s;
    }
  }
  if (tmpl.ca.has_value() && tmpl.ca->name_constraints.has_value()) {
    absl::StatusOr<NameConstraintsPtr> nc = ToX509NameConstraints(*tmpl.ca->name_constraints);
    if (!nc.ok()) return nc.status();
    if (absl::Status s =
            AddExtension(cert.get(), NID_name_constraints, nc->get(), true, "nameConstraints");
        !s.ok()) {
      return s;
    }
  }
  if (!tmpl.crl_distribution_point.empty()) {
    if (absl::Status s = AddCrlDistributionPoint(cert.get(), tmpl.crl_distribution_point);
        !s.ok()) {
      return s;
    }
  }

  if (X509_sign(cert.get(), issuer_key, SignatureDigest(signing_key->type)) <= 0) {
    return OpenSslError("signing the certificate failed");
  }
  return cert;
}

}  // namespace mandant::pki
