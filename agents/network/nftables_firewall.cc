#include "agents/network/nftables_firewall.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include <nftables/libnftables.h>

#include "common/status_macros.h"
#include "tenants/field_violations.h"
#include "tenants/network_names.h"

namespace mandant::agent {
namespace {

using Json = nlohmann::json;

struct NftCtxDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};
using NftCtxPtr = std::unique_ptr<nft_ctx, NftCtxDeleter>;

constexpr char kLogPrefix[] = "mandant-xtenant ";
// Comments name each rule's role and bridge; ListBridgeRules finds rules by
// them and then checks the rule itself.
constexpr char kDropFrom[] = "mandant drop from ";
constexpr char kDropTo[] = "mandant drop to ";
constexpr char kLogFrom[] = "mandant log from ";
constexpr char kLogTo[] = "mandant log to ";

std::string Wildcard() { return absl::StrCat(tenants::kTenantBridgePrefix, "*"); }

// One direction's match: `dir` "from" matches iifname B and oifname another
// Mandant bridge, "to" the reverse.
std::string Match(absl::string_view bridge, bool from) {
  const char* own = from ? "iifname" : "oifname";
  const char* other = from ? "oifname" : "iifname";
  return absl::StrCat(own, " \"", bridge, "\" ", other, " \"", Wildcard(), "\" ", other, " != \"",
                      bridge, "\"");
}

// Runs one command buffer. On failure INTERNAL with nft's error output.
absl::StatusOr<std::string> Run(const std::string& commands, bool json, absl::string_view what) {
  NftCtxPtr ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return absl::ResourceExhaustedError("nft_ctx_new failed");
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return absl::InternalError("libnftables: cannot buffer output");
  }
  if (json) nft_ctx_output_set_flags(ctx.get(), NFT_CTX_OUTPUT_JSON);
  if (nft_run_cmd_from_buffer(ctx.get(), commands.c_str()) != 0) {
    const char* err = nft_ctx_get_error_buffer(ctx.get());
    return absl::InternalError(absl::StrCat(
        what, " (table ", kFirewallTable,
        ") failed: ", absl::StripTrailingAsciiWhitespace(err != nullptr ? err : "no error text"),
        "; check that the kernel has nf_tables and the agent CAP_NET_ADMIN"));
  }
  const char* out = nft_ctx_get_output_buffer(ctx.get());
  return std::string(out != nullptr ? out : "");
}

// Whether `expr` (a rule's expression list) holds `meta <key> <op> "<right>"`.
bool HasMatch(const Json& expr, absl::string_view key, absl::string_view op,
              absl::string_view right) {
  for (const Json& e : expr) {
    if (!e.is_object() || !e.contains("match")) continue;
    const Json& m = e["match"];
    if (m.value("op", "") != op || !m.contains("right") || !m["right"].is_string() ||
        m["right"].get<std::string>() != right) {
      continue;
    }
    if (m.contains("left") && m["left"].is_object() && m["left"].contains("meta") &&
        m["left"]["meta"].value("key", "") == key) {
      return true;
    }
  }
  return false;
}

const Json* FindKey(const Json& expr, absl::string_view key) {
  for (const Json& e : expr) {
    if (e.is_object() && e.contains(std::string(key))) return &e[std::string(key)];
  }
  return nullptr;
}

bool MatchesDirection(const Json& expr, absl::string_view bridge, bool from) {
  const char* own = from ? "iifname" : "oifname";
  const char* other = from ? "oifname" : "iifname";
  return HasMatch(expr, own, "==", bridge) && HasMatch(expr, other, "==", Wildcard()) &&
         HasMatch(expr, other, "!=", bridge);
}

