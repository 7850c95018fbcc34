#include "domain/order.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

namespace {

using flashgate::domain::all_statuses;
using flashgate::domain::apply_transition;
using flashgate::domain::can_transition;
using flashgate::domain::is_final;
using flashgate::domain::Order;
using flashgate::domain::OrderStatus;
using flashgate::domain::parse_status;
using flashgate::domain::releases_unit;
using flashgate::domain::to_string;

using Edge = std::pair<OrderStatus, OrderStatus>;

// The contract's diagram, plus PROCESSING -> QUEUED (a window hands an order
// back) and the draw's ENTERED -> QUEUED | NOT_DRAWN.
const std::set<Edge> allowed_edges = {
    {OrderStatus::queued, OrderStatus::processing},  {OrderStatus::processing, OrderStatus::confirmed},
    {OrderStatus::processing, OrderStatus::failed},  {OrderStatus::processing, OrderStatus::queued},
    {OrderStatus::confirmed, OrderStatus::paid},     {OrderStatus::confirmed, OrderStatus::cancelled},
    {OrderStatus::entered, OrderStatus::queued},     {OrderStatus::entered, OrderStatus::not_drawn},
};

Order order_in(OrderStatus status) {
  Order o;
  o.order_id = "0123456789abcdef0123";
  o.sale_id = "sale-1";
  o.user_id = "user-1";
  o.seq = 7;
  o.status = status;
  o.version = 5;
  o.reason = "";
  o.payment_id = "";
  o.created_at = 1000;
  o.updated_at = 2000;
  return o;
}

bool same(const Order& a, const Order& b) {
  return a.order_id == b.order_id && a.sale_id == b.sale_id && a.user_id == b.user_id && a.seq == b.seq &&
         a.status == b.status && a.version == b.version && a.reason == b.reason && a.payment_id == b.payment_id &&
         a.created_at == b.created_at && a.updated_at == b.updated_at;
}

TEST(Order, ContractTransitionsAreAllowed) {
  EXPECT_TRUE(can_transition(OrderStatus::queued, OrderStatus::processing));
  EXPECT_TRUE(can_transition(OrderStatus::processing, OrderStatus::confirmed));
  EXPECT_TRUE(can_transition(OrderStatus::processing, OrderStatus::failed));
  EXPECT_TRUE(can_transition(OrderStatus::confirmed, OrderStatus::paid));
  EXPECT_TRUE(can_transition(OrderStatus::confirmed, OrderStatus::cancelled));
}

TEST(Order, HandBackFromProcessingToQueuedIsAllowed) {
  EXPECT_TRUE(can_transition(OrderStatus::processing, OrderStatus::queued));
}

TEST(Order, EveryOtherTransitionIsRefused) {
  for (OrderStatus from : all_statuses)
    for (OrderStatus to : all_statuses)
      EXPECT_EQ(can_transition(from, to), allowed_edges.contains({from, to}))
          << to_string(from) << " -> " << to_string(to);
}

TEST(Order, TheDrawMovesAnEntrantToQueuedOrNotDrawn) {
  EXPECT_TRUE(can_transition(OrderStatus::entered, OrderStatus::queued));
  EXPECT_TRUE(can_transition(OrderStatus::entered, OrderStatus::not_drawn));
  // Only the draw decides an entrant: no cancel, no worker picks it up.
  EXPECT_FALSE(can_transition(OrderStatus::entered, OrderStatus::cancelled));
  EXPECT_FALSE(can_transition(OrderStatus::entered, OrderStatus::processing));
  // Nothing enters after the fact.
  for (OrderStatus from : all_statuses) EXPECT_FALSE(can_transition(from, OrderStatus::entered)) << to_string(from);
}

TEST(Order, SkippingAStepIsRefused) {
  EXPECT_FALSE(can_transition(OrderStatus::queued, OrderStatus::confirmed));
  EXPECT_FALSE(can_transition(OrderStatus::queued, OrderStatus::paid));
  EXPECT_FALSE(can_transition(OrderStatus::processing, OrderStatus::paid));
  EXPECT_FALSE(can_transition(OrderStatus::processing, OrderStatus::cancelled));
  EXPECT_FALSE(can_transition(OrderStatus::confirmed, OrderStatus::failed));
}

TEST(Order, StayingInTheSameStatusIsNotATransition) {
  for (OrderStatus s : all_statuses) EXPECT_FALSE(can_transition(s, s)) << to_string(s);
}

TEST(Order, NoTransitionLeavesAFinalStatus) {
  for (OrderStatus from : {OrderStatus::paid, OrderStatus::failed, OrderStatus::cancelled, OrderStatus::not_drawn}) {
    EXPECT_TRUE(is_final(from));
    for (OrderStatus to : all_statuses) EXPECT_FALSE(can_transition(from, to)) << to_string(from) << " -> " << to_string(to);
  }
}

TEST(Order, OnlyPaidFailedCancelledAndNotDrawnAreFinal) {
  EXPECT_FALSE(is_final(OrderStatus::entered));
  EXPECT_TRUE(is_final(OrderStatus::not_drawn));
  EXPECT_FALSE(is_final(OrderStatus::queued));
  EXPECT_FALSE(is_final(OrderStatus::processing));
  EXPECT_FALSE(is_final(OrderStatus::confirmed));
  EXPECT_TRUE(is_final(OrderStatus::paid));
  EXPECT_TRUE(is_final(OrderStatus::failed));
  EXPECT_TRUE(is_final(OrderStatus::cancelled));
}

TEST(Order, ApplyTransitionRaisesVersionByExactlyOne) {
  Order o = order_in(OrderStatus::queued);
  o.version = 1;
  ASSERT_TRUE(apply_transition(o, OrderStatus::processing, 3000));
  EXPECT_EQ(o.version, 2u);
  ASSERT_TRUE(apply_transition(o, OrderStatus::confirmed, 4000));
  EXPECT_EQ(o.version, 3u);
  ASSERT_TRUE(apply_transition(o, OrderStatus::paid, 5000));
  EXPECT_EQ(o.version, 4u);
  EXPECT_EQ(o.status, OrderStatus::paid);
}

TEST(Order, ApplyTransitionSetsUpdatedAtAndKeepsIdentity) {
  Order o = order_in(OrderStatus::queued);
  ASSERT_TRUE(apply_transition(o, OrderStatus::processing, 12345));
  EXPECT_EQ(o.updated_at, 12345);
  EXPECT_EQ(o.created_at, 1000);
  EXPECT_EQ(o.order_id, "0123456789abcdef0123");
  EXPECT_EQ(o.sale_id, "sale-1");
  EXPECT_EQ(o.user_id, "user-1");
  EXPECT_EQ(o.seq, 7u);
}

TEST(Order, ApplyTransitionSetsTheReason) {
  Order o = order_in(OrderStatus::processing);
  ASSERT_TRUE(apply_transition(o, OrderStatus::failed, 3000, "downstream_refused"));
  EXPECT_EQ(o.status, OrderStatus::failed);
  EXPECT_EQ(o.reason, "downstream_refused");
}

TEST(Order, ApplyTransitionWithoutReasonLeavesItEmpty) {
  Order o = order_in(OrderStatus::processing);
  ASSERT_TRUE(apply_transition(o, OrderStatus::confirmed, 3000));
  EXPECT_TRUE(o.reason.empty());
}

TEST(Order, RefusedTransitionChangesNothing) {
  for (OrderStatus from : all_statuses)
    for (OrderStatus to : all_statuses) {
      if (allowed_edges.contains({from, to})) continue;
      Order o = order_in(from);
      const Order before = o;
      EXPECT_FALSE(apply_transition(o, to, 99'999, "why"));
      EXPECT_TRUE(same(o, before)) << to_string(from) << " -> " << to_string(to);
    }
}

TEST(Order, ApplyTransitionRefusesLeavingFinalStatuses) {
  for (OrderStatus final_status : {OrderStatus::paid, OrderStatus::failed, OrderStatus::cancelled,
                                   OrderStatus::not_drawn}) {
    Order o = order_in(final_status);
    for (OrderStatus to : all_statuses) {
      EXPECT_FALSE(apply_transition(o, to, 99'999));
      EXPECT_EQ(o.status, final_status);
      EXPECT_EQ(o.version, 5u);
      EXPECT_EQ(o.updated_at, 2000);
    }
  }
}

TEST(Order, OnlyFailedAndCancelledReleaseTheUnit) {
  EXPECT_FALSE(releases_unit(OrderStatus::queued));
  EXPECT_FALSE(releases_unit(OrderStatus::processing));
  EXPECT_FALSE(releases_unit(OrderStatus::confirmed));
  EXPECT_FALSE(releases_unit(OrderStatus::paid));
  EXPECT_TRUE(releases_unit(OrderStatus::failed));
  EXPECT_TRUE(releases_unit(OrderStatus::cancelled));
  // An entrant never held a unit, so not being drawn gives none back.
  EXPECT_FALSE(releases_unit(OrderStatus::entered));
  EXPECT_FALSE(releases_unit(OrderStatus::not_drawn));
}

TEST(Order, OnlyOrdersPastTheDrawOrWithoutOneHoldUnits) {
  using flashgate::domain::holds_units;
  for (OrderStatus s : all_statuses)
    EXPECT_EQ(holds_units(s), s == OrderStatus::queued || s == OrderStatus::processing ||
                                  s == OrderStatus::confirmed || s == OrderStatus::paid)
        << to_string(s);
}

TEST(Order, StatusNamesAreTheContractsSpelling) {
  EXPECT_EQ(to_string(OrderStatus::queued), "QUEUED");
  EXPECT_EQ(to_string(OrderStatus::processing), "PROCESSING");
  EXPECT_EQ(to_string(OrderStatus::confirmed), "CONFIRMED");
  EXPECT_EQ(to_string(OrderStatus::paid), "PAID");
  EXPECT_EQ(to_string(OrderStatus::failed), "FAILED");
  EXPECT_EQ(to_string(OrderStatus::cancelled), "CANCELLED");
  EXPECT_EQ(to_string(OrderStatus::entered), "ENTERED");
  EXPECT_EQ(to_string(OrderStatus::not_drawn), "NOT_DRAWN");
}

TEST(Order, ToStringAndParseStatusRoundTrip) {
  std::set<std::string_view> names;
  for (OrderStatus s : all_statuses) {
    EXPECT_EQ(parse_status(to_string(s)), s);
    names.insert(to_string(s));
  }
  EXPECT_EQ(names.size(), all_statuses.size());
}

TEST(Order, ParseStatusRefusesUnknownNames) {
  EXPECT_FALSE(parse_status(""));
  EXPECT_FALSE(parse_status("queued"));
  EXPECT_FALSE(parse_status("Paid"));
  EXPECT_FALSE(parse_status("QUEUED "));
  EXPECT_FALSE(parse_status("DELIVERED"));
}

TEST(Order, NewOrderStartsQueuedAtVersionOne) {
  const Order o;
  EXPECT_EQ(o.status, OrderStatus::queued);
  EXPECT_EQ(o.version, 1u);
}

}  // namespace

namespace {

TEST(Order, AnExternalIdIsOneTo128BytesOfPrintableAscii) {
  using flashgate::domain::is_valid_external_id;
  EXPECT_TRUE(is_valid_external_id("SHOP-1"));
  EXPECT_TRUE(is_valid_external_id(" ~"));
  EXPECT_TRUE(is_valid_external_id(std::string(128, 'a')));
  EXPECT_FALSE(is_valid_external_id(""));
  EXPECT_FALSE(is_valid_external_id(std::string(129, 'a')));
  EXPECT_FALSE(is_valid_external_id("tab\there"));
  EXPECT_FALSE(is_valid_external_id("del\x7f"));
  EXPECT_FALSE(is_valid_external_id(std::string("nul\0x", 5)));
  EXPECT_FALSE(is_valid_external_id("caf\xc3\xa9"));
}

TEST(Order, HoldKeyIsTheUserAloneOrWithTheRequestId) {
  EXPECT_EQ(flashgate::domain::hold_key("u1", ""), "u1");
  EXPECT_EQ(flashgate::domain::hold_key("u1", "r-2"), "u1#r-2");
  Order order;
  order.user_id = "u1";
  EXPECT_EQ(flashgate::domain::hold_key(order), "u1");
  order.request_id = "a";
  EXPECT_EQ(flashgate::domain::hold_key(order), "u1#a");
  EXPECT_EQ(order.quantity, 1);
}

}  // namespace

TEST(Order, HoldKeyOfAnItemNamesIt) {
  EXPECT_EQ(flashgate::domain::hold_key("u1", "", "phone"), "u1@phone");
  EXPECT_EQ(flashgate::domain::hold_key("u1", "r-2", "phone"), "u1@phone#r-2");
  EXPECT_EQ(flashgate::domain::buyer_key("u1", "phone"), "u1@phone");
  EXPECT_EQ(flashgate::domain::buyer_key("u1", ""), "u1");
  flashgate::domain::Order order;
  order.user_id = "u1";
  order.item_id = "buds";
  EXPECT_EQ(flashgate::domain::hold_key(order), "u1@buds");
}
