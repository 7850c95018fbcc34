#include "app/worker_parts.hpp"

#include <algorithm>
#include <thread>

#include "app/process.hpp"

namespace flashgate::app {
namespace {

sink::HttpSinkSettings sink_settings(const Config& config, const std::string& url) {
  return sink::HttpSinkSettings{url, config.sink_secret, std::chrono::milliseconds(config.sink_timeout_ms),
                                config.sink_ca};
}

std::size_t windows_wanted(const Config& config) {
  if (config.windows > 0) return static_cast<std::size_t>(config.windows);
  return std::max(1u, std::thread::hardware_concurrency()) * 4;
}

}  // namespace

bool runs_windows(const Config& config, const Backends& backends) {
  return config.role != "gateway" && backends.database;
}

WorkerParts::WorkerParts(const Config& config, Backends& backends, metrics::Registry& metrics,
                         worker::Archiver* archiver) {
  if (!runs_windows(config, backends)) return;
  store::Store& store = backends.store();
  database::OrderDatabase& database = *backends.database;
  if (backends.outcomes_mirrored) {
    store::OutcomeLog* outcomes = backends.outcome_log;
    if (!outcomes) {
      listened_outcomes.emplace();
      store.on_change([this](const store::OrderView& view) { listened_outcomes->changed(view); });
      outcomes = &*listened_outcomes;
    }
    mirror.emplace(*outcomes, database);
  }
  if (!config.order_sink.empty()) {
    try {
      order_sink = std::make_unique<sink::HttpOrderSink>(sink_settings(config, config.order_sink));
    } catch (const std::exception& e) {
      throw StartError(e.what());
    }
  }
  if (backends.event_outbox) {
    sink::EventDeliverySettings settings;
    settings.sink = sink_settings(config, config.event_sink);
    // Distributed: one worker delivers at a time, the one holding the lock.
    sink::EventDelivery::Leadership leadership;
    if (auto* locks = backends.locks) leadership = [locks] { return locks->hold_delivery_lock(); };
    try {
      event_delivery = std::make_unique<sink::EventDelivery>(*backends.event_outbox, metrics, std::move(settings),
                                                             std::move(leadership));
    } catch (const std::exception& e) {
      throw StartError(e.what());
    }
  }
  window_count = windows_wanted(config);
  worker::WindowSettings settings{window_count, std::chrono::milliseconds(config.service_time_ms),
                                  config.failure_rate};
  if (order_sink) {
    settings.order_sink = order_sink.get();
    settings.sink_deadline = std::chrono::milliseconds(config.sink_deadline_ms);
    settings.breaker_failures = static_cast<int>(config.sink_breaker_failures);
    settings.breaker_pause = std::chrono::milliseconds(config.sink_breaker_pause_ms);
  }
  windows.emplace(store, store, database, metrics, settings);
  stock_flush.emplace(store, database, std::chrono::milliseconds(config.stock_flush_ms));
  unpaid_cancellation.emplace(store, std::chrono::milliseconds(config.payment_timeout_ms));
  rebalance.emplace(store);
  if (archiver) archive_rounds.emplace(*archiver, config.archive_after_ms);
  if (backends.queue_reclaim) reclaim.emplace(*backends.queue_reclaim);
  if (backends.draws) drawer.emplace(*backends.draws);
}

}  // namespace flashgate::app
