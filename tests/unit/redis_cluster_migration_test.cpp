// The Redis store while a sale's slot migrates between masters, one key at a
// time as redis-cli --cluster reshard moves them. A script may run on the
// source while some of the sale's keys are already on the target: Redis
// checks only the keys a script declares, and the order scripts reach the
// sale's hash (and its buyers' holds) through the order. Each test moves one
// such key first, sends a call while the slot is split, then finishes the
// migration: the call must wait for the slot rather than act on half a sale
// (which made the key again on the source, and the migration's next MIGRATE
// of it fail with BUSYKEY), and answer as if no migration had happened.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "redis_cluster_store_fixture.hpp"
#include "store/redis/cluster/key_slot.hpp"

namespace {

using namespace flashgate::testing;
using flashgate::store::IntakeOutcome;
using flashgate::store::IntakeRequest;
using flashgate::domain::Result;

class RedisClusterMigrationTest : public RedisClusterStoreTest {
 protected:
  // The slot of a sale and the two masters it moves between, the migration begun.
  struct Move {
    std::uint16_t slot = 0, from = 0, to = 0;
  };

  static Move begin_moving(const std::string& sale_id) {
    const SlotMap map = current_map();
    Move move;
    move.slot = key_slot(keys::sale(sale_id));
    move.from = master_of_sale(map, sale_id);
    move.to = another_master(map, move.from);
    begin_migration(move.slot, move.from, move.to);
    return move;
  }

  // While the slot is split, the call has not acted on the source: the key moved is not there again.
  static void expect_not_made_again(const Move& move, const std::string& key) {
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(admin(move.from).command({"EXISTS", key}).integer, 0) << key << " made again on the source";
  }

  static Result<IntakeOutcome> intake(RedisStore& store, const std::string& sale_id, const IntakeRequest& request) {
    std::promise<Result<IntakeOutcome>> answer;
    store.intake(sale_id, request, [&](auto result) { answer.set_value(std::move(result)); });
    return answer.get_future().get();
  }

  static std::string accepted(RedisStore& store, const std::string& sale_id, const std::string& user) {
    const auto outcome = intake(store, sale_id, IntakeRequest{user, 1, ""});
    EXPECT_TRUE(outcome && outcome->created) << (outcome ? "not created" : outcome.error().message);
    return outcome ? outcome->view.order.order_id : "";
  }

  // The next order of the sale claimed by the worker; orders an earlier test left queued are
  // finished on the way.
  static std::string claimed(RedisStore& worker, const std::string& sale_id) {
    for (;;) {
      const auto order = worker.claim(5s);
      EXPECT_TRUE(order.has_value()) << "nothing to claim";
      if (!order || order->sale_id == sale_id) return order ? order->order_id : "";
      EXPECT_TRUE(worker.finish(order->order_id, OrderStatus::confirmed, "", ""));
    }
  }

  // An order of `user` taken through to CONFIRMED (the sale's queue holds no other).
  static std::string confirmed(RedisStore& gateway, RedisStore& worker, const std::string& sale_id,
                               const std::string& user) {
    const std::string order_id = accepted(gateway, sale_id, user);
    EXPECT_EQ(claimed(worker, sale_id), order_id);
    EXPECT_TRUE(worker.finish(order_id, OrderStatus::confirmed, "", ""));
    return order_id;
  }

  // Sent now, answered by the future (mid-migration: once the slot has moved).
  static std::future<Result<OrderView>> pay(RedisStore& gateway, const std::string& order_id) {
    auto answer = std::make_shared<std::promise<Result<OrderView>>>();
    gateway.pay(order_id, "pay-" + order_id, [answer](auto result) { answer->set_value(std::move(result)); });
    return answer->get_future();
  }

  // Sales under way: a confirmed order and a paid one, so that the payment-timeout set and the
  // outcome stream exist (a key a script declares that is missing on the source sends it to the target).
  static void under_way(RedisStore& gateway, RedisStore& worker, const std::string& sale_id) {
    confirmed(gateway, worker, sale_id, "kept");
    const auto paid = pay(gateway, confirmed(gateway, worker, sale_id, "paid")).get();
    EXPECT_TRUE(paid) << paid.error().message;
  }

  static long long count(const std::string& sale_id, const std::string& name) {
    return std::atoll(field(keys::sale(sale_id), name).c_str());
  }

  static std::string sale_named(const std::string& suffix) {
    return std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" + suffix;
  }
};

TEST_F(RedisClusterMigrationTest, APaymentWhileTheSaleHashHasMovedCountsOnTheSaleOnceTheSlotHasMoved) {
  const std::string sale_id = sale_named("pay");
  RedisStore gateway(options("gateway"));
  RedisStore worker(options("worker"));
  create_sale(worker, sale_id, 5);
  under_way(gateway, worker, sale_id);
  const std::string order_id = confirmed(gateway, worker, sale_id, "buyer");

  const Move move = begin_moving(sale_id);
  ASSERT_TRUE(migrate_key(move.from, move.to, keys::sale(sale_id)));
  auto paid = pay(gateway, order_id);
  expect_not_made_again(move, keys::sale(sale_id));
  finish_migration(move.slot, move.from, move.to);

  const auto result = paid.get();
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->order.status, OrderStatus::paid);
  EXPECT_EQ(count(sale_id, "c:PAID"), 2);
  EXPECT_EQ(count(sale_id, "c:CONFIRMED"), 1);
  EXPECT_EQ(count(sale_id, "remaining"), 2);
  worker.stop();
  gateway.stop();
}

