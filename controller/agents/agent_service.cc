#include "controller/agents/agent_service.h"

#include <deque>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/agents/agent_message_validation.h"
#include "controller/api/certificate_service.h"
#include "controller/store/pki_store.h"
#include "controller/store/uuid.h"
#include "google/protobuf/util/time_util.h"
#include "pki/certificate_info.h"
#include "pki/csr.h"
#include "pki/encoding.h"
#include "tenants/field_violations.h"
#include "tenants/host_validation.h"
#include "tenants/tenant_validation.h"

namespace mandant::controller {
namespace {

using google::protobuf::util::TimeUtil;

constexpr size_t kMaxCsrBytes = 64 * 1024;
constexpr size_t kMaxTokenBytes = 200;

google::protobuf::Duration ToProto(absl::Duration d) {
  return TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(d));
}

absl::Status BadToken() {
  return absl::UnauthenticatedError(
      "the bootstrap token is unknown, expired, used, or for another host; issue a new one "
      "with `mandantctl host token` and enroll again");
}

// The agent's CSR, parsed and verified, with a key type agents may use.
absl::StatusOr<pki::ParsedCsr> AgentCsr(absl::string_view csr) {
  tenants::FieldViolations bad;
  if (csr.empty() || csr.size() > kMaxCsrBytes) {
    bad.Add("csr", absl::StrCat("must be a PKCS#10 CSR of 1 to ", kMaxCsrBytes, " bytes, got ",
                                csr.size()));
    return bad.ToStatus();
  }
  auto parsed = pki::ParseCsr(csr);
  if (!parsed.ok()) {
    bad.Add("csr", std::string(parsed.status().message()));
    return bad.ToStatus();
  }
  if (parsed->key.type == pki::KeyType::kRsa) {
    bad.Add("csr", "agent keys must be ECDSA P-256, P-384 or Ed25519, got RSA");
    return bad.ToStatus();
  }
  return parsed;
}

// OK when the agent reports the host's registered underlay address: the
// controller never lets an agent choose where tenant traffic goes.
absl::Status CheckUnderlayAddress(const v1::Hello& hello, const v1::Host& host) {
  tenants::FieldViolations ignored;
  const std::string reported =
      tenants::CanonicalUnderlayAddress(hello.underlay_address(), "", &ignored);
  if (reported == host.underlay_address()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "UnderlayAddressMismatch: the agent reports underlay address ",
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

// One agent's stream. Owned by references: gRPC's (released in OnDone) and
// one per task posted to the work queue; the last one deletes it. Messages
// are handled one at a time (the next read starts when the previous message
// is done); spec computations run beside them.
class AgentStream final : public grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage> {
 public:
  AgentStream(AgentServiceImpl* service, grpc::CallbackServerContext* context)
      : service_(service),
        call_(context, "Connect", /*mutating=*/false, service->deps_),
        // Read here, on gRPC's thread: the context dies with the call, and
        // messages are handled on the work queue, possibly after that.
        credentials_(call_.CaptureCredentials()),
        last_message_(absl::Now()) {
    StartNextRead();
  }

  // grpc::ServerBidiReactor
  void OnReadDone(bool ok) override {
    if (!ok) {
      // The agent closed its side or the call was cancelled.
      End(absl::CancelledError("the agent closed the stream"));
      FinishedOp();
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      last_message_ = absl::Now();
    }
    Ref();
    service_->work_.Post([this] {
      absl::Status st = Ending() ? absl::OkStatus() : Handle(in_);
      if (!st.ok()) {
        End(st);
      } else {
        StartNextRead();
      }
      FinishedOp();
      Unref();
    });
  }

  void OnWriteDone(bool ok) override {
    std::optional<v1::ControllerMessage> next;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (ok && !ending_ && !outbox_.empty()) {
        out_ = std::move(outbox_.front());
        outbox_.pop_front();
        writing_ = true;
        next.emplace();
      }
    }
    if (!ok) End(absl::UnavailableError("writing to the agent failed"));
    if (next) {
      StartWrite(&out_);
      return;
    }
    FinishedOp();
  }

  void OnCancel() override { End(absl::CancelledError("the call was cancelled")); }

  void OnDone() override {
    service_->Unregister(this);
    bool connected = false;
    {
      absl::MutexLock lock(&mu_);
      connected = connected_;
    }
    if (connected) {
      Ref();
      service_->work_.Post([this] {
        CloseSession();
        Unref();
      });
    }
    call_.Finish(final_status_);
    Unref();
  }

  // Thread-safe. Queues a message for the agent.
  void Send(v1::ControllerMessage message) {
    {
      absl::MutexLock lock(&mu_);
      if (ending_) return;
      if (writing_) {
        outbox_.push_back(std::move(message));
        return;
      }
      out_ = std::move(message);
      writing_ = true;
    }
    StartWrite(&out_);
  }

  // Thread-safe. Ends the stream with `status` once no operation is being
  // started; idempotent.
  void End(absl::Status status) {
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      if (ending_) return;
      ending_ = true;
      final_status_ = status;
      finish_now = !writing_ && starting_read_ == 0;
      if (finish_now) finished_ = true;
    }
    if (finish_now) Finish(api::ToGrpcStatus(status));
  }

  // Thread-safe: the host's desired state may have changed.
  void SpecChanged() {
    {
      absl::MutexLock lock(&mu_);
      if (spec_queued_ || ending_) return;
      spec_queued_ = true;
    }
    Ref();
    service_->work_.Post([this] {
      {
        absl::MutexLock lock(&mu_);
        spec_queued_ = false;
      }
      SendSpec();
      Unref();
    });
  }

  absl::Time last_message() const {
    absl::MutexLock lock(&mu_);
    return last_message_;
  }
  const std::string& host() const { return session_.host; }

  int64_t host_id() const { return host_id_.load(); }
  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  void StartNextRead() {
    {
      absl::MutexLock lock(&mu_);
      if (ending_) return;
      ++starting_read_;
    }
    StartRead(&in_);
    absl::MutexLock lock(&mu_);
    --starting_read_;
  }

  // After an operation ended or was started: finishes a stream whose end was
  // deferred while an operation was being started.
  void FinishedOp() {
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      if (ending_ && !finished_ && !writing_ && starting_read_ == 0) {
        finished_ = true;
        finish_now = true;
      }
    }
    if (finish_now) Finish(api::ToGrpcStatus(final_status_));
  }

