#include "pki/name_constraints.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include <openssl/x509v3.h>

#include "pki/openssl_error.h"
#include "pki/subject_alt_names.h"

namespace mandant::pki {
namespace {

// The closing entries: RFC 6761 reserves "invalid", so nothing real is in it.
constexpr absl::string_view kClosedDns = "invalid";
constexpr absl::string_view kClosedUriHost = "invalid";
constexpr absl::string_view kClosedEmail = ".invalid";

absl::Status AddSubtree(STACK_OF(GENERAL_SUBTREE) * *subtrees, int type, absl::string_view value) {
  GeneralSubtreePtr subtree(GENERAL_SUBTREE_new());
  ASN1_STRING* str = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
  if (subtree == nullptr || str == nullptr ||
      !ASN1_STRING_set(str, value.data(), static_cast<int>(value.size()))) {
    ASN1_STRING_free(str);
    return OpenSslError("building a name constraint failed");
  }
  GENERAL_NAME_set0_value(subtree->base, type, str);
  if (*subtrees == nullptr) *subtrees = sk_GENERAL_SUBTREE_new_null();
  if (*subtrees == nullptr || !sk_GENERAL_SUBTREE_push(*subtrees, subtree.get())) {
    return OpenSslError("building a name constraint failed");
  }
  subtree.release();
  return absl::OkStatus();
}

// "10.64.3.0/24" into address bytes followed by mask bytes.
absl::StatusOr<std::string> ParseIpRange(absl::string_view cidr) {
  const size_t slash = cidr.find('/');
  int prefix = -1;
  if (slash == absl::string_view::npos || !absl::SimpleAtoi(cidr.substr(slash + 1), &prefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("IP range \"", cidr, "\" is not a CIDR such as 10.64.3.0/24 or fd00::/64"));
  }
  absl::StatusOr<std::string> address = ParseIpAddress(cidr.substr(0, slash));
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("IP range \"", cidr, "\": ", address.status().message()));
  }
  const int bits = static_cast<int>(address->size()) * 8;
  if (prefix < 0 || prefix > bits) {
    return absl::InvalidArgumentError(
        absl::StrCat("IP range \"", cidr, "\": prefix length ", prefix, " is outside 0-", bits));
  }
  std::string mask(address->size(), '\0');
  for (int i = 0; i < prefix; ++i) mask[i / 8] = static_cast<char>(mask[i / 8] | (0x80 >> (i % 8)));
  for (size_t i = 0; i < mask.size(); ++i) {
    if (((*address)[i] & ~mask[i]) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("IP range \"", cidr, "\" has host bits set"));
    }
  }
  return *address + mask;
}

absl::StatusOr<std::string> FormatIpRange(absl::string_view bytes) {
  if (bytes.size() != 8 && bytes.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("IP name constraint of ", bytes.size(), " bytes; expected 8 or 32"));
  }
  const absl::string_view address = bytes.substr(0, bytes.size() / 2);
  const absl::string_view mask = bytes.substr(bytes.size() / 2);
  int prefix = 0;
  bool ended = false;
  for (char c : mask) {
    for (int bit = 7; bit >= 0; --bit) {
      const bool set = (static_cast<uint8_t>(c) >> bit) & 1;
      if (set && ended) {
        return absl::InvalidArgumentError("IP name constraint has a non-contiguous mask");
      }
      if (set) ++prefix;
      ended = ended || !set;
    }
  }
  return absl::StrCat(FormatIpAddress(address), "/", prefix);
}

}  // namespace

absl::StatusOr<NameConstraintsPtr> ToX509NameConstraints(const NameConstraints& constraints) {
  NameConstraintsPtr nc(NAME_CONSTRAINTS_new());
  if (nc == nullptr) return OpenSslError("allocating name constraints failed");
  for (const std::string& domain : constraints.permitted_dns_domains) {
    if (absl::Status s = ValidateDnsName(domain); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("permitted DNS domain \"", domain, "\": ", s.message()));
    }
    if (absl::Status s = AddSubtree(&nc->permittedSubtrees, GEN_DNS, domain); !s.ok()) return s;
  }
  if (constraints.permitted_dns_domains.empty()) {
    if (absl::Status s = AddSubtree(&nc->permittedSubtrees, GEN_DNS, kClosedDns); !s.ok()) return s;
  }
  for (const std::string& host : constraints.permitted_uri_hosts) {
    absl::string_view name = host;
    if (!name.empty() && name.front() == '.') name.remove_prefix(1);
    if (absl::Status s = ValidateDnsName(name); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("permitted URI host \"", host, "\": ", s.message()));
    }
    if (absl::Status s = AddSubtree(&nc->permittedSubtrees, GEN_URI, host); !s.ok()) return s;
  }
  if (constraints.permitted_uri_hosts.empty()) {
    if (absl::Status s = AddSubtree(&nc->permittedSubtrees, GEN_URI, kClosedUriHost); !s.ok()) {
      return s;
    }
  }
  for (const std::string& range : constraints.permitted_ip_ranges) {
    absl::StatusOr<std::string> bytes = ParseIpRange(range);
    if (!bytes.ok()) return bytes.status();
    if (absl::Status s = AddSubtree(&nc->permittedSubtrees, GEN_IPADD, *bytes); !s.ok()) return s;
  }
  if (constraints.permitted_ip_ranges.empty()) {
    for (absl::string_view all : {"0.0.0.0/0", "::/0"}) {
      absl::StatusOr<std::string> bytes = ParseIpRange(all);
      if (!bytes.ok()) return bytes.status();
      if (absl::Status s = AddSubtree(&nc->excludedSubtrees, GEN_IPADD, *bytes); !s.ok()) return s;
    }
  }
  if (absl::Status s = AddSubtree(&nc->permittedSubtrees, GEN_EMAIL, kClosedEmail); !s.ok()) {
    return s;
  }
  return nc;
}

