#include "controller/store/idempotency.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include <openssl/sha.h>

#include "common/status_macros.h"
#include "controller/store/database.h"

namespace mandant::controller::store {
namespace {

std::string DeterministicBytes(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

}  // namespace

IdempotencyKey::IdempotencyKey(std::string principal, std::string method, std::string request_id,
                               const google::protobuf::Message& request)
    : principal_(std::move(principal)),
      method_(std::move(method)),
      request_id_(std::move(request_id)) {
  if (request_id_.empty()) return;
  std::string bytes = DeterministicBytes(request);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  request_sha256_.assign(reinterpret_cast<const char*>(digest), sizeof(digest));
}

absl::StatusOr<std::optional<std::string>> IdempotencyKey::Lookup(Connection& conn) const {
  if (!enabled()) return std::nullopt;
  MANDANT_ASSIGN_OR_RETURN(Rows rows,
                           conn.Query("SELECT request_sha256, response FROM idempotency_keys "
                                      "WHERE principal = $1 AND method = $2 AND request_id = $3 "
                                      "AND create_time > now() - interval '24 hours'",
                                      {principal_, method_, request_id_}));
  if (rows.empty()) return std::nullopt;
  if (rows.Bytes(0, 0) != request_sha256_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request_id: ", request_id_,
        " was already used for a different request; use a new request_id for a new request"));
  }
  return rows.Bytes(0, 1);
}

absl::Status IdempotencyKey::Claim(Connection& conn) const {
  if (!enabled()) return absl::OkStatus();
  // An expired key of the same id goes first, so a reused id starts fresh;
  // the table does not grow without bound.
  MANDANT_RETURN_IF_ERROR(
      conn.Query("DELETE FROM idempotency_keys WHERE principal = $1 AND method = $2 AND "
                 "request_id = $3 AND create_time <= now() - interval '24 hours'",
                 {principal_, method_, request_id_})
          .status());
  auto inserted = conn.Query(
      "INSERT INTO idempotency_keys (principal, method, request_id, request_sha256, response) "
      "VALUES ($1, $2, $3, $4, '')",
      {principal_, method_, request_id_, ByteaParam(request_sha256_)});
  if (!inserted.ok()) {
    auto pg = PgErrorOf(inserted.status());
    if (pg && pg->sqlstate == kUniqueViolation) return MarkRetryable(inserted.status());
    return inserted.status();
  }
  return absl::OkStatus();
}

absl::Status IdempotencyKey::Complete(Connection& conn,
                                      const google::protobuf::Message& response) const {
  if (!enabled()) return absl::OkStatus();
  return conn
      .Query(
          "UPDATE idempotency_keys SET response = $4 "
          "WHERE principal = $1 AND method = $2 AND request_id = $3",
          {principal_, method_, request_id_, ByteaParam(response.SerializeAsString())})
      .status();
}

}  // namespace mandant::controller::store
