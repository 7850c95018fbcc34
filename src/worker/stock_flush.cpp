#include "worker/stock_flush.hpp"

namespace flashgate::worker {

StockFlush::StockFlush(store::StockLedger& ledger, database::OrderDatabase& database,
                       std::chrono::milliseconds interval)
    : ledger_(ledger), database_(database), interval_(interval) {}

bool StockFlush::flush() {
  for (const auto& sale : ledger_.sales())
    if (!recorded_.contains(sale.sale_id) && database_.record_sale(sale)) recorded_.insert(sale.sale_id);
  auto remaining = ledger_.remaining_by_sale();
  if (remaining.empty() || !database_.flush_stock(remaining)) return false;
  for (const auto& [sale_id, value] : remaining) ledger_.set_remaining_db(sale_id, value);
  return true;
}

void StockFlush::start() {
  thread_.emplace("fg-stock-flush", interval_, [this] { flush(); }, /*run_on_stop=*/true);
}

void StockFlush::stop() {
  if (thread_) thread_->stop();
}

}  // namespace flashgate::worker
