// The draw of a draw sale in the embedded store (memory + SQLite journal):
// entrants, the draw done once with a durable seed, the result applied and
// told, restarts before and after it, latecomers. The draw's own rules are
// draw_test.cpp's; here, what the store keeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "database/sqlite/sqlite_database.hpp"
#include "domain/draw.hpp"
#include "domain/time.hpp"
#include "store/memory/memory_store.hpp"
#include "store_calls.hpp"

namespace {

using namespace std::chrono_literals;
using namespace flashgate::testing;
using flashgate::database::SqliteDatabase;
using flashgate::domain::Admission;
using flashgate::domain::DrawEntrant;
using flashgate::domain::ErrorCode;
using flashgate::domain::now_ms;
using flashgate::domain::Order;
using flashgate::domain::OrderStatus;
using flashgate::domain::Sale;
using flashgate::domain::TimeMs;
using flashgate::store::DrawRecord;
using flashgate::store::IntakeRequest;
using flashgate::store::JournalState;
using flashgate::store::MemoryStore;

constexpr std::int64_t window_ms = 60'000;

class MemoryStoreDrawTest : public ::testing::Test, protected StoreSteps {
 protected:
  void SetUp() override { open(); }
  void TearDown() override { shut(); }

  void open() {
    db_ = std::make_unique<SqliteDatabase>(dir_.path() / "flashgate.db");
    store_ = std::make_unique<MemoryStore>(*db_);
    store = store_.get();
    changes_.attach(*store_);
  }
  void shut() {
    if (db_) db_->close();
    store = nullptr;
    store_.reset();
    db_.reset();
  }
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

  // A draw sale whose window is open now: it started a moment ago, entry has been open an hour.
  Sale draw_sale(const std::string& id, std::int64_t stock, std::int64_t max_per_buyer = 1) {
    Sale s = make_sale(id, stock, now_ms() - 1000);
    s.max_per_buyer = max_per_buyer;
    s.admission = {Admission::draw, window_ms, 3'600'000};
    EXPECT_FALSE(flashgate::domain::validate_admission(s, s.admission));
    auto created = create_sale(s);
    EXPECT_TRUE(created) << created.error().message;
    return s;
  }
  TimeMs after_window(const Sale& s) { return flashgate::domain::draw_at(s, s.admission) + 1; }

  std::vector<std::string> enter_all(const std::string& sale_id, int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      auto r = intake(sale_id, numbered("buyer-", i));
      EXPECT_TRUE(r) << r.error().message;
      if (!r) continue;
      EXPECT_EQ(r->view.order.status, OrderStatus::entered);
      ids.push_back(r->view.order.order_id);
    }
    return ids;
  }

  // What the journal says each order is now.
  std::map<std::string, Order> journal_orders() {
    std::map<std::string, Order> out;
    for (auto& o : db_->load().orders) out[o.order_id] = o;
    return out;
  }

  std::optional<DrawRecord> journal_draw(const std::string& sale_id) {
    for (auto& d : db_->load().draws)
      if (d.sale_id == sale_id) return d;
    return std::nullopt;
  }

  // The positions the draw must give, recomputed from the journal's entrants and seed.
  std::map<std::string, std::uint32_t> recomputed(const std::vector<std::string>& ids, std::int64_t stock,
                                                  const flashgate::domain::DrawSeed& seed) {
    auto orders = journal_orders();
    std::vector<DrawEntrant> entrants;
    for (const auto& id : ids) entrants.push_back({id, orders[id].user_id, orders[id].quantity, orders[id].created_at});
    const auto result = flashgate::domain::run_draw(entrants, stock, seed);
    std::map<std::string, std::uint32_t> out;
    for (std::size_t i = 0; i < ids.size(); ++i) out[ids[i]] = result.position[i];
    return out;
  }

  void expect_drawn_as(const std::map<std::string, std::uint32_t>& positions) {
    auto orders = journal_orders();
    for (const auto& [id, position] : positions) {
      const auto view = order_view(orders[id].sale_id, id);
      if (position) {
        EXPECT_EQ(view.order.status, OrderStatus::queued) << id;
        EXPECT_EQ(view.position, position) << id;
      } else {
        EXPECT_EQ(view.order.status, OrderStatus::not_drawn) << id;
      }
      EXPECT_EQ(orders[id].status, view.order.status) << id << ": the journal agrees";
    }
  }

