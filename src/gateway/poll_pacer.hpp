#pragma once
// Remembers when each order was last polled and the hint it was given, so a
// client that polls faster than poll_after_ms is slowed (its answer waits)
// instead of being served blindly.
//
// A direct-mapped table of order-id hashes: one cache line per poll, no
// allocation, no clean-up pass. Two orders that share a slot make the older
// one forgotten, which only means its next early poll is answered at once:
// pacing is a courtesy to the server, never a refusal.
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include "domain/time.hpp"

namespace flashgate::gateway {

class PollPacer {
 public:
  PollPacer();
  // How long this poll should be held back (0: answer now). A poll is early
  // when it comes before half of the last hint has passed.
  std::int64_t hold_ms(std::string_view order_id, domain::TimeMs now);
  // The hint the answer carries (final statuses carry none: nothing to wait for).
  void answered(std::string_view order_id, domain::TimeMs now, std::int64_t poll_after_ms);

  static constexpr std::int64_t max_hold_ms = 1000;
  static constexpr std::size_t slot_count = std::size_t{1} << 18;

 private:
  struct Slot {
    std::uint64_t key;  // the order id's hash; 0: empty
    domain::TimeMs at;
    std::int64_t hint_ms;
  };
  struct FreeSlots {
    void operator()(Slot* slots) const;
  };
  // Slots are spread over the locks, so the I/O threads rarely wait for one another.
  static constexpr std::size_t lock_count = 64;
  struct alignas(64) Lock {
    std::mutex mutex;
  };

  // Zeroed pages from calloc: memory is only used as orders are polled.
  std::unique_ptr<Slot[], FreeSlots> slots_;
  std::array<Lock, lock_count> locks_;
};

}  // namespace flashgate::gateway
