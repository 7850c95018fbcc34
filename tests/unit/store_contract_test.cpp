// The Store contract: what every Store implementation must do, run against
// each of them: the memory store over its real SQLite journal, and the Redis
// store against a real redis-server (scripts/testenv/redis) and against a real
// Redis Cluster of 3 masters and 3 replicas (scripts/testenv/redis-cluster),
// where every intake, payment and finish also waits for a replica (WAIT). The order rules
// exist twice, in C++ (MemoryStore) and in Lua (store/redis/scripts.cpp);
// these cases hold the two to one another, refusal texts included, which
// come from the domain (domain::refusal). What only one store has is tested
// in its own files: the journal's failures and restore in
// memory_store_test.cpp, queue ownership and reclaims in redis_queue_test.cpp.
//
// Where the stores differ by design, the difference is named here, not
// papered over:
// - The change listener. The memory store calls it on the thread that made
//   the change, before the call returns; the Redis store on its change feed's
//   thread, once the change reached the feed. A gateway process hears of what
//   the workers did (claim, finish, hand_back, cancel_unpaid) only that way,
//   so its near-cache and sold-out book follow a moment later. Cases that
//   read through the gateway's calls after such a change first wait until the
//   listener was told of it (`published`), which also checks it was told.
// - Where a handed-back order lines up again (see HandBack).
// - set_remaining_db: the memory store sets it before returning; the Redis
//   store sends it without waiting for the answer (the stock flush does not
//   need to), so a later get_sale shows it a moment later.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "database/sqlite/sqlite_database.hpp"
#include "domain/errors.hpp"
#include "domain/ids.hpp"
#include "redis_cluster_fixture.hpp"
#include "redis_server_fixture.hpp"
#include "store/memory/memory_store.hpp"
#include "store/redis/redis_store.hpp"
#include "store_backends.hpp"
#include "store_calls.hpp"

namespace {

using namespace std::chrono_literals;
using namespace flashgate::testing;
using flashgate::database::SqliteDatabase;
using flashgate::domain::Error;
using flashgate::domain::ErrorCode;
using flashgate::domain::is_valid_id;
using flashgate::domain::now_ms;
using flashgate::domain::Order;
using flashgate::domain::OrderStatus;
using flashgate::domain::refusal;
using flashgate::domain::Result;
using flashgate::domain::TimeMs;
using flashgate::domain::to_string;
using flashgate::store::IntakeOutcome;
using flashgate::store::MemoryStore;
using flashgate::store::OrderView;
using flashgate::store::SaleView;
using flashgate::store::Store;
using flashgate::store::redis::RedisStore;
using flashgate::store::redis::RedisStoreOptions;
using Changes = ChangeLog::Changes;

class StoreContract : public StoreCase {
 protected:
  bool hands_back_first_in_line() const { return GetParam().hand_back == HandBack::first_in_line; }

  // A sale whose buyers may hold up to `max_per_buyer` units each.
  SaleView sale_of_units(const std::string& id, std::int64_t stock, std::int64_t max_per_buyer) {
    auto made = flashgate::testing::make_sale(id, stock);
    made.max_per_buyer = max_per_buyer;
    auto r = create_sale(made);
    EXPECT_TRUE(r) << r.error().message;
    return r ? r.value() : SaleView{};
  }

  // Refused with `code` and the domain's text for it.
  template <class T>
  static void expect_refused(const Result<T>& r, ErrorCode code) {
    ASSERT_FALSE(r) << "accepted, expected " << flashgate::domain::error_name(code);
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_EQ(r.error().message, refusal(code).message);
  }

};

// --- sales ---

TEST_P(StoreContract, CreatedSaleIsReadBack) {
  const TimeMs now = now_ms();
  const auto made = flashgate::testing::make_sale("s1", 10, now - 60'000, now + 3'600'000);
  const auto created = create_sale(made);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->sale.sale_id, "s1");
  EXPECT_EQ(created->remaining, 10);
  const SaleView read = sale_of("s1");
  EXPECT_EQ(read.sale.item, "item of s1");
  EXPECT_EQ(read.sale.stock, 10);
  EXPECT_EQ(read.sale.starts_at, made.starts_at);
  EXPECT_EQ(read.sale.ends_at, made.ends_at);
  EXPECT_EQ(read.sale.created_at, made.created_at);
  EXPECT_EQ(read.remaining, 10);
  EXPECT_FALSE(read.remaining_db);
  EXPECT_EQ(read.queue_depth, 0u);
  for (auto status : flashgate::domain::all_statuses) EXPECT_EQ(read.counts[idx(status)], 0u) << to_string(status);

  const SaleView open = sale("open", 1);
  EXPECT_FALSE(open.sale.starts_at);
  EXPECT_FALSE(open.sale.ends_at);
}

TEST_P(StoreContract, CreatingAnExistingSaleIsRefused) {
  sale("s1", 10);
  expect_refused(create_sale(flashgate::testing::make_sale("s1", 99)), ErrorCode::sale_exists);
  EXPECT_EQ(sale_of("s1").sale.stock, 10);
}

TEST_P(StoreContract, UnknownSaleIsNotFound) {
  expect_refused(get_sale("nope"), ErrorCode::sale_not_found);
  expect_refused(intake("nope", "u1"), ErrorCode::sale_not_found);
}

TEST_P(StoreContract, EverySaleIsListed) {
  sale("s1", 10);
  sale("s2", 0);
  std::set<std::string> listed;
  for (const auto& s : store->sales()) listed.insert(s.sale_id);
  EXPECT_EQ(listed, (std::set<std::string>{"s1", "s2"}));
}

// --- intake ---

TEST_P(StoreContract, IntakeQueuesAtVersionOneWithRisingPositions) {
  sale("s1", 10);
  std::set<std::string> ids;
  for (int i = 1; i <= 5; ++i) {
    const auto r = intake("s1", numbered("u", i));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->created);
    const auto& v = r->view;
    EXPECT_EQ(v.order.status, OrderStatus::queued);
    EXPECT_EQ(v.order.version, 1u);
    EXPECT_EQ(v.position, static_cast<std::uint64_t>(i));
    EXPECT_EQ(v.order.seq, static_cast<std::uint64_t>(i));
    EXPECT_EQ(v.order.sale_id, "s1");
    EXPECT_EQ(v.order.user_id, numbered("u", i));
    EXPECT_TRUE(is_valid_id(v.order.order_id)) << v.order.order_id;
    EXPECT_GE(v.poll_after_ms, 250);
    EXPECT_LE(v.poll_after_ms, 10'000);
    EXPECT_TRUE(v.order.reason.empty());
    EXPECT_TRUE(v.order.payment_id.empty());
    EXPECT_TRUE(v.order.external_id.empty());
    ids.insert(v.order.order_id);
  }
  EXPECT_EQ(ids.size(), 5u);
  const SaleView s = sale_of("s1");
  EXPECT_EQ(s.remaining, 5);
  EXPECT_EQ(s.counts[idx(OrderStatus::queued)], 5u);
  EXPECT_EQ(s.queue_depth, 5u);
  EXPECT_EQ(store->queue_depth(), 5u);
  expect_stock_invariant("s1");
}

TEST_P(StoreContract, IntakeIsReadableWithGetOrder) {
  sale("s1", 10);
  const auto taken = accepted("s1", "u1");
  const auto read = order_view("s1", taken.order.order_id);
  EXPECT_EQ(read.order.status, OrderStatus::queued);
  EXPECT_EQ(read.order.version, 1u);
  EXPECT_EQ(read.position, 1u);
  EXPECT_EQ(read.order.user_id, "u1");
  EXPECT_EQ(read.order.created_at, taken.order.created_at);
}

TEST_P(StoreContract, GetOrderOfAnotherSaleOrAnUnknownIdIsNotFound) {
  sale("s1", 10);
  sale("s2", 10);
  const auto taken = accepted("s1", "u1");
  const auto no_order = flashgate::domain::no_order_for_ticket();
  for (const auto& [sale_id, order_id] :
       {std::pair{std::string("s2"), taken.order.order_id}, {"s1", "00000000000000000000"},
        {"s1", flashgate::domain::new_tagged_order_id("s1")}}) {
    const auto r = get_order(sale_id, order_id);
    ASSERT_FALSE(r) << sale_id << " " << order_id;
    EXPECT_EQ(r.error().code, ErrorCode::order_not_found);
    EXPECT_EQ(r.error().message, no_order.message);
  }
}

TEST_P(StoreContract, SameUserAgainGetsTheSameOrder) {
  sale("s1", 10);
  const auto first = accepted("s1", "u1");
  const auto again = intake("s1", "u1");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->view.order.order_id, first.order.order_id);
  EXPECT_EQ(again->view.order.version, 1u);
  EXPECT_EQ(again->view.order.status, OrderStatus::queued);
  EXPECT_EQ(again->view.position, 1u);
  EXPECT_EQ(sale_of("s1").remaining, 9);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::queued)], 1u);
}

