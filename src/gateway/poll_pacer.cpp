#include "gateway/poll_pacer.hpp"

#include <algorithm>

namespace flashgate::gateway {

std::int64_t PollPacer::hold_ms(const std::string& order_id, domain::TimeMs now) {
  std::lock_guard lock(mutex_);
  auto it = last_.find(order_id);
  if (it == last_.end()) return 0;
  const auto earliest = it->second.at + it->second.hint_ms / 2;
  return std::clamp<std::int64_t>(earliest - now, 0, max_hold_ms);
}

void PollPacer::answered(const std::string& order_id, domain::TimeMs now, std::int64_t poll_after_ms) {
  std::lock_guard lock(mutex_);
  if (last_.size() >= max_orders) {
    // Forget answers older than any hint could reach; if that is not enough, forget all.
    std::erase_if(last_, [now](const auto& kv) { return now - kv.second.at > 2 * max_hold_ms + 10'000; });
    if (last_.size() >= max_orders) last_.clear();
  }
  last_[order_id] = Last{now, poll_after_ms};
}

}  // namespace flashgate::gateway
