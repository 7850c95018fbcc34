#include "store/redis/cluster/redirect.hpp"

#include <algorithm>
#include <charconv>

#include "store/redis/cluster/key_slot.hpp"

namespace flashgate::store::redis::cluster {

namespace {

std::optional<std::uint16_t> parse_slot(std::string_view text) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value >= slot_count)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<Redirect> parse_redirect(std::string_view error, std::string_view replying_host) {
  Redirect redirect;
  if (error.starts_with("MOVED ")) {
    redirect.kind = Redirect::Kind::moved;
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    redirect.kind = Redirect::Kind::ask;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto slot = parse_slot(error.substr(0, space));
  if (!slot) return std::nullopt;
  redirect.slot = *slot;
  auto target = parse_endpoint(error.substr(space + 1));
  if (!target) return std::nullopt;
  if (target->host.empty()) target->host = replying_host;
  redirect.target = std::move(*target);
  return redirect;
}

bool is_try_again(std::string_view error) { return error.starts_with("TRYAGAIN"); }

std::chrono::milliseconds next_try_again_pause(std::chrono::milliseconds previous) {
  return std::clamp(previous * 2, std::chrono::milliseconds{5}, std::chrono::milliseconds{100});
}

}  // namespace flashgate::store::redis::cluster
