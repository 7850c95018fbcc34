// The Store contract for sales of several items (issue #26): what every
// Store must do with Sale::items, run against each store as the rest of the
// contract is (store_contract_test.cpp, whose stores are in store_backends.hpp).
// Per item: its own remaining and limit, sold_out and not_enough_stock about
// it alone, repeats keyed by buyer and item, counts and units kept beside the
// sale's sums, units given back to it; an intake must name one of the items.
// A sale of one item ignores an item named.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "domain/errors.hpp"
#include "domain/sale.hpp"
#include "store_backends.hpp"
#include "store_calls.hpp"

namespace {

using namespace std::chrono_literals;
using namespace flashgate::testing;
using flashgate::domain::ErrorCode;
using flashgate::domain::item_stock_key;
using flashgate::domain::OrderStatus;
using flashgate::domain::refusal;
using flashgate::domain::Result;
using flashgate::domain::Sale;
using flashgate::domain::SaleItem;
using flashgate::store::IntakeOutcome;
using flashgate::store::IntakeRequest;
using flashgate::store::ItemView;
using flashgate::store::SaleView;

class StoreItemsContract : public StoreCase {
 protected:
  // "phone" (3 units, 1 per buyer) and "buds" (5 units, 3 per buyer).
  SaleView phone_and_buds(const std::string& id) {
    Sale made = make_sale(id, 8);
    made.items = {SaleItem{"phone", "Phone X", 3, 1}, SaleItem{"buds", "Buds", 5, 3}};
    auto r = create_sale(made);
    EXPECT_TRUE(r) << r.error().message;
    return r ? r.value() : SaleView{};
  }

  Result<IntakeOutcome> buy(const std::string& sale_id, const std::string& user, const std::string& item,
                            std::int64_t quantity = 1, const std::string& request_id = {}) {
    return intake(sale_id, IntakeRequest{user, quantity, request_id, item});
  }
  flashgate::store::OrderView bought(const std::string& sale_id, const std::string& user, const std::string& item,
                                     std::int64_t quantity = 1, const std::string& request_id = {}) {
    auto r = buy(sale_id, user, item, quantity, request_id);
    EXPECT_TRUE(r) << user << " " << item << ": " << r.error().message;
    return r ? r->view : flashgate::store::OrderView{};
  }

  // Intake, claim and finish as CONFIRMED: an order of the item awaiting payment.
  std::string confirmed_item(const std::string& sale_id, const std::string& user, const std::string& item) {
    const auto id = bought(sale_id, user, item).order.order_id;
    const auto order = claimed();
    EXPECT_EQ(order.order_id, id) << "claimed another order than the one just taken in";
    EXPECT_TRUE(store->finish(order.order_id, OrderStatus::confirmed, "", ""));
    return id;
  }

  ItemView item_of(const std::string& sale_id, const std::string& item_id) {
    for (const auto& item : sale_of(sale_id).items)
      if (item.item.item_id == item_id) return item;
    ADD_FAILURE() << sale_id << " has no item " << item_id;
    return {};
  }
  std::int64_t remaining_of(const std::string& sale_id, const std::string& item_id) {
    return item_of(sale_id, item_id).remaining;
  }

  // Per item: remaining + units held == stock; the sale's numbers are the sums of its items'.
  void expect_items_add_up(const std::string& sale_id) {
    const SaleView v = sale_of(sale_id);
    ASSERT_EQ(v.items.size(), v.sale.items.size());
    std::int64_t remaining = 0;
    std::array<std::uint64_t, flashgate::domain::all_statuses.size()> counts{}, units{};
    for (const auto& item : v.items) {
      const auto held = item.units[idx(OrderStatus::queued)] + item.units[idx(OrderStatus::processing)] +
                        item.units[idx(OrderStatus::confirmed)] + item.units[idx(OrderStatus::paid)];
      EXPECT_GE(item.remaining, 0) << item.item.item_id;
      EXPECT_EQ(item.remaining + static_cast<std::int64_t>(held), item.item.stock) << item.item.item_id;
      remaining += item.remaining;
      for (std::size_t i = 0; i < counts.size(); ++i) {
        counts[i] += item.counts[i];
        units[i] += item.units[i];
      }
    }
    EXPECT_EQ(v.remaining, remaining);
    EXPECT_EQ(v.counts, counts);
    EXPECT_EQ(v.units, units);
    expect_stock_invariant(sale_id);
  }

