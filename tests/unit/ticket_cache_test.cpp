// Tickets opened once are opened again from memory, and judged the same.
#include <gtest/gtest.h>

#include "gateway/ticket_cache.hpp"

namespace {

using flashgate::domain::ErrorCode;
using flashgate::domain::TicketClaims;
using flashgate::domain::TicketCodec;
using flashgate::domain::TicketKey;
using flashgate::gateway::TicketCache;

constexpr std::int64_t ttl = 60'000;

TicketClaims claims_at(flashgate::domain::TimeMs issued) {
  TicketClaims claims;
  claims.order_id = std::string("order-0000000001");
  claims.sale_id = std::string("sale");
  claims.user_id = std::string("user");
  claims.issued_at = issued;
  return claims;
}

class TicketCacheTest : public ::testing::Test {
 protected:
  TicketCodec codec_{{TicketKey{7}}, ttl};
  TicketCache cache_{codec_, 8};
};

TEST_F(TicketCacheTest, ASecondOpenGivesTheSameClaims) {
  const auto ticket = codec_.seal(claims_at(1'000));
  for (int i = 0; i < 2; ++i) {
    const auto opened = cache_.open(ticket, 2'000);
    ASSERT_TRUE(opened);
    EXPECT_EQ(opened.value().order_id, "order-0000000001");
    EXPECT_EQ(opened.value().user_id, "user");
    EXPECT_EQ(opened.value().issued_at, 1'000);
  }
}

TEST_F(TicketCacheTest, AKeptTicketStillExpires) {
  const auto ticket = codec_.seal(claims_at(1'000));
  ASSERT_TRUE(cache_.open(ticket, 2'000));
  const auto late = cache_.open(ticket, 1'000 + ttl + 1);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::ticket_expired);
  EXPECT_TRUE(cache_.open(ticket, 1'000 + ttl));  // the codec's own boundary
}

TEST_F(TicketCacheTest, AnAlteredTicketIsNotTakenForAKeptOne) {
  const auto ticket = codec_.seal(claims_at(1'000));
  ASSERT_TRUE(cache_.open(ticket, 2'000));
  std::string altered = ticket;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  const auto opened = cache_.open(altered, 2'000);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::invalid_ticket);
  EXPECT_FALSE(cache_.open(ticket.substr(1), 2'000));
  EXPECT_FALSE(cache_.open("", 2'000));
}

TEST_F(TicketCacheTest, ManyTicketsInAFewSlotsAllOpen) {
  std::vector<std::string> tickets;
  for (int i = 0; i < 50; ++i) {
    auto claims = claims_at(1'000 + i);
    tickets.push_back(codec_.seal(claims));
  }
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 50; ++i) {
      const auto opened = cache_.open(tickets[static_cast<std::size_t>(i)], 2'000);
      ASSERT_TRUE(opened);
      EXPECT_EQ(opened.value().issued_at, 1'000 + i);
    }
}

}  // namespace
