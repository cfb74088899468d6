#include "pki/subject_alt_names.h"

#include <arpa/inet.h>

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "pki/openssl_error.h"

namespace mandant::pki {
namespace {

constexpr size_t kMaxDnsName = 253;
constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxUri = 2048;

std::string Quote(absl::string_view s) {
  // Names come from callers; keep control characters out of messages.
  std::string out = "\"";
  for (char c : s.substr(0, 300)) {
    if (absl::ascii_isprint(static_cast<unsigned char>(c))) {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
  }
  if (s.size() > 300) out += "...";
  return out + "\"";
}

bool IsPathChar(absl::string_view s, size_t& i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (absl::ascii_isalnum(c)) return true;
  if (absl::string_view("-._~!$&'()*+,;=:@/").find(static_cast<char>(c)) !=
      absl::string_view::npos) {
    return true;
  }
  if (c == '%' && i + 2 < s.size() && absl::ascii_isxdigit(static_cast<unsigned char>(s[i + 1])) &&
      absl::ascii_isxdigit(static_cast<unsigned char>(s[i + 2]))) {
    i += 2;
    return true;
  }
  return false;
}

absl::StatusOr<GeneralNamePtr> MakeStringName(int type, absl::string_view value) {
  GeneralNamePtr name(GENERAL_NAME_new());
  ASN1_IA5STRING* str = ASN1_IA5STRING_new();
  if (name == nullptr || str == nullptr ||
      !ASN1_STRING_set(str, value.data(), static_cast<int>(value.size()))) {
    ASN1_IA5STRING_free(str);
    return OpenSslError("building a subject alternative name failed");
  }
  GENERAL_NAME_set0_value(name.get(), type, str);
  return name;
}

absl::string_view AsView(const ASN1_STRING* s) {
  return absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<size_t>(ASN1_STRING_length(s)));
}

}  // namespace

absl::Status ValidateDnsName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("DNS name is empty");
  if (name.size() > kMaxDnsName) {
    return absl::InvalidArgumentError(
        absl::StrCat("DNS name ", Quote(name), " is longer than ", kMaxDnsName, " characters"));
  }
  if (absl::StrContains(name, '*')) {
    return absl::InvalidArgumentError(
        absl::StrCat("DNS name ", Quote(name), " is a wildcard; only exact host names are issued"));
  }
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DNS name ", Quote(name), " has an empty label (leading, trailing or double dot)"));
    }
    if (label.size() > kMaxLabel) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DNS name ", Quote(name), " has a label longer than ", kMaxLabel, " characters"));
    }
    if (label.front() == '-' || label.back() == '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("DNS name ", Quote(name), " has a label that starts or ends with '-'"));
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return absl::InvalidArgumentError(
            absl::StrCat("DNS name ", Quote(name),
                         " contains a character other than letters, digits, '-' and '.'"));
      }
    }
  }
  return absl::OkStatus();
}

absl::string_view UriHost(absl::string_view uri) {
  const size_t start = uri.find("://");
  if (start == absl::string_view::npos) return {};
  absl::string_view rest = uri.substr(start + 3);
  return rest.substr(0, rest.find('/'));
}

absl::Status ValidateUri(absl::string_view uri) {
  if (uri.empty()) return absl::InvalidArgumentError("URI is empty");
  if (uri.size() > kMaxUri) {
    return absl::InvalidArgumentError(
        absl::StrCat("URI ", Quote(uri), " is longer than ", kMaxUri, " characters"));
  }
  const size_t colon = uri.find("://");
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("URI ", Quote(uri), " is not of the form scheme://host[/path]"));
  }
  const absl::string_view scheme = uri.substr(0, colon);
  if (!absl::ascii_islower(static_cast<unsigned char>(scheme[0]))) {
    return absl::InvalidArgumentError(
        absl::StrCat("URI ", Quote(uri), ": the scheme must start with a lower-case letter"));
  }
  for (char c : scheme) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return absl::InvalidArgumentError(absl::StrCat(
          "URI ", Quote(uri), ": the scheme may contain only a-z, 0-9, '+', '-' and '.'"));
    }
  }
  const absl::string_view host = UriHost(uri);
  if (host.find_first_of("@:?#[]") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("URI ", Quote(uri),
                     " has user info, a port or an IP literal; only a host name is allowed"));
  }
  if (absl::Status s = ValidateDnsName(host); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("URI ", Quote(uri), ": host: ", s.message()));
  }
  const absl::string_view path = uri.substr(colon + 3 + host.size());
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '?' || path[i] == '#') {
      return absl::InvalidArgumentError(
          absl::StrCat("URI ", Quote(uri), " has a query or fragment, which is not allowed"));
    }
    if (!IsPathChar(path, i)) {
      return absl::InvalidArgumentError(
          absl::StrCat("URI ", Quote(uri),
                       " contains a character not allowed in a URI path; percent-encode it"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ParseIpAddress(absl::string_view text) {
  const std::string s(text);
  unsigned char buf[16];
  // inet_pton reads a C string: a NUL inside would cut the text short, and
  // "10.0.0.1\0junk" would pass as 10.0.0.1.
  if (s.find('\0') != std::string::npos || s.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("IP address ", Quote(text), " is neither an IPv4 nor an IPv6 address"));
  }
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 4);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return std::string(reinterpret_cast<char*>(buf), 16);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("IP address ", Quote(text), " is neither an IPv4 nor an IPv6 address"));
}

