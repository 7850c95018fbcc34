#pragma once
// The windows: a bounded pool of threads that take QUEUED orders in intake
// order and turn them into real orders in the database.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "database/order_database.hpp"
#include "metrics/registry.hpp"
#include "store/store.hpp"

namespace flashgate::worker {

struct WindowSettings {
  std::size_t count = 8;
  std::chrono::milliseconds service_time{0};  // simulated downstream latency
  double failure_rate = 0.0;                  // simulated downstream refusals, 0..1
};

class Windows {
 public:
  Windows(store::Store& store, database::OrderDatabase& database, metrics::Registry& metrics,
          WindowSettings settings);
  ~Windows();
  void start();
  // Finishes the orders in hand (or hands them back) and joins the threads.
  void stop();
  std::size_t busy() const { return busy_.load(); }

 private:
  void run();
  void process(const domain::Order& order);
  // Waits before a retry; false if the pool is stopping meanwhile.
  bool backoff(int attempt);

  store::Store& store_;
  database::OrderDatabase& database_;
  WindowSettings settings_;
  metrics::Counter& confirmed_;
  metrics::Counter& failed_;
  metrics::Counter& retries_;
  metrics::Histogram& service_seconds_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> busy_{0};
  std::vector<std::thread> threads_;
};

}  // namespace flashgate::worker
