#include "agents/edge/keepalived_config.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include "agents/edge/config_checks.h"
#include "tenants/cidr.h"
#include "tenants/edge_names.h"

namespace mandant::agent {

absl::StatusOr<std::string> RenderKeepalivedConfig(const mandant::v1::EdgeSpec& spec,
                                                   const KeepalivedConfigOptions& options) {
  if (absl::Status s = CheckRenderableEdgeSpec(spec, "the keepalived configuration"); !s.ok()) {
    return s;
  }
  if (!spec.has_vrrp()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "edge ", spec.namespace_(), " has no vrrp settings: a single edge runs no keepalived"));
  }
  if (absl::Status s = CheckConfigPath(options.notify_script, "notify_script"); !s.ok()) return s;
  if (absl::Status s = CheckConfigPath(options.state_file, "state_file"); !s.ok()) return s;
  // The spec is valid, so both networks parse.
  const int node_prefix = tenants::Cidr::Parse(spec.node_cidr())->prefix_length();
  const int external_prefix = tenants::Cidr::Parse(spec.external_cidr())->prefix_length();
  const std::string inside = tenants::kEdgeInsideInterface;
  const std::string outside = tenants::kEdgeOutsideInterface;

  std::string out = absl::StrCat("# keepalived configuration of edge ", spec.namespace_(), " (",
                                 spec.tenant(), "), rendered by mandant-agent.\n",
                                 "# Run as: keepalived --vrrp --use-file=THIS_FILE --pid=PID "
                                 "--vrrp_pid=VRRP_PID\n\n");
  absl::StrAppend(&out, "global_defs {\n",                                          //
                  "    router_id ", spec.namespace_(), "\n",                        //
                  "    script_user root\n",                                         //
                  "    enable_script_security\n",                                   //
                  "}\n\n",                                                          //
                  "vrrp_instance ", kVrrpInstanceName, " {\n",                      //
                  "    state BACKUP\n",                                             //
                  "    interface ", inside, "\n",                                   //
                  "    virtual_router_id ", spec.vrrp().virtual_router_id(), "\n",  //
                  "    priority ", spec.vrrp().priority(), "\n",                    //
                  "    advert_int 1\n",                                             //
                  "    unicast_src_ip ", spec.instance_address(), "\n",             //
                  "    unicast_peer {\n");
  for (const std::string& peer : spec.vrrp().peer_addresses()) {
    absl::StrAppend(&out, "        ", peer, "\n");
  }
  absl::StrAppend(&out, "    }\n",              //
                  "    track_interface {\n",    //
                  "        ", outside, "\n",    //
                  "    }\n",                    //
                  "    virtual_ipaddress {\n",  //
                  "        ", spec.gateway_address(), "/", node_prefix, " dev ", inside, "\n");
  for (const mandant::v1::EdgeEndpointSpec& endpoint : spec.endpoints()) {
    absl::StrAppend(&out, "        ", endpoint.internal_address(), "/", node_prefix, " dev ",
                    inside, "\n");
  }
  absl::StrAppend(&out, "        ", spec.egress_address(), "/", external_prefix, " dev ", outside,
                  "\n");
  for (const mandant::v1::EdgeEndpointSpec& endpoint : spec.endpoints()) {
    absl::StrAppend(&out, "        ", endpoint.external_address(), "/", external_prefix, " dev ",
                    outside, "\n");
  }
  absl::StrAppend(&out, "    }\n",                                                          //
                  "    notify \"", options.notify_script, " ", options.state_file, "\"\n",  //
                  "}\n");
  return out;
}

std::string KeepalivedNotifyScript() {
  return "#!/bin/sh\n"
         "# keepalived notify script of a Mandant edge, written by mandant-agent.\n"
         "# Arguments: STATE_FILE INSTANCE NAME STATE PRIORITY. Writes STATE to\n"
         "# STATE_FILE atomically (a reader sees the old or the new state).\n"
         "set -eu\n"
         "[ \"$#\" -ge 4 ] || exit 2\n"
         "printf '%s\\n' \"$4\" > \"$1.tmp\"\n"
         "mv -f \"$1.tmp\" \"$1\"\n";
}

}  // namespace mandant::agent
