#include "worker/stock_flush.hpp"

namespace flashgate::worker {

StockFlush::StockFlush(store::Store& store, database::OrderDatabase& database, std::chrono::milliseconds interval)
    : store_(store), database_(database), interval_(interval) {}

bool StockFlush::flush() {
  for (const auto& sale : store_.sales())
    if (!recorded_.contains(sale.sale_id) && database_.record_sale(sale)) recorded_.insert(sale.sale_id);
  auto remaining = store_.remaining_by_sale();
  if (remaining.empty() || !database_.flush_stock(remaining)) return false;
  for (const auto& [sale_id, value] : remaining) store_.set_remaining_db(sale_id, value);
  return true;
}

void StockFlush::start() {
  thread_.emplace("fg-stock-flush", interval_, [this] { flush(); }, /*run_on_stop=*/true);
}

void StockFlush::stop() {
  if (thread_) thread_->stop();
}

}  // namespace flashgate::worker
