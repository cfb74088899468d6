#ifndef MANDANT_CLI_OUTPUT_H_
#define MANDANT_CLI_OUTPUT_H_

// How mandantctl shows API objects: an aligned table (the default), a
// detailed key: value view for a single object, JSON, or YAML.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_field.h"

#include "mandant/v1/certificate.pb.h"
#include "mandant/v1/edge.pb.h"
#include "mandant/v1/host.pb.h"
#include "mandant/v1/tenant.pb.h"

namespace mandant::cli {

enum class OutputFormat { kTable, kJson, kYaml };

// Accepts "table", "json", "yaml" (any case). INVALID_ARGUMENT otherwise.
absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text);
absl::string_view OutputFormatName(OutputFormat format);

// One row per tenant under the header NAME, DISPLAY NAME, STATE, NETWORK,
// NODE CIDR, STORAGE CIDR, CLUSTERS (used/quota), CREATED; columns aligned,
// no trailing blanks, newline-terminated. Empty values are shown as "-".
std::string RenderTenantTable(const google::protobuf::RepeatedPtrField<v1::Tenant>& tenants);

// Every field of one tenant as indented "Key: value" lines.
std::string RenderTenantDetail(const v1::Tenant& tenant);

// One row per certificate under the header NAME, SERIAL (the first 12 hex
// digits), NOT AFTER, REVOKED ("no", or "yes" with the reason), SANS (DNS
// names, URIs, IP addresses; after three, "+N more"). Aligned and
// newline-terminated like RenderTenantTable.
std::string RenderCertificateTable(
    const google::protobuf::RepeatedPtrField<v1::Certificate>& certificates);

// Every field of one certificate except its PEM as "Key: value" lines.
std::string RenderCertificateDetail(const v1::Certificate& certificate);

// One row per issuer under the header NAME, KIND, STATE, NOT AFTER.
std::string RenderIssuerTable(const google::protobuf::RepeatedPtrField<v1::Issuer>& issuers);

// Every field of one issuer except its PEM as "Key: value" lines.
std::string RenderIssuerDetail(const v1::Issuer& issuer);

// Every field of an issuance policy as "Key: value" lines; lists one item a
// line.
std::string RenderIssuancePolicyDetail(const v1::IssuancePolicy& policy);

// One row per host under the header NAME (the id), UNDERLAY, READY,
// CONNECTED, CORDONED (each "yes", "no", or "-" when not reported), VMS (the
// number of machines placed on it), CPU (allocated/capacity vCPUs), MEM (GiB)
// (allocated/capacity), AGENT VERSION, LAST SEEN (relative to `now`, e.g.
// "12s ago", or "never"). Aligned and newline-terminated like
// RenderTenantTable.
std::string RenderHostTable(const google::protobuf::RepeatedPtrField<v1::Host>& hosts,
                            absl::Time now);

// Every field of one host as "Key: value" lines: conditions, allocated and
// capacity resources, one line per placed machine and per base image.
std::string RenderHostDetail(const v1::Host& host, absl::Time now);

// The "Bootstrap token:" and "Token expires:" lines of a new bootstrap token,
// after a "Host:" line when `host` is not empty. With `saved_to` empty the
// token line holds the token itself; otherwise it says that the token was
// written to that file, and the token is not part of the text.
std::string RenderBootstrapToken(absl::string_view host, const v1::BootstrapToken& token,
                                 absl::string_view saved_to, absl::Time now);

// One row per egress event under the header TIME (UTC, seconds), ACTION
// (allow/deny), PROTO (tcp, udp, icmp or the number), SOURCE (the address,
// with the machine's cluster/name when known), DESTINATION (address:port for
// TCP and UDP), HOST (the edge's host id). Aligned like RenderTenantTable;
// with `header` false, the rows only (for --follow).
std::string RenderEgressEventTable(
    const google::protobuf::RepeatedPtrField<v1::EgressEvent>& events, bool header = true);

// The edge as "Key: value" lines: addresses, conditions, one line per copy
// and per endpoint.
std::string RenderEdgeDetail(const v1::Edge& edge);

// The egress policy as "Key: value" lines, then its rules in order as
// "allow tcp 192.0.2.0/24 443" lines, the form `egress-policy set --rule`
// takes.
std::string RenderEgressPolicyDetail(const v1::EgressPolicy& policy);

// One rule in the form of --rule: "ACTION PROTOCOL CIDR [PORT[-PORT]]".
std::string EgressRuleText(const v1::EgressRule& rule);

// The proto3 JSON mapping with the proto field names (display_name, not
// displayName), fields with default values included, indented. Ends with a
// newline.
absl::StatusOr<std::string> RenderJson(const google::protobuf::Message& message);

// Converts a JSON document to block-style YAML. Strings that YAML would read
// as another type ("5", "true", "null", "") are quoted so that the YAML
// means the same as the JSON. INVALID_ARGUMENT if `json` is not valid JSON.
absl::StatusOr<std::string> JsonToYaml(absl::string_view json);

// `message` as JSON or YAML. INVALID_ARGUMENT for kTable, which has no generic
// rendering.
absl::StatusOr<std::string> RenderMessage(const google::protobuf::Message& message,
                                          OutputFormat format);

// Replaces control characters (C0, DEL and C1, which could move the cursor or
// rewrite the terminal) with '?'. Server-provided text goes through this
// before it reaches a terminal.
std::string SanitizeForTerminal(absl::string_view text);

// "acme" for "tenants/acme"; `name` unchanged when it has another form.
std::string TenantIdFromName(absl::string_view name);

}  // namespace mandant::cli

#endif  // MANDANT_CLI_OUTPUT_H_
