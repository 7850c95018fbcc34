#pragma once
// The Store holds the hot, shared state of a deployment: sales and their
// remaining stock, who holds an order, each order's status, the queue for the
// windows and a feed of status changes. One implementation per backend.
//
// Gateway calls complete through a callback, which may run on any thread
// (the caller posts back to its own executor). Worker calls block: windows
// are a bounded pool of threads.
#include <array>
#include <chrono>
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
};

struct SaleView {
  domain::Sale sale;
  std::int64_t remaining = 0;
  std::optional<std::int64_t> remaining_db;  // last value flushed to the database
  std::uint64_t queue_depth = 0;
  std::array<std::uint64_t, domain::all_statuses.size()> counts{};  // orders, indexed by OrderStatus
  std::array<std::uint64_t, domain::all_statuses.size()> units{};   // their units, indexed by OrderStatus
};

// What a buyer asks of an intake. A repeat is an intake with the same hold
// key (domain::hold_key): it returns the order the first one made.
struct IntakeRequest {
  std::string user_id;
  std::int64_t quantity = 1;
  std::string request_id;  // ignored by a sale with max_per_buyer 1
};

struct IntakeOutcome {
  bool created = false;  // false: the user already held this order
  OrderView view;
};

template <class T>
using Callback = std::function<void(domain::Result<T>)>;

struct Empty {};

class Store {
 public:
  virtual ~Store() = default;

  // --- gateway ---
  virtual void create_sale(const domain::Sale& sale, Callback<SaleView> done) = 0;
  virtual void get_sale(const std::string& sale_id, Callback<SaleView> done) = 0;
  // Atomic: sale window, the repeat of an intake returns its order, the
  // quantity and the buyer's limit (domain::quantity_refusal), stock -quantity,
  // QUEUED, enqueue. Completes only once the intake is durable.
  virtual void intake(const std::string& sale_id, const IntakeRequest& request, Callback<IntakeOutcome> done) = 0;
  // One unit, no request id: the intake of a single-unit sale.
  void intake(const std::string& sale_id, const std::string& user_id, Callback<IntakeOutcome> done) {
    intake(sale_id, IntakeRequest{user_id, 1, {}}, std::move(done));
  }
  virtual void get_order(const std::string& sale_id, const std::string& order_id, Callback<OrderView> done) = 0;
  // CONFIRMED -> PAID, durable before completion; the same payment again is a no-op.
  virtual void pay(const std::string& order_id, const std::string& payment_id, Callback<OrderView> done) = 0;
  // Refuse new intakes from now on (graceful shutdown).
  virtual void stop_intake() = 0;

  // Called after every status change, for each version in order: by the
  // memory store on the thread that made it, by the Redis store on its change
  // feed's thread, a moment later (for the changes of every process).
  using ChangeListener = std::function<void(const OrderView&)>;
  virtual void on_change(ChangeListener listener) = 0;

  // --- worker ---
  // Next QUEUED order in intake order, moved to PROCESSING; nullopt after `wait`.
  virtual std::optional<domain::Order> claim(std::chrono::milliseconds wait) = 0;
  // PROCESSING -> CONFIRMED (with the shop's external_id, empty: none) or
  // FAILED (reason), durable on return; false if the store could not keep it
  // (the caller retries).
  virtual bool finish(const std::string& order_id, domain::OrderStatus to, const std::string& reason,
                      const std::string& external_id) = 0;
  // PROCESSING -> QUEUED: a window gives an order back unfinished.
  virtual void hand_back(const std::string& order_id) = 0;
  // CONFIRMED orders unpaid since before `confirmed_before` become CANCELLED.
  virtual std::size_t cancel_unpaid(domain::TimeMs confirmed_before) = 0;
  // Remaining stock of every sale, for the periodic flush.
  virtual std::vector<std::pair<std::string, std::int64_t>> remaining_by_sale() = 0;
  virtual void set_remaining_db(const std::string& sale_id, std::int64_t remaining) = 0;

  // Every sale, for mirroring into the order database.
  virtual std::vector<domain::Sale> sales() = 0;
  // Every sale the store holds, with its remaining and counts: the archiver's input.
  virtual std::vector<SaleView> sale_views() = 0;
  // Removes a sale the database already records as archived, with all its
  // orders (and queue, feed and index entries). Idempotent and resumable: on a
  // sale already partly or wholly removed it finishes the job and succeeds.
  // Refuses (sale_active) while any of the sale's orders is not final. After
  // it, get_sale/get_order/intake of the sale answer not found, and the
  // on_sale_dropped listeners have been told.
  virtual domain::Result<Empty> drop_sale(const std::string& sale_id) = 0;
  // Called once a sale left the store (by this process's drop_sale or, in a
  // shared store, another's), so a gateway forgets what it keeps per sale.
  using SaleDroppedListener = std::function<void(const std::string& sale_id)>;
  virtual void on_sale_dropped(SaleDroppedListener listener) = 0;

  // --- both ---
  virtual std::uint64_t queue_depth() = 0;
  virtual void record_service_time(std::int64_t ms) = 0;
};

}  // namespace flashgate::store
