#include "domain/queue_hint.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace {

using flashgate::domain::estimated_wait_ms;
using flashgate::domain::max_poll_after_ms;
using flashgate::domain::measured_rate;
using flashgate::domain::min_rate_span_ms;
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

// A plain decaying average starts from zero: a second into a steady pace it
// read a fifth of it. The corrected one reads the pace from the first second on.
TEST(RateMeter, ReadsASteadyPaceFromTheFirstSecondOn) {
  RateMeter meter(5.0);
  for (TimeMs now = t0; now <= t0 + 20'000; now += 100) {
    meter.record(now);
    if (now - t0 < 1000) continue;
    EXPECT_NEAR(meter.per_second(now), 10.0, 1.5) << now - t0 << " ms in";
    EXPECT_NEAR(meter.per_second(now + 50), 10.0, 1.5) << now - t0 << " ms in, between two starts";
  }
}

TEST(RateMeter, TwoWindowsAtTwentyPerSecondAreReadFromTheFirstSecondOn) {
  RateMeter meter(5.0);
  for (TimeMs now = t0; now <= t0 + 20'000; now += 100) {
    meter.record(now, 2.0);  // both windows start an order at once
    if (now - t0 < 1000) continue;
    EXPECT_NEAR(meter.per_second(now + 99), 20.0, 3.0) << now - t0 << " ms in";
  }
}

// The first starts of a run (one per window, at once) say nothing yet of the
// pace: the first marks where the run begins, the others are read as if
// spread over min_rate_span_ms, never as a rate without bound.
TEST(RateMeter, TheFirstStartsOfARunAreReadAsSpreadOverTheShortestSpan) {
  RateMeter meter(5.0);
  meter.record(t0, 3.0);
  const double as_spread = 2.0 * 1000.0 / static_cast<double>(min_rate_span_ms);
  for (TimeMs later : {TimeMs{0}, TimeMs{1}, TimeMs{10}, min_rate_span_ms / 2}) {
    const double rate = meter.per_second(t0 + later);
    EXPECT_TRUE(std::isfinite(rate));
    EXPECT_GT(rate, as_spread * 0.9) << later;
    EXPECT_LT(rate, as_spread * 1.1) << later;
  }
}

// n starts span n - 1 gaps: one window at 400 ms an order is read at its
// pace from its second start on (counting the first, it read a start per
// span too fast: 5 a second at the second start).
TEST(RateMeter, OneWindowsPaceIsReadFromItsSecondStart) {
  RateMeter meter(5.0);
  meter.record(t0);
  EXPECT_EQ(meter.per_second(t0), 0.0);
  EXPECT_EQ(meter.per_second(t0 + 399), 0.0);
  for (TimeMs now = t0 + 400; now <= t0 + 10'000; now += 400) {
    meter.record(now);
    EXPECT_NEAR(meter.per_second(now), 2.5, 0.25) << now - t0 << " ms in";
  }
}

