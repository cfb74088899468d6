#ifndef MANDANT_CLI_PAGED_LIST_H_
#define MANDANT_CLI_PAGED_LIST_H_

// The shape every `mandantctl ... list` command shares: one page of a
// paginated List call (or, with --all, every page), then a table or the whole
// response as JSON / YAML, and on stderr a hint when more pages remain.

#include <ostream>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

#include "cli/command_context.h"
#include "cli/output.h"
#include "cli/rpc_error.h"

namespace mandant::cli {

// Calls `call(request, &page)` for the first page and, when the invocation
// has --all, again with each next_page_token until one is empty; collects
// the items (`items(Response*)` returns the repeated field) into one
// Response whose next_page_token is that of the last page fetched. Prints
// it: in table mode `render(items)` on stdout, or "No <what> found." on
// stderr, then the hint to the next page; else the Response as JSON or YAML.
// Returns the exit code: an RPC error is printed as by ctx.RpcError, and a
// server that repeats a page token fails the command instead of looping.
template <typename Response, typename Request, typename Call, typename Items, typename Render>
int ListPages(CommandContext& ctx, Request request, Call call, Items items, Render render,
              absl::string_view what) {
  const bool all = ctx.invocation().Has("all");
  Response result;
  std::set<std::string> seen_tokens;
  while (true) {
    Response page;
    grpc::Status status = call(request, &page);
    if (!status.ok()) return ctx.RpcError(status);
    for (auto& item : *items(&page)) *items(&result)->Add() = std::move(item);
    result.set_next_page_token(page.next_page_token());
    if (!all || page.next_page_token().empty()) break;
    if (!seen_tokens.insert(page.next_page_token()).second) {
      ctx.err() << "error: the server returned the page token \""
                << SanitizeForTerminal(page.next_page_token())
                << "\" twice; stopping instead of listing forever\n";
      return kExitServerError;
    }
    request.set_page_token(page.next_page_token());
  }
  if (ctx.settings().output != OutputFormat::kTable) return ctx.PrintMessage(result);
  if (items(&result)->empty()) {
    ctx.err() << "No " << what << " found.\n";
  } else {
    ctx.out() << render(*items(&result));
  }
  if (!result.next_page_token().empty()) {
    ctx.err() << "More " << what << ": run again with --page-token "
              << SanitizeForTerminal(result.next_page_token()) << ", or with --all\n";
  }
  return kExitOk;
}

}  // namespace mandant::cli

#endif  // MANDANT_CLI_PAGED_LIST_H_
