#include "store/redis/bucket_tags.hpp"
#include "store/redis/sale_ledger.hpp"

#include <set>

#include "domain/bucket.hpp"

#include "store/redis/redis_keys.hpp"
#include "store/redis/redis_limits.hpp"
#include "store/redis/scripts.hpp"
#include "store/redis/store_replies.hpp"

namespace flashgate::store::redis {

std::optional<SaleView> SaleLedger::whole(const std::string& sale_id, const Reply& bucket0) {
  auto view = parse_sale(bucket0);
  if (!view || view->sale.buckets <= 1) return view;
  return mover_.view(sale_id, view->sale.buckets);
}

std::vector<domain::Sale> SaleLedger::sales() {
  std::vector<domain::Sale> all;
  auto ids = client_.command_sync({"SMEMBERS", keys::sales});
  for (const auto& id : ids.elements)
    if (auto view = parse_sale(client_.command_sync({"HGETALL", keys::sale(id.str)}))) all.push_back(view->sale);
  return all;
}

std::vector<SaleView> SaleLedger::sale_views() {
  // Also the sales being removed: an archive cut short (a worker killed) is
  // found here and finished.
  std::vector<SaleView> views;
  std::set<std::string> ids;
  for (const char* set : {keys::sales, keys::dropping})
    for (const auto& id : client_.command_sync({"SMEMBERS", set}).elements) ids.insert(id.str);
  for (const auto& id : ids)
    if (auto view = whole(id, client_.command_sync({"HGETALL", keys::sale(id)}))) views.push_back(std::move(*view));
  return views;
}

std::vector<std::pair<std::string, std::int64_t>> SaleLedger::remaining_by_sale() {
  std::vector<std::pair<std::string, std::int64_t>> out;
  auto ids = client_.command_sync({"SMEMBERS", keys::sales});
  for (const auto& id : ids.elements) {
    auto sale = client_.command_sync({"HMGET", keys::sale(id.str), "remaining", "buckets", "items"});
    if (sale.elements.size() < 3 || sale.elements[0].type != Reply::Type::string) continue;
    if (sale.elements[2].type == Reply::Type::string) {
      // A sale of several items: its total, and each item's under domain::item_stock_key.
      if (auto view = parse_sale(client_.command_sync({"HGETALL", keys::sale(id.str)}))) {
        out.emplace_back(id.str, view->remaining);
        for (const auto& item : view->items)
          out.emplace_back(domain::item_stock_key(id.str, item.item.item_id), item.remaining);
      }
      continue;
    }
    if (sale.elements[1].type != Reply::Type::string) {
      out.emplace_back(id.str, to_int(sale.elements[0].str));
      continue;
    }
    // A bucketed sale: every bucket's remaining (units in transit are in none; recovery returns them).
    if (auto view = mover_.view(id.str, to_int(sale.elements[1].str))) out.emplace_back(id.str, view->remaining);
  }
  return out;
}

void SaleLedger::set_remaining_db(const std::string& key, std::int64_t remaining) {
  // An item's (domain::item_stock_key): the script sets that item's field of its sale.
  const auto item = domain::parse_item_stock_key(key);
  std::vector<std::string> args{std::to_string(remaining)};
  if (item) args.emplace_back(item->item_id);
  client_.eval(scripts::set_remaining_db(), {keys::sale(item ? std::string(item->sale_id) : key)}, std::move(args),
               [](Reply) {});
}

std::uint64_t SaleLedger::queue_depth() {
  std::uint64_t depth = 0;
  auto ids = client_.command_sync({"SMEMBERS", keys::sales}, limits::gauge_timeout);
  const auto counter = "c:" + std::string(domain::to_string(domain::OrderStatus::queued));
  for (const auto& id : ids.elements) {
    auto sale = client_.command_sync({"HMGET", keys::sale(id.str), counter, "buckets"}, limits::gauge_timeout);
    if (sale.elements.size() < 2) continue;
    if (sale.elements[0].type == Reply::Type::string) depth += static_cast<std::uint64_t>(to_int(sale.elements[0].str));
    const auto buckets = sale.elements[1].type == Reply::Type::string ? to_int(sale.elements[1].str) : 1;
    for (std::int64_t b = 1; b < buckets; ++b) {
      auto queued = client_.command_sync({"HGET", keys::sale_in(bucket_tag(id.str, b, buckets), id.str), counter},
                                         limits::gauge_timeout);
      if (queued.type == Reply::Type::string) depth += static_cast<std::uint64_t>(to_int(queued.str));
    }
  }
  return depth;
}

std::int64_t SaleLedger::rebalance_buckets() {
  std::int64_t moved = 0;
  auto ids = client_.command_sync({"SMEMBERS", keys::sales});
  for (const auto& id : ids.elements) {
    auto buckets = client_.command_sync({"HGET", keys::sale(id.str), "buckets"});
    if (buckets.type != Reply::Type::string || to_int(buckets.str) <= 1) continue;
    moved += mover_.rebalance(id.str, to_int(buckets.str));
  }
  return moved;
}

std::size_t SaleLedger::cancel_unpaid(domain::TimeMs confirmed_before) {
  std::size_t cancelled = 0;
  std::string below = "(";  // exclusive bound (built in two steps: GCC 12 warns falsely on "(" + string)
  below += std::to_string(confirmed_before);
  for (const auto& tag : groups_.tags()) {
    auto due = client_.command_sync(
        {"ZRANGEBYSCORE", keys::confirmed(tag), "-inf", below, "LIMIT", "0", std::to_string(limits::unpaid_batch)});
    for (const auto& order : due.elements) {
      auto reply = client_.eval_sync(
          scripts::cancel_unpaid(), {keys::order(order.str), keys::changes(tag), keys::confirmed(tag), keys::outcomes(tag)},
          {keys::prefix(tag), std::to_string(domain::now_ms()), std::to_string(confirmed_before)});
      if (outcome_of(reply) == "cancelled") ++cancelled;
    }
  }
  return cancelled;
}

}  // namespace flashgate::store::redis
