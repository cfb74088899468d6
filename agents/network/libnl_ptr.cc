#include "agents/network/libnl_ptr.h"

#include <string>

#include "absl/strings/str_cat.h"
#include <netlink/errno.h>

namespace mandant::agent {

absl::Status NlError(int rc, absl::string_view context) {
  const int code = rc < 0 ? -rc : rc;
  const std::string message =
      absl::StrCat(context, ": ", nl_geterror(code), " (libnl error ", code, ")");
  switch (code) {
    case NLE_EXIST:
      return absl::AlreadyExistsError(message);
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV:
      return absl::NotFoundError(message);
    case NLE_INVAL:
    case NLE_RANGE:
    case NLE_AF_MISMATCH:
    case NLE_MISSING_ATTR:
      return absl::InvalidArgumentError(message);
    case NLE_OPNOTSUPP:
    case NLE_AF_NOSUPPORT:
    case NLE_MSGTYPE_NOSUPPORT:
      return absl::UnimplementedError(message);
    case NLE_PERM:
    case NLE_NOACCESS:
      return absl::PermissionDeniedError(absl::StrCat(message, "; the agent needs CAP_NET_ADMIN"));
    case NLE_BUSY:
    case NLE_AGAIN:
    case NLE_DUMP_INTR:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace mandant::agent
