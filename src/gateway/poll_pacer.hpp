#pragma once
// Remembers when each order was last polled and the hint it was given, so a
// client that polls faster than poll_after_ms is slowed (its answer waits)
// instead of being served blindly.
#include <array>
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
  // Shards, so that the I/O threads rarely wait for one another, and a
  // full shard's clean-up walks a sixteenth of the orders.
  static constexpr std::size_t shard_count = 16;
  static constexpr std::size_t max_orders_per_shard = 200'000 / shard_count;
  struct Last {
    domain::TimeMs at;
    std::int64_t hint_ms;
  };
  struct alignas(64) Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Last> last;
  };
  Shard& shard_of(const std::string& order_id, std::size_t& hash);
  std::array<Shard, shard_count> shards_;
};

}  // namespace flashgate::gateway
