// What only the memory store has: its journal. Restore from the journal
// after a restart, the journal agreeing with memory, and what happens when
// the journal cannot make a change durable. The store behaviour every Store
// shares is in store_contract_test.cpp, run against this store too.
#include "store/memory/memory_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "database/sqlite/sqlite_database.hpp"
#include "domain/time.hpp"
#include "store_calls.hpp"

namespace {

using namespace std::chrono_literals;
using namespace flashgate::testing;
using flashgate::database::SqliteDatabase;
using flashgate::domain::ErrorCode;
using flashgate::domain::now_ms;
using flashgate::domain::Order;
using flashgate::domain::OrderStatus;
using flashgate::domain::Result;
using flashgate::domain::Sale;
using flashgate::domain::TimeMs;
using flashgate::domain::to_string;
using flashgate::store::IntakeOutcome;
using flashgate::store::Journal;
using flashgate::store::JournalState;
using flashgate::store::MemoryStore;
using flashgate::store::OrderView;
using flashgate::store::SaleView;

constexpr auto patience = store_patience;

class MemoryStoreTest : public ::testing::Test, protected StoreSteps {
 protected:
  void SetUp() override { open(); }
  void TearDown() override { shut(); }

  void open() {
    db_ = std::make_unique<SqliteDatabase>(dir_.path() / "flashgate.db");
    store_ = std::make_unique<MemoryStore>(*db_);
    store = store_.get();
  }
  // The writer commits what is queued (and runs its callbacks) before the store goes.
  void shut() {
    if (db_) db_->close();
    store = nullptr;
    store_.reset();
    db_.reset();
  }
  // A process restart: close the database, open the same file, rebuild from it.
  void restart() {
    shut();
    open();
    store_->restore(db_->load());
  }

  Order claimed() override {
    auto order = store_->claim(5s);
    EXPECT_TRUE(order) << "nothing to claim";
    return order ? *order : Order{};
  }

  const Order* journal_order(const JournalState& state, const std::string& order_id) {
    for (const auto& o : state.orders)
      if (o.order_id == order_id) return &o;
    return nullptr;
  }

