#include "gateway/rate_limiter.hpp"

namespace flashgate::gateway {

bool RateLimiter::allow(const std::string& client, std::int64_t& retry_after_s) {
  if (rate_ <= 0) return true;
  const auto now = domain::now_ms();
  std::lock_guard lock(mutex_);
  if (buckets_.size() >= max_clients) {
    std::erase_if(buckets_, [now](auto& kv) { return kv.second.full(now); });
    if (buckets_.size() >= max_clients) buckets_.clear();  // fail open rather than grow without bound
  }
  auto it = buckets_.try_emplace(client, rate_, burst_, now).first;
  std::int64_t retry_ms = 0;
  if (it->second.take(now, retry_ms)) return true;
  retry_after_s = std::max<std::int64_t>(1, (retry_ms + 999) / 1000);
  return false;
}

}  // namespace flashgate::gateway
