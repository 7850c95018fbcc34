#pragma once
// How a sale admits its buyers: first come (every sale before issue #26), or
// a draw among everyone who came during the prequeue and the draw window
// (domain/draw.hpp has the rules and the draw itself). A field of Sale.
#include <cstdint>
#include <optional>
#include <string_view>

namespace flashgate::domain {

enum class Admission : std::uint8_t { first_come, draw };
std::string_view to_string(Admission a);  // "first_come", "draw"
std::optional<Admission> parse_admission(std::string_view text);

// A window long enough for a raffle, short enough that a typo in units
// ("10000s") does not keep entrants waiting for days.
inline constexpr std::int64_t max_draw_window_ms = 3'600'000;        // 1 h
inline constexpr std::int64_t max_prequeue_ms = 24LL * 3'600'000;   // 24 h

struct SaleAdmission {
  Admission admission = Admission::first_come;
  std::int64_t draw_window_ms = 0;  // draw only: entry stays open this long after starts_at
  std::int64_t prequeue_ms = 0;     // draw only: entry opens this long before starts_at

  bool is_draw() const { return admission == Admission::draw; }
};

}  // namespace flashgate::domain