  TempDir dir_;
  std::unique_ptr<SqliteDatabase> db_;
  std::unique_ptr<MemoryStore> store_;
};

// --- the journal agrees with memory ---

TEST_F(MemoryStoreTest, EveryAcceptedIntakeIsInTheJournal) {
  constexpr int threads = 4, users_per_thread = 200, stock = 300;
  sale("flash", stock);
  std::mutex mutex;
  std::set<std::string> accepted_ids;
  std::atomic<int> answers{0};
  std::promise<void> all_answered;
  auto answered = all_answered.get_future();

  all_at_once(threads, [&](int t) {
    for (int i = 0; i < users_per_thread; ++i) {
      std::string user = numbered("t", t);
      user += numbered("-u", i);
      store_->intake("flash", user, [&](Result<IntakeOutcome> r) {
        if (r) {
          std::lock_guard lock(mutex);
          accepted_ids.insert(r->view.order.order_id);
        }
        if (++answers == threads * users_per_thread) all_answered.set_value();
      });
    }
  });
  ASSERT_EQ(answered.wait_for(patience), std::future_status::ready) << "not every intake was answered";

  std::lock_guard lock(mutex);
  EXPECT_EQ(accepted_ids.size(), static_cast<std::size_t>(stock));
  std::set<std::string> journaled;
  for (const auto& o : db_->load().orders)
    if (o.sale_id == "flash") journaled.insert(o.order_id);
  EXPECT_EQ(journaled, accepted_ids);
}

// A payment racing the payment timeout ends in one state, in memory and in the journal alike.
TEST_F(MemoryStoreTest, PaymentRacingCancelIsJournaledAsItEnded) {
  constexpr int rounds = 10;
  sale("race", rounds);
  for (int round = 0; round < rounds; ++round) {
    const auto id = confirmed("race", numbered("u", round));
    std::latch go(2);
    Pending<OrderView> payment;
    std::thread provider([&] {
      go.arrive_and_wait();
      store_->pay(id, numbered("pay-", round), payment.callback());
    });
    std::thread sweeper([&] {
      go.arrive_and_wait();
      store_->cancel_unpaid(now_ms() + 60'000);
    });
    provider.join();
    sweeper.join();
    payment.get();

    const auto in_memory = order_view("race", id).order;
    const JournalState state = db_->load();
    const Order* journaled = journal_order(state, id);
    ASSERT_NE(journaled, nullptr) << "round " << round;
    EXPECT_EQ(journaled->status, in_memory.status) << "round " << round << ": memory says " << to_string(in_memory.status);
    EXPECT_EQ(journaled->version, in_memory.version) << "round " << round;
    EXPECT_EQ(journaled->version, 4u) << "round " << round;
  }
}

TEST_F(MemoryStoreTest, TheShopsExternalIdIsKeptThroughARestart) {
  sale("s1", 10);
  const auto paid = accepted("s1", "u1").order.order_id;
  const auto unpaid = accepted("s1", "u2").order.order_id;
  const auto none = accepted("s1", "u3").order.order_id;
  for (const auto& [id, external_id] : {std::pair{paid, "SHOP-1"}, {unpaid, "SHOP-2"}, {none, ""}}) {
    ASSERT_EQ(claimed().order_id, id);
    ASSERT_TRUE(store_->finish(id, OrderStatus::confirmed, "", external_id));
  }
  ASSERT_TRUE(pay(paid, "pay-1"));
  restart();
  EXPECT_EQ(order_view("s1", paid).order.status, OrderStatus::paid);
  EXPECT_EQ(order_view("s1", paid).order.external_id, "SHOP-1");
  EXPECT_EQ(order_view("s1", unpaid).order.external_id, "SHOP-2");
  EXPECT_EQ(order_view("s1", none).order.external_id, "");
}

// --- restart ---

class MemoryStoreRestoreTest : public MemoryStoreTest {
 protected:
  // Sale A (window around now, stock 6):
  //   u1 PAID, u2 FAILED, u3 CONFIRMED (unpaid), u4 PROCESSING, u5 QUEUED.
  // Sale B (no window, stock 3): b1 QUEUED.
  void SetUp() override {
    MemoryStoreTest::SetUp();
    const TimeMs now = now_ms();
    starts_ = now - 3'600'000;
    ends_ = now + 3'600'000;
    sale("A", 6, starts_, ends_);
    sale("B", 3);
    for (const char* u : {"u1", "u2", "u3", "u4", "u5"}) ids_[u] = accepted("A", u).order.order_id;
    ids_["b1"] = accepted("B", "b1").order.order_id;

    ASSERT_EQ(claimed().order_id, ids_["u1"]);
    ASSERT_TRUE(store_->finish(ids_["u1"], OrderStatus::confirmed, "", ""));
    ASSERT_TRUE(pay(ids_["u1"], "pay-u1"));
    ASSERT_EQ(claimed().order_id, ids_["u2"]);
    ASSERT_TRUE(store_->finish(ids_["u2"], OrderStatus::failed, "downstream_refused", ""));
    ASSERT_EQ(claimed().order_id, ids_["u3"]);
    ASSERT_TRUE(store_->finish(ids_["u3"], OrderStatus::confirmed, "", ""));
    ASSERT_EQ(claimed().order_id, ids_["u4"]);  // left PROCESSING: the process dies mid-order
    ASSERT_TRUE(db_->flush_stock({{"A", 3}}));

    before_a_ = sale_of("A");
    before_b_ = sale_of("B");
    restart();
  }

  TimeMs starts_ = 0, ends_ = 0;
  std::map<std::string, std::string> ids_;
  SaleView before_a_, before_b_;
};

TEST_F(MemoryStoreRestoreTest, SalesComeBackWithTheirRemainingStock) {
  const SaleView a = sale_of("A");
  EXPECT_EQ(a.sale.item, "item of A");
  EXPECT_EQ(a.sale.stock, 6);
  EXPECT_EQ(a.sale.starts_at, starts_);
  EXPECT_EQ(a.sale.ends_at, ends_);
  EXPECT_EQ(a.remaining, before_a_.remaining);
  EXPECT_EQ(a.remaining, 2);  // u1, u3, u4, u5 hold a unit; u2's went back
  EXPECT_EQ(a.remaining_db, 3);
  const SaleView b = sale_of("B");
  EXPECT_EQ(b.sale.stock, 3);
  EXPECT_FALSE(b.sale.starts_at);
  EXPECT_FALSE(b.sale.ends_at);
  EXPECT_EQ(b.remaining, before_b_.remaining);
  EXPECT_FALSE(b.remaining_db);
  expect_stock_invariant("A");
  expect_stock_invariant("B");
}

TEST_F(MemoryStoreRestoreTest, OrdersComeBackWithStatusAndVersion) {
  const auto u1 = order_view("A", ids_["u1"]);
  EXPECT_EQ(u1.order.status, OrderStatus::paid);
  EXPECT_EQ(u1.order.version, 4u);
  EXPECT_EQ(u1.order.payment_id, "pay-u1");
  const auto u2 = order_view("A", ids_["u2"]);
  EXPECT_EQ(u2.order.status, OrderStatus::failed);
  EXPECT_EQ(u2.order.version, 3u);
  EXPECT_EQ(u2.order.reason, "downstream_refused");
  const auto u3 = order_view("A", ids_["u3"]);
  EXPECT_EQ(u3.order.status, OrderStatus::confirmed);
  EXPECT_EQ(u3.order.version, 3u);
  const auto u5 = order_view("A", ids_["u5"]);
  EXPECT_EQ(u5.order.status, OrderStatus::queued);
  EXPECT_EQ(u5.order.version, 1u);
  const auto b1 = order_view("B", ids_["b1"]);
  EXPECT_EQ(b1.order.status, OrderStatus::queued);
  EXPECT_EQ(b1.order.version, 1u);
  EXPECT_EQ(b1.order.user_id, "b1");

  const SaleView a = sale_of("A");
  EXPECT_EQ(a.counts[idx(OrderStatus::paid)], 1u);
  EXPECT_EQ(a.counts[idx(OrderStatus::failed)], 1u);
  EXPECT_EQ(a.counts[idx(OrderStatus::confirmed)], 1u);
  EXPECT_EQ(a.counts[idx(OrderStatus::processing)], 0u);
  EXPECT_EQ(a.counts[idx(OrderStatus::queued)], 2u);
}

TEST_F(MemoryStoreRestoreTest, ProcessingOrdersComeBackQueuedAtTheNextVersion) {
  const auto u4 = order_view("A", ids_["u4"]);
  EXPECT_EQ(u4.order.status, OrderStatus::queued);
  EXPECT_EQ(u4.order.version, 3u);  // PROCESSING was 2; going back in line is a change
  EXPECT_EQ(u4.position, 1u);
  EXPECT_EQ(order_view("A", ids_["u5"]).position, 2u);
}

TEST_F(MemoryStoreRestoreTest, QueueResumesInIntakeOrder) {
  EXPECT_EQ(store_->queue_depth(), 3u);
  std::vector<std::string> of_a, of_b;
  for (int i = 0; i < 3; ++i) {
    const Order o = claimed();
    (o.sale_id == "A" ? of_a : of_b).push_back(o.order_id);
  }
  EXPECT_EQ(of_a, (std::vector<std::string>{ids_["u4"], ids_["u5"]}));
  EXPECT_EQ(of_b, (std::vector<std::string>{ids_["b1"]}));
  EXPECT_FALSE(store_->claim(10ms));
}

// The journal is written with wall-clock times; a clock stepped back (NTP)
// between two intakes of one sale must not reorder its line after a restart.
// Buckets are for Redis: the memory store records the number, keeps one stock and never moves any.
TEST_F(MemoryStoreTest, ABucketedSaleKeepsOneStockAndItsNumberOfBucketsThroughARestart) {
  Sale s = make_sale("hot", 5);
  s.buckets = 4;
  {
    Pending<SaleView> created;
    store_->create_sale(s, created.callback());
    const auto view = created.get();
    ASSERT_TRUE(view);
    EXPECT_EQ(view->sale.buckets, 4);
    EXPECT_TRUE(view->buckets.empty());
    EXPECT_EQ(view->in_transit, 0);
  }
  for (int i = 0; i < 5; ++i) {
    Pending<IntakeOutcome> bought;
    store_->intake("hot", numbered("u", i), bought.callback());
    ASSERT_TRUE(bought.get());
  }
  Pending<IntakeOutcome> refused;
  store_->intake("hot", "late", refused.callback());
  const auto late = refused.get();
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, flashgate::domain::ErrorCode::sold_out);
  EXPECT_EQ(store_->rebalance_buckets(), 0);
  restart();
  Pending<SaleView> again;
  store_->get_sale("hot", again.callback());
  const auto view = again.get();
  ASSERT_TRUE(view);
  EXPECT_EQ(view->sale.buckets, 4);
  EXPECT_EQ(view->remaining, 0);
}

TEST_F(MemoryStoreTest, ARestartRebuildsEachItemsRemainingCountsAndLimits) {
  Sale s = make_sale("launch", 8);
  s.items = {flashgate::domain::SaleItem{"phone", "Phone X", 3, 1}, flashgate::domain::SaleItem{"buds", "Buds", 5, 3}};
  ASSERT_TRUE(create_sale(s));
  const auto phone = intake("launch", flashgate::store::IntakeRequest{"ann", 1, {}, "phone"});
  ASSERT_TRUE(phone);
  const auto buds = intake("launch", flashgate::store::IntakeRequest{"ann", 2, "a", "buds"});
  ASSERT_TRUE(buds);
  ASSERT_TRUE(intake("launch", flashgate::store::IntakeRequest{"bob", 1, {}, "buds"}));
  const auto failed = claimed();  // ann's phone, the first in line
  ASSERT_EQ(failed.order_id, phone->view.order.order_id);
  ASSERT_TRUE(store_->finish(failed.order_id, OrderStatus::failed, "downstream_refused", ""));
  const SaleView before = sale_of("launch");

  restart();
  const SaleView after = sale_of("launch");
  ASSERT_EQ(after.sale.items.size(), 2u);
  ASSERT_EQ(after.items.size(), 2u);
  EXPECT_EQ(after.remaining, before.remaining);
  EXPECT_EQ(after.counts, before.counts);
  EXPECT_EQ(after.units, before.units);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(after.items[i].item.item_id, before.items[i].item.item_id);
    EXPECT_EQ(after.items[i].remaining, before.items[i].remaining) << after.items[i].item.item_id;
    EXPECT_EQ(after.items[i].counts, before.items[i].counts) << after.items[i].item.item_id;
    EXPECT_EQ(after.items[i].units, before.items[i].units) << after.items[i].item.item_id;
  }
  EXPECT_EQ(after.items[0].remaining, 3);  // the failed phone gave its unit back
  EXPECT_EQ(after.items[1].remaining, 2);
  // Repeats and limits per item, as before the restart.
  const auto again = intake("launch", flashgate::store::IntakeRequest{"ann", 2, "a", "buds"});
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->view.order.order_id, buds->view.order.order_id);
  EXPECT_EQ(again->view.order.item_id, "buds");
  const auto over = intake("launch", flashgate::store::IntakeRequest{"ann", 2, "b", "buds"});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::buyer_limit_reached);
  EXPECT_TRUE(intake("launch", flashgate::store::IntakeRequest{"ann", 1, {}, "phone"}));  // its phone failed: a new one
}

