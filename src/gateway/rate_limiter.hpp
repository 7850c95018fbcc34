#pragma once
// Token buckets per client address, for one kind of request. Idle buckets
// are dropped so that the table stays bounded.
#include <mutex>
#include <string>
#include <unordered_map>

#include "domain/token_bucket.hpp"

namespace flashgate::gateway {

class RateLimiter {
 public:
  // rate 0: unlimited.
  RateLimiter(double rate_per_second, double burst) : rate_(rate_per_second), burst_(burst) {}
  // true if allowed; else retry_after_s says when to come back.
  bool allow(const std::string& client, std::int64_t& retry_after_s);

 private:
  static constexpr std::size_t max_clients = 100'000;
  double rate_, burst_;
  std::mutex mutex_;
  std::unordered_map<std::string, domain::TokenBucket> buckets_;
};

}  // namespace flashgate::gateway
