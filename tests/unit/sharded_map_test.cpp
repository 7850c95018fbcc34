// The sharded map: an unordered_map's find, emplace and erase, in pieces.
#include <gtest/gtest.h>

#include <string>

#include "store/sharded_map.hpp"

namespace {

using flashgate::store::ShardedMap;

TEST(ShardedMap, FindsWhatWasPutAndNothingElse) {
  ShardedMap<int> map;
  EXPECT_EQ(map.find("a"), nullptr);
  auto [value, made] = map.try_emplace("a", 1);
  EXPECT_TRUE(made);
  EXPECT_EQ(*value, 1);
  ASSERT_NE(map.find("a"), nullptr);
  EXPECT_EQ(*map.find("a"), 1);
  EXPECT_EQ(map.find("b"), nullptr);
  EXPECT_THROW(map.at("b"), std::out_of_range);
}

TEST(ShardedMap, EmplacingAnExistingKeyKeepsItsValue) {
  ShardedMap<std::string> map;
  map.try_emplace("user", "o-1");
  auto [value, made] = map.try_emplace("user", "o-2");
  EXPECT_FALSE(made);
  EXPECT_EQ(*value, "o-1");
  map["user"] = "o-3";
  EXPECT_EQ(map.at("user"), "o-3");
  EXPECT_EQ(map.size(), 1u);
}

TEST(ShardedMap, CountsAndErasesAcrossShards) {
  ShardedMap<int> map;
  for (int i = 0; i < 10'000; ++i) map.try_emplace(std::to_string(i) + "-k", i);
  EXPECT_EQ(map.size(), 10'000u);
  for (int i = 0; i < 10'000; i += 2) EXPECT_TRUE(map.erase(std::to_string(i) + "-k"));
  EXPECT_FALSE(map.erase("0-k"));
  EXPECT_EQ(map.size(), 5'000u);
  for (int i = 0; i < 10'000; ++i) {
    const auto* value = map.find(std::to_string(i) + "-k");
    if (i % 2) {
      ASSERT_NE(value, nullptr);
      EXPECT_EQ(*value, i);
    } else {
      EXPECT_EQ(value, nullptr);
    }
  }
}

// Shards are open-addressing tables: growing moves their entries, which must
// arrive whole (long strings live on the heap and are moved, not copied).
TEST(ShardedMap, EntriesSurviveTheirShardGrowing) {
  ShardedMap<std::string> map;
  auto value_of = [](int i) { return "order-" + std::to_string(i) + std::string(40, 'x'); };
  for (int i = 0; i < 50'000; ++i) ASSERT_TRUE(map.try_emplace("user-" + std::to_string(i), value_of(i)).second);
  EXPECT_EQ(map.size(), 50'000u);
  for (int i = 0; i < 50'000; ++i) {
    const auto* value = map.find("user-" + std::to_string(i));
    ASSERT_NE(value, nullptr) << i;
    EXPECT_EQ(*value, value_of(i));
  }
}

}  // namespace
