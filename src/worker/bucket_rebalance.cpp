#include "worker/bucket_rebalance.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace flashgate::worker {

std::int64_t BucketRebalance::round() {
  const auto moved = ledger_.rebalance_buckets();
  if (moved) spdlog::debug("rebalancer: {} units moved between buckets", moved);
  return moved;
}

void BucketRebalance::start() {
  thread_.emplace("fg-rebalance", period, [this] {
    try {
      round();
    } catch (const std::exception& e) {
      spdlog::warn("rebalancer: {}", e.what());
    }
  });
}

void BucketRebalance::stop() {
  if (thread_) thread_->stop();
}

}  // namespace flashgate::worker
