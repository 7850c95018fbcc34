// Sales of several items (issue #26) in the Redis store, on a real
// redis-server (and one case on a real Redis Cluster): each item's stock,
// limit, counts and units in the sale hash, the intake naming an item, and
// every change of an order's status keeping them (units given back to the
// item on FAILED and CANCELLED). A sale of one item is as before.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "domain/order.hpp"
#include "domain/sale.hpp"
#include "redis_cluster_fixture.hpp"
#include "redis_store_fixture.hpp"
#include "store/redis/redis_keys.hpp"
#include "store/redis/redis_store.hpp"
#include "store_calls.hpp"

namespace {

using namespace flashgate::testing;
using namespace std::chrono_literals;
using flashgate::domain::ErrorCode;
using flashgate::domain::OrderStatus;
using flashgate::domain::Sale;
using flashgate::domain::SaleItem;
using flashgate::store::IntakeRequest;
using flashgate::store::ItemView;
using flashgate::store::SaleView;
using flashgate::store::redis::RedisStore;
using flashgate::store::redis::RedisStoreOptions;
namespace keys = flashgate::store::redis::keys;

// phone: 3 units, one per buyer; buds: 5 units, two per buyer; case: none.
Sale three_items(const std::string& sale_id) {
  Sale sale = make_sale(sale_id, 8);
  sale.items = {SaleItem{"phone", "Phone X", 3, 1}, SaleItem{"buds", "Buds", 5, 2}, SaleItem{"case", "Case", 0, 1}};
  return sale;
}

IntakeRequest wants(const std::string& user, const std::string& item, std::int64_t quantity = 1,
                    const std::string& request_id = {}) {
  return IntakeRequest{user, quantity, request_id, item};
}

const ItemView* item_of(const SaleView& view, const std::string& item_id) {
  for (const auto& item : view.items)
    if (item.item.item_id == item_id) return &item;
  ADD_FAILURE() << "no item " << item_id << " in sale " << view.sale.sale_id;
  return nullptr;
}

// Per item: remaining + units of the orders holding them == stock, and no
// status has fewer units than orders; the sale's numbers are the items' sums.
void expect_item_invariants(const SaleView& v) {
  std::int64_t remaining = 0;
  std::array<std::uint64_t, flashgate::domain::all_statuses.size()> counts{}, units{};
  for (const auto& item : v.items) {
    std::uint64_t held = 0;
    for (auto status : {OrderStatus::queued, OrderStatus::processing, OrderStatus::confirmed, OrderStatus::paid})
      held += item.units[idx(status)];
    EXPECT_GE(item.remaining, 0) << item.item.item_id;
    EXPECT_EQ(item.remaining + static_cast<std::int64_t>(held), item.item.stock) << item.item.item_id;
    for (auto status : flashgate::domain::all_statuses) {
      EXPECT_GE(item.units[idx(status)], item.counts[idx(status)]) << item.item.item_id;
      counts[idx(status)] += item.counts[idx(status)];
      units[idx(status)] += item.units[idx(status)];
    }
    remaining += item.remaining;
  }
  EXPECT_EQ(remaining, v.remaining);
  EXPECT_EQ(counts, v.counts);
  EXPECT_EQ(units, v.units);
}

struct RedisSteps : StoreSteps {
  RedisStore* redis = nullptr;
  flashgate::domain::Order claimed() override {
    auto order = redis->claim(5s);
    EXPECT_TRUE(order) << "no order claimed";
    return order.value_or(flashgate::domain::Order{});
  }
};

class RedisItemsTest : public RedisStoreTest {
 protected:
  void SetUp() override {
    RedisStoreTest::SetUp();
    ASSERT_TRUE(flush_all(*admin_));
    store_ = std::make_unique<RedisStore>(store_options("store"));
    steps_.store = store_.get();
    steps_.redis = store_.get();
  }
  void TearDown() override {
    if (store_) store_->stop();
  }

  SaleView created(const Sale& sale) {
    auto r = steps_.create_sale(sale);
    EXPECT_TRUE(r) << r.error().message;
    return r ? r.value() : SaleView{};
  }
  flashgate::store::OrderView taken(const std::string& sale_id, const IntakeRequest& request) {
    auto r = steps_.intake(sale_id, request);
    EXPECT_TRUE(r) << request.user_id << " " << request.item_id << ": " << r.error().message;
    EXPECT_TRUE(r && r->created) << request.user_id << " " << request.item_id << ": not a new order";
    return r ? r->view : flashgate::store::OrderView{};
  }
  ErrorCode refused(const std::string& sale_id, const IntakeRequest& request) {
    auto r = steps_.intake(sale_id, request);
    EXPECT_FALSE(r) << request.user_id << " " << request.item_id << ": accepted";
    return r ? ErrorCode::internal : r.error().code;
  }

