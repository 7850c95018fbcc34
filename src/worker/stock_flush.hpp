#pragma once
// The stock flush: writes each sale's remaining stock from the store to the
// order database (sales.remaining_db), recording there first any sale it
// does not have yet. A worker task on a thread of its own (fg-stock-flush);
// its stop flushes a last time, so it stops after the windows, whose last
// orders are then in the flushed numbers.
#include <chrono>
#include <optional>
#include <set>
#include <string>

#include "database/order_database.hpp"
#include "store/stock_ledger.hpp"
#include "worker/periodic.hpp"

namespace flashgate::worker {

class StockFlush {
 public:
  StockFlush(store::StockLedger& ledger, database::OrderDatabase& database, std::chrono::milliseconds interval);
  StockFlush(const StockFlush&) = delete;
  StockFlush& operator=(const StockFlush&) = delete;

  // One flush; false if there was nothing to write or the database refused
  // it (the next flush writes the numbers of its own time). Not concurrent
  // with itself: the thread calls it, or the caller while the thread is not
  // running.
  bool flush();

  // Flushes every interval on its own thread.
  void start();
  // Wakes the thread, flushes a last time and joins it.
  void stop();

 private:
  store::StockLedger& ledger_;
  database::OrderDatabase& database_;
  const std::chrono::milliseconds interval_;
  std::set<std::string> recorded_;  // sales the database is known to have
  std::optional<Periodic> thread_;
};

}  // namespace flashgate::worker
