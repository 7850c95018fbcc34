// The poll pacer: early polls are held back, never beyond max_hold_ms.
#include <gtest/gtest.h>

#include <string>

#include "gateway/poll_pacer.hpp"

namespace {

using flashgate::gateway::PollPacer;

TEST(PollPacer, AnOrderNeverAnsweredIsNotHeld) {
  PollPacer pacer;
  EXPECT_EQ(pacer.hold_ms("o-1", 1'000), 0);
}

TEST(PollPacer, APollBeforeHalfTheHintIsHeldUntilThen) {
  PollPacer pacer;
  pacer.answered("o-1", 10'000, 800);
  EXPECT_EQ(pacer.hold_ms("o-1", 10'100), 300);  // earliest: 10'000 + 400
  EXPECT_EQ(pacer.hold_ms("o-1", 10'400), 0);
  EXPECT_EQ(pacer.hold_ms("o-1", 12'000), 0);
}

TEST(PollPacer, TheHoldIsBoundedByMaxHold) {
  PollPacer pacer;
  pacer.answered("o-1", 0, 60'000);
  EXPECT_EQ(pacer.hold_ms("o-1", 1), PollPacer::max_hold_ms);
}

TEST(PollPacer, AFinalAnswerCarriesNoHintSoNothingIsHeld) {
  PollPacer pacer;
  pacer.answered("o-1", 5'000, 0);
  EXPECT_EQ(pacer.hold_ms("o-1", 5'000), 0);
}

TEST(PollPacer, OrdersArePacedApartAndTheLatestAnswerCounts) {
  PollPacer pacer;
  pacer.answered("o-1", 1'000, 2'000);
  pacer.answered("o-2", 1'000, 200);
  EXPECT_EQ(pacer.hold_ms("o-1", 1'050), 950);
  EXPECT_EQ(pacer.hold_ms("o-2", 1'050), 50);
  pacer.answered("o-1", 1'100, 100);
  EXPECT_EQ(pacer.hold_ms("o-1", 1'100), 50);
}

TEST(PollPacer, ManyOrdersAreRememberedWithoutGrowingWithoutBound) {
  PollPacer pacer;
  const int orders = 50'000;
  for (int i = 0; i < orders; ++i) pacer.answered("order-" + std::to_string(i), 0, 1'000);
  int remembered = 0;
  for (int i = 0; i < orders; ++i) remembered += pacer.hold_ms("order-" + std::to_string(i), 0) > 0;
  // A direct-mapped table forgets an order only when another takes its slot.
  EXPECT_GT(remembered, orders * 9 / 10);
}

}  // namespace
