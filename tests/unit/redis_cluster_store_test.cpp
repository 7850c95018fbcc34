// The Redis store on a real Redis Cluster of 3 masters and 3 replicas
// (issue #25): sales whose tags are on every master reach every process (the
// change feeds, the queues and the outcome streams of each shard), and a
// master SIGKILLed mid-sale loses no accepted order: every intake answered
// 202 waited for a replica, and the workers finish every one of them, once,
// after the replica is promoted. The store contract runs on the cluster too
// (store_contract_test.cpp).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "domain/bucket.hpp"
#include "domain/ids.hpp"
#include "domain/order.hpp"
#include "domain/sale.hpp"
#include "redis_cluster_store_fixture.hpp"
#include "store/redis/redis_keys.hpp"
#include "store/redis/bucket_tags.hpp"
#include "store/redis/redis_store.hpp"
#include "store/redis/stream_reads.hpp"

namespace {

using namespace flashgate::testing;

TEST_F(RedisClusterStoreTest, EveryMastersFeedQueueAndOutcomesReachEveryProcess) {
  const auto sales = a_sale_on_every_master(current_map());
  auto gateway = std::make_unique<RedisStore>(options("gateway"));
  auto worker = std::make_unique<RedisStore>(options("worker"));
  std::mutex mutex;
  std::condition_variable told;
  std::map<std::string, std::set<OrderStatus>> heard;  // order -> statuses the gateway's listener heard
  gateway->on_change([&](const OrderView& view) {
    std::lock_guard lock(mutex);
    heard[view.order.order_id].insert(view.order.status);
    told.notify_all();
  });
  gateway->follow_changes();
  for (const auto& [master, sale_id] : sales) create_sale(*worker, sale_id, 10);

  std::set<std::string> accepted;
  std::set<std::uint16_t> masters_of_orders;
  for (const auto& [master, sale_id] : sales)
    for (const char* user : {"alice", "bob"}) {
      const auto order_id = try_intake(*gateway, sale_id, user);
      ASSERT_FALSE(order_id.empty());
      accepted.insert(order_id);
      masters_of_orders.insert(master);
    }
  ASSERT_EQ(accepted.size(), 6u);
  EXPECT_EQ(masters_of_orders.size(), 3u);

  const auto heard_all = [&](OrderStatus status) {
    std::unique_lock lock(mutex);
    return told.wait_for(lock, patience, [&] {
      for (const auto& id : accepted)
        if (!heard[id].contains(status)) return false;
      return true;
    });
  };
  EXPECT_TRUE(heard_all(OrderStatus::queued)) << "the gateway's feed missed a master's change stream";

  // The worker's window reads every master's queue.
  std::set<std::string> claimed;
  for (auto start = Clock::now(); claimed.size() < accepted.size() && since(start) < patience;)
    if (auto order = worker->claim(100ms)) {
      claimed.insert(order->order_id);
      ASSERT_TRUE(worker->finish(order->order_id, OrderStatus::failed, "refused", ""));
    }
  EXPECT_EQ(claimed, accepted) << "a master's queue was not read";
  EXPECT_TRUE(heard_all(OrderStatus::failed));

  // And its outcome log every master's outcome stream.
  std::set<std::string> outcomes;
  for (auto start = Clock::now(); outcomes.size() < accepted.size() && since(start) < patience;)
    for (const auto& entry : worker->take(100ms)) {
      outcomes.insert(entry.order.order_id);
      worker->recorded(entry);
    }
  EXPECT_EQ(outcomes, accepted) << "a master's outcome stream was not read";
  EXPECT_EQ(worker->outcome_backlog(), 0u);
  worker->stop();
  gateway->stop();
}

// One read of streams on three masters: each slot read apart (a cluster
// refuses CROSSSLOT), the answers together; a slot's error reported beside
// the entries the others gave; nothing new answers nothing.
TEST_F(RedisClusterStoreTest, AReadOfStreamsInSeveralSlotsGathersEverySlotsEntries) {
  ClusterConnection connection(seeded_by_first_node());
  ASSERT_TRUE(connection.refresh());
  std::map<std::uint16_t, std::string> by_master;  // a stream per master
  for (int i = 0; by_master.size() < 3 && i < 10'000; ++i) {
    const auto stream = tagged("reads-" + std::to_string(i), ":stream");
    if (const auto* master = connection.slot_map().master_of(key_slot(stream))) by_master.emplace(master->port, stream);
  }
  ASSERT_EQ(by_master.size(), 3u);
  std::vector<std::pair<std::string, std::string>> from_start;
  for (const auto& [master, stream] : by_master) {
    ASSERT_TRUE(connection.command({"XADD", stream, "*", "at", std::to_string(master)}).ok());
    from_start.emplace_back(stream, "0-0");
  }
  flashgate::store::redis::StreamReads reads;
  const auto all = reads.read(connection, {"XREAD", "COUNT", "10"}, 500ms, 2s, from_start);
  EXPECT_EQ(all.first_error.type, Reply::Type::nil) << describe(all.first_error);
  std::set<std::string> read_streams;
  for (const auto& stream : all.streams.elements) read_streams.insert(stream.elements.at(0).str);
  EXPECT_EQ(read_streams.size(), 3u) << describe(all.streams);

  // A group on two of the three: their entries, and NOGROUP for the third.
  const auto lacking = by_master.begin()->second;
  for (const auto& [master, stream] : by_master) {
    if (stream == lacking) continue;
    ASSERT_TRUE(connection.command_for_key(stream, {"XGROUP", "CREATE", stream, "g", "0"}).ok());
  }
  std::vector<std::pair<std::string, std::string>> new_to_group;
  for (const auto& [stream, id] : from_start) new_to_group.emplace_back(stream, ">");
  const auto grouped = reads.read(connection, {"XREADGROUP", "GROUP", "g", "c", "COUNT", "10"}, 500ms, 2s, new_to_group);
  EXPECT_EQ(grouped.streams.elements.size(), 2u) << describe(grouped.streams);
  EXPECT_EQ(grouped.first_error.str.rfind("NOGROUP", 0), 0u) << describe(grouped.first_error);

  // Read up to their ends: nothing, after a short wait on one slot.
  std::vector<std::pair<std::string, std::string>> at_end;
  for (const auto& stream : all.streams.elements)
    at_end.emplace_back(stream.elements.at(0).str, stream.elements.at(1).elements.back().elements.at(0).str);
  const auto nothing = reads.read(connection, {"XREAD", "COUNT", "10"}, 500ms, 2s, at_end);
  EXPECT_TRUE(nothing.streams.elements.empty()) << describe(nothing.streams);
  EXPECT_EQ(nothing.first_error.type, Reply::Type::nil) << describe(nothing.first_error);
}

// Intakes in flight together share their WAITs: one per master connection
// at a time, covering every intake whose script answered before it was sent.
TEST_F(RedisClusterStoreTest, IntakesInFlightTogetherShareTheirWaitForAReplica) {
  const SlotMap map = current_map();
  const std::string sale_id = a_sale_on_every_master(map).begin()->second;
  const std::uint16_t master = master_of_sale(map, sale_id);
  auto gateway = std::make_unique<RedisStore>(options("gateway"));
  create_sale(*gateway, sale_id, 1000);
  ok_or_fail(admin(master), {"CONFIG", "RESETSTAT"});
  constexpr int buyers = 300;
  std::vector<std::promise<bool>> answers(buyers);
  for (int i = 0; i < buyers; ++i)
    gateway->intake(sale_id, "buyer-" + std::to_string(i), [&answers, i](auto result) {
      EXPECT_TRUE(result) << result.error().message;
      answers[i].set_value(static_cast<bool>(result));
    });
  int accepted = 0;
  for (auto& answer : answers) accepted += answer.get_future().get() ? 1 : 0;
  EXPECT_EQ(accepted, buyers);
  const auto stats = admin(master).command({"INFO", "commandstats"}).str;
  const auto at = stats.find("cmdstat_wait:calls=");
  ASSERT_NE(at, std::string::npos) << "no WAIT reached the sale's master";
  const long waits = std::atol(stats.c_str() + at + std::string_view("cmdstat_wait:calls=").size());
  EXPECT_GE(waits, 1);
  EXPECT_LT(waits, buyers / 2) << "each intake waited on its own";
  RecordProperty("waits_for_300_intakes", static_cast<int>(waits));
  gateway->stop();
}

// More replicas asked than a master has: the intake answers 503 unavailable,
// the order is kept, and the same buyer again gets that very order.
TEST_F(RedisClusterStoreTest, AnIntakeNoReplicaAcknowledgedAnswersUnavailableAndItsRetryFindsTheOrder) {
  const std::string sale_id = a_sale_on_every_master(current_map()).begin()->second;
  auto strict = options("strict");
  strict.wait_replicas = 2;  // each master has one
  strict.wait_timeout = 100ms;
  auto gateway = std::make_unique<RedisStore>(strict);
  create_sale(*gateway, sale_id, 10);
  std::promise<flashgate::domain::Result<flashgate::store::IntakeOutcome>> first;
  gateway->intake(sale_id, "alice", [&](auto result) { first.set_value(std::move(result)); });
  const auto refused = first.get_future().get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, flashgate::domain::ErrorCode::unavailable);
  EXPECT_NE(refused.error().message.find("replica"), std::string::npos) << refused.error().message;
  gateway->stop();

