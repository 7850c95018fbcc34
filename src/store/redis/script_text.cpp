#include "store/redis/script_text.hpp"

#include <charconv>
#include <string_view>
#include <utility>

#include "store/redis/redis_limits.hpp"

namespace flashgate::store::redis::scripts {

std::string with_limits(std::string lua) {
  char step[32];  // what one start adds to the raw rate, per second (domain::RateMeter)
  const auto written = std::to_chars(step, step + sizeof step, 1000.0 / static_cast<double>(limits::rate_tau_ms));
  const std::pair<std::string_view, std::string> named[] = {
      {"@CHANGES_MAXLEN@", std::to_string(limits::changes_maxlen)},
      {"@RATE_TAU_MS@", std::to_string(limits::rate_tau_ms)},
      {"@RATE_IDLE_RESET_MS@", std::to_string(limits::rate_idle_reset_ms)},
      {"@RATE_STEP@", std::string(step, written.ptr)},
  };
  for (const auto& [name, value] : named)
    for (auto at = lua.find(name); at != std::string::npos; at = lua.find(name, at + value.size()))
      lua.replace(at, name.size(), value);
  return lua;
}

}  // namespace flashgate::store::redis::scripts