  std::unique_ptr<RedisStore> store_;
  RedisSteps steps_;
};

TEST_F(RedisItemsTest, ASaleOfSeveralItemsIsReadBackWithEachItemInItsOrder) {
  const auto view = created(three_items("s"));
  const auto read = steps_.sale_of("s");
  for (const auto* v : {&view, &read}) {
    ASSERT_EQ(v->sale.items.size(), 3u);
    ASSERT_EQ(v->items.size(), 3u);
    EXPECT_EQ(v->sale.items[0].item_id, "phone");
    EXPECT_EQ(v->sale.items[0].name, "Phone X");
    EXPECT_EQ(v->sale.items[1].item_id, "buds");
    EXPECT_EQ(v->sale.items[1].max_per_buyer, 2);
    EXPECT_EQ(v->sale.items[2].stock, 0);
    EXPECT_EQ(v->sale.stock, 8);
    EXPECT_EQ(v->remaining, 8);
    EXPECT_EQ(v->items[0].remaining, 3);
    EXPECT_EQ(v->items[1].remaining, 5);
    EXPECT_EQ(v->items[2].remaining, 0);
    EXPECT_FALSE(v->items[0].remaining_db);
    expect_item_invariants(*v);
  }
  // The sale's keys only: nothing of an item outside its sale hash (one slot on a Redis Cluster).
  EXPECT_EQ(admin_->command_sync({"HGET", keys::sale("s"), "items"}).str, "phone,buds,case");
}

TEST_F(RedisItemsTest, AnIntakeTakesAUnitOfTheItemItNamesAndTheOrderSaysWhichItem) {
  created(three_items("s"));
  const auto order = taken("s", wants("alice", "buds", 2, "r1"));
  EXPECT_EQ(order.order.item_id, "buds");
  EXPECT_EQ(order.order.quantity, 2);
  const auto v = steps_.sale_of("s");
  EXPECT_EQ(item_of(v, "buds")->remaining, 3);
  EXPECT_EQ(item_of(v, "phone")->remaining, 3);
  EXPECT_EQ(v.remaining, 6);
  EXPECT_EQ(item_of(v, "buds")->counts[idx(OrderStatus::queued)], 1u);
  EXPECT_EQ(item_of(v, "buds")->units[idx(OrderStatus::queued)], 2u);
  EXPECT_EQ(item_of(v, "phone")->counts[idx(OrderStatus::queued)], 0u);
  expect_item_invariants(v);
  // A gateway with nothing cached reads the order's item from Redis.
  RedisStore reader(store_options("reader"));
  StoreCalls calls{&reader};
  auto read = calls.get_order("s", order.order.order_id);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->order.item_id, "buds");
  reader.stop();
}

TEST_F(RedisItemsTest, AnUnknownItemIsNotFoundAndNoItemNamedIsInvalidAndNeitherChangesAnything) {
  created(three_items("s"));
  EXPECT_EQ(refused("s", wants("alice", "tablet")), ErrorCode::item_not_found);
  auto none = steps_.intake("s", wants("alice", ""));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::invalid_request);
  EXPECT_EQ(none.error().message, flashgate::domain::item_required().message);
  const auto v = steps_.sale_of("s");
  EXPECT_EQ(v.remaining, 8);
  EXPECT_EQ(v.counts[idx(OrderStatus::queued)], 0u);
  EXPECT_EQ(admin_->command_sync({"HLEN", keys::users("s")}).integer, 0);
}

