#include "cli/app.h"

#include <sys/stat.h>
#include <unistd.h>

#include <ostream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "cli/client_certificate.h"
#include "cli/edge_commands.h"
#include "cli/host_commands.h"
#include "cli/output.h"
#include "cli/paged_list.h"
#include "cli/pki_commands.h"
#include "cli/rpc_error.h"
#include "common/secrets.h"
#include "pki/asn1_time.h"

namespace mandant::cli {
namespace {

std::vector<FlagSpec> GlobalFlags() {
  return {
      {"server", '\0', "HOST:PORT",
       "mandantd address (else MANDANT_SERVER, else `server` in the config file)"},
      {"ca-file", '\0', "PATH",
       "PEM certificates to trust for the server's TLS (else MANDANT_CA_FILE, else `ca_file`; "
       "default: the system's roots)"},
      {"token-file", '\0', "PATH",
       "file holding the bearer token, not readable by group or others (else MANDANT_TOKEN "
       "with the token itself, else MANDANT_TOKEN_FILE, else `token_file`)"},
      {"client-cert", '\0', "PATH",
       "PEM client certificate (then its chain) for mTLS, used with --client-key instead of the "
       "token (else MANDANT_CLIENT_CERT, else `client_cert`, which 'login' stores)"},
      {"client-key", '\0', "PATH",
       "private key of the client certificate, mode 0600 (else MANDANT_CLIENT_KEY, else "
       "`client_key`)"},
      {"output", 'o', "FORMAT", "table, json or yaml (else `output`; default table)"},
      {"config", '\0', "PATH",
       "config file (default $XDG_CONFIG_HOME/mandant/config.yaml, else "
       "~/.config/mandant/config.yaml)"},
      {"timeout", '\0', "DURATION", "deadline of each call, e.g. 30s, 2m (default 30s)"},
      {"help", 'h', "", "show help for the command"},
  };
}

std::vector<FlagSpec> Concat(std::vector<FlagSpec> a, const std::vector<FlagSpec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

CommandLineSpec BuildSpec() {
  CommandLineSpec spec;
  spec.program = "mandantctl";
  spec.summary = "command-line client for Mandant, the per-tenant Kubernetes fleet manager";
  spec.global_flags = GlobalFlags();
  spec.refused_flags["token"] =
      "a token on the command line is visible in the process list and the shell history; put "
      "it in a file only you can read and pass --token-file PATH, or set MANDANT_TOKEN";

  const FlagSpec display_name{"display-name", '\0', "TEXT", "human-readable name"};
  const FlagSpec etag{"etag", '\0', "ETAG",
                      "apply only if the tenant still has this etag (from 'tenant get')"};
  spec.commands.push_back(
      {{"tenant", "create"},
       {"ID"},
       "Create a tenant with its own network segment",
       "ID is a DNS label of 2-40 characters (a-z, 0-9, '-'), starting with a letter.\n"
       "Unset quota fields take the server's defaults. Every create carries a request id; a\n"
       "failed create prints it, and running the same command again with --request-id UUID\n"
       "cannot create the tenant twice.",
       Concat({display_name},
              Concat(QuotaFlagSpecs(),
                     {{"network-mode", '\0', "MODE", "vxlan (default) or vlan"},
                      {"node-prefix-length", '\0', "N",
                       "prefix length of the node CIDR (server allows 16-28; default 24)"},
                      {"storage-prefix-length", '\0', "N",
                       "prefix length of the storage CIDR (server allows 16-28; default 24)"},
                      {"request-id", '\0', "UUID",
                       "idempotency key; reuse the one a failed create printed"}}))});
  spec.commands.push_back({{"tenant", "get"}, {"ID"}, "Show one tenant in detail", "", {}});
  spec.commands.push_back(
      {{"tenant", "list"},
       {},
       "List tenants",
       "Without --all, one page is shown; the token for the next page is printed to stderr.",
       {{"state", '\0', "STATE", "only tenants in this state: active or suspended"},
        {"page-size", '\0', "N", "tenants per page, 1-1000 (server default 50)"},
        {"page-token", '\0', "TOKEN", "continue from a previous page"},
        {"all", '\0', "", "fetch every page"}}});
  spec.commands.push_back(
      {{"tenant", "update"},
       {"ID"},
       "Change a tenant's display name, state or quota",
       "Only the fields given as flags are changed. Without --etag the tenant is read first and\n"
       "its etag sent along, so a change made by someone else in between is detected (ABORTED)\n"
       "instead of overwritten.",
       Concat({display_name, {"state", '\0', "STATE", "active or suspended"}},
              Concat(QuotaFlagSpecs(), {etag}))});
  spec.commands.push_back({{"tenant", "delete"},
                           {"ID"},
                           "Delete a tenant and release its network",
                           "Refused (FAILED_PRECONDITION) while the tenant still has clusters.",
                           {etag}});
  spec.commands.push_back(
      {{"config", "set-context"},
       {},
       "Write server, CA file, credentials or output format to the config file",
       "Keys not given keep their value. Paths are stored as absolute paths. The file is\n"
       "written with mode 0600; missing folders are created.",
       {{"server", '\0', "HOST:PORT", "mandantd address to store"},
        {"ca-file", '\0', "PATH", "CA file to store"},
        {"token-file", '\0', "PATH", "token file to store (the token itself is never stored)"},
        {"client-cert", '\0', "PATH",
         "client certificate to store, with --client-key; \"\" removes both"},
        {"client-key", '\0', "PATH", "its private key (mode 0600)"},
        {"output", 'o', "FORMAT", "default output format to store"}}});
  spec.commands.push_back({{"config", "view"},
                           {},
                           "Show the settings in effect and where each comes from",
                           "The token itself is never shown.",
                           {}});
  for (CommandSpec& c : EdgeCommandSpecs()) spec.commands.push_back(std::move(c));
  for (CommandSpec& c : HostCommandSpecs()) spec.commands.push_back(std::move(c));
  for (CommandSpec& c : PkiCommandSpecs()) spec.commands.push_back(std::move(c));
  return spec;
}

// The tenant and config commands.
class Mandantctl {
 public:
  explicit Mandantctl(CommandContext& ctx)
      : ctx_(ctx),
        options_(ctx.options()),
        inv_(ctx.invocation()),
        settings_(ctx.settings()),
        out_(ctx.out()),
        err_(ctx.err()) {}

  int Run() {
    const std::string command = absl::StrJoin(inv_.command->path, " ");
    // set-context and login write the config file, so it need not exist yet.
    if (settings_.config_explicit && !settings_.config_found && command != "config set-context" &&
        command != "login") {
      return UsageError(absl::NotFoundError(absl::StrCat("config file \"", settings_.config_path,
                                                         "\" (from --config) does not exist")));
    }
    if (IsPkiCommand(inv_.command->path)) return RunPkiCommand(ctx_);
    if (IsHostCommand(inv_.command->path)) return RunHostCommand(ctx_);
    if (IsEdgeCommand(inv_.command->path)) return RunEdgeCommand(ctx_);
    if (command == "tenant create") return Create();
    if (command == "tenant get") return Get();
    if (command == "tenant list") return List();
    if (command == "tenant update") return Update();
    if (command == "tenant delete") return Delete();
    if (command == "config set-context") return SetContext();
    if (command == "config view") return View();
    // The parser accepts only commands listed above.
    err_ << "error: unknown command '" << command << "'\n";
    return kExitUsage;
  }

 private:
  int UsageError(const absl::Status& status) { return ctx_.UsageError(status); }
  int RpcError(const grpc::Status& status) { return ctx_.RpcError(status); }
  std::unique_ptr<TenantClient> Connect(int* exit_code) { return ctx_.ConnectTenants(exit_code); }

  int PrintTenant(const v1::Tenant& tenant) {
    return ctx_.Print(tenant, [&] { return RenderTenantDetail(tenant); });
  }

  int Create() {
    absl::StatusOr<v1::CreateTenantRequest> request =
        BuildCreateTenantRequest(inv_, options_.new_request_id());
    if (!request.ok()) return UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<TenantClient> client = Connect(&code);
    if (client == nullptr) return code;
    v1::Tenant tenant;
    grpc::Status status = client->CreateTenant(*request, &tenant);
    if (!status.ok()) {
      code = RpcError(status);
      ctx_.PrintRetryHint(request->request_id());
      return code;
    }
    return PrintTenant(tenant);
  }

  int Get() {
    absl::StatusOr<v1::GetTenantRequest> request = BuildGetTenantRequest(inv_);
    if (!request.ok()) return UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<TenantClient> client = Connect(&code);
    if (client == nullptr) return code;
    v1::Tenant tenant;
    grpc::Status status = client->GetTenant(*request, &tenant);
    if (!status.ok()) return RpcError(status);
    return PrintTenant(tenant);
  }

  int List() {
    absl::StatusOr<v1::ListTenantsRequest> request = BuildListTenantsRequest(inv_);
    if (!request.ok()) return UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<TenantClient> client = Connect(&code);
    if (client == nullptr) return code;
    return ListPages<v1::ListTenantsResponse>(
        ctx_, *request,
        [&](const v1::ListTenantsRequest& r, v1::ListTenantsResponse* page) {
          return client->ListTenants(r, page);
        },
        [](v1::ListTenantsResponse* r) { return r->mutable_tenants(); }, &RenderTenantTable,
        "tenants");
  }

  int Update() {
    absl::StatusOr<v1::UpdateTenantRequest> request = BuildUpdateTenantRequest(inv_);
    if (!request.ok()) return UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<TenantClient> client = Connect(&code);
    if (client == nullptr) return code;
    if (!inv_.Has("etag")) {
      // Make the update conditional on the version just read, so a change by
      // someone else in between is reported instead of silently overwritten.
      v1::GetTenantRequest get;
      get.set_name(request->tenant().name());
      v1::Tenant current;
      grpc::Status status = client->GetTenant(get, &current);
      if (!status.ok()) return RpcError(status);
      request->mutable_tenant()->set_etag(current.etag());
    }
    v1::Tenant tenant;
    grpc::Status status = client->UpdateTenant(*request, &tenant);
    if (!status.ok()) {
      code = RpcError(status);
      if (status.error_code() == grpc::StatusCode::ABORTED) {
        err_ << "hint: the tenant was changed by someone else since its etag was read; look at "
                "it with 'mandantctl tenant get "
             << TenantIdFromName(request->tenant().name()) << "' and run the update again\n";
      }
      return code;
    }
    return PrintTenant(tenant);
  }

  int Delete() {
    absl::StatusOr<v1::DeleteTenantRequest> request = BuildDeleteTenantRequest(inv_);
    if (!request.ok()) return UsageError(request.status());
    int code = kExitOk;
    std::unique_ptr<TenantClient> client = Connect(&code);
    if (client == nullptr) return code;
    grpc::Status status = client->DeleteTenant(*request);
    if (!status.ok()) {
      code = RpcError(status);
      if (status.error_code() == grpc::StatusCode::ABORTED) {
        err_ << "hint: the tenant changed since the etag given with --etag was read; check it "
                "with 'mandantctl tenant get "
             << TenantIdFromName(request->name()) << "'\n";
      }
      return code;
    }
    out_ << "tenant \"" << TenantIdFromName(request->name()) << "\" deleted\n";
    return kExitOk;
  }

  int SetContext() {
    if (!inv_.Has("server") && !inv_.Has("ca-file") && !inv_.Has("token-file") &&
        !inv_.Has("client-cert") && !inv_.Has("client-key") && !inv_.Has("output")) {
      return UsageError(absl::InvalidArgumentError(
          "nothing to set: give at least one of --server, --ca-file, --token-file, "
          "--client-cert with --client-key, --output"));
    }
    if (settings_.config_path.empty()) {
      return UsageError(absl::InvalidArgumentError(
          "no config file to write: pass --config PATH, or set HOME or XDG_CONFIG_HOME"));
    }
    ConfigFile config;
    absl::StatusOr<ConfigFile> existing = ReadConfigFile(settings_.config_path, options_.env);
    if (existing.ok()) {
      config = *std::move(existing);
    } else if (!absl::IsNotFound(existing.status())) {
      return UsageError(existing.status());
    }
    if (inv_.Has("server")) config.server = inv_.Get("server");
    if (inv_.Has("ca-file")) config.ca_file = AbsolutePath(inv_.Get("ca-file"));
    if (inv_.Has("client-cert")) config.client_cert = AbsolutePath(inv_.Get("client-cert"));
    if (inv_.Has("client-key")) {
      config.client_key = AbsolutePath(inv_.Get("client-key"));
      if (!config.client_key.empty()) {
        if (absl::StatusOr<std::string> key = ReadSecretFile(config.client_key); !key.ok()) {
          return UsageError(key.status());
        }
      }
    }
    if (config.client_cert.empty() != config.client_key.empty()) {
      return UsageError(absl::InvalidArgumentError(
          "--client-cert and --client-key go together: give both files, or \"\" for both to "
          "remove them"));
    }
    if (inv_.Has("output")) {
      absl::StatusOr<OutputFormat> format = ParseOutputFormat(inv_.Get("output"));
      if (!format.ok()) return UsageError(format.status());
      config.output = std::string(OutputFormatName(*format));
    }
    if (inv_.Has("token-file")) {
      config.token_file = AbsolutePath(inv_.Get("token-file"));
      struct stat st;
      if (stat(config.token_file.c_str(), &st) != 0) {
        err_ << "note: token file \"" << config.token_file
             << "\" does not exist yet; create it with mode 0600\n";
      } else if (absl::StatusOr<std::string> token = ReadSecretFile(config.token_file);
                 !token.ok()) {
        return UsageError(token.status());
      }
    }
    if (absl::Status written = WriteConfigFile(settings_.config_path, config); !written.ok()) {
      return UsageError(written);
    }
    out_ << "wrote " << settings_.config_path << "\n";
    return kExitOk;
  }

  int View() {
    auto line = [&](absl::string_view key, const Setting& s, absl::string_view unset) {
      out_ << key;
      if (s.value.empty()) {
        out_ << unset << "\n";
      } else {
        out_ << s.value << " (from " << s.source << ")\n";
      }
    };
    out_ << "config file:  "
         << (settings_.config_path.empty() ? std::string("(none: HOME is not set)")
                                           : settings_.config_path)
         << (settings_.config_found || settings_.config_path.empty() ? "" : " (does not exist)")
         << "\n";
    line("server:       ", settings_.server, "(not set)");
    line("ca file:      ", settings_.ca_file, "(not set: the system's root certificates)");
    if (settings_.HasClientCertificate()) {
      out_ << "client cert:  " << settings_.client_cert.value << " (from "
           << settings_.client_cert.source << ")";
      absl::StatusOr<absl::Time> not_after = ReadCertificateNotAfter(settings_.client_cert.value);
      if (!not_after.ok()) {
        out_ << "; cannot be read: " << not_after.status().message();
      } else if (*not_after <= ctx_.Now()) {
        out_ << "; EXPIRED at " << pki::FormatCertTime(*not_after) << ", run 'mandantctl login'";
      } else {
        out_ << "; valid until " << pki::FormatCertTime(*not_after);
      }
      out_ << "\n";
      line("client key:   ", settings_.client_key, "");
    } else {
      out_ << "client cert:  (not set)\n";
    }
    const std::string token = settings_.TokenSource();
    out_ << "token:        ";
    if (token.empty()) {
      out_ << (settings_.HasClientCertificate() ? "(not set)"
                                                : "(not set: calls are unauthenticated)");
    } else {
      out_ << token
           << (settings_.HasClientCertificate()
                   ? " (not sent: calls use the client certificate; 'login' uses the token)"
                   : "");
    }
    out_ << "\n";
    out_ << "output:       " << OutputFormatName(settings_.output)
         << (settings_.output_source == "default"
                 ? std::string(" (default)")
                 : absl::StrCat(" (from ", settings_.output_source, ")"))
         << "\n";
    out_ << "timeout:      " << absl::FormatDuration(settings_.timeout) << "\n";
    return kExitOk;
  }

  CommandContext& ctx_;
  const RunOptions& options_;
  const Invocation& inv_;
  const ClientSettings& settings_;
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace

const CommandLineSpec& MandantctlCommandLine() {
  static const CommandLineSpec* const spec = new CommandLineSpec(BuildSpec());
  return *spec;
}

int RunMandantctl(const std::vector<std::string>& args, const RunOptions& options) {
  std::ostream& out = *options.out;
  std::ostream& err = *options.err;
  const CommandLineSpec& spec = MandantctlCommandLine();
  absl::StatusOr<Invocation> invocation = ParseCommandLine(spec, args);
  if (!invocation.ok()) {
    err << "error: " << invocation.status().message() << "\n";
    return kExitUsage;
  }
  if (invocation->help) {
    out << Usage(spec, invocation->words);
    return kExitOk;
  }
  if (invocation->command == nullptr) {
    if (!invocation->words.empty()) {
      err << "error: '" << spec.program << " " << absl::StrJoin(invocation->words, " ")
          << "' needs a command\n\n";
    }
    err << Usage(spec, invocation->words);
    return kExitUsage;
  }
  absl::StatusOr<ClientSettings> settings = ResolveClientSettings(*invocation, options.env);
  if (!settings.ok()) {
    err << "error: " << settings.status().message() << "\n";
    return kExitUsage;
  }
  CommandContext ctx(options, *invocation, *std::move(settings));
  return Mandantctl(ctx).Run();
}

}  // namespace mandant::cli
