// Archiving on a real redis-server (issue #23): RedisStore::drop_sale removes
// exactly the archived sale's keys (compared by SCAN before and after, with
// live sales present, one of them sharing the archived sale's hash tag), is
// refused while an order is not final, finishes an archive cut short, and
// every process following the change feed forgets the sale.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "domain/ids.hpp"
#include "redis_store_fixture.hpp"
#include "store/redis/redis_limits.hpp"
#include "store/redis/redis_store.hpp"

namespace {

using namespace flashgate::testing;
using flashgate::domain::ErrorCode;
using flashgate::domain::Order;
using flashgate::domain::OrderStatus;
using flashgate::domain::sale_tag;
using flashgate::store::redis::RedisStore;

// Two sale ids with the same hash tag (found by search; checked below): their
// keys share a slot, a queue, a change feed and an outcome stream.
constexpr const char* tagmate_a = "tagmate-26433";
constexpr const char* tagmate_b = "tagmate-109932";

std::string prefix_of(const std::string& sale_id) { return "fg:{" + sale_tag(sale_id) + "}:"; }

class RedisArchiveTest : public RedisStoreTest {
 protected:
  void SetUp() override {
    RedisStoreTest::SetUp();
    // fg:sales and fg:tags are global: each test starts from an empty server.
    ASSERT_TRUE(flush_all(*admin_));
  }

  std::unique_ptr<RedisStore> make_store(const std::string& name) {
    return std::make_unique<RedisStore>(store_options(name));
  }

  static std::optional<ErrorCode> sale_error(RedisStore& store, const std::string& sale_id) {
    std::promise<std::optional<ErrorCode>> answer;
    store.get_sale(sale_id, [&](auto result) {
      answer.set_value(result ? std::nullopt : std::optional(result.error().code));
    });
    return answer.get_future().get();
  }

  static std::optional<ErrorCode> order_error(RedisStore& store, const std::string& sale_id,
                                              const std::string& order_id) {
    std::promise<std::optional<ErrorCode>> answer;
    store.get_order(sale_id, order_id, [&](auto result) {
      answer.set_value(result ? std::nullopt : std::optional(result.error().code));
    });
    return answer.get_future().get();
  }

  static std::optional<ErrorCode> intake_error(RedisStore& store, const std::string& sale_id,
                                               const std::string& user) {
    std::promise<std::optional<ErrorCode>> answer;
    store.intake(sale_id, user, [&](auto result) {
      answer.set_value(result ? std::nullopt : std::optional(result.error().code));
    });
    return answer.get_future().get();
  }

  // Every order waiting in the queues goes through a window: every third
  // FAILED, the others CONFIRMED, then half of those PAID.
  static void finish_everything_queued(RedisStore& store) {
    std::size_t n = 0;
    std::vector<std::string> confirmed;
    for (int idle = 0; idle < 5;) {
      auto claimed = store.claim(100ms);
      if (!claimed) {
        ++idle;
        continue;
      }
      idle = 0;
      const bool fail = n++ % 3 == 0;
      ASSERT_TRUE(store.finish(claimed->order_id, fail ? OrderStatus::failed : OrderStatus::confirmed,
                               fail ? "refused" : "", ""));
      if (!fail) confirmed.push_back(claimed->order_id);
    }
    for (std::size_t i = 0; i < confirmed.size(); i += 2) {
      std::promise<void> paid;
      store.pay(confirmed[i], "pay-" + confirmed[i], [&](auto result) {
        EXPECT_TRUE(result) << result.error().message;
        paid.set_value();
      });
      paid.get_future().wait();
    }
  }

  // Every CONFIRMED order left unpaid is CANCELLED.
  static void time_out_unpaid(RedisStore& store) { store.cancel_unpaid(flashgate::domain::now_ms() + 1000); }

  // The keys of sales (fg:{tag}:...); the global ones (fg:sales, fg:tags,
  // fg:dropping, fg:dropped) are checked by name.
  std::set<std::string> sale_keys() {
    std::set<std::string> keys;
    std::string cursor = "0";
    do {
      auto page = admin_->command_sync({"SCAN", cursor, "COUNT", "1000"});
      EXPECT_EQ(page.elements.size(), 2u) << describe(page);
      if (page.elements.size() != 2) break;
      cursor = page.elements[0].str;
      for (const auto& k : page.elements[1].elements)
        if (k.str.rfind("fg:{", 0) == 0) keys.insert(k.str);
    } while (cursor != "0");
    return keys;
  }

  // Each key's serialized value: equal before and after means untouched.
  std::map<std::string, std::string> dump(const std::set<std::string>& keys) {
    std::map<std::string, std::string> values;
    for (const auto& k : keys) values[k] = admin_->command_sync({"DUMP", k}).str;
    return values;
  }

