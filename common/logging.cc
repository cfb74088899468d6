#include "common/logging.h"

#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/stdout_sinks.h"

namespace mandant::logging {
namespace {

std::atomic<Format> g_format{Format::kText};

bool NeedsQuoting(absl::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  }
  return false;
}

}  // namespace

absl::Status Init(absl::string_view level, Format format) {
  spdlog::level::level_enum lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "log level \"", level, "\" is unknown; use trace, debug, info, warn or error"));
  }
  g_format.store(format);
  auto logger = std::make_shared<spdlog::logger>("mandant",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (format == Format::kJson) {
    // The message is already a JSON object; add time and level around it.
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %L %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::set_level(lvl);
  return absl::OkStatus();
}

std::string Render(absl::string_view message, std::initializer_list<Field> fields) {
  if (g_format.load() == Format::kJson) {
    nlohmann::json j;
    j["msg"] = std::string(message);
    for (const Field& f : fields) j[f.key] = f.value;
    std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // Strip the braces: the pattern supplies them around time and level.
    return s.substr(1, s.size() - 2);
  }
  std::string out(message);
  for (const Field& f : fields) {
    absl::StrAppend(&out, " ", f.key, "=");
    if (NeedsQuoting(f.value)) {
      absl::StrAppend(&out, nlohmann::json(f.value).dump(-1, ' ', false,
                                                         nlohmann::json::error_handler_t::replace));
    } else {
      absl::StrAppend(&out, f.value);
    }
  }
  return out;
}

}  // namespace mandant::logging
