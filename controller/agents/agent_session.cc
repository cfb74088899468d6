#include "controller/agents/agent_session.h"

#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include "common/uuid.h"
#include "controller/agents/agent_message_validation.h"
#include "controller/agents/enrollment.h"
#include "controller/agents/host_spec.h"
#include "controller/api/certificate_service.h"
#include "controller/edge/egress_log_maintenance.h"
#include "controller/pki/issuers.h"
#include "controller/store/edge_store.h"
#include "controller/store/egress_log_store.h"
#include "controller/store/pki_store.h"
#include "pki/certificate_info.h"
#include "pki/encoding.h"
#include "tenants/field_violations.h"
#include "tenants/host_validation.h"

namespace mandant::controller {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Duration ToProto(absl::Duration d) {
  return TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(d));
}

// OK when the agent reports the host's registered underlay address: the
// controller never lets an agent choose where tenant traffic goes.
absl::Status CheckUnderlayAddress(const v1::Hello& hello, const v1::Host& host) {
  tenants::FieldViolations ignored;
  const std::string reported =
      tenants::CanonicalUnderlayAddress(hello.underlay_address(), "", &ignored);
  if (reported == host.underlay_address()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("UnderlayAddressMismatch: the agent reports underlay address ",
                   tenants::QuoteForMessage(hello.underlay_address()), " but host ", host.name(),
                   " is registered with ", host.underlay_address(),
                   "; fix the agent's --underlay_address or recreate the host"));
}

// The serial of the client certificate of an authenticated call.
absl::StatusOr<std::string> PeerCertificateSerial(absl::string_view pem) {
  if (pem.empty()) return absl::UnauthenticatedError("agents connect with a client certificate");
  MANDANT_ASSIGN_OR_RETURN(pki::X509Ptr cert, pki::ParseCertificate(pem));
  MANDANT_ASSIGN_OR_RETURN(pki::CertificateInfo info, pki::DescribeCertificate(cert.get()));
  return info.serial_hex;
}

}  // namespace

AgentSession::AgentSession(const AgentSessionEnv* env, api::RpcCall* call,
                           api::RpcCall::Credentials credentials, SendFn send)
    : env_(env), call_(call), credentials_(std::move(credentials)), send_(std::move(send)) {}

absl::Status AgentSession::Open(const v1::AgentMessage& message) {
  MANDANT_RETURN_IF_ERROR(call_->Authenticate(credentials_));
  authenticated_at_ = absl::Now();
  const auth::Principal& p = call_->principal();
  if (p.role != auth::Role::kAgent) {
    return absl::PermissionDeniedError(
        absl::StrCat("only host agents may connect; ", p.ToString(), " is not one"));
  }
  call_->set_object(absl::StrCat("hosts/", p.subject));
  if (!message.has_hello()) {
    return absl::FailedPreconditionError("the first message on the stream must be Hello");
  }
  const v1::Hello& hello = message.hello();
  if (hello.host() != absl::StrCat("hosts/", p.subject)) {
    return absl::PermissionDeniedError(
        absl::StrCat("Hello.host ", tenants::QuoteForMessage(hello.host()),
                     " is not this certificate's host \"hosts/", p.subject, "\""));
  }
  MANDANT_RETURN_IF_ERROR(ValidateHello(hello).ToStatus());
  MANDANT_ASSIGN_OR_RETURN(certificate_serial_,
                           PeerCertificateSerial(credentials_.peer_certificate_pem));
  session_.session_id = NewUuid();
  absl::Status mismatch;
  absl::Status connected =
      env_->deps.db->Transact("agent connect", [&](store::Connection& conn) -> absl::Status {
        MANDANT_ASSIGN_OR_RETURN(v1::Host host, env_->store->Get(conn, p.subject));
        mismatch = CheckUnderlayAddress(hello, host);
        MANDANT_RETURN_IF_ERROR(mismatch);
        MANDANT_ASSIGN_OR_RETURN(session_,
                                 env_->store->Connect(conn, p.subject, session_.session_id, hello));
        return absl::OkStatus();
      });
  if (!mismatch.ok()) RecordRefusal(p.subject, "UnderlayAddressMismatch", mismatch);
  MANDANT_RETURN_IF_ERROR(connected);
  MANDANT_LOG(info, "agent connected",
              {{"host", session_.host},
               {"session", session_.session_id},
               {"agent_version", hello.agent_version()},
               {"call_id", call_->call_id()}});
  return absl::OkStatus();
}