std::string FormatIpAddress(absl::string_view bytes) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (bytes.size() == 4) {
    inet_ntop(AF_INET, bytes.data(), buf, sizeof(buf));
  } else if (bytes.size() == 16) {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
  } else {
    return absl::StrCat("(", bytes.size(), "-byte address)");
  }
  return buf;
}

absl::StatusOr<GeneralNamesPtr> ToGeneralNames(const SubjectAltNames& names) {
  std::set<std::string> seen;
  auto check_unique = [&seen](absl::string_view kind, const std::string& v) -> absl::Status {
    if (!seen.insert(absl::StrCat(kind, ":", absl::AsciiStrToLower(v))).second) {
      return absl::InvalidArgumentError(absl::StrCat(kind, " ", Quote(v), " is listed twice"));
    }
    return absl::OkStatus();
  };
  GeneralNamesPtr out(GENERAL_NAMES_new());
  if (out == nullptr) return OpenSslError("allocating subject alternative names failed");
  auto push = [&out](GeneralNamePtr name) -> absl::Status {
    if (!sk_GENERAL_NAME_push(out.get(), name.get())) {
      return OpenSslError("building subject alternative names failed");
    }
    name.release();
    return absl::OkStatus();
  };
  for (const std::string& dns : names.dns_names) {
    if (absl::Status s = ValidateDnsName(dns); !s.ok()) return s;
    if (absl::Status s = check_unique("DNS name", dns); !s.ok()) return s;
    absl::StatusOr<GeneralNamePtr> name = MakeStringName(GEN_DNS, dns);
    if (!name.ok()) return name.status();
    if (absl::Status s = push(*std::move(name)); !s.ok()) return s;
  }
  for (const std::string& uri : names.uris) {
    if (absl::Status s = ValidateUri(uri); !s.ok()) return s;
    if (absl::Status s = check_unique("URI", uri); !s.ok()) return s;
    absl::StatusOr<GeneralNamePtr> name = MakeStringName(GEN_URI, uri);
    if (!name.ok()) return name.status();
    if (absl::Status s = push(*std::move(name)); !s.ok()) return s;
  }
  for (const std::string& ip : names.ip_addresses) {
    absl::StatusOr<std::string> bytes = ParseIpAddress(ip);
    if (!bytes.ok()) return bytes.status();
    if (absl::Status s = check_unique("IP address", FormatIpAddress(*bytes)); !s.ok()) return s;
    GeneralNamePtr name(GENERAL_NAME_new());
    ASN1_OCTET_STRING* oct = ASN1_OCTET_STRING_new();
    if (name == nullptr || oct == nullptr ||
        !ASN1_OCTET_STRING_set(oct, reinterpret_cast<const unsigned char*>(bytes->data()),
                               static_cast<int>(bytes->size()))) {
      ASN1_OCTET_STRING_free(oct);
      return OpenSslError("building an IP subject alternative name failed");
    }
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, oct);
    if (absl::Status s = push(std::move(name)); !s.ok()) return s;
  }
  return out;
}

absl::StatusOr<SubjectAltNames> FromGeneralNames(const GENERAL_NAMES* names) {
  SubjectAltNames out;
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    switch (name->type) {
      case GEN_DNS: {
        std::string dns(AsView(name->d.dNSName));
        if (absl::Status s = ValidateDnsName(dns); !s.ok()) return s;
        out.dns_names.push_back(std::move(dns));
        break;
      }
      case GEN_URI: {
        std::string uri(AsView(name->d.uniformResourceIdentifier));
        if (absl::Status s = ValidateUri(uri); !s.ok()) return s;
        out.uris.push_back(std::move(uri));
        break;
      }
      case GEN_IPADD: {
        const absl::string_view bytes = AsView(name->d.iPAddress);
        if (bytes.size() != 4 && bytes.size() != 16) {
          return absl::InvalidArgumentError(
              absl::StrCat("IP address SAN of ", bytes.size(), " bytes; expected 4 or 16"));
        }
        out.ip_addresses.push_back(FormatIpAddress(bytes));
        break;
      }
      case GEN_EMAIL:
        return absl::InvalidArgumentError(
            "e-mail subject alternative names are not issued; use DNS, URI or IP names");
      case GEN_DIRNAME:
        return absl::InvalidArgumentError(
            "directory-name subject alternative names are not issued; use DNS, URI or IP names");
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("subject alternative name of type ", name->type,
                         " (otherName, x400, EDI party or registered ID) is not issued; use DNS, "
                         "URI or IP names"));
    }
  }
  return out;
}

}  // namespace mandant::pki