TEST_P(StoreContract, SameUserAgainGetsTheOrderAsItIsNow) {
  sale("s1", 10);
  const auto id = confirmed("s1", "u1");
  const auto again = intake("s1", "u1");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->view.order.order_id, id);
  EXPECT_EQ(again->view.order.status, OrderStatus::confirmed);
  EXPECT_EQ(again->view.order.version, 3u);
}

TEST_P(StoreContract, SameUserInAnotherSaleGetsAnotherOrder) {
  sale("s1", 10);
  sale("s2", 10);
  const auto a = accepted("s1", "u1");
  const auto b = intake("s2", "u1");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->created);
  EXPECT_NE(a.order.order_id, b->view.order.order_id);
  EXPECT_EQ(b->view.position, 1u);
}

TEST_P(StoreContract, SoldOutAfterStockIntakes) {
  sale("s1", 3);
  for (int i = 1; i <= 3; ++i) accepted("s1", numbered("u", i));
  expect_refused(intake("s1", "u4"), ErrorCode::sold_out);
  expect_refused(intake("s1", "u5"), ErrorCode::sold_out);
  EXPECT_EQ(sale_of("s1").remaining, 0);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::queued)], 3u);
  expect_stock_invariant("s1");
}

TEST_P(StoreContract, HolderStillGetsTheirOrderWhenSoldOut) {
  sale("s1", 1);
  const auto first = accepted("s1", "u1");
  for (int round = 0; round < 2; ++round) {  // before and after a refusal (the Redis store's sold-out book)
    const auto again = intake("s1", "u1");
    ASSERT_TRUE(again) << "dedupe must come before the stock check";
    EXPECT_FALSE(again->created);
    EXPECT_EQ(again->view.order.order_id, first.order.order_id);
    expect_refused(intake("s1", "u2"), ErrorCode::sold_out);
  }
}

TEST_P(StoreContract, SaleWithNoStockIsSoldOutAtOnce) {
  sale("s0", 0);
  expect_refused(intake("s0", "u1"), ErrorCode::sold_out);
  EXPECT_EQ(sale_of("s0").remaining, 0);
}

TEST_P(StoreContract, UpcomingSaleRefusesWithSaleNotOpen) {
  sale("later", 5, now_ms() + 3'600'000);
  expect_refused(intake("later", "u1"), ErrorCode::sale_not_open);
  EXPECT_EQ(sale_of("later").remaining, 5);
  EXPECT_EQ(sale_of("later").counts[idx(OrderStatus::queued)], 0u);
}

TEST_P(StoreContract, EndedSaleRefusesWithSaleEnded) {
  const TimeMs now = now_ms();
  sale("past", 5, now - 7'200'000, now - 3'600'000);
  expect_refused(intake("past", "u1"), ErrorCode::sale_ended);
  EXPECT_EQ(sale_of("past").remaining, 5);
}