  template <class T>
  static void expect_refused(const Result<T>& r, ErrorCode code) {
    ASSERT_FALSE(r) << "accepted, expected " << flashgate::domain::error_name(code);
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_EQ(r.error().message, refusal(code).message);
  }

  std::unique_ptr<Backend> backend_;
};

TEST_P(StoreItemsContract, ASaleOfItemsIsReadBackWithEachItem) {
  const SaleView created = phone_and_buds("s1");
  ASSERT_EQ(created.items.size(), 2u);
  EXPECT_EQ(created.remaining, 8);
  const SaleView read = sale_of("s1");
  ASSERT_EQ(read.sale.items.size(), 2u);
  ASSERT_EQ(read.items.size(), 2u);
  EXPECT_EQ(read.items[0].item.item_id, "phone");
  EXPECT_EQ(read.items[0].item.name, "Phone X");
  EXPECT_EQ(read.items[0].item.stock, 3);
  EXPECT_EQ(read.items[0].item.max_per_buyer, 1);
  EXPECT_EQ(read.items[0].remaining, 3);
  EXPECT_FALSE(read.items[0].remaining_db);
  EXPECT_EQ(read.items[1].item.item_id, "buds");
  EXPECT_EQ(read.items[1].item.max_per_buyer, 3);
  EXPECT_EQ(read.items[1].remaining, 5);
  EXPECT_EQ(read.remaining, 8);
  expect_items_add_up("s1");
}

TEST_P(StoreItemsContract, AnIntakeMustNameAnItemOfTheSale) {
  phone_and_buds("s1");
  const auto none = buy("s1", "u1", "");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::invalid_request);
  EXPECT_EQ(none.error().message, flashgate::domain::item_required().message);
  expect_refused(buy("s1", "u1", "tablet"), ErrorCode::item_not_found);
  const SaleView after = sale_of("s1");
  EXPECT_EQ(after.remaining, 8);
  for (const auto status : flashgate::domain::all_statuses) EXPECT_EQ(after.counts[idx(status)], 0u);
}

TEST_P(StoreItemsContract, AnIntakeTakesFromTheItemItNames) {
  phone_and_buds("s1");
  const auto phone = bought("s1", "u1", "phone");
  EXPECT_EQ(phone.order.item_id, "phone");
  EXPECT_EQ(phone.position, 1u);
  const auto buds = bought("s1", "u2", "buds", 2);
  EXPECT_EQ(buds.order.item_id, "buds");
  EXPECT_EQ(buds.order.quantity, 2);
  EXPECT_EQ(buds.position, 2u);  // one queue for every item of the sale
  EXPECT_EQ(order_view("s1", buds.order.order_id).order.item_id, "buds");
  EXPECT_EQ(remaining_of("s1", "phone"), 2);
  EXPECT_EQ(remaining_of("s1", "buds"), 3);
  EXPECT_EQ(sale_of("s1").remaining, 5);
  EXPECT_EQ(item_of("s1", "buds").counts[idx(OrderStatus::queued)], 1u);
  EXPECT_EQ(item_of("s1", "buds").units[idx(OrderStatus::queued)], 2u);
  const auto claimed_order = claimed();
  EXPECT_EQ(claimed_order.order_id, phone.order.order_id);
  EXPECT_EQ(claimed_order.item_id, "phone");
  expect_items_add_up("s1");
}