class NftablesFirewallImpl final : public Firewall {
 public:
  // agent::Firewall
  absl::Status ReplaceBridgeRules(const std::vector<std::string>& bridges) override {
    for (const std::string& b : bridges) {
      if (!tenants::IsMandantBridgeName(b)) {
        return absl::InvalidArgumentError(
            absl::StrCat("firewall: ", tenants::QuoteForMessage(b),
                         " is not a Mandant bridge name; nothing changed"));
      }
    }
    MANDANT_ASSIGN_OR_RETURN(std::string out, Run(NftablesFirewall::RulesScript(bridges), false,
                                                  "replacing the tenant bridge rules"));
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<BridgeDrops>> ListBridgeRules() override {
    MANDANT_ASSIGN_OR_RETURN(std::string tables,
                             Run("list tables inet", true, "listing nftables tables"));
    if (!HasOurTable(tables)) return std::vector<BridgeDrops>{};
    MANDANT_ASSIGN_OR_RETURN(std::string listing, Run(absl::StrCat("list table ", kFirewallTable),
                                                      true, "listing the firewall table"));
    Json doc = Json::parse(listing, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.contains("nftables") || !doc["nftables"].is_array()) {
      return absl::InternalError(
          absl::StrCat("firewall: nft printed unparseable JSON for table ", kFirewallTable));
    }
    bool chain_ok = false;
    struct Found {
      int parts = 0;  // bit 0 drop from, 1 drop to, 2 log from, 3 log to
      BridgeDrops drops;
    };
    std::map<std::string, Found> found;
    for (const Json& item : doc["nftables"]) {
      if (item.contains("chain")) {
        const Json& c = item["chain"];
        if (c.value("name", "") == "forward" && c.value("hook", "") == "forward" &&
            c.value("type", "") == "filter" && c.value("policy", "") == "accept") {
          chain_ok = true;
        }
        continue;
      }
      if (!item.contains("rule")) continue;
      const Json& rule = item["rule"];
      if (rule.value("chain", "") != "forward" || !rule.contains("expr")) continue;
      const std::string comment = rule.value("comment", "");
      const Json& expr = rule["expr"];
      struct Role {
        const char* prefix;
        int bit;
        bool from;
        bool drop;
      };
      for (const Role& role : {Role{kDropFrom, 1, true, true}, Role{kDropTo, 2, false, true},
                               Role{kLogFrom, 4, true, false}, Role{kLogTo, 8, false, false}}) {
        absl::string_view bridge = comment;
        if (!absl::ConsumePrefix(&bridge, role.prefix)) continue;
        if (!MatchesDirection(expr, bridge, role.from)) continue;
        Found& f = found[std::string(bridge)];
        if (role.drop) {
          const Json* counter = FindKey(expr, "counter");
          if (counter == nullptr || FindKey(expr, "drop") == nullptr) continue;
          f.drops.packets += counter->value("packets", uint64_t{0});
          f.drops.bytes += counter->value("bytes", uint64_t{0});
        } else if (FindKey(expr, "log") == nullptr) {
          continue;
        }
        f.parts |= role.bit;
      }
    }
    std::vector<BridgeDrops> out;
    if (!chain_ok) return out;
    for (auto& [bridge, f] : found) {
      if (f.parts != 15) continue;
      f.drops.bridge = bridge;
      out.push_back(std::move(f.drops));
    }
    return out;
  }

 private:
  static bool HasOurTable(const std::string& listing) {
    Json doc = Json::parse(listing, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.contains("nftables")) return false;
    for (const Json& item : doc["nftables"]) {
      if (item.contains("table") && item["table"].value("family", "") == "inet" &&
          item["table"].value("name", "") == "mandant") {
        return true;
      }
    }
    return false;
  }
};

}  // namespace

std::string NftablesFirewall::RulesScript(const std::vector<std::string>& bridges) {
  std::set<std::string> unique(bridges.begin(), bridges.end());
  // Adding before deleting makes the delete succeed whether or not the table
  // exists; the whole buffer is one transaction.
  std::string script =
      absl::StrCat("add table ", kFirewallTable, "\ndelete table ", kFirewallTable, "\n");
  if (unique.empty()) return script;
  absl::StrAppend(&script, "table ", kFirewallTable,
                  " {\n  chain forward {\n"
                  "    type filter hook forward priority filter; policy accept;\n");
  // Every bridge's "from" rules come first, so a packet between two listed
  // bridges is counted on the bridge it came from; the "to" rules then see
  // only packets from Mandant-named bridges not in the list.
  for (bool from : {true, false}) {
    for (const std::string& b : unique) {
      // Logging is rate-limited in a rule of its own: a `limit` in the drop
      // rule would stop it from dropping once the limit is reached.
      absl::StrAppend(&script, "    ", Match(b, from),
                      " limit rate 10/second burst 20 packets log prefix \"", kLogPrefix,
                      "\" level warn comment \"", from ? kLogFrom : kLogTo, b, "\"\n");
      absl::StrAppend(&script, "    ", Match(b, from), " counter drop comment \"",
                      from ? kDropFrom : kDropTo, b, "\"\n");
    }
  }
  absl::StrAppend(&script, "  }\n}\n");
  return script;
}

absl::StatusOr<std::unique_ptr<Firewall>> NftablesFirewall::Create() {
  NftCtxPtr probe(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!probe) return absl::ResourceExhaustedError("nft_ctx_new failed");
  return std::make_unique<NftablesFirewallImpl>();
}

}  // namespace mandant::agent
