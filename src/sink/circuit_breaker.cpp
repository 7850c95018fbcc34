#include "sink/circuit_breaker.hpp"

namespace flashgate::sink {

CircuitBreaker::Permit CircuitBreaker::permit(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (!open_) return Permit::call;
  if (probe_out_ || now - opened_at_ < pause_) return Permit::none;
  probe_out_ = true;
  return Permit::probe;
}

CircuitBreaker::Change CircuitBreaker::record(Permit permit, bool available, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (permit == Permit::probe) probe_out_ = false;
  if (available) {
    unavailable_in_a_row_ = 0;
    const bool was_open = open_;
    open_ = false;
    return was_open ? Change::closed : Change::none;
  }
  ++unavailable_in_a_row_;
  if (open_) {
    // A failed probe starts another pause; a late answer of a call made
    // before the breaker opened changes nothing.
    if (permit == Permit::probe) opened_at_ = now;
    return Change::none;
  }
  if (unavailable_in_a_row_ < threshold_) return Change::none;
  open_ = true;
  opened_at_ = now;
  return Change::opened;
}

void CircuitBreaker::release(Permit permit) {
  std::lock_guard lock(mutex_);
  if (permit == Permit::probe) probe_out_ = false;
}

bool CircuitBreaker::open() const {
  std::lock_guard lock(mutex_);
  return open_;
}

}  // namespace flashgate::sink
