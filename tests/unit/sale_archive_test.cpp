// The sale life cycle's end: the domain's "settled" rule and the retention
// bound (below), and the memory store's drop_sale (further down).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <random>
#include <string>

#include "database/sqlite/sqlite_database.hpp"
#include "domain/sale_lifecycle.hpp"
#include "metrics/registry.hpp"
#include "store/memory/memory_store.hpp"
#include "worker/archiver.hpp"

namespace {

using flashgate::domain::archive_due;
using flashgate::domain::ErrorCode;
using flashgate::domain::is_settled;
using flashgate::domain::OrderStatus;
using flashgate::domain::Sale;
using flashgate::domain::sale_active_error;
using flashgate::domain::sale_activity;
using flashgate::domain::SaleActivity;
using flashgate::domain::StatusCounts;
using flashgate::domain::TimeMs;
using flashgate::domain::validate_archive_after;

constexpr TimeMs start = 1'800'000'000'000;
constexpr TimeMs end = start + 3'600'000;
constexpr std::int64_t hour = 3'600'000;
constexpr std::int64_t minute = 60'000;

Sale sale_until(std::optional<TimeMs> ends_at) {
  Sale s;
  s.sale_id = "sale-1";
  s.item = "phone";
  s.stock = 10;
  s.starts_at = start;
  s.ends_at = ends_at;
  return s;
}

StatusCounts counts_with(OrderStatus status, std::uint64_t n) {
  StatusCounts counts{};
  counts[static_cast<std::size_t>(status)] = n;
  return counts;
}

TEST(SaleSettled, OpenSaleWithStockIsNotSettled) {
  EXPECT_EQ(sale_activity(sale_until(end), 3, counts_with(OrderStatus::paid, 7), start + 1), SaleActivity::open_with_stock);
  EXPECT_EQ(sale_activity(sale_until(std::nullopt), 1, StatusCounts{}, end + hour), SaleActivity::open_with_stock);
}

TEST(SaleSettled, EndedSaleWithOnlyFinalOrdersIsSettled) {
  StatusCounts counts{};
  counts[static_cast<std::size_t>(OrderStatus::paid)] = 4;
  counts[static_cast<std::size_t>(OrderStatus::failed)] = 1;
  counts[static_cast<std::size_t>(OrderStatus::cancelled)] = 2;
  EXPECT_TRUE(is_settled(sale_until(end), 6, counts, end));
  EXPECT_TRUE(is_settled(sale_until(end), 6, counts, end + 1));
  EXPECT_FALSE(is_settled(sale_until(end), 6, counts, end - 1));
}

TEST(SaleSettled, SoldOutSaleThatNeverEndsIsSettledOnceEveryOrderIsFinal) {
  EXPECT_TRUE(is_settled(sale_until(std::nullopt), 0, counts_with(OrderStatus::paid, 10), start));
  EXPECT_TRUE(is_settled(sale_until(std::nullopt), 0, StatusCounts{}, start));  // a sale of no stock
}

TEST(SaleSettled, AnyOrderNotFinalKeepsTheSaleActive) {
  for (auto status : {OrderStatus::queued, OrderStatus::processing, OrderStatus::confirmed}) {
    auto counts = counts_with(OrderStatus::paid, 9);
    counts[static_cast<std::size_t>(status)] = 1;
    EXPECT_EQ(sale_activity(sale_until(end), 0, counts, end + hour), SaleActivity::orders_not_final)
        << to_string(status);
  }
}

// A draw's entrant waits for the draw; one not drawn is done with.
TEST(SaleSettled, AnEntrantKeepsTheSaleActiveANotDrawnOneDoesNot) {
  EXPECT_EQ(sale_activity(sale_until(end), 0, counts_with(OrderStatus::entered, 1), end + hour),
            SaleActivity::orders_not_final);
  EXPECT_TRUE(is_settled(sale_until(end), 0, counts_with(OrderStatus::not_drawn, 500), end + hour));
}

TEST(SaleSettled, ActiveErrorsSayWhy) {
  auto not_final = sale_active_error(SaleActivity::orders_not_final);
  EXPECT_EQ(not_final.code, ErrorCode::sale_active);
  EXPECT_NE(not_final.message.find("not final"), std::string::npos);
  auto open = sale_active_error(SaleActivity::open_with_stock);
  EXPECT_EQ(open.code, ErrorCode::sale_active);
  EXPECT_NE(open.message.find("stock"), std::string::npos);
}

TEST(SaleArchive, DueOnceTheRetentionHasPassedSinceSettled) {
  EXPECT_FALSE(archive_due(start, start + 24 * hour - 1, 24 * hour));
  EXPECT_TRUE(archive_due(start, start + 24 * hour, 24 * hour));
  EXPECT_TRUE(archive_due(start, start + 30 * hour, 24 * hour));
}

TEST(SaleArchive, RetentionNeverShorterThanTicketTtlPlusPaymentTimeout) {
  EXPECT_FALSE(validate_archive_after(24 * hour, hour, 15 * minute));
  EXPECT_FALSE(validate_archive_after(hour + 15 * minute, hour, 15 * minute));
  auto refused = validate_archive_after(hour + 15 * minute - 1, hour, 15 * minute);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, ErrorCode::invalid_request);
  EXPECT_NE(refused->message.find("4500000 ms"), std::string::npos);
}

