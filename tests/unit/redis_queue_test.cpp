// The Redis store's queue on a real redis-server: which window owns a queue
// entry, and what happens to it when Redis refuses a write, when a worker
// stalls past reclaim_after, and when a worker dies (issue #20, items 2-3).
// A window's state lives in its thread, so each worker's window runs on a
// thread of its own here, as it does in a worker process.
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "domain/ids.hpp"
#include "redis_store_fixture.hpp"
#include "store/redis/redis_store.hpp"

namespace {

using namespace flashgate::testing;
using flashgate::domain::Order;
using flashgate::domain::OrderStatus;
using flashgate::store::redis::RedisStore;
using flashgate::store::redis::RedisStoreOptions;

// One window thread of a worker: runs what it is given, one call at a time.
class WindowThread {
 public:
  WindowThread() : thread_([this] { loop(); }) {}
  ~WindowThread() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  template <class F>
  auto run(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back([&task] { task(); });
    }
    wake_.notify_all();
    return result.get();
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return done_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool done_ = false;
  std::thread thread_;
};

class RedisQueueTest : public RedisStoreTest {
 protected:
  // A worker process's store: its own consumer names.
  std::unique_ptr<RedisStore> worker_store(const std::string& name, std::chrono::milliseconds reclaim_after) {
    RedisStoreOptions o = store_options(name);
    o.reclaim_after = reclaim_after;
    return std::make_unique<RedisStore>(o);
  }

  static std::string prefix_of_order(const std::string& order_id) {
    return "fg:{" + std::string(flashgate::domain::tag_of_order(order_id)) + "}:";
  }
  static std::string queue_of_sale(const std::string& sale_id) {
    return "fg:{" + flashgate::domain::sale_tag(sale_id) + "}:queue";
  }

  std::string status_of(const std::string& order_id) {
    return admin_->command_sync({"HGET", prefix_of_order(order_id) + "order:" + order_id, "status"}).str;
  }

  // The consumers that hold entries of a queue, and how many each.
  std::map<std::string, long long> holders(const std::string& queue) {
    std::map<std::string, long long> by_consumer;
    auto summary = admin_->command_sync({"XPENDING", queue, "windows"});
    if (summary.elements.size() < 4) return by_consumer;
    for (const auto& consumer : summary.elements[3].elements)
      if (consumer.elements.size() == 2) by_consumer[consumer.elements[0].str] = std::stoll(consumer.elements[1].str);
    return by_consumer;
  }

  static std::optional<Order> claim_within(RedisStore& store, std::chrono::milliseconds limit) {
    std::optional<Order> claimed;
    for (auto start = Clock::now(); !claimed && since(start) < limit;) claimed = store.claim(100ms);
    return claimed;
  }

  // Two sales whose keys are in different slots: one read of the queues hands
  // a window an entry of each.
  std::pair<std::string, std::string> two_sales(RedisStore& store) {
    const auto first = key("sale-1"), second = key("sale-2");
    EXPECT_NE(flashgate::domain::sale_tag(first), flashgate::domain::sale_tag(second));
    create_sale(store, first, 5);
    create_sale(store, second, 5);
    return {first, second};
  }
};

// Redis under maxmemory with noeviction refuses the claim script's writes
// (an error reply) while XACK/XDEL still work: the entry must not be dropped.
class MemoryFull {
 public:
  explicit MemoryFull(RedisClient& admin) : admin_(admin) {
    EXPECT_TRUE(admin_.command_sync({"CONFIG", "SET", "maxmemory-policy", "noeviction"}).ok());
    EXPECT_TRUE(admin_.command_sync({"CONFIG", "SET", "maxmemory", "1"}).ok());
  }
  ~MemoryFull() { EXPECT_TRUE(admin_.command_sync({"CONFIG", "SET", "maxmemory", "0"}).ok()); }

