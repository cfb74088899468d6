#ifndef MANDANT_CONTROLLER_STORE_AUDIT_STORE_H_
#define MANDANT_CONTROLLER_STORE_AUDIT_STORE_H_

#include <string>

#include "absl/status/status.h"

#include "controller/store/pg.h"

namespace mandant::controller::store {

// One row of the audit log: who did what to which object, and how it ended.
struct AuditRecord {
  // The principal as Principal::ToString() writes it ("provider-admin:ops").
  std::string principal;
  // The role's name as the API spells it ("PROVIDER_ADMIN").
  std::string role;
  // The RPC ("CreateTenant") or the mandantd command ("mandantd pki init").
  std::string method;
  // The object's resource name; empty when the call named none.
  std::string object;
  std::string request_id;
  absl::StatusCode code = absl::StatusCode::kOk;
  // Why it was refused, or what it did; never a secret.
  std::string message;
};

// The audit log is append-only (the table refuses UPDATE and DELETE).
// Appends `record` on the caller's connection, inside the caller's
// transaction, so that a change and its audit row commit together. Returns
// the database's error.
absl::Status AppendAudit(Connection& conn, const AuditRecord& record);

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_AUDIT_STORE_H_
