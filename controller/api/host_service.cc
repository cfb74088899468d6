#include "controller/api/host_service.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include <openssl/rand.h>

#include "common/logging.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "controller/api/paging.h"
#include "controller/api/time_fields.h"
#include "controller/auth/principal.h"
#include "pki/crl.h"
#include "pki/encoding.h"
#include "pki/sealing.h"
#include "tenants/field_violations.h"
#include "tenants/host_validation.h"
#include "tenants/tenant_validation.h"

namespace mandant::controller::api {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::string_view kListHosts = "ListHosts";
constexpr absl::string_view kTokenTtlField = "bootstrap_token_ttl";
constexpr absl::string_view kTokenPrefix = "mandant-bootstrap-";

std::string TokenAssociatedData(int64_t host_id) {
  return absl::StrCat("host_bootstrap_tokens/", host_id);
}

absl::Status RequireAdmin(RpcCall& call) {
  return auth::RequireProviderAdmin(call.principal(), "managing hosts");
}

// tenants::BootstrapTokenTtl checks the range; this refuses what is no
// google.protobuf.Duration at all (nanos out of range or of the other
// sign), unless the field already has a violation.
void CheckTokenTtlForm(const google::protobuf::Duration* ttl, tenants::FieldViolations& bad) {
  if (ttl == nullptr) return;
  for (const tenants::FieldViolation& v : bad.violations()) {
    if (v.field == kTokenTtlField) return;
  }
  if (std::string problem = DurationFormProblem(*ttl); !problem.empty()) {
    bad.Add(std::string(kTokenTtlField), absl::StrCat("is not a valid duration: ", problem));
  }
}

// Host etags are "{8 hex}-{generation}". store::CheckHostEtag echoes the
// caller's etag into its ABORTED message, so anything that cannot be one
// is refused here, quoted and cut.
void CheckEtagField(absl::string_view etag, tenants::FieldViolations& bad) {
  constexpr size_t kMaxEtagLength = 32;
  if (etag.size() > kMaxEtagLength ||
      etag.find_first_not_of("0123456789abcdef-") != absl::string_view::npos) {
    bad.Add("etag", absl::StrCat("is not an etag of a host: pass the etag of GetHost or ListHosts "
                                 "unchanged, got ",
                                 tenants::QuoteForMessage(etag)));
  }
}

}  // namespace

std::string HostIdentity(absl::string_view trust_domain, absl::string_view host) {
  return absl::StrCat("spiffe://", trust_domain, "/host/", host);
}

HostServiceImpl::HostServiceImpl(const ServiceDeps& deps, store::LeaseSettings lease)
    : deps_(deps), store_(lease) {}

grpc::Status HostServiceImpl::CreateHost(grpc::ServerContext* context,
                                         const v1::CreateHostRequest* request,
                                         v1::CreateHostResponse* response) {
  RpcCall call(context, "CreateHost", /*mutating=*/true, deps_);
  return call.Finish(Create(call, *request, response));
}

grpc::Status HostServiceImpl::GetHost(grpc::ServerContext* context,
                                      const v1::GetHostRequest* request, v1::Host* response) {
  RpcCall call(context, "GetHost", /*mutating=*/false, deps_);
  return call.Finish(Get(call, *request, response));
}

grpc::Status HostServiceImpl::ListHosts(grpc::ServerContext* context,
                                        const v1::ListHostsRequest* request,
                                        v1::ListHostsResponse* response) {
  RpcCall call(context, "ListHosts", /*mutating=*/false, deps_);
  return call.Finish(List(call, *request, response));
}

grpc::Status HostServiceImpl::IssueBootstrapToken(grpc::ServerContext* context,
                                                  const v1::IssueBootstrapTokenRequest* request,
                                                  v1::IssueBootstrapTokenResponse* response) {
  RpcCall call(context, "IssueBootstrapToken", /*mutating=*/true, deps_);
  return call.Finish(IssueToken(call, *request, response));
}

grpc::Status HostServiceImpl::CordonHost(grpc::ServerContext* context,
                                         const v1::CordonHostRequest* request, v1::Host* response) {
  RpcCall call(context, "CordonHost", /*mutating=*/true, deps_);
  return call.Finish(Cordon(call, "cordon host", request->name(), request->etag(),
                            request->request_id(), /*cordoned=*/true, request->reason(), *request,
                            response));
}

grpc::Status HostServiceImpl::UncordonHost(grpc::ServerContext* context,
                                           const v1::UncordonHostRequest* request,
                                           v1::Host* response) {
  RpcCall call(context, "UncordonHost", /*mutating=*/true, deps_);
  return call.Finish(Cordon(call, "uncordon host", request->name(), request->etag(),
                            request->request_id(), /*cordoned=*/false, "", *request, response));
}

