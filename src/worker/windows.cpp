#include "worker/windows.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include "platform/thread_name.hpp"

namespace flashgate::worker {

using domain::OrderStatus;

Windows::Windows(store::WorkQueue& queue, store::StockLedger& sales, database::OrderDatabase& database,
                 metrics::Registry& metrics, WindowSettings settings)
    : queue_(queue),
      sales_(sales),
      database_(database),
      settings_(settings),
      confirmed_(metrics.counter("flashgate_window_orders_total", "Orders finished by windows", "result=\"confirmed\"")),
      failed_(metrics.counter("flashgate_window_orders_total", "Orders finished by windows", "result=\"failed\"")),
      retries_(metrics.counter("flashgate_window_retries_total", "Database or store writes retried by windows")),
      service_seconds_(metrics.histogram("flashgate_window_service_seconds", "Time a window spends on one order", "",
                                         {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})),
      sink_created_(metrics.counter("flashgate_sink_calls_total", "Calls to the shop's services by their answer",
                                    "sink=\"order\",result=\"created\"")),
      sink_refused_(metrics.counter("flashgate_sink_calls_total", "Calls to the shop's services by their answer",
                                    "sink=\"order\",result=\"refused\"")),
      sink_unavailable_(metrics.counter("flashgate_sink_calls_total", "Calls to the shop's services by their answer",
                                        "sink=\"order\",result=\"unavailable\"")),
      sink_retries_(metrics.counter("flashgate_sink_retries_total", "Calls to the shop's services that repeat a failed one",
                                    "sink=\"order\"")),
      sink_seconds_(metrics.histogram("flashgate_sink_call_seconds", "Duration of one call to the shop's services",
                                      "sink=\"order\"",
                                      {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})) {
  metrics.gauge("flashgate_windows_busy", "Windows working on an order now",
                [this] { return static_cast<double>(busy_.load()); });
  metrics.gauge("flashgate_windows", "Size of the window pool", [this] { return static_cast<double>(settings_.count); });
  if (settings_.order_sink && settings_.breaker_failures > 0)
    breaker_.emplace(settings_.breaker_failures, settings_.breaker_pause);
  metrics.gauge("flashgate_sink_breaker_open", "1 while the order sink's circuit breaker holds calls back",
                [this] { return breaker_ && breaker_->open() ? 1.0 : 0.0; });
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
    // While the breaker is open, orders stay QUEUED (their place in line
    // still right) instead of waiting in a window for a shop that is down.
    Permit permit = breaker_ ? breaker_->permit(std::chrono::steady_clock::now()) : Permit::call;
    if (permit == Permit::none) {
      pause(std::chrono::milliseconds(20));
      continue;
    }
    auto order = queue_.claim(std::chrono::milliseconds(100));
    if (!order) {
      if (breaker_) breaker_->release(permit);
      continue;
    }
    busy_.fetch_add(1);
    const auto started = std::chrono::steady_clock::now();
    process(std::move(*order), permit);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    busy_.fetch_sub(1);
    service_seconds_.observe(std::chrono::duration<double>(elapsed).count());
    queue_.record_service_time(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
  }
}

bool Windows::backoff(int attempt) {
  return pause(std::chrono::milliseconds(std::min(1000, 10 << std::min(attempt, 7))));
}

bool Windows::pause(std::chrono::milliseconds wait) {
  const auto until = std::chrono::steady_clock::now() + wait;
  for (auto now = std::chrono::steady_clock::now(); now < until; now = std::chrono::steady_clock::now()) {
    if (stopping_) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(std::chrono::milliseconds(10), until - now));
  }
  return !stopping_;
}

std::string Windows::item_of(const std::string& sale_id) {
  std::lock_guard lock(items_mutex_);
  if (auto it = items_.find(sale_id); it != items_.end()) return it->second;
  for (const auto& sale : sales_.sales()) items_[sale.sale_id] = sale.item;
  const auto it = items_.find(sale_id);
  return it != items_.end() ? it->second : std::string();
}

sink::SinkAnswer Windows::call_order_sink(const sink::OrderRequest& request, Permit permit) {
  const auto started = std::chrono::steady_clock::now();
  auto answer = settings_.order_sink->create_order(request);
  const auto answered = std::chrono::steady_clock::now();
  sink_seconds_.observe(std::chrono::duration<double>(answered - started).count());
  using Kind = sink::SinkAnswer::Kind;
  if (breaker_) {
    const auto change = breaker_->record(permit, answer.kind != Kind::unavailable, answered);
    if (change == sink::CircuitBreaker::Change::opened)
      spdlog::warn("order service unavailable ({} answers in a row, the last: {}): windows hold calls back and "
                   "probe it every {} ms; orders wait QUEUED",
                   settings_.breaker_failures, answer.reason, settings_.breaker_pause.count());
    else if (change == sink::CircuitBreaker::Change::closed)
      spdlog::info("order service answers again: windows call it again");
  }
  (answer.kind == Kind::created ? sink_created_ : answer.kind == Kind::refused ? sink_refused_ : sink_unavailable_)
      .inc();
  return answer;
}

