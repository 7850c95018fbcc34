#pragma once
// Token buckets per client, for one kind of request. The table is bounded:
// at capacity the least recently seen client's bucket goes, so a flood of
// new addresses forgets the flood, not the clients that keep coming.
// A client is an IPv4 address, or an IPv6 /64 (one subscriber's network:
// per address, one host could take 2^64 buckets).
#include <algorithm>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "domain/token_bucket.hpp"

namespace flashgate::gateway {

class RateLimiter {
 public:
  static constexpr std::size_t default_max_clients = 100'000;

  enum class Keys { addresses, names };  // names: verified buyers, taken as they are

  // rate 0: unlimited.
  RateLimiter(double rate_per_second, double burst, std::size_t max_clients = default_max_clients,
              Keys keys = Keys::addresses)
      : rate_(rate_per_second), burst_(burst), max_clients_(std::max<std::size_t>(1, max_clients)), keys_(keys) {}
  // `client`: an address as text. true if allowed; else retry_after_s says when to come back.
  bool allow(const std::string& client, std::int64_t& retry_after_s);

 private:
  // Most recently seen first; the index's keys view the list's strings (list nodes do not move).
  using Recency = std::list<std::pair<std::string, domain::TokenBucket>>;

  double rate_, burst_;
  std::size_t max_clients_;
  Keys keys_;
  std::mutex mutex_;
  Recency recency_;
  std::unordered_map<std::string_view, Recency::iterator> index_;
};

// The key a client's requests share: an IPv4 address as given, the /64 of an
// IPv6 one ("2001:db8:1:2::/64"), an IPv4-mapped IPv6 address as IPv4.
// Anything else is its own key. Writes into `storage` only if it rewrites.
std::string_view rate_limit_key(std::string_view address, std::string& storage);

}  // namespace flashgate::gateway
