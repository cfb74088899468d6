#ifndef MANDANT_CONTROLLER_STORE_NOTIFICATIONS_H_
#define MANDANT_CONTROLLER_STORE_NOTIFICATIONS_H_

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "controller/store/database.h"

namespace mandant::controller::store {

// LISTENs on one PostgreSQL channel over a connection of its own and calls
// `on_notify(payload)` for every NOTIFY, from its own thread. When the
// connection is lost it reconnects with backoff and then calls
// `on_resync()`, since notifications sent in between are lost: the
// receiver must then re-read everything it cares about.
class Notifications {
 public:
  struct Options {
    std::string conninfo;
    std::string password;
    std::string channel;
    std::function<void(absl::string_view payload)> on_notify;
    std::function<void()> on_resync;
  };

  explicit Notifications(Options options);
  // Stops the thread and closes the connection.
  ~Notifications();

  Notifications(const Notifications&) = delete;
  Notifications& operator=(const Notifications&) = delete;

 private:
  void Run();
  // Connects and LISTENs; false (after logging) when that failed.
  bool Listen(std::unique_ptr<Connection>& conn);

  const Options options_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_NOTIFICATIONS_H_
