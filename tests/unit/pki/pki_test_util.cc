#include "tests/unit/pki/pki_test_util.h"

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include <openssl/rsa.h>
#include <openssl/x509_vfy.h>

#include "pki/certificate_builder.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "tests/support/subprocess.h"

namespace mandant::pki::testing {
namespace {

absl::Status WriteFile(const std::string& path, absl::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string ShellQuote(absl::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

}  // namespace

int VerifyWithOpenSsl(X509* leaf, const VerifyOptions& options) {
  X509StorePtr store(X509_STORE_new());
  for (X509* ca : options.trusted) X509_STORE_add_cert(store.get(), ca);
  for (X509_CRL* crl : options.crls) X509_STORE_add_crl(store.get(), crl);
  X509StackPtr untrusted(sk_X509_new_null());
  for (X509* cert : options.untrusted) {
    X509_up_ref(cert);
    sk_X509_push(untrusted.get(), cert);
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted.get());
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_X509_STRICT | options.flags);
  if (options.at != absl::InfinitePast()) {
    X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(options.at));
  }
  const int ok = X509_verify_cert(ctx.get());
  const int code = X509_STORE_CTX_get_error(ctx.get());
  if (ok == 1) return X509_V_OK;
  return code == X509_V_OK ? X509_V_ERR_UNSPECIFIED : code;
}

std::string VerifyErrorText(int code) {
  return code == X509_V_OK ? "ok" : X509_verify_cert_error_string(code);
}

absl::Status VerifyWithOpenSslCli(const std::string& leaf_pem,
                                  const std::vector<std::string>& trusted_pems,
                                  const std::vector<std::string>& untrusted_pems,
                                  const std::string& crl_pem,
                                  const std::vector<std::string>& extra_args) {
  absl::StatusOr<std::string> dir = mandant::testing::MakeTempDir("pki-verify");
  if (!dir.ok()) return dir.status();
  const std::string leaf = *dir + "/leaf.pem";
  const std::string trusted = *dir + "/trusted.pem";
  const std::string untrusted = *dir + "/untrusted.pem";
  const std::string crl = *dir + "/crl.pem";
  std::vector<std::string> argv = {"openssl", "verify", "-x509_strict"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  absl::Status s = WriteFile(leaf, leaf_pem);
  if (s.ok()) s = WriteFile(trusted, absl::StrJoin(trusted_pems, ""));
  argv.insert(argv.end(), {"-CAfile", trusted});
  if (s.ok() && !untrusted_pems.empty()) {
    s = WriteFile(untrusted, absl::StrJoin(untrusted_pems, ""));
    argv.insert(argv.end(), {"-untrusted", untrusted});
  }
  if (s.ok() && !crl_pem.empty()) {
    s = WriteFile(crl, crl_pem);
    argv.insert(argv.end(), {"-CRLfile", crl});
  }
  argv.push_back(leaf);
  if (s.ok()) s = mandant::testing::RunCommand(argv).status();
  mandant::testing::RemoveTree(*dir);
  return s;
}

absl::StatusOr<std::string> RunShell(const std::string& script, absl::string_view input) {
  absl::StatusOr<std::string> dir = mandant::testing::MakeTempDir("pki-shell");
  if (!dir.ok()) return dir.status();
  const std::string in = *dir + "/in";
  absl::StatusOr<std::string> out = absl::InternalError("not run");
  if (absl::Status s = WriteFile(in, input); !s.ok()) {
    out = s;
  } else {
    out = mandant::testing::RunCommand(
        {"sh", "-c", absl::StrCat("IN=", ShellQuote(in), "; ", script)});
  }
  mandant::testing::RemoveTree(*dir);
  return out;
}

std::string Pem(const X509* cert) {
  absl::StatusOr<std::string> pem = CertificateToPem(cert);
  return pem.ok() ? *pem : std::string();
}

NameConstraints TenantConstraints(absl::string_view tenant, absl::string_view ip_range) {
  NameConstraints nc;
  nc.permitted_dns_domains = {absl::StrCat(tenant, ".svc.example.net")};
  nc.permitted_uri_hosts = {absl::StrCat(tenant, ".example.net")};
  nc.permitted_ip_ranges = {std::string(ip_range)};
  return nc;
}

absl::StatusOr<CertificateAuthority> MakeRoot(absl::Time now) {
  RootCaSpec spec;
  spec.common_name = "Mandant test root";
  spec.organization = "Mandant";
  return CreateRootCa(spec, now);
}

absl::StatusOr<CertificateAuthority> MakeTenantCa(const CertificateAuthority& root,
                                                  absl::string_view tenant,
                                                  absl::string_view ip_range, absl::Time now) {
  IntermediateCaSpec spec;
  spec.common_name = absl::StrCat("Mandant tenant ", tenant);
  spec.organization = "Mandant";
  spec.name_constraints = TenantConstraints(tenant, ip_range);
  return CreateIntermediateCa(root, spec, now);
}

absl::StatusOr<Leaf> IssueTestLeaf(const CertificateAuthority& ca, const SubjectAltNames& names,
                                   absl::Time now) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  if (!key.ok()) return key.status();
  LeafSpec spec;
  spec.public_key = key->get();
  spec.common_name = names.dns_names.empty() ? "" : names.dns_names.front();
  spec.subject_alt_names = names;
  spec.extended_key_usages = {ExtendedKeyUsage::kServerAuth, ExtendedKeyUsage::kClientAuth};
  spec.not_after = now + absl::Hours(24);
  absl::StatusOr<X509Ptr> cert = IssueLeaf(ca, spec, now);
  if (!cert.ok()) return cert.status();
  return Leaf{*std::move(cert), *std::move(key)};
}

absl::StatusOr<Leaf> HandMadeLeaf(const CertificateAuthority& ca, const SubjectAltNames& names,
                                  absl::Time now) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateKey(KeyType::kEcdsaP256);
  if (!key.ok()) return key.status();
  CertificateTemplate tmpl;
  tmpl.public_key = key->get();
  tmpl.subject_alt_names = names;
  tmpl.extended_key_usages = {ExtendedKeyUsage::kServerAuth, ExtendedKeyUsage::kClientAuth};
  tmpl.not_before = now - absl::Minutes(1);
  tmpl.not_after = now + absl::Hours(24);
  absl::StatusOr<X509Ptr> cert = BuildCertificate(tmpl, ca.certificate(), ca.private_key());
  if (!cert.ok()) return cert.status();
  return Leaf{*std::move(cert), *std::move(key)};
}

