// Orders by id with the id in place: find, emplace and erase as a map does,
// keys too long to hold never found, and entries that stay where they are.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/short_key_map.hpp"

namespace {

using flashgate::store::ShortKey;
using flashgate::store::ShortKeyMap;

TEST(ShortKeyMap, FindsWhatWasPutAndNothingElse) {
  ShortKeyMap<std::string> map;
  EXPECT_EQ(map.find("a"), nullptr);
  auto [value, made] = map.try_emplace("a", "one");
  EXPECT_TRUE(made);
  EXPECT_EQ(*value, "one");
  ASSERT_NE(map.find("a"), nullptr);
  EXPECT_EQ(*map.find("a"), "one");
  EXPECT_EQ(map.find("b"), nullptr);
  EXPECT_EQ(map.find(std::string("a\0", 2)), nullptr) << "a trailing NUL is another key";
  EXPECT_THROW(map.at("b"), std::out_of_range);
  const auto [again, made_again] = map.try_emplace("a", "two");
  EXPECT_FALSE(made_again);
  EXPECT_EQ(*again, "one");
  EXPECT_EQ(map.size(), 1u);
}

TEST(ShortKeyMap, KeysLongerThanItsCapacityAreNeverFound) {
  ShortKeyMap<int> map;
  const std::string longest(ShortKey::capacity, 'k');
  map.try_emplace(longest, 1);
  EXPECT_EQ(*map.find(longest), 1);
  EXPECT_EQ(map.find(longest + "k"), nullptr);
  EXPECT_FALSE(map.erase(longest + "k"));
  EXPECT_THROW(map.try_emplace(longest + "k", 2), std::length_error);
  EXPECT_EQ(map.size(), 1u);
}

TEST(ShortKeyMap, EntriesStayPutAsTheMapGrowsAndShrinks) {
  ShortKeyMap<std::string> map;
  const auto key_of = [](int i) { return "1a24" + std::to_string(1'000'000 + i) + "ab12cd34"; };
  std::vector<const std::string*> where;
  for (int i = 0; i < 100'000; ++i) where.push_back(map.try_emplace(key_of(i), "order " + std::to_string(i)).first);
  EXPECT_EQ(map.size(), 100'000u);
  for (int i = 0; i < 100'000; i += 2) EXPECT_TRUE(map.erase(key_of(i)));
  EXPECT_EQ(map.size(), 50'000u);
  for (int i = 0; i < 100'000; ++i) {
    const auto* value = map.find(key_of(i));
    if (i % 2 == 0) {
      EXPECT_EQ(value, nullptr) << i;
    } else {
      ASSERT_EQ(value, where[static_cast<std::size_t>(i)]) << i;
      EXPECT_EQ(*value, "order " + std::to_string(i));
    }
  }
}

}  // namespace
