#ifndef MANDANT_TENANTS_HOST_VALIDATION_H_
#define MANDANT_TENANTS_HOST_VALIDATION_H_

// Validation of HostService requests (proto/mandant/v1/host.proto): pure
// functions, every problem reported with its field.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "mandant/v1/host.pb.h"
#include "tenants/field_violations.h"

namespace mandant::tenants {

inline constexpr absl::Duration kMinBootstrapTokenTtl = absl::Minutes(10);
inline constexpr absl::Duration kMaxBootstrapTokenTtl = absl::Hours(24 * 7);
inline constexpr absl::Duration kDefaultBootstrapTokenTtl = absl::Hours(24);

// Empty when `id` is a valid host id (a DNS-1123 label of 1-40 characters),
// else what is wrong with it.
std::string CheckHostId(absl::string_view id);

// "hosts/{host}" -> host id; INVALID_ARGUMENT on `field` otherwise.
absl::StatusOr<std::string> ParseHostName(absl::string_view name, absl::string_view field = "name");
// As above, collecting the violation in `out` (and returning "") instead.
std::string ParseHostName(absl::string_view name, absl::string_view field, FieldViolations* out);

// The bootstrap token lifetime a request asks for (the default when unset),
// or a violation on `field`.
absl::Duration BootstrapTokenTtl(const google::protobuf::Duration* ttl, absl::string_view field,
                                 FieldViolations* out);

// The canonical text of an underlay address (IPv4 or IPv6, no prefix), or a
// violation on `field` for anything else, including unspecified, multicast
// and broadcast addresses, which cannot carry VXLAN unicast.
std::string CanonicalUnderlayAddress(absl::string_view address, absl::string_view field,
                                     FieldViolations* out);

FieldViolations ValidateCreateHostRequest(const v1::CreateHostRequest& req);

}  // namespace mandant::tenants

#endif  // MANDANT_TENANTS_HOST_VALIDATION_H_
