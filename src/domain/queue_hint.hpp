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

// Starts per second as an exponentially decaying average (time constant tau),
// corrected for its start-up: O(1) in memory and per event, no per-order
// bookkeeping. A plain decaying average starts from zero, so for the first
// few tau of a run of starts it reads far too low (a sale's first second
// read as a fifth of its pace, a wait estimated five times too long). The
// average is divided by the weight its window has had so far,
// 1 - exp(-span/tau), where span is the time since the run's first start (a
// run starts over after an idle spell of rate_idle_reset_taus), and that
// first start counts as the run's beginning, not as a start within it. The
// span is read as at least min_rate_span_ms: a run's first starts (one per
// window, all at once) say nothing yet of the pace, and the correction must
// not turn them into an unbounded rate. A run of a single start reads 0 (no
// pace measured yet).
// The time constant of a sale's start rate in every store: long enough to
// ride out a slow order or two, short enough to follow a sale that speeds up.
inline constexpr double rate_tau_seconds = 5.0;

class RateMeter {
 public:
  explicit RateMeter(double tau_seconds = rate_tau_seconds) : tau_ms_(tau_seconds * 1000.0) {}
  void record(TimeMs now, double events = 1.0);
  double per_second(TimeMs now) const;

 private:
  double tau_ms_;
  double level_ = 0.0;  // decayed count of events, at last_
  TimeMs last_ = 0;
  TimeMs since_ = 0;  // the run's first event
};

inline constexpr TimeMs min_rate_span_ms = 250;
inline constexpr double rate_idle_reset_taus = 3.0;  // the old run weighs under 5% by then

// The corrected rate (as RateMeter::per_second) from a raw decaying average
// measured at `at` and its run's first event `since`, with no event since:
// for rates kept by another process (the Redis store's claim script keeps
// the raw rate, its time and the run's start). since <= 0 (not known): the
// raw rate, uncorrected.
double measured_rate(double raw_per_second_at, TimeMs at, TimeMs since, TimeMs now,
                    double tau_seconds = rate_tau_seconds);

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