TEST_F(MemoryStoreTest, RestoreKeepsIntakeOrderWhenTheClockSteppedBack) {
  const Sale s = make_sale("s1", 10);
  {
    Pending<SaleView> created;
    store_->create_sale(s, created.callback());
    ASSERT_TRUE(created.get());
  }
  const TimeMs t = now_ms();
  Order first;
  first.order_id = "aaaaaaaaaaaaaaaaaaaa";
  first.sale_id = "s1";
  first.user_id = "u1";
  first.seq = 1;
  first.created_at = first.updated_at = t;
  Order second = first;
  second.order_id = "bbbbbbbbbbbbbbbbbbbb";
  second.user_id = "u2";
  second.seq = 2;
  second.created_at = second.updated_at = t - 1000;  // the clock went back a second
  for (const Order& o : {first, second}) {
    std::promise<bool> durable;
    db_->record_order(o, [&durable](bool ok) { durable.set_value(ok); });
    ASSERT_TRUE(durable.get_future().get());
  }
  restart();

  EXPECT_EQ(order_view("s1", first.order_id).position, 1u);
  EXPECT_EQ(order_view("s1", second.order_id).position, 2u);
  EXPECT_EQ(claimed().order_id, first.order_id) << "the first intake must be served first";
  EXPECT_EQ(claimed().order_id, second.order_id);
}

