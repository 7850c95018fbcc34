#pragma once
// What the store's three sides (order_desk.hpp, work_queue.hpp,
// stock_ledger.hpp) answer with: an order's and a sale's views, an intake's
// request and outcome, and the callback the desk completes through.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "domain/errors.hpp"
#include "domain/order.hpp"
#include "domain/sale.hpp"

namespace flashgate::store {

// An order's status object as the API shows it.
struct OrderView {
  domain::Order order;
  std::uint64_t position = 0;  // meaningful while QUEUED
  std::int64_t poll_after_ms = 0;
  // While QUEUED: domain::estimated_wait_ms, from the position and the sale's start rate.
  std::optional<std::int64_t> estimated_wait_ms;
  // While ENTERED (a draw sale's entrant): when the draw is due.
  std::optional<domain::TimeMs> draw_at{};
};

// One bucket of a bucketed sale (Redis; see domain/bucket.hpp), for the admin stats.
struct BucketView {
  std::int64_t remaining = 0;
  std::uint64_t queue_depth = 0;
  std::int64_t in_transit = 0;  // taken from this bucket for another, not given yet
};

// One item of a sale of several (domain::SaleItem), for the sale object and the admin stats.
struct ItemView {
  domain::SaleItem item;
  std::int64_t remaining = 0;
  std::optional<std::int64_t> remaining_db;  // last value flushed to the database
  std::array<std::uint64_t, domain::all_statuses.size()> counts{};  // this item's orders, indexed by OrderStatus
  std::array<std::uint64_t, domain::all_statuses.size()> units{};   // their units
};

struct SaleView {
  domain::Sale sale;
  std::int64_t remaining = 0;
  std::optional<std::int64_t> remaining_db;  // last value flushed to the database
  std::uint64_t queue_depth = 0;
  std::array<std::uint64_t, domain::all_statuses.size()> counts{};  // orders, indexed by OrderStatus
  std::array<std::uint64_t, domain::all_statuses.size()> units{};   // their units, indexed by OrderStatus
  // Units on their way between two buckets: in no bucket's remaining, held by no order. Always 0 in
  // a sale of one bucket. remaining + held units + in_transit == stock.
  std::int64_t in_transit = 0;
  std::vector<BucketView> buckets;  // a bucketed sale's, in bucket order; empty for a sale of one bucket
  // A sale of several items: each one's, in the sale's order (sale.items); empty otherwise.
  // `remaining`, `counts` and `units` above are their sums.
  std::vector<ItemView> items;
};

// What a buyer asks of an intake. A repeat is an intake with the same hold
// key (domain::hold_key): it returns the order the first one made.
struct IntakeRequest {
  std::string user_id;
  std::int64_t quantity = 1;
  std::string request_id;  // ignored by a sale with max_per_buyer 1
  std::string item_id = {};  // which item of a sale of several; ignored by a sale of one item
};

struct IntakeOutcome {
  bool created = false;  // false: the user already held this order
  OrderView view;
};

template <class T>
using Callback = std::function<void(domain::Result<T>)>;

struct Empty {};

}  // namespace flashgate::store