TEST_P(StoreContract, SaleInsideItsWindowAcceptsIntakes) {
  const TimeMs now = now_ms();
  sale("now", 5, now - 60'000, now + 3'600'000);
  EXPECT_TRUE(intake("now", "u1"));
}

TEST_P(StoreContract, StoppedIntakeRefusesNewOrdersAndRepeats) {
  sale("s1", 5);
  accepted("s1", "u1");
  store->stop_intake();
  expect_refused(intake("s1", "u2"), ErrorCode::shutting_down);
  expect_refused(intake("s1", "u1"), ErrorCode::shutting_down);
  EXPECT_EQ(sale_of("s1").remaining, 4);
  // The rest of the store still answers: polls and payments go on while it drains.
  EXPECT_EQ(claimed().user_id, "u1");
}

// --- windows ---

TEST_P(StoreContract, ClaimMovesOrdersToProcessingInIntakeOrder) {
  sale("s1", 10);
  std::vector<std::string> ids;
  for (int i = 1; i <= 4; ++i) ids.push_back(accepted("s1", numbered("u", i)).order.order_id);
  for (const auto& id : ids) {
    const Order o = claimed();
    EXPECT_EQ(o.order_id, id);
    EXPECT_EQ(o.status, OrderStatus::processing);
    EXPECT_EQ(o.version, 2u);
    const auto read = order_view("s1", id);
    EXPECT_EQ(read.order.status, OrderStatus::processing);
    EXPECT_EQ(read.order.version, 2u);
  }
  EXPECT_FALSE(store->claim(10ms));
  const SaleView s = sale_of("s1");
  EXPECT_EQ(s.counts[idx(OrderStatus::processing)], 4u);
  EXPECT_EQ(s.counts[idx(OrderStatus::queued)], 0u);
  EXPECT_EQ(store->queue_depth(), 0u);
  expect_stock_invariant("s1");
}

TEST_P(StoreContract, PositionsMoveForwardAsWindowsStartOrders) {
  sale("s1", 10);
  std::vector<std::string> ids;
  for (int i = 1; i <= 4; ++i) ids.push_back(accepted("s1", numbered("u", i)).order.order_id);
  claimed();
  EXPECT_EQ(order_view("s1", ids[1]).position, 1u);
  EXPECT_EQ(order_view("s1", ids[3]).position, 3u);
  claimed();
  EXPECT_EQ(order_view("s1", ids[2]).position, 1u);
  EXPECT_EQ(order_view("s1", ids[3]).position, 2u);
  // A new intake lines up behind everyone still waiting.
  EXPECT_EQ(accepted("s1", "u5").position, 3u);
}

TEST_P(StoreContract, ClaimWaitsForAnIntake) {
  sale("s1", 10);
  auto waiting = std::async(std::launch::async, [this] { return claim_within(30s); });
  std::this_thread::sleep_for(20ms);  // let the window block (not required for correctness)
  const auto id = accepted("s1", "u1").order.order_id;
  ASSERT_EQ(waiting.wait_for(store_patience), std::future_status::ready);
  const auto order = waiting.get();
  ASSERT_TRUE(order);
  EXPECT_EQ(order->order_id, id);
  EXPECT_EQ(order->status, OrderStatus::processing);
}

TEST_P(StoreContract, ClaimWithNothingQueuedGivesNothing) { EXPECT_FALSE(store->claim(1ms)); }

TEST_P(StoreContract, FinishConfirmedRaisesVersionToThree) {
  sale("s1", 10);
  const auto id = accepted("s1", "u1").order.order_id;
  claimed();
  ASSERT_TRUE(store->finish(id, OrderStatus::confirmed, "", ""));
  const auto v = order_view("s1", id);
  EXPECT_EQ(v.order.status, OrderStatus::confirmed);
  EXPECT_EQ(v.order.version, 3u);
  EXPECT_TRUE(v.order.reason.empty());
  EXPECT_EQ(sale_of("s1").remaining, 9);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::confirmed)], 1u);
  expect_stock_invariant("s1");
}

TEST_P(StoreContract, TheShopsExternalIdIsKeptThroughPayment) {
  sale("s1", 10);
  const auto paid = accepted("s1", "u1").order.order_id;
  const auto unpaid = accepted("s1", "u2").order.order_id;
  const auto none = accepted("s1", "u3").order.order_id;
  for (const auto& [id, external_id] : {std::pair{paid, "SHOP-1"}, {unpaid, "SHOP-2"}, {none, ""}}) {
    ASSERT_EQ(claimed().order_id, id);
    ASSERT_TRUE(store->finish(id, OrderStatus::confirmed, "", external_id));
    EXPECT_EQ(order_view("s1", id).order.external_id, external_id);
    published(id, 3);
    const auto told = changes_.orders_of(id);
    ASSERT_FALSE(told.empty());
    EXPECT_EQ(told.back().external_id, external_id) << "the listener's view of the change";
  }
  const auto payment = pay(paid, "pay-1");
  ASSERT_TRUE(payment) << payment.error().message;
  EXPECT_EQ(payment->order.external_id, "SHOP-1");
  EXPECT_EQ(order_view("s1", paid).order.external_id, "SHOP-1");
  const auto holder = intake("s1", "u2");  // the holder asking again
  ASSERT_TRUE(holder) << holder.error().message;
  EXPECT_EQ(holder->view.order.external_id, "SHOP-2");
}

TEST_P(StoreContract, FinishFailedGivesTheUnitBackAndFreesTheUser) {
  sale("s1", 1);
  const auto id = accepted("s1", "u1").order.order_id;
  expect_refused(intake("s1", "u2"), ErrorCode::sold_out);
  claimed();
  ASSERT_TRUE(store->finish(id, OrderStatus::failed, "downstream_refused", ""));
  const auto v = order_view("s1", id);
  EXPECT_EQ(v.order.status, OrderStatus::failed);
  EXPECT_EQ(v.order.version, 3u);
  EXPECT_EQ(v.order.reason, "downstream_refused");
  EXPECT_EQ(sale_of("s1").remaining, 1);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::failed)], 1u);
  expect_stock_invariant("s1");

  published(id, 3);  // the unit back reaches the Redis gateway's sold-out book through the feed
  const auto again = intake("s1", "u1");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->created);
  EXPECT_NE(again->view.order.order_id, id);
  EXPECT_EQ(again->view.order.version, 1u);
  EXPECT_EQ(sale_of("s1").remaining, 0);
  expect_stock_invariant("s1");
}

TEST_P(StoreContract, FinishingAnOrderNoLongerProcessingChangesNothing) {
  sale("s1", 10);
  const auto id = confirmed("s1", "u1");
  EXPECT_TRUE(store->finish(id, OrderStatus::failed, "late", ""));
  const auto v = order_view("s1", id);
  EXPECT_EQ(v.order.status, OrderStatus::confirmed);
  EXPECT_EQ(v.order.version, 3u);
  EXPECT_EQ(sale_of("s1").remaining, 9);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::failed)], 0u);
}

TEST_P(StoreContract, HandedBackOrderIsQueuedAgainAtTheNextVersion) {
  sale("s1", 10);
  const auto first = accepted("s1", "u1").order.order_id;
  const auto second = accepted("s1", "u2").order.order_id;
  ASSERT_EQ(claimed().order_id, first);
  store->hand_back(first);
  published(first, 3);
  const auto v = order_view("s1", first);
  EXPECT_EQ(v.order.status, OrderStatus::queued);
  EXPECT_EQ(v.order.version, 3u);
  const SaleView s = sale_of("s1");
  EXPECT_EQ(s.counts[idx(OrderStatus::queued)], 2u);
  EXPECT_EQ(s.counts[idx(OrderStatus::processing)], 0u);
  EXPECT_EQ(s.remaining, 8);
  EXPECT_EQ(store->queue_depth(), 2u);
  // Positions are seq - started in both stores (see HandBack). Memory: the
  // order is first again, exactly. Redis: both read 1, and only the second is
  // right (it is taken next).
  EXPECT_EQ(order_view("s1", first).position, 1u);
  EXPECT_EQ(order_view("s1", second).position, hands_back_first_in_line() ? 2u : 1u);

  // See HandBack for why the stores line it up differently.
  const auto expected = hands_back_first_in_line() ? std::vector<std::string>{first, second}
                                                   : std::vector<std::string>{second, first};
  const Order a = claimed();
  const Order b = claimed();
  EXPECT_EQ((std::vector<std::string>{a.order_id, b.order_id}), expected);
  const Order& again = a.order_id == first ? a : b;
  EXPECT_EQ(again.status, OrderStatus::processing);
  EXPECT_EQ(again.version, 4u);
  EXPECT_FALSE(store->claim(10ms));
  expect_stock_invariant("s1");
}

// --- payment ---