TEST_F(MemoryStoreRestoreTest, HoldersComeBack) {
  for (const char* u : {"u1", "u3", "u4", "u5"}) {
    const auto again = intake("A", u);
    ASSERT_TRUE(again) << u << ": " << again.error().message;
    EXPECT_FALSE(again->created) << u;
    EXPECT_EQ(again->view.order.order_id, ids_[u]) << u;
  }
  const auto b1 = intake("B", "b1");
  ASSERT_TRUE(b1);
  EXPECT_FALSE(b1->created);
  EXPECT_EQ(b1->view.order.order_id, ids_["b1"]);
  EXPECT_EQ(sale_of("A").remaining, 2);
}

TEST_F(MemoryStoreRestoreTest, UserOfAFailedOrderMayBuyAgain) {
  const auto again = intake("A", "u2");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->created);
  EXPECT_NE(again->view.order.order_id, ids_["u2"]);
  EXPECT_EQ(again->view.order.seq, 6u) << "intake numbers continue after a restart";
  EXPECT_EQ(again->view.position, 3u);  // behind u4 and u5
  EXPECT_EQ(sale_of("A").remaining, 1);
  expect_stock_invariant("A");
}

TEST_F(MemoryStoreRestoreTest, UnpaidConfirmedOrdersStillTimeOut) {
  EXPECT_EQ(store_->cancel_unpaid(now_ms() + 60'000), 1u);
  EXPECT_EQ(order_view("A", ids_["u3"]).order.status, OrderStatus::cancelled);
  EXPECT_EQ(sale_of("A").remaining, 3);
  expect_stock_invariant("A");
}

TEST_F(MemoryStoreRestoreTest, PaidOrderStillAcceptsTheSamePaymentOnly) {
  const auto same = pay(ids_["u1"], "pay-u1");
  ASSERT_TRUE(same) << same.error().message;
  EXPECT_EQ(same->order.version, 4u);
  const auto other = pay(ids_["u1"], "pay-other");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::order_not_payable);
}

TEST_F(MemoryStoreRestoreTest, ASecondRestartChangesNothingMore) {
  restart();
  const auto u4 = order_view("A", ids_["u4"]);
  EXPECT_EQ(u4.order.status, OrderStatus::queued);
  EXPECT_EQ(u4.order.version, 3u) << "the hand-back was journaled, so it is not repeated";
  EXPECT_EQ(sale_of("A").remaining, 2);
  EXPECT_EQ(order_view("A", ids_["u1"]).order.status, OrderStatus::paid);
  EXPECT_EQ(store_->queue_depth(), 3u);
  expect_stock_invariant("A");
}

// Quantities (issue #26): the units, the sale's limit, the request ids and
// each buyer's units come back from the journal.
TEST_F(MemoryStoreTest, QuantitiesAndTheBuyersUnitsComeBackAfterARestart) {
  using flashgate::store::IntakeRequest;
  auto made = make_sale("Q", 10);
  made.max_per_buyer = 4;
  ASSERT_TRUE(create_sale(made));
  const auto a = intake("Q", IntakeRequest{"u1", 3, "a"});
  ASSERT_TRUE(a) << a.error().message;
  const auto failing = intake("Q", IntakeRequest{"u2", 4, {}});
  ASSERT_TRUE(failing) << failing.error().message;
  ASSERT_EQ(claimed().order_id, a->view.order.order_id);
  ASSERT_EQ(claimed().order_id, failing->view.order.order_id);
  ASSERT_TRUE(store_->finish(failing->view.order.order_id, OrderStatus::failed, "no", ""));
  restart();

  const SaleView q = sale_of("Q");
  EXPECT_EQ(q.sale.max_per_buyer, 4);
  EXPECT_EQ(q.remaining, 7);
  EXPECT_EQ(q.units[idx(OrderStatus::queued)], 3u) << "left PROCESSING, queued again";
  EXPECT_EQ(q.units[idx(OrderStatus::failed)], 4u);
  expect_stock_invariant("Q");
  const auto again = intake("Q", IntakeRequest{"u1", 3, "a"});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->view.order.order_id, a->view.order.order_id);
  EXPECT_EQ(again->view.order.quantity, 3);
  const auto over = intake("Q", IntakeRequest{"u1", 2, "b"});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::buyer_limit_reached);
  EXPECT_TRUE(intake("Q", IntakeRequest{"u1", 1, "b"}));
  EXPECT_TRUE(intake("Q", IntakeRequest{"u2", 4, {}})) << "the failed order gave u2's allowance back";
  EXPECT_EQ(sale_of("Q").remaining, 2);
  expect_stock_invariant("Q");
}

