#include "agents/edge/haproxy_config.h"

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include "agents/edge/config_checks.h"
#include "tenants/field_violations.h"
#include "tenants/names.h"

namespace mandant::agent {
namespace {

absl::StatusOr<std::string> ProxyName(absl::string_view prefix, absl::string_view cluster) {
  std::optional<tenants::ParsedClusterName> parsed = tenants::ParseClusterName(cluster);
  if (!parsed.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("haproxy: ", tenants::QuoteForMessage(cluster),
                     " is not a cluster name: ", tenants::CheckClusterName(cluster)));
  }
  return absl::StrCat(prefix, parsed->cluster_id);
}

}  // namespace

absl::StatusOr<std::string> HaproxyFrontendName(absl::string_view cluster) {
  return ProxyName("fe-", cluster);
}

absl::StatusOr<std::string> HaproxyBackendName(absl::string_view cluster) {
  return ProxyName("be-", cluster);
}

absl::StatusOr<std::string> RenderHaproxyConfig(const mandant::v1::EdgeSpec& spec,
                                                const HaproxyConfigOptions& options) {
  if (absl::Status s = CheckRenderableEdgeSpec(spec, "the haproxy configuration"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckConfigPath(options.stats_socket, "stats_socket"); !s.ok()) return s;

  std::string out = absl::StrCat("# haproxy configuration of edge ", spec.namespace_(), " (",
                                 spec.tenant(), "), rendered by mandant-agent.\n",
                                 "# Run as: haproxy -W -D -p PIDFILE -f THIS_FILE\n\n");
  // Client and server timeouts: long-lived API watches and exec sessions;
  // HTTP/2 pings from clients keep live ones busy, an idle one ends after an
  // hour.
  absl::StrAppend(&out, "global\n",                                                      //
                  "    master-worker\n",                                                 //
                  "    stats socket ", options.stats_socket, " mode 600 level admin\n",  //
                  "    hard-stop-after ", kHaproxyHardStopAfter, "\n",                   //
                  "\n",                                                                  //
                  "defaults\n",                                                          //
                  "    mode tcp\n",                                                      //
                  "    timeout connect 5s\n",                                            //
                  "    timeout client 1h\n",                                             //
                  "    timeout server 1h\n",                                             //
                  "    timeout client-fin 30s\n",                                        //
                  "    timeout server-fin 30s\n",                                        //
                  "    timeout check 5s\n",                                              //
                  "    default-server init-addr none inter 2s fall 3 rise 2\n");
  for (const mandant::v1::EdgeEndpointSpec& endpoint : spec.endpoints()) {
    // The spec is valid, so the cluster name is.
    const std::string frontend = *HaproxyFrontendName(endpoint.cluster());
    const std::string backend = *HaproxyBackendName(endpoint.cluster());
    absl::StrAppend(&out, "\n# ", endpoint.cluster(), "\n",                          //
                    "frontend ", frontend, "\n",                                     //
                    "    bind ", endpoint.internal_address(), ":", endpoint.port(),  //
                    " transparent\n",                                                //
                    "    bind ", endpoint.external_address(), ":", endpoint.port(),  //
                    " transparent\n",                                                //
                    "    default_backend ", backend, "\n",                           //
                    "\n",                                                            //
                    "backend ", backend, "\n",                                       //
                    "    balance leastconn\n",                                       //
                    "    option httpchk GET /readyz\n",                              //
                    "    http-check expect status 200\n");
    for (const mandant::v1::EdgeBackend& server : endpoint.backends()) {
      absl::StrAppend(&out, "    server ", server.name(), " ", server.address(), ":", server.port(),
                      " check check-ssl verify none", server.draining() ? " weight 0" : "", "\n");
    }
  }
  return out;
}

}  // namespace mandant::agent