  // The sale ids named by the entries of a stream (its sale_id field, or its order's).
  std::multiset<std::string> sales_in_stream(const std::string& stream) {
    std::multiset<std::string> owners;
    for (const auto& entry : admin_->command_sync({"XRANGE", stream, "-", "+"}).elements) {
      const auto& fields = entry.elements.at(1).elements;
      for (std::size_t i = 0; i + 1 < fields.size(); i += 2)
        if (fields[i].str == "sale_id") owners.insert(fields[i + 1].str);
    }
    return owners;
  }

  std::set<std::string> members(const std::string& set) {
    std::set<std::string> out;
    for (const auto& m : admin_->command_sync({"SMEMBERS", set}).elements) out.insert(m.str);
    return out;
  }

  static bool lists(RedisStore& store, const std::string& sale_id) {
    for (const auto& view : store.sale_views())
      if (view.sale.sale_id == sale_id) return true;
    return false;
  }

};

TEST_F(RedisArchiveTest, TheTagmatesShareATag) {
  EXPECT_EQ(sale_tag(tagmate_a), sale_tag(tagmate_b));
}

TEST_F(RedisArchiveTest, DropSaleRemovesExactlyTheSalesKeysAndItsTagsStreamsWhenNoOtherSaleHasTheTag) {
  auto store = make_store("worker");
  const auto archived = key("archived"), live = key("live");
  ASSERT_NE(sale_tag(archived), sale_tag(live));
  create_sale(*store, archived);
  create_sale(*store, live);
  std::vector<std::string> archived_orders;
  for (int i = 0; i < 30; ++i) archived_orders.push_back(intake(*store, archived, "user-" + std::to_string(i)));
  for (int i = 0; i < 9; ++i) intake(*store, live, "user-" + std::to_string(i));
  finish_everything_queued(*store);
  time_out_unpaid(*store);
  // The live sale keeps orders in every state that is not final.
  for (int i = 9; i < 12; ++i) intake(*store, live, "user-" + std::to_string(i));
  const auto confirmed = store->claim(2s);
  ASSERT_TRUE(confirmed);
  ASSERT_TRUE(store->finish(confirmed->order_id, OrderStatus::confirmed, "", ""));
  ASSERT_TRUE(store->claim(2s));  // PROCESSING

  const auto before = sale_keys();
  const auto archived_prefix = prefix_of(archived);
  std::set<std::string> expected_left;
  for (const auto& k : before)
    if (k.rfind(archived_prefix, 0) != 0) expected_left.insert(k);
  ASSERT_LT(expected_left.size(), before.size());
  const auto live_values = dump(expected_left);

  const auto dropped = store->drop_sale(archived);
  ASSERT_TRUE(dropped) << dropped.error().message;

  const auto after = sale_keys();
  EXPECT_EQ(after, expected_left) << "a key of the archived sale left, or a key of another sale removed";
  EXPECT_EQ(dump(after), live_values) << "a key of the live sale changed";
  EXPECT_FALSE(members("fg:sales").contains(archived));
  EXPECT_TRUE(members("fg:sales").contains(live));
  EXPECT_FALSE(members("fg:tags").contains(sale_tag(archived)));
  EXPECT_TRUE(members("fg:dropping").empty());

  EXPECT_EQ(sale_error(*store, archived), ErrorCode::sale_not_found);
  EXPECT_EQ(order_error(*store, archived, archived_orders.front()), ErrorCode::order_not_found);
  EXPECT_EQ(intake_error(*store, archived, "newcomer"), ErrorCode::sale_not_found);
  EXPECT_FALSE(lists(*store, archived));
  EXPECT_TRUE(lists(*store, live));

  // Again: nothing left to do, success, and nothing made again.
  EXPECT_TRUE(store->drop_sale(archived));
  EXPECT_EQ(sale_keys(), expected_left);
}

TEST_F(RedisArchiveTest, DropSaleOfATagSharedWithALiveSaleRemovesOnlyTheSalesEntries) {
  auto store = make_store("worker");
  const std::string archived = tagmate_a, live = tagmate_b;
  create_sale(*store, archived);
  create_sale(*store, live);
  for (int i = 0; i < 20; ++i) {
    intake(*store, archived, "user-" + std::to_string(i));
    intake(*store, live, "user-" + std::to_string(i));
  }
  finish_everything_queued(*store);
  time_out_unpaid(*store);
  for (int i = 20; i < 23; ++i) intake(*store, live, "user-" + std::to_string(i));  // QUEUED, in the shared queue

  const auto prefix = prefix_of(archived);
  const auto changes = prefix + "changes", outcomes = prefix + "outcomes", queue = prefix + "queue";
  // Outcomes not yet in the system of record, of both sales: the live sale's must stay.
  ASSERT_GT(sales_in_stream(outcomes).count(archived), 0u);
  const auto live_outcomes = sales_in_stream(outcomes).count(live);
  const auto live_changes = sales_in_stream(changes).count(live);
  ASSERT_GT(live_outcomes, 0u);
  const auto queued = admin_->command_sync({"XLEN", queue}).integer;
  ASSERT_EQ(queued, 3);

  std::set<std::string> archived_orders, live_orders;
  for (const auto& k : sale_keys()) {
    if (k.rfind(prefix + "order:", 0) != 0) continue;
    const auto owner = admin_->command_sync({"HGET", k, "sale_id"}).str;
    (owner == archived ? archived_orders : live_orders).insert(k);
  }
  ASSERT_EQ(archived_orders.size(), 20u);
  ASSERT_EQ(live_orders.size(), 23u);
  const auto before = sale_keys();
  std::set<std::string> expected_left;
  for (const auto& k : before)
    if (!archived_orders.contains(k) && k != prefix + "sale:" + archived && k != prefix + "users:" + archived)
      expected_left.insert(k);
  std::map<std::string, std::string> live_values;
  for (const auto& k : expected_left)
    if (k != changes && k != outcomes) live_values[k] = admin_->command_sync({"DUMP", k}).str;

  const auto dropped = store->drop_sale(archived);
  ASSERT_TRUE(dropped) << dropped.error().message;

  EXPECT_EQ(sale_keys(), expected_left);
  for (const auto& [k, value] : live_values) EXPECT_EQ(admin_->command_sync({"DUMP", k}).str, value) << k;
  EXPECT_EQ(sales_in_stream(changes).count(archived), 0u);
  EXPECT_EQ(sales_in_stream(outcomes).count(archived), 0u);
  EXPECT_EQ(sales_in_stream(changes).count(live), live_changes);
  EXPECT_EQ(sales_in_stream(outcomes).count(live), live_outcomes);
  EXPECT_TRUE(members("fg:tags").contains(sale_tag(live)));

  // The live sale goes on: its queued orders are claimed and its outcomes recorded.
  for (int i = 0; i < 3; ++i) {
    auto claimed = store->claim(2s);
    ASSERT_TRUE(claimed);
    EXPECT_EQ(claimed->sale_id, live);
    EXPECT_TRUE(store->finish(claimed->order_id, OrderStatus::failed, "refused", ""));
  }
  std::size_t recorded = 0;
  for (int round = 0; round < 20 && recorded < live_outcomes + 3; ++round)
    for (const auto& entry : store->take(100ms)) {
      EXPECT_EQ(entry.order.sale_id, live);
      store->recorded(entry);
      ++recorded;
    }
  EXPECT_EQ(recorded, live_outcomes + 3);

  // The last sale of the tag takes the tag's streams with it.
  time_out_unpaid(*store);
  ASSERT_TRUE(store->drop_sale(live));
  for (const auto& k : sale_keys()) EXPECT_NE(k.rfind(prefix, 0), 0u) << k << " left";
  EXPECT_FALSE(members("fg:tags").contains(sale_tag(live)));
}

TEST_F(RedisArchiveTest, DropSaleIsRefusedWhileAnOrderIsNotFinalAndChangesNothing) {
  auto store = make_store("worker");
  const auto sale_id = key("sale");
  create_sale(*store, sale_id);
  intake(*store, sale_id, "alice");
  const auto before = dump(sale_keys());
  const auto refused = store->drop_sale(sale_id);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::sale_active);
  EXPECT_NE(refused.error().message.find("QUEUED"), std::string::npos) << refused.error().message;
  EXPECT_EQ(dump(sale_keys()), before);
  EXPECT_TRUE(lists(*store, sale_id));
}

