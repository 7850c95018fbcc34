#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/admission.hpp"
#include "domain/errors.hpp"
#include "domain/time.hpp"

namespace flashgate::domain {

inline constexpr std::int64_t max_stock = 1'000'000'000;
inline constexpr std::size_t max_item_length = 256;
inline constexpr std::int64_t max_units_per_buyer = 1'000'000;
inline constexpr std::int64_t max_buckets = 64;
inline constexpr std::size_t max_items = 100;

// One item of a sale of several (issue #26): its own stock and per-buyer
// limit; the sale's window, queue and admission are shared by all of them.
struct SaleItem {
  std::string item_id;  // an id (domain/ids.hpp): what an intake names
  std::string name;     // for people, like Sale::item
  std::int64_t stock = 0;
  std::int64_t max_per_buyer = 1;  // units one buyer may hold of this item
};

struct Sale {
  std::string sale_id;
  std::string item;
  std::int64_t stock = 0;  // units
  std::optional<TimeMs> starts_at;  // absent: open from creation
  std::optional<TimeMs> ends_at;    // absent: never ends
  TimeMs created_at = 0;
  std::int64_t max_per_buyer = 1;  // units one buyer may hold at once over all their orders
  // First come, or a draw among the early comers (domain/draw.hpp).
  SaleAdmission admission{};
  // Redis: the stock is kept in this many buckets, each under its own hash tag (see bucket.hpp);
  // the embedded store keeps one stock whatever it says.
  std::int64_t buckets = 1;
  // A sale of several items: each has its own stock and limit, `stock` is
  // their sum and an intake must name one. Empty: the sale is its one `item`.
  std::vector<SaleItem> items = {};  // (a default: aggregate initializations that end before it stay warning-free)
};

// The item of a sale of several that `item_id` names; nullptr if none does.
const SaleItem* find_item(const Sale& sale, std::string_view item_id);

// Why an intake naming `item_id` (empty: none named) is refused by the
// sale's items, if it is: a sale of several needs one of its items named
// (item_not_found for an unknown one); a sale of one ignores the name.
std::optional<Error> item_refusal(const Sale& sale, std::string_view item_id);

// The units one buyer may hold of what an intake of `item_id` buys: the
// item's limit in a sale of several, the sale's otherwise.
std::int64_t buyer_limit(const Sale& sale, std::string_view item_id);

enum class SaleState { upcoming, open, sold_out, ended };
std::string_view to_string(SaleState s);

SaleState sale_state(const Sale& sale, std::int64_t remaining, TimeMs now);

// Why an intake at `now` is refused by the sale's window (not its stock), if it is.
std::optional<ErrorCode> window_refusal(const Sale& sale, TimeMs now);

// What an intake of `quantity` units by a buyer who holds `held` units
// (in orders other than the one it repeats) is refused for, if anything,
// with `remaining` units left. The order of the checks: the quantity, sold
// out (no unit left: what a gateway's sold-out book answers from memory),
// the buyer's limit, then whether enough units are left.
std::optional<Error> quantity_refusal(const Sale& sale, std::int64_t quantity, std::int64_t held,
                                      std::int64_t remaining);
// The same under a limit of `max_per_buyer` units (an item's, see buyer_limit);
// `remaining` is then the item's.
std::optional<Error> quantity_refusal(std::int64_t max_per_buyer, std::int64_t quantity, std::int64_t held,
                                      std::int64_t remaining);

// The stock flush's name of one item's remaining (StockLedger::remaining_by_sale,
// set_remaining_db, OrderDatabase::flush_stock carry items beside sales under
// it): "<sale_id>@<item_id>". '@' is not an id character, so it names no sale.
std::string item_stock_key(std::string_view sale_id, std::string_view item_id);
struct ItemStockKey {
  std::string_view sale_id;
  std::string_view item_id;
};
// The sale and item an item_stock_key names; nothing for a sale's own id.
std::optional<ItemStockKey> parse_item_stock_key(std::string_view key);

// Checks a new sale's fields: id, item, stock range, max_per_buyer and buckets ranges, starts_at < ends_at;
// for a sale of several items, each item's (unique ids), stock == their sum, and one bucket.
std::optional<Error> validate_new_sale(const Sale& sale);

}  // namespace flashgate::domain
