// A bucketed sale on a real redis-server (issue #25 item 3): its stock split
// over buckets of their own hash tags, moves between them (take, give,
// settle: idempotent, and a half-done one finished by recovery), an intake
// whose home bucket ran short served from a donor, and sold out or not
// enough stock only for the sale as a whole.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "domain/bucket.hpp"
#include "domain/ids.hpp"
#include "redis_store_fixture.hpp"
#include "store/redis/bucket_tags.hpp"
#include "store/redis/redis_keys.hpp"
#include "store/redis/redis_store.hpp"
#include "store/redis/scripts.hpp"
#include "worker/bucket_rebalance.hpp"

namespace {

using namespace flashgate::testing;
using flashgate::domain::ErrorCode;
using flashgate::domain::home_bucket;
using flashgate::store::SaleView;
using flashgate::store::redis::RedisStore;
namespace keys = flashgate::store::redis::keys;
namespace scripts = flashgate::store::redis::scripts;

constexpr const char* sale_id = "hot";

// Every bucketed sale here has three buckets.
std::string bucket_tag(const std::string& id, std::int64_t bucket) {
  return flashgate::store::redis::bucket_tag(id, bucket, 3);
}

class RedisBucketsTest : public RedisStoreTest {
 protected:
  void SetUp() override {
    RedisStoreTest::SetUp();
    ASSERT_TRUE(flush_all(*admin_));
    store_ = std::make_unique<RedisStore>(store_options("gateway"));
  }

  void create(std::int64_t stock, std::int64_t buckets, std::int64_t max_per_buyer = 1) {
    flashgate::domain::Sale sale{sale_id, "item", stock, std::nullopt, std::nullopt, 1000};
    sale.buckets = buckets;
    sale.max_per_buyer = max_per_buyer;
    std::promise<void> created;
    store_->create_sale(sale, [&](auto result) {
      ASSERT_TRUE(result) << result.error().message;
      EXPECT_EQ(result.value().sale.buckets, buckets);
      EXPECT_EQ(result.value().remaining, stock);
      created.set_value();
    });
    created.get_future().wait();
  }

  SaleView view() {
    std::promise<SaleView> got;
    store_->get_sale(sale_id, [&](auto result) {
      EXPECT_TRUE(result);
      got.set_value(result ? result.value() : SaleView{});
    });
    return got.get_future().get();
  }

  // remaining + held units + in transit == stock.
  void expect_invariant() {
    const auto v = view();
    std::int64_t held = 0;
    for (auto status : {flashgate::domain::OrderStatus::queued, flashgate::domain::OrderStatus::processing,
                        flashgate::domain::OrderStatus::confirmed, flashgate::domain::OrderStatus::paid})
      held += static_cast<std::int64_t>(v.units[static_cast<std::size_t>(status)]);
    std::int64_t by_bucket = 0;
    for (const auto& b : v.buckets) by_bucket += b.remaining;
    EXPECT_EQ(v.remaining, by_bucket);
    EXPECT_EQ(v.remaining + held + v.in_transit, v.sale.stock)
        << "remaining " << v.remaining << " held " << held << " in transit " << v.in_transit;
  }

  // A buyer whose home among `buckets` is `bucket`.
  static std::string buyer_in(std::int64_t bucket, std::int64_t buckets, int& next) {
    for (;; ++next) {
      auto user = "buyer-" + std::to_string(next);
      if (home_bucket(user, buckets) == bucket) {
        ++next;
        return user;
      }
    }
  }

  flashgate::domain::Result<flashgate::store::IntakeOutcome> buy(const std::string& user, std::int64_t quantity = 1) {
    std::promise<flashgate::domain::Result<flashgate::store::IntakeOutcome>> answer;
    store_->intake(sale_id, flashgate::store::IntakeRequest{user, quantity, {}},
                   [&](auto result) { answer.set_value(std::move(result)); });
    return answer.get_future().get();
  }