TEST(RateMeter, ARunAfterAnIdleSpellIsMeasuredAfresh) {
  RateMeter meter(5.0);
  TimeMs now = t0;
  for (; now < t0 + 30'000; now += 100) meter.record(now);
  now += 60'000;  // the queue ran dry; a new crowd comes
  const TimeMs resumed = now;
  for (; now < resumed + 10'000; now += 50) {
    meter.record(now);
    if (now - resumed < 1000) continue;
    EXPECT_NEAR(meter.per_second(now), 20.0, 3.0) << now - resumed << " ms into the new run";
  }
}

TEST(RateMeter, AShortPauseKeepsTheRunAndItsHistory) {
  RateMeter paused(5.0), steady(5.0);
  TimeMs now = t0;
  for (; now < t0 + 30'000; now += 100) {
    paused.record(now);
    steady.record(now);
  }
  // Two seconds without a start: the pace read dips, as before, but the run
  // does not start over (the old starts still count, and weigh as much).
  const double dipped = paused.per_second(now + 2'000);
  EXPECT_LT(dipped, steady.per_second(now));
  EXPECT_GT(dipped, steady.per_second(now) * 0.6);
  paused.record(now + 2'000);
  EXPECT_GT(paused.per_second(now + 2'000), dipped);
}

// --- measured_rate (a rate kept by another process) ---

TEST(MeasuredRate, IsTheRateMetersReadingFromItsRawAverage) {
  RateMeter meter(5.0);
  meter.record(t0);
  meter.record(t0 + 1'000);
  // The raw average just after: 1 / tau for each start, the first decayed.
  const double raw = 0.2 * std::exp(-0.2) + 0.2;
  for (TimeMs later : {TimeMs{0}, TimeMs{100}, TimeMs{2'000}, TimeMs{60'000}})
    EXPECT_NEAR(measured_rate(raw, t0 + 1'000, t0, t0 + 1'000 + later), meter.per_second(t0 + 1'000 + later), 1e-12)
        << later;
  EXPECT_NEAR(meter.per_second(t0 + 1'000), 1.0, 0.15);  // one gap of a second, as the average weighs it
}

TEST(MeasuredRate, ARunOfOneStartMeasuresNoPaceYet) {
  EXPECT_EQ(measured_rate(0.2, t0, t0, t0), 0.0);
  EXPECT_EQ(measured_rate(0.2, t0, t0, t0 + 3'000), 0.0);
}

TEST(MeasuredRate, WithoutItsRunsStartIsTheRawRateDecayed) {
  EXPECT_NEAR(measured_rate(2.0, t0, 0, t0 + 5'000), 2.0 * std::exp(-1.0), 1e-12);
  EXPECT_EQ(measured_rate(2.0, t0, 0, t0), 2.0);
}

TEST(MeasuredRate, LongAfterItsRunsStartTheCorrectionFades) {
  const TimeMs since = t0 - 120'000;
  EXPECT_NEAR(measured_rate(10.0, t0, since, t0), 10.0, 1e-6);
}

TEST(MeasuredRate, NoRateIsNoRate) {
  EXPECT_EQ(measured_rate(0.0, t0, t0, t0 + 10), 0.0);
  EXPECT_EQ(measured_rate(0.0, 0, 0, t0), 0.0);
}

TEST(MeasuredRate, AClockGoingBackDoesNotInflateIt) {
  EXPECT_LE(measured_rate(0.4, t0, t0, t0 - 10'000), measured_rate(0.4, t0, t0, t0) + 1e-12);
  EXPECT_TRUE(std::isfinite(measured_rate(0.4, t0, t0 + 5'000, t0)));
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

// --- early in a sale ---

// Two windows, 100 ms an order (20 starts a second), a crowd of 480 in line:
// once the first few orders are done (four rounds), the estimate is within
// 30% of the wait that follows (the plain average said ten times as long).
// Every start is counted from the run's first, which the windows make all at
// once: read earlier, a burst of starts weighs more than the pace.
TEST(EstimatedWait, EarlyInASaleIsNearTheWaitThatFollows) {
  const std::uint64_t position = 480;
  const double true_wait_ms = static_cast<double>(position) / 20.0 * 1000.0;
  RateMeter meter(5.0);
  for (TimeMs now = t0; now <= t0 + 2'000; now += 100) {
    meter.record(now, 2.0);
    if (now - t0 < 400) continue;
    for (TimeMs later : {TimeMs{0}, TimeMs{50}, TimeMs{99}}) {
      const auto estimate = estimated_wait_ms(position, meter.per_second(now + later));
      ASSERT_TRUE(estimate);
      EXPECT_NEAR(static_cast<double>(*estimate), true_wait_ms, 0.3 * true_wait_ms) << now + later - t0 << " ms in";
    }
  }
}

// One window, 400 ms an order, twelve ahead (the demo page's case): a client
// that asks back when told, from its intake on, learns of its turn soon
// after it comes, and never is told to come back at the floor or the ceiling
// for want of a measured pace.
TEST(PollAfter, EarlyInASaleAClientFollowingTheHintsLearnsOfItsTurnSoonAfter) {
  constexpr TimeMs service_ms = 400;
  constexpr std::uint64_t seq = 13;  // twelve ahead
  RateMeter meter(5.0);
  std::uint64_t started = 0;
  TimeMs next_start = t0;
  const auto advance_to = [&](TimeMs when) {
    for (; next_start <= when && started < seq; next_start += service_ms) {
      meter.record(next_start);
      ++started;
    }
  };
  const TimeMs turn = t0 + static_cast<TimeMs>(seq - 1) * service_ms;
  TimeMs poll = t0 + 10;  // the intake, just after the first start
  int polls = 0;
  for (;; ++polls) {
    advance_to(poll);
    if (started >= seq) break;
    const auto position = queue_position(seq, started);
    const auto hint = poll_after_ms(OrderStatus::queued, position, meter.per_second(poll), 0);
    EXPECT_GE(hint, min_poll_after_ms);
    EXPECT_LT(hint, max_poll_after_ms) << "poll " << polls << ": a hint at the ceiling, " << poll - t0 << " ms in";
    poll += hint;
  }
  EXPECT_GE(poll, turn);
  EXPECT_LE(poll - turn, 2 * service_ms) << "learned of its turn " << poll - turn << " ms late";
  EXPECT_LE(polls, 12) << "no crowd of polls for a wait of five seconds";
}

}  // namespace
