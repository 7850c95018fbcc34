// The embedded database's side of sales of several items (issue #26): the
// sale_items rows beside the sale's, item_id on intakes, orders and the
// outbox, the stock flush of item keys, the archive's per-item numbers, and
// an older data dir given the new columns at start.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <string>

#include "database/sqlite/sqlite_database.hpp"
#include "domain/sale.hpp"

namespace {

using flashgate::database::SqliteDatabase;
using flashgate::domain::Order;
using flashgate::domain::OrderStatus;
using flashgate::domain::Sale;
using flashgate::domain::SaleItem;

class SqliteItems : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("flashgate-sqlite-items-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path path() const { return dir_ / "flashgate.db"; }

  static Sale phone_and_buds() {
    Sale sale;
    sale.sale_id = "launch";
    sale.item = "launch day";
    sale.stock = 8;
    sale.max_per_buyer = 2;
    sale.created_at = 1;
    sale.items = {SaleItem{"phone", "Phone X", 3, 1}, SaleItem{"buds", "Buds", 5, 3}};
    return sale;
  }
  static bool record_sale(SqliteDatabase& db, const Sale& sale) {
    std::promise<bool> durable;
    db.record_sale(sale, [&durable](bool ok) { durable.set_value(ok); });
    return durable.get_future().get();
  }
  static Order order_of(const std::string& id, const std::string& item, OrderStatus status, std::uint64_t version,
                        std::int64_t quantity = 1) {
    Order order;
    order.order_id = order.user_id = id;
    order.sale_id = "launch";
    order.item_id = item;
    order.seq = 1;
    order.status = status;
    order.version = version;
    order.quantity = quantity;
    order.updated_at = 1000 + static_cast<std::int64_t>(version);
    return order;
  }
  static bool record_order(SqliteDatabase& db, const Order& order) {
    std::promise<bool> durable;
    db.record_order(order, [&durable](bool ok) { durable.set_value(ok); });
    return durable.get_future().get();
  }

  std::filesystem::path dir_;
};

// One text value of a query on the file, read on a connection of its own.
std::string query_text(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_stmt* s = nullptr;
  std::string value = "(no row)";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
    const auto* text = sqlite3_column_text(s, 0);
    value = text ? reinterpret_cast<const char*>(text) : "(null)";
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return value;
}

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

TEST_F(SqliteItems, ASalesItemsAreReadBackInTheirOrderByTheJournalAndTheRecord) {
  {
    SqliteDatabase db(path());
    ASSERT_TRUE(record_sale(db, phone_and_buds()));
    db.close();
  }
  SqliteDatabase again(path());
  const auto state = again.load();
  ASSERT_EQ(state.sales.size(), 1u);
  ASSERT_EQ(state.sales[0].items.size(), 2u);
  EXPECT_EQ(state.sales[0].items[0].item_id, "phone");
  EXPECT_EQ(state.sales[0].items[0].name, "Phone X");
  EXPECT_EQ(state.sales[0].items[0].stock, 3);
  EXPECT_EQ(state.sales[0].items[0].max_per_buyer, 1);
  EXPECT_EQ(state.sales[0].items[1].item_id, "buds");
  EXPECT_EQ(state.sales[0].items[1].max_per_buyer, 3);
  const auto record = again.find_sale("launch");
  ASSERT_TRUE(record);
  ASSERT_EQ(record->items.size(), 2u);
  EXPECT_EQ(record->sale.items.size(), 2u);
  EXPECT_EQ(record->items[1].remaining, 5);  // nothing flushed yet: the stock
  EXPECT_FALSE(record->items[1].remaining_db);
  const auto listed = again.list_sales("", 10);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].items.size(), 2u);
}

TEST_F(SqliteItems, TheStockFlushWritesEachItemsRemainingAndARestartReadsItBack) {
  {
    SqliteDatabase db(path());
    ASSERT_TRUE(record_sale(db, phone_and_buds()));
    ASSERT_TRUE(db.flush_stock({{"launch", 6},
                                {flashgate::domain::item_stock_key("launch", "phone"), 2},
                                {flashgate::domain::item_stock_key("launch", "buds"), 4}}));
    db.close();
  }
  EXPECT_EQ(query_text(path(), "SELECT remaining_db FROM sales WHERE sale_id = 'launch'"), "6");
  EXPECT_EQ(query_text(path(), "SELECT remaining_db FROM sale_items WHERE item_id = 'buds'"), "4");
  SqliteDatabase again(path());
  const auto state = again.load();
  std::map<std::string, std::int64_t> flushed(state.remaining_db.begin(), state.remaining_db.end());
  EXPECT_EQ(flushed, (std::map<std::string, std::int64_t>{{"launch", 6},
                                                          {flashgate::domain::item_stock_key("launch", "phone"), 2},
                                                          {flashgate::domain::item_stock_key("launch", "buds"), 4}}));
}

