// The embedded database's refusals: a removed file takes no writes.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <future>
#include <random>
#include <thread>

#include "database/sqlite/sqlite_database.hpp"

namespace {

using flashgate::database::SqliteDatabase;

// Strings, not literals, are assigned below: GCC 12 warns falsely (-Wrestrict) on literals here.
const std::string sale_id = "s";

// The journal loads the intakes of the sales it has (live ones): tests that
// read their intakes back record their sale first.
bool record_the_sale(SqliteDatabase& db) {
  flashgate::domain::Sale sale;
  sale.sale_id = sale_id;
  sale.item = "item";
  sale.stock = 1'000'000;
  std::promise<bool> durable;
  db.record_sale(sale, [&durable](bool ok) { durable.set_value(ok); });
  return durable.get_future().get();
}

bool record(SqliteDatabase& db, const std::string& order_id) {
  flashgate::domain::Order order;
  order.order_id = order_id;
  order.sale_id = sale_id;
  order.user_id = order_id;
  order.seq = 1;
  std::promise<bool> durable;
  db.record_order(order, [&durable](bool ok) { durable.set_value(ok); });
  return durable.get_future().get();
}

class SqliteFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("flashgate-sqlite-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(SqliteFile, ARemovedFileRefusesWritesUntilItIsBack) {
  const auto path = dir_ / "flashgate.db";
  SqliteDatabase db(path);
  ASSERT_TRUE(record_the_sale(db));
  ASSERT_TRUE(record(db, "before"));
  std::filesystem::rename(path, dir_ / "moved.db");
  EXPECT_FALSE(record(db, "while-removed"));
  std::filesystem::rename(dir_ / "moved.db", path);
  EXPECT_TRUE(record(db, "after"));
  const auto state = db.load();
  std::vector<std::string> ids;
  for (const auto& order : state.orders) ids.push_back(order.order_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"before", "after"}));
}

TEST_F(SqliteFile, AnArchiveGivesThePageCacheBack) {
  SqliteDatabase db(dir_ / "flashgate.db");
  ASSERT_TRUE(record_the_sale(db));
  constexpr int orders = 20'000;  // more pages than the cache keeps (2 MB)
  std::atomic<int> left = orders;
  std::promise<void> written;
  for (int i = 0; i < orders; ++i) {
    flashgate::domain::Order order;
    order.order_id = "order-" + std::to_string(i);
    order.sale_id = sale_id;
    order.user_id = "buyer-with-a-longish-name-" + std::to_string(i);
    order.seq = static_cast<std::uint64_t>(i + 1);
    db.record_order(order, [&](bool ok) {
      EXPECT_TRUE(ok);
      if (--left == 0) written.set_value();
    });
  }
  written.get_future().wait();
  const auto filled = db.page_cache_bytes();
  EXPECT_GT(filled, 1'000'000);
  db.release_memory();
  EXPECT_LT(db.page_cache_bytes(), filled / 4);
  EXPECT_TRUE(record(db, "after")) << "the connection works on with an empty cache";
}

TEST_F(SqliteFile, AReplacedFileRefusesWrites) {
  const auto path = dir_ / "flashgate.db";
  SqliteDatabase db(path);
  ASSERT_TRUE(record(db, "before"));
  std::filesystem::rename(path, dir_ / "old.db");
  { SqliteDatabase other(path); }  // someone else's file now at our path
  EXPECT_FALSE(record(db, "into-the-wrong-file"));
}

TEST_F(SqliteFile, ARefusedWriteSaysTheFileWasRemoved) {
  const auto path = dir_ / "flashgate.db";
  SqliteDatabase db(path);
  auto lines = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", lines));
  std::filesystem::rename(path, dir_ / "moved.db");
  EXPECT_FALSE(record(db, "while-removed"));
  spdlog::set_default_logger(previous);
  const auto logged = lines->last_formatted();
  ASSERT_FALSE(logged.empty());
  EXPECT_NE(logged.back().find("the database file was removed or replaced"), std::string::npos) << logged.back();
}

