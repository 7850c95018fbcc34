#pragma once
// Where an order stands in line and when a polling client should ask again.
#include <cstdint>
#include <optional>

#include "domain/order.hpp"
#include "domain/time.hpp"

namespace flashgate::domain {

// 1 + orders of the sale accepted before this one that no window has started:
// O(1) from the sale's intake sequence and its count of started orders.
std::uint64_t queue_position(std::uint64_t order_seq, std::uint64_t sale_started);

// Starts per second as an exponentially decaying average (time constant tau):
// O(1) in memory and per event, no per-order bookkeeping.
class RateMeter {
 public:
  explicit RateMeter(double tau_seconds = 5.0) : tau_ms_(tau_seconds * 1000.0) {}
  void record(TimeMs now, double events = 1.0);
  double per_second(TimeMs now) const;

 private:
  double tau_ms_;
  double level_ = 0.0;
  TimeMs last_ = 0;
};

// A rate measured at `at`, as it stands at `now` with no event since (the
// same decay as RateMeter): for rates that arrive from another process.
double decayed_rate(double per_second_at, TimeMs at, TimeMs now, double tau_seconds = 5.0);

// How long a queued order at `position` should wait until a window starts
// it, at the sale's measured start rate: nullopt while no rate is measured
// (no window started an order of the sale lately). poll_after_ms asks a
// client back about halfway to it.
std::optional<std::int64_t> estimated_wait_ms(std::uint64_t position, double starts_per_second);

inline constexpr std::int64_t min_poll_after_ms = 250;
inline constexpr std::int64_t max_poll_after_ms = 10'000;

// Asks a queued client back about halfway to its expected turn, so that a
// crowd of pollers asks about as often as there is news.
std::int64_t poll_after_ms(OrderStatus status, std::uint64_t position, double starts_per_second,
                           std::int64_t service_time_ms);

}  // namespace flashgate::domain