TEST_F(RedisItemsTest, AnItemSoldOutIsRefusedWhileAnotherItemStillSells) {
  store_->follow_changes();  // the sold-out book follows the sale: it must not refuse the other items
  created(three_items("s"));
  EXPECT_EQ(refused("s", wants("alice", "case")), ErrorCode::sold_out);
  for (int i = 0; i < 3; ++i) taken("s", wants(numbered("p", i), "phone"));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(refused("s", wants(numbered("late", i), "phone")), ErrorCode::sold_out);
  // Over the item's remaining: not_enough_stock with the item's (not the sale's) remaining.
  taken("s", wants("bob", "buds", 2, "r1"));
  taken("s", wants("carol", "buds", 2, "r1"));
  auto more = steps_.intake("s", wants("dave", "buds", 2, "r1"));
  ASSERT_FALSE(more);
  EXPECT_EQ(more.error().code, ErrorCode::not_enough_stock);
  EXPECT_EQ(more.error().remaining, 1);
  taken("s", wants("dave", "buds", 1, "r2"));
  // Every item is out now: the sale is, and the book may say so.
  EXPECT_EQ(refused("s", wants("erin", "buds")), ErrorCode::sold_out);
  EXPECT_EQ(refused("s", wants("erin", "tablet")), ErrorCode::item_not_found);
  expect_item_invariants(steps_.sale_of("s"));
}

TEST_F(RedisItemsTest, ABuyersLimitAndRepeatsArePerItem) {
  created(three_items("s"));
  const auto phone = taken("s", wants("alice", "phone"));
  // The same buyer and item again: the same order (max_per_buyer 1 keeps no request id).
  auto again = steps_.intake("s", wants("alice", "phone", 1, "other"));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->view.order.order_id, phone.order.order_id);
  EXPECT_EQ(refused("s", wants("bob", "phone", 2)), ErrorCode::invalid_request);  // over the item's limit
  // Another item is another limit: two buds, then no third.
  const auto buds = taken("s", wants("alice", "buds", 1, "r1"));
  EXPECT_NE(buds.order.order_id, phone.order.order_id);
  auto repeat = steps_.intake("s", wants("alice", "buds", 1, "r1"));
  ASSERT_TRUE(repeat) << repeat.error().message;
  EXPECT_EQ(repeat->view.order.order_id, buds.order.order_id);
  taken("s", wants("alice", "buds", 1, "r2"));
  EXPECT_EQ(refused("s", wants("alice", "buds", 1, "r3")), ErrorCode::buyer_limit_reached);
  EXPECT_EQ(refused("s", wants("alice", "buds", 3, "r4")), ErrorCode::invalid_request);
  // Held units and hold keys are kept per item (domain::buyer_key, domain::hold_key).
  EXPECT_EQ(admin_->command_sync({"HGET", keys::held("s"), "alice@buds"}).str, "2");
  EXPECT_EQ(admin_->command_sync({"HGET", keys::users("s"), "alice@phone"}).str, phone.order.order_id);
  expect_item_invariants(steps_.sale_of("s"));
}

TEST_F(RedisItemsTest, ConcurrentIntakesNeverSellMoreOfAnItemThanItsStock) {
  Sale sale = make_sale("s", 12);
  sale.items = {SaleItem{"phone", "Phone", 5, 1}, SaleItem{"buds", "Buds", 7, 1}};
  created(sale);
  std::atomic<int> phones = 0, buds = 0, sold_out = 0, other = 0;
  all_at_once(40, [&](int t) {
    StoreCalls calls{store_.get()};
    const bool phone = t % 2 == 0;
    auto r = calls.intake("s", wants(numbered("u", t), phone ? "phone" : "buds"));
    if (r && r->created) ++(phone ? phones : buds);
    else if (!r && r.error().code == ErrorCode::sold_out) ++sold_out;
    else ++other;
  });
  EXPECT_EQ(phones.load(), 5);
  EXPECT_EQ(buds.load(), 7);
  EXPECT_EQ(sold_out.load(), 28);
  EXPECT_EQ(other.load(), 0);
  const auto v = steps_.sale_of("s");
  EXPECT_EQ(v.remaining, 0);
  EXPECT_EQ(item_of(v, "phone")->counts[idx(OrderStatus::queued)], 5u);
  expect_item_invariants(v);
}

