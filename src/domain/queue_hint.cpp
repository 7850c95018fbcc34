#include "domain/queue_hint.hpp"

#include <algorithm>
#include <cmath>

namespace flashgate::domain {

std::uint64_t queue_position(std::uint64_t order_seq, std::uint64_t sale_started) {
  return order_seq > sale_started ? order_seq - sale_started : 1;
}

void RateMeter::record(TimeMs now, double events) {
  const double idle = static_cast<double>(std::max<TimeMs>(0, now - last_));
  if (level_ == 0.0 || idle >= rate_idle_reset_taus * tau_ms_) {
    level_ = 0.0;
    since_ = now;
  }
  level_ = level_ * std::exp(-idle / tau_ms_) + events;
  last_ = now;
}

double RateMeter::per_second(TimeMs now) const {
  return measured_rate(level_ * 1000.0 / tau_ms_, last_, since_, now, tau_ms_ / 1000.0);
}

double measured_rate(double raw_per_second_at, TimeMs at, TimeMs since, TimeMs now, double tau_seconds) {
  if (raw_per_second_at <= 0.0) return 0.0;
  const double tau_ms = tau_seconds * 1000.0;
  const auto decay_to_now = [&](TimeMs from) {
    return std::exp(-static_cast<double>(std::max<TimeMs>(0, now - from)) / tau_ms);
  };
  const double raw = raw_per_second_at * decay_to_now(at);
  if (since <= 0) return raw;
  // The run's first start is where its measurement begins, not a start
  // within it (n starts span n - 1 gaps): counted, one window's pace read a
  // start per span too fast (the demo page said 3 s for 5).
  const double counted = std::max(0.0, raw - (1000.0 / tau_ms) * decay_to_now(since));
  const double span = static_cast<double>(std::max(now - since, min_rate_span_ms));
  return counted / (1.0 - std::exp(-span / tau_ms));
}

std::optional<std::int64_t> estimated_wait_ms(std::uint64_t position, double starts_per_second) {
  if (starts_per_second < 0.01) return std::nullopt;
  // Bounded (a day) so that no rate, however small, overflows the conversion.
  constexpr double longest_ms = 86'400'000.0;
  return static_cast<std::int64_t>(std::min(static_cast<double>(position) / starts_per_second * 1000.0, longest_ms));
}

std::int64_t poll_after_ms(OrderStatus status, std::uint64_t position, double starts_per_second,
                           std::int64_t service_time_ms) {
  switch (status) {
    case OrderStatus::queued: {
      const auto eta_ms = estimated_wait_ms(position, starts_per_second);
      if (!eta_ms) return 1000;
      return std::clamp(*eta_ms / 2, min_poll_after_ms, max_poll_after_ms);
    }
    case OrderStatus::processing:
      return std::clamp(service_time_ms, min_poll_after_ms, std::int64_t{2000});
    case OrderStatus::confirmed:
      return 2000;  // waiting for the buyer to pay: news comes at human speed
    default:
      return max_poll_after_ms;  // final: nothing more will happen
  }
}

}  // namespace flashgate::domain
