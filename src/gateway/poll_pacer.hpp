#pragma once
// Remembers when each order was last polled and the hint it was given, so a
// client that polls faster than poll_after_ms is slowed (its answer waits)
// instead of being served blindly.
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "domain/time.hpp"

namespace flashgate::gateway {

class PollPacer {
 public:
  // How long this poll should be held back (0: answer now). A poll is early
  // when it comes before half of the last hint has passed.
  std::int64_t hold_ms(const std::string& order_id, domain::TimeMs now);
  // The hint the answer carries (final statuses carry none: nothing to wait for).
  void answered(const std::string& order_id, domain::TimeMs now, std::int64_t poll_after_ms);

  static constexpr std::int64_t max_hold_ms = 1000;

 private:
  static constexpr std::size_t max_orders = 200'000;
  struct Last {
    domain::TimeMs at;
    std::int64_t hint_ms;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Last> last_;
};

}  // namespace flashgate::gateway