absl::Status AgentSession::Welcome() {
  v1::ControllerMessage settings;
  *settings.mutable_settings()->mutable_heartbeat_interval() =
      ToProto(env_->lease.heartbeat_interval);
  *settings.mutable_settings()->mutable_lease_duration() = ToProto(env_->lease.lease_duration);
  send_(std::move(settings));
  v1::ControllerMessage bundle;
  absl::Status st = env_->deps.db->Run("trust bundle", [&](store::Connection& conn) {
    store::PkiStore pki;
    return api::FillTrustBundle(pki, conn, store::kInfrastructureScope, "",
                                bundle.mutable_trust_bundle());
  });
  if (st.ok()) send_(std::move(bundle));
  return SendSpec();
}

absl::Status AgentSession::Handle(const v1::AgentMessage& message) {
  switch (message.message_case()) {
    case v1::AgentMessage::kHello:
      return Inventory(message.hello());
    case v1::AgentMessage::kHeartbeat:
      return Heartbeat();
    case v1::AgentMessage::kStatus:
      return RecordStatus(message.status());
    case v1::AgentMessage::kRenewal:
      return Renew(message.renewal());
    case v1::AgentMessage::kEgressEvents:
      return RecordEgressEvents(message.egress_events());
    case v1::AgentMessage::MESSAGE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("an empty AgentMessage; the stream ends");
}

void AgentSession::Close() {
  absl::Status st = env_->deps.db->Transact("agent disconnect", [&](store::Connection& conn) {
    return env_->store->Disconnect(conn, session_);
  });
  if (!st.ok()) {
    MANDANT_LOG(warn, "agent session not closed in the database",
                {{"host", session_.host}, {"error", st}});
  } else {
    MANDANT_LOG(info, "agent disconnected",
                {{"host", session_.host}, {"session", session_.session_id}});
  }
}

absl::Status AgentSession::Inventory(const v1::Hello& hello) {
  if (hello.host() != absl::StrCat("hosts/", session_.host)) {
    return absl::PermissionDeniedError("Hello.host may not change on a stream");
  }
  MANDANT_RETURN_IF_ERROR(ValidateHello(hello).ToStatus());
  absl::Status mismatch;
  absl::Status updated =
      env_->deps.db->Transact("agent inventory", [&](store::Connection& conn) -> absl::Status {
        MANDANT_RETURN_IF_ERROR(env_->store->Heartbeat(conn, session_));
        MANDANT_ASSIGN_OR_RETURN(v1::Host host, env_->store->Get(conn, session_.host));
        mismatch = CheckUnderlayAddress(hello, host);
        MANDANT_RETURN_IF_ERROR(mismatch);
        return env_->store->Connect(conn, session_.host, session_.session_id, hello).status();
      });
  if (!mismatch.ok()) RecordRefusal(session_.host, "UnderlayAddressMismatch", mismatch);
  MANDANT_RETURN_IF_ERROR(updated);
  return SendSpec();
}

absl::Status AgentSession::Heartbeat() {
  MANDANT_RETURN_IF_ERROR(ReauthenticateIfDue());
  return env_->deps.db->Transact("agent heartbeat", [&](store::Connection& conn) {
    return env_->store->Heartbeat(conn, session_);
  });
}

// A status refused by validation ends the stream (INVALID_ARGUMENT, as any
// malformed message) and changes nothing but the host's refusal reason.
absl::Status AgentSession::RecordStatus(const v1::HostStatus& status) {
  if (absl::Status invalid = ValidateHostStatus(status).ToStatus(); !invalid.ok()) {
    MANDANT_LOG(warn, "agent status refused", {{"host", session_.host}, {"error", invalid}});
    RecordRefusal(session_.host, "HostStatusRefused", invalid);
    return invalid;
  }
  std::vector<std::string> not_placed;
  std::vector<std::string> ignored_edges;
  MANDANT_RETURN_IF_ERROR(env_->deps.db->Transact("agent status", [&](store::Connection& conn) {
    MANDANT_ASSIGN_OR_RETURN(not_placed, env_->store->RecordStatus(conn, session_, status));
    store::EdgeStore edges;
    MANDANT_ASSIGN_OR_RETURN(ignored_edges,
                             edges.RecordStatus(conn, session_.host_id, status.edges()));
    return absl::OkStatus();
  }));
  for (const std::string& ns : ignored_edges) {
    // A copy removed from this host a moment ago is still reported until
    // the agent has worked through the new spec; anything else is an edge
    // the host has no business reporting.
    MANDANT_LOG(warn,
                "agent reported an edge that is not placed on its host under that namespace and "
                "tenant; ignored",
                {{"host", session_.host}, {"namespace", ns}});
  }
  if (not_placed.empty()) return absl::OkStatus();
  // A VM still being removed after its machine left the host is expected;
  // any other VM of a machine not placed here is worth a warning.
  absl::flat_hash_set<std::string> ids(not_placed.begin(), not_placed.end());
  for (const v1::VmStatus& vm : status.vms()) {
    if (!ids.contains(absl::AsciiStrToLower(vm.machine_id()))) continue;
    if (vm.state() == v1::VM_STATE_DELETING) {
      MANDANT_LOG(debug, "status of a VM being removed not recorded: its machine left the host",
                  {{"host", session_.host}, {"machine_id", vm.machine_id()}});
    } else {
      MANDANT_LOG(warn, "agent reported a VM whose machine is not placed on its host; ignored",
                  {{"host", session_.host},
                   {"machine_id", vm.machine_id()},
                   {"state", v1::VmState_Name(vm.state())}});
    }
  }
  return absl::OkStatus();
}

// Like a HostStatus, a batch refused by validation ends the stream. Events
// of a namespace that is not an edge placed on this host are dropped and
// logged; the stream goes on (an edge moved away a moment ago still has
// events in flight).
absl::Status AgentSession::RecordEgressEvents(const v1::EgressEventBatch& batch) {
  if (absl::Status invalid = ValidateEgressEventBatch(batch).ToStatus(); !invalid.ok()) {
    MANDANT_LOG(warn, "agent egress events refused", {{"host", session_.host}, {"error", invalid}});
    RecordRefusal(session_.host, "EgressEventsRefused", invalid);
    return invalid;
  }
  if (batch.events().empty()) return absl::OkStatus();
  store::EgressLogStore log;
  store::EgressAppendResult result;
  auto append = [&] {
    return env_->deps.db->Transact("egress events", [&](store::Connection& conn) -> absl::Status {
      MANDANT_ASSIGN_OR_RETURN(result,
                               log.Append(conn, session_.host_id, batch.events(), absl::Now()));
      return absl::OkStatus();
    });
  };
  absl::Status st = append();
  if (auto pg = store::PgErrorOf(st); pg && pg->sqlstate == store::kCheckViolation) {
    // No partition for the events' day yet (mandantd started just now, or
    // its maintenance is late): create it and try once more.
    absl::Status ensured =
        env_->deps.db->Transact("egress log partitions", [&](store::Connection& conn) {
          return log.EnsurePartitions(conn, absl::Now(), EgressLogMaintenance::kDaysAhead).status();
        });
    st = ensured.ok() ? append() : ensured;
  }
  if (!st.ok()) {
    // The agent has sent them and keeps no copy; losing a batch to a
    // database failure must not also cost the host its stream.
    MANDANT_LOG(err, "egress events not stored",
                {{"host", session_.host},
                 {"events", static_cast<long long>(batch.events_size())},
                 {"error", st}});
    return absl::OkStatus();
  }
  if (result.dropped > 0) {
    MANDANT_LOG(warn, "agent sent egress events of edges not placed on its host; dropped",
                {{"host", session_.host},
                 {"dropped", static_cast<long long>(result.dropped)},
                 {"namespaces", absl::StrJoin(result.foreign_namespaces, ",")}});
  }
  return absl::OkStatus();
}

// The certificate is checked again (inventory, revocation) every three
// heartbeat intervals, so that a revoked agent loses its stream within that
// time and gets no more specs with tenants' seeds, while most heartbeats
// cost no certificate check.
absl::Status AgentSession::ReauthenticateIfDue() {
  const absl::Time now = absl::Now();
  if (now - authenticated_at_ < 3 * env_->lease.heartbeat_interval) return absl::OkStatus();
  MANDANT_RETURN_IF_ERROR(call_->Reauthenticate(credentials_));
  authenticated_at_ = now;
  return absl::OkStatus();
}

// Uncached, unlike the authenticator's check, and in the transaction that
// reads or issues what must never reach a revoked agent (seeds, new
// certificates).
absl::Status AgentSession::CheckCertificateValid(store::Connection& conn) {
  store::PkiStore pki;
  auto cert = pki.GetCertificate(conn, store::kInfrastructureScope, "", certificate_serial_);
  if (absl::IsNotFound(cert.status())) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate refused: serial ", certificate_serial_, " of host \"",
                     session_.host, "\" is not in the infrastructure inventory"));
  }
  MANDANT_RETURN_IF_ERROR(cert.status());
  if (cert->revoke_time) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate refused: it is revoked; host \"", session_.host,
                     "\" enrolled again or its certificate was revoked"));
  }
  if (cert->not_after <= absl::Now()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "client certificate refused: it expired at ", absl::FormatTime(cert->not_after),
        "; host \"", session_.host, "\" must enroll again with a new bootstrap token"));
  }
  return absl::OkStatus();
}