  absl::Status Handle(const v1::AgentMessage& message) {
    if (!registered_) return Hello(message);
    switch (message.message_case()) {
      case v1::AgentMessage::kHello:
        return Inventory(message.hello());
      case v1::AgentMessage::kHeartbeat:
        MANDANT_RETURN_IF_ERROR(ReauthenticateIfDue());
        return service_->deps_.db->Transact("agent heartbeat", [&](store::Connection& conn) {
          return service_->store_.Heartbeat(conn, session_);
        });
      case v1::AgentMessage::kStatus:
        return RecordStatus(message.status());
      case v1::AgentMessage::kRenewal:
        return Renew(message.renewal());
      case v1::AgentMessage::MESSAGE_NOT_SET:
        break;
    }
    return absl::InvalidArgumentError("an empty AgentMessage; the stream ends");
  }

  // A status refused by validation ends the stream (INVALID_ARGUMENT, as
  // any malformed message) and changes nothing.
  absl::Status RecordStatus(const v1::HostStatus& status) {
    if (absl::Status invalid = ValidateHostStatus(status).ToStatus(); !invalid.ok()) {
      MANDANT_LOG(warn, "agent status refused", {{"host", session_.host}, {"error", invalid}});
      return invalid;
    }
    std::vector<std::string> not_placed;
    MANDANT_RETURN_IF_ERROR(
        service_->deps_.db->Transact("agent status", [&](store::Connection& conn) {
          MANDANT_ASSIGN_OR_RETURN(not_placed,
                                   service_->store_.RecordStatus(conn, session_, status));
          return absl::OkStatus();
        }));
    if (!not_placed.empty()) LogNotPlaced(status, not_placed);
    return absl::OkStatus();
  }

