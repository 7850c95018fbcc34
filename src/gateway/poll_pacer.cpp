#include "gateway/poll_pacer.hpp"

#include <algorithm>

namespace flashgate::gateway {

PollPacer::Shard& PollPacer::shard_of(const std::string& order_id, std::size_t& hash) {
  hash = std::hash<std::string>{}(order_id);
  return shards_[(hash >> 7) % shard_count];  // the map uses the low bits
}

std::int64_t PollPacer::hold_ms(const std::string& order_id, domain::TimeMs now) {
  std::size_t hash = 0;
  auto& shard = shard_of(order_id, hash);
  std::lock_guard lock(shard.mutex);
  auto it = shard.last.find(order_id);
  if (it == shard.last.end()) return 0;
  const auto earliest = it->second.at + it->second.hint_ms / 2;
  return std::clamp<std::int64_t>(earliest - now, 0, max_hold_ms);
}

void PollPacer::answered(const std::string& order_id, domain::TimeMs now, std::int64_t poll_after_ms) {
  std::size_t hash = 0;
  auto& shard = shard_of(order_id, hash);
  std::lock_guard lock(shard.mutex);
  auto& last = shard.last;
  if (last.size() >= max_orders_per_shard && !last.contains(order_id)) {
    // Forget answers older than any hint could reach; if that is not enough, forget all.
    std::erase_if(last, [now](const auto& kv) { return now - kv.second.at > 2 * max_hold_ms + 10'000; });
    if (last.size() >= max_orders_per_shard) last.clear();
  }
  last.insert_or_assign(order_id, Last{now, poll_after_ms});
}

}  // namespace flashgate::gateway
