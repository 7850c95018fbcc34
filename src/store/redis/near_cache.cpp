#include "store/redis/near_cache.hpp"

namespace flashgate::store::redis {

bool NearCache::update(const domain::Order& order, const SaleProgress& progress) {
  std::lock_guard lock(mutex_);
  auto& sale = sales_[order.sale_id];
  if (progress.started >= sale.started) sale.started = progress.started;
  if (progress.rate_at >= sale.rate_at) {
    sale.rate = progress.rate;
    sale.rate_at = progress.rate_at;
  }
  if (auto* entry = orders_.find(order.order_id)) {
    lru_.splice(lru_.begin(), lru_, entry->lru);
    if (entry->order.version > order.version) return false;
    entry->order = order;
    return true;
  }
  lru_.push_front(order.order_id);
  orders_.try_emplace(order.order_id, Entry{order, lru_.begin()});
  while (orders_.size() > capacity_) {
    orders_.erase(lru_.back());
    lru_.pop_back();
  }
  return true;
}

std::optional<domain::Order> NearCache::find(const std::string& order_id) {
  std::lock_guard lock(mutex_);
  auto* entry = orders_.find(order_id);
  if (!entry) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, entry->lru);
  return entry->order;
}

SaleProgress NearCache::progress(const std::string& sale_id) {
  std::lock_guard lock(mutex_);
  auto it = sales_.find(sale_id);
  return it == sales_.end() ? SaleProgress{} : it->second;
}

std::size_t NearCache::size() const {
  std::lock_guard lock(mutex_);
  return orders_.size();
}

}  // namespace flashgate::store::redis