// The writer never checkpoints (that stalled intakes); the checkpointer's
// own connection does, so the log is copied into the database file.
TEST_F(SqliteFile, TheLogIsCheckpointedOffTheWriterThread) {
  const auto path = dir_ / "flashgate.db";
  SqliteDatabase db(path);
  ASSERT_TRUE(record_the_sale(db));
  const auto empty_size = std::filesystem::file_size(path);
  // Each commit appends at least one page to the log: well past a checkpoint's worth.
  for (int i = 0; i < 3 * flashgate::database::WalCheckpointer::frames_per_checkpoint; ++i)
    ASSERT_TRUE(record(db, "order-" + std::to_string(100'000 + i)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::filesystem::file_size(path) == empty_size && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GT(std::filesystem::file_size(path), empty_size) << "no page reached the database file";
  EXPECT_EQ(db.load().orders.size(), 3u * flashgate::database::WalCheckpointer::frames_per_checkpoint);
}

}  // namespace

namespace {

// The schema of a data dir made before the shop's external_id was kept.
constexpr const char* schema_without_external_id = R"sql(
CREATE TABLE sales (sale_id TEXT PRIMARY KEY, item TEXT NOT NULL, stock INTEGER NOT NULL, starts_at INTEGER,
  ends_at INTEGER, created_at INTEGER NOT NULL, remaining_db INTEGER);
CREATE TABLE intakes (order_id TEXT PRIMARY KEY, sale_id TEXT NOT NULL, user_id TEXT NOT NULL, seq INTEGER NOT NULL,
  status TEXT NOT NULL, version INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '',
  payment_id TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE orders (order_id TEXT PRIMARY KEY, sale_id TEXT NOT NULL, user_id TEXT NOT NULL, status TEXT NOT NULL,
  payment_id TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
INSERT INTO sales VALUES ('s', 'item', 5, NULL, NULL, 1, NULL);
INSERT INTO intakes VALUES ('old', 's', 'old', 1, 'CONFIRMED', 3, '', '', 1, 2);
INSERT INTO orders VALUES ('old', 's', 'old', 'CONFIRMED', '', 2, 2);
)sql";

void exec_sql(const std::filesystem::path& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  const std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

// One text value of a query on the file, read on a connection of its own.
std::string query_text(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_stmt* s = nullptr;
  std::string value = "(no row)";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
    value = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(db);
  return value;
}

flashgate::domain::Order shop_order(const std::string& id, const std::string& external_id) {
  flashgate::domain::Order order;
  order.order_id = order.user_id = id;
  order.sale_id = sale_id;
  order.seq = 2;
  order.status = flashgate::domain::OrderStatus::confirmed;
  order.version = 3;
  order.external_id = external_id;
  return order;
}

bool record_order(SqliteDatabase& db, const flashgate::domain::Order& order) {
  std::promise<bool> durable;
  db.record_order(order, [&durable](bool ok) { durable.set_value(ok); });
  return durable.get_future().get();
}

bool record_status(SqliteDatabase& db, const std::string& order_id, flashgate::domain::OrderStatus status,
                   std::uint64_t version, std::int64_t quantity = 1) {
  flashgate::domain::Order order;
  order.order_id = order_id;
  order.sale_id = sale_id;
  order.user_id = order_id;
  order.seq = 1;
  order.status = status;
  order.version = version;
  order.updated_at = 1000 + static_cast<std::int64_t>(version);
  order.quantity = quantity;
  return record_order(db, order);
}

TEST_F(SqliteFile, ADataDirOfTheOldSchemaGetsExternalIdColumnsAndKeepsItsRows) {
  const auto path = dir_ / "flashgate.db";
  exec_sql(path, schema_without_external_id);
  {
    SqliteDatabase db(path);
    const auto state = db.load();
    ASSERT_EQ(state.orders.size(), 1u);
    EXPECT_EQ(state.orders[0].order_id, "old");
    EXPECT_EQ(state.orders[0].external_id, "");
    ASSERT_TRUE(record_order(db, shop_order("new", "SHOP-9")));
    ASSERT_TRUE(db.create_order(shop_order("new", "SHOP-9")));
    db.close();
  }
  EXPECT_EQ(query_text(path, "SELECT external_id FROM orders WHERE order_id = 'new'"), "SHOP-9");
  EXPECT_EQ(query_text(path, "SELECT external_id FROM orders WHERE order_id = 'old'"), "");
  SqliteDatabase again(path);  // a second start finds the columns there
  const auto state = again.load();
  ASSERT_EQ(state.orders.size(), 2u);
  EXPECT_EQ(state.orders[1].external_id, "SHOP-9");
}

TEST_F(SqliteFile, ADataDirOfTheOldSchemaGetsQuantityColumnsWithSingleUnitDefaults) {
  const auto path = dir_ / "flashgate.db";
  exec_sql(path, schema_without_external_id);
  {
    SqliteDatabase db(path);
    const auto state = db.load();
    ASSERT_EQ(state.sales.size(), 1u);
    EXPECT_EQ(state.sales[0].max_per_buyer, 1);
    ASSERT_EQ(state.orders.size(), 1u);
    EXPECT_EQ(state.orders[0].quantity, 1);
    EXPECT_EQ(state.orders[0].request_id, "");
    auto order = shop_order("new", "SHOP-9");
    order.quantity = 3;
    order.request_id = "cart-1";
    ASSERT_TRUE(record_order(db, order));
    ASSERT_TRUE(db.create_order(order));
    db.close();
  }
  EXPECT_EQ(query_text(path, "SELECT quantity FROM orders WHERE order_id = 'new'"), "3");
  EXPECT_EQ(query_text(path, "SELECT quantity FROM orders WHERE order_id = 'old'"), "1");
  SqliteDatabase again(path);
  const auto state = again.load();
  ASSERT_EQ(state.orders.size(), 2u);
  EXPECT_EQ(state.orders[1].quantity, 3);
  EXPECT_EQ(state.orders[1].request_id, "cart-1");
}

TEST_F(SqliteFile, ASalesLimitIsKept) {
  const auto path = dir_ / "flashgate.db";
  {
    SqliteDatabase db(path);
    flashgate::domain::Sale sale;
    sale.sale_id = "limited";
    sale.item = "w";
    sale.stock = 9;
    sale.max_per_buyer = 3;
    std::promise<bool> durable;
    db.record_sale(sale, [&durable](bool ok) { durable.set_value(ok); });
    ASSERT_TRUE(durable.get_future().get());
    db.close();
  }
  SqliteDatabase again(path);
  const auto state = again.load();
  ASSERT_EQ(state.sales.size(), 1u);
  EXPECT_EQ(state.sales[0].max_per_buyer, 3);
}

TEST_F(SqliteFile, ADrawSalesAdmissionIsKeptAndAnOldDataDirReadsFirstCome) {
  const auto path = dir_ / "flashgate.db";
  exec_sql(path, schema_without_external_id);
  {
    SqliteDatabase db(path);
    ASSERT_EQ(db.load().sales.size(), 1u);
    EXPECT_FALSE(db.load().sales[0].admission.is_draw()) << "a sale of before is first-come";
    flashgate::domain::Sale sale;
    sale.sale_id = "fair";
    sale.item = "w";
    sale.stock = 9;
    sale.starts_at = 1'000'000;
    sale.admission = {flashgate::domain::Admission::draw, 10'000, 60'000};
    std::promise<bool> durable;
    db.record_sale(sale, [&durable](bool ok) { durable.set_value(ok); });
    ASSERT_TRUE(durable.get_future().get());
    db.close();
  }
  SqliteDatabase again(path);
  const auto state = again.load();
  ASSERT_EQ(state.sales.size(), 2u);
  const auto& fair = state.sales[0].sale_id == "fair" ? state.sales[0] : state.sales[1];
  EXPECT_TRUE(fair.admission.is_draw());
  EXPECT_EQ(fair.admission.draw_window_ms, 10'000);
  EXPECT_EQ(fair.admission.prequeue_ms, 60'000);
}

TEST_F(SqliteFile, ADrawsResultWithoutItsSeedIsRefused) {
  SqliteDatabase db(dir_ / "flashgate.db");
  ASSERT_TRUE(record_the_sale(db));
  flashgate::store::DrawResultRecord result;
  result.sale_id = sale_id;
  std::promise<bool> durable;
  db.record_draw_result(result, [&durable](bool ok) { durable.set_value(ok); });
  EXPECT_FALSE(durable.get_future().get()) << "no result may stand without the seed that made it";
  EXPECT_TRUE(db.load().draws.empty());
}

TEST_F(SqliteFile, ASalesBucketsAreKept) {
  const auto path = dir_ / "flashgate.db";
  {
    SqliteDatabase db(path);
    flashgate::domain::Sale sale;
    sale.sale_id = "bucketed";
    sale.item = "w";
    sale.stock = 9;
    sale.buckets = 5;
    std::promise<bool> durable;
    db.record_sale(sale, [&durable](bool ok) { durable.set_value(ok); });
    ASSERT_TRUE(durable.get_future().get());
    db.close();
  }
  SqliteDatabase again(path);
  const auto state = again.load();
  ASSERT_EQ(state.sales.size(), 1u);
  EXPECT_EQ(state.sales[0].buckets, 5);
}

TEST_F(SqliteFile, TheJournalKeepsTheExternalIdOfItsLatestVersion) {
  const auto path = dir_ / "flashgate.db";
  {
    SqliteDatabase db(path);
    ASSERT_TRUE(record_the_sale(db));
    auto order = shop_order("o", "");
    order.status = flashgate::domain::OrderStatus::processing;
    order.version = 2;
    ASSERT_TRUE(record_order(db, order));
    ASSERT_TRUE(record_order(db, shop_order("o", "SHOP-1")));
    auto paid = shop_order("o", "SHOP-1");
    paid.status = flashgate::domain::OrderStatus::paid;
    paid.version = 4;
    paid.payment_id = "pay-1";
    ASSERT_TRUE(record_order(db, paid));
    db.close();
  }
  SqliteDatabase db(path);
  const auto state = db.load();
  ASSERT_EQ(state.orders.size(), 1u);
  EXPECT_EQ(state.orders[0].status, flashgate::domain::OrderStatus::paid);
  EXPECT_EQ(state.orders[0].external_id, "SHOP-1");
}

using Status = flashgate::domain::OrderStatus;

TEST_F(SqliteFile, TheOutboxTakesEachOutcomeOnceInOrder) {
  SqliteDatabase db(dir_ / "flashgate.db", {}, {.event_outbox = true});
  ASSERT_TRUE(record_status(db, "o1", Status::queued, 1));
  ASSERT_TRUE(record_status(db, "o1", Status::processing, 2));
  ASSERT_TRUE(record_status(db, "o1", Status::confirmed, 3));
  ASSERT_TRUE(record_status(db, "o1", Status::confirmed, 3));   // written again: no new event
  ASSERT_TRUE(record_status(db, "o1", Status::processing, 2));  // an older version: no change, no event
  ASSERT_TRUE(record_status(db, "o1", Status::paid, 4));
  ASSERT_TRUE(record_status(db, "o2", Status::failed, 3, /*quantity=*/4));
  const auto events = db.take(10);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].quantity, 1);
  EXPECT_EQ((*events)[2].quantity, 4);  // the units a FAILED order gave back
  EXPECT_EQ((*events)[0].order_id, "o1");
  EXPECT_EQ((*events)[0].status, "CONFIRMED");
  EXPECT_EQ((*events)[0].version, 3u);
  EXPECT_EQ((*events)[0].at, 1003);
  EXPECT_EQ((*events)[1].status, "PAID");
  EXPECT_EQ((*events)[1].version, 4u);
  EXPECT_EQ((*events)[2].order_id, "o2");
  EXPECT_EQ(db.depth(), 3u);
  ASSERT_TRUE(db.delivered({(*events)[0].id, (*events)[1].id}));
  EXPECT_EQ(db.depth(), 1u);
  EXPECT_EQ(db.take(10)->front().order_id, "o2");
}

TEST_F(SqliteFile, WithoutAnEventSinkNothingIsQueued) {
  SqliteDatabase db(dir_ / "flashgate.db");
  ASSERT_TRUE(record_status(db, "o1", Status::failed, 3));
  EXPECT_EQ(db.depth(), 0u);
}

TEST_F(SqliteFile, TheOutboxSurvivesAReopen) {
  {
    SqliteDatabase db(dir_ / "flashgate.db", {}, {.event_outbox = true});
    ASSERT_TRUE(record_status(db, "o1", Status::cancelled, 4));
  }
  SqliteDatabase again(dir_ / "flashgate.db", {}, {.event_outbox = true});
  ASSERT_EQ(again.take(10)->size(), 1u);
}

}  // namespace

namespace {

TEST_F(SqliteFile, AsJournalAndSystemOfRecordTheConfirmedStatusCreatesTheOrderRowInItsTransaction) {
  const auto path = dir_ / "flashgate.db";
  SqliteDatabase db(path, {}, {.order_rows_from_journal = true});
  auto queued = shop_order("o1", "");
  queued.status = Status::processing;
  queued.version = 2;
  ASSERT_TRUE(record_order(db, queued));
  EXPECT_TRUE(db.create_order(queued));  // nothing to do: the row comes with the status
  EXPECT_EQ(db.count_orders(), 0u);
  ASSERT_TRUE(record_order(db, shop_order("o1", "SHOP-7")));
  ASSERT_TRUE(record_order(db, shop_order("o1", "SHOP-7")));  // written again: still one row
  ASSERT_TRUE(record_status(db, "o2", Status::failed, 3));    // a FAILED order was never created
  EXPECT_EQ(db.count_orders(), 1u);
  db.close();
  EXPECT_EQ(query_text(path, "SELECT external_id FROM orders WHERE order_id = 'o1'"), "SHOP-7");
  EXPECT_EQ(query_text(path, "SELECT status FROM orders WHERE order_id = 'o1'"), "CONFIRMED");
}

TEST_F(SqliteFile, WhenOnlyTheSystemOfRecordTheWindowCreatesTheRow) {
  SqliteDatabase db(dir_ / "flashgate.db");
  ASSERT_TRUE(record_order(db, shop_order("o1", "SHOP-7")));
  EXPECT_EQ(db.count_orders(), 0u);
  ASSERT_TRUE(db.create_order(shop_order("o1", "SHOP-7")));
  EXPECT_EQ(db.count_orders(), 1u);
}

}  // namespace