// A refused CSR is answered on the stream, which goes on; a stream whose
// own certificate is no longer valid gets no new one and ends
// (UNAUTHENTICATED).
absl::Status AgentSession::Renew(const v1::CertificateRenewal& renewal) {
  // The heartbeats' check, made at every renewal rather than when due.
  MANDANT_RETURN_IF_ERROR(call_->Reauthenticate(credentials_));
  authenticated_at_ = absl::Now();
  v1::ControllerMessage reply;
  v1::RenewedCertificate* out = reply.mutable_certificate();
  absl::Status st = [&]() -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(pki::ParsedCsr csr, AgentCsr(renewal.csr()));
    return env_->deps.db->Transact(
        "renew agent certificate", [&](store::Connection& conn) -> absl::Status {
          // The authenticator's answer may be seconds old.
          MANDANT_RETURN_IF_ERROR(CheckCertificateValid(conn));
          MANDANT_ASSIGN_OR_RETURN(
              IssuedCertificate issued,
              env_->deps.issuers->IssueAgentCertificate(conn, session_.host, csr.public_key.get(),
                                                        env_->certificate_ttl, absl::Now()));
          MANDANT_RETURN_IF_ERROR(
              env_->store->SetCertificate(conn, session_.host_id, issued.row.serial));
          MANDANT_RETURN_IF_ERROR(
              call_->Audit(conn, absl::OkStatus(), "agent certificate renewed"));
          out->set_certificate_pem(issued.row.certificate_pem);
          out->set_chain_pem(issued.chain_pem);
          return absl::OkStatus();
        });
  }();
  if (absl::IsUnauthenticated(st)) {
    MANDANT_LOG(warn, "agent certificate renewal refused; the stream ends",
                {{"host", session_.host}, {"error", st}});
    return st;
  }
  if (!st.ok()) {
    out->Clear();
    out->mutable_error()->set_code(static_cast<int>(st.code()));
    out->mutable_error()->set_message(std::string(st.message()));
    MANDANT_LOG(warn, "agent certificate renewal refused",
                {{"host", session_.host}, {"error", st}});
  } else {
    MANDANT_LOG(info, "agent certificate renewed", {{"host", session_.host}});
  }
  send_(std::move(reply));
  return absl::OkStatus();
}