grpc::Status HostServiceImpl::DeleteHost(grpc::ServerContext* context,
                                         const v1::DeleteHostRequest* request,
                                         google::protobuf::Empty*) {
  RpcCall call(context, "DeleteHost", /*mutating=*/true, deps_);
  return call.Finish(Delete(call, *request));
}

absl::StatusOr<std::string> HostServiceImpl::NewToken(store::Connection& conn, int64_t host_id,
                                                      absl::Time expire_time) {
  unsigned char random[32];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return absl::InternalError("the random generator failed; no bootstrap token was made");
  }
  std::string token =
      absl::StrCat(kTokenPrefix, absl::WebSafeBase64Escape(absl::string_view(
                                     reinterpret_cast<char*>(random), sizeof(random))));
  const pki::Kek& kek = deps_.issuers->keys().current();
  MANDANT_ASSIGN_OR_RETURN(std::string sealed, pki::Seal(kek, token, TokenAssociatedData(host_id)));
  MANDANT_RETURN_IF_ERROR(
      store_.PutBootstrapToken(conn, host_id, Sha256(token), sealed, kek.id(), expire_time));
  return token;
}

absl::Status HostServiceImpl::RestoreToken(absl::string_view host, v1::BootstrapToken* token) {
  return deps_.db->Run("restore bootstrap token", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(int64_t id, store_.InternalId(conn, host));
    MANDANT_ASSIGN_OR_RETURN(store::BootstrapTokenRow row, store_.HostBootstrapToken(conn, id));
    const absl::Time expire =
        absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(token->expire_time()));
    if (row.sealed_token.empty() || row.expire_time != expire || row.expire_time <= absl::Now()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the bootstrap token of this request for host ", tenants::QuoteForMessage(host),
          " was used, replaced or has expired; issue a new one with IssueBootstrapToken"));
    }
    MANDANT_ASSIGN_OR_RETURN(
        pki::SecretBytes clear,
        pki::Unseal(deps_.issuers->keys(), row.sealed_token, TokenAssociatedData(row.host_id)));
    token->set_token(std::string(clear.view()));
    return absl::OkStatus();
  });
}

absl::Status HostServiceImpl::Create(RpcCall& call, const v1::CreateHostRequest& request,
                                     v1::CreateHostResponse* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(absl::StrCat("hosts/", request.host_id()));
  call.set_request_id(request.request_id());
  MANDANT_RETURN_IF_ERROR(RequireAdmin(call));
  tenants::FieldViolations bad = tenants::ValidateCreateHostRequest(request);
  CheckTokenTtlForm(request.has_bootstrap_token_ttl() ? &request.bootstrap_token_ttl() : nullptr,
                    bad);
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  // Valid now; these only convert.
  tenants::FieldViolations unused;
  const std::string underlay =
      tenants::CanonicalUnderlayAddress(request.host().underlay_address(), "", &unused);
  const absl::Duration ttl = tenants::BootstrapTokenTtl(
      request.has_bootstrap_token_ttl() ? &request.bootstrap_token_ttl() : nullptr, "", &unused);

  std::string token;
  MANDANT_RETURN_IF_ERROR(call.TransactIdempotent(
      "create host", request.request_id(), request, response,
      [&](store::Connection& conn) -> absl::Status {
        token.clear();
        MANDANT_ASSIGN_OR_RETURN(v1::Host host, store_.Create(conn, request.host_id(), underlay));
        MANDANT_ASSIGN_OR_RETURN(int64_t id, store_.InternalId(conn, request.host_id()));
        const absl::Time expire = absl::Now() + ttl;
        MANDANT_ASSIGN_OR_RETURN(token, NewToken(conn, id, expire));
        *response->mutable_host() = std::move(host);
        *response->mutable_bootstrap_token()->mutable_expire_time() =
            TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(expire));
        MANDANT_LOG(info, "host created",
                    {{"host", request.host_id()},
                     {"underlay_address", underlay},
                     {"call_id", call.call_id()}});
        return absl::OkStatus();
      }));
  // The token is never part of the stored response.
  if (!token.empty()) {
    response->mutable_bootstrap_token()->set_token(token);
    return absl::OkStatus();
  }
  return RestoreToken(request.host_id(), response->mutable_bootstrap_token());
}

absl::Status HostServiceImpl::Get(RpcCall& call, const v1::GetHostRequest& request,
                                  v1::Host* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  MANDANT_RETURN_IF_ERROR(RequireAdmin(call));
  MANDANT_ASSIGN_OR_RETURN(std::string host, tenants::ParseHostName(request.name()));
  return deps_.db->Run("get host", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(*response, store_.Get(conn, host));
    return absl::OkStatus();
  });
}

