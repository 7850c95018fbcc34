#pragma once
// The order life cycle: QUEUED -> PROCESSING -> CONFIRMED -> PAID, with the
// side exits FAILED (from PROCESSING) and CANCELLED (from CONFIRMED). In a
// draw sale (domain/draw.hpp) an order starts ENTERED and the draw makes it
// QUEUED or NOT_DRAWN (final).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/time.hpp"

namespace flashgate::domain {

// The draw's statuses come last: a status's number indexes per-status
// counts, which the databases keep in columns of the same order.
enum class OrderStatus : std::uint8_t { queued, processing, confirmed, paid, failed, cancelled, entered, not_drawn };

inline constexpr std::array all_statuses = {OrderStatus::queued,    OrderStatus::processing, OrderStatus::confirmed,
                                            OrderStatus::paid,      OrderStatus::failed,     OrderStatus::cancelled,
                                            OrderStatus::entered,   OrderStatus::not_drawn};

std::string_view to_string(OrderStatus s);
std::optional<OrderStatus> parse_status(std::string_view s);

// No transition leaves a final status.
bool is_final(OrderStatus s);
bool can_transition(OrderStatus from, OrderStatus to);
// FAILED and CANCELLED give the reserved unit back to the sale.
bool releases_unit(OrderStatus s);
// The statuses whose order holds its units: QUEUED, PROCESSING, CONFIRMED and
// PAID. ENTERED and NOT_DRAWN never held any (the draw reserves units only
// for the orders it makes QUEUED), so they are neither holding nor releasing.
bool holds_units(OrderStatus s);

struct Order {
  std::string order_id;
  std::string sale_id;
  std::string user_id;
  std::uint64_t seq = 0;  // the sale's intake number, 1-based
  OrderStatus status = OrderStatus::queued;
  std::uint64_t version = 1;
  std::string reason;      // why FAILED or CANCELLED; empty otherwise
  std::string payment_id;  // set once PAID
  std::string external_id;  // the shop's own id of the order, if its order service said one
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  std::int64_t quantity = 1;  // units reserved, all given back by FAILED or CANCELLED
  // The client's name of the intake, kept only in a sale with max_per_buyer > 1,
  // where one buyer may place several orders: see hold_key.
  std::string request_id;
  // The bucket of a bucketed sale (see bucket.hpp) that holds the order; 0
  // otherwise. Its seq and position count within that bucket. Not in the API.
  std::int64_t bucket = 0;
  // The item of a sale of several items (Sale::items) the order is for;
  // empty in a sale of one item.
  std::string item_id = {};
};

// The key under which a sale remembers the order a buyer's intake made, so
// a repeat of it finds it: the buyer, and the request id if it has one. In
// a sale with max_per_buyer 1 the request id is not kept, so any intake of a
// buyer holding an order is a repeat of it (as before quantities existed).
// In a sale of several items the item is part of the key: a buyer's limit
// and repeats are per item. '#' and '@' are not id characters, so no two
// triples make the same key.
std::string hold_key(std::string_view user_id, std::string_view request_id, std::string_view item_id = {});
inline std::string hold_key(const Order& order) { return hold_key(order.user_id, order.request_id, order.item_id); }
// The key a buyer's units are counted under: per item in a sale of several.
std::string buyer_key(std::string_view user_id, std::string_view item_id);

// Moves an order along its life cycle: checks the edge, raises the version.
// Returns false (and changes nothing) for an edge the life cycle has not.
bool apply_transition(Order& order, OrderStatus to, TimeMs now, std::string_view reason = {});

// Why a CONFIRMED order left unpaid too long became CANCELLED (every store says it so).
inline constexpr std::string_view payment_timeout_reason = "payment_timeout";

// The shop's id of an order is kept and shown only if it is 1 to
// max_external_id_bytes of printable ASCII: it lands in a status object,
// a log line and the database, so anything else is treated as none.
inline constexpr std::size_t max_external_id_bytes = 128;
bool is_valid_external_id(std::string_view id);

}  // namespace flashgate::domain
