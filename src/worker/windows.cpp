#include "worker/windows.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include "platform/thread_name.hpp"

namespace flashgate::worker {

using domain::OrderStatus;

Windows::Windows(store::Store& store, database::OrderDatabase& database, metrics::Registry& metrics,
                 WindowSettings settings)
    : store_(store),
      database_(database),
      settings_(settings),
      confirmed_(metrics.counter("flashgate_window_orders_total", "Orders finished by windows", "result=\"confirmed\"")),
      failed_(metrics.counter("flashgate_window_orders_total", "Orders finished by windows", "result=\"failed\"")),
      retries_(metrics.counter("flashgate_window_retries_total", "Database or store writes retried by windows")),
      service_seconds_(metrics.histogram("flashgate_window_service_seconds", "Time a window spends on one order", "",
                                         {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})) {
  metrics.gauge("flashgate_windows_busy", "Windows working on an order now",
                [this] { return static_cast<double>(busy_.load()); });
  metrics.gauge("flashgate_windows", "Size of the window pool", [this] { return static_cast<double>(settings_.count); });
}

Windows::~Windows() { stop(); }

void Windows::start() {
  for (std::size_t i = 0; i < settings_.count; ++i)
    threads_.emplace_back([this, i] {
      platform::name_this_thread("fg-window-" + std::to_string(i));
      run();
    });
}

void Windows::stop() {
  stopping_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Windows::run() {
  while (!stopping_) {
    auto order = store_.claim(std::chrono::milliseconds(100));
    if (!order) continue;
    busy_.fetch_add(1);
    const auto started = std::chrono::steady_clock::now();
    process(*order);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    busy_.fetch_sub(1);
    service_seconds_.observe(std::chrono::duration<double>(elapsed).count());
    store_.record_service_time(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
  }
}

bool Windows::backoff(int attempt) {
  const auto wait = std::chrono::milliseconds(std::min(1000, 10 << std::min(attempt, 7)));
  const auto until = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < until) {
    if (stopping_) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void Windows::process(const domain::Order& order) {
  if (settings_.service_time.count() > 0) std::this_thread::sleep_for(settings_.service_time);

  const bool refused =
      settings_.failure_rate > 0.0 && randombytes_uniform(1'000'000) < settings_.failure_rate * 1'000'000;
  const OrderStatus outcome = refused ? OrderStatus::failed : OrderStatus::confirmed;
  const std::string reason = refused ? "downstream_rejected" : "";

  // The order row is created (idempotently) before CONFIRMED is told; a
  // database outage is waited out, and on shutdown the order goes back in line.
  for (int attempt = 0; outcome == OrderStatus::confirmed && !database_.create_order(order); ++attempt) {
    retries_.inc();
    spdlog::warn("window: order {} not created yet, retrying", order.order_id);
    if (!backoff(attempt)) return store_.hand_back(order.order_id);
  }
  for (int attempt = 0; !store_.finish(order.order_id, outcome, reason); ++attempt) {
    retries_.inc();
    if (!backoff(attempt)) return store_.hand_back(order.order_id);
  }
  (outcome == OrderStatus::confirmed ? confirmed_ : failed_).inc();
}

}  // namespace flashgate::worker