absl::Status HostServiceImpl::List(RpcCall& call, const v1::ListHostsRequest& request,
                                   v1::ListHostsResponse* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object("hosts");
  MANDANT_RETURN_IF_ERROR(RequireAdmin(call));
  tenants::FieldViolations bad;
  const PageRequest page =
      ParsePageRequest(request.page_size(), request.page_token(), kListHosts, "", 1, bad);
  if (!page.position.empty() && !tenants::CheckHostId(page.position[0]).empty()) {
    bad.Add("page_token", "is not a token returned by ListHosts");
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  const std::string after = page.position.empty() ? "" : page.position[0];
  return deps_.db->Run("list hosts", [&](store::Connection& conn) -> absl::Status {
    MANDANT_ASSIGN_OR_RETURN(std::vector<v1::Host> hosts,
                             store_.List(conn, after, page.page_size + 1));
    const bool more = TrimToPage(hosts, page.page_size);
    for (v1::Host& h : hosts) *response->add_hosts() = std::move(h);
    if (more) {
      MANDANT_ASSIGN_OR_RETURN(const std::string last,
                               tenants::ParseHostName(response->hosts().rbegin()->name()));
      response->set_next_page_token(NextPageToken(kListHosts, "", {last}));
    }
    return absl::OkStatus();
  });
}

absl::Status HostServiceImpl::IssueToken(RpcCall& call,
                                         const v1::IssueBootstrapTokenRequest& request,
                                         v1::IssueBootstrapTokenResponse* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  call.set_request_id(request.request_id());
  MANDANT_RETURN_IF_ERROR(RequireAdmin(call));
  tenants::FieldViolations bad;
  const std::string host = tenants::ParseHostName(request.name(), "name", &bad);
  const absl::Duration ttl = tenants::BootstrapTokenTtl(
      request.has_bootstrap_token_ttl() ? &request.bootstrap_token_ttl() : nullptr, kTokenTtlField,
      &bad);
  CheckTokenTtlForm(request.has_bootstrap_token_ttl() ? &request.bootstrap_token_ttl() : nullptr,
                    bad);
  CheckEtagField(request.etag(), bad);
  tenants::ValidateRequestId(request.request_id(), &bad);
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());

  std::string token;
  MANDANT_RETURN_IF_ERROR(call.TransactIdempotent(
      "issue bootstrap token", request.request_id(), request, response,
      [&](store::Connection& conn) -> absl::Status {
        token.clear();
        MANDANT_ASSIGN_OR_RETURN(v1::Host current, store_.Get(conn, host, /*for_update=*/true));
        MANDANT_RETURN_IF_ERROR(store::CheckHostEtag(host, current, request.etag()));
        MANDANT_ASSIGN_OR_RETURN(int64_t id, store_.InternalId(conn, host));
        const absl::Time expire = absl::Now() + ttl;
        MANDANT_ASSIGN_OR_RETURN(token, NewToken(conn, id, expire));
        *response->mutable_bootstrap_token()->mutable_expire_time() =
            TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(expire));
        return absl::OkStatus();
      }));
  if (!token.empty()) {
    response->mutable_bootstrap_token()->set_token(token);
    return absl::OkStatus();
  }
  return RestoreToken(host, response->mutable_bootstrap_token());
}

absl::Status HostServiceImpl::Cordon(RpcCall& call, absl::string_view method,
                                     absl::string_view name, absl::string_view etag,
                                     absl::string_view request_id, bool cordoned,
                                     absl::string_view reason,
                                     const google::protobuf::Message& request, v1::Host* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(std::string(name));
  call.set_request_id(std::string(request_id));
  MANDANT_RETURN_IF_ERROR(RequireAdmin(call));
  tenants::FieldViolations bad;
  const std::string host = tenants::ParseHostName(name, "name", &bad);
  tenants::ValidateDisplayName(reason, "reason", &bad);
  CheckEtagField(etag, bad);
  tenants::ValidateRequestId(request_id, &bad);
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  return call.TransactIdempotent(
      method, request_id, request, response, [&](store::Connection& conn) -> absl::Status {
        MANDANT_ASSIGN_OR_RETURN(*response, store_.SetCordon(conn, host, etag, cordoned, reason));
        return absl::OkStatus();
      });
}

absl::Status HostServiceImpl::Delete(RpcCall& call, const v1::DeleteHostRequest& request) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  call.set_request_id(request.request_id());
  MANDANT_RETURN_IF_ERROR(RequireAdmin(call));
  tenants::FieldViolations bad;
  const std::string host = tenants::ParseHostName(request.name(), "name", &bad);
  CheckEtagField(request.etag(), bad);
  tenants::ValidateRequestId(request.request_id(), &bad);
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  google::protobuf::Empty empty;
  return call.TransactIdempotent(
      "delete host", request.request_id(), request, &empty,
      [&](store::Connection& conn) -> absl::Status {
        MANDANT_RETURN_IF_ERROR(store_.Delete(conn, host, request.etag()));
        // The agent's certificates die with the host, so that its stream ends
        // and a host created later under the same name starts clean.
        return deps_.issuers->RevokeAgentCertificates(conn, host, "", absl::Now());
      });
}

}  // namespace mandant::controller::api
