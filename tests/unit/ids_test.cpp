#include "domain/ids.hpp"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

namespace {

using flashgate::domain::is_valid_id;
using flashgate::domain::max_id_length;
using flashgate::domain::new_order_id;

TEST(Ids, OneByteIsValid) { EXPECT_TRUE(is_valid_id("a")); }

TEST(Ids, SixtyFourBytesIsValid) {
  EXPECT_EQ(max_id_length, 64u);
  EXPECT_TRUE(is_valid_id(std::string(64, 'x')));
}

TEST(Ids, EveryAllowedCharacterIsValid) {
  const std::string allowed =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-";
  for (char c : allowed) EXPECT_TRUE(is_valid_id(std::string(1, c))) << c;
  EXPECT_TRUE(is_valid_id("user-42"));
  EXPECT_TRUE(is_valid_id("sale:2026.11.24_A"));
}

TEST(Ids, EmptyIsRefused) { EXPECT_FALSE(is_valid_id("")); }

TEST(Ids, SixtyFiveBytesIsRefused) { EXPECT_FALSE(is_valid_id(std::string(65, 'x'))); }

TEST(Ids, SlashIsRefused) {
  EXPECT_FALSE(is_valid_id("a/b"));
  EXPECT_FALSE(is_valid_id("../etc"));
}

TEST(Ids, SpaceIsRefused) {
  EXPECT_FALSE(is_valid_id("a b"));
  EXPECT_FALSE(is_valid_id(" a"));
  EXPECT_FALSE(is_valid_id("a\t"));
  EXPECT_FALSE(is_valid_id("a\n"));
}

TEST(Ids, UnicodeIsRefused) {
  EXPECT_FALSE(is_valid_id("caf\xc3\xa9"));          // é
  EXPECT_FALSE(is_valid_id("\xe7\xa7\x92\xe6\x9d\x80"));  // 秒杀
}

TEST(Ids, PercentIsRefused) { EXPECT_FALSE(is_valid_id("a%2Fb")); }

TEST(Ids, EmbeddedNulIsRefused) { EXPECT_FALSE(is_valid_id(std::string_view("a\0b", 3))); }

TEST(Ids, EveryOtherAsciiCharacterIsRefused) {
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    const bool allowed = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                         ch == '.' || ch == '_' || ch == ':' || ch == '-';
    EXPECT_EQ(is_valid_id(std::string("id") + ch), allowed) << "character " << c;
  }
}

TEST(Ids, NewOrderIdIsAValidIdOfTwentyHexCharacters) {
  const std::string id = new_order_id();
  EXPECT_TRUE(is_valid_id(id));
  EXPECT_EQ(id.size(), 20u);
  for (char c : id) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
}

TEST(Ids, NewOrderIdIsUniqueOverManyCalls) {
  constexpr int n = 100'000;
  std::unordered_set<std::string> seen;
  seen.reserve(n);
  for (int i = 0; i < n; ++i) {
    std::string id = new_order_id();
    ASSERT_TRUE(is_valid_id(id)) << id;
    ASSERT_TRUE(seen.insert(std::move(id)).second) << "duplicate after " << i << " ids";
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
}

TEST(Ids, NewOrderIdsSortInTheOrderTheyWereMade) {
  std::string previous = new_order_id();
  for (int i = 0; i < 10'000; ++i) {
    std::string id = new_order_id();
    // The counter's 36 bits wrap once in 68 billion ids; a test run never sees it.
    ASSERT_LT(previous, id);
    previous = std::move(id);
  }
}

}  // namespace