absl::StatusOr<NameConstraints> FromX509NameConstraints(const NAME_CONSTRAINTS* constraints) {
  NameConstraints out;
  if (constraints == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_SUBTREE_num(constraints->permittedSubtrees); ++i) {
    const GENERAL_NAME* base = sk_GENERAL_SUBTREE_value(constraints->permittedSubtrees, i)->base;
    if (base->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = base->d.iPAddress;
      absl::StatusOr<std::string> range = FormatIpRange(absl::string_view(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s)));
      if (!range.ok()) return range.status();
      out.permitted_ip_ranges.push_back(*std::move(range));
      continue;
    }
    if (base->type != GEN_DNS && base->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = base->d.ia5;
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      ASN1_STRING_length(s));
    if (base->type == GEN_DNS && value != kClosedDns) out.permitted_dns_domains.push_back(value);
    if (base->type == GEN_URI && value != kClosedUriHost) out.permitted_uri_hosts.push_back(value);
  }
  return out;
}

}  // namespace mandant::pki

namespace mandant::pki {
namespace {

// A certificate that carries only `common_name` and `names`, for OpenSSL's
// checker, which takes certificates.
absl::StatusOr<X509Ptr> MakeProbe(absl::string_view common_name, const SubjectAltNames& names) {
  X509Ptr probe(X509_new());
  if (probe == nullptr) return OpenSslError("allocating a certificate failed");
  if (!common_name.empty() &&
      !X509_NAME_add_entry_by_NID(X509_get_subject_name(probe.get()), NID_commonName, MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(common_name.data()),
                                  static_cast<int>(common_name.size()), -1, 0)) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "subject common name is not UTF-8");
  }
  if (!names.empty()) {
    absl::StatusOr<GeneralNamesPtr> gens = ToGeneralNames(names);
    if (!gens.ok()) return gens.status();
    if (X509_add1_ext_i2d(probe.get(), NID_subject_alt_name, gens->get(), 0, X509V3_ADD_DEFAULT) !=
        1) {
      return OpenSslError("building subject alternative names failed");
    }
  }
  // Parses the extensions into the fields the checker reads.
  X509_get_extension_flags(probe.get());
  return probe;
}

absl::StatusOr<bool> Permitted(NAME_CONSTRAINTS* nc, absl::string_view common_name,
                               const SubjectAltNames& names) {
  absl::StatusOr<X509Ptr> probe = MakeProbe(common_name, names);
  if (!probe.ok()) return probe.status();
  int r = NAME_CONSTRAINTS_check(probe->get(), nc);
  if (r == X509_V_OK && names.dns_names.empty()) r = NAME_CONSTRAINTS_check_CN(probe->get(), nc);
  ClearOpenSslErrors();
  return r == X509_V_OK;
}

std::string Describe(const NameConstraints& c) {
  auto list = [](const std::vector<std::string>& v) {
    return v.empty() ? std::string("none") : absl::StrJoin(v, ", ");
  };
  return absl::StrCat("DNS domains: ", list(c.permitted_dns_domains),
                      "; URI hosts: ", list(c.permitted_uri_hosts),
                      "; IP ranges: ", list(c.permitted_ip_ranges));
}

}  // namespace

absl::Status CheckNamesPermitted(const NAME_CONSTRAINTS* constraints, absl::string_view common_name,
                                 const SubjectAltNames& names) {
  if (constraints == nullptr) return absl::OkStatus();
  // NAME_CONSTRAINTS_check does not change the constraints; its signature
  // predates const.
  NAME_CONSTRAINTS* nc = const_cast<NAME_CONSTRAINTS*>(constraints);
  absl::StatusOr<bool> all = Permitted(nc, common_name, names);
  if (!all.ok()) return all.status();
  if (*all) return absl::OkStatus();

  absl::StatusOr<NameConstraints> permitted = FromX509NameConstraints(constraints);
  const std::string allowed =
      permitted.ok() ? Describe(*permitted) : std::string(permitted.status().message());
  auto refuse = [&allowed](absl::string_view kind, absl::string_view value) {
    return absl::InvalidArgumentError(absl::StrCat(
        kind, " \"", value, "\" is outside the issuer's name constraints (", allowed, ")"));
  };
  const std::pair<const std::vector<std::string>*, absl::string_view> kinds[] = {
      {&names.dns_names, "DNS name"}, {&names.uris, "URI"}, {&names.ip_addresses, "IP address"}};
  for (const auto& [values, kind] : kinds) {
    for (const std::string& value : *values) {
      SubjectAltNames one;
      if (values == &names.dns_names) one.dns_names = {value};
      if (values == &names.uris) one.uris = {value};
      if (values == &names.ip_addresses) one.ip_addresses = {value};
      absl::StatusOr<bool> ok = Permitted(nc, "", one);
      if (!ok.ok()) return ok.status();
      if (!*ok) return refuse(kind, value);
    }
  }
  return refuse("subject common name", common_name);
}

}  // namespace mandant::pki
