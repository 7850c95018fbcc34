#include "sink/circuit_breaker.hpp"

#include <gtest/gtest.h>

namespace {

using flashgate::sink::CircuitBreaker;
using Permit = CircuitBreaker::Permit;
using Change = CircuitBreaker::Change;
using namespace std::chrono_literals;

TEST(CircuitBreaker, OpensAfterThresholdUnavailableInARow) {
  CircuitBreaker breaker(3, 1000ms);
  const auto t = CircuitBreaker::Clock::now();
  EXPECT_EQ(breaker.record(Permit::call, false, t), Change::none);
  EXPECT_EQ(breaker.record(Permit::call, false, t), Change::none);
  EXPECT_EQ(breaker.record(Permit::call, true, t), Change::none);  // an answer resets the count
  EXPECT_EQ(breaker.record(Permit::call, false, t), Change::none);
  EXPECT_EQ(breaker.record(Permit::call, false, t), Change::none);
  EXPECT_EQ(breaker.permit(t), Permit::call);
  EXPECT_EQ(breaker.record(Permit::call, false, t), Change::opened);
  EXPECT_TRUE(breaker.open());
  EXPECT_EQ(breaker.permit(t), Permit::none);
  EXPECT_EQ(breaker.permit(t + 999ms), Permit::none);
  // A late failure of a call made before it opened neither logs again nor restarts the pause.
  EXPECT_EQ(breaker.record(Permit::call, false, t + 10ms), Change::none);
  EXPECT_EQ(breaker.permit(t + 999ms), Permit::none);
}

TEST(CircuitBreaker, OneProbeAtATimeAfterThePause) {
  CircuitBreaker breaker(1, 1000ms);
  const auto t = CircuitBreaker::Clock::now();
  EXPECT_EQ(breaker.record(Permit::call, false, t), Change::opened);
  EXPECT_EQ(breaker.permit(t + 1000ms), Permit::probe);
  EXPECT_EQ(breaker.permit(t + 1001ms), Permit::none);  // the probe is out
  // The probe fails: another pause from its answer.
  EXPECT_EQ(breaker.record(Permit::probe, false, t + 1500ms), Change::none);
  EXPECT_EQ(breaker.permit(t + 2000ms), Permit::none);
  EXPECT_EQ(breaker.permit(t + 2500ms), Permit::probe);
  // An unused probe goes back.
  breaker.release(Permit::probe);
  EXPECT_EQ(breaker.permit(t + 2501ms), Permit::probe);
  // The probe answers: closed, everyone calls again.
  EXPECT_EQ(breaker.record(Permit::probe, true, t + 2600ms), Change::closed);
  EXPECT_FALSE(breaker.open());
  EXPECT_EQ(breaker.permit(t + 2600ms), Permit::call);
  EXPECT_EQ(breaker.permit(t + 2600ms), Permit::call);
}

}  // namespace