TEST_P(StoreContract, PaymentMovesConfirmedToPaid) {
  sale("s1", 10);
  const auto id = confirmed("s1", "u1");
  const auto paid = pay(id, "pay-1");
  ASSERT_TRUE(paid) << paid.error().message;
  EXPECT_EQ(paid->order.status, OrderStatus::paid);
  EXPECT_EQ(paid->order.version, 4u);
  EXPECT_EQ(paid->order.payment_id, "pay-1");
  const auto read = order_view("s1", id);
  EXPECT_EQ(read.order.status, OrderStatus::paid);
  EXPECT_EQ(read.order.version, 4u);
  EXPECT_EQ(sale_of("s1").remaining, 9);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::paid)], 1u);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::confirmed)], 0u);
  expect_stock_invariant("s1");
}

TEST_P(StoreContract, SamePaymentAgainChangesNothing) {
  sale("s1", 10);
  const auto id = confirmed("s1", "u1");
  ASSERT_TRUE(pay(id, "pay-1"));
  const auto again = pay(id, "pay-1");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->order.status, OrderStatus::paid);
  EXPECT_EQ(again->order.version, 4u);
  EXPECT_EQ(again->order.payment_id, "pay-1");
  EXPECT_EQ(order_view("s1", id).order.version, 4u);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::paid)], 1u);
}

TEST_P(StoreContract, OtherPaymentForAPaidOrderIsNotPayable) {
  sale("s1", 10);
  const auto id = confirmed("s1", "u1");
  ASSERT_TRUE(pay(id, "pay-1"));
  expect_refused(pay(id, "pay-2"), ErrorCode::order_not_payable);
  const auto v = order_view("s1", id);
  EXPECT_EQ(v.order.payment_id, "pay-1");
  EXPECT_EQ(v.order.version, 4u);
}

TEST_P(StoreContract, PaymentForAnUnknownOrderIsNotFound) {
  sale("s1", 10);
  expect_refused(pay("00000000000000000000", "pay-1"), ErrorCode::order_not_found);
  expect_refused(pay(flashgate::domain::new_tagged_order_id("s1"), "pay-1"), ErrorCode::order_not_found);
}

TEST_P(StoreContract, PaymentForAnOrderNotConfirmedIsNotPayable) {
  sale("s1", 10);
  const auto queued = accepted("s1", "u1").order.order_id;
  expect_refused(pay(queued, "pay-1"), ErrorCode::order_not_payable);
  EXPECT_EQ(order_view("s1", queued).order.status, OrderStatus::queued);
  EXPECT_EQ(order_view("s1", queued).order.version, 1u);

  claimed();
  expect_refused(pay(queued, "pay-1"), ErrorCode::order_not_payable);  // PROCESSING now
  EXPECT_EQ(order_view("s1", queued).order.version, 2u);

  ASSERT_TRUE(store->finish(queued, OrderStatus::failed, "downstream_refused", ""));
  expect_refused(pay(queued, "pay-1"), ErrorCode::order_not_payable);  // FAILED
  EXPECT_EQ(order_view("s1", queued).order.status, OrderStatus::failed);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::paid)], 0u);
}

// --- payment timeout ---

TEST_P(StoreContract, CancelUnpaidCancelsOldConfirmedOrdersAndGivesUnitsBack) {
  sale("s1", 3);
  const auto a = confirmed("s1", "u1");
  const auto b = confirmed("s1", "u2");
  const auto c = confirmed("s1", "u3");
  ASSERT_TRUE(pay(b, "pay-b"));
  expect_refused(intake("s1", "u4"), ErrorCode::sold_out);
  EXPECT_EQ(sale_of("s1").remaining, 0);

  EXPECT_EQ(store->cancel_unpaid(now_ms() + 60'000), 2u);
  for (const auto& id : {a, c}) {
    published(id, 4);
    const auto v = order_view("s1", id);
    EXPECT_EQ(v.order.status, OrderStatus::cancelled);
    EXPECT_EQ(v.order.version, 4u);
    EXPECT_EQ(v.order.reason, flashgate::domain::payment_timeout_reason);
  }
  EXPECT_EQ(order_view("s1", b).order.status, OrderStatus::paid);
  EXPECT_EQ(sale_of("s1").remaining, 2);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::cancelled)], 2u);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::confirmed)], 0u);
  expect_stock_invariant("s1");

  // The units went back and so did the users' places.
  const auto again = intake("s1", "u1");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->created);
  EXPECT_TRUE(intake("s1", "u9"));
  expect_refused(intake("s1", "u10"), ErrorCode::sold_out);
  expect_stock_invariant("s1");
}

TEST_P(StoreContract, CancelUnpaidLeavesOrdersConfirmedAfterTheCutOff) {
  sale("s1", 3);
  const TimeMs before = now_ms();
  const auto id = confirmed("s1", "u1");
  EXPECT_EQ(store->cancel_unpaid(before), 0u);
  EXPECT_EQ(order_view("s1", id).order.status, OrderStatus::confirmed);
  EXPECT_EQ(sale_of("s1").remaining, 2);
  // Still payable: nothing was half done.
  EXPECT_TRUE(pay(id, "pay-1"));
}