  auto usual = std::make_unique<RedisStore>(options("usual"));
  std::promise<flashgate::domain::Result<flashgate::store::IntakeOutcome>> again;
  usual->intake(sale_id, "alice", [&](auto result) { again.set_value(std::move(result)); });
  const auto found = again.get_future().get();
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_FALSE(found->created) << "the retry made a second order";
  EXPECT_EQ(field(keys::sale(sale_id), "remaining"), "9");
  usual->stop();
}

// A bucketed sale on the cluster, with more replicas asked than a master has:
// a move's take is never followed by its give until a replica has the take
// (the units wait in transit, sold by no one), a recovery that cannot get
// its WAIT gives nothing either, and a bucketed intake answers 503 like any
// other. A store whose WAITs are met then completes the move, once.
TEST_F(RedisClusterStoreTest, ABucketMoveGivesOnlyWhatAReplicaHasTaken) {
  const std::string sale_id = a_sale_on_every_master(current_map()).begin()->second + "-buckets";
  const auto tag0 = flashgate::store::redis::bucket_tag(sale_id, 0, 3);
  const auto tag1 = flashgate::store::redis::bucket_tag(sale_id, 1, 3);
  auto strict = options("strict");
  strict.wait_replicas = 2;  // each master has one
  strict.wait_timeout = 100ms;
  auto gateway = std::make_unique<RedisStore>(strict);
  flashgate::domain::Sale sale{sale_id, "item", 9, std::nullopt, std::nullopt, 1000};
  sale.buckets = 3;
  std::promise<void> created;
  gateway->create_sale(sale, [&](auto result) {
    EXPECT_TRUE(result) << result.error().message;
    created.set_value();
  });
  created.get_future().wait();

  EXPECT_EQ(gateway->bucket_mover().move(sale_id, 3, 0, 1, 2, 0), 0) << "given without a replica of the take";
  EXPECT_EQ(field(keys::sale_in(tag0, sale_id), "remaining"), "1") << "taken: 3 - 2";
  EXPECT_EQ(field(keys::sale_in(tag1, sale_id), "remaining"), "3") << "not given";
  EXPECT_EQ(gateway->bucket_mover().recover(sale_id, 3), 0u) << "a recovery without its WAIT gives nothing";
  EXPECT_EQ(field(keys::sale_in(tag1, sale_id), "remaining"), "3");
  auto whole = gateway->bucket_mover().view(sale_id, 3);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->remaining, 7);
  EXPECT_EQ(whole->in_transit, 2);

  std::string bob = "bob";
  while (flashgate::domain::home_bucket(bob, 3) != 2) bob += "+";  // away from the buckets looked at
  std::promise<flashgate::domain::Result<flashgate::store::IntakeOutcome>> refused;
  gateway->intake(sale_id, bob, [&](auto result) { refused.set_value(std::move(result)); });
  const auto answer = refused.get_future().get();
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, flashgate::domain::ErrorCode::unavailable);
  gateway->stop();

  auto usual = std::make_unique<RedisStore>(options("usual"));
  ASSERT_EQ(usual->wait_replicas(), 1);
  EXPECT_EQ(usual->bucket_mover().recover(sale_id, 3), 1u);
  EXPECT_EQ(usual->bucket_mover().recover(sale_id, 3), 0u) << "given once";
  EXPECT_EQ(field(keys::sale_in(tag1, sale_id), "remaining"), "5");
  whole = usual->bucket_mover().view(sale_id, 3);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->in_transit, 0);
  EXPECT_EQ(whole->remaining, 8) << "9 units, one held by bob's order (kept, as any unreplicated intake's)";
  EXPECT_EQ(usual->bucket_mover().move(sale_id, 3, 1, 2, 1, 0), 1) << "with its WAITs met a move completes";
  usual->stop();
}

