#pragma once
// The gauges read from the store: queue depth, and orders, remaining stock and
// queue tail per sale. A scrape must never wait on an I/O thread: the memory
// store answers from memory, so it is read at the scrape; a Redis store is
// read by a timer thread of its own once a second, and a scrape answers the
// last values it gathered (a Redis that hangs delays the gauges, not /metrics).
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "metrics/registry.hpp"
#include "store/store.hpp"
#include "worker/periodic.hpp"

namespace flashgate::app {

class StoreGauges {
 public:
  // read_at_scrape: the store answers from memory (no network, no disk).
  // outcome_backlog, where there is one: final outcomes not yet in the database.
  StoreGauges(store::Store& store, metrics::Registry& metrics, bool read_at_scrape,
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

  store::Store& store_;
  const bool read_at_scrape_;
  const std::function<std::uint64_t()> outcome_backlog_;
  std::mutex mutex_;  // guards last_
  Snapshot last_;
  std::optional<worker::Periodic> refresher_;
};

}  // namespace flashgate::app
