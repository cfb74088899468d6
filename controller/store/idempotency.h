#ifndef MANDANT_CONTROLLER_STORE_IDEMPOTENCY_H_
#define MANDANT_CONTROLLER_STORE_IDEMPOTENCY_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

#include "controller/store/pg.h"

namespace mandant::controller::store {

// Request ids (AIP-155): a mutating request that carries a request_id stores
// its response in the same transaction as its work; a retry with the same id
// by the same principal gets that response back. Keys are kept for 24 hours.
class IdempotencyKey {
 public:
  // `request_id` may be empty: the key then does nothing.
  IdempotencyKey(std::string principal, std::string method, std::string request_id,
                 const google::protobuf::Message& request);

  bool enabled() const { return !request_id_.empty(); }

  // The stored response of an earlier call, or nullopt. INVALID_ARGUMENT when
  // the id was used for a different request.
  absl::StatusOr<std::optional<std::string>> Lookup(Connection& conn) const;
  // Claims the id before the work starts, so that a concurrent duplicate
  // waits on this row and then, retried, finds the response instead of
  // running into the first call's effects. A call that claimed first makes
  // this fail with a retryable status.
  absl::Status Claim(Connection& conn) const;
  // Stores the response of the claimed call, in the same transaction.
  absl::Status Complete(Connection& conn, const google::protobuf::Message& response) const;

 private:
  const std::string principal_;
  const std::string method_;
  const std::string request_id_;
  std::string request_sha256_;
};

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_IDEMPOTENCY_H_