// Last: it changes which nodes are masters (and puts the cluster back whole after).
TEST_F(RedisClusterStoreTest, AMasterKilledMidSaleLosesNoAcceptedOrderAndEachIsFinishedOnce) {
  const SlotMap map = current_map();
  const std::string sale_id = a_sale_on_every_master(map).begin()->second;
  const std::uint16_t doomed = master_of_sale(map, sale_id);
  constexpr std::int64_t stock = 1'000'000;
  auto gateway = std::make_unique<RedisStore>(options("gateway"));
  auto worker = std::make_unique<RedisStore>(options("worker", 1000ms));
  ASSERT_EQ(gateway->wait_replicas(), 1);
  create_sale(*worker, sale_id, stock);

  std::mutex mutex;
  std::set<std::string> accepted;  // answered 202: must survive
  std::atomic<std::size_t> refused{0};
  std::atomic<bool> stop_buying{false}, stop_working{false};
  std::vector<std::thread> buyers;
  for (int t = 0; t < 2; ++t)
    buyers.emplace_back([&, t] {
      for (int n = 0; !stop_buying; ++n) {
        const auto order_id = try_intake(*gateway, sale_id, "buyer-" + std::to_string(t) + "-" + std::to_string(n));
        if (order_id.empty()) {
          ++refused;
          std::this_thread::sleep_for(5ms);
          continue;
        }
        std::lock_guard lock(mutex);
        accepted.insert(order_id);
      }
    });
  // One window of the worker, with its periodic reclaim, throughout.
  std::thread window([&] {
    auto reclaimed = Clock::now();
    while (!stop_working) {
      if (Clock::now() - reclaimed > 300ms) {
        worker->reclaim_abandoned();
        reclaimed = Clock::now();
      }
      if (auto order = worker->claim(100ms))
        while (!worker->finish(order->order_id, OrderStatus::confirmed, "", "") && !stop_working)
          std::this_thread::sleep_for(50ms);
    }
  });
  const auto accepted_count = [&] {
    std::lock_guard lock(mutex);
    return accepted.size();
  };

  EXPECT_TRUE(eventually([&] { return accepted_count() >= 200; }));
  kill_node(doomed);
  EXPECT_TRUE(eventually([&] {
    const auto port = master_of_sale(current_map(), sale_id);  // 0 while no node answers with a map
    return port != 0 && port != doomed;
  }))
      << "the replica was never promoted";
  // The promoted master has no replica: its intakes answer 503 (WAIT 1 fails)
  // until the dead node is back, as its replica now. Then they resume.
  const auto before_revival = accepted_count();
  restore_cluster();
  EXPECT_TRUE(eventually([&] { return accepted_count() >= before_revival + 200; })) << "intakes never resumed";
  stop_buying = true;
  for (auto& buyer : buyers) buyer.join();

  std::set<std::string> orders;
  {
    std::lock_guard lock(mutex);
    orders = accepted;
  }
  std::set<std::string> unfinished = orders;
  for (auto start = Clock::now(); !unfinished.empty() && since(start) < 2 * patience;) {
    std::erase_if(unfinished, [](const std::string& id) { return field(keys::order(id), "status") == "CONFIRMED"; });
    if (!unfinished.empty()) std::this_thread::sleep_for(200ms);
  }
  stop_working = true;
  window.join();
  EXPECT_TRUE(unfinished.empty()) << unfinished.size() << " of " << orders.size()
                                  << " accepted orders not CONFIRMED, first: " << *unfinished.begin() << " is '"
                                  << field(keys::order(*unfinished.begin()), "status") << "'";

  // Once each: the sale's counts hold every unit once, whatever the failover redid.
  const auto count = [&](const char* name) { return std::atoll(field(keys::sale(sale_id), name).c_str()); };
  const auto held = count("c:QUEUED") + count("c:PROCESSING") + count("c:CONFIRMED") + count("c:PAID");
  EXPECT_EQ(count("remaining") + held, stock);
  EXPECT_GE(count("c:CONFIRMED"), static_cast<long long>(orders.size()));
  RecordProperty("accepted", static_cast<int>(orders.size()));
  RecordProperty("refused_during_failover", static_cast<int>(refused.load()));
  worker->stop();
  gateway->stop();
}

}  // namespace