  // The first half of a move, as a mover killed before giving leaves it.
  std::int64_t take_only(const std::string& id, std::int64_t donor, std::int64_t receiver, std::int64_t units,
                        std::int64_t keep = 0) {
    const auto tag = bucket_tag(sale_id, donor);
    const auto r = admin_->eval_sync(scripts::take_stock(), {keys::sale_in(tag, sale_id), keys::transit(tag, sale_id)},
                                     {id, std::to_string(receiver), std::to_string(units), std::to_string(keep)});
    return r.integer;
  }
  std::int64_t give(const std::string& id, std::int64_t receiver, std::int64_t units) {
    const auto tag = bucket_tag(sale_id, receiver);
    return admin_->eval_sync(scripts::give_stock(), {keys::sale_in(tag, sale_id), keys::applied(tag, sale_id)},
                             {id, std::to_string(units)})
        .integer;
  }

  std::unique_ptr<RedisStore> store_;
};

TEST_F(RedisBucketsTest, ABucketedSaleSplitsItsStockOverItsTagsAndShowsTheSum) {
  create(10, 3);
  const auto v = view();
  EXPECT_EQ(v.sale.stock, 10);
  EXPECT_EQ(v.remaining, 10);
  EXPECT_EQ(v.in_transit, 0);
  ASSERT_EQ(v.buckets.size(), 3u);
  EXPECT_EQ(v.buckets[0].remaining, 4);
  EXPECT_EQ(v.buckets[1].remaining, 3);
  EXPECT_EQ(v.buckets[2].remaining, 3);
  for (std::int64_t b = 0; b < 3; ++b) {
    EXPECT_EQ(admin_->command_sync({"EXISTS", keys::sale_in(bucket_tag(sale_id, b), sale_id)}).integer, 1);
    EXPECT_EQ(admin_->command_sync({"SISMEMBER", keys::tags, bucket_tag(sale_id, b)}).integer, 1);
  }
  EXPECT_EQ(store_->remaining_by_sale().at(0).second, 10);
}

TEST_F(RedisBucketsTest, AnOrderLivesInItsBuyersHomeBucketAndCarriesItsTag) {
  create(9, 3);
  int next = 0;
  const auto user = buyer_in(2, 3, next);
  const auto bought = buy(user);
  ASSERT_TRUE(bought) << bought.error().message;
  const auto& order = bought.value().view.order;
  EXPECT_EQ(std::string(flashgate::domain::tag_of_order(order.order_id)), bucket_tag(sale_id, 2));
  EXPECT_EQ(order.bucket, 2);
  EXPECT_EQ(view().buckets[2].remaining, 2);
  // The same buyer again: the order they hold, in the same bucket.
  const auto again = buy(user);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again.value().created);
  EXPECT_EQ(again.value().view.order.order_id, order.order_id);
  EXPECT_EQ(store_->queue_depth(), 1u);
  expect_invariant();
}

TEST_F(RedisBucketsTest, AnIntakeWhoseHomeRanOutIsServedFromTheOtherBucketsUntilTheSaleIsSoldOut) {
  create(6, 3);
  int next = 0;
  // Every buyer's home is bucket 0, which starts with 2 of the 6 units.
  for (int i = 0; i < 6; ++i) {
    const auto bought = buy(buyer_in(0, 3, next));
    ASSERT_TRUE(bought) << "buyer " << i << ": " << bought.error().message;
    EXPECT_EQ(bought.value().view.order.bucket, 0);
  }
  const auto refused = buy(buyer_in(0, 3, next));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::sold_out);
  const auto v = view();
  EXPECT_EQ(v.remaining, 0);
  EXPECT_EQ(v.in_transit, 0);
  expect_invariant();
  // And a buyer of another bucket is told so too.
  const auto other = buy(buyer_in(1, 3, next));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::sold_out);
}

