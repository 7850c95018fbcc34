#pragma once
// The store as the application and the workers' periodic tasks see it: the
// sales as a whole (their list and views, the stock the database is told of),
// payment timeouts, the removal of archived sales, and the reads of the
// gauges. Called on threads of their own (the stock flush, the payment
// timeouts, the archiver, the gauges' timer, an admin call's thread): every
// call blocks until done, none is on a request's hot path.
//
// What a backend must guarantee:
// - cancel_unpaid and drop_sale are safe against the desk and the queue
//   running at once (an order paid while it is being cancelled is one or
//   the other, never both).
// - drop_sale is idempotent and resumable, and its listeners are told once
//   the sale is gone (also, in a shared store, when another process dropped it).
// - Thread-safe: the tasks call at once, each from its own thread.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "domain/errors.hpp"
#include "domain/sale.hpp"
#include "domain/time.hpp"
#include "store/views.hpp"

namespace flashgate::store {

class StockLedger {
 public:
  virtual ~StockLedger() = default;

  // Every sale, for mirroring into the order database.
  virtual std::vector<domain::Sale> sales() = 0;
  // Every sale the store holds, with its remaining and counts: the archiver's input.
  virtual std::vector<SaleView> sale_views() = 0;
  // Remaining stock of every sale, for the periodic flush.
  virtual std::vector<std::pair<std::string, std::int64_t>> remaining_by_sale() = 0;
  virtual void set_remaining_db(const std::string& sale_id, std::int64_t remaining) = 0;
  // CONFIRMED orders unpaid since before `confirmed_before` become CANCELLED.
  virtual std::size_t cancel_unpaid(domain::TimeMs confirmed_before) = 0;
  // Orders waiting for a window, over every sale.
  virtual std::uint64_t queue_depth() = 0;
  // The workers' rebalancer: moves of stock left half-done are completed, and
  // the low buckets of every bucketed sale topped up from the full ones. The
  // units moved; 0 in a store that keeps one stock per sale.
  virtual std::int64_t rebalance_buckets() = 0;

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
};

}  // namespace flashgate::store
