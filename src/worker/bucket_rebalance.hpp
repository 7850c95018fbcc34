#pragma once
// The rebalancer of bucketed sales (docs/architecture.md "Buckets"): every
// period it completes the moves of stock a killed mover left half-done and
// tops up the buckets that run low from the full ones, so that most buyers
// find units in their home bucket and the final phase of an intake is rare.
// A worker task on a thread of its own (fg-rebalance); any number of
// workers may run it at once (a move is safe against another).
#include <chrono>
#include <cstdint>
#include <optional>

#include "store/stock_ledger.hpp"
#include "worker/periodic.hpp"

namespace flashgate::worker {

class BucketRebalance {
 public:
  static constexpr std::chrono::milliseconds period{200};

  explicit BucketRebalance(store::StockLedger& ledger) : ledger_(ledger) {}
  BucketRebalance(const BucketRebalance&) = delete;
  BucketRebalance& operator=(const BucketRebalance&) = delete;

  // One round; the units moved.
  std::int64_t round();
  void start();
  void stop();

 private:
  store::StockLedger& ledger_;
  std::optional<Periodic> thread_;
};

}  // namespace flashgate::worker
