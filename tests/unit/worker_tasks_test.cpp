// The worker's periodic business tasks (payment timeouts, stock flush,
// archive rounds) over the memory store and its real SQLite journal, which
// is also the order database, as in the embedded deployment.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "database/sqlite/sqlite_database.hpp"
#include "store/memory/memory_store.hpp"
#include "store_calls.hpp"
#include "worker/archive_rounds.hpp"
#include "worker/stock_flush.hpp"
#include "worker/unpaid_cancellation.hpp"

namespace {

using namespace std::chrono_literals;
using namespace flashgate::testing;
using flashgate::database::SqliteDatabase;
using flashgate::domain::now_ms;
using flashgate::domain::OrderStatus;
using flashgate::store::MemoryStore;
using flashgate::worker::ArchiveRounds;
using flashgate::worker::StockFlush;
using flashgate::worker::UnpaidCancellation;

class WorkerTasks : public ::testing::Test {
 protected:
  WorkerTasks() : db_(dir_.path() / "flashgate.db"), store_(db_) { calls_.store = &store_; }
  ~WorkerTasks() override { db_.close(); }

  // A sale of `stock` and one order in it, taken by a window and confirmed.
  std::string confirmed_order(const std::string& sale_id, std::int64_t stock) {
    EXPECT_TRUE(calls_.create_sale(make_sale(sale_id, stock)));
    auto intake = calls_.intake(sale_id, "buyer of " + sale_id);
    EXPECT_TRUE(intake);
    auto order = store_.claim(store_patience);
    EXPECT_TRUE(order.has_value());
    EXPECT_EQ(order->order_id, intake.value().view.order.order_id);
    EXPECT_TRUE(store_.finish(order->order_id, OrderStatus::confirmed, "", ""));
    return order->order_id;
  }
  OrderStatus status_of(const std::string& sale_id, const std::string& order_id) {
    return calls_.get_order(sale_id, order_id).value().order.status;
  }

  TempDir dir_;
  SqliteDatabase db_;
  MemoryStore store_;
  StoreCalls calls_;
};

TEST_F(WorkerTasks, ASweepCancelsOnlyOrdersUnpaidPastTheTimeout) {
  const auto order_id = confirmed_order("s1", 3);
  UnpaidCancellation timeouts(store_, 60s);
  const auto now = now_ms();
  EXPECT_EQ(timeouts.sweep(now), 0u);
  EXPECT_EQ(status_of("s1", order_id), OrderStatus::confirmed);
  EXPECT_EQ(timeouts.sweep(now + 60'000 + 1), 1u);
  EXPECT_EQ(status_of("s1", order_id), OrderStatus::cancelled);
  EXPECT_EQ(calls_.get_sale("s1").value().remaining, 3) << "the cancelled order's unit is back on sale";
  EXPECT_EQ(timeouts.sweep(now + 60'000 + 1), 0u) << "cancelled twice";
}

TEST_F(WorkerTasks, APaidOrderIsNeverCancelled) {
  const auto order_id = confirmed_order("s1", 3);
  ASSERT_TRUE(calls_.pay(order_id, "p1"));
  UnpaidCancellation timeouts(store_, 60s);
  EXPECT_EQ(timeouts.sweep(now_ms() + 3'600'000), 0u);
  EXPECT_EQ(status_of("s1", order_id), OrderStatus::paid);
}

// On its own thread, with the real clock: a 1 ms timeout is swept every 50 ms.
TEST_F(WorkerTasks, TheStartedTaskCancelsOnItsOwn) {
  const auto order_id = confirmed_order("s1", 3);
  UnpaidCancellation timeouts(store_, 1ms);
  timeouts.start();
  const auto give_up = std::chrono::steady_clock::now() + store_patience;
  while (status_of("s1", order_id) != OrderStatus::cancelled && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(10ms);
  timeouts.stop();
  EXPECT_EQ(status_of("s1", order_id), OrderStatus::cancelled);
}

TEST_F(WorkerTasks, TheSweepIntervalIsAQuarterOfTheTimeoutWithinBounds) {
  EXPECT_EQ(UnpaidCancellation::sweep_interval(1ms), 50ms);
  EXPECT_EQ(UnpaidCancellation::sweep_interval(2000ms), 500ms);
  EXPECT_EQ(UnpaidCancellation::sweep_interval(900'000ms), 1000ms);
}

TEST_F(WorkerTasks, AFlushWritesEachSalesRemainingToTheDatabaseAndTheStore) {
  confirmed_order("s1", 5);
  ASSERT_TRUE(calls_.create_sale(make_sale("s2", 7)));
  StockFlush flush(store_, db_, 1h);
  EXPECT_TRUE(flush.flush());
  EXPECT_EQ(db_.find_sale("s1")->remaining_db, 4);
  EXPECT_EQ(db_.find_sale("s2")->remaining_db, 7);
  EXPECT_EQ(calls_.get_sale("s1").value().remaining_db, 4);
  ASSERT_TRUE(calls_.intake("s2", "another buyer"));
  EXPECT_TRUE(flush.flush());
  EXPECT_EQ(db_.find_sale("s2")->remaining_db, 6);
}

TEST_F(WorkerTasks, AFlushWithNoSaleWritesNothing) {
  StockFlush flush(store_, db_, 1h);
  EXPECT_FALSE(flush.flush());
}

// Stopping flushes a last time: with an hourly flush, only the stop can have
// written what the database holds. That is why the windows stop first.
TEST_F(WorkerTasks, StoppingTheFlushFlushesALastTime) {
  ASSERT_TRUE(calls_.create_sale(make_sale("s1", 10)));
  StockFlush flush(store_, db_, 1h);
  flush.start();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(calls_.intake("s1", numbered("u", i)));
  EXPECT_FALSE(db_.find_sale("s1")->remaining_db.has_value()) << "flushed before an hour passed";
  flush.stop();
  EXPECT_EQ(db_.find_sale("s1")->remaining_db, 7);
}

TEST(ArchiveRounds, ATenthOfTheRetentionWithinBounds) {
  EXPECT_EQ(ArchiveRounds::interval(0), 100ms);
  EXPECT_EQ(ArchiveRounds::interval(5'000), 500ms);
  EXPECT_EQ(ArchiveRounds::interval(86'400'000), 60'000ms);
}

}  // namespace
