#include "domain/queue_hint.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

namespace {

using flashgate::domain::estimated_wait_ms;
using flashgate::domain::max_poll_after_ms;
using flashgate::domain::min_poll_after_ms;
using flashgate::domain::OrderStatus;
using flashgate::domain::poll_after_ms;
using flashgate::domain::queue_position;
using flashgate::domain::RateMeter;
using flashgate::domain::TimeMs;

constexpr TimeMs t0 = 1'800'000'000'000;

// --- queue_position ---

TEST(QueuePosition, FirstOrderOfAnUnstartedSaleIsFirst) { EXPECT_EQ(queue_position(1, 0), 1u); }

TEST(QueuePosition, IsSequenceMinusStarted) {
  EXPECT_EQ(queue_position(5, 0), 5u);
  EXPECT_EQ(queue_position(5, 2), 3u);
  EXPECT_EQ(queue_position(1000, 999), 1u);
}

TEST(QueuePosition, MovesForwardAsWindowsStartOrders) {
  for (std::uint64_t started = 0; started < 10; ++started) EXPECT_EQ(queue_position(10, started), 10 - started);
}

TEST(QueuePosition, IsAtLeastOne) {
  EXPECT_EQ(queue_position(3, 3), 1u);
  EXPECT_EQ(queue_position(3, 10), 1u);
  EXPECT_EQ(queue_position(0, 0), 1u);
}

// --- RateMeter ---

TEST(RateMeter, NoEventsMeansZero) {
  const RateMeter meter;
  EXPECT_EQ(meter.per_second(0), 0.0);
  EXPECT_EQ(meter.per_second(t0), 0.0);
}

TEST(RateMeter, SteadyTenPerSecondConvergesNearTen) {
  RateMeter meter(5.0);
  TimeMs now = t0;
  for (int i = 0; i < 600; ++i, now += 100) meter.record(now);  // 60 s at 10/s
  const double rate = meter.per_second(now - 100);
  EXPECT_GT(rate, 9.0);
  EXPECT_LT(rate, 11.0);
  EXPECT_NEAR(meter.per_second(now - 50), 10.0, 1.0);  // between two events
}

TEST(RateMeter, SteadyHundredPerSecondConvergesNearHundred) {
  RateMeter meter(2.0);
  TimeMs now = t0;
  for (int i = 0; i < 3000; ++i, now += 10) meter.record(now);
  EXPECT_NEAR(meter.per_second(now), 100.0, 10.0);
}

TEST(RateMeter, BatchedEventsCountAsSeveral) {
  RateMeter single(5.0), batched(5.0);
  TimeMs now = t0;
  for (int i = 0; i < 300; ++i, now += 200) {
    single.record(now);
    single.record(now);
    batched.record(now, 2.0);
  }
  EXPECT_NEAR(batched.per_second(now), single.per_second(now), 1e-9);
  EXPECT_NEAR(batched.per_second(now), 10.0, 1.0);
}

TEST(RateMeter, DecaysAfterSilence) {
  RateMeter meter(5.0);
  TimeMs now = t0;
  for (int i = 0; i < 600; ++i, now += 100) meter.record(now);
  const double busy = meter.per_second(now);
  const double after_5s = meter.per_second(now + 5'000);
  const double after_60s = meter.per_second(now + 60'000);
  EXPECT_LT(after_5s, busy);
  EXPECT_LT(after_60s, after_5s);
  EXPECT_LT(after_60s, 0.01);
  EXPECT_GE(after_60s, 0.0);
}

TEST(RateMeter, NewEventsAfterSilenceRaiseItAgain) {
  RateMeter meter(1.0);
  meter.record(t0);
  const double quiet = meter.per_second(t0 + 30'000);
  TimeMs now = t0 + 30'000;
  for (int i = 0; i < 100; ++i, now += 50) meter.record(now);
  EXPECT_GT(meter.per_second(now), quiet);
  EXPECT_NEAR(meter.per_second(now), 20.0, 2.0);
}

TEST(RateMeter, ReadingDoesNotChangeIt) {
  RateMeter meter;
  meter.record(t0);
  const double first = meter.per_second(t0 + 1000);
  EXPECT_EQ(meter.per_second(t0 + 1000), first);
  (void)meter.per_second(t0 + 100'000);
  EXPECT_EQ(meter.per_second(t0 + 1000), first);
}

TEST(RateMeter, ClockGoingBackDoesNotInflateIt) {
  RateMeter meter(5.0);
  meter.record(t0);
  EXPECT_LE(meter.per_second(t0 - 10'000), meter.per_second(t0) + 1e-12);
}

// --- poll_after_ms ---

TEST(PollAfter, QueuedStaysWithinBounds) {
  for (double rate : {0.02, 0.5, 1.0, 10.0, 100.0, 10'000.0, 1e9})
    for (std::uint64_t position : {1ull, 2ull, 10ull, 100ull, 10'000ull, 1'000'000'000ull}) {
      const auto ms = poll_after_ms(OrderStatus::queued, position, rate, 0);
      EXPECT_GE(ms, min_poll_after_ms) << "rate " << rate << " position " << position;
      EXPECT_LE(ms, max_poll_after_ms) << "rate " << rate << " position " << position;
    }
  EXPECT_EQ(min_poll_after_ms, 250);
  EXPECT_EQ(max_poll_after_ms, 10'000);
}

TEST(PollAfter, QueuedGrowsWithPositionForAFixedRate) {
  const double rate = 10.0;
  std::int64_t previous = 0;
  for (std::uint64_t position = 1; position <= 1000; ++position) {
    const auto ms = poll_after_ms(OrderStatus::queued, position, rate, 0);
    EXPECT_GE(ms, previous) << "position " << position;
    previous = ms;
  }
  EXPECT_LT(poll_after_ms(OrderStatus::queued, 10, rate, 0), poll_after_ms(OrderStatus::queued, 50, rate, 0));
  EXPECT_LT(poll_after_ms(OrderStatus::queued, 50, rate, 0), poll_after_ms(OrderStatus::queued, 150, rate, 0));
}

TEST(PollAfter, QueuedShrinksAsTheRateGrows) {
  EXPECT_GT(poll_after_ms(OrderStatus::queued, 50, 5.0, 0), poll_after_ms(OrderStatus::queued, 50, 20.0, 0));
  EXPECT_GE(poll_after_ms(OrderStatus::queued, 50, 20.0, 0), poll_after_ms(OrderStatus::queued, 50, 1000.0, 0));
}

TEST(PollAfter, FrontOfAFastQueueAsksSoon) {
  EXPECT_EQ(poll_after_ms(OrderStatus::queued, 1, 1000.0, 0), min_poll_after_ms);
}

TEST(PollAfter, FarBackOfASlowQueueAsksRarely) {
  EXPECT_EQ(poll_after_ms(OrderStatus::queued, 100'000, 1.0, 0), max_poll_after_ms);
}

TEST(PollAfter, QueuedFallsBackWhenNoRateIsMeasured) {
  for (double rate : {0.0, 1e-9, 0.001}) {
    const auto near = poll_after_ms(OrderStatus::queued, 1, rate, 0);
    const auto far = poll_after_ms(OrderStatus::queued, 1'000'000, rate, 0);
    EXPECT_GE(near, min_poll_after_ms);
    EXPECT_LE(near, max_poll_after_ms);
    EXPECT_EQ(near, far) << "with no measured rate the position says nothing about the wait";
  }
}

TEST(PollAfter, ProcessingFollowsTheServiceTimeWithinBounds) {
  const auto quick = poll_after_ms(OrderStatus::processing, 0, 10.0, 0);
  const auto slow = poll_after_ms(OrderStatus::processing, 0, 10.0, 1'000'000);
  EXPECT_GE(quick, min_poll_after_ms);
  EXPECT_LE(slow, max_poll_after_ms);
  EXPECT_LE(quick, slow);
  EXPECT_LT(poll_after_ms(OrderStatus::processing, 0, 10.0, 300),
            poll_after_ms(OrderStatus::processing, 0, 10.0, 1500));
}

TEST(PollAfter, ConfirmedIsWithinBounds) {
  const auto ms = poll_after_ms(OrderStatus::confirmed, 0, 0.0, 0);
  EXPECT_GE(ms, min_poll_after_ms);
  EXPECT_LE(ms, max_poll_after_ms);
}

TEST(PollAfter, FinalStatusesAskLeastOften) {
  for (OrderStatus s : {OrderStatus::paid, OrderStatus::failed, OrderStatus::cancelled}) {
    const auto ms = poll_after_ms(s, 0, 10.0, 20);
    EXPECT_EQ(ms, max_poll_after_ms);
    EXPECT_GE(ms, poll_after_ms(OrderStatus::confirmed, 0, 10.0, 20));
    EXPECT_GE(ms, poll_after_ms(OrderStatus::processing, 0, 10.0, 20));
  }
}

// --- estimated_wait_ms ---

TEST(EstimatedWait, IsThePositionOverTheStartRate) {
  EXPECT_EQ(estimated_wait_ms(10, 5.0), 2000);
  EXPECT_EQ(estimated_wait_ms(1, 20.0), 50);
  EXPECT_EQ(estimated_wait_ms(300, 0.5), 600'000);
}

TEST(EstimatedWait, IsUnknownWhileNoRateIsMeasured) {
  EXPECT_EQ(estimated_wait_ms(10, 0.0), std::nullopt);
  EXPECT_EQ(estimated_wait_ms(10, 0.001), std::nullopt);
}

TEST(EstimatedWait, IsBoundedForTheSlowestRates) {
  const auto far = estimated_wait_ms(UINT64_MAX, 0.01);
  ASSERT_TRUE(far);
  EXPECT_EQ(*far, 86'400'000);
}

TEST(EstimatedWait, PollAfterAsksBackAboutHalfwayToIt) {
  for (double rate : {0.5, 2.0, 10.0, 40.0})
    for (std::uint64_t position : {std::uint64_t{5}, std::uint64_t{60}}) {
      const auto wait = estimated_wait_ms(position, rate);
      ASSERT_TRUE(wait);
      const auto poll = poll_after_ms(OrderStatus::queued, position, rate, 0);
      EXPECT_EQ(poll, std::clamp(*wait / 2, min_poll_after_ms, max_poll_after_ms)) << rate << " " << position;
    }
}

}  // namespace
