// A sale's buckets (domain/bucket.hpp): the buyer's home, the shares.
#include "domain/bucket.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "domain/ids.hpp"
#include "domain/sale.hpp"

namespace {

using namespace flashgate::domain;

TEST(BucketTest, AHomeIsStableInRangeAndSpreadsBuyers) {
  EXPECT_EQ(home_bucket("anyone", 1), 0);
  std::array<int, 3> seen{};
  for (int i = 0; i < 3000; ++i) {
    const auto user = "user-" + std::to_string(i);
    const auto home = home_bucket(user, 3);
    ASSERT_GE(home, 0);
    ASSERT_LT(home, 3);
    EXPECT_EQ(home_bucket(user, 3), home);
    ++seen[static_cast<std::size_t>(home)];
  }
  for (int count : seen) {
    EXPECT_GT(count, 800);
    EXPECT_LT(count, 1200);
  }
}

TEST(BucketTest, TheSharesAddUpToTheStockAndDifferByOneAtMost) {
  for (std::int64_t stock : {0, 1, 2, 10, 500, 1001}) {
    for (std::int64_t buckets : {1, 2, 3, 7, 64}) {
      std::int64_t sum = 0, low = stock, high = 0;
      for (std::int64_t b = 0; b < buckets; ++b) {
        const auto share = bucket_share(stock, buckets, b);
        sum += share;
        low = std::min(low, share);
        high = std::max(high, share);
      }
      EXPECT_EQ(sum, stock) << stock << " in " << buckets;
      EXPECT_LE(high - low, 1);
    }
  }
}

TEST(BucketTest, ANewSaleHasOneToSixtyFourBuckets) {
  Sale sale{"s", "item", 10, std::nullopt, std::nullopt, 1000};
  EXPECT_EQ(sale.buckets, 1);
  EXPECT_FALSE(validate_new_sale(sale));
  sale.buckets = 64;
  EXPECT_FALSE(validate_new_sale(sale));
  for (std::int64_t bad : {0, -1, 65}) {
    sale.buckets = bad;
    const auto error = validate_new_sale(sale);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, ErrorCode::invalid_request);
  }
}

}  // namespace