// --- the memory store's drop_sale and the SQLite file's sales, over a real journal

using flashgate::database::SaleRecord;
using flashgate::database::SqliteDatabase;
using flashgate::domain::now_ms;
using flashgate::domain::Result;
using flashgate::store::IntakeOutcome;
using flashgate::store::MemoryStore;
using flashgate::store::OrderView;
using flashgate::store::SaleView;

template <class T>
Result<T> wait_for(const std::function<void(flashgate::store::Callback<T>)>& call) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  call([promise](Result<T> r) { promise->set_value(std::move(r)); });
  return future.get();
}

class ArchiveFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("flashgate-archive-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    open();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  // (Re)opens the file and rebuilds the store from it, as a start does.
  void open() {
    store_.reset();
    db_.reset();
    db_ = std::make_unique<SqliteDatabase>(dir_ / "flashgate.db", SqliteDatabase::CommitObserver{},
                                           flashgate::database::SqliteFeatures{.order_rows_from_journal = true});
    store_ = std::make_unique<MemoryStore>(*db_);
    store_->restore(db_->load());
  }

  Sale sale(const std::string& id, std::int64_t stock) {
    Sale s;
    s.sale_id = id;
    s.item = "item";
    s.stock = stock;
    s.created_at = now_ms();
    EXPECT_TRUE(wait_for<SaleView>([&](auto done) { store_->create_sale(s, done); }));
    return s;
  }
  OrderView intake(const std::string& sale_id, const std::string& user_id) {
    auto r = wait_for<IntakeOutcome>([&](auto done) { store_->intake(sale_id, user_id, done); });
    EXPECT_TRUE(r) << r.error().message;
    return r.value().view;
  }
  // QUEUED -> PROCESSING -> FAILED: a final status with a window's real steps.
  void fail_next() {
    auto claimed = store_->claim(std::chrono::seconds(5));
    ASSERT_TRUE(claimed);
    ASSERT_TRUE(store_->finish(claimed->order_id, OrderStatus::failed, "out_of_stock", ""));
  }
  std::string confirm_next() {
    auto claimed = store_->claim(std::chrono::seconds(5));
    EXPECT_TRUE(claimed);
    EXPECT_TRUE(store_->finish(claimed->order_id, OrderStatus::confirmed, "", ""));
    return claimed->order_id;
  }
  Result<OrderView> get_order(const std::string& sale_id, const std::string& order_id) {
    return wait_for<OrderView>([&](auto done) { store_->get_order(sale_id, order_id, done); });
  }
  SaleView view_of(const std::string& sale_id) {
    for (auto& v : store_->sale_views())
      if (v.sale.sale_id == sale_id) return v;
    ADD_FAILURE() << "no view of " << sale_id;
    return {};
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteDatabase> db_;
  std::unique_ptr<MemoryStore> store_;
};

TEST_F(ArchiveFile, DropSaleRefusesWhileAnOrderIsNotFinal) {
  sale("busy", 5);
  intake("busy", "u1");
  auto refused = store_->drop_sale("busy");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::sale_active);
  EXPECT_TRUE(wait_for<SaleView>([&](auto done) { store_->get_sale("busy", done); }));
}

