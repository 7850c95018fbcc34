#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/errors.hpp"
#include "domain/time.hpp"

namespace flashgate::domain {

inline constexpr std::int64_t max_stock = 1'000'000'000;
inline constexpr std::size_t max_item_length = 256;

struct Sale {
  std::string sale_id;
  std::string item;
  std::int64_t stock = 0;
  std::optional<TimeMs> starts_at;  // absent: open from creation
  std::optional<TimeMs> ends_at;    // absent: never ends
  TimeMs created_at = 0;
};

enum class SaleState { upcoming, open, sold_out, ended };
std::string_view to_string(SaleState s);

SaleState sale_state(const Sale& sale, std::int64_t remaining, TimeMs now);

// Why an intake at `now` is refused by the sale's window (not its stock), if it is.
std::optional<ErrorCode> window_refusal(const Sale& sale, TimeMs now);

// Checks a new sale's fields: id, item, stock range, starts_at < ends_at.
std::optional<Error> validate_new_sale(const Sale& sale);

}  // namespace flashgate::domain
