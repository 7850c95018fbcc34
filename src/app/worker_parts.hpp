#pragma once
// The worker role's parts: the windows and the shop they call, the periodic
// tasks, the outcome mirror and the event delivery. Absent (empty) where the
// process has no worker role, no order database, or the setting is off.
// Made here, run by the process's Lifecycle (app/process.cpp).
#include <memory>
#include <optional>

#include "app/backends.hpp"
#include "app/config.hpp"
#include "metrics/registry.hpp"
#include "sink/event_delivery.hpp"
#include "sink/http_order_sink.hpp"
#include "worker/abandoned_reclaim.hpp"
#include "worker/archive_rounds.hpp"
#include "worker/archiver.hpp"
#include "worker/outcome_mirror.hpp"
#include "worker/sale_draws.hpp"
#include "worker/bucket_rebalance.hpp"
#include "worker/stock_flush.hpp"
#include "worker/unpaid_cancellation.hpp"
#include "worker/windows.hpp"

namespace flashgate::app {

struct WorkerParts {
  // `archiver`: the process's (a gateway's archives on the admin call), run
  // here in rounds. Throws StartError (app/process.hpp) for unusable sink
  // settings.
  WorkerParts(const Config& config, Backends& backends, metrics::Registry& metrics, worker::Archiver* archiver);
  WorkerParts(const WorkerParts&) = delete;
  WorkerParts& operator=(const WorkerParts&) = delete;

  std::size_t window_count = 0;
  std::unique_ptr<sink::HttpOrderSink> order_sink;  // outlives the windows that call it
  std::unique_ptr<sink::EventDelivery> event_delivery;
  std::optional<worker::ListenedOutcomes> listened_outcomes;
  std::optional<worker::OutcomeMirror> mirror;
  std::optional<worker::StockFlush> stock_flush;
  std::optional<worker::UnpaidCancellation> unpaid_cancellation;
  std::optional<worker::BucketRebalance> rebalance;
  std::optional<worker::ArchiveRounds> archive_rounds;
  std::optional<worker::AbandonedReclaim> reclaim;
  std::optional<worker::SaleDrawer> drawer;
  std::optional<worker::Windows> windows;
};

// Whether this process runs windows: the worker role and an order database.
bool runs_windows(const Config& config, const Backends& backends);

}  // namespace flashgate::app