TEST_F(ArchiveFile, DropSaleRemovesTheSaleAndItsOrdersAndNothingElse) {
  sale("over", 2);
  sale("live", 5);
  auto a = intake("over", "u1");
  auto b = intake("over", "u2");
  fail_next();
  fail_next();
  auto kept = intake("live", "u1");
  std::vector<std::string> told;
  store_->on_sale_dropped([&told](const std::string& id) { told.push_back(id); });

  ASSERT_TRUE(store_->drop_sale("over"));
  EXPECT_EQ(told, std::vector<std::string>{"over"});
  auto gone = wait_for<SaleView>([&](auto done) { store_->get_sale("over", done); });
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::sale_not_found);
  EXPECT_FALSE(get_order("over", a.order.order_id));
  EXPECT_FALSE(get_order("over", b.order.order_id));
  auto late = wait_for<IntakeOutcome>([&](auto done) { store_->intake("over", "u3", done); });
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::sale_not_found);
  // The other sale and its order are as they were.
  auto still = get_order("live", kept.order.order_id);
  ASSERT_TRUE(still);
  EXPECT_EQ(still.value().order.status, OrderStatus::queued);
  ASSERT_EQ(store_->sale_views().size(), 1u);
  // Again: nothing left to remove, still a success.
  EXPECT_TRUE(store_->drop_sale("over"));
}

TEST_F(ArchiveFile, APaidOrderOfADroppedSaleDoesNotTripThePaymentTimeout) {
  sale("paid", 1);
  intake("paid", "u1");
  const auto order_id = confirm_next();
  ASSERT_TRUE(wait_for<OrderView>([&](auto done) { store_->pay(order_id, "pay-1", done); }));
  ASSERT_TRUE(store_->drop_sale("paid"));
  EXPECT_EQ(store_->cancel_unpaid(now_ms() + 3'600'000), 0u);
}