// --- a journal that fails on demand ---

class ScriptedJournal final : public Journal {
 public:
  std::function<bool(const Order&)> durable = [](const Order&) { return true; };
  void record_sale(const Sale&, Done done) override {
    if (done) done(true);
    commit_ended();
  }
  void record_order(Order order, Done done) override {
    const bool ok = durable(order);
    if (done) done(ok);
    commit_ended();
  }
  void barrier(Done done) override {
    if (done) done(true);
    commit_ended();
  }
  JournalState load() override { return {}; }
};

class MemoryStoreFailingJournalTest : public ::testing::Test, protected StoreCalls {
 protected:
  void SetUp() override {
    store = &store_;
    ASSERT_TRUE(create_sale(make_sale("s1", 5)));
  }
  OrderView accepted(const std::string& user) {
    auto r = intake("s1", user);
    EXPECT_TRUE(r) << user << ": " << r.error().message;
    return r ? r->view : OrderView{};
  }
  ScriptedJournal journal_;
  MemoryStore store_{journal_};
};

TEST_F(MemoryStoreFailingJournalTest, IntakeThatCannotBeMadeDurableIsRefusedAndUndone) {
  journal_.durable = [](const Order& o) { return o.user_id != "u2"; };
  accepted("u1");
  const auto r = intake("s1", "u2");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::unavailable);
  auto s = get_sale("s1");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->remaining, 4);
  EXPECT_EQ(s->counts[idx(OrderStatus::queued)], 1u);
  EXPECT_EQ(store_.queue_depth(), 1u);

  journal_.durable = [](const Order&) { return true; };
  const auto retry = intake("s1", "u2");
  ASSERT_TRUE(retry) << retry.error().message;
  EXPECT_TRUE(retry->created);
}