 private:
  RedisClient& admin_;
};

TEST_F(RedisQueueTest, AClaimRefusedForWantOfMemoryIsRetriedByTheSameWindowOnceRedisTakesWrites) {
  auto store = worker_store("w", 30s);
  const auto sale_id = key("sale");
  create_sale(*store, sale_id, 5);
  // The window waits on the queue before memory runs out (Redis refuses to make a group when full).
  EXPECT_FALSE(store->claim(50ms));
  const auto order_id = intake(*store, sale_id, "alice");
  ASSERT_FALSE(order_id.empty());
  const auto queue = queue_of_sale(sale_id);
  {
    MemoryFull full(*admin_);
    EXPECT_FALSE(store->claim(100ms));
    EXPECT_FALSE(store->claim(100ms)) << "claimed while Redis refuses writes";
    EXPECT_EQ(status_of(order_id), "QUEUED");
    EXPECT_EQ(holders(queue).size(), 1u) << "the refused claim dropped the only queue entry of the order";
  }
  auto claimed = claim_within(*store, 5s);
  ASSERT_TRUE(claimed) << "the order stays QUEUED with its unit reserved, and nothing will take it";
  EXPECT_EQ(claimed->order_id, order_id);
  EXPECT_EQ(status_of(order_id), "PROCESSING");
  EXPECT_TRUE(store->finish(order_id, OrderStatus::confirmed, "", ""));
  EXPECT_EQ(status_of(order_id), "CONFIRMED");
  EXPECT_EQ(admin_->command_sync({"XLEN", queue}).integer, 0);
}

// The shop's external_id: kept in the order's hash by finish, shown by a
// gateway that reads the order from Redis and by one that follows the change
// feed into its near-cache; absent when the shop said none.
TEST_F(RedisQueueTest, FinishKeepsTheShopsExternalIdForEveryGateway) {
  auto worker = worker_store("w", 30s);
  std::mutex seen_mutex;  // before the store: its feed thread is joined while they exist
  std::condition_variable seen_cv;
  std::map<std::string, std::pair<OrderStatus, std::string>> seen;  // order id -> status, external_id
  RedisStoreOptions gateway_options;
  gateway_options.port = port_;
  RedisStore following(gateway_options);
  following.on_change([&](const flashgate::store::OrderView& v) {
    std::lock_guard lock(seen_mutex);
    seen[v.order.order_id] = {v.order.status, v.order.external_id};
    seen_cv.notify_all();
  });
  const auto seen_within = [&](std::chrono::milliseconds limit, auto condition) {
    std::unique_lock lock(seen_mutex);
    return seen_cv.wait_for(lock, limit, condition);
  };
  // The feed starts at the end of the streams it finds: a probe intake once
  // a second tells when it reads (a probe before that goes unseen).
  const auto probe_sale = key("probe");
  create_sale(*worker, probe_sale, 5);
  following.follow_changes();
  std::set<std::string> probes;
  for (bool reading = false; !reading;) {
    ASSERT_LT(probes.size(), 5u) << "the change feed never started";
    const auto probe = intake(*worker, probe_sale, "probe-" + std::to_string(probes.size()));
    probes.insert(probe);
    reading = seen_within(1s, [&] { return seen.contains(probe); });
  }

  const auto sale_id = key("sale");
  create_sale(*worker, sale_id, 5);
  const auto with_id = intake(*worker, sale_id, "alice");
  const auto without = intake(*worker, sale_id, "bob");
  const std::map<std::string, std::string> shop_ids{{with_id, "SHOP-7"}, {without, ""}};
  for (std::size_t finished = 0; finished < shop_ids.size();) {
    auto claimed = claim_within(*worker, 5s);
    ASSERT_TRUE(claimed);
    if (probes.contains(claimed->order_id)) {
      ASSERT_TRUE(worker->finish(claimed->order_id, OrderStatus::failed, "probe", ""));
      continue;
    }
    ASSERT_TRUE(worker->finish(claimed->order_id, OrderStatus::confirmed, "", shop_ids.at(claimed->order_id)));
    ++finished;
  }
  const auto order_key = [](const std::string& id) { return prefix_of_order(id) + "order:" + id; };
  EXPECT_EQ(admin_->command_sync({"HGET", order_key(with_id), "external_id"}).str, "SHOP-7");
  EXPECT_EQ(admin_->command_sync({"HEXISTS", order_key(without), "external_id"}).integer, 0);

  ASSERT_TRUE(seen_within(patience, [&] {
    return seen[with_id].first == OrderStatus::confirmed && seen[without].first == OrderStatus::confirmed;
  })) << "the feed brought no CONFIRMED";
  {
    std::lock_guard lock(seen_mutex);
    EXPECT_EQ(seen[with_id].second, "SHOP-7");
    EXPECT_EQ(seen[without].second, "");
  }
  RedisStore reading(gateway_options);  // no cache yet: the order is read from Redis
  for (auto* gateway : {&following, &reading})
    for (const auto& [id, external_id] : {std::pair{with_id, "SHOP-7"}, {without, ""}}) {
      std::promise<std::string> shown;
      gateway->get_order(sale_id, id, [&](auto result) {
        EXPECT_TRUE(result) << result.error().message;
        shown.set_value(result ? result.value().order.external_id : "(error)");
      });
      EXPECT_EQ(shown.get_future().get(), external_id);
    }
  // Paid, the order keeps it (the payment's change carries the whole hash).
  std::promise<std::string> paid;
  reading.pay(with_id, "pay-1", [&](auto result) {
    EXPECT_TRUE(result) << result.error().message;
    paid.set_value(result ? result.value().order.external_id : "(error)");
  });
  EXPECT_EQ(paid.get_future().get(), "SHOP-7");
}

// A worker stalled past reclaim_after (nothing of it runs) with an entry in
// a window's backlog: another worker takes the entry back and queues the
// order anew. The stalled window must not claim the order from its stale
// copy: if it did and then died, nothing would reference the order, left
// PROCESSING for ever (the new entry is dropped as a skip).
TEST_F(RedisQueueTest, AnEntryTakenBackFromAStalledWorkerIsNotClaimedFromItsStaleCopy) {
  auto a = worker_store("a", 500ms);
  auto b = worker_store("b", 500ms);
  WindowThread window_a, window_b;
  const auto [sale_1, sale_2] = two_sales(*a);
  const std::vector<std::string> orders{intake(*a, sale_1, "alice"), intake(*a, sale_2, "bob")};

  auto first = window_a.run([&] { return claim_within(*a, patience); });
  ASSERT_TRUE(first);
  std::this_thread::sleep_for(700ms);  // A stalls (its database is down, its heartbeat does not run)
  b->reclaim_abandoned();
  EXPECT_EQ(status_of(first->order_id), "QUEUED") << "taken back by B";

  EXPECT_TRUE(window_a.run([&] { return a->finish(first->order_id, OrderStatus::confirmed, "", ""); }));
  auto stale = window_a.run([&] { return a->claim(100ms); });
  EXPECT_FALSE(stale) << "A claimed " << stale->order_id << " from an entry B had taken back";
  a.reset();  // and dies

  auto settled = [&] {
    return status_of(orders[0]) == "CONFIRMED" && status_of(orders[1]) == "CONFIRMED";
  };
  for (auto start = Clock::now(); !settled() && since(start) < 10s;) {
    b->reclaim_abandoned();
    if (auto order = window_b.run([&] { return b->claim(100ms); }))
      window_b.run([&] { return b->finish(order->order_id, OrderStatus::confirmed, "", ""); });
  }
  EXPECT_EQ(status_of(orders[0]), "CONFIRMED");
  EXPECT_EQ(status_of(orders[1]), "CONFIRMED") << "orphaned";
}

// A failover can lose a claim (the promoted replica had not heard of it yet:
// claims do not wait for a replica): the order is QUEUED again there while
// the window still works on it. Its finish then finds it not PROCESSING and
// must not delete the queue entry, the order's only way back into a window.
TEST_F(RedisQueueTest, AFinishOfAnOrderQueuedAgainByAFailoverLeavesItsEntryForTheNextClaim) {
  auto store = worker_store("w", 500ms);
  WindowThread window;
  const auto sale_id = key("sale");
  create_sale(*store, sale_id, 5);
  const auto order_id = intake(*store, sale_id, "alice");
  auto claimed = window.run([&] { return claim_within(*store, patience); });
  ASSERT_TRUE(claimed);
  ASSERT_EQ(status_of(order_id), "PROCESSING");
  // What the promoted replica says: the claim never happened.
  const auto sale_key = prefix_of_order(order_id) + "sale:" + sale_id;
  ASSERT_TRUE(admin_->command_sync({"HSET", prefix_of_order(order_id) + "order:" + order_id, "status", "QUEUED"}).ok());
  ASSERT_TRUE(admin_->command_sync({"HINCRBY", sale_key, "c:PROCESSING", "-1"}).ok());
  ASSERT_TRUE(admin_->command_sync({"HINCRBY", sale_key, "c:QUEUED", "1"}).ok());

  EXPECT_TRUE(window.run([&] { return store->finish(order_id, OrderStatus::confirmed, "", ""); }));
  EXPECT_EQ(status_of(order_id), "QUEUED");
  for (auto start = Clock::now(); status_of(order_id) != "CONFIRMED" && since(start) < patience;) {
    store->reclaim_abandoned();
    if (auto again = window.run([&] { return store->claim(100ms); }))
      window.run([&] { return store->finish(again->order_id, OrderStatus::confirmed, "", ""); });
  }
  EXPECT_EQ(status_of(order_id), "CONFIRMED") << "the order lost its queue entry and no window takes it";
}

// A live worker keeps what its windows hold (the order in hand and the
// backlog) however long a window waits (PostgreSQL down): its periodic
// reclaim task renews them. Once it dies they are taken back.
TEST_F(RedisQueueTest, ALiveWorkerKeepsTheEntriesItsWindowsHoldAndLosesThemWhenItDies) {
  auto a = worker_store("a", 500ms);
  auto b = worker_store("b", 500ms);
  WindowThread window_a, window_b;
  const auto [sale_1, sale_2] = two_sales(*a);
  const std::vector<std::string> orders{intake(*a, sale_1, "alice"), intake(*a, sale_2, "bob")};

  auto first = window_a.run([&] { return claim_within(*a, patience); });
  ASSERT_TRUE(first);
  // The window waits three times reclaim_after; both workers' periodic tasks run meanwhile.
  for (auto start = Clock::now(); since(start) < 1500ms;) {
    a->reclaim_abandoned();
    b->reclaim_abandoned();
    std::this_thread::sleep_for(a->reclaim_period());
  }
  EXPECT_EQ(status_of(first->order_id), "PROCESSING") << "taken from a live window";
  for (const auto& sale_id : {sale_1, sale_2}) {
    const auto held = holders(queue_of_sale(sale_id));
    ASSERT_EQ(held.size(), 1u) << sale_id;
    EXPECT_EQ(held.begin()->first.rfind(key("a"), 0), 0u) << "held by " << held.begin()->first;
  }

  EXPECT_TRUE(window_a.run([&] { return a->finish(first->order_id, OrderStatus::confirmed, "", ""); }));
  EXPECT_EQ(status_of(first->order_id), "CONFIRMED");
  auto second = window_a.run([&] { return a->claim(100ms); });
  ASSERT_TRUE(second) << "A's backlog lost the other order";
  EXPECT_NE(second->order_id, first->order_id);
  EXPECT_EQ(status_of(second->order_id), "PROCESSING");
  a.reset();  // dies holding it

  for (auto start = Clock::now(); status_of(second->order_id) != "CONFIRMED" && since(start) < 10s;) {
    b->reclaim_abandoned();
    if (auto order = window_b.run([&] { return b->claim(100ms); }))
      window_b.run([&] { return b->finish(order->order_id, OrderStatus::confirmed, "", ""); });
  }
  EXPECT_EQ(status_of(orders[0]), "CONFIRMED");
  EXPECT_EQ(status_of(orders[1]), "CONFIRMED");
}

}  // namespace
