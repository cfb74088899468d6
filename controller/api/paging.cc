#include "controller/api/paging.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

#include "common/sha256.h"
#include "pki/encoding.h"

namespace mandant::controller::api {
namespace {

// Layout before base64: kVersion, the 8-byte scope digest, then each
// position string as "{length}:{bytes}", then an 8-byte checksum of all of
// that. Lengths make any byte legal inside a position string.
constexpr absl::string_view kVersion = "p1";
constexpr size_t kDigestBytes = 8;

// Binds a token to its method and filters; a token of another List method
// or of other filters has another digest.
std::string ScopeDigest(absl::string_view method, absl::string_view filters) {
  return Sha256(absl::StrCat(method, "\n", filters)).substr(0, kDigestBytes);
}

std::string Checksum(absl::string_view body) { return Sha256(body).substr(0, kDigestBytes); }

// Reads "{length}:{bytes}" from the front of `in`.
bool ConsumeField(absl::string_view& in, std::string* out) {
  const size_t colon = in.find(':');
  if (colon == absl::string_view::npos || colon == 0 || colon > 4) return false;
  size_t length = 0;
  if (!absl::SimpleAtoi(in.substr(0, colon), &length) || length > in.size() - colon - 1) {
    return false;
  }
  const absl::string_view value = in.substr(colon + 1, length);
  out->assign(value.data(), value.size());
  in.remove_prefix(colon + 1 + length);
  return true;
}

}  // namespace

PageRequest ParsePageRequest(int32_t page_size, absl::string_view page_token,
                             absl::string_view method, absl::string_view filters,
                             size_t position_fields, tenants::FieldViolations& bad,
                             int default_page_size) {
  PageRequest out;
  out.page_size = default_page_size;
  if (page_size < 0 || page_size > kMaxPageSize) {
    bad.Add("page_size",
            absl::StrCat("must be between 0 and ", kMaxPageSize, " (0 for the default of ",
                         default_page_size, "), got ", page_size));
  } else if (page_size > 0) {
    out.page_size = page_size;
  }
  if (page_token.empty()) return out;
  if (page_token.size() > kMaxPageTokenLength) {
    bad.Add("page_token", absl::StrCat("must be at most ", kMaxPageTokenLength, " bytes, got ",
                                       page_token.size(), "; pass next_page_token unchanged"));
    return out;
  }
  const std::string not_ours =
      absl::StrCat("is not a token returned by ", method, "; pass next_page_token unchanged");
  std::string raw;
  if (!absl::WebSafeBase64Unescape(page_token, &raw) ||
      raw.size() < kVersion.size() + 2 * kDigestBytes) {
    bad.Add("page_token", not_ours);
    return out;
  }
  absl::string_view body(raw.data(), raw.size() - kDigestBytes);
  if (Checksum(body) != absl::string_view(raw).substr(body.size())) {
    bad.Add("page_token", not_ours);
    return out;
  }
  if (!absl::ConsumePrefix(&body, kVersion)) {
    bad.Add("page_token", not_ours);
    return out;
  }
  if (body.substr(0, kDigestBytes) != ScopeDigest(method, filters)) {
    bad.Add("page_token", absl::StrCat("was issued by another List method or for other filters "
                                       "than this ",
                                       method, " request; start again without it"));
    return out;
  }
  body.remove_prefix(kDigestBytes);
  std::vector<std::string> position;
  std::string field;
  while (!body.empty() && position.size() < position_fields && ConsumeField(body, &field)) {
    position.push_back(std::move(field));
  }
  if (!body.empty() || position.size() != position_fields) {
    bad.Add("page_token", not_ours);
    return out;
  }
  out.position = std::move(position);
  return out;
}

std::string NextPageToken(absl::string_view method, absl::string_view filters,
                          absl::Span<const std::string> position) {
  std::string body = absl::StrCat(kVersion, ScopeDigest(method, filters));
  for (const std::string& p : position) absl::StrAppend(&body, p.size(), ":", p);
  absl::StrAppend(&body, Checksum(body));
  return absl::WebSafeBase64Escape(body);
}

}  // namespace mandant::controller::api
