#include "controller/store/audit_store.h"

namespace mandant::controller::store {

absl::Status AppendAudit(Connection& conn, const AuditRecord& record) {
  return conn
      .Query(
          "INSERT INTO audit_log (principal, role, method, object, request_id, code, message) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7)",
          {record.principal, record.role, record.method, record.object, record.request_id,
           absl::StatusCodeToString(record.code), record.message})
      .status();
}

}  // namespace mandant::controller::store
