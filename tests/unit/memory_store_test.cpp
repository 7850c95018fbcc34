#include "store/memory/memory_store.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "database/sqlite/sqlite_database.hpp"
#include "domain/ids.hpp"
#include "domain/time.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using flashgate::database::SqliteDatabase;
using flashgate::domain::Error;
using flashgate::domain::ErrorCode;
using flashgate::domain::is_valid_id;
using flashgate::domain::now_ms;
using flashgate::domain::Order;
using flashgate::domain::OrderStatus;
using flashgate::domain::Result;
using flashgate::domain::Sale;
using flashgate::domain::TimeMs;
using flashgate::domain::to_string;
using flashgate::store::Callback;
using flashgate::store::IntakeOutcome;
using flashgate::store::Journal;
using flashgate::store::JournalState;
using flashgate::store::MemoryStore;
using flashgate::store::OrderView;
using flashgate::store::SaleView;

// Generous: only reached when something is broken.
constexpr auto patience = 60s;

std::size_t idx(OrderStatus s) { return static_cast<std::size_t>(s); }

// "u" + 7 -> "u7" (appending, which GCC 12's -Wrestrict does not misread).
std::string numbered(std::string_view prefix, long long n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

// A directory of its own under the system's temp dir, removed with the test.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            (numbered("flashgate-unit-", ::getpid()) + "-" + flashgate::domain::new_order_id());
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The result of a Store callback, which may arrive on any thread.
template <class T>
class Pending {
 public:
  Pending() : promise_(std::make_shared<std::promise<Result<T>>>()), future_(promise_->get_future()) {}
  Callback<T> callback() {
    return [promise = promise_](Result<T> r) { promise->set_value(std::move(r)); };
  }
  Result<T> get() {
    if (future_.wait_for(patience) != std::future_status::ready) {
      ADD_FAILURE() << "a store callback was never called";
      return Error{ErrorCode::internal, "timeout"};
    }
    return future_.get();
  }

 private:
  std::shared_ptr<std::promise<Result<T>>> promise_;
  std::future<Result<T>> future_;
};

Sale make_sale(const std::string& id, std::int64_t stock, std::optional<TimeMs> starts = std::nullopt,
               std::optional<TimeMs> ends = std::nullopt) {
  Sale s;
  s.sale_id = id;
  s.item = "item of " + id;
  s.stock = stock;
  s.starts_at = starts;
  s.ends_at = ends;
  s.created_at = now_ms();
  return s;
}

// Calls of the Store, each waiting for its callback.
struct StoreCalls {
  flashgate::store::Store* store = nullptr;

  Result<SaleView> create_sale(const Sale& sale) {
    Pending<SaleView> p;
    store->create_sale(sale, p.callback());
    return p.get();
  }
  Result<SaleView> get_sale(const std::string& sale_id) {
    Pending<SaleView> p;
    store->get_sale(sale_id, p.callback());
    return p.get();
  }
  Result<IntakeOutcome> intake(const std::string& sale_id, const std::string& user_id) {
    Pending<IntakeOutcome> p;
    store->intake(sale_id, user_id, p.callback());
    return p.get();
  }
  Result<OrderView> get_order(const std::string& sale_id, const std::string& order_id) {
    Pending<OrderView> p;
    store->get_order(sale_id, order_id, p.callback());
    return p.get();
  }
  Result<OrderView> pay(const std::string& order_id, const std::string& payment_id) {
    Pending<OrderView> p;
    store->pay(order_id, payment_id, p.callback());
    return p.get();
  }
};

// Records every published change, per order, in the order the listener saw them.
class ChangeLog {
 public:
  void attach(flashgate::store::Store& store, std::function<void(const OrderView&)> before_record = {}) {
    store.on_change([this, before_record](const OrderView& v) {
      if (before_record) before_record(v);
      std::lock_guard lock(mutex_);
      seen_[v.order.order_id].emplace_back(v.order.version, v.order.status);
    });
  }
  std::vector<std::pair<std::uint64_t, OrderStatus>> of(const std::string& order_id) const {
    std::lock_guard lock(mutex_);
    auto it = seen_.find(order_id);
    return it == seen_.end() ? std::vector<std::pair<std::uint64_t, OrderStatus>>{} : it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::pair<std::uint64_t, OrderStatus>>> seen_;
};

std::string describe(const std::vector<std::pair<std::uint64_t, OrderStatus>>& changes) {
  std::string out;
  for (const auto& [version, status] : changes) {
    out += numbered("v", static_cast<long long>(version));
    out += ' ';
    out += to_string(status);
    out += "; ";
  }
  return out;
}

class MemoryStoreTest : public ::testing::Test, protected StoreCalls {
 protected:
  void SetUp() override { open(); }
  void TearDown() override { shut(); }

  void open() {
    db_ = std::make_unique<SqliteDatabase>(dir_.path() / "flashgate.db");
    store_ = std::make_unique<MemoryStore>(*db_);
    store = store_.get();
  }
  // The writer commits what is queued (and runs its callbacks) before the store goes.
  void shut() {
    if (db_) db_->close();
    store = nullptr;
    store_.reset();
    db_.reset();
  }
  // A process restart: close the database, open the same file, rebuild from it.
  void restart() {
    shut();
    open();
    store_->restore(db_->load());
  }

  SaleView sale(const std::string& id, std::int64_t stock, std::optional<TimeMs> starts = std::nullopt,
                std::optional<TimeMs> ends = std::nullopt) {
    auto r = create_sale(make_sale(id, stock, starts, ends));
    EXPECT_TRUE(r) << r.error().message;
    return r ? r.value() : SaleView{};
  }

  OrderView accepted(const std::string& sale_id, const std::string& user_id) {
    auto r = intake(sale_id, user_id);
    EXPECT_TRUE(r) << user_id << ": " << r.error().message;
    return r ? r->view : OrderView{};
  }

  Order claimed() {
    auto order = store_->claim(5s);
    EXPECT_TRUE(order) << "nothing to claim";
    return order ? *order : Order{};
  }

  // Intake, claim and finish as CONFIRMED: an order awaiting payment.
  std::string confirmed(const std::string& sale_id, const std::string& user_id) {
    const auto id = accepted(sale_id, user_id).order.order_id;
    const auto order = claimed();
    EXPECT_EQ(order.order_id, id) << "claimed another order than the one just taken in";
    EXPECT_TRUE(store_->finish(order.order_id, OrderStatus::confirmed, "", ""));
    return id;
  }

  OrderView order_view(const std::string& sale_id, const std::string& order_id) {
    auto r = get_order(sale_id, order_id);
    EXPECT_TRUE(r) << order_id << ": " << r.error().message;
    return r ? r.value() : OrderView{};
  }

  SaleView sale_of(const std::string& sale_id) {
    auto r = get_sale(sale_id);
    EXPECT_TRUE(r) << sale_id << ": " << r.error().message;
    return r ? r.value() : SaleView{};
  }

  // reserved + remaining == stock, where reserved is every order holding a unit.
  void expect_stock_invariant(const std::string& sale_id) {
    const SaleView v = sale_of(sale_id);
    const auto reserved = v.counts[idx(OrderStatus::queued)] + v.counts[idx(OrderStatus::processing)] +
                          v.counts[idx(OrderStatus::confirmed)] + v.counts[idx(OrderStatus::paid)];
    EXPECT_GE(v.remaining, 0) << sale_id;
    EXPECT_EQ(static_cast<std::int64_t>(reserved) + v.remaining, v.sale.stock) << sale_id;
  }

  const Order* journal_order(const JournalState& state, const std::string& order_id) {
    for (const auto& o : state.orders)
      if (o.order_id == order_id) return &o;
    return nullptr;
  }

  TempDir dir_;
  std::unique_ptr<SqliteDatabase> db_;
  std::unique_ptr<MemoryStore> store_;
};

// --- sales ---

TEST_F(MemoryStoreTest, CreatedSaleIsReadBack) {
  const SaleView created = sale("s1", 10);
  EXPECT_EQ(created.sale.sale_id, "s1");
  EXPECT_EQ(created.remaining, 10);
  const SaleView read = sale_of("s1");
  EXPECT_EQ(read.sale.item, "item of s1");
  EXPECT_EQ(read.sale.stock, 10);
  EXPECT_EQ(read.remaining, 10);
  EXPECT_FALSE(read.remaining_db);
  EXPECT_EQ(read.queue_depth, 0u);
}

TEST_F(MemoryStoreTest, CreatingAnExistingSaleIsRefused) {
  sale("s1", 10);
  const auto again = create_sale(make_sale("s1", 99));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::sale_exists);
  EXPECT_EQ(sale_of("s1").sale.stock, 10);
}

TEST_F(MemoryStoreTest, UnknownSaleIsNotFound) {
  const auto s = get_sale("nope");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::sale_not_found);
  const auto r = intake("nope", "u1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::sale_not_found);
}

// --- intake ---

TEST_F(MemoryStoreTest, IntakeQueuesAtVersionOneWithRisingPositions) {
  sale("s1", 10);
  std::set<std::string> ids;
  for (int i = 1; i <= 5; ++i) {
    const auto r = intake("s1", numbered("u", i));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->created);
    const auto& v = r->view;
    EXPECT_EQ(v.order.status, OrderStatus::queued);
    EXPECT_EQ(v.order.version, 1u);
    EXPECT_EQ(v.position, static_cast<std::uint64_t>(i));
    EXPECT_EQ(v.order.seq, static_cast<std::uint64_t>(i));
    EXPECT_EQ(v.order.sale_id, "s1");
    EXPECT_EQ(v.order.user_id, numbered("u", i));
    EXPECT_TRUE(is_valid_id(v.order.order_id)) << v.order.order_id;
    EXPECT_GE(v.poll_after_ms, 250);
    EXPECT_LE(v.poll_after_ms, 10'000);
    EXPECT_TRUE(v.order.reason.empty());
    ids.insert(v.order.order_id);
  }
  EXPECT_EQ(ids.size(), 5u);
  const SaleView s = sale_of("s1");
  EXPECT_EQ(s.remaining, 5);
  EXPECT_EQ(s.counts[idx(OrderStatus::queued)], 5u);
  EXPECT_EQ(s.queue_depth, 5u);
  EXPECT_EQ(store_->queue_depth(), 5u);
  expect_stock_invariant("s1");
}

TEST_F(MemoryStoreTest, IntakeIsReadableWithGetOrder) {
  sale("s1", 10);
  const auto taken = accepted("s1", "u1");
  const auto read = order_view("s1", taken.order.order_id);
  EXPECT_EQ(read.order.status, OrderStatus::queued);
  EXPECT_EQ(read.order.version, 1u);
  EXPECT_EQ(read.position, 1u);
  EXPECT_EQ(read.order.user_id, "u1");
}

TEST_F(MemoryStoreTest, GetOrderOfAnotherSaleIsNotFound) {
  sale("s1", 10);
  sale("s2", 10);
  const auto taken = accepted("s1", "u1");
  const auto r = get_order("s2", taken.order.order_id);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::order_not_found);
  const auto unknown = get_order("s1", "00000000000000000000");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::order_not_found);
}