TEST_P(StoreItemsContract, AnItemSellsOutAlone) {
  phone_and_buds("s1");
  for (int i = 1; i <= 3; ++i) bought("s1", numbered("u", i), "phone");
  expect_refused(buy("s1", "u4", "phone"), ErrorCode::sold_out);
  EXPECT_EQ(remaining_of("s1", "phone"), 0);
  bought("s1", "u4", "buds", 3);
  const auto short_of = buy("s1", "u5", "buds", 3);
  ASSERT_FALSE(short_of);
  EXPECT_EQ(short_of.error().code, ErrorCode::not_enough_stock);
  EXPECT_EQ(short_of.error().message, flashgate::domain::not_enough_stock(2).message);
  EXPECT_EQ(short_of.error().remaining, std::optional<std::int64_t>(2));  // the item's, not the sale's
  bought("s1", "u5", "buds", 2);
  expect_refused(buy("s1", "u6", "buds"), ErrorCode::sold_out);
  EXPECT_EQ(sale_of("s1").remaining, 0);
  expect_items_add_up("s1");
}

TEST_P(StoreItemsContract, TheBuyersLimitAndRepeatsArePerItem) {
  phone_and_buds("s1");
  const auto phone = bought("s1", "u1", "phone");
  const auto again = buy("s1", "u1", "phone");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->view.order.order_id, phone.order.order_id);
  // The phone's limit is 1: a request id does not make another order of it.
  const auto other_request = buy("s1", "u1", "phone", 1, "r2");
  ASSERT_TRUE(other_request) << other_request.error().message;
  EXPECT_EQ(other_request->view.order.order_id, phone.order.order_id);
  // Buds are another item: another order, under their limit of 3.
  const auto buds = bought("s1", "u1", "buds", 2, "a");
  EXPECT_NE(buds.order.order_id, phone.order.order_id);
  const auto repeat = buy("s1", "u1", "buds", 2, "a");
  ASSERT_TRUE(repeat) << repeat.error().message;
  EXPECT_FALSE(repeat->created);
  EXPECT_EQ(repeat->view.order.order_id, buds.order.order_id);
  expect_refused(buy("s1", "u1", "buds", 2, "b"), ErrorCode::buyer_limit_reached);
  bought("s1", "u1", "buds", 1, "b");
  expect_refused(buy("s1", "u1", "buds", 1, "c"), ErrorCode::buyer_limit_reached);
  expect_refused(buy("s1", "u2", "phone", 2), ErrorCode::invalid_request);  // above the phone's limit
  EXPECT_EQ(remaining_of("s1", "phone"), 2);
  EXPECT_EQ(remaining_of("s1", "buds"), 2);
  expect_items_add_up("s1");
}

TEST_P(StoreItemsContract, AFailedOrderGivesItsUnitsBackToItsItem) {
  phone_and_buds("s1");
  const auto buds = bought("s1", "u1", "buds", 3);
  const auto order = claimed();
  ASSERT_EQ(order.order_id, buds.order.order_id);
  ASSERT_TRUE(store->finish(order.order_id, OrderStatus::failed, "downstream_refused", ""));
  EXPECT_EQ(remaining_of("s1", "buds"), 5);
  EXPECT_EQ(remaining_of("s1", "phone"), 3);
  EXPECT_EQ(item_of("s1", "buds").counts[idx(OrderStatus::failed)], 1u);
  EXPECT_EQ(item_of("s1", "buds").units[idx(OrderStatus::failed)], 3u);
  // The buyer's allowance of the item is whole again.
  bought("s1", "u1", "buds", 3, "again");
  expect_items_add_up("s1");
}

TEST_P(StoreItemsContract, PaidAndCancelledOrdersAreCountedUnderTheirItem) {
  phone_and_buds("s1");
  const auto paid = confirmed_item("s1", "u1", "phone");
  ASSERT_TRUE(pay(paid, "pay-1"));
  const auto unpaid = confirmed_item("s1", "u2", "buds");
  EXPECT_EQ(store->cancel_unpaid(flashgate::domain::now_ms() + 1000), 1u);
  published(unpaid, 4);  // the Redis gateway's near-cache hears of it through the feed
  EXPECT_EQ(order_view("s1", unpaid).order.status, OrderStatus::cancelled);
  EXPECT_EQ(item_of("s1", "phone").counts[idx(OrderStatus::paid)], 1u);
  EXPECT_EQ(item_of("s1", "buds").counts[idx(OrderStatus::cancelled)], 1u);
  EXPECT_EQ(remaining_of("s1", "phone"), 2);
  EXPECT_EQ(remaining_of("s1", "buds"), 5);
  expect_items_add_up("s1");
}

