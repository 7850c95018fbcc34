// Where a bucketed sale's buckets live (store/redis/bucket_tags.hpp): one
// bucket per N-th of the Cluster's slot space, the same in every process.
#include "store/redis/bucket_tags.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "domain/ids.hpp"
#include "domain/sale.hpp"
#include "store/redis/cluster/key_slot.hpp"

namespace {

using flashgate::domain::max_buckets;
using flashgate::domain::sale_tag;
using flashgate::store::redis::bucket_tag;
using flashgate::store::redis::bucket_tags;
using flashgate::store::redis::slot_arc;
using flashgate::store::redis::cluster::key_slot;

TEST(BucketTagsTest, OneBucketIsTheSalesOwnTagAndBucketZeroKeepsIt) {
  EXPECT_EQ(bucket_tag("hot", 0, 1), sale_tag("hot"));
  EXPECT_EQ(bucket_tags("hot", 1), std::vector<std::string>{sale_tag("hot")});
  for (std::int64_t n = 2; n <= max_buckets; ++n) EXPECT_EQ(bucket_tag("hot", 0, n), sale_tag("hot"));
}

TEST(BucketTagsTest, EveryNthOfTheSlotSpaceHoldsExactlyOneBucket) {
  for (const std::string sale_id : {"hot", "singles-day", "a", "sale-42"}) {
    for (std::int64_t n = 2; n <= max_buckets; ++n) {
      const auto tags = bucket_tags(sale_id, n);
      ASSERT_EQ(tags.size(), static_cast<std::size_t>(n));
      std::set<std::int64_t> arcs;
      std::set<std::string> distinct(tags.begin(), tags.end());
      EXPECT_EQ(distinct.size(), tags.size()) << sale_id << " " << n;
      for (std::int64_t b = 0; b < n; ++b) {
        const auto& tag = tags[static_cast<std::size_t>(b)];
        EXPECT_EQ(bucket_tag(sale_id, b, n), tag);
        // The arc is that of the keys' slot, as the cluster computes it.
        const auto slot = key_slot("fg:{" + tag + "}:sale:" + sale_id);
        EXPECT_EQ(slot_arc(tag, n), static_cast<std::int64_t>(slot) * n / 16384);
        arcs.insert(slot_arc(tag, n));
        // Bucket b's arc is b after bucket 0's.
        EXPECT_EQ(slot_arc(tag, n), (slot_arc(tags[0], n) + b) % n) << sale_id << " " << n << " " << b;
      }
      EXPECT_EQ(arcs.size(), static_cast<std::size_t>(n)) << sale_id << " " << n;
    }
  }
}

// Three masters as `redis-cli --cluster create` deals the slots: a sale of
// three buckets has one on each, and of six two on each.
TEST(BucketTagsTest, BucketsSpreadEvenlyOverMastersOfEqualSlotRuns) {
  const auto master_of = [](const std::string& tag) {  // 0-5460, 5461-10922, 10923-16383
    const auto slot = key_slot("{" + tag + "}");
    return slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2;
  };
  for (int i = 0; i < 200; ++i) {
    const auto sale_id = "sale-" + std::to_string(i);
    for (const std::int64_t n : {3, 6, 12}) {
      std::vector<int> per_master(3);
      for (const auto& tag : bucket_tags(sale_id, n)) ++per_master[static_cast<std::size_t>(master_of(tag))];
      for (int count : per_master) EXPECT_EQ(count, n / 3) << sale_id << " " << n;
    }
  }
}

}  // namespace
