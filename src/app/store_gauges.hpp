#pragma once
// The gauges every store has: queue depth, and orders, remaining stock and
// queue tail per sale; made by each backend's gauges (app/backend_gauges.hpp),
// which says how it can be read. A scrape must never wait on an I/O thread: a
// store that answers from memory is read at the scrape; another (Redis) is
// read by a timer thread of its own once a second, and a scrape answers the
// last values it gathered (a Redis that hangs delays the gauges, not /metrics).
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "metrics/registry.hpp"
#include "store/order_desk.hpp"
#include "store/stock_ledger.hpp"
#include "worker/periodic.hpp"

namespace flashgate::app {

class StoreGauges {
 public:
  // read_at_scrape: the store answers from memory (no network, no disk).
  // outcome_backlog, where there is one: final outcomes not yet in the database.
  // The ledger lists the sales and the queue depth; the desk reads each sale.
  StoreGauges(store::OrderDesk& desk, store::StockLedger& ledger, metrics::Registry& metrics, bool read_at_scrape,
              std::function<std::uint64_t()> outcome_backlog = {});
  ~StoreGauges();
  StoreGauges(const StoreGauges&) = delete;
  StoreGauges& operator=(const StoreGauges&) = delete;
  // Stops the timer; from then on the gauges keep their last values.
  void stop();
  // A sale left the store: its labels leave the next scrape, not a second later.
  void forget_sale(const std::string& sale_id);

  struct Snapshot {
    std::uint64_t queue_depth = 0;
    std::uint64_t outcome_backlog = 0;
    std::vector<store::SaleView> sales;
  };

 private:
  Snapshot gather();
  Snapshot current();

  store::OrderDesk& desk_;
  store::StockLedger& ledger_;
  const bool read_at_scrape_;
  const std::function<std::uint64_t()> outcome_backlog_;
  std::mutex mutex_;  // guards last_
  Snapshot last_;
  std::optional<worker::Periodic> refresher_;
};

}  // namespace flashgate::app
