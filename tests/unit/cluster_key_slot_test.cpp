#include "store/redis/cluster/key_slot.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace flashgate::store::redis::cluster;
using namespace std::string_literals;

TEST(ClusterKeySlot, Crc16IsXmodemWithTheSpecificationsCheckValue) {
  EXPECT_EQ(crc16_xmodem("123456789"), 0x31C3);
  EXPECT_EQ(crc16_xmodem(""), 0);
}

TEST(ClusterKeySlot, SlotIsTheCrcModulo16384) {
  EXPECT_EQ(key_slot("123456789"), 0x31C3 % 16384);
  // The examples of the CLUSTER KEYSLOT page.
  EXPECT_EQ(key_slot("somekey"), 11058);
  EXPECT_EQ(key_slot("foo{hash_tag}"), 2515);
  EXPECT_EQ(key_slot("bar{hash_tag}"), 2515);
  EXPECT_EQ(key_slot(""), 0);
}

TEST(ClusterKeySlot, KeysWithOneHashTagShareASlot) {
  EXPECT_EQ(hashed_part("{user1000}.following"), "user1000");
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
}

TEST(ClusterKeySlot, HashTagRulesOfTheSpecification) {
  // An empty "{}" is no tag, and no later pair is looked for: the whole key.
  EXPECT_EQ(hashed_part("foo{}{bar}"), "foo{}{bar}");
  // The first '{' and the first '}' after it.
  EXPECT_EQ(hashed_part("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));
  EXPECT_EQ(hashed_part("foo{bar}{zap}"), "bar");
  EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar"));
}

TEST(ClusterKeySlot, BracesThatDoNotCloseHashTheWholeKey) {
  EXPECT_EQ(hashed_part("foo{bar"), "foo{bar");
  EXPECT_EQ(hashed_part("foo}bar{"), "foo}bar{");
  EXPECT_EQ(hashed_part("{"), "{");
  EXPECT_EQ(hashed_part("}{x}"), "x");
}

TEST(ClusterKeySlot, KeysAreBinary) {
  const std::string with_nul = "a\0b"s;
  EXPECT_EQ(hashed_part(with_nul).size(), 3u);
  EXPECT_NE(key_slot(with_nul), key_slot("a"));
  EXPECT_EQ(key_slot("{\xff\0}x"s), key_slot("\xff\0"s));
}

TEST(ClusterKeySlot, CommonSlotOfNoKeysIsNone) {
  EXPECT_EQ(common_slot(std::vector<std::string>{}).kind, CommonSlot::Kind::no_keys);
}

TEST(ClusterKeySlot, KeysOfOneTagHaveACommonSlot) {
  const std::vector<std::string> keys{"{T1}:sale", "{T1}:users", "{T1}:queue"};
  const auto common = common_slot(keys);
  EXPECT_EQ(common.kind, CommonSlot::Kind::same);
  EXPECT_EQ(common.slot, key_slot("T1"));
}

TEST(ClusterKeySlot, CrossingKeysNameTheFirstThatLeaves) {
  ASSERT_NE(key_slot("T1"), key_slot("T2"));
  const std::vector<std::string> keys{"{T1}:sale", "{T1}:users", "{T2}:queue", "{T3}:x"};
  const auto common = common_slot(keys);
  EXPECT_EQ(common.kind, CommonSlot::Kind::crossing);
  EXPECT_EQ(common.slot, key_slot("T1"));
  EXPECT_EQ(common.crossing_key, 2u);
  EXPECT_EQ(common.crossing_slot, key_slot("T2"));
}

}  // namespace