  // A VM still being removed after its machine left the host is expected;
  // any other VM of a machine not placed here is worth a warning.
  void LogNotPlaced(const v1::HostStatus& status, const std::vector<std::string>& not_placed) {
    absl::flat_hash_set<std::string> ids(not_placed.begin(), not_placed.end());
    for (const v1::VmStatus& vm : status.vms()) {
      if (!ids.contains(absl::AsciiStrToLower(vm.machine_id()))) continue;
      if (vm.state() == v1::VM_STATE_DELETING) {
        MANDANT_LOG(debug, "agent status of a VM being removed not recorded",
                    {{"host", session_.host}, {"machine_id", vm.machine_id()}});
      } else {
        MANDANT_LOG(warn, "agent reported a VM whose machine is not placed on its host; ignored",
                    {{"host", session_.host},
                     {"machine_id", vm.machine_id()},
                     {"state", v1::VmState_Name(vm.state())}});
      }
    }
  }

  // The certificate is checked again (inventory, revocation) every three
  // heartbeat intervals, so that a revoked agent loses its stream within
  // that time and gets no more specs with tenants' seeds, while most
  // heartbeats cost no certificate check.
  absl::Status ReauthenticateIfDue() {
    const absl::Time now = absl::Now();
    if (now - authenticated_at_ < 3 * service_->options_.lease.heartbeat_interval) {
      return absl::OkStatus();
    }
    MANDANT_RETURN_IF_ERROR(call_.Authenticate(credentials_));
    authenticated_at_ = now;
    return absl::OkStatus();
  }

  bool Ending() const {
    absl::MutexLock lock(&mu_);
    return ending_;
  }

