#include "store/redis/store_replies.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "domain/draw.hpp"
#include "domain/queue_hint.hpp"
#include "domain/time.hpp"
#include "store/redis/redis_limits.hpp"

namespace flashgate::store::redis {

using domain::Error;
using domain::ErrorCode;
using domain::OrderStatus;

ParsedOrder parse_order(const std::vector<Reply>& items, std::size_t from) {
  ParsedOrder p;
  for (std::size_t i = from; i + 1 < items.size(); i += 2) {
    const std::string& key = items[i].str;
    const std::string& value = items[i + 1].str;
    if (key == "order_id") p.order.order_id = value;
    else if (key == "sale_id") p.order.sale_id = value;
    else if (key == "user_id") p.order.user_id = value;
    else if (key == "seq") p.order.seq = static_cast<std::uint64_t>(to_int(value));
    else if (key == "status") p.order.status = domain::parse_status(value).value_or(OrderStatus::queued);
    else if (key == "version") p.order.version = static_cast<std::uint64_t>(to_int(value));
    else if (key == "reason") p.order.reason = value;
    else if (key == "payment_id") p.order.payment_id = value;
    else if (key == "external_id") p.order.external_id = value;
    else if (key == "quantity") p.order.quantity = to_int(value);
    else if (key == "request_id") p.order.request_id = value;
    else if (key == "created_at") p.order.created_at = to_int(value);
    else if (key == "updated_at") p.order.updated_at = to_int(value);
    else if (key == "started") p.progress.started = static_cast<std::uint64_t>(to_int(value));
    else if (key == "rate") p.progress.rate = std::strtod(value.c_str(), nullptr);
    else if (key == "rate_at") p.progress.rate_at = to_int(value);
    else if (key == "rate_since") p.progress.rate_since = to_int(value);
    else if (key == "remaining") p.remaining = to_int(value);
    else if (key == "bucket") p.order.bucket = to_int(value);
    else if (key == "item") p.order.item_id = value;
    else if (key == "draw_at") p.progress.draw_at = to_int(value);
  }
  return p;
}

std::map<std::string, std::string> as_map(const Reply& reply) {
  std::map<std::string, std::string> fields;
  for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2) fields[reply.elements[i].str] = reply.elements[i + 1].str;
  return fields;
}

std::vector<std::string> item_ids(const std::string& list) {
  std::vector<std::string> ids;
  for (std::size_t from = 0; from < list.size();) {
    const auto comma = std::min(list.find(',', from), list.size());
    ids.push_back(list.substr(from, comma - from));
    from = comma + 1;
  }
  return ids;
}

namespace {

// A sale of several items (scripts::create_sale): `items` lists their ids in
// order, and each has its fields under its id (see scripts.hpp).
void read_items(std::map<std::string, std::string>& f, SaleView& view) {
  for (const auto& id : item_ids(f["items"])) {
    ItemView item;
    item.item = domain::SaleItem{id, f["in:" + id], to_int(f["is:" + id]), to_optional(f["il:" + id]).value_or(1)};
    item.remaining = to_int(f["ir:" + id]);
    item.remaining_db = to_optional(f["idb:" + id]);
    for (auto status : domain::all_statuses) {
      const auto i = static_cast<std::size_t>(status);
      const std::string suffix = id + ":" + std::string(domain::to_string(status));
      item.counts[i] = static_cast<std::uint64_t>(to_int(f["ic:" + suffix]));
      item.units[i] = item.counts[i] + static_cast<std::uint64_t>(to_int(f["ix:" + suffix]));
    }
    view.sale.items.push_back(item.item);
    view.items.push_back(std::move(item));
  }
}

}  // namespace

std::optional<SaleView> parse_sale(const Reply& reply) {
  if (reply.type != Reply::Type::array || reply.elements.empty()) return std::nullopt;
  auto f = as_map(reply);
  SaleView view;
  view.sale = domain::Sale{f["sale_id"], f["item"], to_int(f["stock"]), to_optional(f["starts_at"]),
                           to_optional(f["ends_at"]), to_int(f["created_at"])};
  if (auto limit = to_optional(f["max_per_buyer"])) view.sale.max_per_buyer = *limit;
  if (auto buckets = to_optional(f["buckets"])) view.sale.buckets = *buckets;
  if (f["admission"] == "draw")
    view.sale.admission = {domain::Admission::draw, to_int(f["draw_window_ms"]), to_int(f["prequeue_ms"])};
  view.remaining = to_int(f["remaining"]);
  view.remaining_db = to_optional(f["remaining_db"]);
  for (auto status : domain::all_statuses) {
    const auto i = static_cast<std::size_t>(status);
    view.counts[i] = static_cast<std::uint64_t>(to_int(f["c:" + std::string(domain::to_string(status))]));
    // x:<STATUS> holds only the units beyond one per order (see scripts::intake).
    view.units[i] = view.counts[i] + static_cast<std::uint64_t>(to_int(f["x:" + std::string(domain::to_string(status))]));
  }
  view.queue_depth = view.counts[static_cast<std::size_t>(OrderStatus::queued)];
  read_items(f, view);
  return view;
}

std::pair<std::uint64_t, std::uint64_t> entry_order(std::string_view id) {
  std::pair<std::uint64_t, std::uint64_t> order{0, 0};
  const auto dash = id.find('-');
  if (dash == std::string_view::npos) return order;
  std::from_chars(id.data(), id.data() + dash, order.first);
  std::from_chars(id.data() + dash + 1, id.data() + id.size(), order.second);
  return order;
}

const Error& unreachable() {
  static const Error error{ErrorCode::unavailable, "the order store is unreachable; try again shortly"};
  return error;
}

const Error& not_replicated() {
  static const Error error{ErrorCode::unavailable,
                           "the order store could not copy this write to a replica in time; try again shortly (the "
                           "same request finds the same order)"};
  return error;
}

Error error_of(const Reply& reply) {
  // The server cannot take writes now, and the command did not run: LOADING
  // (replaying its AOF after a restart), OOM (full), MISCONF (cannot persist),
  // READONLY (a replica after a failover).
  // On a Redis Cluster also CLUSTERDOWN (slots unserved: a failover under
  // way) and TRYAGAIN (a multi-key command mid-migration).
  for (const char* refusal : {"LOADING", "OOM", "MISCONF", "READONLY", "CLUSTERDOWN", "TRYAGAIN"})
    if (reply.str.rfind(refusal, 0) == 0) return unreachable();
  if (reply.connection_failed()) return unreachable();
  spdlog::error("redis: {}", describe(reply));
  return Error{ErrorCode::internal, "internal error"};
}

OrderView view_of(const domain::Order& order, const SaleProgress& progress, std::int64_t service_time_ms) {
  OrderView view{order, 0, 0, std::nullopt};
  const auto now = domain::now_ms();
  // The rate as scripts::claim keeps it, with the same time constant.
  const double rate = domain::measured_rate(progress.rate, progress.rate_at, progress.rate_since, now,
                                            static_cast<double>(limits::rate_tau_ms) / 1000.0);
  if (order.status == domain::OrderStatus::queued) {
    view.position = domain::queue_position(order.seq, progress.started);
    view.estimated_wait_ms = domain::estimated_wait_ms(view.position, rate);
  }
  view.poll_after_ms = domain::poll_after_ms(order.status, view.position, rate, service_time_ms);
  if (order.status == domain::OrderStatus::entered && progress.draw_at) {
    view.draw_at = progress.draw_at;
    view.poll_after_ms = domain::entrant_poll_after_ms(progress.draw_at, now);
  }
  return view;
}

}  // namespace flashgate::store::redis
