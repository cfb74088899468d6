#ifndef MANDANT_COMMON_STATUS_MACROS_H_
#define MANDANT_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// abseil 20220623 ships no status macros; these are the two the project uses.

#define MANDANT_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    const ::absl::Status mandant_status_ = (expr);     \
    if (!mandant_status_.ok()) return mandant_status_; \
  } while (0)

#define MANDANT_STATUS_CONCAT_INNER_(a, b) a##b
#define MANDANT_STATUS_CONCAT_(a, b) MANDANT_STATUS_CONCAT_INNER_(a, b)

#define MANDANT_ASSIGN_OR_RETURN(lhs, rexpr) \
  MANDANT_ASSIGN_OR_RETURN_IMPL_(MANDANT_STATUS_CONCAT_(mandant_statusor_, __LINE__), lhs, rexpr)

#define MANDANT_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();   \
  lhs = std::move(statusor).value()

#endif  // MANDANT_COMMON_STATUS_MACROS_H_
