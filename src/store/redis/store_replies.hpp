#pragma once
// What Redis answers the store, read into the Store's values: the order and
// sale hashes the scripts and commands return, their outcomes and errors,
// and the view of an order a buyer polls.
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/errors.hpp"
#include "store/redis/near_cache.hpp"
#include "store/redis/redis_reply.hpp"
#include "store/store.hpp"

namespace flashgate::store::redis {

// A decimal field; 0 if unreadable (the scripts write every count and time).
inline std::int64_t to_int(const std::string& text) {
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// An optional field, written '' when absent.
inline std::optional<std::int64_t> to_optional(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return to_int(text);
}

// Script replies are {outcome, field, value, ...}; "" if the reply is not one.
inline const std::string& outcome_of(const Reply& reply) {
  static const std::string none;
  return reply.type == Reply::Type::array && !reply.elements.empty() ? reply.elements[0].str : none;
}

// An order's fields and its sale's progress, as scripts reply them and the change feed carries them.
struct ParsedOrder {
  domain::Order order;
  SaleProgress progress;
  std::optional<std::int64_t> remaining;  // the sale's, after the change
};
ParsedOrder parse_order(const std::vector<Reply>& items, std::size_t from);

// A field-value array (HGETALL, a stream entry's fields) as a map.
std::map<std::string, std::string> as_map(const Reply& reply);

// The ids in a sale hash's `items` field (a sale of several items; see scripts.hpp), in order.
std::vector<std::string> item_ids(const std::string& list);

// A sale hash (HGETALL); nullopt if there is none.
std::optional<SaleView> parse_sale(const Reply& reply);

// A stream entry id "ms-seq", comparable; {0, 0} for "0-0" and for anything unreadable.
std::pair<std::uint64_t, std::uint64_t> entry_order(std::string_view id);

// What a buyer is told when Redis cannot take the request now.
const domain::Error& unreachable();
// A write done whose copy to a replica was not acknowledged in time (ReplicaWaits).
const domain::Error& not_replicated();
// A failed reply as the Store's error: unreachable if the command did not
// run or may not have, internal (and logged) otherwise.
domain::Error error_of(const Reply& reply);

// The order with its place in line and when to poll again.
OrderView view_of(const domain::Order& order, const SaleProgress& progress, std::int64_t service_time_ms);

}  // namespace flashgate::store::redis