TEST_F(RedisItemsTest, EveryStatusChangeKeepsTheItemsCountsAndGivesUnitsBackToTheItem) {
  created(three_items("s"));
  const auto failed = taken("s", wants("alice", "buds", 2, "r1"));
  const auto paid = taken("s", wants("bob", "phone"));
  const auto cancelled = taken("s", wants("carol", "buds", 2, "r1"));
  const auto handed_back = taken("s", wants("dave", "phone"));

  auto first = steps_.claimed();
  ASSERT_EQ(first.order_id, failed.order.order_id);
  EXPECT_EQ(first.item_id, "buds");
  auto v = steps_.sale_of("s");
  EXPECT_EQ(item_of(v, "buds")->counts[idx(OrderStatus::processing)], 1u);
  EXPECT_EQ(item_of(v, "buds")->units[idx(OrderStatus::processing)], 2u);
  expect_item_invariants(v);
  ASSERT_TRUE(store_->finish(first.order_id, OrderStatus::failed, "shop_rejected", ""));
  v = steps_.sale_of("s");
  EXPECT_EQ(item_of(v, "buds")->remaining, 3);  // 5 - 2 (carol's) : alice's two came back
  EXPECT_EQ(item_of(v, "buds")->units[idx(OrderStatus::failed)], 2u);
  expect_item_invariants(v);
  // Her allowance came back with them.
  EXPECT_EQ(admin_->command_sync({"HGET", keys::held("s"), "alice@buds"}).type, flashgate::store::redis::Reply::Type::nil);

  ASSERT_EQ(steps_.claimed().order_id, paid.order.order_id);
  ASSERT_TRUE(store_->finish(paid.order.order_id, OrderStatus::confirmed, "", "ext-1"));
  auto pay = steps_.pay(paid.order.order_id, "pay-1");
  ASSERT_TRUE(pay) << pay.error().message;
  EXPECT_EQ(pay->order.item_id, "phone");

  ASSERT_EQ(steps_.claimed().order_id, cancelled.order.order_id);
  ASSERT_TRUE(store_->finish(cancelled.order.order_id, OrderStatus::confirmed, "", ""));
  EXPECT_EQ(store_->cancel_unpaid(flashgate::domain::now_ms() + 1000), 1u);

  ASSERT_EQ(steps_.claimed().order_id, handed_back.order.order_id);
  store_->hand_back(handed_back.order.order_id);
  v = steps_.sale_of("s");
  const auto* phone = item_of(v, "phone");
  const auto* buds = item_of(v, "buds");
  EXPECT_EQ(phone->counts[idx(OrderStatus::paid)], 1u);
  EXPECT_EQ(phone->counts[idx(OrderStatus::queued)], 1u);
  EXPECT_EQ(phone->counts[idx(OrderStatus::processing)], 0u);
  EXPECT_EQ(phone->remaining, 1);
  EXPECT_EQ(buds->counts[idx(OrderStatus::cancelled)], 1u);
  EXPECT_EQ(buds->units[idx(OrderStatus::cancelled)], 2u);
  EXPECT_EQ(buds->counts[idx(OrderStatus::failed)], 1u);
  EXPECT_EQ(buds->remaining, 5);
  EXPECT_EQ(v.remaining, 6);
  expect_item_invariants(v);

  // The outcome stream (the PostgreSQL mirror's input) says each order's item.
  std::map<std::string, std::string> items;
  for (int round = 0; round < 50 && items.size() < 3; ++round)
    for (const auto& entry : store_->take(100ms)) {
      items[entry.order.order_id] = entry.order.item_id;
      store_->recorded(entry);
    }
  EXPECT_EQ(items[failed.order.order_id], "buds");
  EXPECT_EQ(items[paid.order.order_id], "phone");
  EXPECT_EQ(items[cancelled.order.order_id], "buds");

  // Units given back sell again, to the same buyer too.
  taken("s", wants("alice", "buds", 2, "r9"));
}

TEST_F(RedisItemsTest, TheStockFlushNamesEachItemAndItsRemainingDbIsKeptPerItem) {
  created(three_items("s"));
  created(make_sale("plain", 4));
  taken("s", wants("alice", "phone"));
  std::map<std::string, std::int64_t> flushed;
  for (const auto& [key, remaining] : store_->remaining_by_sale()) flushed[key] = remaining;
  EXPECT_EQ(flushed, (std::map<std::string, std::int64_t>{
                         {"plain", 4}, {"s", 7}, {"s@phone", 2}, {"s@buds", 5}, {"s@case", 0}}));
  store_->set_remaining_db("s@phone", 2);
  store_->set_remaining_db("s", 7);
  // Both writes are sent without waiting for their answers: wait for the later one's.
  SaleView v;
  for (const auto start = Clock::now(); Clock::now() - start < 5s; std::this_thread::sleep_for(5ms)) {
    v = steps_.sale_of("s");
    if (v.remaining_db && item_of(v, "phone")->remaining_db) break;
  }
  EXPECT_EQ(v.remaining_db, 7);
  EXPECT_EQ(item_of(v, "phone")->remaining_db, 2);
  EXPECT_FALSE(item_of(v, "buds")->remaining_db);
}

