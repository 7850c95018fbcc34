#pragma once
// A token bucket: `rate` tokens a second, holding at most `burst`.
#include <algorithm>
#include <cstdint>

#include "domain/time.hpp"

namespace flashgate::domain {

class TokenBucket {
 public:
  TokenBucket(double rate, double burst, TimeMs now) : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

  // Takes one token if there is one; else says how long until there is.
  bool take(TimeMs now, std::int64_t& retry_after_ms) {
    refill(now);
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return true;
    }
    retry_after_ms = rate_ > 0 ? static_cast<std::int64_t>((1.0 - tokens_) / rate_ * 1000.0) + 1 : 1000;
    return false;
  }
  bool full(TimeMs now) const {
    return now <= last_ ? tokens_ >= burst_ : tokens_ + static_cast<double>(now - last_) * rate_ / 1000.0 >= burst_;
  }

 private:
  void refill(TimeMs now) {
    if (now > last_) tokens_ = std::min(burst_, tokens_ + static_cast<double>(now - last_) * rate_ / 1000.0);
    last_ = std::max(last_, now);
  }
  double rate_, burst_, tokens_;
  TimeMs last_;
};

}  // namespace flashgate::domain
