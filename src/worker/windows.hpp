#pragma once
// The windows: a bounded pool of threads that take QUEUED orders in intake
// order and turn them into real orders in the database.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "database/order_database.hpp"
#include "metrics/registry.hpp"
#include "sink/circuit_breaker.hpp"
#include "sink/order_sink.hpp"
#include "store/stock_ledger.hpp"
#include "store/work_queue.hpp"

namespace flashgate::worker {

struct WindowSettings {
  std::size_t count = 8;
  std::chrono::milliseconds service_time{0};  // simulated downstream latency
  double failure_rate = 0.0;                  // simulated downstream refusals, 0..1
  // The shop's order service; null: the order table alone is the system of
  // record and the two settings above simulate the shop.
  sink::OrderSink* order_sink = nullptr;
  std::chrono::milliseconds sink_deadline{120'000};  // retries of an unavailable shop end here
  int breaker_failures = 5;  // unavailable answers in a row that open the circuit breaker; 0: none
  std::chrono::milliseconds breaker_pause{1000};
};

class Windows {
 public:
  // `sales`: only for the items of sales (the shop's order requests name them).
  Windows(store::WorkQueue& queue, store::StockLedger& sales, database::OrderDatabase& database,
          metrics::Registry& metrics, WindowSettings settings);
  ~Windows();
  void start();
  // Finishes the orders in hand (or hands them back) and joins the threads.
  void stop();
  std::size_t busy() const { return busy_.load(); }

 private:
  void run();
  using Permit = sink::CircuitBreaker::Permit;
  void process(domain::Order order, Permit permit);
  // Waits before a retry; false if the pool is stopping meanwhile.
  bool backoff(int attempt);
  // Sleeps, waking for a stop; false if the pool is stopping.
  bool pause(std::chrono::milliseconds wait);
  // Asks the shop until it answers or the deadline passes; nullopt: stopping.
  struct Outcome {
    domain::OrderStatus status;
    std::string reason;
    std::string external_id;  // CONFIRMED: the shop's id of the order, if it said a valid one
  };
  std::optional<Outcome> ask_order_sink(const domain::Order& order, Permit permit);
  sink::SinkAnswer call_order_sink(const sink::OrderRequest& request, Permit permit);
  // Waits until the breaker lets a call out: none once the deadline passed, nullopt if stopping.
  std::optional<Permit> wait_for_permit(std::chrono::steady_clock::time_point deadline);
  std::string item_of(const std::string& sale_id);

  store::WorkQueue& queue_;
  store::StockLedger& sales_;
  database::OrderDatabase& database_;
  WindowSettings settings_;
  metrics::Counter& confirmed_;
  metrics::Counter& failed_;
  metrics::Counter& retries_;
  metrics::Histogram& service_seconds_;
  metrics::Counter& sink_created_;
  metrics::Counter& sink_refused_;
  metrics::Counter& sink_unavailable_;
  metrics::Counter& sink_retries_;
  metrics::Histogram& sink_seconds_;
  std::optional<sink::CircuitBreaker> breaker_;  // with an order sink
  std::mutex items_mutex_;
  std::map<std::string, std::string> items_;  // sale_id -> item, for the shop's order
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> busy_{0};
  std::vector<std::thread> threads_;
};

}  // namespace flashgate::worker