TEST_F(MemoryStoreTest, SameUserAgainGetsTheSameOrder) {
  sale("s1", 10);
  const auto first = accepted("s1", "u1");
  const auto again = intake("s1", "u1");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->view.order.order_id, first.order.order_id);
  EXPECT_EQ(again->view.order.version, 1u);
  EXPECT_EQ(again->view.order.status, OrderStatus::queued);
  EXPECT_EQ(sale_of("s1").remaining, 9);
}

TEST_F(MemoryStoreTest, SameUserInAnotherSaleGetsAnotherOrder) {
  sale("s1", 10);
  sale("s2", 10);
  const auto a = accepted("s1", "u1");
  const auto b = intake("s2", "u1");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->created);
  EXPECT_NE(a.order.order_id, b->view.order.order_id);
  EXPECT_EQ(b->view.position, 1u);
}

TEST_F(MemoryStoreTest, SoldOutAfterStockIntakes) {
  sale("s1", 3);
  for (int i = 1; i <= 3; ++i) accepted("s1", numbered("u", i));
  const auto r = intake("s1", "u4");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::sold_out);
  EXPECT_EQ(sale_of("s1").remaining, 0);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::queued)], 3u);
  expect_stock_invariant("s1");
}

TEST_F(MemoryStoreTest, HolderStillGetsTheirOrderWhenSoldOut) {
  sale("s1", 1);
  const auto first = accepted("s1", "u1");
  const auto again = intake("s1", "u1");
  ASSERT_TRUE(again) << "dedupe must come before the stock check";
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->view.order.order_id, first.order.order_id);
}