TEST_P(StoreItemsContract, TheStockFlushNamesEachItem) {
  phone_and_buds("s1");
  sale("plain", 4);
  bought("s1", "u1", "buds", 2);
  std::map<std::string, std::int64_t> remaining;
  for (const auto& [key, left] : store->remaining_by_sale()) remaining[key] = left;
  EXPECT_EQ(remaining, (std::map<std::string, std::int64_t>{{"s1", 6},
                                                            {item_stock_key("s1", "phone"), 3},
                                                            {item_stock_key("s1", "buds"), 3},
                                                            {"plain", 4}}));
  store->set_remaining_db(item_stock_key("s1", "buds"), 3);
  store->set_remaining_db("s1", 6);
  // The Redis store does not wait for its write (see store_contract_test.cpp).
  std::optional<std::int64_t> shown;
  for (const auto start = Clock::now(); shown != 3 && Clock::now() - start < store_patience;) {
    shown = item_of("s1", "buds").remaining_db;
    if (shown != 3) std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(shown, 3);
  EXPECT_FALSE(item_of("s1", "phone").remaining_db);
  store->set_remaining_db(item_stock_key("s1", "tablet"), 1);  // no such item: nothing happens
  store->set_remaining_db(item_stock_key("nope", "buds"), 1);
  expect_items_add_up("s1");
}

TEST_P(StoreItemsContract, ASaleOfOneItemIgnoresAnItemNamed) {
  sale("s1", 2);
  const auto taken = bought("s1", "u1", "anything");
  EXPECT_TRUE(taken.order.item_id.empty());
  const auto again = buy("s1", "u1", "");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->view.order.order_id, taken.order.order_id);
  EXPECT_TRUE(sale_of("s1").items.empty());
  EXPECT_EQ(sale_of("s1").remaining, 1);
}

TEST_P(StoreItemsContract, ACrowdNeverOversellsAnItem) {
  phone_and_buds("s1");
  std::atomic<std::int64_t> phones{0}, buds{0};
  all_at_once(8, [&](int t) {
    StoreCalls calls{store};
    for (int i = 0; i < 5; ++i) {
      const bool phone = (t + i) % 2 == 0;
      const std::int64_t quantity = phone ? 1 : 1 + i % 3;
      const auto r = calls.intake("s1", IntakeRequest{numbered("crowd", t * 10 + i), quantity, {}, phone ? "phone" : "buds"});
      if (r) (phone ? phones : buds) += quantity;
      else EXPECT_TRUE(r.error().code == ErrorCode::sold_out || r.error().code == ErrorCode::not_enough_stock)
               << r.error().message;
    }
  });
  EXPECT_EQ(phones.load(), 3);
  EXPECT_EQ(remaining_of("s1", "phone"), 0);
  EXPECT_EQ(remaining_of("s1", "buds"), 5 - buds.load());
  expect_items_add_up("s1");
}

// --- the stores ---

INSTANTIATE_TEST_SUITE_P(Memory, StoreItemsContract,
                         ::testing::Values(StoreKind{"memory", [] { return std::unique_ptr<Backend>(new MemoryBackend()); },
                                                     HandBack::first_in_line}),
                         [](const auto&) { return std::string("sqlite_journal"); });
INSTANTIATE_TEST_SUITE_P(Redis, StoreItemsContract,
                         ::testing::Values(StoreKind{"redis", [] { return RedisBackend::open(); },
                                                     HandBack::behind_the_queue}),
                         [](const auto&) { return std::string("redis_server"); });
INSTANTIATE_TEST_SUITE_P(RedisCluster, StoreItemsContract,
                         ::testing::Values(StoreKind{"redis cluster", [] { return ClusterBackend::open(); },
                                                     HandBack::behind_the_queue}),
                         [](const auto&) { return std::string("redis_cluster"); });

}  // namespace