TEST_F(RedisClusterMigrationTest, AFailedOrderWhoseHoldHasMovedLetsItsBuyerBuyAgainOnceTheSlotHasMoved) {
  const std::string sale_id = sale_named("fail");
  RedisStore gateway(options("gateway"));
  RedisStore worker(options("worker"));
  create_sale(worker, sale_id, 5);
  under_way(gateway, worker, sale_id);
  const std::string failing = accepted(gateway, sale_id, "buyer");
  ASSERT_EQ(claimed(worker, sale_id), failing);

  const Move move = begin_moving(sale_id);
  ASSERT_TRUE(migrate_key(move.from, move.to, keys::users(sale_id)));
  auto failed = std::async(std::launch::async,
                           [&] { return worker.finish(failing, OrderStatus::failed, "shop_refused", ""); });
  expect_not_made_again(move, keys::users(sale_id));
  finish_migration(move.slot, move.from, move.to);
  ASSERT_TRUE(failed.get());

  EXPECT_EQ(field(keys::order(failing), "status"), "FAILED");
  EXPECT_EQ(count(sale_id, "remaining"), 3) << "the failed order's unit is back";
  const auto again = intake(gateway, sale_id, IntakeRequest{"buyer", 1, ""});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->created) << "the buyer still held the failed order";
  EXPECT_NE(again->view.order.order_id, failing);
  worker.stop();
  gateway.stop();
}

TEST_F(RedisClusterMigrationTest, ARepeatedRequestWhoseOrderHasMovedFindsTheSameOrderOnceTheSlotHasMoved) {
  const std::string sale_id = sale_named("repeat");
  RedisStore gateway(options("gateway"));
  flashgate::domain::Sale sale{sale_id, "item", 10, std::nullopt, std::nullopt, 1000};
  sale.max_per_buyer = 3;  // the buyers' held units have a hash of their own, which the intake names
  std::promise<void> created;
  gateway.create_sale(sale, [&](auto result) {
    EXPECT_TRUE(result) << result.error().message;
    created.set_value();
  });
  created.get_future().wait();
  const IntakeRequest request{"buyer", 2, "request-1"};
  const auto first = intake(gateway, sale_id, request);
  ASSERT_TRUE(first && first->created);
  const std::string order_id = first->view.order.order_id;

  const Move move = begin_moving(sale_id);
  ASSERT_TRUE(migrate_key(move.from, move.to, keys::order(order_id)));
  auto repeated = std::async(std::launch::async, [&] { return intake(gateway, sale_id, request); });
  std::this_thread::sleep_for(300ms);
  finish_migration(move.slot, move.from, move.to);

  const auto again = repeated.get();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->view.order.order_id, order_id);
  EXPECT_EQ(again->view.order.quantity, 2);
  EXPECT_EQ(count(sale_id, "remaining"), 8);
  gateway.stop();
}

TEST_F(RedisClusterMigrationTest, AWriteSentToTheTargetMidMigrationWaitsForTheTargetsReplica) {
  const std::string sale_id = sale_named("wait");
  auto gateway_options = options("gateway");
  gateway_options.wait_timeout = 300ms;
  RedisStore gateway(gateway_options);
  RedisStore worker(options("worker"));
  create_sale(worker, sale_id, 5);
  under_way(gateway, worker, sale_id);
  const std::string order_id = confirmed(gateway, worker, sale_id, "buyer");

  // Every key of the sale on the target, one other key of its slot left: the slot is still
  // the source's, which sends the payment on by ASK, and the target runs it.
  const std::string filler = keys::prefix(flashgate::domain::sale_tag(sale_id)) + "filler";
  ok_or_fail(admin(master_of_sale(current_map(), sale_id)), {"SET", filler, "stays"});
  const Move move = begin_moving(sale_id);
  const Reply in_slot = admin(move.from).command({"CLUSTER", "GETKEYSINSLOT", std::to_string(move.slot), "1000"});
  for (const auto& key : in_slot.elements) {
    if (key.str == filler) continue;
    ASSERT_TRUE(migrate_key(move.from, move.to, key.str));
  }
  // The target's replica stopped: nothing written there reaches a replica.
  std::uint16_t replica = 0;
  const SlotMap map = current_map();
  for (const auto& shard : map.shards())
    if (shard.master.port == move.to && !shard.replicas.empty()) replica = shard.replicas.front().port;
  ASSERT_NE(replica, 0) << "the target has no replica";
  const Reply server = admin(replica).command({"INFO", "server"});
  const auto pid_at = server.str.find("process_id:");
  ASSERT_NE(pid_at, std::string::npos);
  const pid_t pid = std::atoi(server.str.c_str() + pid_at + 11);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);

  const auto unreplicated = pay(gateway, order_id).get();
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  ASSERT_FALSE(unreplicated) << "answered paid though the target's replica has not got it";
  EXPECT_EQ(unreplicated.error().code, flashgate::domain::ErrorCode::unavailable);
  const auto retried = pay(gateway, order_id).get();  // the same payment finds the order paid
  ASSERT_TRUE(retried) << retried.error().message;
  EXPECT_EQ(retried->order.status, OrderStatus::paid);

  finish_migration(move.slot, move.from, move.to);
  EXPECT_EQ(count(sale_id, "c:PAID"), 2);
  worker.stop();
  gateway.stop();
}

}  // namespace
