#ifndef MANDANT_COMMON_LOGGING_H_
#define MANDANT_COMMON_LOGGING_H_

// The one logging header of the project, over spdlog.
//
// Lines carry structured fields as key=value pairs (or JSON objects when the
// JSON format is chosen), so that every line about a request or an object can
// be found by its id:
//
//   MANDANT_LOG(info, "tenant created", {{"request_id", rid}, {"tenant", name}});
//
// Never pass a secret (token, password, private key) as a field or message.

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

namespace mandant::logging {

enum class Format { kText, kJson };

struct Field {
  Field(absl::string_view k, absl::string_view v) : key(k), value(v) {}
  Field(absl::string_view k, const char* v) : key(k), value(v) {}
  Field(absl::string_view k, const std::string& v) : key(k), value(v) {}
  Field(absl::string_view k, long long v) : key(k), value(std::to_string(v)) {}
  Field(absl::string_view k, int v) : key(k), value(std::to_string(v)) {}
  Field(absl::string_view k, unsigned v) : key(k), value(std::to_string(v)) {}
  Field(absl::string_view k, long v) : key(k), value(std::to_string(v)) {}
  Field(absl::string_view k, unsigned long v) : key(k), value(std::to_string(v)) {}
  Field(absl::string_view k, double v) : key(k), value(std::to_string(v)) {}
  // The code and message only: payloads are for programs, not log readers.
  Field(absl::string_view k, const absl::Status& s)
      : key(k), value(absl::StrCat(absl::StatusCodeToString(s.code()), ": ", s.message())) {}
  std::string key;
  std::string value;
};

// Sets up the process-wide sink (stderr). Called once from each main().
// `level` is one of trace, debug, info, warn, error; unknown levels are an error.
absl::Status Init(absl::string_view level, Format format);

// Renders `message` with `fields` in the configured format.
std::string Render(absl::string_view message, std::initializer_list<Field> fields);

}  // namespace mandant::logging

#define MANDANT_LOG(lvl, message, ...)                                                         \
  do {                                                                                         \
    if (spdlog::should_log(spdlog::level::lvl)) {                                              \
      spdlog::log(spdlog::level::lvl, "{}", ::mandant::logging::Render(message, __VA_ARGS__)); \
    }                                                                                          \
  } while (0)

#endif  // MANDANT_COMMON_LOGGING_H_
