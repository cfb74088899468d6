#ifndef MANDANT_CONTROLLER_API_PAGING_H_
#define MANDANT_CONTROLLER_API_PAGING_H_

// Pagination of every List RPC (docs/api.md, "Pagination"): one page-size
// rule and one page-token format.
//
// A page token is opaque to clients. Inside, it names the List method it
// was made for, a digest of the request's filters (every field other than
// page_size and page_token that changes the result), and the position
// where the next page starts (a few strings: the last key of the page).
// It carries a checksum, so a token that was cut, altered or made up is
// refused as INVALID_ARGUMENT on "page_token" instead of being read as a
// position. Tokens are not secrets and not signed: a forged one can only
// move the cursor within what the caller may list anyway, because the
// handler takes the scope and filters from the request, never from the
// token. Every token is at most kMaxPageTokenLength bytes; longer input is
// refused before it is decoded.
//
// Pure functions, thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

#include "tenants/field_violations.h"
#include "tenants/tenant_validation.h"

namespace mandant::controller::api {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = tenants::kMaxPageSize;
inline constexpr size_t kMaxPageTokenLength = tenants::kMaxPageTokenLength;

// What a List request asked for, checked.
struct PageRequest {
  // 1 to kMaxPageSize.
  int page_size = kDefaultPageSize;
  // Empty for the first page; else exactly `position_fields` strings as
  // given to NextPageToken.
  std::vector<std::string> position;
};

// Checks page_size (0 means `default_page_size`; 1 to kMaxPageSize) and
// page_token (empty, or a token NextPageToken made for the same `method`
// and `filters` with `position_fields` strings). Each problem is added to
// `bad` on the field "page_size" or "page_token"; the result is then only
// meaningful for the fields that were fine.
PageRequest ParsePageRequest(int32_t page_size, absl::string_view page_token,
                             absl::string_view method, absl::string_view filters,
                             size_t position_fields, tenants::FieldViolations& bad,
                             int default_page_size = kDefaultPageSize);

// The token for the page after the one that ended at `position`. The
// position strings should be short (keys, not objects): the token must fit
// in kMaxPageTokenLength.
std::string NextPageToken(absl::string_view method, absl::string_view filters,
                          absl::Span<const std::string> position);

// For a query that fetched up to page_size + 1 rows: drops the extra row
// and returns whether there was one, i.e. whether another page follows.
template <typename T>
bool TrimToPage(std::vector<T>& rows, int page_size) {
  if (static_cast<int>(rows.size()) <= page_size) return false;
  rows.resize(page_size);
  return true;
}

}  // namespace mandant::controller::api

#endif  // MANDANT_CONTROLLER_API_PAGING_H_