std::optional<Windows::Permit> Windows::wait_for_permit(std::chrono::steady_clock::time_point deadline) {
  if (!breaker_) return Permit::call;
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (const auto permit = breaker_->permit(now); permit != Permit::none) return permit;
    if (now >= deadline) return Permit::none;
    if (!pause(std::chrono::milliseconds(20))) return std::nullopt;
  }
}

std::optional<Windows::Outcome> Windows::ask_order_sink(const domain::Order& order, Permit permit) {
  const sink::OrderRequest request{order.order_id, order.sale_id, order.user_id, item_of(order.sale_id),
                                   order.created_at, order.quantity, order.item_id};
  const auto deadline = std::chrono::steady_clock::now() + settings_.sink_deadline;
  // Exponential backoff with full jitter: windows that met the same outage
  // do not come back at the same instant.
  constexpr std::int64_t first_wait_ms = 100, longest_wait_ms = 10'000;
  const Outcome unavailable{OrderStatus::failed, "order service unavailable", {}};
  for (int attempt = 0;; ++attempt) {
    // A probe permit is this window's to use; any other is asked for again,
    // as the breaker may have opened since.
    if (attempt > 0 || permit != Permit::probe) {
      const auto next = wait_for_permit(deadline);
      if (!next) return std::nullopt;
      if (*next == Permit::none) {
        spdlog::warn("window: order {} failed, the order service stayed unavailable", order.order_id);
        return unavailable;
      }
      permit = *next;
    }
    if (attempt > 0) sink_retries_.inc();  // asked again after an unavailable answer
    auto answer = call_order_sink(request, permit);
    if (answer.kind == sink::SinkAnswer::Kind::created) {
      if (answer.external_id_refused)
        spdlog::debug("window: order {}: the order service's external_id is not 1-{} bytes of printable ASCII; "
                      "kept as none", order.order_id, domain::max_external_id_bytes);
      return Outcome{OrderStatus::confirmed, {}, std::move(answer.external_id)};
    }
    if (answer.kind == sink::SinkAnswer::Kind::refused) return Outcome{OrderStatus::failed, answer.reason, {}};
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      spdlog::warn("window: order {} failed, the order service stayed unavailable: {}", order.order_id, answer.reason);
      return unavailable;
    }
    spdlog::debug("window: order service unavailable for order {}: {}", order.order_id, answer.reason);
    const std::int64_t ceiling = std::min(longest_wait_ms, first_wait_ms << std::min(attempt, 10));
    const auto wait = std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(randombytes_uniform(static_cast<std::uint32_t>(ceiling) + 1)), left);
    if (!pause(std::chrono::duration_cast<std::chrono::milliseconds>(wait))) return std::nullopt;
  }
}

// By value: the order's row in the database takes the shop's external_id.
void Windows::process(domain::Order order, Permit permit) {
  OrderStatus outcome = OrderStatus::confirmed;
  std::string reason;
  if (settings_.order_sink) {
    auto answer = ask_order_sink(order, permit);
    if (!answer) return queue_.hand_back(order.order_id);  // shutting down: the next start asks again
    outcome = answer->status;
    reason = std::move(answer->reason);
    order.external_id = std::move(answer->external_id);
  } else {
    if (settings_.service_time.count() > 0) std::this_thread::sleep_for(settings_.service_time);
    const bool refused =
        settings_.failure_rate > 0.0 && randombytes_uniform(1'000'000) < settings_.failure_rate * 1'000'000;
    if (refused) outcome = OrderStatus::failed, reason = "downstream_rejected";
  }

  // The order row is created (idempotently) before CONFIRMED is told; a
  // database outage is waited out, and on shutdown the order goes back in line.
  for (int attempt = 0; outcome == OrderStatus::confirmed && !database_.create_order(order); ++attempt) {
    retries_.inc();
    spdlog::warn("window: order {} not created yet, retrying", order.order_id);
    if (!backoff(attempt)) return queue_.hand_back(order.order_id);
  }
  for (int attempt = 0; !queue_.finish(order.order_id, outcome, reason, order.external_id); ++attempt) {
    retries_.inc();
    if (!backoff(attempt)) return queue_.hand_back(order.order_id);
  }
  (outcome == OrderStatus::confirmed ? confirmed_ : failed_).inc();
}

}  // namespace flashgate::worker