TEST_F(RedisArchiveTest, AnArchiveCutShortIsListedAndFinishedByTheNextCall) {
  auto store = make_store("worker");
  const auto archived = key("archived"), live = key("live");
  create_sale(*store, archived);
  create_sale(*store, live);
  for (int i = 0; i < 40; ++i) intake(*store, archived, "user-" + std::to_string(i));
  intake(*store, live, "bob");
  finish_everything_queued(*store);
  time_out_unpaid(*store);
  intake(*store, live, "carol");
  const auto prefix = prefix_of(archived);
  std::set<std::string> expected_left;
  for (const auto& k : sale_keys())
    if (k.rfind(prefix, 0) != 0) expected_left.insert(k);
  const auto live_values = dump(expected_left);

  // A worker died halfway: the sale moved to fg:dropping, its holders and
  // half its order hashes gone, the rest (and the tag's streams) still there.
  ASSERT_EQ(admin_->command_sync({"SMOVE", "fg:sales", "fg:dropping", archived}).integer, 1);
  ASSERT_TRUE(admin_->command_sync({"UNLINK", prefix + "users:" + archived}).ok());
  std::size_t removed = 0;
  for (const auto& k : sale_keys())
    if (k.rfind(prefix + "order:", 0) == 0 && removed++ % 2 == 0) admin_->command_sync({"UNLINK", k});
  ASSERT_GT(removed, 20u);

  // The archiver finds it (it is still listed) and finishes it.
  EXPECT_TRUE(lists(*store, archived));
  const auto dropped = store->drop_sale(archived);
  ASSERT_TRUE(dropped) << dropped.error().message;
  EXPECT_EQ(sale_keys(), expected_left);
  EXPECT_EQ(dump(expected_left), live_values);
  EXPECT_FALSE(lists(*store, archived));
  EXPECT_TRUE(members("fg:dropping").empty());
}

