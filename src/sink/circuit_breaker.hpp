#pragma once
// Stops the windows from hammering a shop that is down: after `threshold`
// unavailable answers in a row nobody calls for `pause`; then exactly one call
// (the probe) goes out, and its answer closes the breaker or opens it again.
// The clock is passed in, so the logic is tested without waiting.
#include <chrono>
#include <cstdint>
#include <mutex>

namespace flashgate::sink {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Permit { none, call, probe };
  // What record() changed, for the one log line per change.
  enum class Change { none, opened, closed };

  CircuitBreaker(int threshold, std::chrono::milliseconds pause) : threshold_(threshold), pause_(pause) {}

  // May a call go out now? A probe permit is given to one caller at a time
  // and must come back through record() or release().
  Permit permit(Clock::time_point now);
  Change record(Permit permit, bool available, Clock::time_point now);
  // A permit that was not used (e.g. nothing to claim).
  void release(Permit permit);
  bool open() const;

 private:
  const int threshold_;
  const std::chrono::milliseconds pause_;
  mutable std::mutex mutex_;
  int unavailable_in_a_row_ = 0;
  bool open_ = false;
  bool probe_out_ = false;
  Clock::time_point opened_at_{};
};

}  // namespace flashgate::sink