TEST_F(RedisBucketsTest, NotEnoughStockTellsWhatIsLeftOverEveryBucket) {
  create(6, 3, 5);
  int next = 0;
  const auto five = buy(buyer_in(1, 3, next), 5);
  ASSERT_TRUE(five) << five.error().message;
  const auto two = buy(buyer_in(1, 3, next), 2);
  ASSERT_FALSE(two);
  EXPECT_EQ(two.error().code, ErrorCode::not_enough_stock);
  ASSERT_TRUE(two.error().remaining);
  EXPECT_EQ(*two.error().remaining, 1);
  expect_invariant();
}

TEST_F(RedisBucketsTest, TakeAndGiveAreIdempotentAndUnitsInTransitAreInNoBucket) {
  create(9, 3);
  ASSERT_EQ(take_only("t1", 1, 0, 2), 2);
  auto v = view();
  EXPECT_EQ(v.remaining, 7);
  EXPECT_EQ(v.in_transit, 2);
  EXPECT_EQ(v.buckets[1].in_transit, 2);
  expect_invariant();
  EXPECT_EQ(give("t1", 0, 2), 1);
  EXPECT_EQ(give("t1", 0, 2), 0) << "a transfer is given once";
  v = view();
  EXPECT_EQ(v.remaining, 9);
  EXPECT_EQ(v.in_transit, 0) << "given, not settled yet: counted in the receiver only";
  EXPECT_EQ(v.buckets[0].remaining, 5);
  expect_invariant();
  const auto tag1 = bucket_tag(sale_id, 1);
  EXPECT_EQ(admin_->eval_sync(scripts::settle_stock(), {keys::transit(tag1, sale_id)}, {"t1"}).integer, 1);
  EXPECT_EQ(admin_->eval_sync(scripts::settle_stock(), {keys::transit(tag1, sale_id)}, {"t1"}).integer, 0);
  // A take never leaves less than it is asked to keep, nor takes what is not there.
  EXPECT_EQ(take_only("t2", 2, 0, 100, 0), 3);
  EXPECT_EQ(take_only("t3", 2, 0, 1), 0);
  EXPECT_EQ(store_->bucket_mover().recover(sale_id, 3), 1u);
  expect_invariant();
}

TEST_F(RedisBucketsTest, RecoveryFinishesAHalfDoneMoveOnceAndTheSaleIsNeverOversold) {
  create(9, 3);
  // Movers killed between take and give: 5 of the 9 units are in no bucket.
  ASSERT_EQ(take_only("dead-1", 1, 0, 3), 3);
  ASSERT_EQ(take_only("dead-2", 2, 1, 2), 2);
  expect_invariant();
  EXPECT_EQ(view().in_transit, 5);
  // A crowd buys meanwhile: exactly the 9 units are sold, recovery included (the final phase runs it).
  std::atomic<int> accepted{0}, sold_out{0};
  std::vector<std::thread> crowd;
  for (int t = 0; t < 4; ++t)
    crowd.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const auto answer = buy("crowd-" + std::to_string(t) + "-" + std::to_string(i));
        if (answer) ++accepted;
        else if (answer.error().code == ErrorCode::sold_out) ++sold_out;
        else ADD_FAILURE() << answer.error().message;
      }
    });
  for (auto& t : crowd) t.join();
  EXPECT_EQ(accepted.load(), 9);
  EXPECT_EQ(sold_out.load(), 31);
  EXPECT_EQ(store_->bucket_mover().recover(sale_id, 3), 0u) << "nothing left in transit";
  const auto v = view();
  EXPECT_EQ(v.remaining, 0);
  EXPECT_EQ(v.in_transit, 0);
  expect_invariant();
}

TEST_F(RedisBucketsTest, TheWorkersRebalancerFinishesAHalfDoneMoveOnItsOwn) {
  create(9, 3);
  ASSERT_EQ(take_only("dead", 2, 1, 3), 3);
  flashgate::worker::BucketRebalance rebalance(*store_);
  rebalance.start();
  const auto start = std::chrono::steady_clock::now();
  while (view().in_transit != 0 && std::chrono::steady_clock::now() - start < patience)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  rebalance.stop();
  const auto v = view();
  EXPECT_EQ(v.in_transit, 0);
  EXPECT_EQ(v.remaining, 9);
  expect_invariant();
}

