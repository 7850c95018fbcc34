// The distributed gateway's near-cache: newest versions win, the bound holds
// across shards, and the least recently used order is the one forgotten.
#include "store/redis/near_cache.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using flashgate::domain::Order;
using flashgate::store::redis::NearCache;
using flashgate::store::redis::SaleProgress;

Order order(const std::string& id, std::uint64_t version = 1, const std::string& sale = "s") {
  Order o;
  o.order_id = id;
  o.sale_id = sale;
  o.user_id = "u-" + id;
  o.version = version;
  return o;
}

// Built by appending: GCC 12 warns falsely (-Wrestrict) on id(i).
std::string id(int i) {
  std::string text = "o";
  text += std::to_string(i);
  return text;
}

TEST(NearCache, KeepsTheNewestVersionAndRefusesAnOlderOne) {
  NearCache cache(10);
  EXPECT_TRUE(cache.update(order("a", 2), {}));
  EXPECT_FALSE(cache.update(order("a", 1), {}));
  ASSERT_TRUE(cache.find("a"));
  EXPECT_EQ(cache.find("a")->version, 2u);
  EXPECT_TRUE(cache.update(order("a", 3), {}));
  EXPECT_EQ(cache.find("a")->version, 3u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(NearCache, ForgetsTheOrdersOfOneTagOnly) {
  NearCache cache(100'000);  // many shards
  for (int i = 0; i < 500; ++i) {
    cache.update(order("aaaa-" + id(i)), {});
    cache.update(order("bbbb-" + id(i)), {});
  }
  EXPECT_EQ(cache.forget_prefix("aaaa-"), 500u);
  EXPECT_EQ(cache.size(), 500u);
  EXPECT_FALSE(cache.find("aaaa-o7"));
  EXPECT_TRUE(cache.find("bbbb-o7"));
  cache.update(order("aaaa-o7", 2), {});  // learnt again, and kept within the bound as before
  EXPECT_EQ(cache.find("aaaa-o7")->version, 2u);
  EXPECT_EQ(cache.forget_prefix("cccc-"), 0u);
}

TEST(NearCache, CountsHitsAndMisses) {
  NearCache cache(10);
  cache.update(order("a"), {});
  EXPECT_TRUE(cache.find("a"));
  EXPECT_FALSE(cache.find("b"));
  EXPECT_FALSE(cache.find("c"));
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 2u);
}

TEST(NearCache, ProgressKeepsTheNewestOfEachPart) {
  NearCache cache(10);
  cache.update(order("a"), SaleProgress{5, 2.0, 100});
  cache.update(order("b"), SaleProgress{3, 9.0, 50});  // older: neither part goes back
  EXPECT_EQ(cache.progress("s").started, 5u);
  EXPECT_EQ(cache.progress("s").rate, 2.0);
  cache.update(order("c"), SaleProgress{7, 4.0, 200, 150});
  EXPECT_EQ(cache.progress("s").started, 7u);
  EXPECT_EQ(cache.progress("s").rate_at, 200);
  EXPECT_EQ(cache.progress("s").rate_since, 150);  // the rate's run goes with the rate
  cache.update(order("d"), SaleProgress{7, 1.0, 180, 90});
  EXPECT_EQ(cache.progress("s").rate_since, 150);
  EXPECT_EQ(cache.progress("other").started, 0u);
}

TEST(NearCache, EachBucketOfASaleHasItsOwnProgress) {
  NearCache cache(10);
  auto in_bucket = [](const std::string& id, std::int64_t bucket) {
    auto o = order(id);
    o.bucket = bucket;
    return o;
  };
  cache.update(in_bucket("a", 0), SaleProgress{5, 2.0, 100});
  cache.update(in_bucket("b", 2), SaleProgress{40, 6.0, 100});
  EXPECT_EQ(cache.progress("s").started, 5u);
  EXPECT_EQ(cache.progress("s", 2).started, 40u);
  EXPECT_EQ(cache.progress(in_bucket("x", 2)).rate, 6.0);
  EXPECT_EQ(cache.progress("s", 1).started, 0u);
  cache.forget_sale("s");
  EXPECT_EQ(cache.progress("s").started, 0u);
  EXPECT_EQ(cache.progress("s", 2).started, 0u);
}

TEST(NearCache, NeverHoldsMoreThanItsCapacity) {
  for (std::size_t capacity : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{5000}, std::size_t{70'001}}) {
    NearCache cache(capacity);
    for (int i = 0; i < 100'000; ++i) {
      cache.update(order(id(i)), {});
      if (i % 3 == 0) cache.find(id(i / 2));
    }
    EXPECT_EQ(cache.size(), capacity) << capacity;
  }
}

TEST(NearCache, APolledOrderOutlivesOlderOnesNobodyAskedFor) {
  NearCache cache(3);
  cache.update(order("a"), {});
  cache.update(order("b"), {});
  cache.update(order("c"), {});
  ASSERT_TRUE(cache.find("a"));  // a is wanted
  cache.update(order("d"), {});  // one must go: b, the oldest nobody asked for
  EXPECT_TRUE(cache.find("a"));
  EXPECT_FALSE(cache.find("b"));
  EXPECT_TRUE(cache.find("c"));
  EXPECT_TRUE(cache.find("d"));
}

TEST(NearCache, TheLeastRecentlyPolledGoesAndTheNewestStays) {
  NearCache cache(2);
  cache.update(order("a"), {});
  cache.update(order("b"), {});
  cache.find("a");
  cache.find("b");
  cache.update(order("c"), {});
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.find("a"));
  EXPECT_TRUE(cache.find("b"));
  EXPECT_TRUE(cache.find("c"));
}

// A large cache is split: each order id always lands in the same shard, so
// what was put is found, whatever the shard count.
TEST(NearCache, EveryOrderOfALargeCacheIsFound) {
  NearCache cache(200'000);
  for (int i = 0; i < 100'000; ++i) cache.update(order(id(i), 1 + i % 5), {});
  EXPECT_EQ(cache.size(), 100'000u);
  for (int i = 0; i < 100'000; ++i) {
    const auto found = cache.find(id(i));
    ASSERT_TRUE(found) << i;
    EXPECT_EQ(found->version, 1u + i % 5);
  }
}

}  // namespace
