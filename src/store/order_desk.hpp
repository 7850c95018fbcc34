#pragma once
// The store as the gateway sees it: sales created and read, intakes, polls
// and payments, and the feed of status changes its long polls and streams
// wait on. Called on the HTTP server's I/O threads, which must never block:
// every call returns at once and completes through its callback.
//
// What a backend must guarantee:
// - A callback may run on any thread (the caller posts back to its own
//   executor), at most once, and never before the call's effect is durable
//   where the call says so (intake, pay).
// - intake is atomic: two intakes never both take the last unit, and a
//   repeat never makes a second order.
// - on_change listeners see every version of an order, in order.
#include <functional>
#include <string>
#include <utility>

#include "domain/sale.hpp"
#include "store/views.hpp"

namespace flashgate::store {

class OrderDesk {
 public:
  virtual ~OrderDesk() = default;

  virtual void create_sale(const domain::Sale& sale, Callback<SaleView> done) = 0;
  virtual void get_sale(const std::string& sale_id, Callback<SaleView> done) = 0;
  // Atomic: sale window, the repeat of an intake returns its order, the
  // quantity and the buyer's limit (domain::quantity_refusal), stock -quantity,
  // QUEUED, enqueue. Completes only once the intake is durable.
  virtual void intake(const std::string& sale_id, const IntakeRequest& request, Callback<IntakeOutcome> done) = 0;
  // One unit, no request id: the intake of a single-unit sale.
  void intake(const std::string& sale_id, const std::string& user_id, Callback<IntakeOutcome> done) {
    intake(sale_id, IntakeRequest{user_id, 1, {}, {}}, std::move(done));
  }
  virtual void get_order(const std::string& sale_id, const std::string& order_id, Callback<OrderView> done) = 0;
  // CONFIRMED -> PAID, durable before completion; the same payment again is a no-op.
  virtual void pay(const std::string& order_id, const std::string& payment_id, Callback<OrderView> done) = 0;
  // Refuse new intakes from now on (graceful shutdown).
  virtual void stop_intake() = 0;

  // Called after every status change, for each version in order: by the
  // memory store on the thread that made it, by the Redis store on its change
  // feed's thread, a moment later (for the changes of every process).
  // Listeners are added before the store runs (app wiring), never removed.
  using ChangeListener = std::function<void(const OrderView&)>;
  virtual void on_change(ChangeListener listener) = 0;
};

}  // namespace flashgate::store