TEST_P(StoreContract, CancelUnpaidTwiceCancelsOnce) {
  sale("s1", 3);
  const auto id = confirmed("s1", "u1");
  EXPECT_EQ(store->cancel_unpaid(now_ms() + 60'000), 1u);
  EXPECT_EQ(store->cancel_unpaid(now_ms() + 60'000), 0u);
  EXPECT_EQ(sale_of("s1").remaining, 3);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::cancelled)], 1u);
  published(id, 4);
  EXPECT_EQ(order_view("s1", id).order.version, 4u);
  expect_stock_invariant("s1");
}

TEST_P(StoreContract, CancelledOrderIsNotPayable) {
  sale("s1", 3);
  const auto id = confirmed("s1", "u1");
  ASSERT_EQ(store->cancel_unpaid(now_ms() + 60'000), 1u);
  expect_refused(pay(id, "pay-late"), ErrorCode::order_not_payable);
  published(id, 4);
  EXPECT_EQ(order_view("s1", id).order.status, OrderStatus::cancelled);
}

// --- counts and remaining stock ---

TEST_P(StoreContract, CountsRemainingAndQueueDepthFollowEveryStatus) {
  sale("s1", 10);
  sale("s2", 4);
  const auto cancelled = confirmed("s1", "u6");
  ASSERT_EQ(store->cancel_unpaid(now_ms() + 60'000), 1u);
  const auto failed = accepted("s1", "u5").order.order_id;
  ASSERT_EQ(claimed().order_id, failed);
  ASSERT_TRUE(store->finish(failed, OrderStatus::failed, "downstream_refused", ""));
  ASSERT_TRUE(pay(confirmed("s1", "u4"), "pay-4"));
  confirmed("s1", "u3");
  const auto processing = accepted("s1", "u2").order.order_id;
  ASSERT_EQ(claimed().order_id, processing);
  accepted("s1", "u1");
  accepted("s2", "u1");

  const SaleView s = sale_of("s1");
  // One order in every status a first-come sale has; none in the draw's.
  for (auto status : flashgate::domain::all_statuses) {
    const bool draw_only = status == OrderStatus::entered || status == OrderStatus::not_drawn;
    EXPECT_EQ(s.counts[idx(status)], draw_only ? 0u : 1u) << to_string(status);
  }
  EXPECT_EQ(s.remaining, 6);  // QUEUED, PROCESSING, CONFIRMED and PAID hold a unit
  EXPECT_EQ(s.queue_depth, 1u);
  EXPECT_EQ(store->queue_depth(), 2u);  // over every sale
  expect_stock_invariant("s1");

  std::map<std::string, std::int64_t> remaining;
  for (const auto& [sale_id, left] : store->remaining_by_sale()) remaining[sale_id] = left;
  EXPECT_EQ(remaining, (std::map<std::string, std::int64_t>{{"s1", 6}, {"s2", 3}}));
  published(cancelled, 4);
}

TEST_P(StoreContract, TheFlushedRemainingIsShownWithTheSale) {
  sale("s1", 10);
  accepted("s1", "u1");
  store->set_remaining_db("s1", 9);
  // The Redis store does not wait for its write (see the top of the file).
  std::optional<std::int64_t> shown;
  for (const auto start = Clock::now(); shown != 9 && Clock::now() - start < store_patience;) {
    shown = sale_of("s1").remaining_db;
    if (shown != 9) std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(shown, 9);
  EXPECT_EQ(sale_of("s1").remaining, 9);
  store->set_remaining_db("nope", 1);  // a sale that is not there: nothing happens
  expect_refused(get_sale("nope"), ErrorCode::sale_not_found);
}

// --- change listener ---

TEST_P(StoreContract, ListenerSeesEveryVersionInOrder) {
  sale("s1", 10);

  const auto paid = confirmed("s1", "u1");
  ASSERT_TRUE(pay(paid, "pay-1"));
  ASSERT_TRUE(pay(paid, "pay-1"));  // a repeat changes nothing, so it is no news
  ASSERT_TRUE(intake("s1", "u1"));  // nor is a holder asking again

  const auto failed = accepted("s1", "u2").order.order_id;
  claimed();
  ASSERT_TRUE(store->finish(failed, OrderStatus::failed, "downstream_refused", ""));

  const auto cancelled = confirmed("s1", "u3");
  ASSERT_EQ(store->cancel_unpaid(now_ms() + 60'000), 1u);
  // The last change: whatever came before it reached the listener first.
  published(cancelled, 4);

  EXPECT_EQ(changes_.of(paid), (Changes{{1, OrderStatus::queued},
                                        {2, OrderStatus::processing},
                                        {3, OrderStatus::confirmed},
                                        {4, OrderStatus::paid}}))
      << describe(changes_.of(paid));
  EXPECT_EQ(changes_.of(failed), (Changes{{1, OrderStatus::queued}, {2, OrderStatus::processing}, {3, OrderStatus::failed}}))
      << describe(changes_.of(failed));
  EXPECT_EQ(changes_.of(cancelled), (Changes{{1, OrderStatus::queued},
                                             {2, OrderStatus::processing},
                                             {3, OrderStatus::confirmed},
                                             {4, OrderStatus::cancelled}}))
      << describe(changes_.of(cancelled));
  const auto told = changes_.orders_of(cancelled);
  ASSERT_FALSE(told.empty());
  EXPECT_EQ(told.back().reason, flashgate::domain::payment_timeout_reason);
  EXPECT_EQ(changes_.orders_of(paid).back().payment_id, "pay-1");
}

TEST_P(StoreContract, ListenerSeesHandBackAsANewVersion) {
  sale("s1", 10);
  const auto id = accepted("s1", "u1").order.order_id;
  claimed();
  store->hand_back(id);
  claimed();
  published(id, 4);
  EXPECT_EQ(changes_.of(id), (Changes{{1, OrderStatus::queued},
                                      {2, OrderStatus::processing},
                                      {3, OrderStatus::queued},
                                      {4, OrderStatus::processing}}))
      << describe(changes_.of(id));
}

// A listener told on a thread of the store's own (the Redis store's feed) may
// be slow: meanwhile the next changes are made and answered, and a gateway
// reads them back. It must still be told of each of them, in order (an event
// stream sends one event per change). The memory store tells on the thread
// that made the change, here the test's, which is never held up.
TEST_P(StoreContract, ListenerIsToldOfEveryChangeMadeWhileItWasBusy) {
  sale("s1", 10);
  const auto id = accepted("s1", "u1").order.order_id;
  const auto test_thread = std::this_thread::get_id();
  auto released = std::make_shared<std::promise<void>>();
  std::shared_future<void> release = released->get_future().share();
  changes_.before_record([test_thread, release](const OrderView& v) {
    if (v.order.status == OrderStatus::processing && std::this_thread::get_id() != test_thread)
      release.wait_for(store_patience);
  });
  ASSERT_EQ(claimed().order_id, id);
  ASSERT_TRUE(store->finish(id, OrderStatus::confirmed, "", ""));
  ASSERT_TRUE(pay(id, "pay-1"));
  EXPECT_EQ(order_view("s1", id).order.version, 4u);
  released->set_value();
  published(id, 4);
  EXPECT_EQ(changes_.of(id), (Changes{{1, OrderStatus::queued},
                                      {2, OrderStatus::processing},
                                      {3, OrderStatus::confirmed},
                                      {4, OrderStatus::paid}}))
      << describe(changes_.of(id));
}

// A window blocked in claim() is woken as soon as the intake is durable. The
// listener is slow on QUEUED (as a real one may be: it takes locks, wakes
// waiters, writes to streams); it must still see QUEUED before PROCESSING.
TEST_P(StoreContract, ListenerSeesQueuedBeforeProcessingWhileAWindowWaits) {
  changes_.before_record([](const OrderView& v) {
    if (v.order.status == OrderStatus::queued) std::this_thread::sleep_for(200ms);
  });
  sale("s1", 10);
  auto window = std::async(std::launch::async, [this] { return claim_within(30s); });
  const auto id = accepted("s1", "u1").order.order_id;
  ASSERT_EQ(window.wait_for(store_patience), std::future_status::ready);
  ASSERT_TRUE(window.get());
  published(id, 2);
  EXPECT_EQ(changes_.of(id), (Changes{{1, OrderStatus::queued}, {2, OrderStatus::processing}}))
      << "told out of order: " << describe(changes_.of(id));
}

// The payment provider may notify as soon as the order is CONFIRMED; the
// listener must still see CONFIRMED before PAID.
TEST_P(StoreContract, ListenerSeesConfirmedBeforePaidWhenPaymentFollowsAtOnce) {
  sale("s1", 10);
  const auto id = accepted("s1", "u1").order.order_id;
  claimed();
  changes_.before_record([](const OrderView& v) {
    if (v.order.status == OrderStatus::confirmed) std::this_thread::sleep_for(200ms);
  });
  // The provider: pays as soon as the order reads CONFIRMED.
  auto provider = std::async(std::launch::async, [this, id]() -> Result<OrderView> {
    const auto deadline = Clock::now() + store_patience;
    while (Clock::now() < deadline) {
      if (order_view("s1", id).order.status == OrderStatus::confirmed) return pay(id, "pay-1");
      std::this_thread::sleep_for(1ms);
    }
    return Error{ErrorCode::internal, "never confirmed"};
  });
  ASSERT_TRUE(store->finish(id, OrderStatus::confirmed, "", ""));
  ASSERT_EQ(provider.wait_for(store_patience), std::future_status::ready);
  const auto paid = provider.get();
  ASSERT_TRUE(paid) << paid.error().message;
  published(id, 4);
  EXPECT_EQ(changes_.of(id), (Changes{{1, OrderStatus::queued},
                                      {2, OrderStatus::processing},
                                      {3, OrderStatus::confirmed},
                                      {4, OrderStatus::paid}}))
      << "told out of order: " << describe(changes_.of(id));
}

// --- quantities and per-buyer limits (issue #26) ---

using flashgate::store::IntakeRequest;

TEST_P(StoreContract, AnIntakeReservesItsQuantityInUnits) {
  sale_of_units("q", 10, 3);
  const auto r = intake("q", IntakeRequest{"u1", 3, {}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->created);
  EXPECT_EQ(r->view.order.quantity, 3);
  EXPECT_EQ(r->view.position, 1u);
  EXPECT_EQ(order_view("q", r->view.order.order_id).order.quantity, 3);
  const SaleView v = sale_of("q");
  EXPECT_EQ(v.sale.max_per_buyer, 3);
  EXPECT_EQ(v.remaining, 7);
  EXPECT_EQ(v.counts[idx(OrderStatus::queued)], 1u);
  EXPECT_EQ(v.units[idx(OrderStatus::queued)], 3u);
  expect_stock_invariant("q");
}

TEST_P(StoreContract, ASingleUnitSaleKeepsOneOrderPerBuyerWhateverTheRequestId) {
  sale("one", 10);
  EXPECT_EQ(sale_of("one").sale.max_per_buyer, 1);
  const auto first = intake("one", IntakeRequest{"u1", 1, "a"});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->created);
  EXPECT_TRUE(first->view.order.request_id.empty()) << "kept only where a buyer may place several orders";
  for (const auto& again : {intake("one", IntakeRequest{"u1", 1, "b"}), intake("one", "u1")}) {
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_FALSE(again->created);
    EXPECT_EQ(again->view.order.order_id, first->view.order.order_id);
  }
  EXPECT_EQ(sale_of("one").remaining, 9);
  expect_refused(intake("one", IntakeRequest{"u2", 2, {}}), ErrorCode::invalid_request);
}

TEST_P(StoreContract, TheSameRequestAgainReturnsTheSameOrder) {
  sale_of_units("q", 10, 3);
  const auto first = intake("q", IntakeRequest{"u1", 2, "r1"});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->view.order.request_id, "r1");
  const auto again = intake("q", IntakeRequest{"u1", 2, "r1"});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->view.order.order_id, first->view.order.order_id);
  EXPECT_EQ(again->view.order.quantity, 2);
  EXPECT_EQ(sale_of("q").remaining, 8);
}

TEST_P(StoreContract, AnotherRequestIsAnotherOrderWhileTheBuyerStaysWithinTheLimit) {
  sale_of_units("q", 10, 3);
  const auto a = intake("q", IntakeRequest{"u1", 2, "a"});
  ASSERT_TRUE(a) << a.error().message;
  const auto b = intake("q", IntakeRequest{"u1", 1, "b"});
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_TRUE(b->created);
  EXPECT_NE(a->view.order.order_id, b->view.order.order_id);
  EXPECT_EQ(b->view.position, 2u);
  expect_refused(intake("q", IntakeRequest{"u1", 1, "c"}), ErrorCode::buyer_limit_reached);
  expect_refused(intake("q", IntakeRequest{"u1", 1, {}}), ErrorCode::buyer_limit_reached);
  // Another buyer has an allowance of their own.
  const auto other = intake("q", IntakeRequest{"u2", 3, "a"});
  ASSERT_TRUE(other) << other.error().message;
  const SaleView v = sale_of("q");
  EXPECT_EQ(v.remaining, 4);
  EXPECT_EQ(v.counts[idx(OrderStatus::queued)], 3u);
  EXPECT_EQ(v.units[idx(OrderStatus::queued)], 6u);
  expect_stock_invariant("q");
}

TEST_P(StoreContract, AQuantityBelowOneOrAboveTheLimitIsInvalidAndChangesNothing) {
  sale_of_units("q", 10, 2);
  for (std::int64_t quantity : {0, -1, 3, 1000}) {
    const auto r = intake("q", IntakeRequest{"u1", quantity, "a"});
    expect_refused(r, ErrorCode::invalid_request);
  }
  const SaleView v = sale_of("q");
  EXPECT_EQ(v.remaining, 10);
  EXPECT_EQ(v.counts[idx(OrderStatus::queued)], 0u);
  const auto r = intake("q", IntakeRequest{"u1", 2, "a"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->view.order.seq, 1u) << "a refused intake took an intake number";
}

TEST_P(StoreContract, MoreThanRemainsIsNotEnoughStockWithWhatRemains) {
  sale_of_units("q", 3, 5);
  ASSERT_TRUE(intake("q", IntakeRequest{"u1", 2, {}}));
  const auto r = intake("q", IntakeRequest{"u2", 2, {}});
  expect_refused(r, ErrorCode::not_enough_stock);
  if (!r) {
    ASSERT_TRUE(r.error().remaining);
    EXPECT_EQ(*r.error().remaining, 1);
  }
  EXPECT_EQ(sale_of("q").remaining, 1);
  ASSERT_TRUE(intake("q", IntakeRequest{"u2", 1, {}}));
  const auto none = intake("q", IntakeRequest{"u3", 1, {}});
  expect_refused(none, ErrorCode::sold_out);
  if (!none) {
    EXPECT_FALSE(none.error().remaining);
  }
  expect_refused(intake("q", IntakeRequest{"u3", 4, {}}), ErrorCode::sold_out);
  expect_stock_invariant("q");
}

TEST_P(StoreContract, FailedGivesEveryUnitAndTheBuyersAllowanceBack) {
  sale_of_units("q", 5, 3);
  const auto taken = intake("q", IntakeRequest{"u1", 3, "a"});
  ASSERT_TRUE(taken) << taken.error().message;
  const Order order = claimed();
  EXPECT_EQ(order.quantity, 3) << "a window (and the shop) must know the quantity";
  ASSERT_TRUE(store->finish(order.order_id, OrderStatus::failed, "no", ""));
  published(order.order_id, 3);
  SaleView v = sale_of("q");
  EXPECT_EQ(v.remaining, 5);
  EXPECT_EQ(v.units[idx(OrderStatus::failed)], 3u);
  expect_stock_invariant("q");
  // The same request finds the failed order no more: the buyer may ask again, for all three.
  const auto again = intake("q", IntakeRequest{"u1", 3, "a"});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->created);
  EXPECT_EQ(sale_of("q").remaining, 2);
  expect_stock_invariant("q");
}

TEST_P(StoreContract, CancelledGivesEveryUnitAndTheBuyersAllowanceBack) {
  sale_of_units("q", 4, 4);
  const auto taken = intake("q", IntakeRequest{"u1", 4, {}});
  ASSERT_TRUE(taken) << taken.error().message;
  const Order order = claimed();
  ASSERT_TRUE(store->finish(order.order_id, OrderStatus::confirmed, "", ""));
  published(order.order_id, 3);
  EXPECT_EQ(sale_of("q").units[idx(OrderStatus::confirmed)], 4u);
  expect_refused(intake("q", IntakeRequest{"u2", 1, {}}), ErrorCode::sold_out);
  ASSERT_EQ(store->cancel_unpaid(now_ms() + 60'000), 1u);
  published(order.order_id, 4);
  const SaleView v = sale_of("q");
  EXPECT_EQ(v.remaining, 4);
  EXPECT_EQ(v.units[idx(OrderStatus::cancelled)], 4u);
  expect_stock_invariant("q");
  ASSERT_TRUE(intake("q", IntakeRequest{"u1", 4, "again"}));
  EXPECT_EQ(sale_of("q").remaining, 0);
  expect_stock_invariant("q");
}

TEST_P(StoreContract, PaidUnitsStayTaken) {
  sale_of_units("q", 5, 2);
  const auto taken = intake("q", IntakeRequest{"u1", 2, {}});
  ASSERT_TRUE(taken) << taken.error().message;
  const Order order = claimed();
  ASSERT_TRUE(store->finish(order.order_id, OrderStatus::confirmed, "", ""));
  published(order.order_id, 3);
  const auto paid = pay(order.order_id, "pay-1");
  ASSERT_TRUE(paid) << paid.error().message;
  EXPECT_EQ(paid->order.quantity, 2);
  published(order.order_id, 4);
  const SaleView v = sale_of("q");
  EXPECT_EQ(v.remaining, 3);
  EXPECT_EQ(v.units[idx(OrderStatus::paid)], 2u);
  expect_refused(intake("q", IntakeRequest{"u1", 1, "more"}), ErrorCode::buyer_limit_reached);
  expect_stock_invariant("q");
}

// --- concurrency ---

TEST_P(StoreContract, StockIsNeverOversoldUnderConcurrentIntake) {
  constexpr int threads = 8, users_per_thread = 500, stock = 1000;
  constexpr int total = threads * users_per_thread;
  sale("flash", stock);

  struct Outcome {
    std::string user;
    Result<IntakeOutcome> result;
  };
  std::mutex mutex;
  std::vector<Outcome> outcomes;
  outcomes.reserve(total);
  std::promise<void> all_answered;
  auto answered = all_answered.get_future();

  all_at_once(threads, [&](int t) {
    for (int i = 0; i < users_per_thread; ++i) {
      std::string user = numbered("t", t);
      user += numbered("-u", i);
      store->intake("flash", user, [&, user](Result<IntakeOutcome> r) {
        std::lock_guard lock(mutex);
        outcomes.push_back(Outcome{user, std::move(r)});
        if (outcomes.size() == total) all_answered.set_value();
      });
    }
  });
  ASSERT_EQ(answered.wait_for(store_patience), std::future_status::ready) << "not every intake was answered";

  std::lock_guard lock(mutex);
  std::set<std::string> users, order_ids;
  std::set<std::uint64_t> seqs;
  int accepted_count = 0, sold_out = 0, other = 0;
  for (const auto& o : outcomes) {
    if (o.result) {
      ++accepted_count;
      EXPECT_TRUE(o.result->created);
      EXPECT_EQ(o.result->view.order.user_id, o.user);
      EXPECT_TRUE(users.insert(o.user).second) << o.user << " accepted twice";
      order_ids.insert(o.result->view.order.order_id);
      seqs.insert(o.result->view.order.seq);
    } else if (o.result.error().code == ErrorCode::sold_out) {
      ++sold_out;
    } else {
      ++other;
      ADD_FAILURE() << o.user << ": " << o.result.error().message;
    }
  }
  EXPECT_EQ(accepted_count, stock);
  EXPECT_EQ(sold_out, total - stock);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(order_ids.size(), static_cast<std::size_t>(stock));
  EXPECT_EQ(seqs.size(), static_cast<std::size_t>(stock));
  if (!seqs.empty()) {
    EXPECT_EQ(*seqs.begin(), 1u);
    EXPECT_EQ(*seqs.rbegin(), static_cast<std::uint64_t>(stock));
  }

  const SaleView s = sale_of("flash");
  EXPECT_EQ(s.remaining, 0);
  EXPECT_EQ(s.counts[idx(OrderStatus::queued)], static_cast<std::uint64_t>(stock));
  EXPECT_EQ(store->queue_depth(), static_cast<std::uint64_t>(stock));
  expect_stock_invariant("flash");
}

TEST_P(StoreContract, OneOrderPerUserUnderConcurrentIntake) {
  constexpr int threads = 8, users = 100;
  sale("flash", 1000);
  std::mutex mutex;
  std::map<std::string, std::vector<Result<IntakeOutcome>>> by_user;
  std::atomic<int> answers{0};
  std::promise<void> all_answered;
  auto answered = all_answered.get_future();

  all_at_once(threads, [&](int) {
    for (int i = 0; i < users; ++i) {
      std::string user = numbered("u", i);
      store->intake("flash", user, [&, user](Result<IntakeOutcome> r) {
        {
          std::lock_guard lock(mutex);
          by_user[user].push_back(std::move(r));
        }
        if (++answers == threads * users) all_answered.set_value();
      });
    }
  });
  ASSERT_EQ(answered.wait_for(store_patience), std::future_status::ready) << "not every intake was answered";

  std::lock_guard lock(mutex);
  ASSERT_EQ(by_user.size(), static_cast<std::size_t>(users));
  for (const auto& [user, results] : by_user) {
    ASSERT_EQ(results.size(), static_cast<std::size_t>(threads)) << user;
    std::set<std::string> ids;
    int created = 0;
    for (const auto& r : results) {
      ASSERT_TRUE(r) << user << ": " << r.error().message;
      ids.insert(r->view.order.order_id);
      created += r->created;
    }
    EXPECT_EQ(ids.size(), 1u) << user << " got several orders";
    EXPECT_EQ(created, 1) << user;
  }
  EXPECT_EQ(sale_of("flash").remaining, 1000 - users);
  expect_stock_invariant("flash");
}

TEST_P(StoreContract, UnitsAreNeverOversoldUnderConcurrentIntakesOfSeveralUnits) {
  constexpr int threads = 8, users_per_thread = 60, stock = 300, limit = 4;
  constexpr int total = threads * users_per_thread;
  sale_of_units("units", stock, limit);
  std::mutex mutex;
  std::vector<std::pair<std::int64_t, Result<IntakeOutcome>>> outcomes;
  std::promise<void> all_answered;
  auto answered = all_answered.get_future();
  all_at_once(threads, [&](int t) {
    for (int i = 0; i < users_per_thread; ++i) {
      const std::int64_t quantity = 1 + (t + i) % limit;
      store->intake("units", IntakeRequest{numbered("t", t) + numbered("-u", i), quantity, {}},
                    [&, quantity](Result<IntakeOutcome> r) {
                      std::lock_guard lock(mutex);
                      outcomes.emplace_back(quantity, std::move(r));
                      if (outcomes.size() == total) all_answered.set_value();
                    });
    }
  });
  ASSERT_EQ(answered.wait_for(store_patience), std::future_status::ready) << "not every intake was answered";

  std::lock_guard lock(mutex);
  std::int64_t units = 0, orders = 0;
  for (const auto& [quantity, r] : outcomes) {
    if (r) {
      EXPECT_EQ(r->view.order.quantity, quantity);
      units += quantity;
      ++orders;
    } else {
      EXPECT_TRUE(r.error().code == ErrorCode::sold_out || r.error().code == ErrorCode::not_enough_stock)
          << r.error().message;
      // Not enough for this one means fewer units than it asked for were left.
      if (r.error().code == ErrorCode::not_enough_stock) {
        EXPECT_LT(r.error().remaining.value_or(0), quantity);
      }
    }
  }
  const SaleView s = sale_of("units");
  EXPECT_LE(units, stock);
  EXPECT_EQ(s.remaining, stock - units);
  EXPECT_LT(s.remaining, limit) << "a smaller request would have been taken";
  EXPECT_EQ(s.counts[idx(OrderStatus::queued)], static_cast<std::uint64_t>(orders));
  EXPECT_EQ(s.units[idx(OrderStatus::queued)], static_cast<std::uint64_t>(units));
  expect_stock_invariant("units");
}

TEST_P(StoreContract, ABuyersLimitHoldsUnderConcurrentRequests) {
  constexpr int threads = 8, limit = 3;
  sale_of_units("limit", 100, limit);
  std::mutex mutex;
  std::vector<Result<IntakeOutcome>> outcomes;
  std::promise<void> all_answered;
  auto answered = all_answered.get_future();
  all_at_once(threads, [&](int t) {
    // Every thread asks twice with its own request id: once new, once a repeat.
    for (int i = 0; i < 2; ++i)
      store->intake("limit", IntakeRequest{"greedy", 1, numbered("r", t)}, [&](Result<IntakeOutcome> r) {
        std::lock_guard lock(mutex);
        outcomes.push_back(std::move(r));
        if (outcomes.size() == 2 * threads) all_answered.set_value();
      });
  });
  ASSERT_EQ(answered.wait_for(store_patience), std::future_status::ready) << "not every intake was answered";
  std::lock_guard lock(mutex);
  std::set<std::string> ids;
  int created = 0;
  for (const auto& r : outcomes) {
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::buyer_limit_reached) << r.error().message;
      continue;
    }
    created += r->created;
    ids.insert(r->view.order.order_id);
  }
  EXPECT_EQ(created, limit);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(limit));
  EXPECT_EQ(sale_of("limit").remaining, 100 - limit);
  expect_stock_invariant("limit");
}

TEST_P(StoreContract, PaymentRacingCancelEndsInExactlyOneState) {
  constexpr int rounds = 30;
  sale("race", rounds);
  int paid_rounds = 0, cancelled_rounds = 0;
  for (int round = 0; round < rounds; ++round) {
    const auto id = confirmed("race", numbered("u", round));

    std::latch go(2);
    Pending<OrderView> payment;
    std::size_t cancelled_count = 0;
    std::thread provider([&] {
      go.arrive_and_wait();
      store->pay(id, numbered("pay-", round), payment.callback());
    });
    std::thread sweeper([&] {
      go.arrive_and_wait();
      cancelled_count = store->cancel_unpaid(now_ms() + 60'000);
    });
    provider.join();
    sweeper.join();
    const auto pay_result = payment.get();

    published(id, 4);
    const auto final_view = order_view("race", id);
    const auto status = final_view.order.status;
    ASSERT_TRUE(status == OrderStatus::paid || status == OrderStatus::cancelled)
        << "round " << round << " ended " << to_string(status);
    EXPECT_EQ(final_view.order.version, 4u) << "round " << round;
    EXPECT_EQ(changes_.of(id).size(), 4u) << "round " << round << ": " << describe(changes_.of(id));
    if (status == OrderStatus::paid) {
      ++paid_rounds;
      EXPECT_TRUE(pay_result) << "round " << round << ": PAID but the provider was told " << pay_result.error().message;
      EXPECT_EQ(cancelled_count, 0u) << "round " << round;
    } else {
      ++cancelled_rounds;
      ASSERT_FALSE(pay_result) << "round " << round << ": CANCELLED but the payment was accepted";
      EXPECT_EQ(pay_result.error().code, ErrorCode::order_not_payable) << "round " << round;
      EXPECT_EQ(cancelled_count, 1u) << "round " << round;
    }
    // Every paid order holds its unit; every cancelled one gave it back.
    EXPECT_EQ(sale_of("race").remaining, rounds - paid_rounds) << "round " << round;
    expect_stock_invariant("race");
  }
  EXPECT_EQ(paid_rounds + cancelled_rounds, rounds);
  RecordProperty("paid_rounds", paid_rounds);
  RecordProperty("cancelled_rounds", cancelled_rounds);
}

INSTANTIATE_TEST_SUITE_P(Memory, StoreContract,
                         ::testing::Values(StoreKind{"memory", [] { return std::unique_ptr<Backend>(new MemoryBackend()); },
                                                     HandBack::first_in_line}),
                         [](const auto&) { return std::string("sqlite_journal"); });
INSTANTIATE_TEST_SUITE_P(Redis, StoreContract,
                         ::testing::Values(StoreKind{"redis", [] { return RedisBackend::open(); },
                                                     HandBack::behind_the_queue}),
                         [](const auto&) { return std::string("redis_server"); });
INSTANTIATE_TEST_SUITE_P(RedisCluster, StoreContract,
                         ::testing::Values(StoreKind{"redis cluster", [] { return ClusterBackend::open(); },
                                                     HandBack::behind_the_queue}),
                         [](const auto&) { return std::string("redis_cluster"); });

}  // namespace