TEST_F(MemoryStoreTest, SaleWithNoStockIsSoldOutAtOnce) {
  sale("s0", 0);
  const auto r = intake("s0", "u1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::sold_out);
}

TEST_F(MemoryStoreTest, UpcomingSaleRefusesWithSaleNotOpen) {
  sale("later", 5, now_ms() + 3'600'000);
  const auto r = intake("later", "u1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::sale_not_open);
  EXPECT_EQ(sale_of("later").remaining, 5);
  EXPECT_EQ(sale_of("later").counts[idx(OrderStatus::queued)], 0u);
}

TEST_F(MemoryStoreTest, EndedSaleRefusesWithSaleEnded) {
  const TimeMs now = now_ms();
  sale("past", 5, now - 7'200'000, now - 3'600'000);
  const auto r = intake("past", "u1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::sale_ended);
  EXPECT_EQ(sale_of("past").remaining, 5);
}

TEST_F(MemoryStoreTest, SaleInsideItsWindowAcceptsIntakes) {
  const TimeMs now = now_ms();
  sale("now", 5, now - 60'000, now + 3'600'000);
  EXPECT_TRUE(intake("now", "u1"));
}

TEST_F(MemoryStoreTest, StoppedIntakeRefusesNewOrders) {
  sale("s1", 5);
  store_->stop_intake();
  const auto r = intake("s1", "u1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::shutting_down);
  EXPECT_EQ(sale_of("s1").remaining, 5);
}

// --- windows ---

TEST_F(MemoryStoreTest, ClaimMovesOrdersToProcessingInIntakeOrder) {
  sale("s1", 10);
  std::vector<std::string> ids;
  for (int i = 1; i <= 4; ++i) ids.push_back(accepted("s1", numbered("u", i)).order.order_id);
  for (const auto& id : ids) {
    const Order o = claimed();
    EXPECT_EQ(o.order_id, id);
    EXPECT_EQ(o.status, OrderStatus::processing);
    EXPECT_EQ(o.version, 2u);
    const auto read = order_view("s1", id);
    EXPECT_EQ(read.order.status, OrderStatus::processing);
    EXPECT_EQ(read.order.version, 2u);
  }
  EXPECT_FALSE(store_->claim(10ms));
  const SaleView s = sale_of("s1");
  EXPECT_EQ(s.counts[idx(OrderStatus::processing)], 4u);
  EXPECT_EQ(s.counts[idx(OrderStatus::queued)], 0u);
  EXPECT_EQ(store_->queue_depth(), 0u);
  expect_stock_invariant("s1");
}

TEST_F(MemoryStoreTest, PositionsMoveForwardAsWindowsStartOrders) {
  sale("s1", 10);
  std::vector<std::string> ids;
  for (int i = 1; i <= 4; ++i) ids.push_back(accepted("s1", numbered("u", i)).order.order_id);
  claimed();
  EXPECT_EQ(order_view("s1", ids[1]).position, 1u);
  EXPECT_EQ(order_view("s1", ids[3]).position, 3u);
  claimed();
  EXPECT_EQ(order_view("s1", ids[2]).position, 1u);
  EXPECT_EQ(order_view("s1", ids[3]).position, 2u);
  // A new intake lines up behind everyone still waiting.
  EXPECT_EQ(accepted("s1", "u5").position, 3u);
}

TEST_F(MemoryStoreTest, ClaimWaitsForAnIntake) {
  sale("s1", 10);
  auto waiting = std::async(std::launch::async, [this] { return store_->claim(30s); });
  std::this_thread::sleep_for(20ms);  // let the window block (not required for correctness)
  const auto id = accepted("s1", "u1").order.order_id;
  ASSERT_EQ(waiting.wait_for(patience), std::future_status::ready);
  const auto order = waiting.get();
  ASSERT_TRUE(order);
  EXPECT_EQ(order->order_id, id);
  EXPECT_EQ(order->status, OrderStatus::processing);
}

TEST_F(MemoryStoreTest, ClaimWithNothingQueuedGivesNothing) { EXPECT_FALSE(store_->claim(1ms)); }

TEST_F(MemoryStoreTest, FinishConfirmedRaisesVersionToThree) {
  sale("s1", 10);
  const auto id = accepted("s1", "u1").order.order_id;
  claimed();
  ASSERT_TRUE(store_->finish(id, OrderStatus::confirmed, "", ""));
  const auto v = order_view("s1", id);
  EXPECT_EQ(v.order.status, OrderStatus::confirmed);
  EXPECT_EQ(v.order.version, 3u);
  EXPECT_TRUE(v.order.reason.empty());
  EXPECT_EQ(sale_of("s1").remaining, 9);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::confirmed)], 1u);
  expect_stock_invariant("s1");
}

TEST_F(MemoryStoreTest, TheShopsExternalIdIsKeptThroughPaymentAndRestart) {
  sale("s1", 10);
  std::mutex seen_mutex;
  std::map<std::string, std::string> seen;  // order id -> external_id of its latest change
  store_->on_change([&](const OrderView& v) {
    std::lock_guard lock(seen_mutex);
    seen[v.order.order_id] = v.order.external_id;
  });
  const auto paid = accepted("s1", "u1").order.order_id;
  const auto unpaid = accepted("s1", "u2").order.order_id;
  const auto none = accepted("s1", "u3").order.order_id;
  for (const auto& [id, external_id] : {std::pair{paid, "SHOP-1"}, {unpaid, "SHOP-2"}, {none, ""}}) {
    ASSERT_EQ(claimed().order_id, id);
    ASSERT_TRUE(store_->finish(id, OrderStatus::confirmed, "", external_id));
    EXPECT_EQ(order_view("s1", id).order.external_id, external_id);
    std::lock_guard lock(seen_mutex);
    EXPECT_EQ(seen[id], external_id);
  }
  ASSERT_TRUE(pay(paid, "pay-1"));
  EXPECT_EQ(order_view("s1", paid).order.external_id, "SHOP-1");
  EXPECT_EQ(intake("s1", "u2")->view.order.external_id, "SHOP-2");  // the holder asking again
  restart();
  EXPECT_EQ(order_view("s1", paid).order.status, OrderStatus::paid);
  EXPECT_EQ(order_view("s1", paid).order.external_id, "SHOP-1");
  EXPECT_EQ(order_view("s1", unpaid).order.external_id, "SHOP-2");
  EXPECT_EQ(order_view("s1", none).order.external_id, "");
}

TEST_F(MemoryStoreTest, FinishFailedGivesTheUnitBackAndFreesTheUser) {
  sale("s1", 1);
  const auto id = accepted("s1", "u1").order.order_id;
  EXPECT_EQ(intake("s1", "u2").error().code, ErrorCode::sold_out);
  claimed();
  ASSERT_TRUE(store_->finish(id, OrderStatus::failed, "downstream_refused", ""));
  const auto v = order_view("s1", id);
  EXPECT_EQ(v.order.status, OrderStatus::failed);
  EXPECT_EQ(v.order.version, 3u);
  EXPECT_EQ(v.order.reason, "downstream_refused");
  EXPECT_EQ(sale_of("s1").remaining, 1);
  expect_stock_invariant("s1");

  const auto again = intake("s1", "u1");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->created);
  EXPECT_NE(again->view.order.order_id, id);
  EXPECT_EQ(again->view.order.version, 1u);
  EXPECT_EQ(sale_of("s1").remaining, 0);
  expect_stock_invariant("s1");
}

TEST_F(MemoryStoreTest, FinishingAnOrderNoLongerProcessingChangesNothing) {
  sale("s1", 10);
  const auto id = confirmed("s1", "u1");
  EXPECT_TRUE(store_->finish(id, OrderStatus::failed, "late", ""));
  const auto v = order_view("s1", id);
  EXPECT_EQ(v.order.status, OrderStatus::confirmed);
  EXPECT_EQ(v.order.version, 3u);
  EXPECT_EQ(sale_of("s1").remaining, 9);
}

TEST_F(MemoryStoreTest, HandedBackOrderIsFirstInLineAgain) {
  sale("s1", 10);
  const auto first = accepted("s1", "u1").order.order_id;
  accepted("s1", "u2");
  ASSERT_EQ(claimed().order_id, first);
  store_->hand_back(first);
  const auto v = order_view("s1", first);
  EXPECT_EQ(v.order.status, OrderStatus::queued);
  EXPECT_EQ(v.order.version, 3u);
  const Order again = claimed();
  EXPECT_EQ(again.order_id, first);
  EXPECT_EQ(again.version, 4u);
  expect_stock_invariant("s1");
}

// --- payment ---

TEST_F(MemoryStoreTest, PaymentMovesConfirmedToPaid) {
  sale("s1", 10);
  const auto id = confirmed("s1", "u1");
  const auto paid = pay(id, "pay-1");
  ASSERT_TRUE(paid) << paid.error().message;
  EXPECT_EQ(paid->order.status, OrderStatus::paid);
  EXPECT_EQ(paid->order.version, 4u);
  EXPECT_EQ(paid->order.payment_id, "pay-1");
  const auto read = order_view("s1", id);
  EXPECT_EQ(read.order.status, OrderStatus::paid);
  EXPECT_EQ(read.order.version, 4u);
  EXPECT_EQ(sale_of("s1").remaining, 9);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::paid)], 1u);
  expect_stock_invariant("s1");
}

