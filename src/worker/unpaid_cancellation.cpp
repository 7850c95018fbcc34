#include "worker/unpaid_cancellation.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace flashgate::worker {

UnpaidCancellation::UnpaidCancellation(store::StockLedger& ledger, std::chrono::milliseconds payment_timeout)
    : ledger_(ledger), timeout_(payment_timeout) {}

std::chrono::milliseconds UnpaidCancellation::sweep_interval(std::chrono::milliseconds payment_timeout) {
  return std::clamp(payment_timeout / 4, std::chrono::milliseconds(50), std::chrono::milliseconds(1000));
}

std::size_t UnpaidCancellation::sweep(domain::TimeMs now) {
  const auto cancelled = ledger_.cancel_unpaid(now - timeout_.count());
  if (cancelled) spdlog::info("payment timeout: {} orders cancelled", cancelled);
  return cancelled;
}

void UnpaidCancellation::start() {
  thread_.emplace("fg-pay-timeouts", sweep_interval(timeout_), [this] { sweep(domain::now_ms()); });
}

void UnpaidCancellation::stop() {
  if (thread_) thread_->stop();
}

}  // namespace flashgate::worker
