#include "controller/store/notifications.h"

#include <poll.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

#include "common/logging.h"

namespace mandant::controller::store {
namespace {

// How often the thread looks at stop_ while idle.
constexpr int kPollMillis = 200;

}  // namespace

Notifications::Notifications(Options options)
    : options_(std::move(options)), thread_([this] { Run(); }) {}

Notifications::~Notifications() {
  stop_ = true;
  thread_.join();
}

bool Notifications::Listen(std::unique_ptr<Connection>& conn) {
  auto opened = Connection::Open(options_.conninfo, options_.password);
  if (!opened.ok()) {
    MANDANT_LOG(warn, "notification listener cannot connect",
                {{"channel", options_.channel}, {"error", opened.status()}});
    return false;
  }
  conn = *std::move(opened);
  // Channel names are identifiers; ours are fixed by the code.
  absl::Status st = conn->Exec(absl::StrCat("LISTEN ", options_.channel));
  if (!st.ok()) {
    MANDANT_LOG(warn, "LISTEN failed", {{"channel", options_.channel}, {"error", st}});
    conn.reset();
    return false;
  }
  return true;
}

void Notifications::Run() {
  std::unique_ptr<Connection> conn;
  absl::Duration backoff = absl::Milliseconds(100);
  bool first = true;
  while (!stop_) {
    if (conn == nullptr) {
      if (!Listen(conn)) {
        const absl::Time until = absl::Now() + backoff;
        while (!stop_ && absl::Now() < until) absl::SleepFor(absl::Milliseconds(kPollMillis));
        backoff = std::min(backoff * 2, absl::Seconds(10));
        continue;
      }
      backoff = absl::Milliseconds(100);
      if (!first && options_.on_resync) options_.on_resync();
      first = false;
    }
    pollfd pfd{PQsocket(conn->raw()), POLLIN, 0};
    const int ready = poll(&pfd, 1, kPollMillis);
    if (ready < 0 && errno != EINTR) {
      conn.reset();
      continue;
    }
    if (ready <= 0) continue;
    if (PQconsumeInput(conn->raw()) == 0 || PQstatus(conn->raw()) != CONNECTION_OK) {
      MANDANT_LOG(warn, "notification listener lost its connection",
                  {{"channel", options_.channel}, {"error", PQerrorMessage(conn->raw())}});
      conn.reset();
      continue;
    }
    while (PGnotify* n = PQnotifies(conn->raw())) {
      const std::string payload = n->extra != nullptr ? n->extra : "";
      PQfreemem(n);
      if (options_.on_notify) options_.on_notify(payload);
    }
  }
}

}  // namespace mandant::controller::store
