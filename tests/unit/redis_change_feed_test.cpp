// Where a process's change feed begins on a real redis-server: at the end of
// every stream that exists when it first hears from Redis, even if Redis was
// down when it started. A feed that replayed a stream from its beginning put
// each order's old versions into the near-cache, one by one, until it caught
// up: a poll in between was answered with a status the order had left long
// ago (ENTERED after the draw, found by test_draw.py's crash test on a
// loaded machine, where the feed's first look at fg:tags came back empty).
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "redis_store_fixture.hpp"
#include "store/redis/consumer_groups.hpp"
#include "store/redis/redis_store.hpp"

namespace {

using namespace flashgate::testing;
using flashgate::store::OrderView;
using flashgate::store::redis::ConsumerGroups;
using flashgate::store::redis::RedisStore;

class RedisChangeFeedTest : public RedisStoreTest {};

// What a store's listeners were told, in order.
class Heard {
 public:
  void operator()(const OrderView& view) {
    std::lock_guard lock(mutex_);
    ids_.push_back(view.order.order_id);
    changed_.notify_all();
  }
  bool wait_for_any(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, wait, [this] { return !ids_.empty(); });
  }
  std::vector<std::string> ids() {
    std::lock_guard lock(mutex_);
    return ids_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> ids_;
};

TEST_F(RedisChangeFeedTest, AStoreStartedWhileRedisIsDownFollowsTheStreamsFromWhereTheyEndOnceItIsBack) {
  const auto sale_id = key("sale");
  std::string old_order;
  {
    RedisStore before(store_options("before"));
    create_sale(before, sale_id);
    old_order = intake(before, sale_id, "early");
    ASSERT_FALSE(old_order.empty());
    before.stop();
  }
  stop_server();
  RedisStore after(store_options("after"));  // goes on without Redis after a while
  Heard heard;
  after.on_change([&heard](const OrderView& view) { heard(view); });
  after.follow_changes();
  std::this_thread::sleep_for(200ms);  // the feed's first round, with Redis down
  start_server();

  // New orders until the feed, once it has found the streams' ends, tells of one.
  std::vector<std::string> new_orders;
  const auto start = Clock::now();
  while (!heard.wait_for_any(200ms) && since(start) < patience) {
    std::promise<std::string> accepted;
    after.intake(sale_id, "late" + std::to_string(new_orders.size()),
                 [&](auto result) { accepted.set_value(result ? result.value().view.order.order_id : ""); });
    if (auto id = accepted.get_future().get(); !id.empty()) new_orders.push_back(id);
  }
  const auto ids = heard.ids();
  ASSERT_FALSE(ids.empty()) << "the feed told of no change";
  EXPECT_EQ(std::count(ids.begin(), ids.end(), old_order), 0)
      << "a change made before this process followed the feed was replayed";
  for (const auto& id : ids) EXPECT_NE(std::find(new_orders.begin(), new_orders.end(), id), new_orders.end()) << id;
}

TEST_F(RedisChangeFeedTest, NoCallerIsGivenTheTagsBeforeFgTagsWasReadOnce) {
  ASSERT_TRUE(admin_->command_sync({"SADD", "fg:tags", key("tag")}).ok());
  auto client = std::make_unique<flashgate::store::redis::RedisClient>(options());
  ASSERT_TRUE(client->wait_connected(patience));
  ConsumerGroups groups(*client, 30'000ms);
  // The first read waits behind the pause; a second caller meanwhile must not
  // take the empty set from before it for the tags (the change feed began
  // every stream that existed at its start from its beginning).
  ASSERT_TRUE(admin_->command_sync({"CLIENT", "PAUSE", "1000", "ALL"}).ok());
  std::thread first([&groups] { groups.tags(); });
  std::this_thread::sleep_for(200ms);  // the first caller's read is under way
  const auto tags = groups.tags();
  first.join();
  EXPECT_NE(std::find(tags.begin(), tags.end(), key("tag")), tags.end());
  EXPECT_TRUE(groups.tags_read());
  ASSERT_TRUE(admin_->command_sync({"SREM", "fg:tags", key("tag")}).ok());
}

}  // namespace