TEST_F(ArchiveFile, ArchiveSaleKeepsTheFirstNumbersAndARestartLoadsOnlyLiveSales) {
  sale("over", 3);
  sale("live", 3);
  const auto first = intake("over", "u1");
  intake("over", "u2");
  fail_next();
  fail_next();
  intake("live", "u1");
  auto final_numbers = view_of("over");
  ASSERT_TRUE(db_->archive_sale(final_numbers, 5'000));
  auto later = final_numbers;
  later.remaining = 0;
  ASSERT_TRUE(db_->archive_sale(later, 9'000));  // idempotent: the first numbers stay
  ASSERT_TRUE(store_->drop_sale("over"));

  auto record = db_->find_sale("over");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->archived_at, 5'000);
  EXPECT_EQ(record->settled_since, 5'000);  // never marked before: archived_at stands in
  EXPECT_EQ(record->remaining, 3);
  EXPECT_EQ(record->counts[static_cast<std::size_t>(OrderStatus::failed)], 2u);
  EXPECT_EQ(record->units, final_numbers.units);
  EXPECT_EQ(db_->archived_sale_ids(), std::vector<std::string>{"over"});
  EXPECT_EQ(db_->sale_of_order(first.order.order_id), "over");  // a payment of it can be told why
  EXPECT_EQ(db_->sale_of_order("no-such-order"), std::nullopt);

  open();  // a restart
  auto views = store_->sale_views();
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].sale.sale_id, "live");
  EXPECT_EQ(views[0].counts[static_cast<std::size_t>(OrderStatus::queued)], 1u);
  EXPECT_FALSE(get_order("over", first.order.order_id));
  EXPECT_EQ(db_->sale_of_order(first.order.order_id), "over");  // the journal still has it
}

// Every status has its columns: the draw's ENTERED and NOT_DRAWN as much as the others.
TEST_F(ArchiveFile, ArchiveKeepsTheCountOfEveryStatus) {
  sale("drawn", 3);
  auto final_numbers = view_of("drawn");
  for (auto status : flashgate::domain::all_statuses) {
    final_numbers.counts[static_cast<std::size_t>(status)] = 10 + static_cast<std::size_t>(status);
    final_numbers.units[static_cast<std::size_t>(status)] = 100 + static_cast<std::size_t>(status);
  }
  ASSERT_TRUE(db_->archive_sale(final_numbers, 5'000));
  const auto record = db_->find_sale("drawn");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->counts, final_numbers.counts);
  EXPECT_EQ(record->units, final_numbers.units);
  EXPECT_EQ(record->remaining, 3);
  EXPECT_EQ(record->archived_at, 5'000);
}

TEST_F(ArchiveFile, ASaleUnknownToTheFileIsNotArchived) {
  SaleView ghost;
  ghost.sale.sale_id = "ghost";
  EXPECT_FALSE(db_->archive_sale(ghost, 1));
  EXPECT_FALSE(db_->find_sale("ghost"));
}

TEST_F(ArchiveFile, MarkSettledSetsAndClearsButNeverTouchesAnArchivedSale) {
  sale("s1", 0);
  ASSERT_TRUE(db_->mark_settled("s1", 1'000));
  EXPECT_EQ(db_->find_sale("s1")->settled_since, 1'000);
  ASSERT_TRUE(db_->mark_settled("s1", std::nullopt));
  EXPECT_EQ(db_->find_sale("s1")->settled_since, std::nullopt);
  ASSERT_TRUE(db_->mark_settled("s1", 2'000));
  ASSERT_TRUE(db_->archive_sale(view_of("s1"), 7'000));
  ASSERT_TRUE(db_->mark_settled("s1", std::nullopt));
  EXPECT_EQ(db_->find_sale("s1")->settled_since, 2'000);
}

TEST_F(ArchiveFile, ListSalesPagesInSaleIdOrder) {
  for (const auto* id : {"c", "a", "e", "b", "d"}) sale(id, 1);
  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    auto records = db_->list_sales(after, 2);
    if (records.empty()) break;
    EXPECT_LE(records.size(), 2u);
    for (const auto& r : records) seen.push_back(r.sale.sale_id);
    after = records.back().sale.sale_id;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
}

TEST_F(ArchiveFile, TheJournalLoadReadsIntakesThroughTheSaleIndex) {
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir_ / "flashgate.db").c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* plan = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw,
                               "EXPLAIN QUERY PLAN SELECT rowid FROM intakes WHERE sale_id = 'x' ORDER BY rowid", -1,
                               &plan, nullptr),
            SQLITE_OK);
  std::string details;
  while (sqlite3_step(plan) == SQLITE_ROW) details += reinterpret_cast<const char*>(sqlite3_column_text(plan, 3));
  sqlite3_finalize(plan);
  sqlite3_close(raw);
  EXPECT_NE(details.find("intakes_by_sale"), std::string::npos) << details;
  EXPECT_EQ(details.find("TEMP B-TREE"), std::string::npos) << details;  // no sort
}

// --- the archiver's rounds and the admin call, over the same store and file

class Archiving : public ArchiveFile {
 protected:
  static constexpr std::int64_t retention = 10'000;
  flashgate::worker::Archiver make_archiver(bool with_lock = false) {
    flashgate::worker::ArchiverSettings settings;
    settings.archive_after_ms = retention;
    settings.archived = [this](const std::string& id) { told_.push_back(id); };
    if (with_lock) {  // the deployment's archive lock, as another process would hold it
      settings.lock_archive = [this](std::chrono::milliseconds wait) {
        waits_.push_back(wait);
        if (other_process_archives_) return false;
        ++locked_;
        return true;
      };
      settings.unlock_archive = [this] { --locked_; };
    }
    return flashgate::worker::Archiver(*store_, *db_, metrics_, settings);
  }
  bool other_process_archives_ = false;
  int locked_ = 0;
  std::vector<std::chrono::milliseconds> waits_;
  bool held(const std::string& sale_id) {
    for (const auto& v : store_->sale_views())
      if (v.sale.sale_id == sale_id) return true;
    return false;
  }
  flashgate::metrics::Registry metrics_;
  std::vector<std::string> told_;
};

TEST_F(Archiving, ARoundRecordsWhenASaleSettledAndArchivesItOnceTheRetentionPassed) {
  sale("empty", 0);  // no stock: settled from the start
  sale("open", 5);   // never ends, stock left: never settled
  auto archiver = make_archiver();
  const TimeMs t0 = now_ms();
  archiver.run_round(t0);
  EXPECT_EQ(db_->find_sale("empty")->settled_since, t0);
  EXPECT_EQ(db_->find_sale("open")->settled_since, std::nullopt);
  archiver.run_round(t0 + retention - 1);
  EXPECT_TRUE(held("empty"));
  archiver.run_round(t0 + retention);
  EXPECT_FALSE(held("empty"));
  EXPECT_TRUE(held("open"));
  EXPECT_EQ(db_->find_sale("empty")->archived_at, t0 + retention);
  EXPECT_EQ(told_, std::vector<std::string>{"empty"});
}

TEST_F(Archiving, ASoldOutSaleWithAnOrderNotFinalIsNotMarkedSettled) {
  sale("busy", 1);
  intake("busy", "u1");  // sold out, but the order is QUEUED: not settled
  auto archiver = make_archiver();
  archiver.run_round(now_ms());
  EXPECT_EQ(db_->find_sale("busy")->settled_since, std::nullopt);
  fail_next();  // FAILED gives the unit back: open with stock again, still not settled
  archiver.run_round(now_ms());
  EXPECT_EQ(db_->find_sale("busy")->settled_since, std::nullopt);
  EXPECT_TRUE(held("busy"));
}

TEST_F(Archiving, ARoundFinishesAnArchiveCutBetweenTheDatabaseAndTheStore) {
  sale("cut", 0);
  ASSERT_TRUE(db_->archive_sale(view_of("cut"), 1'000));  // step 2 done, then the worker died
  ASSERT_TRUE(held("cut"));
  auto archiver = make_archiver();
  archiver.run_round(now_ms());
  EXPECT_FALSE(held("cut"));
  EXPECT_EQ(db_->find_sale("cut")->archived_at, 1'000);
}

TEST_F(Archiving, TheAdminCallArchivesASettledSaleAndOnlyThat) {
  sale("open", 2);
  sale("done", 0);
  auto archiver = make_archiver();
  auto refused = archiver.archive_now("open", now_ms());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::sale_active);
  auto unknown = archiver.archive_now("nope", now_ms());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::sale_not_found);
  auto archived = archiver.archive_now("done", 5'000);
  ASSERT_TRUE(archived) << archived.error().message;
  EXPECT_EQ(archived.value().archived_at, 5'000);
  auto again = archiver.archive_now("done", 9'000);
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value().archived_at, 5'000);  // the same answer
  EXPECT_FALSE(held("done"));
}

TEST_F(Archiving, NothingIsArchivedWhileAnotherProcessHoldsTheArchiveLock) {
  sale("done", 0);
  auto archiver = make_archiver(/*with_lock=*/true);
  other_process_archives_ = true;
  auto refused = archiver.archive_now("done", now_ms());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::unavailable);
  EXPECT_EQ(waits_, std::vector{flashgate::worker::Archiver::admin_lock_wait}) << "an admin call waits a little";
  const TimeMs t0 = now_ms();
  archiver.run_round(t0);
  archiver.run_round(t0 + retention);  // due, but the lock is taken
  EXPECT_TRUE(held("done"));
  EXPECT_EQ(db_->find_sale("done")->archived_at, std::nullopt);
  EXPECT_EQ(waits_.back(), std::chrono::milliseconds(0)) << "a round does not wait: the next one tries again";

  other_process_archives_ = false;
  archiver.run_round(t0 + retention + 1);
  EXPECT_FALSE(held("done"));
  EXPECT_EQ(locked_, 0) << "every lock taken was released";
  auto again = archiver.archive_now("done", now_ms());  // archived: answered without the lock
  ASSERT_TRUE(again);
  EXPECT_EQ(locked_, 0);
}

}  // namespace
