// Tickets a thread opened lately are remembered: a repeat costs a comparison, and
// nothing but the very same text, still within its lifetime, is taken for it.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "domain/ticket.hpp"

namespace {

using flashgate::domain::ErrorCode;
using flashgate::domain::random_ticket_key;
using flashgate::domain::TicketClaims;
using flashgate::domain::TicketCodec;
using flashgate::domain::TimeMs;

constexpr std::int64_t ttl = 60'000;
constexpr TimeMs issued = 1'800'000'000'000;

TicketClaims claims_of(int n) {
  return TicketClaims{"order-" + std::to_string(n), "sale-1", "user-" + std::to_string(n), issued};
}

void expect_claims(const TicketCodec& codec, const std::string& ticket, const TicketClaims& expected,
                   TimeMs now = issued) {
  const auto opened = codec.open(ticket, now);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->order_id, expected.order_id);
  EXPECT_EQ(opened->sale_id, expected.sale_id);
  EXPECT_EQ(opened->user_id, expected.user_id);
  EXPECT_EQ(opened->issued_at, expected.issued_at);
}

TEST(TicketMemo, ASecondOpenGivesTheSameClaims) {
  const TicketCodec codec({random_ticket_key()}, ttl);
  const std::string ticket = codec.seal(claims_of(1));
  expect_claims(codec, ticket, claims_of(1));
  expect_claims(codec, ticket, claims_of(1));
}

TEST(TicketMemo, NoAlteredCopyOfARememberedTicketOpens) {
  const TicketCodec codec({random_ticket_key()}, ttl);
  const std::string ticket = codec.seal(claims_of(2));
  expect_claims(codec, ticket, claims_of(2));
  for (std::size_t i = 0; i < ticket.size(); ++i) {
    std::string altered = ticket;
    altered[i] = altered[i] == 'A' ? 'B' : 'A';
    const auto opened = codec.open(altered, issued);
    EXPECT_FALSE(opened) << "a ticket altered at " << i << " opened";
  }
  EXPECT_FALSE(codec.open(ticket + "A", issued));
  EXPECT_FALSE(codec.open(ticket.substr(0, ticket.size() - 1), issued));
}

// Tickets with long ids are too long to keep; they open each time instead.
TEST(TicketMemo, ATicketTooLongToRememberOpensEveryTime) {
  const TicketCodec codec({random_ticket_key()}, ttl);
  const TicketClaims long_ids{"order-7", std::string(64, 's'), std::string(64, 'u'), issued};
  const std::string ticket = codec.seal(long_ids);
  ASSERT_GT(ticket.size(), 200u);
  expect_claims(codec, ticket, long_ids);
  expect_claims(codec, ticket, long_ids);
  for (std::size_t i = 0; i < ticket.size(); i += 7) {
    std::string altered = ticket;
    altered[i] = altered[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(codec.open(altered, issued)) << "a ticket altered at " << i << " opened";
  }
}

// A remembered ticket is found by its characters 8..23; only its whole text matches it.
TEST(TicketMemo, TextsSharingARememberedTicketsPlaceDoNotOpen) {
  const TicketCodec codec({random_ticket_key()}, ttl);
  const std::string ticket = codec.seal(claims_of(8));
  expect_claims(codec, ticket, claims_of(8));
  EXPECT_FALSE(codec.open(ticket.substr(0, 24), issued));
  EXPECT_FALSE(codec.open(ticket.substr(0, 24) + std::string(ticket.size() - 24, 'A'), issued));
  EXPECT_FALSE(codec.open(std::string(8, 'A') + ticket.substr(8), issued));
}

TEST(TicketMemo, ARememberedTicketStillExpires) {
  const TicketCodec codec({random_ticket_key()}, ttl);
  const std::string ticket = codec.seal(claims_of(3));
  expect_claims(codec, ticket, claims_of(3));
  expect_claims(codec, ticket, claims_of(3), issued + ttl);
  const auto late = codec.open(ticket, issued + ttl + 1);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::ticket_expired);
}

TEST(TicketMemo, AnotherCodecDoesNotTakeATicketThisOneRemembers) {
  const TicketCodec mine({random_ticket_key()}, ttl);
  const TicketCodec theirs({random_ticket_key()}, ttl);
  const std::string ticket = mine.seal(claims_of(4));
  expect_claims(mine, ticket, claims_of(4));
  const auto opened = theirs.open(ticket, issued);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::invalid_ticket);
}

TEST(TicketMemo, TicketsPastItsCapacityStillOpen) {
  const TicketCodec codec({random_ticket_key()}, ttl);
  const int count = static_cast<int>(TicketCodec::memo_entries_per_thread) + 2000;
  std::vector<std::string> tickets;
  tickets.reserve(count);
  for (int n = 0; n < count; ++n) tickets.push_back(codec.seal(claims_of(n)));
  for (int round = 0; round < 2; ++round)
    for (int n = 0; n < count; n += 97) expect_claims(codec, tickets[n], claims_of(n));
  for (int n = 0; n < count; ++n) ASSERT_TRUE(codec.open(tickets[n], issued)) << n;
  for (int n = 0; n < count; n += 13) expect_claims(codec, tickets[n], claims_of(n));
}

TEST(TicketMemo, EachThreadOpensOnItsOwn) {
  const TicketCodec codec({random_ticket_key()}, ttl);
  const std::string ticket = codec.seal(claims_of(5));
  expect_claims(codec, ticket, claims_of(5));
  std::thread other([&] {
    expect_claims(codec, ticket, claims_of(5));
    expect_claims(codec, ticket, claims_of(5));
  });
  other.join();
}

TEST(TicketMemo, ACodecThatRemembersNothingOpensAsOften) {
  const TicketCodec codec({random_ticket_key()}, ttl, /*remember_opened=*/false);
  const std::string ticket = codec.seal(claims_of(6));
  expect_claims(codec, ticket, claims_of(6));
  expect_claims(codec, ticket, claims_of(6));
  EXPECT_FALSE(codec.open(ticket, issued + ttl + 1));
}

}  // namespace