// position = 1 + orders accepted before this one that no window has started.
TEST_F(MemoryStoreFailingJournalTest, FailedIntakeDoesNotMoveEarlierOrdersForward) {
  journal_.durable = [](const Order& o) { return o.user_id != "u3"; };
  const auto u1 = accepted("u1");
  const auto u2 = accepted("u2");
  ASSERT_FALSE(intake("s1", "u3"));
  const auto u4 = accepted("u4");

  auto v1 = get_order("s1", u1.order.order_id);
  auto v2 = get_order("s1", u2.order.order_id);
  ASSERT_TRUE(v1);
  ASSERT_TRUE(v2);
  EXPECT_EQ(v1->position, 1u);
  EXPECT_EQ(v2->position, 2u) << "u1 is still waiting ahead of u2";
  EXPECT_EQ(u4.position, 3u) << "u1 and u2 are waiting ahead of u4";
}

TEST_F(MemoryStoreFailingJournalTest, PaymentThatCannotBeMadeDurableChangesNothing) {
  const auto id = accepted("u1").order.order_id;
  ASSERT_TRUE(store_.claim(1s));
  ASSERT_TRUE(store_.finish(id, OrderStatus::confirmed, "", ""));
  journal_.durable = [](const Order& o) { return o.status != OrderStatus::paid; };
  const auto r = pay(id, "pay-1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::unavailable);
  auto v = get_order("s1", id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->order.status, OrderStatus::confirmed);
  EXPECT_EQ(v->order.version, 3u);

  journal_.durable = [](const Order&) { return true; };
  const auto retry = pay(id, "pay-1");
  ASSERT_TRUE(retry) << retry.error().message;
  EXPECT_EQ(retry->order.status, OrderStatus::paid);
  EXPECT_EQ(retry->order.version, 4u);
}

TEST_F(MemoryStoreFailingJournalTest, FinishThatCannotBeMadeDurableReportsFailureAndChangesNothing) {
  const auto id = accepted("u1").order.order_id;
  ASSERT_TRUE(store_.claim(1s));
  journal_.durable = [](const Order& o) { return o.status != OrderStatus::confirmed; };
  EXPECT_FALSE(store_.finish(id, OrderStatus::confirmed, "", ""));
  auto v = get_order("s1", id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->order.status, OrderStatus::processing);
  EXPECT_EQ(v->order.version, 2u);
}

TEST_F(MemoryStoreFailingJournalTest, CancellationThatCannotBeMadeDurableIsRetriedLater) {
  const auto id = accepted("u1").order.order_id;
  ASSERT_TRUE(store_.claim(1s));
  ASSERT_TRUE(store_.finish(id, OrderStatus::confirmed, "", ""));
  journal_.durable = [](const Order& o) { return o.status != OrderStatus::cancelled; };
  EXPECT_EQ(store_.cancel_unpaid(now_ms() + 60'000), 0u);
  auto v = get_order("s1", id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->order.status, OrderStatus::confirmed);

  journal_.durable = [](const Order&) { return true; };
  EXPECT_EQ(store_.cancel_unpaid(now_ms() + 60'000), 1u);
  auto after = get_sale("s1");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->remaining, 5);
}

}  // namespace