TEST_F(RedisBucketsTest, RecoveryRunsTwiceWithoutGivingTwice) {
  create(9, 3);
  ASSERT_EQ(take_only("dead", 1, 0, 3), 3);
  auto& mover = store_->bucket_mover();
  EXPECT_EQ(mover.recover(sale_id, 3), 1u);
  EXPECT_EQ(mover.recover(sale_id, 3), 0u);
  // A mover that had only been slow gives after the recovery: nothing changes.
  EXPECT_EQ(give("dead", 0, 3), 0);
  const auto v = view();
  EXPECT_EQ(v.buckets[0].remaining, 6);
  EXPECT_EQ(v.buckets[1].remaining, 0);
  EXPECT_EQ(v.remaining, 9);
  expect_invariant();
}

TEST_F(RedisBucketsTest, TheRebalancerTopsUpALowBucketFromTheFullOnes) {
  create(30, 3);
  int next = 0;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(buy(buyer_in(2, 3, next)));
  ASSERT_EQ(view().buckets[2].remaining, 0);
  EXPECT_GT(store_->rebalance_buckets(), 0);
  const auto v = view();
  EXPECT_EQ(v.remaining, 20);
  EXPECT_GE(v.buckets[2].remaining, 6);
  for (const auto& b : v.buckets) EXPECT_GE(b.remaining, 6);
  expect_invariant();
  EXPECT_EQ(store_->rebalance_buckets(), 0) << "balanced already";
}

TEST_F(RedisBucketsTest, AnIntakeThatGuessedOneBucketIsToldTheNumberAndNothingIsDone) {
  create(9, 3);
  const auto tag = bucket_tag(sale_id, 0);
  const auto order_id = tag + "-" + flashgate::domain::new_order_id();
  const auto reply = admin_->eval_sync(
      scripts::intake(),
      {keys::sale_in(tag, sale_id), keys::users_in(tag, sale_id), keys::queue(tag), keys::changes(tag),
       keys::held_in(tag, sale_id), keys::order(order_id)},
      {keys::prefix(tag), sale_id, "someone", order_id, "5000", "1", ""});
  ASSERT_EQ(reply.elements.size(), 2u) << flashgate::store::redis::describe(reply);
  EXPECT_EQ(reply.elements[0].str, "buckets");
  EXPECT_EQ(reply.elements[1].str, "3");
  EXPECT_EQ(view().remaining, 9);
  // A second store, which knows nothing of the sale, finds the buyer's home all the same.
  RedisStore other(store_options("other"));
  std::promise<bool> accepted;
  other.intake(sale_id, "someone", [&](auto result) { accepted.set_value(static_cast<bool>(result)); });
  EXPECT_TRUE(accepted.get_future().get());
  EXPECT_EQ(view().buckets[static_cast<std::size_t>(home_bucket("someone", 3))].remaining, 2);
}

TEST_F(RedisBucketsTest, DroppingABucketedSaleRemovesTheKeysOfEveryBucket) {
  create(9, 3);
  ASSERT_EQ(take_only("dead", 1, 0, 1), 1);
  ASSERT_EQ(store_->bucket_mover().recover(sale_id, 3), 1u);
  ASSERT_TRUE(store_->drop_sale(sale_id));
  for (std::int64_t b = 0; b < 3; ++b) {
    const auto tag = bucket_tag(sale_id, b);
    const auto left = admin_->command_sync({"KEYS", keys::prefix(tag) + "*"});
    EXPECT_TRUE(left.elements.empty()) << "bucket " << b << ": " << flashgate::store::redis::describe(left);
    EXPECT_EQ(admin_->command_sync({"SISMEMBER", keys::tags, tag}).integer, 0);
  }
  EXPECT_EQ(admin_->command_sync({"SISMEMBER", keys::sales, sale_id}).integer, 0);
}

