#include "domain/order.hpp"

namespace flashgate::domain {

std::string_view to_string(OrderStatus s) {
  switch (s) {
    case OrderStatus::queued: return "QUEUED";
    case OrderStatus::processing: return "PROCESSING";
    case OrderStatus::confirmed: return "CONFIRMED";
    case OrderStatus::paid: return "PAID";
    case OrderStatus::failed: return "FAILED";
    case OrderStatus::cancelled: return "CANCELLED";
    case OrderStatus::entered: return "ENTERED";
    case OrderStatus::not_drawn: return "NOT_DRAWN";
  }
  return "FAILED";
}

std::optional<OrderStatus> parse_status(std::string_view s) {
  for (OrderStatus st : all_statuses)
    if (to_string(st) == s) return st;
  return std::nullopt;
}

bool is_final(OrderStatus s) {
  return s == OrderStatus::paid || s == OrderStatus::failed || s == OrderStatus::cancelled ||
         s == OrderStatus::not_drawn;
}

bool can_transition(OrderStatus from, OrderStatus to) {
  switch (from) {
    case OrderStatus::queued: return to == OrderStatus::processing;
    // PROCESSING -> QUEUED: a window handed the order back (shutdown, dead worker).
    case OrderStatus::processing:
      return to == OrderStatus::confirmed || to == OrderStatus::failed || to == OrderStatus::queued;
    case OrderStatus::confirmed: return to == OrderStatus::paid || to == OrderStatus::cancelled;
    // No cancel from ENTERED, as none from QUEUED: the draw decides every entrant.
    case OrderStatus::entered: return to == OrderStatus::queued || to == OrderStatus::not_drawn;
    default: return false;
  }
}

std::string hold_key(std::string_view user_id, std::string_view request_id, std::string_view item_id) {
  std::string key = buyer_key(user_id, item_id);
  if (!request_id.empty()) {
    key += '#';
    key += request_id;
  }
  return key;
}

std::string buyer_key(std::string_view user_id, std::string_view item_id) {
  std::string key(user_id);
  if (!item_id.empty()) {
    key += '@';
    key += item_id;
  }
  return key;
}

bool releases_unit(OrderStatus s) { return s == OrderStatus::failed || s == OrderStatus::cancelled; }

bool holds_units(OrderStatus s) {
  return s == OrderStatus::queued || s == OrderStatus::processing || s == OrderStatus::confirmed ||
         s == OrderStatus::paid;
}

bool apply_transition(Order& order, OrderStatus to, TimeMs now, std::string_view reason) {
  if (!can_transition(order.status, to)) return false;
  order.status = to;
  order.version += 1;
  order.updated_at = now;
  order.reason = reason;
  return true;
}

bool is_valid_external_id(std::string_view id) {
  if (id.empty() || id.size() > max_external_id_bytes) return false;
  for (const char c : id)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

}  // namespace flashgate::domain
