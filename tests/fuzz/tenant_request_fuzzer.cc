// Feeds arbitrary bytes to every tenant request validator and to the CIDR
// parser and allocator, and checks their invariants:
//  - the same bytes parsed as CreateTenantRequest, UpdateTenantRequest,
//    ListTenantsRequest (and Get/Delete) run through the validators; the
//    violations survive ToStatus() / ViolationsOf() unchanged;
//  - each line parsed as a CIDR round-trips through ToString(), and Contains,
//    Overlaps and the ordering agree with each other;
//  - FindFreeBlock over the parsed lines returns a block inside the supernet
//    that overlaps nothing taken, and nothing only when every block is taken.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"

#include "mandant/v1/tenant.pb.h"
#include "tenants/cidr.h"
#include "tenants/field_violations.h"
#include "tenants/names.h"
#include "tenants/quota.h"
#include "tenants/tenant_validation.h"

namespace mandant::tenants {
namespace {

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

void CheckViolations(const FieldViolations& v) {
  absl::Status status = v.ToStatus();
  FUZZ_CHECK(status.ok() == v.empty());
  FUZZ_CHECK(ViolationsOf(status) == v.violations());
  for (const FieldViolation& f : v.violations()) {
    FUZZ_CHECK(!f.field.empty());
    FUZZ_CHECK(!f.description.empty());
  }
}

template <typename Request>
std::optional<Request> ParseAs(absl::string_view input) {
  Request req;
  if (!req.ParseFromArray(input.data(), static_cast<int>(input.size()))) return std::nullopt;
  return req;
}

void FuzzRequests(absl::string_view input) {
  if (auto req = ParseAs<mandant::v1::CreateTenantRequest>(input)) {
    NetworkDefaults net;
    CheckViolations(ValidateCreateTenantRequest(*req, net));
    net.vlan_enabled = true;
    FieldViolations with_vlan = ValidateCreateTenantRequest(*req, net);
    CheckViolations(with_vlan);
    if (with_vlan.empty()) {
      FUZZ_CHECK(CheckTenantId(req->tenant_id()).empty());
      FUZZ_CHECK(req->request_id().empty() || IsCanonicalUuid(req->request_id()));
      const QuotaLimits merged = MergeQuota(DefaultQuota(), req->tenant().quota());
      FUZZ_CHECK(merged.max_vcpus >= 0 && merged.max_vcpus <= kMaxQuotaVcpus);
    }
  }
  if (auto req = ParseAs<mandant::v1::UpdateTenantRequest>(input)) {
    FieldViolations v = ValidateUpdateTenantRequest(*req);
    CheckViolations(v);
    if (v.empty()) FUZZ_CHECK(ParseTenantName(req->tenant().name()).ok());
  }
  if (auto req = ParseAs<mandant::v1::ListTenantsRequest>(input)) {
    CheckViolations(ValidateListTenantsRequest(*req));
  }
  if (auto req = ParseAs<mandant::v1::GetTenantRequest>(input)) {
    CheckViolations(ValidateGetTenantRequest(*req));
  }
  if (auto req = ParseAs<mandant::v1::DeleteTenantRequest>(input)) {
    CheckViolations(ValidateDeleteTenantRequest(*req));
  }
}

void FuzzNames(absl::string_view input) {
  const bool valid_id = CheckTenantId(input).empty();
  if (valid_id) {
    absl::StatusOr<std::string> id = ParseTenantName(TenantName(input));
    FUZZ_CHECK(id.ok() && *id == input);
    FUZZ_CHECK(CheckResourceId(input).empty());
  }
  absl::StatusOr<std::string> id = ParseTenantName(input, "name");
  FUZZ_CHECK(id.ok() == CheckTenantName(input).empty());
  if (!id.ok()) FUZZ_CHECK(ViolationsOf(id.status()).size() == 1);
  if (id.ok()) FUZZ_CHECK(TenantName(*id) == input);
  if (IsCanonicalUuid(input)) FUZZ_CHECK(input.size() == 36);
  FieldViolations v;
  ValidateDisplayName(input, "display_name", &v);
  CheckViolations(v);
}

void CheckCidr(const Cidr& c) {
  absl::StatusOr<Cidr> again = Cidr::Parse(c.ToString());
  FUZZ_CHECK(again.ok() && *again == c);
  FUZZ_CHECK(c.Contains(c) && c.Overlaps(c));
  FUZZ_CHECK(c.prefix_length() >= 0 && c.prefix_length() <= c.max_prefix_length());
  FUZZ_CHECK(!c.FirstHostAddress().empty());
  FUZZ_CHECK(c.SubnetCount(c.prefix_length()) == 1);
  FUZZ_CHECK(c.SubnetCount(c.max_prefix_length() + 1) == 0);
}

void CheckPair(const Cidr& a, const Cidr& b) {
  FUZZ_CHECK(a.Overlaps(b) == b.Overlaps(a));
  FUZZ_CHECK(a.Overlaps(b) == (a.Contains(b) || b.Contains(a)));
  FUZZ_CHECK((a.Contains(b) && b.Contains(a)) == (a == b));
  FUZZ_CHECK((a < b) + (b < a) + (a == b) == 1);
  if (a.is_v4() != b.is_v4()) FUZZ_CHECK(!a.Overlaps(b));
}

void FuzzCidrs(absl::string_view input) {
  std::vector<Cidr> cidrs;
  absl::string_view rest = input;
  bool more = true;
  for (int lines = 0; more && lines < 64; ++lines) {
    const size_t newline = rest.find('\n');
    const absl::string_view line = rest.substr(0, newline);
    more = newline != absl::string_view::npos;
    if (more) rest.remove_prefix(newline + 1);
    absl::StatusOr<Cidr> c = Cidr::Parse(line);
    if (!c.ok()) {
      FUZZ_CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
      FUZZ_CHECK(c.status().message().size() < 1024);
      continue;
    }
    CheckCidr(*c);
    cidrs.push_back(*c);
  }
  for (size_t i = 0; i < cidrs.size(); ++i) {
    for (size_t j = i; j < cidrs.size(); ++j) CheckPair(cidrs[i], cidrs[j]);
  }
  if (cidrs.empty()) return;

  // The first prefix is the pool, the rest are taken; the block length and
  // the start index come from the input's length and first bytes.
  const Cidr& pool = cidrs.front();
  const int span = pool.max_prefix_length() - pool.prefix_length();
  const int len = pool.prefix_length() + static_cast<int>(input.size() % (span + 1));
  uint64_t start = 0;
  for (size_t i = 0; i < input.size() && i < 8; ++i) {
    start = (start << 8) | static_cast<uint8_t>(input[i]);
  }
  std::vector<Cidr> taken(cidrs.begin() + 1, cidrs.end());
  std::optional<Cidr> block = FindFreeBlock(pool, len, taken, start);
  const uint64_t count = pool.SubnetCount(len);
  FUZZ_CHECK(count >= 1);
  if (block.has_value()) {
    FUZZ_CHECK(pool.Contains(*block));
    FUZZ_CHECK(block->prefix_length() == len);
    for (const Cidr& t : taken) FUZZ_CHECK(!t.Overlaps(*block));
  }
  // Brute force over small pools: nothing found only when everything is taken,
  // and otherwise the first free block from `start` on.
  if (count <= 4096) {
    std::optional<Cidr> expected;
    for (uint64_t k = 0; k < count && !expected; ++k) {
      absl::StatusOr<Cidr> candidate = pool.Subnet(len, (start % count + k) % count);
      FUZZ_CHECK(candidate.ok());
      bool free = true;
      for (const Cidr& t : taken) free = free && !t.Overlaps(*candidate);
      if (free) expected = *candidate;
    }
    FUZZ_CHECK(block == expected);
  }
}

}  // namespace
}  // namespace mandant::tenants

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // Parsing rejects invalid UTF-8 in string fields with a log line per input.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  mandant::tenants::FuzzRequests(input);
  mandant::tenants::FuzzNames(input);
  mandant::tenants::FuzzCidrs(input);
  return 0;
}
