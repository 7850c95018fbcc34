#include "domain/secrets.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace {

using flashgate::domain::constant_time_equal;
using flashgate::domain::hmac_sha256_hex;
using flashgate::domain::random_secret_hex;

TEST(ConstantTimeEqual, EqualStringsAreEqual) {
  EXPECT_TRUE(constant_time_equal("s3cr3t-token", "s3cr3t-token"));
  const std::string long_secret(4096, 'k');
  EXPECT_TRUE(constant_time_equal(long_secret, long_secret));
}

TEST(ConstantTimeEqual, DifferentStringsAreNotEqual) {
  EXPECT_FALSE(constant_time_equal("s3cr3t-token", "s3cr3t-tokeN"));
  EXPECT_FALSE(constant_time_equal("X3cr3t-token", "s3cr3t-token"));
}

TEST(ConstantTimeEqual, DifferentLengthsAreNotEqual) {
  EXPECT_FALSE(constant_time_equal("s3cr3t", "s3cr3t-token"));
  EXPECT_FALSE(constant_time_equal("s3cr3t-token", "s3cr3t"));
  EXPECT_FALSE(constant_time_equal(std::string_view("abc\0", 4), std::string_view("abc", 3)));
}

TEST(ConstantTimeEqual, EmptyEqualsOnlyEmpty) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_FALSE(constant_time_equal("", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", ""));
}

TEST(ConstantTimeEqual, EmbeddedNulBytesCount) {
  EXPECT_FALSE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
  EXPECT_TRUE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
}

// RFC 4231, test case 1: key = 0x0b * 20, data = "Hi There".
TEST(HmacSha256, Rfc4231TestCase1) {
  EXPECT_EQ(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

// RFC 4231, test case 2: a key shorter than the block.
TEST(HmacSha256, Rfc4231TestCase2) {
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// RFC 4231, test case 6: a key longer than the block (hashed first).
TEST(HmacSha256, Rfc4231TestCase6LongKey) {
  EXPECT_EQ(hmac_sha256_hex(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, IsLowercaseHexOf32Bytes) {
  const std::string mac = hmac_sha256_hex("k", "m");
  EXPECT_EQ(mac.size(), 64u);
  for (char c : mac) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << mac;
}

TEST(HmacSha256, DependsOnKeyAndMessage) {
  const std::string base = hmac_sha256_hex("key", R"({"order_id":"a","payment_id":"p"})");
  EXPECT_NE(base, hmac_sha256_hex("kez", R"({"order_id":"a","payment_id":"p"})"));
  EXPECT_NE(base, hmac_sha256_hex("key", R"({"order_id":"b","payment_id":"p"})"));
  EXPECT_EQ(base, hmac_sha256_hex("key", R"({"order_id":"a","payment_id":"p"})"));
}

TEST(RandomSecret, HasTwoHexCharactersPerByteAndDiffers) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string s = random_secret_hex(32);
    ASSERT_EQ(s.size(), 64u);
    for (char c : s) ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << s;
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
