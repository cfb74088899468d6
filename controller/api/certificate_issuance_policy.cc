// CertificateService, issuance policy: GetIssuancePolicy,
// UpdateIssuancePolicy and the policy a new tenant starts with
// (proto/mandant/v1/certificate.proto, IssuancePolicy).
//
// A policy exists per tenant only. Updates take the fields named in
// update_mask, check the merged policy as a whole (pki::
// ValidateIssuancePolicy: names inside the tenant's zone and trust domain,
// TTLs within 5 minutes to 397 days), bump its etag ("p-{generation}") and
// are refused with ABORTED when the request's etag is stale and with
// FAILED_PRECONDITION while the tenant is suspended.

#include <string>

#include "absl/strings/str_cat.h"

#include "common/status_macros.h"
#include "controller/api/certificate_resources.h"
#include "controller/api/certificate_service.h"
#include "controller/api/time_fields.h"
#include "pki/issuance_policy.h"
#include "tenants/field_violations.h"

namespace mandant::controller::api {
namespace {

constexpr int kDefaultMinRsaBits = 2048;

// Checks repeated KeyType values of a request: known, not UNSPECIFIED.
void CheckKeyTypes(const google::protobuf::RepeatedField<int>& types, absl::string_view field,
                   tenants::FieldViolations& bad) {
  for (int i = 0; i < types.size(); ++i) {
    if (types[i] == v1::KEY_TYPE_UNSPECIFIED || !v1::KeyType_IsValid(types[i])) {
      bad.Add(absl::StrCat(field, "[", i, "]"),
              absl::StrCat("unknown key type ", types[i],
                           "; allowed: ECDSA_P256, ECDSA_P384, ED25519, RSA"));
    }
  }
}

google::protobuf::Duration DurationProto(absl::Duration d) {
  google::protobuf::Duration out;
  out.set_seconds(absl::ToInt64Seconds(d));
  return out;
}

}  // namespace

v1::IssuancePolicy DefaultTenantPolicy(const Issuers& issuers, absl::string_view tenant) {
  v1::IssuancePolicy p;
  p.set_name(absl::StrCat("tenants/", tenant, "/issuancePolicy"));
  p.set_dns_zone(issuers.TenantDnsZone(tenant));
  p.set_spiffe_trust_domain(issuers.TenantTrustDomain(tenant));
  p.add_allowed_dns_names(absl::StrCat("*.", p.dns_zone()));
  p.add_allowed_uris(absl::StrCat("spiffe://", p.spiffe_trust_domain(), "/*"));
  for (v1::KeyType t :
       {v1::KEY_TYPE_ECDSA_P256, v1::KEY_TYPE_ECDSA_P384, v1::KEY_TYPE_ED25519, v1::KEY_TYPE_RSA}) {
    p.add_allowed_key_types(t);
  }
  p.set_min_rsa_bits(kDefaultMinRsaBits);
  *p.mutable_max_ttl() = DurationProto(pki::kDefaultPolicyMaxTtl);
  *p.mutable_default_ttl() = DurationProto(pki::kDefaultPolicyDefaultTtl);
  return p;
}

absl::Status CertificateServiceImpl::Policy(RpcCall& call,
                                            const v1::GetIssuancePolicyRequest& request,
                                            v1::IssuancePolicy* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  call.set_object(request.name());
  MANDANT_ASSIGN_OR_RETURN(PkiScope scope, ParseScopeSingleton(request.name(), "issuancePolicy",
                                                               /*tenant_only=*/true, "name"));
  MANDANT_RETURN_IF_ERROR(auth::CheckTenantRead(call.principal(), scope.tenant));
  return deps_.db->Run("get issuance policy", [&](store::Connection& conn) -> absl::Status {
    MANDANT_RETURN_IF_ERROR(store_.GetTenantRef(conn, scope.tenant).status());
    MANDANT_ASSIGN_OR_RETURN(auto stored, store_.GetPolicy(conn, scope.tenant));
    if (!response->ParseFromString(stored.first)) return absl::DataLossError("stored policy");
    response->set_etag(PolicyEtag(stored.second));
    return absl::OkStatus();
  });
}

absl::Status CertificateServiceImpl::UpdatePolicy(RpcCall& call,
                                                  const v1::UpdateIssuancePolicyRequest& request,
                                                  v1::IssuancePolicy* response) {
  MANDANT_RETURN_IF_ERROR(call.Authenticate());
  const v1::IssuancePolicy& in = request.policy();
  call.set_object(in.name());
  call.set_request_id(request.request_id());
  MANDANT_ASSIGN_OR_RETURN(PkiScope scope,
                           ParseScopeSingleton(in.name(), "issuancePolicy",
                                               /*tenant_only=*/true, "policy.name"));
  const std::string& tenant = scope.tenant;
  MANDANT_RETURN_IF_ERROR(auth::CheckTenantWrite(call.principal(), tenant));
  tenants::FieldViolations bad;
  CheckRequestId(request.request_id(), bad);
  if (request.update_mask().paths().empty()) {
    bad.Add("update_mask", "is required: name the fields to change");
  }
  const DurationRange ttl_range{pki::kMinCertificateTtl, pki::kMaxPolicyTtl};
  for (const std::string& path : request.update_mask().paths()) {
    if (path == "allowed_key_types") {
      CheckKeyTypes(in.allowed_key_types(), "policy.allowed_key_types", bad);
    } else if (path == "max_ttl") {
      CheckedDuration(in.max_ttl(), "policy.max_ttl", ttl_range, bad);
    } else if (path == "default_ttl") {
      CheckedDuration(in.default_ttl(), "policy.default_ttl", ttl_range, bad);
    } else if (path != "allowed_dns_names" && path != "allowed_uris" &&
               path != "allowed_ip_ranges" && path != "min_rsa_bits") {
      bad.Add("update_mask", absl::StrCat("unknown path ", tenants::QuoteForMessage(path),
                                          "; allowed: allowed_dns_names, allowed_uris, "
                                          "allowed_ip_ranges, allowed_key_types, min_rsa_bits, "
                                          "max_ttl, default_ttl"));
    }
  }
  MANDANT_RETURN_IF_ERROR(bad.ToStatus());
  return call.TransactIdempotent(
      "update issuance policy", request.request_id(), request, response,
      [&](store::Connection& conn) -> absl::Status {
        MANDANT_ASSIGN_OR_RETURN(store::TenantRef t, store_.GetTenantRef(conn, tenant));
        MANDANT_RETURN_IF_ERROR(CheckTenantActive(t, tenant));
        MANDANT_ASSIGN_OR_RETURN(auto stored, store_.GetPolicy(conn, tenant));
        v1::IssuancePolicy policy;
        if (!policy.ParseFromString(stored.first)) return absl::DataLossError("stored policy");
        MANDANT_RETURN_IF_ERROR(
            CheckEtag(absl::StrCat("issuance policy of tenant ", tenants::QuoteForMessage(tenant)),
                      in.etag(), PolicyEtag(stored.second)));
        for (const std::string& path : request.update_mask().paths()) {
          if (path == "allowed_dns_names") {
            *policy.mutable_allowed_dns_names() = in.allowed_dns_names();
          } else if (path == "allowed_uris") {
            *policy.mutable_allowed_uris() = in.allowed_uris();
          } else if (path == "allowed_ip_ranges") {
            *policy.mutable_allowed_ip_ranges() = in.allowed_ip_ranges();
          } else if (path == "allowed_key_types") {
            *policy.mutable_allowed_key_types() = in.allowed_key_types();
          } else if (path == "min_rsa_bits") {
            policy.set_min_rsa_bits(in.min_rsa_bits() == 0 ? kDefaultMinRsaBits
                                                           : in.min_rsa_bits());
          } else if (path == "max_ttl") {
            *policy.mutable_max_ttl() = in.max_ttl();
          } else if (path == "default_ttl") {
            *policy.mutable_default_ttl() = in.default_ttl();
          }
        }
        MANDANT_RETURN_IF_ERROR(pki::ValidateIssuancePolicy(PolicyFromProto(policy), "policy"));
        *policy.mutable_update_time() = TimestampProto(absl::Now());
        policy.clear_etag();
        MANDANT_ASSIGN_OR_RETURN(int64_t generation,
                                 store_.PutPolicy(conn, tenant, policy.SerializeAsString()));
        *response = policy;
        response->set_etag(PolicyEtag(generation));
        return absl::OkStatus();
      });
}

}  // namespace mandant::controller::api