// What the archiver writes to the database (OrderDatabase::archive_sale) is a
// sale view of the ledger's: each item's final numbers are in it, and the drop
// that follows leaves nothing of the items behind (they live in the sale's keys).
TEST_F(RedisItemsTest, TheLedgersViewsCarryTheItemsAndADropLeavesNoneOfTheirKeys) {
  created(three_items("s"));
  const auto order = taken("s", wants("alice", "buds", 2, "r1"));
  ASSERT_EQ(steps_.claimed().order_id, order.order.order_id);
  ASSERT_TRUE(store_->finish(order.order.order_id, OrderStatus::failed, "shop_rejected", ""));
  const auto views = store_->sale_views();
  ASSERT_EQ(views.size(), 1u);
  ASSERT_EQ(views[0].items.size(), 3u);
  EXPECT_EQ(item_of(views[0], "buds")->remaining, 5);
  EXPECT_EQ(item_of(views[0], "buds")->units[idx(OrderStatus::failed)], 2u);
  expect_item_invariants(views[0]);
  const auto dropped = store_->drop_sale("s");
  ASSERT_TRUE(dropped) << dropped.error().message;
  for (const auto& key : {keys::sale("s"), keys::users("s"), keys::held("s"), keys::order(order.order.order_id)})
    EXPECT_EQ(admin_->command_sync({"EXISTS", key}).integer, 0) << key;
}

TEST_F(RedisItemsTest, ASaleOfOneItemIgnoresAnItemNamedAndKeepsNoItemFields) {
  created(make_sale("one", 2));
  const auto order = taken("one", wants("alice", "phone"));
  EXPECT_EQ(order.order.item_id, "");
  const auto fields = admin_->command_sync({"HGETALL", keys::order(order.order.order_id)});
  for (std::size_t i = 0; i < fields.elements.size(); i += 2) EXPECT_NE(fields.elements[i].str, "item");
  const auto v = steps_.sale_of("one");
  EXPECT_TRUE(v.items.empty());
  EXPECT_TRUE(v.sale.items.empty());
  EXPECT_EQ(v.remaining, 1);
  auto again = steps_.intake("one", wants("alice", "buds"));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->view.order.order_id, order.order.order_id);  // the same buyer: the same order, whatever the item
  const auto claimed = steps_.claimed();
  ASSERT_TRUE(store_->finish(claimed.order_id, OrderStatus::failed, "shop_rejected", ""));
  EXPECT_EQ(steps_.sale_of("one").remaining, 2);
}

// The same on a Redis Cluster: every key of an item is in its sale's slot.
class RedisItemsClusterTest : public RedisClusterTest {};

TEST_F(RedisItemsClusterTest, ASaleOfSeveralItemsSellsAndGivesBackPerItemOnACluster) {
  RedisStoreOptions o;
  o.cluster_seeds = nodes();
  o.consumer_prefix = "items-" + std::to_string(::getpid());
  RedisStore store(o);
  RedisSteps steps;
  steps.store = &store;
  steps.redis = &store;
  ASSERT_TRUE(steps.create_sale(three_items("c")));
  auto phone = steps.intake("c", wants("alice", "phone"));
  ASSERT_TRUE(phone && phone->created);
  EXPECT_EQ(phone->view.order.item_id, "phone");
  auto buds = steps.intake("c", wants("alice", "buds", 2, "r1"));
  ASSERT_TRUE(buds && buds->created);
  auto unknown = steps.intake("c", wants("bob", "tablet"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::item_not_found);
  const auto first = steps.claimed();
  EXPECT_EQ(first.item_id, "phone");
  ASSERT_TRUE(store.finish(first.order_id, OrderStatus::failed, "shop_rejected", ""));
  const auto v = steps.sale_of("c");
  EXPECT_EQ(item_of(v, "phone")->remaining, 3);
  EXPECT_EQ(item_of(v, "buds")->remaining, 3);
  EXPECT_EQ(item_of(v, "phone")->counts[idx(OrderStatus::failed)], 1u);
  expect_item_invariants(v);
  store.stop();
}

}  // namespace