  absl::Status Hello(const v1::AgentMessage& message) {
    MANDANT_RETURN_IF_ERROR(call_.Authenticate(credentials_));
    authenticated_at_ = absl::Now();
    const auth::Principal& p = call_.principal();
    if (p.role != auth::Role::kAgent) {
      return absl::PermissionDeniedError(
          absl::StrCat("only host agents may connect; ", p.ToString(), " is not one"));
    }
    call_.set_object(absl::StrCat("hosts/", p.subject));
    if (!message.has_hello()) {
      return absl::FailedPreconditionError("the first message on the stream must be Hello");
    }
    const v1::Hello& hello = message.hello();
    if (hello.host() != absl::StrCat("hosts/", p.subject)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "Hello.host ", tenants::QuoteForMessage(hello.host()),
          " is not this certificate's host \"hosts/", p.subject, "\""));
    }
    MANDANT_RETURN_IF_ERROR(ValidateHello(hello).ToStatus());
    MANDANT_ASSIGN_OR_RETURN(certificate_serial_,
                             PeerCertificateSerial(credentials_.peer_certificate_pem));
    session_.session_id = store::NewUuid();
    absl::Status mismatch;
    absl::Status connected = service_->deps_.db->Transact(
        "agent connect", [&](store::Connection& conn) -> absl::Status {
          MANDANT_ASSIGN_OR_RETURN(v1::Host host, service_->store_.Get(conn, p.subject));
          mismatch = CheckUnderlayAddress(hello, host);
          MANDANT_RETURN_IF_ERROR(mismatch);
          MANDANT_ASSIGN_OR_RETURN(
              session_, service_->store_.Connect(conn, p.subject, session_.session_id, hello));
          return absl::OkStatus();
        });
    if (!mismatch.ok()) RecordUnderlayMismatch(p.subject, mismatch);
    MANDANT_RETURN_IF_ERROR(connected);
    registered_ = true;
    host_id_ = session_.host_id;
    service_->Register(session_.host_id, this);
    bool ended = false;
    {
      absl::MutexLock lock(&mu_);
      connected_ = true;
      ended = ending_;
    }
    if (ended) {
      // Ended while connecting: OnDone may have run before Register.
      service_->Unregister(this);
      CloseSession();
      return absl::OkStatus();
    }
    MANDANT_LOG(info, "agent connected",
                {{"host", session_.host},
                 {"session", session_.session_id},
                 {"agent_version", hello.agent_version()},
                 {"call_id", call_.call_id()}});

    v1::ControllerMessage settings;
    *settings.mutable_settings()->mutable_heartbeat_interval() =
        ToProto(service_->options_.lease.heartbeat_interval);
    *settings.mutable_settings()->mutable_lease_duration() =
        ToProto(service_->options_.lease.lease_duration);
    Send(std::move(settings));
    v1::ControllerMessage bundle;
    absl::Status st = service_->deps_.db->Run("trust bundle", [&](store::Connection& conn) {
      store::PkiStore pki;
      return api::FillTrustBundle(pki, conn, store::kInfrastructureScope, "",
                                  bundle.mutable_trust_bundle());
    });
    if (st.ok()) Send(std::move(bundle));
    SendSpec();
    return absl::OkStatus();
  }

  void CloseSession() {
    absl::Status st = service_->deps_.db->Transact(
        "agent disconnect",
        [&](store::Connection& conn) { return service_->store_.Disconnect(conn, session_); });
    if (!st.ok()) {
      MANDANT_LOG(warn, "agent session not closed in the database",
                  {{"host", session_.host}, {"error", st}});
    } else {
      MANDANT_LOG(info, "agent disconnected",
                  {{"host", session_.host}, {"session", session_.session_id}});
    }
  }

  absl::Status Inventory(const v1::Hello& hello) {
    if (hello.host() != absl::StrCat("hosts/", session_.host)) {
      return absl::PermissionDeniedError("Hello.host may not change on a stream");
    }
    MANDANT_RETURN_IF_ERROR(ValidateHello(hello).ToStatus());
    absl::Status mismatch;
    absl::Status updated = service_->deps_.db->Transact(
        "agent inventory", [&](store::Connection& conn) -> absl::Status {
          MANDANT_RETURN_IF_ERROR(service_->store_.Heartbeat(conn, session_));
          MANDANT_ASSIGN_OR_RETURN(v1::Host host, service_->store_.Get(conn, session_.host));
          mismatch = CheckUnderlayAddress(hello, host);
          MANDANT_RETURN_IF_ERROR(mismatch);
          return service_->store_.Connect(conn, session_.host, session_.session_id, hello)
              .status();
        });
    if (!mismatch.ok()) RecordUnderlayMismatch(session_.host, mismatch);
    MANDANT_RETURN_IF_ERROR(updated);
    SendSpec();
    return absl::OkStatus();
  }

  // The operator sees why the agent stays away in the host's Connected
  // condition (host.proto), not only in the agent's log.
  void RecordUnderlayMismatch(const std::string& host, const absl::Status& mismatch) {
    absl::Status recorded =
        service_->deps_.db->Transact("agent refused", [&](store::Connection& conn) {
          return service_->store_.RecordRefusal(conn, host, "UnderlayAddressMismatch",
                                                mismatch.message());
        });
    if (!recorded.ok()) {
      MANDANT_LOG(warn, "agent refusal not recorded", {{"host", host}, {"error", recorded}});
    }
  }

  // UNAUTHENTICATED, in the transaction that reads it, unless the stream's
  // certificate is in the inventory, unrevoked and unexpired. Uncached,
  // unlike the authenticator's check: for what must never reach a revoked
  // agent (seeds, new certificates).
  absl::Status CheckCertificateValid(store::Connection& conn) {
    store::PkiStore pki;
    auto cert = pki.GetCertificate(conn, store::kInfrastructureScope, "", certificate_serial_);
    if (absl::IsNotFound(cert.status())) {
      return absl::UnauthenticatedError(absl::StrCat(
          "client certificate refused: serial ", certificate_serial_, " of host \"",
          session_.host, "\" is not in the infrastructure inventory"));
    }
    MANDANT_RETURN_IF_ERROR(cert.status());
    if (cert->revoke_time) {
      return absl::UnauthenticatedError(absl::StrCat(
          "client certificate refused: it is revoked; host \"", session_.host,
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
  absl::Status Renew(const v1::CertificateRenewal& renewal) {
    // The heartbeats' check, made at every renewal rather than when due.
    MANDANT_RETURN_IF_ERROR(call_.Authenticate(credentials_));
    authenticated_at_ = absl::Now();
    v1::ControllerMessage reply;
    v1::RenewedCertificate* out = reply.mutable_certificate();
    absl::Status st = [&]() -> absl::Status {
      MANDANT_ASSIGN_OR_RETURN(pki::ParsedCsr csr, AgentCsr(renewal.csr()));
      return service_->deps_.db->Transact(
          "renew agent certificate", [&](store::Connection& conn) -> absl::Status {
            // The authenticator's answer may be cached for seconds.
            MANDANT_RETURN_IF_ERROR(CheckCertificateValid(conn));
            MANDANT_ASSIGN_OR_RETURN(
                IssuedCertificate issued,
                service_->deps_.issuers->IssueAgentCertificate(
                    conn, session_.host, csr.public_key.get(), service_->options_.certificate_ttl,
                    absl::Now()));
            MANDANT_RETURN_IF_ERROR(
                service_->store_.SetCertificate(conn, session_.host_id, issued.row.serial));
            MANDANT_RETURN_IF_ERROR(call_.Audit(conn, absl::OkStatus(), "agent certificate renewed"));
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
    Send(std::move(reply));
    return absl::OkStatus();
  }

  // Computes the host's spec and sends it when its version is new to this
  // stream.
  void SendSpec() {
    v1::ControllerMessage message;
    absl::Status st = service_->deps_.db->Transact(
        "host spec", [&](store::Connection& conn) -> absl::Status {
          MANDANT_RETURN_IF_ERROR(conn.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
          MANDANT_ASSIGN_OR_RETURN(*message.mutable_spec(),
                                   service_->store_.DesiredSpec(conn, session_.host_id,
                                                                service_->deps_.issuers->keys()));
          // Seeds carry tenants' secrets: none for a certificate revoked
          // while its stream was open (the host enrolled again).
          return CheckCertificateValid(conn);
        });
    if (absl::IsNotFound(st)) {
      End(absl::UnauthenticatedError(
          absl::StrCat("host \"", session_.host, "\" was deleted; its agent is no longer enrolled")));
      return;
    }
    if (absl::IsUnauthenticated(st)) {
      End(st);
      return;
    }
    if (!st.ok()) {
      // The next change, resync or reconnect tries again; the agent keeps
      // what it has meanwhile.
      MANDANT_LOG(err, "host spec not computed", {{"host", session_.host}, {"error", st}});
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (message.spec().version() <= sent_version_) return;
      sent_version_ = message.spec().version();
    }
    MANDANT_LOG(debug, "host spec sent",
                {{"host", session_.host},
                 {"version", static_cast<long long>(message.spec().version())},
                 {"vms", message.spec().vms_size()},
                 {"networks", message.spec().networks_size()}});
    Send(std::move(message));
  }

  AgentServiceImpl* const service_;
  api::RpcCall call_;
  std::atomic<int> refs_{1};
  v1::AgentMessage in_;
  v1::ControllerMessage out_;
  // Set by the first message's handler (before connected_), read-only
  // afterwards.
  store::AgentSession session_;
  // The serial of the client certificate the stream was opened with.
  std::string certificate_serial_;
  const api::RpcCall::Credentials credentials_;
  // When the certificate was last checked (work queue only).
  absl::Time authenticated_at_ = absl::InfinitePast();
  bool registered_ = false;
  std::atomic<int64_t> host_id_{0};

  mutable absl::Mutex mu_;
  std::deque<v1::ControllerMessage> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  int starting_read_ ABSL_GUARDED_BY(mu_) = 0;
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool spec_queued_ ABSL_GUARDED_BY(mu_) = false;
  // The session is recorded in the database and must be closed.
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  int64_t sent_version_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_message_ ABSL_GUARDED_BY(mu_);
  // Written once by End (under mu_) before Finish; read in OnDone.
  absl::Status final_status_;
};

AgentServiceImpl::AgentServiceImpl(const api::ServiceDeps& deps, AgentServiceOptions options)
    : deps_(deps),
      options_(std::move(options)),
      store_(options_.lease),
      work_(options_.worker_threads) {
  if (!options_.conninfo.empty()) {
    store::Notifications::Options n;
    n.conninfo = options_.conninfo;
    n.password = options_.password;
    n.channel = "mandant_host_spec";
    n.on_notify = [this](absl::string_view payload) {
      int64_t host_id = 0;
      if (absl::SimpleAtoi(payload, &host_id)) SpecChanged(host_id);
    };
    n.on_resync = [this] { ResyncAll(); };
    notifications_ = std::make_unique<store::Notifications>(std::move(n));
  }
  lease_thread_ = std::thread([this] {
    while (!stop_) {
      absl::SleepFor(absl::Milliseconds(500));
      CheckLeases();
    }
  });
}

AgentServiceImpl::~AgentServiceImpl() {
  stop_ = true;
  lease_thread_.join();
  notifications_.reset();
}

grpc::Status AgentServiceImpl::Enroll(grpc::ServerContext* context,
                                      const v1::EnrollRequest* request,
                                      v1::EnrollResponse* response) {
  api::RpcCall call(context, "Enroll", /*mutating=*/true, deps_);
  return call.Finish(DoEnroll(call, *request, response));
}

absl::Status AgentServiceImpl::DoEnroll(api::RpcCall& call, const v1::EnrollRequest& request,
                                        v1::EnrollResponse* response) {
  call.set_object(request.host());
  call.set_request_id(request.request_id());
  tenants::FieldViolations bad;
  const std::string host = tenants::ParseHostName(request.host(), "host", &bad);
  if (request.bootstrap_token().empty() || request.bootstrap_token().size() > kMaxTokenBytes) {
    bad.Add("bootstrap_token", "is required: the token HostService.CreateHost returned");
  }
  tenants::ValidateRequestId(request.request_id(), &bad);
  // Who claims to enroll, for the audit log, refusals of malformed requests
  // included; the token decides.
  call.AssumePrincipal(
      auth::Principal{host.empty() ? std::string("(no valid host)") : host, auth::Role::kAgent, ""});
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  MANDANT_ASSIGN_OR_RETURN(pki::ParsedCsr csr, AgentCsr(request.csr()));
  const std::string csr_digest = pki::Sha256(request.csr());
  return deps_.db->Transact("enroll agent", [&](store::Connection& conn) -> absl::Status {
    auto token = store_.FindBootstrapToken(conn, pki::Sha256(request.bootstrap_token()));
    if (absl::IsNotFound(token.status()) || (token.ok() && token->host != host)) {
      return BadToken();
    }
    MANDANT_RETURN_IF_ERROR(token.status());
    const absl::Time now = absl::Now();
    if (token->used_time) {
      // The agent's retry of the call that used the token gets its answer.
      if (!request.request_id().empty() && token->enroll_request_id == request.request_id() &&
          token->enroll_csr_sha256 == csr_digest) {
        response->set_certificate_pem(token->certificate_pem);
        response->set_chain_pem(token->chain_pem);
        store::PkiStore pki;
        MANDANT_RETURN_IF_ERROR(api::FillTrustBundle(pki, conn, store::kInfrastructureScope, "",
                                                     response->mutable_trust_bundle()));
        return call.Audit(conn, absl::OkStatus(), "replayed the certificate of this request_id");
      }
      return BadToken();
    }
    if (token->expire_time <= now) return BadToken();
    MANDANT_ASSIGN_OR_RETURN(IssuedCertificate issued,
                             deps_.issuers->IssueAgentCertificate(
                                 conn, host, csr.public_key.get(), options_.certificate_ttl, now));
    MANDANT_RETURN_IF_ERROR(store_
                                .CompleteEnrollment(conn, token->host_id, request.request_id(),
                                                    csr_digest, issued.row.serial,
                                                    issued.row.certificate_pem, issued.chain_pem)
                                .status());
    // A host enrolls once per token: whatever certificate it had before (a
    // reinstalled host) stops working now.
    MANDANT_RETURN_IF_ERROR(
        deps_.issuers->RevokeAgentCertificates(conn, host, issued.row.serial, now));
    response->set_certificate_pem(issued.row.certificate_pem);
    response->set_chain_pem(issued.chain_pem);
    store::PkiStore pki;
    MANDANT_RETURN_IF_ERROR(api::FillTrustBundle(pki, conn, store::kInfrastructureScope, "",
                                                 response->mutable_trust_bundle()));
    MANDANT_LOG(info, "agent enrolled",
                {{"host", host}, {"serial", issued.row.serial}, {"call_id", call.call_id()}});
    return call.Audit(conn, absl::OkStatus(), absl::StrCat("certificate ", issued.row.serial));
  });
}

grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>* AgentServiceImpl::Connect(
    grpc::CallbackServerContext* context) {
  return new AgentStream(this, context);
}

int AgentServiceImpl::connected() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(streams_.size());
}

void AgentServiceImpl::EndAllStreams() {
  ForEachStream([](AgentStream* stream) {
    stream->End(absl::UnavailableError("mandantd is shutting down; reconnect"));
  });
}

template <typename Fn>
void AgentServiceImpl::ForEachStream(Fn fn) {
  // Called outside mu_: ending a stream may lead gRPC to call back into the
  // registry.
  std::vector<AgentStream*> streams;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, stream] : streams_) {
      stream->Ref();
      streams.push_back(stream);
    }
  }
  for (AgentStream* stream : streams) {
    fn(stream);
    stream->Unref();
  }
}

void AgentServiceImpl::Register(int64_t host_id, AgentStream* stream) {
  AgentStream* replaced = nullptr;
  stream->Ref();  // the registry's
  {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = streams_.try_emplace(host_id, stream);
    if (!inserted) {
      replaced = it->second;
      it->second = stream;
    }
  }
  if (replaced != nullptr) {
    replaced->End(absl::AbortedError("a newer stream of this host replaced this one"));
    replaced->Unref();
  }
}

void AgentServiceImpl::Unregister(AgentStream* stream) {
  {
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(stream->host_id());
    if (it == streams_.end() || it->second != stream) return;
    streams_.erase(it);
  }
  stream->Unref();
}

void AgentServiceImpl::SpecChanged(int64_t host_id) {
  AgentStream* stream = nullptr;
  {
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(host_id);
    if (it == streams_.end()) return;
    stream = it->second;
    stream->Ref();
  }
  stream->SpecChanged();
  stream->Unref();
}

void AgentServiceImpl::ResyncAll() {
  ForEachStream([](AgentStream* stream) { stream->SpecChanged(); });
}

void AgentServiceImpl::CheckLeases() {
  const absl::Time now = absl::Now();
  const absl::Duration lease = options_.lease.lease_duration;
  ForEachStream([&](AgentStream* stream) {
    if (now - stream->last_message() > lease) {
      stream->End(absl::UnavailableError(
          absl::StrCat("no message from the agent of host \"", stream->host(),
                       "\" within its lease of ", absl::FormatDuration(lease))));
    }
  });
}

}  // namespace mandant::controller