// The archive writes fg:dropped itself (no script touches a global key, for
// a Redis Cluster), trimmed to limits::dropped_maxlen as a script would.
TEST_F(RedisArchiveTest, TheArchivedSalesStreamIsTrimmedToItsNamedLength) {
  namespace limits = flashgate::store::redis::limits;
  const auto node = admin_->command_sync({"CONFIG", "GET", "stream-node-max-entries"});
  ASSERT_EQ(node.elements.size(), 2u) << describe(node);
  const std::size_t node_entries = std::stoul(node.elements[1].str);
  // Past the named length by ten nodes: an approximate trim removes whole nodes.
  const auto filled = admin_->command_sync(
      {"EVAL", "for i = 1, tonumber(ARGV[1]) do redis.call('XADD', KEYS[1], '*', 'f', 'v') end return 1", "1",
       "fg:dropped", std::to_string(limits::dropped_maxlen + 10 * node_entries)});
  ASSERT_TRUE(filled.ok()) << describe(filled);
  auto store = make_store("worker");
  const auto archived = key("archived");
  create_sale(*store, archived);
  ASSERT_TRUE(store->drop_sale(archived));
  const auto left = static_cast<std::size_t>(admin_->command_sync({"XLEN", "fg:dropped"}).integer);
  EXPECT_GE(left, limits::dropped_maxlen);
  EXPECT_LT(left, limits::dropped_maxlen + node_entries);
}

TEST_F(RedisArchiveTest, EveryProcessForgetsTheSaleAndStopsMakingItsStreams) {
  auto worker = make_store("worker");
  std::mutex mutex;  // before the gateway: its feed thread is joined while they exist
  std::condition_variable told;
  std::vector<std::string> dropped_heard;
  auto gateway = make_store("gateway");
  gateway->on_sale_dropped([&](const std::string& sale_id) {
    std::lock_guard lock(mutex);
    dropped_heard.push_back(sale_id);
    told.notify_all();
  });
  gateway->follow_changes();
  const auto archived = key("archived");
  create_sale(*worker, archived, 3);
  std::vector<std::string> orders;
  for (int i = 0; i < 3; ++i) orders.push_back(intake(*gateway, archived, "user-" + std::to_string(i)));
  EXPECT_EQ(intake_error(*gateway, archived, "late"), ErrorCode::sold_out);  // the gateway follows the sold-out sale
  finish_everything_queued(*worker);
  time_out_unpaid(*worker);
  // The gateway's feed has brought every order's final status into its near-cache.
  const auto until = Clock::now() + patience;
  while (gateway->near_cache().size() < 3 && Clock::now() < until) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(gateway->near_cache().size(), 3u);
  while (gateway->sold_out_book().followed() == 0 && Clock::now() < until) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(gateway->sold_out_book().followed(), 1u);

  ASSERT_TRUE(worker->drop_sale(archived));
  {
    std::unique_lock lock(mutex);
    // Told when the keys start to go and again once they are gone.
    ASSERT_TRUE(told.wait_for(lock, patience, [&] { return dropped_heard.size() == 2; }));
    EXPECT_EQ(dropped_heard, (std::vector<std::string>{archived, archived}));
  }
  EXPECT_EQ(gateway->near_cache().size(), 0u);
  EXPECT_EQ(gateway->sold_out_book().followed(), 0u);
  EXPECT_EQ(order_error(*gateway, archived, orders.front()), ErrorCode::order_not_found);

  // The worker goes on reading queues and outcome streams and looking for
  // abandoned entries, first while it still lists the archived tag (it
  // reads fg:tags once a second), then after: nothing of the tag comes back.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 3; ++i) {
      EXPECT_FALSE(worker->claim(20ms));
      worker->take(20ms);
      worker->reclaim_abandoned();
    }
    EXPECT_EQ(worker->outcome_backlog(), 0u);
    for (const auto& k : sale_keys()) EXPECT_NE(k.rfind(prefix_of(archived), 0), 0u) << k << " made again";
    std::this_thread::sleep_for(1100ms);
  }
}

}  // namespace
