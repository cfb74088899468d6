#include "cli/host_requests.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

#include "cli/pki_requests.h"
#include "cli/tenant_requests.h"
#include "common/status_macros.h"

namespace mandant::cli {
namespace {

constexpr absl::string_view kHostsPrefix = "hosts/";

absl::StatusOr<std::string> NameArg(const Invocation& inv) {
  if (inv.args.empty()) return absl::InvalidArgumentError("missing argument ID");
  return HostNameFromArg(inv.args[0]);
}

// --token-ttl as a Duration; false when the flag was not given.
absl::StatusOr<bool> TokenTtl(const Invocation& inv, google::protobuf::Duration* ttl) {
  if (!inv.Has("token-ttl")) return false;
  MANDANT_ASSIGN_OR_RETURN(absl::Duration d,
                           ParseDurationFlag("--token-ttl", inv.Get("token-ttl")));
  ttl->set_seconds(absl::ToInt64Seconds(d));
  return true;
}

}  // namespace

absl::StatusOr<std::string> HostNameFromArg(absl::string_view arg) {
  absl::string_view id = arg;
  if (absl::StartsWith(id, kHostsPrefix)) id.remove_prefix(kHostsPrefix.size());
  if (id.empty() || id.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", arg, "\" is not a host id; give the id (e.g. hv1) or the name (hosts/hv1)"));
  }
  return absl::StrCat(kHostsPrefix, id);
}

std::string HostIdFromName(absl::string_view name) {
  if (absl::StartsWith(name, kHostsPrefix) &&
      name.find('/', kHostsPrefix.size()) == absl::string_view::npos) {
    return std::string(name.substr(kHostsPrefix.size()));
  }
  return std::string(name);
}

absl::StatusOr<TokenDestination> TokenDestinationFromFlags(const Invocation& inv) {
  TokenDestination dest;
  dest.force = inv.Has("force");
  if (inv.Has("out-token")) {
    dest.out_token = inv.Get("out-token");
    if (dest.out_token.empty()) {
      return absl::InvalidArgumentError(
          "--out-token \"\" names no file; give a path, or leave the flag out to print the token "
          "once on stdout");
    }
  } else if (dest.force) {
    return absl::InvalidArgumentError(
        "--force replaces an existing --out-token file; without --out-token there is nothing to "
        "replace");
  }
  return dest;
}

absl::StatusOr<v1::CreateHostRequest> BuildCreateHostRequest(
    const Invocation& inv, absl::string_view generated_request_id) {
  v1::CreateHostRequest request;
  MANDANT_ASSIGN_OR_RETURN(std::string name, NameArg(inv));
  request.set_host_id(HostIdFromName(name));
  if (!inv.Has("underlay-address")) {
    return absl::InvalidArgumentError(
        "host create needs --underlay-address ADDR: the IPv4 or IPv6 address other hosts reach "
        "this host on for VXLAN (its agent must report the same one)");
  }
  request.mutable_host()->set_underlay_address(inv.Get("underlay-address"));
  MANDANT_ASSIGN_OR_RETURN(bool has_ttl, TokenTtl(inv, request.mutable_bootstrap_token_ttl()));
  if (!has_ttl) request.clear_bootstrap_token_ttl();
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_request_id(),
                           RequestIdFromFlags(inv, generated_request_id));
  return request;
}

absl::StatusOr<v1::GetHostRequest> BuildGetHostRequest(const Invocation& inv) {
  v1::GetHostRequest request;
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_name(), NameArg(inv));
  return request;
}

absl::StatusOr<v1::ListHostsRequest> BuildListHostsRequest(const Invocation& inv) {
  v1::ListHostsRequest request;
  if (inv.Has("page-size")) {
    MANDANT_ASSIGN_OR_RETURN(int32_t size, PageSizeFromFlags(inv));
    request.set_page_size(size);
  }
  if (inv.Has("page-token")) request.set_page_token(inv.Get("page-token"));
  return request;
}

absl::StatusOr<v1::IssueBootstrapTokenRequest> BuildIssueBootstrapTokenRequest(
    const Invocation& inv, absl::string_view generated_request_id) {
  v1::IssueBootstrapTokenRequest request;
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_name(), NameArg(inv));
  MANDANT_ASSIGN_OR_RETURN(bool has_ttl, TokenTtl(inv, request.mutable_bootstrap_token_ttl()));
  if (!has_ttl) request.clear_bootstrap_token_ttl();
  if (inv.Has("etag")) request.set_etag(inv.Get("etag"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_request_id(),
                           RequestIdFromFlags(inv, generated_request_id));
  return request;
}

absl::StatusOr<v1::CordonHostRequest> BuildCordonHostRequest(
    const Invocation& inv, absl::string_view generated_request_id) {
  v1::CordonHostRequest request;
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_name(), NameArg(inv));
  if (inv.Has("reason")) request.set_reason(inv.Get("reason"));
  if (inv.Has("etag")) request.set_etag(inv.Get("etag"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_request_id(),
                           RequestIdFromFlags(inv, generated_request_id));
  return request;
}

absl::StatusOr<v1::UncordonHostRequest> BuildUncordonHostRequest(
    const Invocation& inv, absl::string_view generated_request_id) {
  v1::UncordonHostRequest request;
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_name(), NameArg(inv));
  if (inv.Has("etag")) request.set_etag(inv.Get("etag"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_request_id(),
                           RequestIdFromFlags(inv, generated_request_id));
  return request;
}

absl::StatusOr<v1::DeleteHostRequest> BuildDeleteHostRequest(
    const Invocation& inv, absl::string_view generated_request_id) {
  v1::DeleteHostRequest request;
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_name(), NameArg(inv));
  if (inv.Has("etag")) request.set_etag(inv.Get("etag"));
  MANDANT_ASSIGN_OR_RETURN(*request.mutable_request_id(),
                           RequestIdFromFlags(inv, generated_request_id));
  return request;
}

}  // namespace mandant::cli
