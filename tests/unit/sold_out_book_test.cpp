// The gateway's memory of sold-out sales: who may be refused without asking Redis.
#include <gtest/gtest.h>

#include "domain/ids.hpp"
#include "store/redis/sold_out_book.hpp"

namespace {

using flashgate::domain::Order;
using flashgate::domain::OrderStatus;
using flashgate::store::redis::SoldOutBook;
using Answer = SoldOutBook::Answer;

Order order(std::string id, std::string user, OrderStatus status) {
  return Order{.order_id = std::move(id), .sale_id = "s", .user_id = std::move(user), .status = status, .reason = {}, .payment_id = {}, .external_id = {}, .request_id = {}};
}

SoldOutBook::Snapshot sold_out_with(std::vector<std::pair<std::string, std::string>> holders) {
  SoldOutBook::Snapshot snapshot;
  snapshot.remaining = 0;
  snapshot.holders = std::move(holders);
  return snapshot;
}

TEST(SoldOutBook, ASaleNotFollowedIsAskedOfRedis) {
  SoldOutBook book;
  book.want("s");
  EXPECT_EQ(book.answer("s", "u", "", 1, 0), Answer::ask_redis);
  EXPECT_EQ(book.take_wanted(), std::vector<std::string>{"s"});
  EXPECT_TRUE(book.take_wanted().empty());
}

TEST(SoldOutBook, AFollowedSoldOutSaleRefusesNewBuyersButNotHolders) {
  SoldOutBook book;
  book.follow("s", sold_out_with({{"holder", "o-1"}}));
  EXPECT_EQ(book.answer("s", "newcomer", "", 1, 0), Answer::sold_out);
  EXPECT_EQ(book.answer("s", "holder", "", 1, 0), Answer::ask_redis);  // Redis answers with the holder's order
  EXPECT_EQ(book.answered(), 1u);
}

TEST(SoldOutBook, AHolderUnderARequestIdIsAskedOfRedisForThatRequest) {
  SoldOutBook book;
  // Holders are kept by hold key (domain::hold_key): a buyer's order made with a request id.
  book.follow("s", sold_out_with({{"multi#cart-1", "o-1"}}));
  EXPECT_EQ(book.answer("s", "multi", "cart-1", 1, 0), Answer::ask_redis);  // the repeat finds its order
  EXPECT_EQ(book.answer("s", "multi", "cart-2", 1, 0), Answer::sold_out);
  EXPECT_EQ(book.answer("s", "multi", "", 1, 0), Answer::sold_out);
  Order cart2 = order("o-2", "multi", OrderStatus::queued);
  cart2.request_id = "cart-2";
  book.apply(cart2, 0);
  EXPECT_EQ(book.answer("s", "multi", "cart-2", 1, 0), Answer::ask_redis);
  cart2.status = OrderStatus::failed;
  book.apply(cart2, 0);
  EXPECT_EQ(book.answer("s", "multi", "cart-2", 1, 0), Answer::sold_out);
}

TEST(SoldOutBook, AQuantityTheSaleRefusesIsAskedOfRedis) {
  SoldOutBook book;
  auto snapshot = sold_out_with({});
  snapshot.max_per_buyer = 3;
  book.follow("s", std::move(snapshot));
  EXPECT_EQ(book.answer("s", "u", "", 3, 0), Answer::sold_out);
  EXPECT_EQ(book.answer("s", "u", "", 4, 0), Answer::ask_redis);  // the script says invalid_request
  EXPECT_EQ(book.answer("s", "u", "", 0, 0), Answer::ask_redis);
}

TEST(SoldOutBook, LostChangesSendTheTagsSalesToRedisUntilFollowedAgain) {
  SoldOutBook book;
  book.follow("s", sold_out_with({}));
  book.follow("other", sold_out_with({}));
  ASSERT_NE(flashgate::domain::sale_tag("s"), flashgate::domain::sale_tag("other"));
  book.lost_changes(flashgate::domain::sale_tag("s"));
  EXPECT_EQ(book.answer("s", "newcomer", "", 1, 0), Answer::ask_redis);  // a unit may have come back meanwhile
  EXPECT_EQ(book.answer("other", "newcomer", "", 1, 0), Answer::sold_out);
  EXPECT_EQ(book.take_wanted(), std::vector<std::string>{"s"});  // a new snapshot is taken
  book.follow("s", sold_out_with({}));
  EXPECT_EQ(book.answer("s", "newcomer", "", 1, 0), Answer::sold_out);
}

TEST(SoldOutBook, AUnitGivenBackIsOfferedAgainAndItsHolderForgotten) {
  SoldOutBook book;
  book.follow("s", sold_out_with({{"holder", "o-1"}}));
  book.apply(order("o-1", "holder", OrderStatus::cancelled), 1);
  EXPECT_EQ(book.answer("s", "newcomer", "", 1, 0), Answer::ask_redis);
  book.apply(order("o-2", "newcomer", OrderStatus::queued), 0);
  EXPECT_EQ(book.answer("s", "holder", "", 1, 0), Answer::sold_out);  // its order was cancelled: a buyer like any other
  EXPECT_EQ(book.answer("s", "newcomer", "", 1, 0), Answer::ask_redis);
}

TEST(SoldOutBook, AnOlderOrderOfAUserDoesNotForgetItsNewerOne) {
  SoldOutBook book;
  book.follow("s", sold_out_with({{"u", "o-new"}}));
  book.apply(order("o-old", "u", OrderStatus::failed), 0);
  EXPECT_EQ(book.answer("s", "u", "", 1, 0), Answer::ask_redis);
}

TEST(SoldOutBook, EntriesOfSalesNotFollowedAreIgnored) {
  SoldOutBook book;
  book.apply(order("o-1", "u", OrderStatus::queued), 0);
  EXPECT_EQ(book.answer("s", "other", "", 1, 0), Answer::ask_redis);
}

TEST(SoldOutBook, TheWindowIsCheckedFirst) {
  SoldOutBook book;
  auto snapshot = sold_out_with({{"holder", "o-1"}});
  snapshot.starts_at = 1'000;
  snapshot.ends_at = 2'000;
  book.follow("s", snapshot);
  EXPECT_EQ(book.answer("s", "holder", "", 1, 500), Answer::sale_not_open);
  EXPECT_EQ(book.answer("s", "holder", "", 1, 2'000), Answer::sale_ended);
  EXPECT_EQ(book.answer("s", "newcomer", "", 1, 1'500), Answer::sold_out);
}

TEST(SoldOutBook, FollowingAgainReplacesWhatWasKnown) {
  SoldOutBook book;
  book.follow("s", sold_out_with({}));
  auto restocked = sold_out_with({});
  restocked.remaining = 3;
  book.follow("s", restocked);
  EXPECT_EQ(book.answer("s", "u", "", 1, 0), Answer::ask_redis);
}

}  // namespace

namespace {

TEST(SoldOutBook, ABucketedSaleSeenEmptyStaysSoUntilAUnitIsGivenBackAnywhere) {
  SoldOutBook book;
  EXPECT_FALSE(book.buckets_empty("s"));
  book.all_buckets_empty("s", book.releases());
  EXPECT_TRUE(book.buckets_empty("s"));
  book.apply(order("o-1", "u", OrderStatus::confirmed), std::nullopt);
  EXPECT_TRUE(book.buckets_empty("s")) << "a confirmation gives nothing back";
  auto elsewhere = order("o-2", "v", OrderStatus::failed);
  elsewhere.sale_id = "another";
  book.apply(elsewhere, std::nullopt);
  EXPECT_FALSE(book.buckets_empty("s"));
  EXPECT_EQ(book.answered(), 2u);
}

TEST(SoldOutBook, AnEmptyReadThatStartedBeforeAUnitCameBackProvesNothing) {
  SoldOutBook book;
  const auto before = book.releases();
  book.apply(order("o-1", "u", OrderStatus::cancelled), std::nullopt);  // seen while the buckets were read
  book.all_buckets_empty("s", before);
  EXPECT_FALSE(book.buckets_empty("s"));
  book.all_buckets_empty("s", book.releases());
  book.lost_changes("any-tag");
  EXPECT_FALSE(book.buckets_empty("s")) << "lost changes may have given units back";
  book.all_buckets_empty("s", book.releases());
  book.forget("s");
  EXPECT_FALSE(book.buckets_empty("s"));
}

// A sale of several items (issue #26) is followed once one item sells out, but
// says sold out only when all have: the others are asked of Redis until then.
TEST(SoldOutBook, ASaleOfSeveralItemsRefusesOnlyWhenEveryItemIsOutAndNeverForAnItemItCannotCheck) {
  SoldOutBook book;
  auto snapshot = sold_out_with({{"holder@phone", "o-1"}, {"multi@buds#cart-1", "o-2"}});
  snapshot.remaining = 2;  // the buds are left
  snapshot.items = {"phone", "buds"};
  book.follow("s", snapshot);
  EXPECT_EQ(book.answer("s", "newcomer", "", 1, 0, "phone"), Answer::ask_redis);
  book.apply(order("o-3", "late", OrderStatus::queued), 0);  // the last buds go: the sale has no unit left
  EXPECT_EQ(book.answer("s", "newcomer", "", 1, 0, "phone"), Answer::sold_out);
  EXPECT_EQ(book.answer("s", "newcomer", "", 1, 0, "buds"), Answer::sold_out);
  EXPECT_EQ(book.answer("s", "holder", "", 1, 0, "phone"), Answer::ask_redis);  // the repeat finds the order
  EXPECT_EQ(book.answer("s", "holder", "", 1, 0, "buds"), Answer::sold_out);   // limits and repeats are per item
  EXPECT_EQ(book.answer("s", "multi", "cart-1", 1, 0, "buds"), Answer::ask_redis);
  // What Redis refuses otherwise: no item named (400), an unknown one (404), a quantity over the item's limit.
  EXPECT_EQ(book.answer("s", "newcomer", "", 1, 0, ""), Answer::ask_redis);
  EXPECT_EQ(book.answer("s", "newcomer", "", 1, 0, "tablet"), Answer::ask_redis);
  EXPECT_EQ(book.answer("s", "newcomer", "", 2, 0, "buds"), Answer::ask_redis);
  EXPECT_EQ(book.answered(), 3u);
}

}  // namespace