TEST_F(RedisBucketsTest, ABucketedSaleIsDroppedOnlyOnceEveryBucketsOrdersAreFinal) {
  create(6, 3);
  int next = 0;
  std::vector<std::string> orders;
  for (std::int64_t b : {0, 1, 2, 2}) {
    const auto bought = buy(buyer_in(b, 3, next));
    ASSERT_TRUE(bought) << bought.error().message;
    orders.push_back(bought.value().view.order.order_id);
  }
  const auto refused = store_->drop_sale(sale_id);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::sale_active);
  // The windows serve every bucket's queue.
  for (std::size_t i = 0; i < orders.size(); ++i) {
    const auto order = store_->claim(std::chrono::seconds(5));
    ASSERT_TRUE(order) << "claimed " << i << " of " << orders.size();
    EXPECT_TRUE(store_->finish(order->order_id, flashgate::domain::OrderStatus::failed, "test", ""));
  }
  const auto v = view();
  EXPECT_EQ(v.remaining, 6);
  EXPECT_EQ(v.counts[static_cast<std::size_t>(flashgate::domain::OrderStatus::failed)], 4u);
  expect_invariant();
  ASSERT_TRUE(store_->drop_sale(sale_id));
  const auto left = admin_->command_sync({"KEYS", "fg:{*"});
  EXPECT_TRUE(left.elements.empty()) << flashgate::store::redis::describe(left);
}

TEST_F(RedisBucketsTest, OnceEveryBucketWasSeenEmptyBuyersAreToldSoUntilAUnitComesBack) {
  create(3, 3);
  store_->follow_changes();
  int next = 0;
  std::vector<std::string> buyers;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(buy(buyer_in(i, 3, next)));
  auto refused = buy(buyer_in(0, 3, next));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::sold_out);
  const auto told_before = store_->sold_out_book().answered();
  refused = buy(buyer_in(1, 3, next));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::sold_out);
  EXPECT_EQ(store_->sold_out_book().answered(), told_before + 1) << "answered without reading every bucket";
  // A unit comes back in bucket 2 (its order FAILED): a buyer of bucket 0 gets it once the feed shows it.
  for (int i = 0; i < 3; ++i) {
    const auto order = store_->claim(std::chrono::seconds(5));
    ASSERT_TRUE(order);
    const auto to = order->bucket == 2 ? flashgate::domain::OrderStatus::failed
                                       : flashgate::domain::OrderStatus::confirmed;
    EXPECT_TRUE(store_->finish(order->order_id, to, "", ""));
  }
  const auto late = buyer_in(0, 3, next);
  bool accepted = false;
  for (const auto start = std::chrono::steady_clock::now(); !accepted && std::chrono::steady_clock::now() - start < patience;) {
    accepted = static_cast<bool>(buy(late));
    if (!accepted) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(accepted);
  const auto v = view();
  EXPECT_EQ(v.remaining, 0);
  expect_invariant();
}

TEST_F(RedisBucketsTest, AStoppingMoverStillRunsEveryJobSoThatEveryCallerIsAnswered) {
  flashgate::store::redis::RedisClient client(options());
  flashgate::store::redis::ReplicaWaits no_replicas(client, 0, std::chrono::milliseconds(1));
  flashgate::store::redis::BucketMover mover(client, no_replicas);
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i) mover.post([&] { ++ran; });
  mover.stop();
  EXPECT_EQ(ran.load(), 50);
  mover.post([&] { ++ran; });
  EXPECT_EQ(ran.load(), 51) << "after stop, on the caller's thread";
}

TEST_F(RedisBucketsTest, ASaleOfOneBucketIsLaidOutAsBefore) {
  create(5, 1);
  const auto fields = admin_->command_sync({"HEXISTS", keys::sale(sale_id), "buckets"});
  EXPECT_EQ(fields.integer, 0);
  const auto v = view();
  EXPECT_TRUE(v.buckets.empty());
  EXPECT_EQ(v.sale.buckets, 1);
  ASSERT_TRUE(buy("someone"));
  EXPECT_EQ(view().remaining, 4);
}

}  // namespace