  TempDir dir_;
  std::unique_ptr<SqliteDatabase> db_;
  std::unique_ptr<MemoryStore> store_;
  ChangeLog changes_;
};

TEST_F(MemoryStoreDrawTest, EntrantsAreEnteredWithTheDrawTimeAndHoldNoUnit) {
  const auto s = draw_sale("d1", 3);
  const auto ids = enter_all("d1", 5);
  const auto view = order_view("d1", ids[0]);
  EXPECT_EQ(view.order.status, OrderStatus::entered);
  ASSERT_TRUE(view.draw_at);
  EXPECT_EQ(*view.draw_at, flashgate::domain::draw_at(s, s.admission));
  EXPECT_EQ(view.position, 0u);
  EXPECT_GE(view.poll_after_ms, 250);
  const auto sale_view = sale_of("d1");
  EXPECT_EQ(sale_view.remaining, 3);
  EXPECT_EQ(sale_view.counts[idx(OrderStatus::entered)], 5u);
  EXPECT_EQ(sale_view.queue_depth, 0u);
  expect_stock_invariant("d1");
  // One entry per buyer: a repeat returns it.
  auto again = intake("d1", "buyer-0");
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->view.order.order_id, ids[0]);
  // Nothing drawn before the window ends.
  EXPECT_EQ(store_->run_due_draws(now_ms()), 0u);
}

TEST_F(MemoryStoreDrawTest, BeforeThePrequeueTheSaleIsNotOpen) {
  Sale s = make_sale("early", 3, now_ms() + 3'600'000);
  s.admission = {Admission::draw, window_ms, 60'000};
  ASSERT_TRUE(create_sale(s));
  auto r = intake("early", "buyer");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::sale_not_open);
}

TEST_F(MemoryStoreDrawTest, TheDrawQueuesTheFirstStockInDrawOrderAndTheRestAreNotDrawn) {
  const auto s = draw_sale("d2", 4);
  const auto ids = enter_all("d2", 10);
  ASSERT_EQ(store_->run_due_draws(after_window(s)), 1u);
  EXPECT_EQ(store_->run_due_draws(after_window(s)), 0u) << "drawn once";

  const auto draw = journal_draw("d2");
  ASSERT_TRUE(draw);
  EXPECT_TRUE(draw->applied);
  EXPECT_EQ(draw->entrants, 10u);
  const auto positions = recomputed(ids, 4, draw->seed);
  expect_drawn_as(positions);
  const auto v = sale_of("d2");
  EXPECT_EQ(v.counts[idx(OrderStatus::queued)], 4u);
  EXPECT_EQ(v.counts[idx(OrderStatus::not_drawn)], 6u);
  EXPECT_EQ(v.counts[idx(OrderStatus::entered)], 0u);
  EXPECT_EQ(v.remaining, 0);
  expect_stock_invariant("d2");
  // Every entrant was told of its result.
  for (const auto& id : ids) EXPECT_TRUE(changes_.told(id, 2)) << id;
  // The windows take them in draw order.
  std::vector<std::string> by_position(4);
  for (const auto& [id, position] : positions)
    if (position) by_position[position - 1] = id;
  for (const auto& id : by_position) EXPECT_EQ(claimed().order_id, id);
}

TEST_F(MemoryStoreDrawTest, LatecomersWaitForTheDrawThenComeFirstComeBehindTheDrawn) {
  const auto s = draw_sale("d3", 5);
  enter_all("d3", 3);
  // The window is over by the drawer's clock but not drawn yet: entry is closed from the freeze on.
  ASSERT_EQ(store_->run_due_draws(after_window(s)), 1u);
  auto late = intake("d3", "latecomer");
  ASSERT_TRUE(late) << late.error().message;
  EXPECT_EQ(late->view.order.status, OrderStatus::queued);
  EXPECT_EQ(late->view.position, 4u) << "behind the three drawn";
  expect_stock_invariant("d3");
}

