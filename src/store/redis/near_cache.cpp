#include "store/redis/near_cache.hpp"

#include <algorithm>
#include <functional>

namespace flashgate::store::redis {

NearCache::NearCache(std::size_t capacity)
    : shard_count_(std::clamp<std::size_t>(capacity / min_orders_per_shard, 1, max_shards)),
      shards_(std::make_unique<Shard[]>(shard_count_)) {
  // The shards' capacities add up to the whole.
  for (std::size_t i = 0; i < shard_count_; ++i)
    shards_[i].capacity = capacity / shard_count_ + (i < capacity % shard_count_ ? 1 : 0);
}

namespace {
std::string bucket_key(const std::string& sale_id, std::int64_t bucket) { return sale_id + "#" + std::to_string(bucket); }
}  // namespace

NearCache::Shard& NearCache::shard_of(const std::string& order_id) {
  return shards_[std::hash<std::string>{}(order_id) % shard_count_];
}

bool NearCache::update(const domain::Order& order, const SaleProgress& progress) {
  {
    std::unique_lock lock(sales_mutex_);
    auto& sale = order.bucket == 0 ? sales_[order.sale_id] : sales_[bucket_key(order.sale_id, order.bucket)];
    if (progress.started >= sale.started) sale.started = progress.started;
    if (progress.draw_at) sale.draw_at = progress.draw_at;
    if (progress.rate_at >= sale.rate_at) {
      sale.rate = progress.rate;
      sale.rate_at = progress.rate_at;
      sale.rate_since = progress.rate_since;
    }
  }
  Shard& shard = shard_of(order.order_id);
  std::lock_guard lock(shard.mutex);
  if (auto it = shard.orders.find(order.order_id); it != shard.orders.end()) {
    Entry& entry = it->second;
    shard.lru.splice(shard.lru.begin(), shard.lru, entry.lru);
    if (entry.order.version > order.version) return false;
    entry.order = order;
    return true;
  }
  shard.lru.push_front(order.order_id);
  shard.orders.try_emplace(order.order_id, Entry{order, shard.lru.begin()});
  while (shard.orders.size() > shard.capacity) {
    shard.orders.erase(shard.lru.back());
    shard.lru.pop_back();
  }
  return true;
}

std::optional<domain::Order> NearCache::find(const std::string& order_id) {
  Shard& shard = shard_of(order_id);
  std::lock_guard lock(shard.mutex);
  auto it = shard.orders.find(order_id);
  if (it == shard.orders.end()) {
    ++shard.misses;
    return std::nullopt;
  }
  ++shard.hits;
  shard.lru.splice(shard.lru.begin(), shard.lru, it->second.lru);
  return it->second.order;
}

std::size_t NearCache::forget_prefix(std::string_view prefix) {
  std::size_t forgotten = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    Shard& shard = shards_[i];
    std::lock_guard lock(shard.mutex);
    for (auto it = shard.orders.begin(); it != shard.orders.end();) {
      if (std::string_view(it->first).substr(0, prefix.size()) != prefix) {
        ++it;
        continue;
      }
      shard.lru.erase(it->second.lru);
      it = shard.orders.erase(it);
      ++forgotten;
    }
  }
  return forgotten;
}

std::size_t NearCache::forget_sale(const std::string& sale_id) {
  {
    std::unique_lock lock(sales_mutex_);
    sales_.erase(sale_id);
    const auto bucket_prefix = sale_id + "#";
    std::erase_if(sales_, [&](const auto& entry) { return entry.first.starts_with(bucket_prefix); });
  }
  std::size_t forgotten = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    Shard& shard = shards_[i];
    std::lock_guard lock(shard.mutex);
    for (auto it = shard.orders.begin(); it != shard.orders.end();) {
      if (it->second.order.sale_id != sale_id) {
        ++it;
        continue;
      }
      shard.lru.erase(it->second.lru);
      it = shard.orders.erase(it);
      ++forgotten;
    }
  }
  return forgotten;
}

SaleProgress NearCache::progress(const std::string& sale_id, std::int64_t bucket) const {
  std::shared_lock lock(sales_mutex_);
  auto it = bucket == 0 ? sales_.find(sale_id) : sales_.find(bucket_key(sale_id, bucket));
  return it == sales_.end() ? SaleProgress{} : it->second;
}

std::uint64_t NearCache::sum_over_shards(std::uint64_t (*part)(const Shard&)) const {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += part(shards_[i]);
  }
  return total;
}

std::uint64_t NearCache::hits() const {
  return sum_over_shards([](const Shard& s) { return s.hits; });
}

std::uint64_t NearCache::misses() const {
  return sum_over_shards([](const Shard& s) { return s.misses; });
}

std::size_t NearCache::size() const {
  return sum_over_shards([](const Shard& s) { return static_cast<std::uint64_t>(s.orders.size()); });
}

}  // namespace flashgate::store::redis
