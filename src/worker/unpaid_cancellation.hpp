#pragma once
// The payment timeout: a CONFIRMED order left unpaid longer than the timeout
// becomes CANCELLED, which gives its unit back to the sale. A worker task on
// a thread of its own (fg-pay-timeouts).
#include <chrono>
#include <cstddef>
#include <optional>

#include "domain/time.hpp"
#include "store/stock_ledger.hpp"
#include "worker/periodic.hpp"

namespace flashgate::worker {

class UnpaidCancellation {
 public:
  UnpaidCancellation(store::StockLedger& ledger, std::chrono::milliseconds payment_timeout);
  UnpaidCancellation(const UnpaidCancellation&) = delete;
  UnpaidCancellation& operator=(const UnpaidCancellation&) = delete;

  // A quarter of the timeout, within 50 ms .. 1 s: an order is cancelled at
  // most a quarter of its timeout late, and a long timeout is still checked
  // every second (the timeout can be shortened by a restart).
  static std::chrono::milliseconds sweep_interval(std::chrono::milliseconds payment_timeout);

  // One sweep as of `now`: cancels the orders confirmed before now - timeout
  // and still unpaid; how many.
  std::size_t sweep(domain::TimeMs now);

  // Sweeps every sweep_interval on its own thread until stop().
  void start();
  void stop();

 private:
  store::StockLedger& ledger_;
  const std::chrono::milliseconds timeout_;
  std::optional<Periodic> thread_;
};

}  // namespace flashgate::worker