TEST_F(MemoryStoreDrawTest, AfterTheDrawARestartKeepsTheResultAndTheLineInDrawOrder) {
  const auto s = draw_sale("d4", 6);
  const auto ids = enter_all("d4", 12);
  ASSERT_EQ(store_->run_due_draws(after_window(s)), 1u);
  const auto seed = journal_draw("d4")->seed;
  const auto positions = recomputed(ids, 6, seed);
  restart();
  EXPECT_EQ(store_->run_due_draws(after_window(s)), 0u) << "a restart draws nothing again";
  EXPECT_EQ(journal_draw("d4")->seed, seed);
  expect_drawn_as(positions);
  expect_stock_invariant("d4");
  std::vector<std::string> by_position(6);
  for (const auto& [id, position] : positions)
    if (position) by_position[position - 1] = id;
  for (const auto& id : by_position) EXPECT_EQ(claimed().order_id, id);
}

TEST_F(MemoryStoreDrawTest, ASeedWithoutAResultIsDrawnAgainWithThatSeedAfterARestart) {
  const auto s = draw_sale("d5", 3);
  const auto ids = enter_all("d5", 8);
  // A crash between the seed's commit and the result's: the journal holds the seed only.
  const auto seed = flashgate::domain::random_draw_seed();
  std::promise<bool> stored;
  db_->record_draw_seed(DrawRecord{"d5", seed, now_ms(), ids.size(), false}, [&](bool ok) { stored.set_value(ok); });
  ASSERT_TRUE(stored.get_future().get());
  restart();
  // Entry stays closed until the draw is applied; an entrant's repeat still finds its order.
  auto late = intake("d5", "latecomer");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::unavailable);
  auto repeat = intake("d5", "buyer-0");
  ASSERT_TRUE(repeat) << repeat.error().message;
  EXPECT_FALSE(repeat->created);
  EXPECT_EQ(repeat->view.order.status, OrderStatus::entered);
  ASSERT_EQ(store_->run_due_draws(after_window(s)), 1u);
  EXPECT_EQ(journal_draw("d5")->seed, seed);
  expect_drawn_as(recomputed(ids, 3, seed));
  expect_stock_invariant("d5");
}

TEST_F(MemoryStoreDrawTest, AnEntrantsRestartBeforeTheDrawStaysEntered) {
  const auto s = draw_sale("d6", 2);
  const auto ids = enter_all("d6", 4);
  restart();
  EXPECT_EQ(order_view("d6", ids[1]).order.status, OrderStatus::entered);
  EXPECT_EQ(sale_of("d6").counts[idx(OrderStatus::entered)], 4u);
  auto again = intake("d6", "buyer-1");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->view.order.order_id, ids[1]);
  ASSERT_EQ(store_->run_due_draws(after_window(s)), 1u);
  expect_drawn_as(recomputed(ids, 2, journal_draw("d6")->seed));
}

TEST_F(MemoryStoreDrawTest, ABuyersEntriesCountAgainstTheirLimitAndNoOrderIsCutToAPart) {
  const auto s = draw_sale("d7", 2, 3);
  auto alice = intake("d7", IntakeRequest{"alice", 2, "r1"});
  ASSERT_TRUE(alice) << alice.error().message;
  EXPECT_EQ(alice->view.order.status, OrderStatus::entered);
  auto over = intake("d7", IntakeRequest{"alice", 2, "r2"});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::buyer_limit_reached);
  auto bob = intake("d7", IntakeRequest{"bob", 1, "r1"});
  ASSERT_TRUE(bob);
  ASSERT_EQ(store_->run_due_draws(after_window(s)), 1u);
  // Two units: whoever is drawn first, the other does not fit whole.
  const auto a = order_view("d7", alice->view.order.order_id).order.status;
  const auto b = order_view("d7", bob->view.order.order_id).order.status;
  EXPECT_EQ((a == OrderStatus::queued) + (b == OrderStatus::queued), 1);
  EXPECT_EQ((a == OrderStatus::not_drawn) + (b == OrderStatus::not_drawn), 1);
  expect_stock_invariant("d7");
}

TEST_F(MemoryStoreDrawTest, ADrawWithNoEntrantsLeavesTheSaleFirstCome) {
  const auto s = draw_sale("d8", 2);
  ASSERT_EQ(store_->run_due_draws(after_window(s)), 1u);
  EXPECT_EQ(journal_draw("d8")->entrants, 0u);
  auto r = intake("d8", "first");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->view.order.status, OrderStatus::queued);
  EXPECT_EQ(r->view.position, 1u);
}

}  // namespace
