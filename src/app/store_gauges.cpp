#include "app/store_gauges.hpp"

#include <future>

namespace flashgate::app {
namespace {

enum class SaleValue { orders, remaining, queue_tail };

metrics::Registry::LabelledValues sale_values(const StoreGauges::Snapshot& snapshot, SaleValue which) {
  metrics::Registry::LabelledValues values;
  for (const auto& view : snapshot.sales) {
    const std::string label = "sale=\"" + metrics::label_value(view.sale.sale_id) + "\"";
    if (which == SaleValue::remaining) values.emplace_back(label, static_cast<double>(view.remaining));
    if (which == SaleValue::queue_tail) values.emplace_back(label, static_cast<double>(view.queue_depth));
    if (which == SaleValue::orders)
      for (auto status : domain::all_statuses)
        values.emplace_back(label + ",status=\"" + std::string(domain::to_string(status)) + "\"",
                            static_cast<double>(view.counts[static_cast<std::size_t>(status)]));
  }
  return values;
}

}  // namespace

StoreGauges::StoreGauges(store::OrderDesk& desk, store::StockLedger& ledger, metrics::Registry& metrics,
                         bool read_at_scrape, std::function<std::uint64_t()> outcome_backlog)
    : desk_(desk),
      ledger_(ledger), read_at_scrape_(read_at_scrape), outcome_backlog_(std::move(outcome_backlog)) {
  metrics.gauge("flashgate_queue_depth", "Orders waiting for a window",
                [this] {
                  return static_cast<double>(read_at_scrape_ ? ledger_.queue_depth() : current().queue_depth);
                });
  metrics.gauges("flashgate_sale_orders", "Orders of each sale by status",
                 [this] { return sale_values(current(), SaleValue::orders); });
  metrics.gauges("flashgate_sale_remaining", "Remaining stock of each sale",
                 [this] { return sale_values(current(), SaleValue::remaining); });
  metrics.gauges("flashgate_sale_queue_tail", "Position of the last order in line, per sale",
                 [this] { return sale_values(current(), SaleValue::queue_tail); });
  if (outcome_backlog_)
    metrics.gauge("flashgate_outcomes_unwritten",
                  "Final outcomes waiting in Redis for a worker to write them to PostgreSQL",
                  [this] { return static_cast<double>(current().outcome_backlog); });
  if (!read_at_scrape_)
    refresher_.emplace("fg-store-gauges", std::chrono::seconds(1), [this] {
      auto fresh = gather();
      std::lock_guard lock(mutex_);
      last_ = std::move(fresh);
    });
}

StoreGauges::~StoreGauges() { stop(); }

void StoreGauges::stop() {
  if (refresher_) refresher_->stop();
}

void StoreGauges::forget_sale(const std::string& sale_id) {
  std::lock_guard lock(mutex_);
  std::erase_if(last_.sales, [&sale_id](const store::SaleView& view) { return view.sale.sale_id == sale_id; });
}

StoreGauges::Snapshot StoreGauges::current() {
  if (read_at_scrape_) return gather();
  std::lock_guard lock(mutex_);
  return last_;
}

// Blocking: on the timer's thread, or at a scrape of a store that answers at once.
StoreGauges::Snapshot StoreGauges::gather() {
  Snapshot snapshot;
  snapshot.queue_depth = ledger_.queue_depth();
  if (outcome_backlog_) snapshot.outcome_backlog = outcome_backlog_();
  for (const auto& sale : ledger_.sales()) {
    // Shared: a late answer after the wait gave up must still have somewhere to go.
    auto answer = std::make_shared<std::promise<std::optional<store::SaleView>>>();
    auto future = answer->get_future();
    desk_.get_sale(sale.sale_id, [answer](domain::Result<store::SaleView> view) {
      answer->set_value(view ? std::optional(view.value()) : std::nullopt);
    });
    if (future.wait_for(std::chrono::seconds(1)) != std::future_status::ready) continue;
    if (auto view = future.get()) snapshot.sales.push_back(std::move(*view));
  }
  return snapshot;
}

}  // namespace flashgate::app