absl::StatusOr<std::string> CsrPem(EVP_PKEY* key, absl::string_view common_name,
                                   const SubjectAltNames& names) {
  absl::StatusOr<X509ReqPtr> req = BuildCsr(key, common_name, names);
  if (!req.ok()) return req.status();
  return CsrToPem(req->get());
}

absl::StatusOr<ParsedCsr> ParsedCsrFor(EVP_PKEY* key, absl::string_view common_name,
                                       const SubjectAltNames& names) {
  absl::StatusOr<std::string> pem = CsrPem(key, common_name, names);
  if (!pem.ok()) return pem.status();
  return ParseCsr(*pem);
}

absl::StatusOr<EvpPkeyPtr> GenerateUnsupportedKey(absl::string_view kind) {
  EVP_PKEY* key = nullptr;
  if (kind == "DSA") {
    EvpPkeyCtxPtr pctx(EVP_PKEY_CTX_new_from_name(nullptr, "DSA", nullptr));
    EVP_PKEY* params = nullptr;
    if (pctx == nullptr || EVP_PKEY_paramgen_init(pctx.get()) != 1 ||
        EVP_PKEY_CTX_set_dsa_paramgen_bits(pctx.get(), 2048) != 1 ||
        EVP_PKEY_CTX_set_dsa_paramgen_q_bits(pctx.get(), 256) != 1 ||
        EVP_PKEY_paramgen(pctx.get(), &params) != 1) {
      return absl::InternalError("DSA parameter generation failed");
    }
    EvpPkeyPtr owned_params(params);
    EvpPkeyCtxPtr kctx(EVP_PKEY_CTX_new_from_pkey(nullptr, params, nullptr));
    if (kctx == nullptr || EVP_PKEY_keygen_init(kctx.get()) != 1 ||
        EVP_PKEY_keygen(kctx.get(), &key) != 1) {
      return absl::InternalError("DSA key generation failed");
    }
  } else if (kind == "RSA-1024") {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024));
  } else if (kind == "RSA-PSS") {
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA-PSS", nullptr));
    if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) != 1 ||
        EVP_PKEY_keygen(ctx.get(), &key) != 1) {
      return absl::InternalError("RSA-PSS key generation failed");
    }
  } else if (kind == "P-521" || kind == "secp256k1") {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", std::string(kind).c_str());
  } else if (kind == "Ed448") {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448");
  } else if (kind == "X25519") {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  }
  if (key == nullptr)
    return absl::InternalError(absl::StrCat("generating a ", kind, " key failed"));
  return EvpPkeyPtr(key);
}

}  // namespace mandant::pki::testing
