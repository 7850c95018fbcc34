// The per-client rate limiter: a flood of new addresses evicts the least
// recently seen buckets, never everyone's; IPv6 clients are limited per /64.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "gateway/rate_limiter.hpp"

namespace {

using flashgate::gateway::RateLimiter;

// One request, then none for about 1000 s: a refused client stays refused for the whole test.
constexpr double slow_rate = 0.001;

bool allowed(RateLimiter& limiter, const std::string& client) {
  std::int64_t retry_after_s = 0;
  return limiter.allow(client, retry_after_s);
}

std::string flood_address(std::size_t i) {
  return "10." + std::to_string(i >> 16 & 255) + "." + std::to_string(i >> 8 & 255) + "." + std::to_string(i & 255);
}

TEST(RateLimiter, AFloodOfNewAddressesDoesNotResetAnActiveClient) {
  RateLimiter limiter(slow_rate, 1);  // the default table: 100,000 clients
  ASSERT_TRUE(allowed(limiter, "192.0.2.1"));
  ASSERT_FALSE(allowed(limiter, "192.0.2.1"));
  for (std::size_t i = 0; i < 250'000; ++i) {
    allowed(limiter, flood_address(i));
    // The active client keeps asking (and keeps being refused): its bucket is recent, never the one evicted.
    if (i % 1000 == 999) {
      ASSERT_FALSE(allowed(limiter, "192.0.2.1")) << "reset after " << i + 1 << " new addresses";
    }
  }
}

TEST(RateLimiter, AtCapacityTheLeastRecentlySeenClientIsEvicted) {
  RateLimiter limiter(slow_rate, 1, 3);
  for (const char* client : {"192.0.2.1", "192.0.2.2", "192.0.2.3"}) ASSERT_TRUE(allowed(limiter, client));
  ASSERT_FALSE(allowed(limiter, "192.0.2.1"));  // .1 is now the most recent, .2 the least
  ASSERT_TRUE(allowed(limiter, "192.0.2.4"));   // evicts .2 only
  EXPECT_FALSE(allowed(limiter, "192.0.2.1"));
  EXPECT_FALSE(allowed(limiter, "192.0.2.3"));
  EXPECT_FALSE(allowed(limiter, "192.0.2.4"));
  EXPECT_TRUE(allowed(limiter, "192.0.2.2"));  // forgotten: a fresh bucket
}

TEST(RateLimiter, IPv6ClientsShareOneBucketPerSlash64) {
  RateLimiter limiter(slow_rate, 1);
  ASSERT_TRUE(allowed(limiter, "2001:db8:1:2::1"));
  EXPECT_FALSE(allowed(limiter, "2001:db8:1:2::2"));
  EXPECT_FALSE(allowed(limiter, "2001:db8:1:2:ffff:ffff:ffff:ffff"));
  EXPECT_FALSE(allowed(limiter, "2001:0db8:0001:0002:0000:0000:0000:0003"));  // another spelling
  EXPECT_FALSE(allowed(limiter, "2001:DB8:1:2::4"));
  EXPECT_TRUE(allowed(limiter, "2001:db8:1:3::1"));  // the next /64
  EXPECT_TRUE(allowed(limiter, "2001:db8::1"));
}

TEST(RateLimiter, IPv4MappedAddressesCountAsIPv4) {
  RateLimiter limiter(slow_rate, 1);
  ASSERT_TRUE(allowed(limiter, "192.0.2.7"));
  EXPECT_FALSE(allowed(limiter, "::ffff:192.0.2.7"));
  EXPECT_TRUE(allowed(limiter, "::ffff:192.0.2.8"));  // not one /64 for all of IPv4
  EXPECT_FALSE(allowed(limiter, "192.0.2.8"));
  EXPECT_TRUE(allowed(limiter, "192.0.2.9"));  // IPv4 stays per address
}

TEST(RateLimiter, AnythingElseIsItsOwnKey) {
  RateLimiter limiter(slow_rate, 1);
  ASSERT_TRUE(allowed(limiter, ""));
  EXPECT_FALSE(allowed(limiter, ""));
  ASSERT_TRUE(allowed(limiter, "not:an:address"));
  EXPECT_FALSE(allowed(limiter, "not:an:address"));
  EXPECT_TRUE(allowed(limiter, "fe80::1%eth0"));  // a zone: still a /64
  EXPECT_FALSE(allowed(limiter, "fe80::2"));
}

TEST(RateLimiter, RateZeroAllowsEverything) {
  RateLimiter limiter(0, 1);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(allowed(limiter, "192.0.2.1"));
}

}  // namespace

TEST(RateLimiterKeys, BuyerNamesAreTakenAsTheyAreNotAsAddresses) {
  flashgate::gateway::RateLimiter buyers(0.001, 1, 100, flashgate::gateway::RateLimiter::Keys::names);
  std::int64_t retry = 0;
  // Two buyers whose ids read like addresses of one IPv6 /64 are two buyers.
  EXPECT_TRUE(buyers.allow("2001:db8::1", retry));
  EXPECT_TRUE(buyers.allow("2001:db8::2", retry));
  EXPECT_FALSE(buyers.allow("2001:db8::1", retry));
}
