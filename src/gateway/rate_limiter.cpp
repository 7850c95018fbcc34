#include "gateway/rate_limiter.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>

namespace flashgate::gateway {

std::string_view rate_limit_key(std::string_view address, std::string& storage) {
  if (address.find(':') == std::string_view::npos) return address;  // IPv4 (or no address): as it is
  const std::string_view without_zone = address.substr(0, address.find('%'));
  if (without_zone.size() >= INET6_ADDRSTRLEN) return address;
  char text[INET6_ADDRSTRLEN] = {};
  without_zone.copy(text, without_zone.size());
  std::array<std::uint8_t, 16> bytes{};
  if (inet_pton(AF_INET6, text, bytes.data()) != 1) return address;
  const bool v4_mapped = std::all_of(bytes.begin(), bytes.begin() + 10, [](auto b) { return b == 0; }) &&
                         bytes[10] == 0xff && bytes[11] == 0xff;
  char key[48];
  const int n = v4_mapped ? std::snprintf(key, sizeof key, "%u.%u.%u.%u", bytes[12], bytes[13], bytes[14], bytes[15])
                          : std::snprintf(key, sizeof key, "%x:%x:%x:%x::/64", bytes[0] << 8 | bytes[1],
                                          bytes[2] << 8 | bytes[3], bytes[4] << 8 | bytes[5], bytes[6] << 8 | bytes[7]);
  storage.assign(key, static_cast<std::size_t>(n));
  return storage;
}

bool RateLimiter::allow(const std::string& client, std::int64_t& retry_after_s) {
  if (rate_ <= 0) return true;
  std::string storage;
  // A buyer named "fe80::1" is that buyer, not a /64.
  const std::string_view key = keys_ == Keys::names ? std::string_view(client) : rate_limit_key(client, storage);
  const auto now = domain::now_ms();
  std::lock_guard lock(mutex_);
  auto found = index_.find(key);
  Recency::iterator entry;
  if (found != index_.end()) {
    entry = found->second;
    recency_.splice(recency_.begin(), recency_, entry);  // O(1): no allocation, iterators stay valid
  } else {
    if (index_.size() >= max_clients_) {
      index_.erase(recency_.back().first);
      recency_.pop_back();
    }
    recency_.emplace_front(std::string(key), domain::TokenBucket(rate_, burst_, now));
    entry = recency_.begin();
    index_.emplace(entry->first, entry);
  }
  std::int64_t retry_ms = 0;
  if (entry->second.take(now, retry_ms)) return true;
  retry_after_s = std::max<std::int64_t>(1, (retry_ms + 999) / 1000);
  return false;
}

}  // namespace flashgate::gateway