absl::Status AgentSession::SendSpec() {
  v1::ControllerMessage message;
  absl::Status st =
      env_->deps.db->Transact("host spec", [&](store::Connection& conn) -> absl::Status {
        MANDANT_RETURN_IF_ERROR(conn.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
        MANDANT_ASSIGN_OR_RETURN(*message.mutable_spec(),
                                 DesiredHostSpec(conn, *env_->store, session_.host_id,
                                                 env_->deps.issuers->keys(), env_->edge));
        // Seeds carry tenants' secrets: none for a certificate revoked while
        // its stream was open (the host enrolled again).
        return CheckCertificateValid(conn);
      });
  if (absl::IsNotFound(st)) {
    return absl::UnauthenticatedError(
        absl::StrCat("host \"", session_.host, "\" was deleted; its agent is no longer enrolled"));
  }
  if (absl::IsUnauthenticated(st)) return st;
  if (!st.ok()) {
    // The next change, resync or reconnect tries again; the agent keeps
    // what it has meanwhile.
    MANDANT_LOG(err, "host spec not computed", {{"host", session_.host}, {"error", st}});
    return absl::OkStatus();
  }
  {
    absl::MutexLock lock(&mu_);
    if (message.spec().version() <= sent_version_) return absl::OkStatus();
    sent_version_ = message.spec().version();
  }
  MANDANT_LOG(debug, "host spec sent",
              {{"host", session_.host},
               {"version", static_cast<long long>(message.spec().version())},
               {"vms", message.spec().vms_size()},
               {"networks", message.spec().networks_size()}});
  send_(std::move(message));
  return absl::OkStatus();
}

// The operator sees why the agent stays away in the host's Connected
// condition (host.proto), not only in the agent's log.
void AgentSession::RecordRefusal(const std::string& host, absl::string_view reason,
                                 const absl::Status& refusal) {
  absl::Status recorded = env_->deps.db->Transact("agent refused", [&](store::Connection& conn) {
    return env_->store->RecordRefusal(conn, host, reason, refusal.message());
  });
  if (!recorded.ok()) {
    MANDANT_LOG(warn, "agent refusal not recorded", {{"host", host}, {"error", recorded}});
  }
}

}  // namespace mandant::controller