TEST_F(MemoryStoreTest, SamePaymentAgainChangesNothing) {
  sale("s1", 10);
  const auto id = confirmed("s1", "u1");
  ASSERT_TRUE(pay(id, "pay-1"));
  const auto again = pay(id, "pay-1");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->order.status, OrderStatus::paid);
  EXPECT_EQ(again->order.version, 4u);
  EXPECT_EQ(order_view("s1", id).order.version, 4u);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::paid)], 1u);
}

TEST_F(MemoryStoreTest, OtherPaymentForAPaidOrderIsNotPayable) {
  sale("s1", 10);
  const auto id = confirmed("s1", "u1");
  ASSERT_TRUE(pay(id, "pay-1"));
  const auto other = pay(id, "pay-2");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::order_not_payable);
  const auto v = order_view("s1", id);
  EXPECT_EQ(v.order.payment_id, "pay-1");
  EXPECT_EQ(v.order.version, 4u);
}

TEST_F(MemoryStoreTest, PaymentForAnUnknownOrderIsNotFound) {
  const auto r = pay("00000000000000000000", "pay-1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::order_not_found);
}

TEST_F(MemoryStoreTest, PaymentForAQueuedOrderIsNotPayable) {
  sale("s1", 10);
  const auto id = accepted("s1", "u1").order.order_id;
  const auto r = pay(id, "pay-1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::order_not_payable);
  EXPECT_EQ(order_view("s1", id).order.status, OrderStatus::queued);
  EXPECT_EQ(order_view("s1", id).order.version, 1u);
}

TEST_F(MemoryStoreTest, PaymentForAProcessingOrderIsNotPayable) {
  sale("s1", 10);
  const auto id = accepted("s1", "u1").order.order_id;
  claimed();
  const auto r = pay(id, "pay-1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::order_not_payable);
}

TEST_F(MemoryStoreTest, PaymentForAFailedOrderIsNotPayable) {
  sale("s1", 10);
  const auto id = accepted("s1", "u1").order.order_id;
  claimed();
  ASSERT_TRUE(store_->finish(id, OrderStatus::failed, "downstream_refused", ""));
  const auto r = pay(id, "pay-1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::order_not_payable);
}

// --- payment timeout ---

TEST_F(MemoryStoreTest, CancelUnpaidCancelsOldConfirmedOrdersAndGivesUnitsBack) {
  sale("s1", 3);
  const auto a = confirmed("s1", "u1");
  const auto b = confirmed("s1", "u2");
  const auto c = confirmed("s1", "u3");
  ASSERT_TRUE(pay(b, "pay-b"));
  EXPECT_EQ(sale_of("s1").remaining, 0);

  EXPECT_EQ(store_->cancel_unpaid(now_ms() + 60'000), 2u);
  for (const auto& id : {a, c}) {
    const auto v = order_view("s1", id);
    EXPECT_EQ(v.order.status, OrderStatus::cancelled);
    EXPECT_EQ(v.order.version, 4u);
    EXPECT_FALSE(v.order.reason.empty());
  }
  EXPECT_EQ(order_view("s1", b).order.status, OrderStatus::paid);
  EXPECT_EQ(sale_of("s1").remaining, 2);
  EXPECT_EQ(sale_of("s1").counts[idx(OrderStatus::cancelled)], 2u);
  expect_stock_invariant("s1");

  // The units went back and so did the users' places.
  const auto again = intake("s1", "u1");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->created);
  EXPECT_TRUE(intake("s1", "u9"));
  EXPECT_EQ(intake("s1", "u10").error().code, ErrorCode::sold_out);
  expect_stock_invariant("s1");
}

TEST_F(MemoryStoreTest, CancelUnpaidLeavesOrdersConfirmedAfterTheCutOff) {
  sale("s1", 3);
  const TimeMs before = now_ms();
  const auto id = confirmed("s1", "u1");
  EXPECT_EQ(store_->cancel_unpaid(before), 0u);
  EXPECT_EQ(order_view("s1", id).order.status, OrderStatus::confirmed);
  EXPECT_EQ(sale_of("s1").remaining, 2);
}

TEST_F(MemoryStoreTest, CancelUnpaidTwiceCancelsOnce) {
  sale("s1", 3);
  confirmed("s1", "u1");
  EXPECT_EQ(store_->cancel_unpaid(now_ms() + 60'000), 1u);
  EXPECT_EQ(store_->cancel_unpaid(now_ms() + 60'000), 0u);
  EXPECT_EQ(sale_of("s1").remaining, 3);
  expect_stock_invariant("s1");
}

TEST_F(MemoryStoreTest, CancelledOrderIsNotPayable) {
  sale("s1", 3);
  const auto id = confirmed("s1", "u1");
  ASSERT_EQ(store_->cancel_unpaid(now_ms() + 60'000), 1u);
  const auto r = pay(id, "pay-late");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::order_not_payable);
  EXPECT_EQ(order_view("s1", id).order.status, OrderStatus::cancelled);
}

// --- change feed ---

TEST_F(MemoryStoreTest, ListenerSeesEveryVersionInOrder) {
  ChangeLog log;
  log.attach(*store_);
  sale("s1", 10);

  const auto paid = confirmed("s1", "u1");
  ASSERT_TRUE(pay(paid, "pay-1"));
  ASSERT_TRUE(pay(paid, "pay-1"));  // a repeat changes nothing, so it is no news

  const auto failed = accepted("s1", "u2").order.order_id;
  claimed();
  ASSERT_TRUE(store_->finish(failed, OrderStatus::failed, "downstream_refused", ""));

  const auto cancelled = confirmed("s1", "u3");
  ASSERT_EQ(store_->cancel_unpaid(now_ms() + 60'000), 1u);

  using C = std::vector<std::pair<std::uint64_t, OrderStatus>>;
  EXPECT_EQ(log.of(paid), (C{{1, OrderStatus::queued},
                             {2, OrderStatus::processing},
                             {3, OrderStatus::confirmed},
                             {4, OrderStatus::paid}}))
      << describe(log.of(paid));
  EXPECT_EQ(log.of(failed), (C{{1, OrderStatus::queued}, {2, OrderStatus::processing}, {3, OrderStatus::failed}}))
      << describe(log.of(failed));
  EXPECT_EQ(log.of(cancelled), (C{{1, OrderStatus::queued},
                                  {2, OrderStatus::processing},
                                  {3, OrderStatus::confirmed},
                                  {4, OrderStatus::cancelled}}))
      << describe(log.of(cancelled));
}

TEST_F(MemoryStoreTest, ListenerSeesHandBackAsANewVersion) {
  ChangeLog log;
  log.attach(*store_);
  sale("s1", 10);
  const auto id = accepted("s1", "u1").order.order_id;
  claimed();
  store_->hand_back(id);
  claimed();
  using C = std::vector<std::pair<std::uint64_t, OrderStatus>>;
  EXPECT_EQ(log.of(id), (C{{1, OrderStatus::queued},
                           {2, OrderStatus::processing},
                           {3, OrderStatus::queued},
                           {4, OrderStatus::processing}}))
      << describe(log.of(id));
}

// A window blocked in claim() is woken as soon as the intake is committed. The
// listener is slow on QUEUED (as a real one may be: it takes locks, wakes
// waiters, writes to streams); it must still see QUEUED before PROCESSING.
TEST_F(MemoryStoreTest, ListenerSeesQueuedBeforeProcessingWhileAWindowWaits) {
  ChangeLog log;
  log.attach(*store_, [](const OrderView& v) {
    if (v.order.status == OrderStatus::queued) std::this_thread::sleep_for(200ms);
  });
  sale("s1", 10);
  auto window = std::async(std::launch::async, [this] { return store_->claim(30s); });
  const auto id = accepted("s1", "u1").order.order_id;
  ASSERT_EQ(window.wait_for(patience), std::future_status::ready);
  ASSERT_TRUE(window.get());
  using C = std::vector<std::pair<std::uint64_t, OrderStatus>>;
  EXPECT_EQ(log.of(id), (C{{1, OrderStatus::queued}, {2, OrderStatus::processing}}))
      << "published out of order: " << describe(log.of(id));
}

// The payment provider may notify as soon as the order is CONFIRMED; the
// listener must still see CONFIRMED before PAID.
TEST_F(MemoryStoreTest, ListenerSeesConfirmedBeforePaidWhenPaymentFollowsAtOnce) {
  ChangeLog log;
  sale("s1", 10);
  const auto id = accepted("s1", "u1").order.order_id;
  claimed();
  log.attach(*store_, [](const OrderView& v) {
    if (v.order.status == OrderStatus::confirmed) std::this_thread::sleep_for(200ms);
  });
  // The provider: pays as soon as the order reads CONFIRMED.
  auto provider = std::async(std::launch::async, [this, id]() -> Result<OrderView> {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < deadline) {
      if (order_view("s1", id).order.status == OrderStatus::confirmed) return pay(id, "pay-1");
      std::this_thread::sleep_for(1ms);
    }
    return Error{ErrorCode::internal, "never confirmed"};
  });
  ASSERT_TRUE(store_->finish(id, OrderStatus::confirmed, "", ""));
  ASSERT_EQ(provider.wait_for(patience), std::future_status::ready);
  const auto paid = provider.get();
  ASSERT_TRUE(paid) << paid.error().message;
  using C = std::vector<std::pair<std::uint64_t, OrderStatus>>;
  // Versions 1 and 2 were published before the listener was attached.
  EXPECT_EQ(log.of(id), (C{{3, OrderStatus::confirmed}, {4, OrderStatus::paid}}))
      << "published out of order: " << describe(log.of(id));
}

// --- concurrency ---

TEST_F(MemoryStoreTest, StockIsNeverOversoldUnderConcurrentIntake) {
  constexpr int threads = 8, users_per_thread = 500, stock = 1000;
  constexpr int total = threads * users_per_thread;
  sale("flash", stock);

  struct Outcome {
    std::string user;
    Result<IntakeOutcome> result;
  };
  std::mutex mutex;
  std::vector<Outcome> outcomes;
  outcomes.reserve(total);
  std::promise<void> all_answered;
  auto answered = all_answered.get_future();

  std::latch go(1);
  std::vector<std::thread> crowd;
  for (int t = 0; t < threads; ++t)
    crowd.emplace_back([&, t] {
      go.wait();
      for (int i = 0; i < users_per_thread; ++i) {
        std::string user = numbered("t", t);
        user += numbered("-u", i);
        store_->intake("flash", user, [&, user](Result<IntakeOutcome> r) {
          std::lock_guard lock(mutex);
          outcomes.push_back(Outcome{user, std::move(r)});
          if (outcomes.size() == total) all_answered.set_value();
        });
      }
    });
  go.count_down();
  for (auto& th : crowd) th.join();
  ASSERT_EQ(answered.wait_for(patience), std::future_status::ready) << "not every intake was answered";

  std::lock_guard lock(mutex);
  std::set<std::string> users, order_ids;
  std::set<std::uint64_t> seqs;
  int accepted_count = 0, sold_out = 0, other = 0;
  for (const auto& o : outcomes) {
    if (o.result) {
      ++accepted_count;
      EXPECT_TRUE(o.result->created);
      EXPECT_EQ(o.result->view.order.user_id, o.user);
      EXPECT_TRUE(users.insert(o.user).second) << o.user << " accepted twice";
      order_ids.insert(o.result->view.order.order_id);
      seqs.insert(o.result->view.order.seq);
    } else if (o.result.error().code == ErrorCode::sold_out) {
      ++sold_out;
    } else {
      ++other;
      ADD_FAILURE() << o.user << ": " << o.result.error().message;
    }
  }
  EXPECT_EQ(accepted_count, stock);
  EXPECT_EQ(sold_out, total - stock);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(order_ids.size(), static_cast<std::size_t>(stock));
  EXPECT_EQ(seqs.size(), static_cast<std::size_t>(stock));
  if (!seqs.empty()) {
    EXPECT_EQ(*seqs.begin(), 1u);
    EXPECT_EQ(*seqs.rbegin(), static_cast<std::uint64_t>(stock));
  }

  const SaleView s = sale_of("flash");
  EXPECT_EQ(s.remaining, 0);
  EXPECT_EQ(s.counts[idx(OrderStatus::queued)], static_cast<std::uint64_t>(stock));
  expect_stock_invariant("flash");

  // Every accepted intake is in the journal.
  const JournalState state = db_->load();
  std::size_t journaled = 0;
  for (const auto& o : state.orders) journaled += o.sale_id == "flash";
  EXPECT_EQ(journaled, static_cast<std::size_t>(stock));
}

TEST_F(MemoryStoreTest, OneOrderPerUserUnderConcurrentIntake) {
  constexpr int threads = 8, users = 100;
  sale("flash", 1000);
  std::mutex mutex;
  std::map<std::string, std::vector<Result<IntakeOutcome>>> by_user;
  std::atomic<int> answers{0};
  std::promise<void> all_answered;
  auto answered = all_answered.get_future();

  std::latch go(1);
  std::vector<std::thread> crowd;
  for (int t = 0; t < threads; ++t)
    crowd.emplace_back([&] {
      go.wait();
      for (int i = 0; i < users; ++i) {
        std::string user = numbered("u", i);
        store_->intake("flash", user, [&, user](Result<IntakeOutcome> r) {
          {
            std::lock_guard lock(mutex);
            by_user[user].push_back(std::move(r));
          }
          if (++answers == threads * users) all_answered.set_value();
        });
      }
    });
  go.count_down();
  for (auto& th : crowd) th.join();
  ASSERT_EQ(answered.wait_for(patience), std::future_status::ready) << "not every intake was answered";

  std::lock_guard lock(mutex);
  ASSERT_EQ(by_user.size(), static_cast<std::size_t>(users));
  for (const auto& [user, results] : by_user) {
    ASSERT_EQ(results.size(), static_cast<std::size_t>(threads)) << user;
    std::set<std::string> ids;
    int created = 0;
    for (const auto& r : results) {
      ASSERT_TRUE(r) << user << ": " << r.error().message;
      ids.insert(r->view.order.order_id);
      created += r->created;
    }
    EXPECT_EQ(ids.size(), 1u) << user << " got several orders";
    EXPECT_EQ(created, 1) << user;
  }
  EXPECT_EQ(sale_of("flash").remaining, 1000 - users);
  expect_stock_invariant("flash");
}

TEST_F(MemoryStoreTest, PaymentRacingCancelEndsInExactlyOneState) {
  int paid_rounds = 0, cancelled_rounds = 0;
  for (int round = 0; round < 30; ++round) {
    const std::string sale_id = numbered("race-", round);
    sale(sale_id, 1);
    const auto id = confirmed(sale_id, "u1");

    std::latch go(2);
    Pending<OrderView> payment;
    std::size_t cancelled_count = 0;
    std::thread provider([&] {
      go.arrive_and_wait();
      store_->pay(id, numbered("pay-", round), payment.callback());
    });
    std::thread sweeper([&] {
      go.arrive_and_wait();
      cancelled_count = store_->cancel_unpaid(now_ms() + 60'000);
    });
    provider.join();
    sweeper.join();
    const auto pay_result = payment.get();

    const auto final_view = order_view(sale_id, id);
    const auto status = final_view.order.status;
    ASSERT_TRUE(status == OrderStatus::paid || status == OrderStatus::cancelled)
        << "round " << round << " ended " << to_string(status);
    EXPECT_EQ(final_view.order.version, 4u) << "round " << round;
    if (status == OrderStatus::paid) {
      ++paid_rounds;
      EXPECT_TRUE(pay_result) << "round " << round << ": PAID but the provider was told " << pay_result.error().message;
      EXPECT_EQ(cancelled_count, 0u) << "round " << round;
      EXPECT_EQ(sale_of(sale_id).remaining, 0) << "round " << round;
    } else {
      ++cancelled_rounds;
      ASSERT_FALSE(pay_result) << "round " << round << ": CANCELLED but the payment was accepted";
      EXPECT_EQ(pay_result.error().code, ErrorCode::order_not_payable) << "round " << round;
      EXPECT_EQ(cancelled_count, 1u) << "round " << round;
      EXPECT_EQ(sale_of(sale_id).remaining, 1) << "round " << round;
    }
    expect_stock_invariant(sale_id);

    // The journal agrees with memory.
    const JournalState state = db_->load();
    const Order* journaled = journal_order(state, id);
    ASSERT_NE(journaled, nullptr);
    EXPECT_EQ(journaled->status, status) << "round " << round;
    EXPECT_EQ(journaled->version, 4u) << "round " << round;
  }
  EXPECT_EQ(paid_rounds + cancelled_rounds, 30);
  RecordProperty("paid_rounds", paid_rounds);
  RecordProperty("cancelled_rounds", cancelled_rounds);
}

// --- restart ---

class MemoryStoreRestoreTest : public MemoryStoreTest {
 protected:
  // Sale A (window around now, stock 6):
  //   u1 PAID, u2 FAILED, u3 CONFIRMED (unpaid), u4 PROCESSING, u5 QUEUED.
  // Sale B (no window, stock 3): b1 QUEUED.
  void SetUp() override {
    MemoryStoreTest::SetUp();
    const TimeMs now = now_ms();
    starts_ = now - 3'600'000;
    ends_ = now + 3'600'000;
    sale("A", 6, starts_, ends_);
    sale("B", 3);
    for (const char* u : {"u1", "u2", "u3", "u4", "u5"}) ids_[u] = accepted("A", u).order.order_id;
    ids_["b1"] = accepted("B", "b1").order.order_id;

    ASSERT_EQ(claimed().order_id, ids_["u1"]);
    ASSERT_TRUE(store_->finish(ids_["u1"], OrderStatus::confirmed, "", ""));
    ASSERT_TRUE(pay(ids_["u1"], "pay-u1"));
    ASSERT_EQ(claimed().order_id, ids_["u2"]);
    ASSERT_TRUE(store_->finish(ids_["u2"], OrderStatus::failed, "downstream_refused", ""));
    ASSERT_EQ(claimed().order_id, ids_["u3"]);
    ASSERT_TRUE(store_->finish(ids_["u3"], OrderStatus::confirmed, "", ""));
    ASSERT_EQ(claimed().order_id, ids_["u4"]);  // left PROCESSING: the process dies mid-order
    ASSERT_TRUE(db_->flush_stock({{"A", 3}}));

    before_a_ = sale_of("A");
    before_b_ = sale_of("B");
    restart();
  }

  TimeMs starts_ = 0, ends_ = 0;
  std::map<std::string, std::string> ids_;
  SaleView before_a_, before_b_;
};

TEST_F(MemoryStoreRestoreTest, SalesComeBackWithTheirRemainingStock) {
  const SaleView a = sale_of("A");
  EXPECT_EQ(a.sale.item, "item of A");
  EXPECT_EQ(a.sale.stock, 6);
  EXPECT_EQ(a.sale.starts_at, starts_);
  EXPECT_EQ(a.sale.ends_at, ends_);
  EXPECT_EQ(a.remaining, before_a_.remaining);
  EXPECT_EQ(a.remaining, 2);  // u1, u3, u4, u5 hold a unit; u2's went back
  EXPECT_EQ(a.remaining_db, 3);
  const SaleView b = sale_of("B");
  EXPECT_EQ(b.sale.stock, 3);
  EXPECT_FALSE(b.sale.starts_at);
  EXPECT_FALSE(b.sale.ends_at);
  EXPECT_EQ(b.remaining, before_b_.remaining);
  EXPECT_FALSE(b.remaining_db);
  expect_stock_invariant("A");
  expect_stock_invariant("B");
}

TEST_F(MemoryStoreRestoreTest, OrdersComeBackWithStatusAndVersion) {
  const auto u1 = order_view("A", ids_["u1"]);
  EXPECT_EQ(u1.order.status, OrderStatus::paid);
  EXPECT_EQ(u1.order.version, 4u);
  EXPECT_EQ(u1.order.payment_id, "pay-u1");
  const auto u2 = order_view("A", ids_["u2"]);
  EXPECT_EQ(u2.order.status, OrderStatus::failed);
  EXPECT_EQ(u2.order.version, 3u);
  EXPECT_EQ(u2.order.reason, "downstream_refused");
  const auto u3 = order_view("A", ids_["u3"]);
  EXPECT_EQ(u3.order.status, OrderStatus::confirmed);
  EXPECT_EQ(u3.order.version, 3u);
  const auto u5 = order_view("A", ids_["u5"]);
  EXPECT_EQ(u5.order.status, OrderStatus::queued);
  EXPECT_EQ(u5.order.version, 1u);
  const auto b1 = order_view("B", ids_["b1"]);
  EXPECT_EQ(b1.order.status, OrderStatus::queued);
  EXPECT_EQ(b1.order.version, 1u);
  EXPECT_EQ(b1.order.user_id, "b1");

  const SaleView a = sale_of("A");
  EXPECT_EQ(a.counts[idx(OrderStatus::paid)], 1u);
  EXPECT_EQ(a.counts[idx(OrderStatus::failed)], 1u);
  EXPECT_EQ(a.counts[idx(OrderStatus::confirmed)], 1u);
  EXPECT_EQ(a.counts[idx(OrderStatus::processing)], 0u);
  EXPECT_EQ(a.counts[idx(OrderStatus::queued)], 2u);
}

TEST_F(MemoryStoreRestoreTest, ProcessingOrdersComeBackQueuedAtTheNextVersion) {
  const auto u4 = order_view("A", ids_["u4"]);
  EXPECT_EQ(u4.order.status, OrderStatus::queued);
  EXPECT_EQ(u4.order.version, 3u);  // PROCESSING was 2; going back in line is a change
  EXPECT_EQ(u4.position, 1u);
  EXPECT_EQ(order_view("A", ids_["u5"]).position, 2u);
}

TEST_F(MemoryStoreRestoreTest, QueueResumesInIntakeOrder) {
  EXPECT_EQ(store_->queue_depth(), 3u);
  std::vector<std::string> of_a, of_b;
  for (int i = 0; i < 3; ++i) {
    const Order o = claimed();
    (o.sale_id == "A" ? of_a : of_b).push_back(o.order_id);
  }
  EXPECT_EQ(of_a, (std::vector<std::string>{ids_["u4"], ids_["u5"]}));
  EXPECT_EQ(of_b, (std::vector<std::string>{ids_["b1"]}));
  EXPECT_FALSE(store_->claim(10ms));
}

// The journal is written with wall-clock times; a clock stepped back (NTP)
// between two intakes of one sale must not reorder its line after a restart.
TEST_F(MemoryStoreTest, RestoreKeepsIntakeOrderWhenTheClockSteppedBack) {
  const Sale s = make_sale("s1", 10);
  {
    Pending<SaleView> created;
    store_->create_sale(s, created.callback());
    ASSERT_TRUE(created.get());
  }
  const TimeMs t = now_ms();
  Order first;
  first.order_id = "aaaaaaaaaaaaaaaaaaaa";
  first.sale_id = "s1";
  first.user_id = "u1";
  first.seq = 1;
  first.created_at = first.updated_at = t;
  Order second = first;
  second.order_id = "bbbbbbbbbbbbbbbbbbbb";
  second.user_id = "u2";
  second.seq = 2;
  second.created_at = second.updated_at = t - 1000;  // the clock went back a second
  for (const Order& o : {first, second}) {
    std::promise<bool> durable;
    db_->record_order(o, [&durable](bool ok) { durable.set_value(ok); });
    ASSERT_TRUE(durable.get_future().get());
  }
  restart();

  EXPECT_EQ(order_view("s1", first.order_id).position, 1u);
  EXPECT_EQ(order_view("s1", second.order_id).position, 2u);
  EXPECT_EQ(claimed().order_id, first.order_id) << "the first intake must be served first";
  EXPECT_EQ(claimed().order_id, second.order_id);
}

TEST_F(MemoryStoreRestoreTest, HoldersComeBack) {
  for (const char* u : {"u1", "u3", "u4", "u5"}) {
    const auto again = intake("A", u);
    ASSERT_TRUE(again) << u << ": " << again.error().message;
    EXPECT_FALSE(again->created) << u;
    EXPECT_EQ(again->view.order.order_id, ids_[u]) << u;
  }
  const auto b1 = intake("B", "b1");
  ASSERT_TRUE(b1);
  EXPECT_FALSE(b1->created);
  EXPECT_EQ(b1->view.order.order_id, ids_["b1"]);
  EXPECT_EQ(sale_of("A").remaining, 2);
}

TEST_F(MemoryStoreRestoreTest, UserOfAFailedOrderMayBuyAgain) {
  const auto again = intake("A", "u2");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->created);
  EXPECT_NE(again->view.order.order_id, ids_["u2"]);
  EXPECT_EQ(again->view.order.seq, 6u) << "intake numbers continue after a restart";
  EXPECT_EQ(again->view.position, 3u);  // behind u4 and u5
  EXPECT_EQ(sale_of("A").remaining, 1);
  expect_stock_invariant("A");
}

TEST_F(MemoryStoreRestoreTest, UnpaidConfirmedOrdersStillTimeOut) {
  EXPECT_EQ(store_->cancel_unpaid(now_ms() + 60'000), 1u);
  EXPECT_EQ(order_view("A", ids_["u3"]).order.status, OrderStatus::cancelled);
  EXPECT_EQ(sale_of("A").remaining, 3);
  expect_stock_invariant("A");
}

TEST_F(MemoryStoreRestoreTest, PaidOrderStillAcceptsTheSamePaymentOnly) {
  const auto same = pay(ids_["u1"], "pay-u1");
  ASSERT_TRUE(same) << same.error().message;
  EXPECT_EQ(same->order.version, 4u);
  const auto other = pay(ids_["u1"], "pay-other");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::order_not_payable);
}

TEST_F(MemoryStoreRestoreTest, ASecondRestartChangesNothingMore) {
  restart();
  const auto u4 = order_view("A", ids_["u4"]);
  EXPECT_EQ(u4.order.status, OrderStatus::queued);
  EXPECT_EQ(u4.order.version, 3u) << "the hand-back was journaled, so it is not repeated";
  EXPECT_EQ(sale_of("A").remaining, 2);
  EXPECT_EQ(order_view("A", ids_["u1"]).order.status, OrderStatus::paid);
  EXPECT_EQ(store_->queue_depth(), 3u);
  expect_stock_invariant("A");
}

// --- a journal that fails on demand ---

class ScriptedJournal final : public Journal {
 public:
  std::function<bool(const Order&)> durable = [](const Order&) { return true; };
  void record_sale(const Sale&, Done done) override {
    if (done) done(true);
    commit_ended();
  }
  void record_order(Order order, Done done) override {
    const bool ok = durable(order);
    if (done) done(ok);
    commit_ended();
  }
  void barrier(Done done) override {
    if (done) done(true);
    commit_ended();
  }
  JournalState load() override { return {}; }
};

class MemoryStoreFailingJournalTest : public ::testing::Test, protected StoreCalls {
 protected:
  void SetUp() override {
    store = &store_;
    ASSERT_TRUE(create_sale(make_sale("s1", 5)));
  }
  OrderView accepted(const std::string& user) {
    auto r = intake("s1", user);
    EXPECT_TRUE(r) << user << ": " << r.error().message;
    return r ? r->view : OrderView{};
  }
  ScriptedJournal journal_;
  MemoryStore store_{journal_};
};

TEST_F(MemoryStoreFailingJournalTest, IntakeThatCannotBeMadeDurableIsRefusedAndUndone) {
  journal_.durable = [](const Order& o) { return o.user_id != "u2"; };
  accepted("u1");
  const auto r = intake("s1", "u2");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::unavailable);
  auto s = get_sale("s1");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->remaining, 4);
  EXPECT_EQ(s->counts[idx(OrderStatus::queued)], 1u);
  EXPECT_EQ(store_.queue_depth(), 1u);

  journal_.durable = [](const Order&) { return true; };
  const auto retry = intake("s1", "u2");
  ASSERT_TRUE(retry) << retry.error().message;
  EXPECT_TRUE(retry->created);
}

// position = 1 + orders accepted before this one that no window has started.
TEST_F(MemoryStoreFailingJournalTest, FailedIntakeDoesNotMoveEarlierOrdersForward) {
  journal_.durable = [](const Order& o) { return o.user_id != "u3"; };
  const auto u1 = accepted("u1");
  const auto u2 = accepted("u2");
  ASSERT_FALSE(intake("s1", "u3"));
  const auto u4 = accepted("u4");

  auto v1 = get_order("s1", u1.order.order_id);
  auto v2 = get_order("s1", u2.order.order_id);
  ASSERT_TRUE(v1);
  ASSERT_TRUE(v2);
  EXPECT_EQ(v1->position, 1u);
  EXPECT_EQ(v2->position, 2u) << "u1 is still waiting ahead of u2";
  EXPECT_EQ(u4.position, 3u) << "u1 and u2 are waiting ahead of u4";
}

TEST_F(MemoryStoreFailingJournalTest, PaymentThatCannotBeMadeDurableChangesNothing) {
  const auto id = accepted("u1").order.order_id;
  ASSERT_TRUE(store_.claim(1s));
  ASSERT_TRUE(store_.finish(id, OrderStatus::confirmed, "", ""));
  journal_.durable = [](const Order& o) { return o.status != OrderStatus::paid; };
  const auto r = pay(id, "pay-1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::unavailable);
  auto v = get_order("s1", id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->order.status, OrderStatus::confirmed);
  EXPECT_EQ(v->order.version, 3u);

  journal_.durable = [](const Order&) { return true; };
  const auto retry = pay(id, "pay-1");
  ASSERT_TRUE(retry) << retry.error().message;
  EXPECT_EQ(retry->order.status, OrderStatus::paid);
  EXPECT_EQ(retry->order.version, 4u);
}

TEST_F(MemoryStoreFailingJournalTest, FinishThatCannotBeMadeDurableReportsFailureAndChangesNothing) {
  const auto id = accepted("u1").order.order_id;
  ASSERT_TRUE(store_.claim(1s));
  journal_.durable = [](const Order& o) { return o.status != OrderStatus::confirmed; };
  EXPECT_FALSE(store_.finish(id, OrderStatus::confirmed, "", ""));
  auto v = get_order("s1", id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->order.status, OrderStatus::processing);
  EXPECT_EQ(v->order.version, 2u);
}

TEST_F(MemoryStoreFailingJournalTest, CancellationThatCannotBeMadeDurableIsRetriedLater) {
  const auto id = accepted("u1").order.order_id;
  ASSERT_TRUE(store_.claim(1s));
  ASSERT_TRUE(store_.finish(id, OrderStatus::confirmed, "", ""));
  journal_.durable = [](const Order& o) { return o.status != OrderStatus::cancelled; };
  EXPECT_EQ(store_.cancel_unpaid(now_ms() + 60'000), 0u);
  auto v = get_order("s1", id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->order.status, OrderStatus::confirmed);

  journal_.durable = [](const Order&) { return true; };
  EXPECT_EQ(store_.cancel_unpaid(now_ms() + 60'000), 1u);
  auto after = get_sale("s1");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->remaining, 5);
}

}  // namespace