TEST_F(SqliteItems, AnOrdersItemIsKeptInTheJournalTheOrderRowAndTheOutbox) {
  {
    SqliteDatabase db(path(), {}, {.event_outbox = true});
    ASSERT_TRUE(record_sale(db, phone_and_buds()));
    const auto order = order_of("o1", "buds", OrderStatus::confirmed, 3, 2);
    ASSERT_TRUE(record_order(db, order));
    ASSERT_TRUE(db.create_order(order));
    const auto events = db.take(10);
    ASSERT_TRUE(events && events->size() == 1u);
    EXPECT_EQ(events->front().item_id, "buds");
    db.close();
  }
  EXPECT_EQ(query_text(path(), "SELECT item_id FROM orders WHERE order_id = 'o1'"), "buds");
  SqliteDatabase again(path());
  const auto state = again.load();
  ASSERT_EQ(state.orders.size(), 1u);
  EXPECT_EQ(state.orders[0].item_id, "buds");
  EXPECT_EQ(state.orders[0].quantity, 2);
}

TEST_F(SqliteItems, AnArchiveKeepsEachItemsFinalNumbers) {
  SqliteDatabase db(path());
  ASSERT_TRUE(record_sale(db, phone_and_buds()));
  flashgate::store::SaleView final_numbers;
  final_numbers.sale = phone_and_buds();
  final_numbers.remaining = 6;
  final_numbers.counts[static_cast<std::size_t>(OrderStatus::paid)] = 2;
  final_numbers.units[static_cast<std::size_t>(OrderStatus::paid)] = 2;
  flashgate::store::ItemView phone{final_numbers.sale.items[0], 2, std::nullopt, {}, {}};
  phone.counts[static_cast<std::size_t>(OrderStatus::paid)] = 1;
  phone.units[static_cast<std::size_t>(OrderStatus::paid)] = 1;
  flashgate::store::ItemView buds{final_numbers.sale.items[1], 4, std::nullopt, {}, {}};
  buds.counts[static_cast<std::size_t>(OrderStatus::paid)] = 1;
  buds.units[static_cast<std::size_t>(OrderStatus::paid)] = 1;
  buds.counts[static_cast<std::size_t>(OrderStatus::cancelled)] = 1;
  buds.units[static_cast<std::size_t>(OrderStatus::cancelled)] = 3;
  final_numbers.items = {phone, buds};
  ASSERT_TRUE(db.archive_sale(final_numbers, 9000));
  const auto archived = db.find_sale("launch");
  ASSERT_TRUE(archived && archived->archived_at);
  ASSERT_EQ(archived->items.size(), 2u);
  EXPECT_EQ(archived->items[0].remaining, 2);
  EXPECT_EQ(archived->items[1].remaining, 4);
  EXPECT_EQ(archived->items[1].counts, buds.counts);
  EXPECT_EQ(archived->items[1].units, buds.units);
  EXPECT_EQ(archived->items[0].units, phone.units);
  // Archived once: a second archive with other numbers changes nothing.
  final_numbers.items[1].remaining = 0;
  ASSERT_TRUE(db.archive_sale(final_numbers, 9500));
  EXPECT_EQ(db.find_sale("launch")->items[1].remaining, 4);
}

// A data dir from before items: no sale_items table, no item_id columns.
constexpr const char* schema_before_items = R"sql(
CREATE TABLE sales (sale_id TEXT PRIMARY KEY, item TEXT NOT NULL, stock INTEGER NOT NULL, starts_at INTEGER,
  ends_at INTEGER, created_at INTEGER NOT NULL, remaining_db INTEGER);
CREATE TABLE intakes (order_id TEXT PRIMARY KEY, sale_id TEXT NOT NULL, user_id TEXT NOT NULL, seq INTEGER NOT NULL,
  status TEXT NOT NULL, version INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '',
  payment_id TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE orders (order_id TEXT PRIMARY KEY, sale_id TEXT NOT NULL, user_id TEXT NOT NULL, status TEXT NOT NULL,
  payment_id TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
INSERT INTO sales VALUES ('old-sale', 'item', 5, NULL, NULL, 1, NULL);
INSERT INTO intakes VALUES ('old', 'old-sale', 'old', 1, 'CONFIRMED', 3, '', '', 1, 2);
INSERT INTO orders VALUES ('old', 'old-sale', 'old', 'CONFIRMED', '', 2, 2);
)sql";

TEST_F(SqliteItems, ADataDirOfBeforeItemsGetsTheColumnsAndReadsItsOrdersAsOfOneItem) {
  exec_sql(path(), schema_before_items);
  {
    SqliteDatabase db(path());
    const auto state = db.load();
    ASSERT_EQ(state.sales.size(), 1u);
    EXPECT_TRUE(state.sales[0].items.empty());
    ASSERT_EQ(state.orders.size(), 1u);
    EXPECT_EQ(state.orders[0].item_id, "");
    ASSERT_TRUE(record_sale(db, phone_and_buds()));
    const auto order = order_of("new", "phone", OrderStatus::confirmed, 3);
    ASSERT_TRUE(record_order(db, order));
    ASSERT_TRUE(db.create_order(order));
    db.close();
  }
  EXPECT_EQ(query_text(path(), "SELECT item_id FROM orders WHERE order_id = 'new'"), "phone");
  EXPECT_EQ(query_text(path(), "SELECT item_id FROM orders WHERE order_id = 'old'"), "");
  SqliteDatabase again(path());  // a second start finds the columns there
  const auto state = again.load();
  ASSERT_EQ(state.sales.size(), 2u);
  ASSERT_EQ(state.orders.size(), 2u);
}

}  // namespace
