// The outcome logs a worker's mirror reads final statuses from: the Redis
// store's (streams with a consumer group, on a real redis-server), whose
// entries survive the worker that took them, and the in-process one fed by
// a change listener.
#include <gtest/gtest.h>

#include <future>
#include <string>

#include "redis_server_fixture.hpp"
#include "store/redis/redis_store.hpp"
#include "worker/outcome_mirror.hpp"

namespace {

using namespace flashgate::testing;
using flashgate::domain::Order;
using flashgate::domain::OrderStatus;
using flashgate::store::OrderView;
using flashgate::store::redis::RedisStore;
using flashgate::store::redis::RedisStoreOptions;

class RedisOutcomeLogTest : public RedisServerTest {
 protected:
  // A worker process's store: its own consumer names, short reclaim time.
  std::unique_ptr<RedisStore> worker_store(const std::string& name) {
    RedisStoreOptions o;
    o.port = port_;
    o.reclaim_after = 300ms;
    o.consumer_prefix = key(name);
    return std::make_unique<RedisStore>(o);
  }

  // An order of a new sale, taken by a window, CONFIRMED and paid.
  Order paid_order(RedisStore& store, const std::string& payment_id) {
    const std::string sale_id = key("sale");
    std::promise<void> created;
    store.create_sale(flashgate::domain::Sale{sale_id, "item", 5, std::nullopt, std::nullopt, 1000},
                      [&](auto result) {
                        EXPECT_TRUE(result) << result.error().message;
                        created.set_value();
                      });
    created.get_future().wait();
    std::promise<void> accepted;
    store.intake(sale_id, "alice", [&](auto result) {
      EXPECT_TRUE(result) << result.error().message;
      accepted.set_value();
    });
    accepted.get_future().wait();
    std::optional<Order> claimed;
    for (auto start = Clock::now(); !claimed && since(start) < patience;) claimed = store.claim(200ms);
    EXPECT_TRUE(claimed);
    if (!claimed) return {};
    EXPECT_TRUE(store.finish(claimed->order_id, OrderStatus::confirmed, "", ""));
    std::promise<void> paid;
    store.pay(claimed->order_id, payment_id, [&](auto result) {
      EXPECT_TRUE(result) << result.error().message;
      paid.set_value();
    });
    paid.get_future().wait();
    return *claimed;
  }

  // take() until something comes or patience runs out.
  static std::vector<flashgate::store::OutcomeLog::Entry> take_some(RedisStore& store) {
    std::vector<flashgate::store::OutcomeLog::Entry> taken;
    for (auto start = Clock::now(); taken.empty() && since(start) < patience;) taken = store.take(200ms);
    return taken;
  }
};

TEST_F(RedisOutcomeLogTest, AnOutcomeNotRecordedByADeadWorkerIsHandedToAnotherOne) {
  auto first = worker_store("first");
  const Order order = paid_order(*first, "pay-1");
  ASSERT_FALSE(order.order_id.empty());

  auto taken = take_some(*first);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].order.order_id, order.order_id);
  EXPECT_EQ(taken[0].order.status, OrderStatus::paid);
  EXPECT_EQ(taken[0].order.payment_id, "pay-1");
  first.reset();  // the worker dies without recording it

  auto second = worker_store("second");
  auto again = take_some(*second);  // after reclaim_after
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].order.order_id, order.order_id);
  EXPECT_EQ(again[0].order.status, OrderStatus::paid);
  second->recorded(again[0]);

  RedisClient client(options());
  ASSERT_TRUE(client.wait_connected(patience));
  EXPECT_EQ(client.command_sync({"XLEN", again[0].stream}).integer, 0) << "a recorded outcome leaves the stream";
  std::this_thread::sleep_for(400ms);  // past reclaim_after: nothing is pending any more
  EXPECT_TRUE(second->take(200ms).empty());
}

TEST_F(RedisOutcomeLogTest, AnOutcomeLoggedWhileNoWorkerReadsIsReadLater) {
  auto gateway = worker_store("gateway");  // the payment happens while no worker takes outcomes
  const Order order = paid_order(*gateway, "pay-2");
  ASSERT_FALSE(order.order_id.empty());
  gateway.reset();

  auto late = worker_store("late");
  auto taken = take_some(*late);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].order.order_id, order.order_id);
  late->recorded(taken[0]);
}

OrderView view_with(OrderStatus status, const std::string& id) {
  OrderView view;
  view.order.order_id = id;
  view.order.status = status;
  return view;
}

TEST(ListenedOutcomesTest, KeepsFinalStatusesUntilRecordedAndHandsEachOutOnce) {
  flashgate::worker::ListenedOutcomes log;
  log.changed(view_with(OrderStatus::queued, "q"));
  log.changed(view_with(OrderStatus::confirmed, "c"));
  log.changed(view_with(OrderStatus::paid, "p"));
  log.changed(view_with(OrderStatus::cancelled, "x"));
  log.changed(view_with(OrderStatus::failed, "f"));

  const auto taken = log.take(0ms);
  ASSERT_EQ(taken.size(), 3u);
  EXPECT_EQ(taken[0].order.order_id, "p");
  EXPECT_EQ(taken[1].order.order_id, "x");
  EXPECT_EQ(taken[2].order.order_id, "f");
  EXPECT_TRUE(log.take(0ms).empty()) << "handed out once";

  log.recorded(taken[1]);
  log.changed(view_with(OrderStatus::paid, "p2"));
  const auto next = log.take(0ms);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].order.order_id, "p2");
}

TEST(ListenedOutcomesTest, TakeWaitsForAnOutcome) {
  flashgate::worker::ListenedOutcomes log;
  auto later = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(50ms);
    log.changed(view_with(OrderStatus::paid, "p"));
  });
  std::vector<flashgate::store::OutcomeLog::Entry> taken;
  for (auto start = Clock::now(); taken.empty() && since(start) < patience;) taken = log.take(patience);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].order.order_id, "p");
}

}  // namespace
